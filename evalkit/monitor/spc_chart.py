"""The plotly figure of an XmR chart, drawn from its tidy frame (:attr:`evalkit.monitor.spc.XmRChart.frame`).

Making Data Count's look: grey points and line for common cause, blue for special cause of an
improving nature, orange for concern, purple where neither direction is better; the mean as a
solid line and the process limits dashed, broken at each step change so a re-phased baseline
is visible; the target, when there is one, as a red dashed line; the variation and assurance
icons as labelled badges. The figure computes nothing.

A suppressed value is never drawn at its height: it is a gap in the line, the period is shaded
and a note under the chart says how many were suppressed. A frame whose statistics were
computed *from* values now marked suppressed is refused, because its mean and limits would give
them away: compute the chart with ``xmr(..., suppressed=mask)``, which leaves them out.
Plotly is imported inside the function so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import pandas as pd

from evalkit.errors import DataError
from evalkit.monitor.spc import ASSURANCE_LABELS, RULE_LABELS, VARIATION_LABELS, AssuranceIcon, Rule, VariationIcon

COLOURS = {"common_cause": "#a6a6a6", "special_cause_improvement": "#00b0f0", "special_cause_concern": "#e46c0a",
           "special_cause_neutral": "#490092", "mean": "#000000", "limit": "#7f7f7f", "target": "#de1b1b",
           "suppressed": "#e3e7ea"}
ICON_COLOURS = {"common": COLOURS["common_cause"], "improvement": COLOURS["special_cause_improvement"],
                "concern": COLOURS["special_cause_concern"], "neutral": COLOURS["special_cause_neutral"],
                AssuranceIcon.consistent_pass: COLOURS["special_cause_improvement"],
                AssuranceIcon.consistent_fail: COLOURS["special_cause_concern"],
                AssuranceIcon.hit_and_miss: COLOURS["common_cause"]}


def _plain(values) -> list:
    """Plain Python numbers (None for gaps): the disclosure scanner reads lists, not typed arrays."""
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def _mask(frame: pd.DataFrame, suppressed: Sequence[bool] | pd.Series | None) -> pd.Series:
    own = frame["suppressed"].astype(bool).reset_index(drop=True)
    if suppressed is None:
        return own
    extra = pd.Series([bool(s) for s in suppressed], dtype=bool)
    if len(extra) != len(frame):
        raise DataError(f"suppressed mask has {len(extra)} entries for {len(frame)} periods")
    used = extra & ~own & frame["value"].reset_index(drop=True).notna()
    if used.any():
        when = pd.Timestamp(frame["period"].iloc[int(used.idxmax())])
        raise DataError(f"the chart's mean and limits were computed from the value for {when:%Y-%m-%d}, which is to "
                        "be suppressed; expected the chart computed with xmr(..., suppressed=mask)")
    return own | extra


def _segments(frame: pd.DataFrame, column: str) -> tuple[list, list]:
    """x and y for a line per baseline, with a gap (None) between baselines."""
    xs, ys = [], []
    for _, part in frame.groupby("baseline", sort=True):
        if xs:
            xs.append(None)
            ys.append(None)
        xs += [part["period"].iloc[0], part["period"].iloc[-1]]
        ys += _plain([part[column].iloc[0]] * 2)
    return xs, ys


BADGE_WIDTH = 60  # characters a line of a variation or assurance badge holds (a half-width chart)
BADGE_LINE = 14  # pixels per line of a badge (11 px type)
TITLE_LINE = 22  # pixels per line of the title (plotly's 17 px title type)


def _icon_text(variation: VariationIcon, assurance: AssuranceIcon | None) -> tuple[str, str, str | None, str | None]:
    kind = "common" if variation is VariationIcon.common_cause else variation.value.split("_")[0]
    label = VARIATION_LABELS[variation]
    if assurance is None:
        return label, ICON_COLOURS[kind], None, None
    return label, ICON_COLOURS[kind], ASSURANCE_LABELS[assurance], ICON_COLOURS[assurance]


def xmr_figure(frame: pd.DataFrame, *, title: str = "", y_title: str = "", value_name: str = "", suppressed: Sequence[bool] | None = None,
               counts: bool = False, min_count: int | None = None, moving_range: bool = False, value_format: str = "",
               height: int = 380):
    """The XmR chart of ``frame`` as a plotly figure (with the moving-range chart below when ``moving_range``).

    ``suppressed`` (one flag per row of ``frame``) adds to the frame's own ``suppressed``
    column; ``counts`` marks the value trace for the disclosure scanner (``meta: ek-counts``);
    ``min_count`` names the threshold in the note about suppressed periods; ``value_name`` names
    the points in the legend (default: ``y_title``).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = frame.sort_values("period", kind="stable", ignore_index=True)
    hidden = _mask(frame, suppressed)
    value = frame["value"].where(~hidden)
    x = list(frame["period"])
    rows = 2 if moving_range else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.72, 0.28] if moving_range else None)

    colours = [COLOURS.get(t, COLOURS["common_cause"]) for t in frame["point_type"]]
    why = [("" if not r else RULE_LABELS[Rule(r)]) for r in frame["rule"]]
    why = [("suppressed" if h else w) for w, h in zip(why, hidden)]
    fig.add_trace(go.Scatter(x=x, y=_plain(value), mode="lines+markers", name=value_name or y_title or "value",
                             line={"color": COLOURS["common_cause"], "width": 1.5}, connectgaps=False,
                             marker={"color": colours, "size": 8}, customdata=why,
                             hovertemplate="%{x|%b %Y}: " + (f"%{{y:{value_format}}}" if value_format else "%{y}")
                             + "<br>%{customdata}<extra></extra>",
                             meta="ek-counts" if counts else None), row=1, col=1)
    for column, name, dash, colour in (("mean", "mean", "solid", COLOURS["mean"]),
                                       ("upper_limit", "process limits", "dash", COLOURS["limit"]),
                                       ("lower_limit", "lower process limit", "dash", COLOURS["limit"])):
        xs, ys = _segments(frame, column)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"color": colour, "dash": dash, "width": 1},
                                 connectgaps=False, hoverinfo="skip", showlegend=column != "lower_limit"),
                      row=1, col=1)
    target = frame["target"].dropna()
    if len(target):
        fig.add_trace(go.Scatter(x=[x[0], x[-1]], y=_plain([target.iloc[0]] * 2), mode="lines", name="target",
                                 line={"color": COLOURS["target"], "dash": "dot", "width": 1.5}, hoverinfo="skip"),
                      row=1, col=1)
    if moving_range:
        mr = frame["moving_range"].where(~hidden & ~hidden.shift(1, fill_value=False))
        fig.add_trace(go.Scatter(x=x, y=_plain(mr), mode="lines+markers", name="moving range", connectgaps=False,
                                 line={"color": COLOURS["common_cause"], "width": 1}, marker={"size": 5},
                                 hovertemplate="%{x|%b %Y}: %{y}<extra>moving range</extra>"), row=2, col=1)
        for column, dash in (("mean_moving_range", "solid"), ("moving_range_limit", "dash")):
            xs, ys = _segments(frame, column)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="skip", connectgaps=False,
                                     line={"color": COLOURS["mean" if dash == "solid" else "limit"], "dash": dash,
                                           "width": 1}), row=2, col=1)

    half = (frame["period"].diff().median() / 2) if len(frame) > 1 else pd.Timedelta(days=1)
    for lo, hi in _shaded_runs(hidden):  # after the traces: plotly skips subplots that are still empty
        fig.add_vrect(x0=x[lo] - half, x1=x[hi] + half, fillcolor=COLOURS["suppressed"], line_width=0, layer="below",
                      row="all", col=1)
    shown = frame[~hidden & frame["value"].notna()]
    notes = []
    badges = []  # (text, colour), drawn from the bottom up just above the plot, under the title
    if len(shown):
        latest = shown.iloc[-1]
        variation = VariationIcon(latest["icon"])
        assurance = _assurance_of(frame)
        v_label, v_colour, a_label, a_colour = _icon_text(variation, assurance)
        if a_label:
            badges.append((f"<b>Assurance</b>: {a_label}", a_colour))
        badges.append((f"<b>Variation</b> ({pd.Timestamp(latest['period']):%b %Y}): {v_label}", v_colour))
    title_lines = str(title).count("<br>") + 1 if title else 0
    n_hidden = int(hidden.sum())
    if n_hidden:
        below = f" (counts from 1 to {min_count - 1})" if min_count else ""
        notes.append(f"{n_hidden} period{'s' if n_hidden != 1 else ''} suppressed{below}: shaded and not drawn; "
                     "the mean and limits leave them out.")
    steps = [pd.Timestamp(p) for p in frame.loc[frame["baseline"].diff().fillna(0) > 0, "period"]]
    if steps:
        notes.append("Limits recalculated from " + ", ".join(f"{p:%b %Y}" for p in steps) + " (step change).")
    # above the plot, from the bottom up: the notes, then each badge, left-aligned and wrapped to fit a
    # half-width chart; stacked by pixels, not by fractions of the plot, so that nothing overlaps the
    # points, the legend (whose height depends on the width) or each other
    shift = 4
    stack = [("<br>".join(line for n in notes for line in textwrap.wrap(n, BADGE_WIDTH + 10)), None)] if notes else []
    for text, colour in stack + [(b, c) for b, c in badges]:
        lines = text.split("<br>") if colour is None else (textwrap.wrap(text, BADGE_WIDTH) or [text])
        style = ({"font": {"size": 11, "color": "#455a64"}} if colour is None else
                 {"font": {"size": 11, "color": "#ffffff"}, "bgcolor": colour, "borderpad": 3})
        fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=1, yanchor="bottom",
                           yshift=shift, showarrow=False, xanchor="left", align="left", **style)
        shift += BADGE_LINE * len(lines) + (10 if colour is not None else 4)
    top = 14 + TITLE_LINE * title_lines + shift
    # the plot keeps its height: the title's and badges' lines are added above it
    fig.update_layout(title={"text": title, "x": 0, "y": 0.98, "yanchor": "top"},
                      height=height + (150 if moving_range else 0) + max(0, top - 95),
                      margin={"l": 55, "r": 20, "t": top, "b": 70},
                      legend={"orientation": "h", "x": 0, "y": -0.09, "yanchor": "top"}, plot_bgcolor="#ffffff",
                      hovermode="closest")
    fig.update_yaxes(title_text=y_title, tickformat=value_format or None, gridcolor="#eeeeee", row=1, col=1)
    if moving_range:
        fig.update_yaxes(title_text="moving range", gridcolor="#eeeeee", rangemode="tozero", row=2, col=1)
    return fig


def _assurance_of(frame: pd.DataFrame) -> AssuranceIcon | None:
    value = frame["assurance"].iloc[-1] if "assurance" in frame.columns else ""
    return AssuranceIcon(value) if value else None


def _shaded_runs(hidden: pd.Series) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, h in enumerate(hidden.tolist() + [False]):
        if h and start is None:
            start = i
        elif not h and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs
