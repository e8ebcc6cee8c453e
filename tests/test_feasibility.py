"""Feasibility design: each metric on a small hand-counted case file, verdicts at threshold
boundaries, the pathway step, and the messages for bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import copy_logic_models
from evalkit.errors import DataError, EstimationError, SpecError
from evalkit.estimate import feasibility as fz
from evalkit.project import load_project
from evalkit.run import run
from evalkit.spec.raw import Better, ProgressionRule, Stage

REPO = Path(__file__).resolve().parents[1]

# Ten referrals; C10 falls after the recruitment window, so 9 count. Hand counts in the tests.
CASES = """\
case_id,school,referral_date,first_contact,eligible,consented,started,completed,sdq_b,sdq_f,satisfaction
C01,A,2024-09-02,2024-09-03,1,1,1,1,20,18,5
C02,A,2024-09-05,2024-09-05,1,1,1,1,15,14,4
C03,A,2024-09-10,2024-09-14,1,1,1,0,22,,2
C04,B,2024-09-12,2024-09-13,1,1,1,0,,19,
C05,B,2024-09-20,2024-09-21,1,1,0,,18,,
C06,B,2024-10-01,2024-10-08,1,0,,,,,
C07,C,2024-10-03,2024-10-04,0,,,,,,
C08,C,2024-10-15,,1,1,1,1,25,21,4
C09,C,2024-11-01,2024-11-02,0,,,,,,
C10,C,2025-04-01,2025-04-02,1,1,1,1,30,29,5
"""
# starters C01-C04, C08, four sessions planned each (20): 14 attended; fidelity 12 of 14; hours 14
SESSIONS = """\
case_id,date,attended,hours,fidelity
C01,2024-09-10,1,1,1
C01,2024-09-17,1,1,1
C01,2024-09-24,1,1,1
C01,2024-10-01,1,1,0
C02,2024-09-12,1,1,1
C02,2024-09-19,1,1,1
C02,2024-09-26,0,0,
C02,2024-10-03,1,1.5,1
C03,2024-09-20,1,1,0
C03,2024-09-27,1,1,1
C04,2024-09-20,1,0.5,1
C08,2024-10-20,1,1,1
C08,2024-10-27,1,1,1
C08,2024-11-03,1,1,1
C08,2024-11-10,1,1,1
"""

ALL_CRITERIA = """\
    - {metric: referrals_vs_target, green: 1.0, amber: 0.75}
    - {metric: eligibility_rate, green: 0.8, amber: 0.6}
    - {metric: consent_rate, green: 0.8, amber: 0.6}
    - {metric: start_rate, green: 0.8, amber: 0.6}
    - {metric: completion_rate, green: 0.6, amber: 0.5}
    - {metric: retention_rate, green: 0.8, amber: 0.6}
    - {metric: dose_sessions, green: 0.75, amber: 0.5}
    - {metric: fidelity, green: 0.8, amber: 0.6}
    - {metric: median_days_to_first_contact, green: 1, amber: 3}
    - {metric: contact_within_target, green: 0.8, amber: 0.6}
    - {metric: baseline_completeness, green: 0.8, amber: 0.6}
    - {metric: follow_up_completeness, green: 0.8, amber: 0.6}
    - {metric: acceptability, green: 0.75, amber: 0.6}
