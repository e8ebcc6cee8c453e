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
    fig.add_trace(go.Scatter(x=list(periods), y=list(fitted), mode="lines", name="fitted",
                             line={"color": "#1f6feb", "width": 2}))
    fig.add_trace(go.Scatter(x=list(periods), y=list(counterfactual), mode="lines", name="without the programme",
                             line={"color": "#c0392b", "width": 2, "dash": "dash"}))
    if interruption is not None and interruption in periods:
        fig.add_vline(x=list(periods).index(interruption), line_dash="dot", line_color="#444")
    fig.update_layout(**LAYOUT, height=340, yaxis_title=y_title, xaxis={"type": "category", "nticks": 12})
    return fig


def mpl_counterfactual(periods, observed, fitted, counterfactual, interruption, y_title):
    plt = pyplot()

    xs = list(range(len(periods)))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(xs, [float("nan") if v is None else v for v in observed], ".", color="#57606a", label="observed")
    ax.plot(xs, [float("nan") if v is None else v for v in fitted], color="#1f6feb", label="fitted")
    ax.plot(xs, [float("nan") if v is None else v for v in counterfactual], "--", color="#c0392b",
            label="without the programme")
    if interruption in periods:
        ax.axvline(list(periods).index(interruption), ls=":", color="#444")
    step = max(1, len(xs) // 8)
    ax.set_xticks(xs[::step], [periods[i] for i in xs[::step]], rotation=45, fontsize=7)
    ax.set_ylabel(y_title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
