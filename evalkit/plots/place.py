"""Comparison-area figures: treated against synthetic, the gap with its band, placebo spaghetti.

Points whose count is withheld for disclosure arrive as ``None`` and are left out (a gap reveals
the treated area's observed rate, so it is withheld with it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalkit.plots import LAYOUT, pyplot

TREATED = "#1f6feb"
SYNTHETIC = "#c0392b"
PLACEBO = "#b7bdc4"


def _axis():
    return {"type": "category", "nticks": 12, "tickangle": -45, "automargin": True}


def _layout(fig, y_title: str, height: int = 360):
    fig.update_layout(**{**LAYOUT, "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}},
                      height=height, yaxis_title=y_title, xaxis=_axis())


def _nan(values):
    return [float("nan") if v is None else v for v in values]


def plotly_treated_synthetic(months: Sequence[str], observed, synthetic, start: str, area: str, y_title: str,
                             observed_meta: dict | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(months), y=list(observed), mode="lines+markers", name=area,
                             line={"color": TREATED, "width": 2}, marker={"size": 4}, meta=observed_meta))
    fig.add_trace(go.Scatter(x=list(months), y=list(synthetic), mode="lines", name=f"synthetic {area}",
                             line={"color": SYNTHETIC, "width": 2, "dash": "dash"}))
    if start in months:
        fig.add_vline(x=list(months).index(start), line_dash="dot", line_color="#444")
    _layout(fig, y_title)
    return fig


def mpl_treated_synthetic(months, observed, synthetic, start, area, y_title):
    plt = pyplot()
    xs = list(range(len(months)))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(xs, _nan(observed), ".-", color=TREATED, label=area, lw=1.2, ms=3)
    ax.plot(xs, _nan(synthetic), "--", color=SYNTHETIC, label=f"synthetic {area}", lw=1.2)
    _finish(ax, fig, xs, months, start, y_title, ncol=2)
    return fig


def plotly_gap(months: Sequence[str], gap, low, high, start: str, y_title: str, level_words: str,
               gap_meta: dict | None = None, band_meta: dict | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    # the band's bounds as thin lines, not a filled area: a withheld month leaves a hole, and a fill would
    # join the holes' edges into shapes that mean nothing
    band = {"color": "rgba(31,111,235,0.55)", "width": 1, "dash": "dot"}
    fig.add_trace(go.Scatter(x=list(months), y=list(high), mode="lines+markers", line=band, marker={"size": 3},
                             name=f"{level_words} permutation band", legendgroup="band", meta=band_meta))
    fig.add_trace(go.Scatter(x=list(months), y=list(low), mode="lines+markers", line=band, marker={"size": 3},
                             showlegend=False, legendgroup="band", meta=band_meta))
    fig.add_trace(go.Scatter(x=list(months), y=list(gap), mode="lines+markers", name="gap (treated minus synthetic)",
                             line={"color": TREATED, "width": 2}, marker={"size": 4}, meta=gap_meta))
    fig.add_hline(y=0, line_color="#444", line_width=1)
    if start in months:
        fig.add_vline(x=list(months).index(start), line_dash="dot", line_color="#444")
    _layout(fig, y_title)
    return fig


def mpl_gap(months, gap, low, high, start, y_title, level_words):
    plt = pyplot()
    xs = list(range(len(months)))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.fill_between(xs, _nan(low), _nan(high), color=TREATED, alpha=0.18, lw=0,
                    label=f"{level_words} permutation band")
    ax.plot(xs, _nan(gap), color=TREATED, lw=1.4, label="gap (treated minus synthetic)")
    ax.axhline(0, color="#444", lw=0.8)
    _finish(ax, fig, xs, months, start, y_title, ncol=2)
    return fig


def plotly_placebos(months: Sequence[str], placebos: Mapping[str, Sequence[float]], treated, start: str, area: str,
                    y_title: str, treated_meta: dict | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    first = True
    for name, path in placebos.items():
        fig.add_trace(go.Scatter(x=list(months), y=list(path), mode="lines", name="comparison areas (placebos)",
                                 legendgroup="placebo", showlegend=first, hovertext=name, hoverinfo="text+y",
                                 line={"color": PLACEBO, "width": 1}))
        first = False
    fig.add_trace(go.Scatter(x=list(months), y=list(treated), mode="lines+markers", name=area,
                             line={"color": TREATED, "width": 2.5}, marker={"size": 4}, meta=treated_meta))
    fig.add_hline(y=0, line_color="#444", line_width=1)
    if start in months:
        fig.add_vline(x=list(months).index(start), line_dash="dot", line_color="#444")
    _layout(fig, y_title, 380)
    return fig


def mpl_placebos(months, placebos, treated, start, area, y_title):
    plt = pyplot()
    xs = list(range(len(months)))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    first = True
    for path in placebos.values():
        ax.plot(xs, _nan(path), color=PLACEBO, lw=0.7, label="comparison areas (placebos)" if first else None)
        first = False
    ax.plot(xs, _nan(treated), color=TREATED, lw=1.8, label=area)
    ax.axhline(0, color="#444", lw=0.8)
    _finish(ax, fig, xs, months, start, y_title, ncol=2)
    return fig


def _finish(ax, fig, xs, months, start, y_title, ncol):
    if start in months:
        ax.axvline(list(months).index(start), ls=":", color="#444")
    step = max(1, len(xs) // 8)
    ax.set_xticks(xs[::step], [months[i] for i in xs[::step]], rotation=45, fontsize=7)
    ax.set_ylabel(y_title, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, 1.2), ncol=ncol, frameon=False)
    fig.tight_layout()