"""


def make_project(root: Path, criteria: str = ALL_CRITERIA, extra: str = "", cases: str = CASES,
                 sessions: str = SESSIONS, rule: str = "any_red_stops", stage: str = "test_feasibility",
                 targets: str = "{referrals: 12, starts: 6, sessions: 4, contact_hours: 4, days_to_first_contact: 2}",
                 top: str = "") -> Path:
    copy_logic_models(REPO / "logic_models", root / "logic_models", ("reach.yml",))
    data = root / "evaluations" / "data"
    data.mkdir(parents=True)
    (data / "cases.csv").write_text(cases)
    (data / "sessions.csv").write_text(sessions)
    plan = textwrap.dedent(f"""\
        id: tiny-feasibility
        intervention: reach
        title: Hand-counted feasibility study
        stage: {stage}
        design: feasibility
        evaluator: {{name: Test team, independent: true}}
        data: {{path: data/cases.csv, id: case_id}}
        timepoints:
          sdq_total: {{baseline: sdq_b, follow_up_6m: sdq_f}}
        primary_outcome: sdq_total
        follow_up_months: 6
        """) + top + textwrap.dedent(f"""\
        feasibility:
          recruitment: {{start: 2024-09-01, end: 2025-02-28}}
          cases: {{referral_date: referral_date, first_contact: first_contact, eligible: eligible,
                  consented: consented, started: started, completed: completed, acceptability: satisfaction}}
          acceptable_from: 4
          sessions: {{path: data/sessions.csv, id: case_id, date: date, attended: attended, hours: hours,
                     fidelity: fidelity}}
          targets: {targets}
          rule: {rule}
        """) + extra + "  criteria:\n" + criteria
    (root / "evaluations" / "tiny.yml").write_text(plan)
    return root


def evaluation_of(root: Path):
    return load_project(root).evaluation("tiny-feasibility")


@pytest.fixture
def tiny(tmp_path):
    return evaluation_of(make_project(tmp_path / "p"))


@pytest.fixture
def tiny_result(tiny):
    return run(tiny)


# ---------------------------------------------------------------------------- each metric, hand-counted


HAND = {  # key: (value, count, denominator)
    "referrals_vs_target": (9 / 12, 9, 12),
    "eligibility_rate": (7 / 9, 7, 9),  # C01-C06, C08 of 9 referred in the window
    "consent_rate": (6 / 7, 6, 7),  # C01-C05, C08 of the 7 eligible
    "start_rate": (5 / 6, 5, 6),  # C01-C04, C08 of the 6 consented
    "starts_vs_target": (5 / 6, 5, 6),
    "completion_rate": (3 / 5, 3, 5),  # C01, C02, C08 of 5 starters
    "retention_rate": (4 / 6, 4, 6),  # sdq at follow-up: C01, C02, C04, C08 of 6 recruited (consented)
    "baseline_completeness:sdq_total": (5 / 6, 5, 6),  # all but C04
    "follow_up_completeness:sdq_total": (4 / 6, 4, 6),
    "dose_sessions": (14 / 20, 14, 20),
    "dose_hours": (0.7, 14, 20),  # per starter 4, 3.5, 2, 0.5, 4 hours of 4: mean ratio 0.7
    "fidelity": (12 / 14, 12, 14),  # C01 3/4, C02 3/3, C03 1/2, C04 1/1, C08 4/4
    "median_days_to_first_contact": (1.0, 8, 9),  # days 1,0,4,1,1,7,1,1; C08 never contacted
    "contact_within_target": (6 / 9, 6, 9),  # within 2 days: C01, C02, C04, C05, C07, C09
    "acceptability": (3 / 4, 3, 4),  # answered 5, 4, 2, 4 (C10 is outside the window)
}


@pytest.mark.parametrize("key", sorted(HAND))
def test_each_metric_on_hand_counted_file(tiny_result, key):
    value, count, denominator = HAND[key]
    got = tiny_result.sections["feasibility"]["metrics"][key]
    assert got["value"] == pytest.approx(value)
    assert got["count"] == pytest.approx(count)
    assert got["denominator"] == pytest.approx(denominator)
    assert got["ci_low"] <= got["value"] <= got["ci_high"]


def test_intervals_are_the_ones_named(tiny_result):
    metrics = tiny_result.sections["feasibility"]["metrics"]
    low, high = fz.wilson(6, 7)
    assert (metrics["consent_rate"]["ci_low"], metrics["consent_rate"]["ci_high"]) == pytest.approx((low, high))
    low, high = fz.poisson_exact(9)
    assert metrics["referrals_vs_target"]["ci_low"] == pytest.approx(low / 12)
    assert metrics["referrals_vs_target"]["ci_high"] == pytest.approx(high / 12)
    assert metrics["median_days_to_first_contact"]["ci_low"] == 0.0  # n=8: ranks 1 and 8
    assert metrics["median_days_to_first_contact"]["ci_high"] == 7.0
    assert metrics["acceptability"]["response_rate"] == pytest.approx(4 / 6)


@pytest.mark.parametrize("count, total, low, high", [
    # Newcombe RG (1998) Two-sided confidence intervals for the single proportion: comparison of
    # seven methods. Stat Med 17:857-872, Table II, method 3 (Wilson score, no continuity correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe(count, total, low, high):
    got = fz.wilson(count, total)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("count, low, high", [
    # exact (Garwood 1936) 95% limits for a Poisson count, as tabulated e.g. in Ulm K (1990) A simple
    # method to calculate the confidence interval of a standardized mortality ratio. Am J Epidemiol 131:373
    (0, 0.0, 3.689), (1, 0.0253, 5.572), (10, 4.795, 18.390),
])
def test_poisson_exact_matches_tables(count, low, high):
    assert fz.poisson_exact(count) == pytest.approx((low, high), abs=1e-3)


def test_median_interval_uses_binomial_ranks():
    # n = 20: the 95% distribution-free interval runs from the 6th to the 15th value (coverage 95.9%)
    values = list(range(1, 21))
    assert fz.median_interval(values) == (6.0, 15.0)


def test_estimates_and_flow(tiny_result):
    est = {(e.indicator, e.estimand): e for e in tiny_result.estimates}
    consent = est[("consent_rate", "consent_rate")]
    assert consent.n == 7 and consent.details["count"] == 6 and consent.primary
    assert consent.details["rag"] == "green"
    assert est[("sdq_total", "follow_up_completeness")].details["rag"] == "amber"
    assert est[("dose_sessions", "dose_sessions")].n == 5  # starters, not sessions
    assert est[("referrals_vs_target", "referrals_vs_target")].n == 9
    flow = {(s.stage, s.indicator): s.n for s in tiny_result.flow}
    assert flow[("in_data", None)] == 10 and flow[("referred", None)] == 9
    assert (flow[("eligible", None)], flow[("consented", None)], flow[("started", None)],
            flow[("completed", None)]) == (7, 6, 5, 3)
    assert flow[("with_baseline", "sdq_total")] == 5 and flow[("with_follow_up", "sdq_total")] == 4
    codes = {w.code for w in tiny_result.warnings}
    assert "outside_recruitment_window" in codes and "no_causal_claim" in codes


def test_results_are_byte_identical(tiny):
    assert run(tiny).to_json() == run(tiny).to_json()


def test_manifest_hashes_the_session_records(tiny_result):
    roles = {i["role"]: i for i in tiny_result.manifest.inputs}
    assert roles["session records"]["path"] == "data/sessions.csv"
    # recorded by content (the same rows in any order give the same results.json)
    assert len(roles["session records"]["content_sha256"]) == 64


def test_direction_and_band_warnings(tmp_path):
    from evalkit.project import validate_project

    root = make_project(tmp_path / "p", criteria=(
        "    - {metric: consent_rate, green: 0.5, amber: 0.7, better: lower}\n"
        "    - {metric: start_rate, green: 0.8, amber: 0.8}\n"))
    warnings = [str(w) for w in validate_project(root).warnings]
    assert any("criteria[0].better: unusual direction for 'consent_rate'" in w for w in warnings)
    assert any("criteria[1].amber: no amber band for 'start_rate'" in w for w in warnings)


def test_sessions_give_first_contact_when_no_column(tmp_path):
    root = make_project(tmp_path / "p", criteria="    - {metric: median_days_to_first_contact, green: 10, amber: 20}\n")
    plan = root / "evaluations" / "tiny.yml"
    plan.write_text(plan.read_text().replace("first_contact: first_contact, ", ""))
    metric = run(evaluation_of(root)).sections["feasibility"]["metrics"]["median_days_to_first_contact"]
    # first sessions: C01 8 days, C02 7, C03 10, C04 8, C08 5 after referral; 5 of 9 referrals seen
    assert (metric["value"], metric["count"], metric["denominator"]) == (8.0, 5, 9)


# ---------------------------------------------------------------------------- verdicts at the boundaries


@pytest.mark.parametrize("value, status", [(0.7, "green"), (0.6999, "amber"), (0.5, "amber"), (0.4999, "red")])
def test_rag_higher_is_better_boundaries(value, status):
    assert fz.rag(value, green=0.7, amber=0.5, better=Better.higher) == status


@pytest.mark.parametrize("value, status", [(2, "green"), (2.01, "amber"), (5, "amber"), (5.01, "red")])
def test_rag_lower_is_better_boundaries(value, status):
    assert fz.rag(value, green=2, amber=5, better=Better.lower) == status


@pytest.mark.parametrize("green, amber, status", [
    (0.6, 0.5, "green"),  # completion is exactly 3/5 = 0.6: green at the green threshold
    (0.61, 0.6, "amber"),  # and amber exactly at the amber threshold
    (0.7, 0.61, "red"),
])
def test_verdict_at_boundary_end_to_end(tmp_path, green, amber, status):
    ev = evaluation_of(make_project(tmp_path / "p", criteria=f"    - {{metric: completion_rate, green: {green}, amber: {amber}}}\n"))
    section = run(ev).sections["feasibility"]
    assert section["criteria"][0]["rag"] == status
    assert section["overall"] == status


@pytest.mark.parametrize("rule, rags, overall", [
    (ProgressionRule.any_red_stops, ["green", "green"], "green"),
    (ProgressionRule.any_red_stops, ["green", "amber"], "amber"),
    (ProgressionRule.any_red_stops, ["amber", "red"], "red"),
    (ProgressionRule.all_green, ["green", "green"], "green"),
    (ProgressionRule.all_green, ["green", "amber"], "red"),
])
def test_overall_rules(rule, rags, overall):
    assert fz.overall_rag(rags, rule) == overall


def test_verdict_is_stated_plainly(tiny_result):
    section = tiny_result.sections["feasibility"]
    # referrals 0.75 amber, eligibility 0.78 amber, consent .86 green, start .83 green, completion .6 green,
    # retention .67 amber, dose .7 amber, fidelity .86 green, median 1 green, within .67 amber,
    # baseline .83 green, follow-up .67 amber, acceptability .75 green
    rags = {r["key"]: r["rag"] for r in section["criteria"]}
    assert [k for k, v in rags.items() if v == "amber"] == [
        "referrals_vs_target", "eligibility_rate", "retention_rate", "dose_sessions", "contact_within_target",
        "follow_up_completeness:sdq_total"]
    assert section["overall"] == "amber"
    assert section["verdict"].startswith("Progress with changes (7 green, 6 amber, 0 red; amber: referrals against "
                                         "target, eligibility rate, retention to follow-up")
    assert "Rule: stop if any criterion is red" in section["verdict"]
    assert section["pathway"] == {"stage": "test_feasibility", "next_stage": "pilot_for_outcomes", "ready": True,
                                  "verdict": "ready for piloting, with changes", "overall": "amber"}
    row = next(r for r in section["criteria"] if r["key"] == "consent_rate")
    assert row["statement"] == ("consent rate: 86% (95% CI 49% to 97%; 6 of 7) is GREEN "
                                "(green at least 80%, amber at least 60%)")


@pytest.mark.parametrize("stage, overall, verdict", [
    (Stage.test_feasibility, "green", "ready for piloting"),
    (Stage.test_feasibility, "red", "not ready for piloting"),
    (Stage.pilot_for_outcomes, "green", "ready for efficacy"),
    (Stage.pilot_for_outcomes, "amber", "ready for efficacy, with changes"),
])
def test_pathway_verdicts(stage, overall, verdict):
    step = fz.pathway(stage, overall)
    assert step["verdict"] == verdict and step["ready"] is (overall != "red")


def test_all_green_rule_end_to_end(tmp_path):
    ev = evaluation_of(make_project(tmp_path / "p", rule="all_green", stage="pilot_for_outcomes"))
    section = run(ev).sections["feasibility"]
    assert section["overall"] == "red"
    assert section["pathway"]["verdict"] == "not ready for efficacy"
    assert "progress only if every criterion is green" in section["verdict"]


# ---------------------------------------------------------------------------- planning on the tiny study


def test_planning_uses_observed_inputs(tmp_path):
    extra = "  planning: {effect_size: 0.3, icc: 0.05, cluster_size: 10}\n"
    ev = evaluation_of(make_project(tmp_path / "p", extra=extra, top="cluster: school\n"))
    plan = run(ev).sections["feasibility"]["planning"]
    # recruited with sdq at both times: C01 (20, 18), C02 (15, 14), C08 (25, 21)
    assert plan["correlation_pairs"] == 3
    assert plan["retention"] == pytest.approx(4 / 6)
    assert plan["design_effect"] == pytest.approx(1.45)
    assert plan["sd"] == pytest.approx(14.5 ** 0.5)  # baseline sdq 20, 15, 22, 18, 25: squares 58 / 4
    assert plan["icc_estimated"]["clusters"] == 3
    trial = plan["designs"][0]
    assert trial["design"] == "two_arm_trial" and trial["n_treated_recruited"] >= trial["n_treated_analysed"]


# ---------------------------------------------------------------------------- bad input


def test_amber_above_green_for_increasing_metric(tmp_path):
    root = make_project(tmp_path / "p", criteria="    - {metric: consent_rate, green: 0.7, amber: 0.8}\n")
    with pytest.raises(SpecError) as info:
        load_project(root)
    message = str(info.value)
    assert "feasibility.criteria[0].amber" in message
    assert "amber threshold is above green for 'consent_rate', where higher is better" in message
    assert "found amber 0.8 > green 0.7" in message


def test_amber_below_green_for_decreasing_metric(tmp_path):
    root = make_project(tmp_path / "p", criteria="    - {metric: median_days_to_first_contact, green: 3, amber: 1}\n")
    with pytest.raises(SpecError, match=r"amber threshold is below green for 'median_days_to_first_contact'"):
        load_project(root)


def test_share_threshold_outside_zero_one(tmp_path):
    root = make_project(tmp_path / "p", criteria="    - {metric: consent_rate, green: 70, amber: 50}\n")
    with pytest.raises(SpecError, match=r"'consent_rate' is a share, so its thresholds are shares"):
        load_project(root)


def test_metric_with_no_data_in_the_plan(tmp_path):
    root = make_project(tmp_path / "p", criteria="    - {metric: starts_vs_target, green: 1, amber: 0.8}\n",
                        targets="{referrals: 12}")
    with pytest.raises(SpecError) as info:
        load_project(root)
    message = str(info.value)
    assert "feasibility.criteria[0].metric: metric 'starts_vs_target' has no data to be computed from" in message
    assert "found no feasibility.targets.starts" in message


def test_metric_with_no_data_in_the_file(tmp_path):
    # no one started: completion has nothing to be a share of
    cases = "\n".join(line if i == 0 else ",".join(
        v if j != 6 else ("0" if v == "1" else v) for j, v in enumerate(line.split(",")))
        for i, line in enumerate(CASES.splitlines())) + "\n"
    root = make_project(tmp_path / "p", cases=cases, sessions="case_id,date,attended,hours,fidelity\n",
                        criteria="    - {metric: completion_rate, green: 0.7, amber: 0.5}\n")
    with pytest.raises(EstimationError) as info:
        run(evaluation_of(root))
    message = str(info.value)
    assert "tiny.yml: feasibility.criteria[0] 'completion_rate' has no data to judge" in message
    assert "column 'completed' has no values among the 0 started" in message


def test_sessions_dated_before_referral(tmp_path):
    sessions = SESSIONS.replace("C03,2024-09-20,1,1,0", "C03,2024-09-01,1,1,0")
    root = make_project(tmp_path / "p", sessions=sessions)
    with pytest.raises(DataError) as info:
        run(evaluation_of(root))
    message = str(info.value)
    assert message.startswith("data/sessions.csv: 1 session(s) dated before the case's referral, at line(s) 10")
    assert "column 'date' vs 'referral_date' in data/cases.csv" in message


def test_first_contact_before_referral(tmp_path):
    cases = CASES.replace("C02,A,2024-09-05,2024-09-05", "C02,A,2024-09-05,2024-09-01")
    with pytest.raises(SpecError, match=r"feasibility.cases.first_contact: first contact is dated before referral at "
                                        r"line 3 \(found 1 case\(s\)"):
        run(evaluation_of(make_project(tmp_path / "p", cases=cases)))


def test_session_for_unknown_case(tmp_path):
    sessions = SESSIONS + "C99,2024-12-01,1,1,1\n"
    with pytest.raises(DataError, match=r"1 session row\(s\) name a case that is not in data/cases.csv, at line\(s\) 17"):
        run(evaluation_of(make_project(tmp_path / "p", sessions=sessions)))


def test_flag_column_not_zero_one(tmp_path):
    cases = CASES.replace("C05,B,2024-09-20,2024-09-21,1,1,0", "C05,B,2024-09-20,2024-09-21,1,yes,0")
    with pytest.raises(SpecError, match=r"feasibility.cases.consented: case flag column 'consented' holds text that "
                                        r"is not a number at line 6 \(found 1 such value\(s\)"):
        run(evaluation_of(make_project(tmp_path / "p", cases=cases)))


def test_missing_feasibility_section(tmp_path):
    root = make_project(tmp_path / "p")
    plan = root / "evaluations" / "tiny.yml"
    plan.write_text(plan.read_text().split("feasibility:\n")[0])
    with pytest.raises(SpecError, match=r"feasibility: required key is missing"):
        load_project(root)


def test_missing_sessions_file_is_a_validation_problem(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "evaluations" / "data" / "sessions.csv").unlink()
    with pytest.raises(SpecError, match=r"feasibility.sessions.path: session file not found"):
        load_project(root)


def test_planning_needs_one_effect(tmp_path):
    root = make_project(tmp_path / "p", extra="  planning: {power: 0.9}\n")
    with pytest.raises(SpecError, match=r"planning needs the effect to detect, in one form"):
        load_project(root)


def test_sessions_planned_per_case(tmp_path):
    lines = CASES.splitlines()
    cases = "\n".join([lines[0] + ",planned"] + [line + ",5" for line in lines[1:]]) + "\n"
    root = make_project(tmp_path / "p", cases=cases, criteria="    - {metric: dose_sessions, green: 0.75, amber: 0.5}\n",
                        targets="{referrals: 12}")
    plan = root / "evaluations" / "tiny.yml"
    plan.write_text(plan.read_text().replace("acceptability: satisfaction}", "acceptability: satisfaction,\n"
                                             "          sessions_planned: planned}"))
    metric = run(evaluation_of(root)).sections["feasibility"]["metrics"]["dose_sessions"]
    assert (metric["count"], metric["denominator"]) == (14, 25)  # five starters, five sessions planned each
