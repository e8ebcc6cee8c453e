"""Reliable change: how many improved, did not change reliably, or deteriorated, per indicator.

Counts arrive already disclosure-controlled: a suppressed count is ``None`` (no bar) with label
``[c]``; ``metas`` (one per category) name the cells behind the bars for the page scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.plots import LAYOUT, pyplot

CATEGORIES = (("improved", "#1a7f37"), ("no reliable change", "#8c959f"), ("deteriorated", "#c0392b"))


def plotly_reliable_change(labels: Sequence[str], counts: Sequence[Sequence[int | None]],
                           texts: Sequence[Sequence[str]], metas: Sequence[dict] | None = None):
    """``counts[i][j]``: indicator i, category j (improved, no change, deteriorated)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for j, (name, colour) in enumerate(CATEGORIES):
        fig.add_trace(go.Bar(
            y=list(labels), x=[c[j] for c in counts], text=[t[j] for t in texts], name=name, orientation="h",
            marker_color=colour, textposition="inside", meta=metas[j] if metas else None,
            hovertemplate="%{y}: %{text} " + name + "<extra></extra>"))
    fig.update_layout(**LAYOUT, barmode="stack", height=max(240, 140 + 50 * len(labels)), xaxis_title="participants",
                      yaxis={"categoryorder": "array", "categoryarray": list(labels)[::-1]})
    return fig


def mpl_reliable_change(labels, counts, texts):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.6 + 0.5 * len(labels))))
    ys = list(range(len(labels)))[::-1]
    left = [0.0] * len(labels)
    for j, (name, colour) in enumerate(CATEGORIES):
        widths = [c[j] or 0 for c in counts]
        ax.barh(ys, widths, left=left, color=colour, label=name)
        for y, l, w, t in zip(ys, left, widths, [t[j] for t in texts]):
            if w:
                ax.text(l + w / 2, y, t, ha="center", va="center", color="white", fontsize=8)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(ys, list(labels))
    ax.set_xlabel("participants")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
