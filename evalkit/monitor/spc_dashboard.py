"""Statistical process control on the dashboard: an XmR chart beside each indicator's RAG trend.

The chart is :func:`evalkit.monitor.spc.xmr` (NHS Making Data Count rules, variation and
assurance icons) drawn by :func:`evalkit.monitor.spc_chart.xmr_figure`, on the indicator's
values *as published*: each point is the typed value the RAG trend shows (a count, a share, a
mean), and the chart is drawn when the page is written, after disclosure control has decided
every value.

Disclosure: **a chart is drawn only for an indicator whose every point is publishable.** The
mean, the moving ranges and the limits are then functions of published values and reveal
nothing more. An indicator with a suppressed (or withheld) point gets no chart, only a note
saying why: limits computed *with* the suppressed points would let them be worked out (with
the other points shown, the mean gives away their sum), and limits computed *without* them
would be biased (the points left out are the small ones), so neither is drawn. A success
measure published only as year-ending totals (its months mostly small) is not charted either:
an XmR chart of overlapping year-ending totals would break its own assumption of independent
points.

The Home Office success measures (:mod:`evalkit.monitor.measures`) get the same chart, on their
monthly rate per 100,000 (per 1,000,000 for homicide) of the whole area, wherever those monthly
rates are published (no month under the threshold); a measure published as whole years only is
not charted, and says so. Their keys are ``success_measures/<measure id>``
(:func:`measure_items`).

Limits are recalculated only at the step changes declared in ``monitor.yml``
(``step_changes: {"intervention/indicator": [dates], "success_measures/<id>": [dates]}``); a step
change is placed in the period holding its date. The declarations are checked against the data before anything is written: a
key that names no charted indicator, a date outside the data, or a baseline left with fewer
points than its limits need is one line naming ``monitor.yml``, its line, what was found and
what was expected.
"""

from __future__ import annotations

import math

import pandas as pd

from evalkit.errors import EstimationError, Problem, SpecError
from evalkit.monitor.spc import DEFAULT_MIN_POINTS, Improvement

MIN_POINTS = DEFAULT_MIN_POINTS
MEASURE_PREFIX = "success_measures/"
PERIOD_FREQ = {"month": "M", "quarter": "Q"}


def _period_start(when, period_kind: str) -> pd.Timestamp:
    return pd.Timestamp(when).to_period(PERIOD_FREQ.get(period_kind, "M")).start_time


def _label(when: pd.Timestamp, period_kind: str) -> str:
    return f"{when:%Y-%m}" if period_kind == "month" else str(when.to_period("Q"))


def _problem(monitoring, path: tuple, message: str, found: str, expected: str) -> Problem:
    line = None
    lines = getattr(monitoring, "settings_lines", {}) or {}
    probe = tuple(path)
    while probe:
        if probe in lines:
            line = lines[probe]
            break
        probe = probe[:-1]
    return Problem(getattr(monitoring, "settings_file", "monitoring/monitor.yml"), line,
                   ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "["),
                   message, found, expected)


def measure_items(model: dict) -> dict[str, dict]:
    """Each success measure as an XmR item (the shape of a dashboard indicator), by its key.

    The points are the whole area's monthly rates as published: the typed
    :class:`~evalkit.publish.values.Rate` values of the measure's table, so the chart reveals
    nothing the monthly series does not. ``monthly_hidden`` when the months are not published."""
    out = {}
    for m in (model.get("measures") or {}).get("measures") or []:
        main = next((v for v in m["variants"] if v["variant"] == "all"), None)
        if main is None:
            continue
        monthly = main.get("monthly")
        per = int(m["rate_per"])
        out[MEASURE_PREFIX + m["id"]] = {
            "label": m["label"], "y_title": f"rate per {per:,} a month", "measure": "rate", "direction": "decrease",
            "target": None, "monthly_hidden": monthly is None,
            "hidden_why": "Not charted: some months are under the disclosure threshold, so only totals of whole "
                          "years are published (an XmR chart needs independent monthly points).",
            "series": {"period": list(monthly["period"]) if monthly else [],
                       "value": list(monthly["rate"]) if monthly else []}}
    return out


