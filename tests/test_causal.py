"""DoWhy checks: agreement with evalkit's estimates, seeded refuters, the graph, the run hook."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from evalkit.estimate import Analysis, causal, did


@pytest.fixture(scope="module")
def project(example_project_ro):
    from evalkit.project import load_project

    return load_project(example_project_ro)


def _panel(rng, n=80, T=8, effect=-0.5):
    g = np.where(np.arange(n) < n // 4, 3, np.where(np.arange(n) < n // 2, 5, 99))
    t = np.arange(T)
    on = (t[None, :] >= g[:, None]).astype(int)
    alpha = rng.normal(0, 1, n) + 0.4 * (g < 99)
    engaged = on * rng.poisson(3, (n, T))
    y = alpha[:, None] + 0.1 * t + effect * on + 0.05 * engaged + rng.normal(0, 1, (n, T))
    return pd.DataFrame({"unit": np.repeat(np.arange(n), T), "period": np.tile(t, n), "active": on.ravel(),
                         "y": y.ravel(), "engaged": engaged.ravel()})


def _did_plan(project, **outcomes):
    ev = project.evaluation("phoenix-2023-did")
    lm = ev.intervention
    spec = dataclasses.replace(ev.data, id="unit", period="period", treatment="active")
    outs = {k: (lm.indicators[k], col) for k, col in (outcomes or {"sv_offences": "y"}).items()}
    return dataclasses.replace(ev, data=spec, outcomes=outs, cluster=None, covariates=(), weights=None)


def test_dowhy_estimate_is_the_twfe_estimate_and_refuters_pass(project):
    rng = np.random.default_rng(1)
    frame = _panel(rng)
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    out = causal.robustness(plan, frame, analysis, seed=42)
    r = out["robustness"]
    assert r["status"] == "run"
    agree = r["agreement"]
    # same method (two-way within transformation + OLS = TWFE): equal to machine precision
    assert agree["same_method"] is True
    assert agree["absolute_difference"] < 1e-10
    names = [x["name"] for x in r["refutations"]]
    assert names == ["placebo_treatment", "random_common_cause", "data_subset", "dummy_outcome"]
    for x in r["refutations"]:
        assert {"original_effect", "new_effect", "passed", "rule"} <= set(x)
        assert x["passed"] is True, x
    assert r["refutations"][0]["original_effect"] == pytest.approx(agree["dowhy_estimate"])
    assert abs(r["refutations"][0]["new_effect"]) < abs(agree["dowhy_estimate"])
    assert out["sensitivity"]["rosenbaum"]["status"] == "not applicable"


def test_refuters_are_deterministic_with_a_seed(project):
    frame = _panel(np.random.default_rng(2))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    first = json.dumps(causal.robustness(plan, frame, analysis, seed=7), sort_keys=True, default=str)
    second = json.dumps(causal.robustness(plan, frame, analysis, seed=7), sort_keys=True, default=str)
    assert first == second
    other = json.dumps(causal.robustness(plan, frame, analysis, seed=8), sort_keys=True, default=str)
    assert other != first  # the seed is what fixes the draws


def test_logic_model_mediator_enters_the_graph_and_is_not_adjusted_for(project):
    frame = _panel(np.random.default_rng(3))
    plan = _did_plan(project, sv_offences="y", engaged="engaged")
    assert causal.logic_model_mediators(plan, {"sv_offences": "y", "engaged": "engaged"}) == [("engaged", "engaged")]
    analysis = did.analyse(plan, frame, 1)
    r = causal.robustness(plan, frame, analysis, seed=1)["robustness"]
    edges = {(e["from"], e["to"]) for e in r["graph"]["edges"]}
    assert {("treatment", "engaged"), ("engaged", "outcome"), ("treatment", "outcome")} <= edges
    assert "engaged" not in r["identification"]["adjustment_set"]
    assert r["agreement"]["same_method"] is False


def test_matched_design_through_the_run_hook(project, example_result):
    rs = example_result("reach-2023-matched")  # evalkit.run of the plan (run hook included), shared
    r, s = rs.sections["robustness"], rs.sections["sensitivity"]
    assert r["status"] == "run"
    assert set(r["identification"]["adjustment_set"]) >= {"age", "fsm", "imd_decile"}
    # not the same method (DoWhy adjusts for covariates, evalkit's matched estimate does not),
    # but on a balanced matched sample the two agree within a tenth of a standard error
    assert r["agreement"]["difference_in_standard_errors"] < 0.1
    assert s["e_value"]["status"] == "computed" and s["e_value"]["point"] > s["e_value"]["ci_bound"] >= 1
    rb = s["rosenbaum"]
    assert rb["status"] == "computed" and rb["gamma_critical"] > 1
    assert rb["pairs"] == rs.to_frame().query("estimand == 'att' and primary").n_treated.iloc[0]
    # results.json stays canonical with the new sections
    assert json.loads(rs.to_json())["sections"]["robustness"]["status"] == "run"


def test_two_to_one_matching_gets_matched_set_rosenbaum_bounds(project):
    """VIP matches two attenders to each navigator client (a few sets keep one control after the
    caliper); its binary outcome gets the exact sign-score bound (tests/test_sensitivity_sets.py)."""
    from evalkit.data.load import read_table
    from evalkit.estimate import matching
    from evalkit.run import needed_columns

    ev = project.evaluation("vip-2023-matched")
    frame = read_table(ev.data.path, needed_columns(ev), ev.data.sheet)
    analysis = matching.analyse(ev, frame, ev.seed)
    primary = causal._primary_estimate(ev, analysis)
    rb = causal._sensitivity(ev, analysis, primary)["rosenbaum"]
    assert rb["status"] == "computed" and rb["scores"] == "sign"
    assert rb["sets"] == primary.n_treated and set(rb["controls_per_set"]) <= {"1", "2"}
    assert rb["controls_per_set"]["2"] > 0.9 * rb["sets"]
    assert rb["direction"] == "treated lower" and rb["statistic_is"] == "treated units without the event"
    assert rb["p_value_gamma_1"] < 0.05 and rb["gamma_critical"] > 1
    assert f"over {rb['sets']} matched sets" in rb["reading"]
    assert f"{rb['gamma_critical']:.2f}" in rb["reading"]
    # with a unit in two sets (matching with replacement) the bounds' model does not hold
    data = analysis.analysed_data
    reused = data.copy()
    reused.loc[reused.index[1], ev.data.id] = reused.loc[reused.index[4], ev.data.id]
    rb = causal._rosenbaum(ev, dataclasses.replace(analysis, analysed_data=reused), primary)
    assert rb["status"] == "not applicable" and "more than one matched set" in rb["reason"]
    # sets with two treated units (e.g. subclasses) are not k:1 sets
    merged = data.copy()
    merged.loc[merged["matched_set"] == merged["matched_set"].iloc[3], "matched_set"] = merged["matched_set"].iloc[0]
    rb = causal._rosenbaum(ev, dataclasses.replace(analysis, analysed_data=merged), primary)
    assert rb["status"] == "not applicable" and "one treated unit" in rb["reason"]


def test_tolerates_a_matching_analysis_without_matched_rows(project):
    ev = project.evaluation("reach-2023-matched")
    from evalkit.results import EffectSize, Estimate

    est = Estimate(indicator="suspended", design="matched_comparison", estimand="att", timepoints=("follow_up_12m",),
                   n=100, estimate=-0.1, std_error=0.03, ci_low=-0.16, ci_high=-0.04, p_value=0.001,
                   method="WLS", units="proportion", direction_good=True, primary=True,
                   effect_size=EffectSize("hedges_g", -0.3))
    out = causal.robustness(ev, pd.DataFrame(), Analysis(estimates=(est,)), seed=1)
    assert out["robustness"]["status"] == "not run" and "analysed_data" in out["robustness"]["reason"]
    assert out["sensitivity"]["e_value"]["status"] == "computed"
    assert out["sensitivity"]["rosenbaum"]["status"] == "not applicable"
    empty = causal.robustness(ev, pd.DataFrame(), Analysis(estimates=()), seed=1)
    assert empty["sensitivity"]["e_value"]["status"] == "not computed"


def test_did_run_gives_byte_identical_results_with_robustness(project):
    from evalkit.run import run

    frame = _panel(np.random.default_rng(5))
    # the plan's outcome is a count indicator: run() refuses anything but whole numbers >= 0
    frame["y"] = np.round(frame["y"] - frame["y"].min())
    plan = _did_plan(project)
    first, second = run(plan, frame), run(plan, frame)
    assert first.to_json() == second.to_json()
    assert {"event_study", "group_time", "robustness", "sensitivity"} <= set(first.sections)
    assert first.sections["robustness"]["agreement"]["absolute_difference"] < 1e-10


def test_a_failing_check_is_reported_not_raised(project, monkeypatch):
    frame = _panel(np.random.default_rng(6))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)

    def boom(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(causal, "run_dowhy", boom)
    out = causal.robustness(plan, frame, analysis, seed=1)
    assert out["robustness"] == {"status": "failed", "reason": "LinAlgError: Singular matrix"}
    assert out["sensitivity"]["e_value"]["status"] == "computed"


def test_large_data_is_refuted_on_a_seeded_stated_sample(project, monkeypatch):
    # issue 20: above REFUTE_MAX_ROWS the refuters run on a seeded sample that the section states;
    # DoWhy's own estimate (the agreement) still uses every row
    frame = _panel(np.random.default_rng(3))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    full = causal.robustness(plan, frame, analysis, seed=11)["robustness"]
    assert "refutation_sample" not in full and full["refuted_rows"] == full["rows"] == len(frame)
    monkeypatch.setattr(causal, "REFUTE_MAX_ROWS", 300)
    first = causal.robustness(plan, frame, analysis, seed=11)["robustness"]
    again = causal.robustness(plan, frame, analysis, seed=11)["robustness"]
    assert json.dumps(first, sort_keys=True, default=str) == json.dumps(again, sort_keys=True, default=str)
    sample = first["refutation_sample"]
    assert (sample["rows"], sample["of_rows"], sample["seed"]) == (300, len(frame), 11)
    assert first["refuted_rows"] == 300 and first["rows"] == len(frame)
    assert all(r["rows"] == 300 for r in first["refutations"])
    assert first["agreement"] == full["agreement"]  # on every row, sample or not
    assert sample["standard_error_scale"] == pytest.approx((len(frame) / 300) ** 0.5)
    assert first["standard_error_used"] == pytest.approx(full["standard_error_used"] * sample["standard_error_scale"])
    # the refutations' original effect is DoWhy's estimate on the sample, not on every row
    assert first["refutations"][0]["original_effect"] == pytest.approx(sample["original_effect_on_sample"])
    assert first["refutations"][0]["original_effect"] != pytest.approx(full["refutations"][0]["original_effect"])
    other = causal.robustness(plan, frame, analysis, seed=12)["robustness"]
    assert other["refutation_sample"]["original_effect_on_sample"] != sample["original_effect_on_sample"]


def test_the_dowhy_worker_gives_the_same_section_as_this_process(project):
    # issue 20: `evalkit run` sends the DoWhy checks to a forked worker (DoWhy imported there while
    # this process reads and matches), whose refuters are shared with a second forked helper; the
    # section must be the same, byte for byte, as when everything runs here
    frame = _panel(np.random.default_rng(9))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    here = causal.robustness(plan, frame, analysis, seed=5)
    assert here["robustness"]["status"] == "run"
    assert causal.start_worker(force=True)
    try:
        proc = causal._worker["process"]
        there = causal.robustness(plan, frame, analysis, seed=5, in_worker=True)
        assert proc.is_alive() and causal._worker["process"] is proc  # answered by the worker, which stays
        again = causal.robustness(plan, frame, analysis, seed=5, in_worker=True)
    finally:
        causal.stop_worker()
    assert not proc.is_alive()
    dump = [json.dumps(x, sort_keys=True, default=str) for x in (here, there, again)]
    assert dump[0] == dump[1] == dump[2]


def test_a_worker_that_never_answers_does_not_hang_the_run(project, monkeypatch):
    # a worker stuck after the fork (a lock held at fork time, say) is stopped after WORKER_TIMEOUT
    # and the checks run here instead, with the same section
    frame = _panel(np.random.default_rng(9))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    here = causal.robustness(plan, frame, analysis, seed=5)
    assert causal.start_worker(force=True)
    proc = causal._worker["process"]
    proc_conn = causal._worker["conn"]
    monkeypatch.setattr(causal, "WORKER_TIMEOUT", 0.01)
    monkeypatch.setattr(proc_conn, "poll", lambda timeout=None: False)  # as if no answer ever came
    try:
        there = causal.robustness(plan, frame, analysis, seed=5, in_worker=True)
    finally:
        causal.stop_worker()
    assert "process" not in causal._worker and not proc.is_alive()
    assert json.dumps(there, sort_keys=True, default=str) == json.dumps(here, sort_keys=True, default=str)


def test_the_refits_without_dowhys_summary_table_give_dowhys_numbers(project, monkeypatch):
    # issue 20: the refuters' refits skip the statsmodels summary DoWhy builds for a debug log line
    # and the copies of what each refit replaces; every number must be what unchanged DoWhy gives
    frame = _panel(np.random.default_rng(4))
    plan = _did_plan(project)
    analysis = did.analyse(plan, frame, 1)
    primary = causal._primary_estimate(plan, analysis)
    data, treatment, outcome, common, mediators, _same = causal.did_data(plan, frame, analysis, primary)
    inputs = (data, treatment, outcome, common, mediators, 3, 6)
    lean = causal.dowhy_numbers(*inputs)
    monkeypatch.setattr(causal, "_without_summaries", lambda estimate: None)
    plain = causal.dowhy_numbers(*inputs)
    assert json.dumps(lean, sort_keys=True, default=str) == json.dumps(plain, sort_keys=True, default=str)
    assert len(lean["new_effects"]) == len(causal.REFUTERS)


def _matched_example(example_project_ro):
    from evalkit.project import load_project

    return load_project(example_project_ro).evaluation("reach-2023-matched")


def _in_this_process(evaluation, monkeypatch):
    """The example's ResultSet with every check run in this process: what the worker must equal."""
    from evalkit.run import run_analysis

    monkeypatch.setenv(causal.WORKER_ENV, "0")
    here, _ = run_analysis(evaluation)
    monkeypatch.delenv(causal.WORKER_ENV)
    return here


