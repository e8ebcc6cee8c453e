"""Forest plot: one row per estimate, point and confidence interval, a line at the null."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.plots import LAYOUT, pyplot


@dataclass(frozen=True)
class ForestRow:
    label: str  # plain text; plotly escapes it
    estimate: float
    ci_low: float | None
    ci_high: float | None
    null: float  # 0 for differences, 1 for ratios
    outcome: str  # improved | worsened | no clear change | unknown (from evalkit.report.wording)
    hover: str = ""


COLOURS = {"improved": "#1a7f37", "worsened": "#c0392b", "no clear change": "#57606a", "unknown": "#8c959f"}


def _log(rows: Sequence[ForestRow]) -> bool:
    return all(r.null == 1 for r in rows) and all(
        (v is None or v > 0) for r in rows for v in (r.estimate, r.ci_low, r.ci_high))


def plotly_forest(rows: Sequence[ForestRow], title: str = "", x_title: str = "estimate"):
    import plotly.graph_objects as go

    fig = go.Figure()
    labels = [r.label for r in rows]
    for outcome in COLOURS:
        sel = [r for r in rows if r.outcome == outcome]
        if not sel:
            continue
        fig.add_trace(go.Scatter(
            x=[r.estimate for r in sel], y=[r.label for r in sel], mode="markers", name=outcome,
            marker={"size": 10, "color": COLOURS[outcome], "symbol": "square"},
            error_x={"type": "data", "symmetric": False,
                     "array": [(r.ci_high - r.estimate) if r.ci_high is not None else 0 for r in sel],
                     "arrayminus": [(r.estimate - r.ci_low) if r.ci_low is not None else 0 for r in sel],
                     "color": COLOURS[outcome], "thickness": 2},
            hovertext=[r.hover for r in sel], hoverinfo="text"))
    nulls = sorted({r.null for r in rows})
    for null in nulls:
        fig.add_vline(x=null, line_dash="dash", line_color="#444")
    fig.update_layout(**{**LAYOUT, "margin": {**LAYOUT["margin"], "t": 40 if title else 30}},
                      title=title or None, height=max(260, 130 + 42 * len(rows)), xaxis_title=x_title,
                      yaxis={"categoryorder": "array", "categoryarray": labels[::-1]})
    if _log(rows):
        fig.update_xaxes(type="log")
    return fig


def mpl_forest(rows: Sequence[ForestRow], title: str = "", x_title: str = "estimate"):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, max(1.8, 0.5 + 0.45 * len(rows))))
    for i, r in enumerate(rows[::-1]):
        lo = r.ci_low if r.ci_low is not None else r.estimate
        hi = r.ci_high if r.ci_high is not None else r.estimate
        ax.plot([lo, hi], [i, i], color=COLOURS[r.outcome], lw=2)
        ax.plot([r.estimate], [i], "s", color=COLOURS[r.outcome], ms=7)
    for null in sorted({r.null for r in rows}):
        ax.axvline(null, ls="--", color="#444", lw=1)
    import textwrap

    # wrapped labels, so a long indicator name leaves the axis most of the width
    ax.set_yticks(range(len(rows)), [textwrap.fill(r.label, 34) for r in rows[::-1]], fontsize=8)
    ax.set_xlabel(x_title)
    if _log(rows):
        from matplotlib.ticker import FuncFormatter, NullFormatter

        from matplotlib.ticker import FixedLocator

        ax.set_xscale("log")
        # plain numbers (0.5, 0.75, 1, 2), not 10^x labels that collide on a short axis
        lo, hi = ax.get_xlim()
        nice = [0.05, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 3, 5, 10, 20]
        ticks = [t for t in nice if lo <= t <= hi]
        if len(ticks) > 7:  # a wide range: every other one, always keeping 1
            ticks = sorted(set(ticks[::2]) | ({1} & set(ticks)))
        ax.xaxis.set_major_locator(FixedLocator(ticks or [1]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