def declared_step_changes(monitoring, model: dict, raw_values: dict) -> dict[str, list[pd.Timestamp]]:
    """The step changes of ``monitor.yml`` per indicator key, checked against the dashboard's data.

    Raises :class:`~evalkit.errors.SpecError` (one line per problem, with its line in
    ``monitor.yml``) for a key naming no indicator, a date outside an indicator's periods, or
    a baseline with fewer values than an XmR chart's limits need."""
    declared = dict(getattr(monitoring.settings, "step_changes", None) or {})
    period_kind = model.get("period_kind", "month")
    items = {f"{i['intervention']}/{i['indicator']}": i for i in model["indicators"]}
    measures = measure_items(model)
    configured = {f"{d.intervention}/{d.indicator}" for d in getattr(monitoring, "indicators", ()) or ()}
    problems, out = [], {}
    for key, dates in declared.items():
        item = items.get(key) or measures.get(key)
        if item is None and key in configured:  # an indicator with no data yet: nothing to chart, nothing to check
            continue
        if key in measures:
            if item["monthly_hidden"]:
                problems.append(_problem(monitoring, ("step_changes", key), "the measure has no XmR chart",
                                         "monthly values not published (some months under the disclosure "
                                         "threshold)", "step changes only for a measure whose months are published"))
                continue
            # published or not, these are the values the chart is drawn on (a measure's months are all shown)
            raw_values = {**raw_values, key: [None if v is None else v.value for v in item["series"]["value"]]}
        if item is None:
            problems.append(_problem(monitoring, ("step_changes", key), "no such indicator on the dashboard",
                                     repr(key), "intervention/indicator or success_measures/<measure id>, one of "
                                     + ", ".join(sorted(set(items) | configured | set(measures)))))
            continue
        periods = [pd.Timestamp(p) for p in item["series"]["period"]]
        raw = raw_values.get(key) or []
        with_data = [p for p, v in zip(periods, raw) if v is not None]
        if not with_data:
            problems.append(_problem(monitoring, ("step_changes", key), "the indicator has no data yet", "no periods",
                                     "step changes for an indicator with data"))
            continue
        if len(with_data) < MIN_POINTS:  # too short to chart (noted on the page): no limits to recalculate yet
            continue
        first, last = with_data[0], with_data[-1]
        steps, ok = [], True
        for i, when in enumerate(dates):
            start = _period_start(when, period_kind)
            if start <= first or start > last:
                problems.append(_problem(
                    monitoring, ("step_changes", key, i), "step change outside the data", str(when),
                    f"a date after the first {period_kind} with data and no later than the last "
                    f"({_label(first, period_kind)} to {_label(last, period_kind)})"))
                ok = False
            elif start in steps:
                problems.append(_problem(monitoring, ("step_changes", key, i), "step change declared twice "
                                         f"(in the same {period_kind})", str(when), "each step change once"))
                ok = False
            steps.append(start)
        if not ok:
            continue
        # the limits of each baseline must rest on enough values (counted on the data before suppression;
        # a suppressed point later means no chart, never a chart on fewer points)
        edges = [periods[0]] + sorted(steps) + [None]
        short = []
        for lo, hi in zip(edges, edges[1:]):
            part = [p for p, v in zip(periods, raw) if p >= lo and (hi is None or p < hi)]
            n = sum(1 for p, v in zip(periods, raw) if p >= lo and (hi is None or p < hi) and v is not None)
            if n < MIN_POINTS:
                short.append(f"{n} values from {_label(part[0], period_kind)} to {_label(part[-1], period_kind)}")
        if short:
            problems.append(_problem(monitoring, ("step_changes", key), "too few points for an XmR chart",
                                     "; ".join(short), f"at least {MIN_POINTS} values in each baseline (the limits "
                                     "rest on them): fewer or later step changes"))
            continue
        out[key] = sorted(steps)
    if problems:
        raise SpecError(problems)
    return out


