"""The value-for-money core fed from real evalkit results on the example project (not yet wired
into run or report: that is phase B). Each number is checked against the estimate it came from."""

from __future__ import annotations

import pytest

from evalkit.vfm.costs import example_costs, summarise_costs
from evalkit.vfm.crime_costs import default_valuation, monetise
from evalkit.vfm.effects import effect_from_estimate, effect_from_reliable_change
from evalkit.vfm.ratio import cost_per_outcome
from evalkit.vfm.results import Status
from evalkit.vfm.sensitivity import sensitivity_table


@pytest.fixture(scope="module")
def project(example_project_ro):
    import evalkit

    return evalkit.load_project(example_project_ro)


def _run(project, evaluation):
    import evalkit

    return evalkit.run(project.evaluation(evaluation))  # the verb, whatever has imported the module


def test_cost_per_reliable_improvement_from_the_reach_pre_post(project):
    result = _run(project, "reach-2023-prepost")
    section = result.sections["reliable_change"]["sdq_total"]
    effect = effect_from_reliable_change(section, source="reach-2023-prepost")
    costs = summarise_costs(example_costs()["reach"], intervention="reach", analysis_year="2023-24")
    year = next(p for p in costs.periods if p.period == "2023-24")
    r = cost_per_outcome(year.total, effect, analysis_year="2023-24")
    from evalkit.estimate._stats import wilson

    low, high = wilson(section["improved"], section["n"])
    assert r.status is Status.estimable
    assert r.cost_per_outcome == pytest.approx(year.total / section["improved"], rel=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((year.total / (high * section["n"]),
                                                   year.total / (low * section["n"])), rel=1e-12)
    assert "no comparison group" in r.outcomes.source


def test_cost_per_re_attendance_avoided_from_the_vip_matched_comparison(project):
    result = _run(project, "vip-2023-matched")
    est = next(e for e in result.estimates if e.estimand == "att" and e.subgroup == "all")
    costs = summarise_costs(example_costs()["vip"], intervention="vip", analysis_year="2023-24")
    started = costs.overall.started
    effect = effect_from_estimate(est, outcome="re-attendance avoided", scale="difference", good_when="decrease",
                                  n=started, source="vip-2023-matched")
    r = cost_per_outcome(costs.overall.total, effect, analysis_year="2023-24")
    assert r.status is Status.estimable
    assert r.cost_per_outcome == pytest.approx(costs.overall.total / (-est.estimate * started), rel=1e-12)
    assert r.ci_high == pytest.approx(costs.overall.total / (-est.ci_high * started), rel=1e-12)
    mc = cost_per_outcome(costs.overall.total, effect, method="monte_carlo", seed=20240301,
                          cost_low=0.8 * costs.overall.total, cost_high=1.3 * costs.overall.total)
    assert mc.ci_low < r.cost_per_outcome < mc.ci_high
    table = sensitivity_table(costs.overall.total, effect, analysis_year="2023-24")
    central = next(c for c in table.cells if (c.cost_case, c.effect_case) == ("central", "central"))
    assert central.cost_per_outcome == pytest.approx(r.cost_per_outcome, rel=1e-12)


def test_knife_crime_and_homicides_avoided_from_the_strategy_time_series(project):
    from evalkit.vfm.effects import Effect

    result = _run(project, "strategy-its")
    strategy_cost = 1_500_000.0  # a stand-in for the partnership's spend; the example has no strategy costs
    out = {}
    for measure in ("knife_sv", "homicides"):
        est = next(e for e in result.estimates if e.indicator == measure and e.estimand == "level_change")
        section = result.sections["counterfactual"][measure]
        after = [row for row in section["rows"] if row["period"] >= section["interruption"] and row["area"] == "all"]
        # events expected after the interruption without it; valued from the level change alone
        baseline = sum(row["counterfactual"] for row in after)
        effect = effect_from_estimate(est, outcome=f"{measure} avoided", scale="ratio", good_when="decrease",
                                      baseline_events=baseline, source="strategy-its: level change")
        assert isinstance(effect, Effect)
        valuation = default_valuation(measure)
        m = monetise(effect, offence=valuation.offence, total_cost=strategy_cost, analysis_year="2023-24",
                     valuation=valuation.valuation)
        assert m.events.central == pytest.approx(baseline * (1 - est.estimate), rel=1e-12)
        assert m.benefit == pytest.approx(baseline * (1 - est.estimate) * m.unit_cost, rel=1e-12)
        assert m.bcr == pytest.approx(m.benefit / strategy_cost, rel=1e-12)
        out[measure] = m
    # where a level change's interval includes no effect the report must say so (which measures do
    # depends on the example's data: the strategy's series come from the monitoring store)
    for measure, m in out.items():
        est = next(e for e in result.estimates if e.indicator == measure and e.estimand == "level_change")
        if est.ci_high > 1:
            assert m.benefit_low < 0 and m.note.startswith("the benefit's 95% interval includes no benefit")
        else:
            assert m.benefit_low > 0
