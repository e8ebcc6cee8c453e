"""Interrupted time series: observed rate, the fitted model and the counterfactual (no programme).

Observed points whose count is suppressed for disclosure arrive as ``None`` and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.plots import LAYOUT, pyplot


def plotly_counterfactual(periods: Sequence[str], observed: Sequence[float | None], fitted: Sequence[float | None],
                          counterfactual: Sequence[float | None], interruption: str | None, y_title: str,
                          observed_meta: dict | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(periods), y=list(observed), mode="markers", name="observed",
                             marker={"size": 5, "color": "#57606a"}, meta=observed_meta))
    # a fit withheld by disclosure control (every value None) has no line, so no legend entry either
    fig.add_trace(go.Scatter(x=list(periods), y=list(fitted), mode="lines", name="fitted",
                             line={"color": "#1f6feb", "width": 2}, showlegend=any(v is not None for v in fitted)))
    fig.add_trace(go.Scatter(x=list(periods), y=list(counterfactual), mode="lines", name="without the programme",
                             line={"color": "#c0392b", "width": 2, "dash": "dash"},
                             showlegend=any(v is not None for v in counterfactual)))
    if interruption is not None and interruption in periods:
        fig.add_vline(x=list(periods).index(interruption), line_dash="dot", line_color="#444")
    # slanted month labels, at most 12, and the legend above the plot: nothing overlaps at any width
    fig.update_layout(**{**LAYOUT, "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}},
                      height=360, yaxis_title=y_title,
                      xaxis={"type": "category", "nticks": 12, "tickangle": -45, "automargin": True})
    return fig


def mpl_counterfactual(periods, observed, fitted, counterfactual, interruption, y_title):
    plt = pyplot()

    xs = list(range(len(periods)))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(xs, [float("nan") if v is None else v for v in observed], ".", color="#57606a", label="observed")
    ax.plot(xs, [float("nan") if v is None else v for v in fitted], color="#1f6feb",
            label="fitted" if any(v is not None for v in fitted) else "_nolegend_")
    ax.plot(xs, [float("nan") if v is None else v for v in counterfactual], "--", color="#c0392b",
            label="without the programme" if any(v is not None for v in counterfactual) else "_nolegend_")
    if interruption in periods:
        ax.axvline(list(periods).index(interruption), ls=":", color="#444")
    step = max(1, len(xs) // 8)
    ax.set_xticks(xs[::step], [periods[i] for i in xs[::step]], rotation=45, fontsize=7)
    ax.set_ylabel(y_title, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, 1.18), ncol=3, frameon=False)
    fig.tight_layout()
    return fig
