"""Pre/post design: bad input, honesty warnings, reliable change, Holm/primary, flow, examples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from evalkit.errors import DataError, EstimationError
from evalkit.estimate import _stats as st
from evalkit.run import run
from test_pre_post_support import make_plan

SDQ = {"sdq": {"baseline": "sdq_pre", "exit": "sdq_post"}}
BOTH = {"sdq": {"baseline": "sdq_pre", "exit": "sdq_post"}, "susp": {"baseline": "s_pre", "exit": "s_post"}}


def cohort(n=120, seed=3, lost=0.1, shift=-2.0):
    rng = np.random.default_rng(seed)
    true = rng.normal(16, 4, n)
    pre = np.clip(np.round(true + rng.normal(0, 2, n)), 0, 40)
    post = np.clip(np.round(true + shift + rng.normal(0, 2, n)), 0, 40)
    post[rng.random(n) < lost] = np.nan
    s_pre = (rng.random(n) < 0.4).astype(float)
    s_post = (rng.random(n) < 0.3).astype(float)
    s_post[np.isnan(post)] = np.nan
    return pd.DataFrame({"id": [f"P{i:04d}" for i in range(n)], "female": rng.integers(0, 2, n).astype(float),
                         "school": rng.integers(0, 25, n), "sdq_pre": pre, "sdq_post": post,
                         "s_pre": s_pre, "s_post": s_post})


def codes(result):
    return [w.code for w in result.warnings]


# -- bad input: each a clear error or a recorded warning --------------------------------------


def test_non_numeric_timepoint_column(tmp_path):
    frame = cohort()
    frame["sdq_post"] = frame["sdq_post"].astype(object)
    frame.loc[4, "sdq_post"] = "missing"
    ev = make_plan(tmp_path, frame, SDQ)
    with pytest.raises(DataError, match=r"timepoints.sdq.exit: column 'sdq_post' in data/demo.csv holds text that is "
                                        r"not a number at line 6 \(found 1 such value") as info:
        run(ev)
    assert "found 'missing'" not in str(info.value) and "data.missing_values" in str(info.value)


def test_out_of_range_score(tmp_path):
    frame = cohort()
    frame.loc[[2, 9], "sdq_pre"] = [41, 55]
    ev = make_plan(tmp_path, frame, SDQ)
    with pytest.raises(DataError, match=r"column 'sdq_pre' in data/demo.csv holds values outside the instrument's "
                                        r"range \(SDQ self-report\) at lines 4, 11 \(found 2 above 40; expected values "
                                        r"from 0 to 40\)"):
        run(ev)


def test_binary_not_zero_one(tmp_path):
    frame = cohort()
    frame.loc[7, "s_pre"] = 2
    ev = make_plan(tmp_path, frame, BOTH)
    with pytest.raises(DataError, match=r"column 's_pre' in data/demo.csv is not 0/1 at line 9 \(found 1 value\(s\) "
                                        r"other than 0 and 1; expected 0 or 1"):
        run(ev)


def test_negative_count(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b", "c"], "o_pre": [1, -1, 2], "o_post": [0, 1, 1]})
    ev = make_plan(tmp_path, frame, {"offences": {"baseline": "o_pre", "exit": "o_post"}})
    with pytest.raises(DataError, match=r"not counts at line 3 \(found 1 negative; expected whole numbers >= 0"):
        run(ev)


def test_all_follow_ups_missing_only_indicator_is_an_error(tmp_path):
    frame = cohort()
    frame["sdq_post"] = np.nan
    ev = make_plan(tmp_path, frame, SDQ)
    with pytest.raises(EstimationError,
                       match=r"no participant has both a baseline \('sdq_pre'\) and a value at exit \('sdq_post'\)"):
        run(ev)


def test_all_follow_ups_missing_for_one_indicator_is_a_warning(tmp_path):
    frame = cohort()
    frame["s_post"] = np.nan
    result = run(make_plan(tmp_path, frame, BOTH))
    assert [e.indicator for e in result.estimates] == ["sdq"]
    (w,) = [w for w in result.warnings if w.code == "no_complete_pairs"]
    assert w.indicator == "susp" and "'s_post'" in w.message
    analysed = [s for s in result.flow if s.stage == "analysed" and s.indicator == "susp"]
    assert analysed[0].n == 0


def test_one_participant(tmp_path):
    frame = cohort().iloc[:1]
    ev = make_plan(tmp_path, frame, SDQ)
    with pytest.raises(EstimationError, match="one participant"):
        run(ev)


def test_one_complete_pair_gives_estimate_without_inference(tmp_path):
    frame = cohort(n=5)
    frame.loc[1:, "sdq_post"] = np.nan
    result = run(make_plan(tmp_path, frame, SDQ))
    (est,) = result.estimates
    assert est.n == 1 and est.std_error is None and est.ci_low is None and est.p_value is None
    assert {"no_inference", "few_pairs"} <= set(codes(result))
    json.loads(result.to_json())  # no NaN leaks into the file


def test_duplicate_ids(tmp_path):
    frame = cohort()
    frame.loc[3, "id"] = frame.loc[2, "id"]
    with pytest.raises(DataError, match="id column 'id' repeats at data rows 3, 4"):
        run(make_plan(tmp_path, frame, SDQ))


def test_missing_cluster_id(tmp_path):
    frame = cohort()
    frame["school"] = frame["school"].astype(float)
    frame.loc[5, "school"] = np.nan
    with pytest.raises(DataError, match="cluster column 'school' is empty at data row 6"):
        run(make_plan(tmp_path, frame, SDQ, cluster="school"))


# -- honesty warnings ------------------------------------------------------------------------


def test_no_causal_claim_always_and_few_pairs(tmp_path):
    result = run(make_plan(tmp_path, cohort(n=15, lost=0), SDQ))
    assert codes(result)[-1] == "no_causal_claim"
    few = [w for w in result.warnings if w.code == "few_pairs"]
    assert few and "only 15 complete pairs" in few[0].message
    assert "few_pairs" not in codes(run(make_plan(tmp_path / "b", cohort(n=60, lost=0), SDQ)))


def test_high_attrition_and_dropout_baseline_difference(tmp_path):
    frame = cohort(n=300, lost=0)
    worst = frame["sdq_pre"] >= frame["sdq_pre"].quantile(0.7)  # the highest-need third lost
    frame.loc[worst, ["sdq_post", "s_post"]] = np.nan
    result = run(make_plan(tmp_path, frame, SDQ))
    assert {"high_attrition", "dropout_baseline_difference"} <= set(codes(result))
    attr = result.sections["attrition"]
    row = attr["by_indicator"]["sdq"]["exit"]
    assert attr["overall"] == pytest.approx(worst.mean())
    assert row["baseline_smd_completers_vs_dropouts"] < -0.25


def test_differential_attrition_by_subgroup(tmp_path):
    frame = cohort(n=400, lost=0)
    girls = frame["female"] == 1
    frame.loc[girls & (np.arange(len(frame)) % 3 == 0), "sdq_post"] = np.nan  # a third of girls lost
    result = run(make_plan(tmp_path, frame, SDQ, subgroups=("female",)))
    assert "differential_attrition" in codes(result)
    levels = result.sections["attrition"]["by_indicator"]["sdq"]["exit"]["by_subgroup"]["female"]
    assert levels["differential"] == pytest.approx(levels["levels"]["female=1"]["overall"], abs=1e-12)
    assert {e.subgroup for e in result.estimates} == {"all", "female=0", "female=1"}


def test_ceiling_and_floor(tmp_path):
    frame = cohort(n=100, lost=0)
    frame.loc[:29, "sdq_pre"] = 0  # 30% at the floor at baseline
    result = run(make_plan(tmp_path, frame, SDQ))
    (w,) = [w for w in result.warnings if w.code == "floor_effect"]
    assert "30% of those analysed have the lowest possible score (0) at baseline" in w.message


def test_regression_to_mean(tmp_path):
    frame = cohort(n=80, lost=0)
    result = run(make_plan(tmp_path, frame, SDQ, prevention="secondary"))
    assert "regression_to_mean" in codes(result)
    assert "regression_to_mean" not in codes(run(make_plan(tmp_path / "p", frame, SDQ, prevention="primary")))
    # with a population norm: quantified, even for primary prevention
    result = run(make_plan(tmp_path / "n", frame, SDQ, instrument_overrides={"sdq": {"norm_mean": 10.3}}))
    (w,) = [w for w in result.warnings if w.code == "regression_to_mean"]
    assert "norm SDs worse than the norm (10.3)" in w.message and "with r = 0.80" in w.message


def test_few_clusters(tmp_path):
    frame = cohort(n=100, lost=0)
    frame["school"] = frame["school"] % 6
    result = run(make_plan(tmp_path, frame, SDQ, cluster="school"))
    assert "few_clusters" in codes(result)
    assert "cluster-robust (CR1)" in result.estimates[0].method and "6 clusters" in result.estimates[0].method


# -- reliable change -------------------------------------------------------------------------


def test_reliable_change_is_direction_aware(tmp_path):
    # threshold 6.45 points; SDQ is better when lower
    frame = pd.DataFrame({"id": list("abcdef"), "sdq_pre": [20, 20, 20, 20, 10, 10],
                          "sdq_post": [10, 13, 14, 20, 17, 16]})
    result = run(make_plan(tmp_path, frame, SDQ))
    rc = result.sections["reliable_change"]["sdq"]
    assert (rc["improved"], rc["no_reliable_change"], rc["deteriorated"]) == (2, 3, 1)
    assert rc["threshold_points"] == pytest.approx(6.445986782487223)
    assert rc["sd_source"].startswith("norm SD")
    # the same changes on an "increase" indicator swap improved and deteriorated
    ev = make_plan(tmp_path / "w", frame.rename(columns={"sdq_pre": "w_pre", "sdq_post": "w_post"}),
                   {"wellbeing": {"baseline": "w_pre", "exit": "w_post"}},
                   instrument_overrides={"wellbeing": {"name": "scale", "reliability": 0.8, "norm_sd": 5.2}})
    rc = run(ev).sections["reliable_change"]["wellbeing"]
    assert (rc["improved"], rc["deteriorated"]) == (1, 2)


def test_reliable_change_without_norm_sd_uses_sample_sd_and_needs_reliability(tmp_path):
    frame = cohort(n=50, lost=0)
    ev = make_plan(tmp_path, frame, SDQ, instrument_overrides={"sdq": {"norm_sd": None}})
    rc = run(ev).sections["reliable_change"]["sdq"]
    assert rc["sd"] == pytest.approx(frame["sdq_pre"].std(ddof=1))
    assert "sample's baseline" in rc["sd_source"]
    ev = make_plan(tmp_path / "x", frame, SDQ,
                   instrument_overrides={"sdq": {"reliability": None, "reliability_kind": None}})
    assert "reliable_change" not in run(ev).sections


# -- Holm, primary, flow, estimates ----------------------------------------------------------


def test_holm_primary_and_direction(tmp_path):
    result = run(make_plan(tmp_path, cohort(n=200), BOTH, primary="susp", subgroups=("female",)))
    primary = [e for e in result.estimates if e.primary]
    assert len(primary) == 1 and primary[0].indicator == "susp" and primary[0].subgroup == "all"
    for sub in ("all", "female=0", "female=1"):
        fam = [e for e in result.estimates if e.subgroup == sub]
        assert [e.p_value_holm for e in fam] == pytest.approx(st.holm([e.p_value for e in fam]))
        assert all(e.p_value_holm >= e.p_value for e in fam)
    sdq = [e for e in result.estimates if e.indicator == "sdq" and e.subgroup == "all"][0]
    assert sdq.estimate < 0 and sdq.direction_good is True  # SDQ falls: good
    assert sdq.effect_size.kind == "hedges_g_av" and sdq.units == "points"
    assert sdq.timepoints == ("baseline", "exit") and sdq.comparison == "exit vs baseline"
    assert result.estimates[0].indicator == "susp"  # primary outcome first


def test_flow_stages_per_indicator(tmp_path):
    frame = cohort(n=100, lost=0.2)
    frame.loc[:4, "sdq_pre"] = np.nan
    result = run(make_plan(tmp_path, frame, BOTH))
    flow = {(s.stage, s.indicator): s.n for s in result.flow}
    assert flow[("in_data", None)] == 100
    assert flow[("with_baseline", "sdq")] == 95
    assert flow[("with_follow_up", "sdq")] == int(frame["sdq_post"].notna().sum())
    assert flow[("analysed", "sdq")] == int((frame["sdq_pre"].notna() & frame["sdq_post"].notna()).sum())
    est = [e for e in result.estimates if e.indicator == "sdq"][0]
    assert est.n == flow[("analysed", "sdq")]
    assert est.details["n_dropped_no_follow_up"] + est.n == est.details["n_with_baseline"]


def test_binary_and_subgroup_labels_with_float_levels(tmp_path):
    result = run(make_plan(tmp_path, cohort(n=150), BOTH, subgroups=("female",)))
    labels = {e.subgroup for e in result.estimates if e.indicator == "susp"}
    assert labels == {"all", "female=0", "female=1"}
    est = [e for e in result.estimates if e.indicator == "susp" and e.subgroup == "all"][0]
    t = est.details["table"]
    assert est.estimate == pytest.approx((t["follow_up_only"] - t["baseline_only"]) / est.n)
    assert est.ci_low < est.estimate < est.ci_high and est.effect_size.kind == "risk_ratio"


def test_scipy_agrees_with_our_paired_t():
    from scipy import stats

    rng = np.random.default_rng(1)
    pre, post = rng.normal(10, 2, 40), rng.normal(11, 2, 40)
    ours = st.paired_mean(post - pre)
    ref = stats.ttest_rel(post, pre)
    ci = ref.confidence_interval()
    assert float(ours["t"]) == pytest.approx(ref.statistic) and float(ours["p"]) == pytest.approx(ref.pvalue)
    assert (float(ours["ci_low"]), float(ours["ci_high"])) == pytest.approx((ci.low, ci.high))


# -- the example project ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_results(example_project_ro):
    from evalkit.project import load_project

    project = load_project(example_project_ro)
    truths = json.loads((example_project_ro / "evaluations" / "data" / "dictionary.json").read_text())
    out = {}
    for ev in project.evaluations.values():
        if ev.design.value == "pre_post" and not ev.is_external:
            out[ev.id] = run(ev)
    return out, truths


def test_examples_recover_true_effects(example_results):
    results, truths = example_results
    checked = 0
    for entry in truths["files"].values():
        for truth in entry["true_effects"]:
            if truth["evaluation"] not in results:
                continue
            result = results[truth["evaluation"]]
            (est,) = [e for e in result.estimates if e.indicator == truth["indicator"] and e.subgroup == "all"
                      and e.estimand == truth["estimand"]]
            assert est.ci_low <= truth["value"] <= est.ci_high, (truth, est.ci_low, est.ci_high)
            checked += 1
    assert checked >= 5 and {"reach-2023-prepost", "mvp-2023-prepost"} <= set(results)
    mvp = results["mvp-2023-prepost"]
    assert all("cluster-robust" in e.method for e in mvp.estimates)
    assert {e.subgroup for e in mvp.estimates} == {"all", "female=0", "female=1"}


def test_two_cli_runs_are_byte_identical(example_project, tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        proc = run_cli("run", "reach-2023-prepost", "--out", str(out), "--project", str(example_project))
        assert proc.returncode == 0, proc.stderr
        outs.append((out / "results.json").read_bytes())
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert data["schema"] == "evalkit.results/v2" and data["design"] == "pre_post"
    assert "reliable_change" in data["sections"] and "attrition" in data["sections"]
    assert any(w["code"] == "no_causal_claim" for w in data["warnings"])


def test_several_follow_ups_no_variation_and_no_discordant_pairs(tmp_path):
    frame = pd.DataFrame({"id": range(6), "w0": [.1, .2, .3, .4, .5, .6], "w1": [.2, .3, .4, .5, .6, .7],
                          "w2": [.3, .2, .5, .5, .9, .6], "s0": [0, 0, 1, 1, 0, 1], "s1": [0, 0, 1, 1, 0, 1]})
    ev = make_plan(tmp_path, frame, {"wellbeing": {"baseline": "w0", "exit": "w1", "follow_up_6m": "w2"},
                                     "susp": {"baseline": "s0", "exit": "s1"}})
    result = run(ev)
    by = {(e.indicator, e.timepoints[-1]): e for e in result.estimates}
    assert set(by) == {("wellbeing", "exit"), ("wellbeing", "follow_up_6m"), ("susp", "exit")}
    flat = by[("wellbeing", "exit")]  # every change 0.1 (up to rounding): no spread, no inference
    assert flat.estimate == pytest.approx(0.1) and flat.std_error is None and flat.p_value is None
    assert flat.primary and not by[("wellbeing", "follow_up_6m")].primary
    assert by[("wellbeing", "follow_up_6m")].comparison == "follow_up_6m vs baseline"
    assert {"no_inference", "no_discordant_pairs"} <= set(codes(result))
    notes = [s.note for s in result.flow if s.stage == "with_follow_up" and s.indicator == "wellbeing"]
    assert notes == ["exit", "follow_up_6m"]


def test_covariates_are_reported_as_ignored(tmp_path):
    # a plan with covariates is refused by validate (tests/test_spec_options.py); a resolved plan
    # built in Python still gets the note rather than a silent drop
    import dataclasses

    frame = cohort(n=40, lost=0)
    make_plan(tmp_path, frame, SDQ)
    from evalkit.project import load_project

    ev = load_project(tmp_path, check_data=False).evaluation("demo-prepost")
    ev = dataclasses.replace(ev, covariates=("female",))
    (w,) = [w for w in run(ev).warnings if w.code == "option_ignored"]
    assert "covariates (female)" in w.message


def test_t_and_wilcoxon_disagreement_is_flagged(tmp_path):
    # most people barely change, two change a lot: the t-test and the rank test part ways
    changes = [0.5] * 10 + [-0.2] * 10 + [15, 16]
    frame = pd.DataFrame({"id": range(22), "w0": 10.0, "w1": [10.0 + c for c in changes]})
    result = run(make_plan(tmp_path, frame, {"wellbeing": {"baseline": "w0", "exit": "w1"}}))
    est = result.estimates[0]
    p_t, p_w = est.p_value, est.details["wilcoxon_signed_rank"]["p_value"]
    assert (p_t < 0.05) != (p_w < 0.05)
    assert "tests_disagree" in codes(result)