def _jobs_asked(monkeypatch) -> list:
    """The inputs of every job sent to the worker from now on."""
    asked, real_ask = [], causal._ask
    monkeypatch.setattr(causal, "_ask", lambda inputs: asked.append(inputs) or real_ask(inputs))
    return asked


def _with_worker(evaluation):
    from evalkit.run import run_analysis

    assert causal.start_worker(force=True)
    try:
        return run_analysis(evaluation)[0]
    finally:
        causal.stop_worker()


def test_matched_rows_go_to_the_worker_before_the_estimates_and_are_used_once(example_project_ro, monkeypatch):
    # issue 20: the matched design hands its rows over as soon as it has them; the worker refutes
    # while this process computes the estimates, and the section is the one computed here
    from evalkit.estimate import matching

    evaluation = _matched_example(example_project_ro)
    here = _in_this_process(evaluation, monkeypatch)
    asked = _jobs_asked(monkeypatch)
    real_analyse = matching.analyse
    seen = {}

    def analyse(*args, **kwargs):
        result = real_analyse(*args, **kwargs)
        seen["pending_after_design"] = "pending" in causal._worker  # sent early, not yet collected
        return result

    monkeypatch.setattr(matching, "analyse", analyse)
    there = _with_worker(evaluation)
    assert seen["pending_after_design"] and len(asked) == 1 and "pending" not in causal._worker
    assert there.to_json() == here.to_json()


