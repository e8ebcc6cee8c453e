"""Value for money wired into the product (issue 19, phase B): costs in the logic models, validated
by ``evalkit validate``; every figure of the assessment checked against a hand calculation."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO, run_cli

SPORT = REPO / "logic_models" / "sport.yml"

COSTS = """
costs:
  price_year: 2023-24
  source: test figures
  periods:
    - id: 2023-24
      start: 2023-04-01
      end: 2024-03-31
      participants: {started: 200, completed: 150}
      set_up: {training: 20000}
      running: {staff: 90000}
      in_kind:
        - {category: venues, amount: 10000, provided_by: Schools}
  outcomes:
    reoffended: {outcome: offence avoided, valued_as: violence_with_injury}
"""


def _logic_model_text(costs: str = COSTS) -> str:
    text = SPORT.read_text(encoding="utf-8")
    text = text[:text.index("\n# ILLUSTRATIVE COSTS")] + "\n"
    # a binary indicator to cost (sport's own are kept as they are)
    text += """  - id: reoffended
    label: Offended again within 12 months
    measures: less-violence
    type: binary
    direction: decrease
    source: police
"""
    return text + costs


def _project(tmp_path: Path, costs: str = COSTS) -> Path:
    root = tmp_path / "project"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    (root / "logic_models" / "sport.yml").write_text(_logic_model_text(costs), encoding="utf-8")
    return root


def _lines_of(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines() if ": error:" in ln]


@pytest.fixture
def sport_model(tmp_path):
    from evalkit.project import load_project

    root = _project(tmp_path)
    nodes = (root / "logic_models" / "sport.yml").read_text()
    assert "less-violence" in nodes or pytest.skip("sport's theory of change changed")
    return load_project(root, check_data=False).interventions["sport"]


# ---------------------------------------------------------------------------- validation (CLI)


def test_the_costs_block_validates_and_resolves(sport_model):
    costs = sport_model.costs
    assert costs is not None and costs.report_year.label == "2023-24"
    assert costs.outcomes["reoffended"].valued_as == "violence_with_injury"
    assert [p.total for p in costs.periods] == [120000.0]


@pytest.mark.parametrize("edit, line, message", [
    ("      running: {staff: -500}", 10,
     "costs.periods[0].running.staff: a cost cannot be negative (found -£500; expected an amount of 0 or more"),
    (None, 1, "costs.price_year: price year is missing"),
    ("      participants: {completed: 0}", 8,
     "costs.periods[0].participants.started: this period has costs but no participants, so no cost per participant "
     "can "
     "be given (found £120,000 of costs and no participants.started"),
])
def test_each_bad_cost_is_one_line_with_file_and_line(tmp_path, edit, line, message):
    costs = COSTS
    if edit is None:
        costs = costs.replace("  price_year: 2023-24\n", "")
    elif "running" in edit:
        costs = costs.replace("      running: {staff: 90000}", edit)
    else:
        costs = costs.replace("      participants: {started: 200, completed: 150}", edit)
    root = _project(tmp_path, costs)
    proc = run_cli("validate", "--no-data", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = _lines_of(proc)
    assert len(lines) == 1, lines
    start = _logic_model_text(costs).splitlines().index("costs:") + 1  # the block's first line in the file
    assert lines[0].startswith(f"logic_models/sport.yml:{start + line - 1}: error: "), (lines[0], start)
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_costs_naming_an_unknown_indicator_are_refused(tmp_path):
    root = _project(tmp_path, COSTS.replace("    reoffended: {", "    reoffending: {"))
    proc = run_cli("validate", "--no-data", cwd=root)
    assert proc.returncode == 1
    (line,) = _lines_of(proc)
    assert "costs.outcomes.reoffending: costs name an indicator that is not in the logic model" in line


def test_a_place_based_strategy_needs_no_participants(tmp_path):
    from evalkit.spec import raw as r
    from evalkit.spec.costs import resolve_costs
    import yaml

    block = r.CostsBlock.model_validate(yaml.safe_load(COSTS)["costs"] | {"outcomes": {}})
    block = block.model_copy(update={"periods": [block.periods[0].model_copy(update={"participants": None})]})
    _, problems = resolve_costs(block, place_based=False)
    assert [p.message for p in problems] == [
        "this period has costs but no participants, so no cost per participant can be given"]
    costs, problems = resolve_costs(block, place_based=True)
    assert problems == [] and costs.periods[0].started is None


# ---------------------------------------------------------------------------- hand calculations

FACTOR_2015_16 = 107.975 / 83.75  # deflator 2023-24 / 2015-16 (means of their four ONS YBGB quarters)
UNIT = 14050 * FACTOR_2015_16  # violence with injury, Heeks et al. (2018), in 2023-24 prices


def _estimate(indicator, estimand, estimate, lo, hi):
    return SimpleNamespace(indicator=indicator, subgroup="all", estimand=estimand, estimate=estimate, ci_low=lo,
                           ci_high=hi, ci_level=0.95)


def _result(estimates, design="matched_comparison", sections=None):
    return SimpleNamespace(evaluation="test-eval", design=design, estimates=estimates, sections=sections or {})


def test_cost_per_participant_and_rating_by_hand(sport_model):
    from evalkit.vfm.assess import assess_costs

    a = assess_costs(sport_model)
    o = a.summary.overall
    assert o.total == 120000 and o.cash == 110000 and o.in_kind == 10000
    assert o.per_started == pytest.approx(120000 / 200) and o.per_completed == pytest.approx(120000 / 150)
    assert o.per_started_running == pytest.approx(100000 / 200)  # staff + in-kind venues, no set-up
    assert a.rating.rating == 3 and a.rating.published_by == "toolkit_default"  # £600: above £500, up to £1,000


def test_cost_per_outcome_benefit_and_bcr_by_hand(sport_model):
    from evalkit.vfm.assess import assess

    a = assess(sport_model, _result([_estimate("reoffended", "att", -0.10, -0.15, -0.05)]))
    (c,) = a.outcomes
    k = c.cost_per_outcome
    # 0.10 fewer per participant x 200 who started = 20 offences avoided (10 to 30)
    assert (k.outcomes.central, k.outcomes.low, k.outcomes.high) == pytest.approx((20, 10, 30))
    assert k.cost_per_outcome == pytest.approx(6000)  # 120,000 / 20
    assert (k.ci_low, k.ci_high) == pytest.approx((4000, 12000))  # 120,000 / 30 and / 10
    assert k.method == "fieller" and "Fieller" in k.method_text and c.comparison_group
    m = c.monetised
    assert m.uplift_factor == pytest.approx(FACTOR_2015_16, rel=1e-12)
    assert m.unit_cost == pytest.approx(UNIT) and round(m.unit_cost) == 18114
    assert m.benefit == pytest.approx(20 * UNIT) and m.net_benefit == pytest.approx(20 * UNIT - 120000)
    assert m.bcr == pytest.approx(20 * UNIT / 120000)
    assert (m.bcr_low, m.bcr_high) == pytest.approx((10 * UNIT / 120000, 30 * UNIT / 120000))
    assert any("fear of crime" in x for x in m.not_counted) and any(x.startswith("response") for x in m.counted)
    # sensitivity: costs x 0.8 / 1.0 / 1.2 against 10 / 20 / 30 outcomes
    cells = {(x.cost_case, x.effect_case): x for x in c.sensitivity.cells}
    assert cells[("low", "low")].cost_per_outcome == pytest.approx(96000 / 10)
    assert cells[("high", "high")].cost_per_outcome == pytest.approx(144000 / 30)
    assert cells[("high", "low")].bcr == pytest.approx(10 * UNIT / 144000)


def test_an_interval_including_no_effect_gives_no_figure(sport_model):
    from evalkit.vfm.assess import assess

    a = assess(sport_model, _result([_estimate("reoffended", "att", -0.04, -0.09, 0.01)]))
    k = a.outcomes[0].cost_per_outcome
    assert k.status.value == "no_upper_limit" and k.cost_per_outcome is None
    assert k.at_least == pytest.approx(120000 / (0.09 * 200))
    assert "no upper limit" in k.note


def test_did_on_counts_uses_the_follow_up_of_each_treated_unit(sport_model):
    from dataclasses import replace

    from evalkit.vfm.assess import assess

    # sport's 'sessions_attended'-like count: reuse 'reoffended' as a count indicator for the DiD rule
    ind = replace(sport_model.indicators["reoffended"], type=type(sport_model.indicators["reoffended"].type)("count"))
    lm = replace(sport_model, indicators={**sport_model.indicators, "reoffended": ind})
    sections = {"group_time": {"reoffended": {"cohorts": {"2022-01": 10, "2022-07": 30},
                                              "by_cohort": [{"cohort_label": "2022-01", "cells": 24},
                                                            {"cohort_label": "2022-07", "cells": 18}]}}}
    a = assess(lm, _result([_estimate("reoffended", "did_att", -0.05, -0.08, -0.02)],
                           design="difference_in_differences", sections=sections))
    k = a.outcomes[0].cost_per_outcome
    periods = (10 * 24 + 30 * 18) / 40  # 19.5 months after the start, per treated person
    assert k.outcomes.central == pytest.approx(0.05 * periods * 200)
    assert k.cost_per_outcome == pytest.approx(120000 / (0.05 * periods * 200))
    assert (k.ci_low, k.ci_high) == pytest.approx((120000 / (0.08 * periods * 200), 120000 / (0.02 * periods * 200)))


def test_reliable_improvement_is_descriptive_with_a_wilson_interval(sport_model):
    from dataclasses import replace

    from evalkit.vfm.assess import assess

    ind = replace(sport_model.indicators["reoffended"], type=type(sport_model.indicators["reoffended"].type)("score"))
    lm = replace(sport_model, indicators={**sport_model.indicators, "reoffended": ind})
    sections = {"reliable_change": {"reoffended": {"n": 100, "improved": 30, "deteriorated": 5}}}
    a = assess(lm, _result([_estimate("reoffended", "mean_change", -2.0, -3.0, -1.0)], design="pre_post",
                           sections=sections))
    (c,) = a.outcomes
    z = 1.959963984540054
    p, n = 0.3, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    k = c.cost_per_outcome
    assert k.cost_per_outcome == pytest.approx(120000 / (0.3 * 200))
    assert (k.ci_low, k.ci_high) == pytest.approx((120000 / ((centre + half) * 200), 120000 / ((centre - half) * 200)))
    assert c.comparison_group is False and c.monetised is None


def test_two_price_years_are_uplifted_by_hand(tmp_path):
    """2022-23 amounts moved to 2023-24 by the mean of each year's four ONS YBGB quarters."""
    import csv

    from evalkit.project import load_project
    from evalkit.vfm.assess import assess_costs

    extra = """    - id: 2022-23
      start: 2022-04-01
      end: 2023-03-31
      price_year: 2022-23
      participants: {started: 100}
      running: {staff: 50000}
"""
    root = _project(tmp_path, COSTS.replace("  periods:\n", "  periods:\n" + extra))
    lm = load_project(root, check_data=False).interventions["sport"]
    rows = {}
    path = REPO / "evalkit" / "vfm" / "data" / "deflators_ons_ybgb_2025-06.csv"
    for row in csv.reader(ln for ln in path.read_text().splitlines() if not ln.startswith("#")):
        rows[row[0]] = row[1]

    def fy(year):
        quarters = [f"{year} Q2", f"{year} Q3", f"{year} Q4", f"{year + 1} Q1"]
        return sum(float(rows[q]) for q in quarters) / 4

    factor = fy(2023) / fy(2022)
    a = assess_costs(lm)
    assert a.summary.overall.total == pytest.approx(120000 + 50000 * factor)
    assert a.summary.overall.started == 300 and a.summary.overall.completed is None  # 2022-23 records none
    assert a.summary.overall.per_completed is None