def _note_figure(title: str, text: str):
    import plotly.graph_objects as go

    import textwrap

    fig = go.Figure()
    fig.add_annotation(text="<br>".join(textwrap.wrap(text, 60)), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, align="center",
                       font={"size": 13, "color": "#455a64"})
    fig.update_layout(title={"text": title, "x": 0}, height=170, margin={"l": 30, "r": 20, "t": 50, "b": 20},
                      xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="#ffffff")
    return fig


class XmRSpec:
    """The XmR chart of one indicator (``item`` of the dashboard model), from its published values."""

    def __init__(self, item: dict, step_changes: list, period_kind: str = "month"):
        self.item, self.step_changes, self.period_kind = item, list(step_changes), period_kind

    def chart(self):
        """(the XmR chart or None, why not): decided on the values' disclosure status."""
        from evalkit.monitor.spc import xmr

        item, s = self.item, self.item["series"]
        values = s["value"]
        what = "months" if self.period_kind == "month" else "quarters"
        if item.get("monthly_hidden") and item.get("hidden_why"):
            return None, item["hidden_why"]
        if item.get("monthly_hidden"):
            return None, (f"Not charted: most {what} are under the disclosure threshold, so only year-ending totals "
                          "are published (an XmR chart needs independent points).")
        if any(v is not None and v.hidden for v in values):
            return None, (f"Not charted: some {what} are suppressed. Limits computed with them would let them be "
                          "worked out; limits computed without them would be biased.")
        y = [None if v is None else v.plot() for v in values]
        n = sum(1 for v in y if v is not None)
        if n < MIN_POINTS:
            return None, f"Not charted yet: an XmR chart needs at least {MIN_POINTS} {what} with a value."
        try:
            chart = xmr([pd.Timestamp(p) for p in s["period"]], [math.nan if v is None else v for v in y],
                        name=item["label"], improvement=Improvement(item["direction"]) if item.get("direction")
                        in ("increase", "decrease") else Improvement.neutral,
                        target=item.get("target"), step_changes=self.step_changes, min_points=MIN_POINTS)
        except EstimationError:
            return None, f"Not charted: a baseline has fewer than {MIN_POINTS} {what} with a value."
        return chart, None

    def plotly(self, sink):
        from evalkit.monitor.figure_parts import _e, wrapped_title
        from evalkit.monitor.spc_chart import xmr_figure
        from evalkit.publish.markup import plot_meta

        item = self.item
        title = wrapped_title(f"XmR chart: {item['label']}")
        chart, why = self.chart()
        if chart is None:
            return _note_figure(title, why)
        unit = item.get("y_title") or {"proportion": "share", "count": f"number a {self.period_kind}"}.get(
            item["measure"], item["measure"])
        fig = xmr_figure(chart.frame, title=title, y_title=_e(unit), value_name=wrapped_title(item["label"], 60),
                         value_format=".0%" if item["measure"] == "proportion" else "", height=360)
        values = item["series"]["value"]
        trace = fig.data[0]
        if len(trace.y) != len(values):  # the scan reads the cells point by point: they must line up
            raise EstimationError(f"{item['label']}: the XmR chart has {len(trace.y)} points for {len(values)} values")
        trace.meta = plot_meta(values, sink)
        return fig

    def matplotlib(self):
        return None


def spc_summary(item: dict, step_changes: list, period_kind: str = "month") -> dict | None:
    """For the data export: the chart's icons and limits (computed from published values only)."""
    chart, why = XmRSpec(item, step_changes, period_kind).chart()
    if chart is None:
        return {"charted": False, "why": why}
    return {"charted": True, "variation": chart.variation.value,
            "assurance": chart.assurance.value if chart.assurance else None,
            "step_changes": [f"{pd.Timestamp(p):%Y-%m-%d}" for p in chart.step_changes],
            "baselines": [{"from": f"{pd.Timestamp(b.start):%Y-%m-%d}", "to": f"{pd.Timestamp(b.end):%Y-%m-%d}",
                           "mean": b.mean, "lower_limit": b.lower_limit, "upper_limit": b.upper_limit}
                          for b in chart.baselines],
            "convention": chart.convention}
