"""XmR charts on the example project's indicators, as the dashboard will draw them: every monthly
indicator with enough months gets a chart; the success measures are re-phased at the
partnership's interruption date, and the fall built into the synthetic knife crime shows."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor_fixtures import example_store  # noqa: F401  (a fixture)

from evalkit.errors import EstimationError
from evalkit.monitor.spc import DEFAULT_MIN_POINTS, AssuranceIcon, VariationIcon, xmr
from evalkit.monitor.spc_chart import xmr_figure


@pytest.fixture(scope="module")
def charts(example_store):
    from evalkit.monitor.indicators import compute_indicators, plans

    mon, project, store = example_store
    values = compute_indicators(store, mon, project, period_kind="month", save=False)
    out, short = {}, {}
    for plan in plans(mon, project):
        d, ind = plan.definition, plan.indicator
        series = values[(values.intervention == d.intervention) & (values.indicator == d.indicator)
                        & (values.breakdown == "all")].sort_values("period")
        column = "rate" if series["rate"].notna().all() and len(series) else "value"
        steps = []
        if d.intervention == mon.settings.success_measures and mon.settings.interruption is not None:
            steps = [pd.Timestamp(mon.settings.interruption)]
        try:
            out[d.indicator] = xmr(series["period"], series[column], name=f"{d.intervention}.{d.indicator}",
                                   improvement="increase" if ind.good_when_higher else "decrease",
                                   target=series["target"].iloc[-1] if series["target"].notna().any() else None,
                                   step_changes=steps)
        except EstimationError as exc:
            short[d.indicator] = (len(series), str(exc))
    # the success measures come from the store's success_measures table (Home Office definitions)
    from evalkit.monitor.measures import compute_success_measures

    measures = compute_success_measures(store, mon, save=False)
    steps = [pd.Timestamp(mon.settings.interruption)] if mon.settings.interruption is not None else []
    for m in mon.measures.measures:
        if not m.indicator:
            continue
        series = measures[(measures.measure == m.id) & (measures.variant == "all") & (measures.area == "all")]
        series = series.sort_values("period")
        out[m.indicator] = xmr(pd.to_datetime(series["period"]), series["rate"], name=f"{m.id}",
                               improvement="decrease", step_changes=steps)
    return mon, out, short


def test_every_indicator_with_enough_months_has_a_chart(charts):
    mon, out, short = charts
    assert {"knife_sv", "knife_admissions", "homicides"} <= set(out)
    for name, (n, message) in short.items():  # too short a series is refused in one line, never drawn
        assert n < 2 * DEFAULT_MIN_POINTS and "an XmR chart's limits need at least 15" in message and "\n" not in message
    for chart in out.values():
        assert isinstance(chart.variation, VariationIcon)
        assert chart.assurance is None or isinstance(chart.assurance, AssuranceIcon)
        assert all(b.n_limit_values >= DEFAULT_MIN_POINTS for b in chart.baselines)
        assert len(chart.frame) >= 20


def test_the_success_measures_are_re_phased_at_the_interruption(charts):
    mon, out, _ = charts
    knife = out["knife_sv"]
    assert knife.step_changes == (pd.Timestamp(mon.settings.interruption),)
    before, after = knife.baselines
    assert after.mean < before.mean  # the synthetic data fall after October 2019
    assert knife.frame.baseline.tolist() == sorted(knife.frame.baseline.tolist())


def test_an_example_chart_renders(charts, tmp_path):
    _, out, _ = charts
    fig = xmr_figure(out["knife_sv"].frame, title="Knife-enabled serious violence per 100,000", y_title="rate")
    data = fig.to_plotly_json()
    assert data["data"][0]["y"] and len(data["layout"]["annotations"]) >= 2
