"""Love plot: absolute standardised mean differences before and after matching."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.plots import LAYOUT, pyplot


def plotly_love(covariates: Sequence[str], before: Sequence[float | None], after: Sequence[float | None],
                threshold: float = 0.1):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[None if v is None else abs(v) for v in before], y=list(covariates), mode="markers",
                             name="before matching", marker={"symbol": "circle-open", "size": 10, "color": "#c0392b"}))
    fig.add_trace(go.Scatter(x=[None if v is None else abs(v) for v in after], y=list(covariates), mode="markers",
                             name="after matching", marker={"symbol": "circle", "size": 10, "color": "#1f6feb"}))
    fig.add_vline(x=threshold, line_dash="dash", line_color="#444")
    fig.update_layout(**LAYOUT, height=max(280, 130 + 30 * len(covariates)),
                      xaxis_title="absolute standardised mean difference",
                      yaxis={"categoryorder": "array", "categoryarray": list(covariates)[::-1]})
    return fig


def mpl_love(covariates: Sequence[str], before, after, threshold: float = 0.1):
    plt = pyplot()

    n = len(covariates)
    fig, ax = plt.subplots(figsize=(6.5, max(2, 0.5 + 0.35 * n)))
    ys = list(range(n))[::-1]
    ax.scatter([abs(v) if v is not None else float("nan") for v in before], ys, facecolors="none",
               edgecolors="#c0392b", label="before matching")
    ax.scatter([abs(v) if v is not None else float("nan") for v in after], ys, color="#1f6feb", label="after matching")
    ax.axvline(threshold, ls="--", color="#444", lw=1)
    ax.set_yticks(ys, list(covariates))
    ax.set_xlabel("absolute standardised mean difference")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