# ---------------------------------------------------------------------------- the example project


def test_every_example_logic_model_with_costs_is_illustrative():
    from evalkit.project import load_project

    project = load_project(REPO, check_data=False)
    costed = {k: lm.costs for k, lm in project.interventions.items() if lm.costs is not None}
    assert set(costed) >= {"mvp", "reach", "vip", "phoenix", "sport", "ete"}
    assert all(c.illustrative for c in costed.values())


def test_the_dashboard_cost_per_month_by_hand():
    """Reach, 2023-24: £264,500 cash and £7,500 in kind running costs over 366 days (2024 is a leap year)."""
    from evalkit.project import load_project
    from evalkit.vfm.costs import monthly_costs

    lm = load_project(REPO, check_data=False).interventions["reach"]
    months = {m.month: m for m in monthly_costs(lm.costs, analysis_year="2023-24") if m.period == "2023-24"}
    jan = months["2024-01"]
    assert jan.running_cash + jan.running_in_kind == pytest.approx(272000 * 31 / 366)
    assert jan.set_up == 0


def test_an_offence_the_table_does_not_price_is_refused_at_validate(tmp_path):
    root = _project(tmp_path, COSTS.replace("valued_as: violence_with_injury", "valued_as: domestic_burglary"))
    proc = run_cli("validate", "--no-data", cwd=root)
    assert proc.returncode == 1
    (line,) = _lines_of(proc)
    start = _logic_model_text(COSTS).splitlines().index("costs:") + 1
    assert line.startswith(f"logic_models/sport.yml:{start + 13}: error: costs.outcomes.reoffended.valued_as: the "
                           "unit-cost table has no confirmed figure for this offence (found 'domestic_burglary' "
                           "(home-office-2018 v1.0.0); expected one of homicide, violence_with_injury"), line
