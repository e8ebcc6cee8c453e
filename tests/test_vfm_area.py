"""Value for money of a whole-area strategy (issue 19): the strategy's cost over an evaluation's months
against the events prevented in the area (comparison areas) or avoided (time series), every figure
checked against a hand calculation."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO

STRATEGY = REPO / "logic_models" / "strategy.yml"
FACTOR_2015_16 = 107.975 / 83.75  # deflator 2023-24 / 2015-16 (means of their four ONS YBGB quarters)
UNIT_VWI = 14050 * FACTOR_2015_16  # violence with injury (Heeks et al. 2018), 2023-24 prices
UNIT_HOMICIDE = 3217740 * FACTOR_2015_16

# one financial year, 366 days (2024 is a leap year): £1,000 a day of running cash, £100 a day in kind
COSTS = """
costs:
  price_year: 2023-24
  source: test figures
  periods:
    - id: 2023-24
      start: 2023-04-01
      end: 2024-03-31
      set_up: {training: 10000}
      running: {staff: 366000}
      in_kind:
        - {category: staff, amount: 36600, provided_by: Police analysts}
  outcomes:
    knife_sv: {outcome: offence prevented, valued_as: violence_with_injury}
"""


def _strategy(tmp_path: Path, costs: str = COSTS):
    from evalkit.project import load_project

    text = STRATEGY.read_text(encoding="utf-8")
    text = text[:text.index("\n# ILLUSTRATIVE COSTS")] + "\n" + costs
    root = tmp_path / "project"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    (root / "logic_models" / "strategy.yml").write_text(text, encoding="utf-8")
    return load_project(root, check_data=False).interventions["strategy"]


def _estimate(indicator, estimate, lo, hi, subgroup="all", first="2023-10", last="2023-12"):
    return SimpleNamespace(indicator=indicator, subgroup=subgroup, estimand="events_prevented", estimate=estimate,
                           ci_low=lo, ci_high=hi, ci_level=0.95, timepoints=(first, last))


def _areas(estimates):
    return SimpleNamespace(evaluation="test-areas", design="comparison_areas", estimates=estimates, sections={})


def test_the_cost_over_an_evaluations_months_by_hand(tmp_path):
    from evalkit.vfm.area import window_cost

    costs = _strategy(tmp_path).costs
    # October to December 2023: 92 days of running costs; the set-up fell in April, outside
    w = window_cost(costs, "2023-10", "2023-12", analysis_year="2023-24")
    assert (w.months, w.months_costed) == (3, 3)
    assert w.running == pytest.approx(92 * 1100) and w.set_up == 0
    assert w.cash == pytest.approx(92 * 1000) and w.in_kind == pytest.approx(92 * 100)
    assert w.total == pytest.approx(101200)
    assert w.left_out == pytest.approx(366000 + 36600 + 10000 - 101200) and w.note == ""
    # April to June: 91 days and the set-up (the period's first month is inside)
    w = window_cost(costs, "2023-04", "2023-06", analysis_year="2023-24")
    assert w.total == pytest.approx(91 * 1100 + 10000) and w.set_up == pytest.approx(10000)
    assert w.cash == pytest.approx(91 * 1000 + 10000)
    # months with no declared cost are counted and said, never filled in
    w = window_cost(costs, "2024-02", "2024-05", analysis_year="2023-24")
    assert (w.months, w.months_costed) == (4, 2) and w.total == pytest.approx(60 * 1100)
    assert w.note.startswith("no costs are declared for 2 of the 4 months (2024-04 to 2024-05)")


def test_events_prevented_benefit_and_ratio_by_hand(tmp_path):
    from evalkit.vfm.assess import assess

    strategy = _strategy(tmp_path)
    a = assess(strategy, _areas([_estimate("knife_sv", 20.0, -5.0, 45.0),
                                 _estimate("knife_sv", 8.0, 2.0, 14.0, subgroup="under 25")]))
    assert a.outcomes == () and a.summary.overall.started is None and a.rating.rating is None
    everyone, young = a.area_events
    cost = 92 * 1100
    assert everyone.cost.total == pytest.approx(cost) and everyone.age_group == "all ages"
    assert everyone.measure_key == "knife_sv" and young.measure_key == "knife_sv_u25" and not everyone.model_based
    k = everyone.cost_per_outcome
    assert (k.outcomes.central, k.outcomes.low, k.outcomes.high) == pytest.approx((20, -5, 45))
    # the interval includes no event prevented: no figure, only the lowest cost per event it allows
    assert k.cost_per_outcome is None and k.at_least == pytest.approx(cost / 45)
    m = everyone.monetised
    assert m.unit_cost == pytest.approx(UNIT_VWI) and m.uplift_factor == pytest.approx(FACTOR_2015_16, rel=1e-12)
    assert m.benefit == pytest.approx(20 * UNIT_VWI)
    assert (m.benefit_low, m.benefit_high) == pytest.approx((-5 * UNIT_VWI, 45 * UNIT_VWI))
    assert m.net_benefit == pytest.approx(20 * UNIT_VWI - cost)
    assert (m.net_benefit_low, m.net_benefit_high) == pytest.approx((-5 * UNIT_VWI - cost, 45 * UNIT_VWI - cost))
    assert m.bcr == pytest.approx(20 * UNIT_VWI / cost)
    assert (m.bcr_low, m.bcr_high) == pytest.approx((-5 * UNIT_VWI / cost, 45 * UNIT_VWI / cost))
    assert m.method == "fieller" and "carried through" in m.method_text
    assert m.note.startswith("the benefit's 95% interval includes no benefit")
    # under-25s: an interval clear of zero gives a cost per event with its interval (C / high to C / low)
    k = young.cost_per_outcome
    assert k.cost_per_outcome == pytest.approx(cost / 8)
    assert (k.ci_low, k.ci_high) == pytest.approx((cost / 14, cost / 2))
    assert young.monetised.bcr == pytest.approx(8 * UNIT_VWI / cost)
    assert young.cost_per_outcome.outcome == "offence prevented (under 25)"
    cells = {(x.cost_case, x.effect_case): x for x in young.sensitivity.cells}
    assert cells[("high", "low")].cost_per_outcome == pytest.approx(1.2 * cost / 2)
    assert cells[("low", "high")].bcr == pytest.approx(14 * UNIT_VWI / (0.8 * cost))


def test_homicides_are_valued_by_default_and_an_unvalued_outcome_is_said(tmp_path):
    from evalkit.vfm.assess import assess

    strategy = _strategy(tmp_path)
    a = assess(strategy, _areas([_estimate("homicides", 2.0, 0.5, 3.5)]))
    (h,) = a.area_events
    assert h.monetised.offence == "homicide" and h.monetised.unit_cost == pytest.approx(UNIT_HOMICIDE)
    assert h.monetised.benefit == pytest.approx(2 * UNIT_HOMICIDE)
    assert h.monetised.bcr == pytest.approx(2 * UNIT_HOMICIDE / (92 * 1100))
    assert "toolkit default" in h.valuation_note


def test_events_outside_the_declared_costs_are_not_costed(tmp_path):
    from evalkit.vfm.assess import assess

    strategy = _strategy(tmp_path)
    a = assess(strategy, _areas([_estimate("knife_sv", 20.0, 5.0, 45.0, first="2019-10", last="2020-03")]))
    assert a.area_events == ()
    (skip,) = a.not_costed
    assert "no costs are declared for 2019-10 to 2020-03" in skip.reason


def test_time_series_events_avoided_by_hand(tmp_path):
    from evalkit.vfm.assess import assess

    strategy = _strategy(tmp_path)
    section = {"counterfactual": {"knife_sv": {"events_avoided": {
        "estimate": 30.0, "low": 10.0, "high": 55.0, "level": 0.95, "first_month": "2023-10",
        "last_month": "2023-12", "months": 3, "counterfactual": 300.0, "fitted": 270.0,
        "interval": "percentile interval of 10000 draws"}}}}
    result = SimpleNamespace(evaluation="test-its", design="interrupted_time_series", sections=section,
                             estimates=[SimpleNamespace(indicator="knife_sv")])
    (x,) = assess(strategy, result).area_events
    cost = 92 * 1100
    assert x.model_based and x.estimand == "events_avoided" and x.measure_key is None
    assert x.cost_per_outcome.cost_per_outcome == pytest.approx(cost / 30)
    assert (x.cost_per_outcome.ci_low, x.cost_per_outcome.ci_high) == pytest.approx((cost / 55, cost / 10))
    assert x.monetised.bcr == pytest.approx(30 * UNIT_VWI / cost)
    assert (x.monetised.bcr_low, x.monetised.bcr_high) == pytest.approx((10 * UNIT_VWI / cost, 55 * UNIT_VWI / cost))
    assert "10% of its 300.0 events" in x.note and "mostly" not in x.note


def test_the_example_strategy_costs_are_illustrative_and_cover_its_evaluations():
    from evalkit.project import load_project

    project = load_project(REPO, check_data=False)
    costs = project.interventions["strategy"].costs
    assert costs.illustrative and costs.periods[0].start.isoformat() == "2019-10-01"
    assert costs.periods[-1].end.isoformat() == "2024-03-31"
    assert {p.started for p in costs.periods} == {None}  # a whole-area strategy has no participants