def test_rows_that_are_not_the_analysis_rows_are_refuted_again(example_project_ro, monkeypatch):
    # a design handing over the wrong rows (or the wrong column) costs time, never the section
    from evalkit.estimate import matching

    evaluation = _matched_example(example_project_ro)
    here = _in_this_process(evaluation, monkeypatch)
    real_ready = matching.analysed_rows_ready
    monkeypatch.setattr(matching, "analysed_rows_ready",
                        lambda rows, outcome_column: real_ready(rows.iloc[: len(rows) // 2], outcome_column))
    asked = _jobs_asked(monkeypatch)
    there = _with_worker(evaluation)
    assert len(asked) == 2 and len(asked[0][0]) < len(asked[1][0])
    assert there.to_json() == here.to_json()


def test_rows_sent_for_an_analysis_that_fails_are_not_answered_into_the_next(example_project_ro, monkeypatch):
    from evalkit.errors import EvalkitError
    from evalkit.estimate import matching
    from evalkit.run import run_analysis

    evaluation = _matched_example(example_project_ro)
    here = _in_this_process(evaluation, monkeypatch)
    real_analyse = matching.analyse

    def failing(*args, **kwargs):
        real_analyse(*args, **kwargs)  # the rows are handed over inside
        raise EvalkitError("the design failed after handing over its rows")

    monkeypatch.setattr(matching, "analyse", failing)
    assert causal.start_worker(force=True)
    try:
        with pytest.raises(EvalkitError):
            run_analysis(evaluation)
        assert "pending" not in causal._worker and not causal._dowhy_worker.running()
    finally:
        causal.stop_worker()
    monkeypatch.setattr(matching, "analyse", real_analyse)
    assert _with_worker(evaluation).to_json() == here.to_json()
