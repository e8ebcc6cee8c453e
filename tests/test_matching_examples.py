"""The example matched evaluations (Reach, VIP) through the real run path, against the truth
written into the synthetic data's dictionary."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalkit.project import load_project
from evalkit.run import run_and_write

EVALUATIONS = ["reach-2023-matched", "vip-2023-matched"]


@pytest.fixture(scope="module")
def project(example_project_ro):
    return load_project(example_project_ro)


@pytest.fixture(scope="module")
def truths(example_project_ro):
    d = json.loads((example_project_ro / "evaluations" / "data" / "dictionary.json").read_text())
    # the effects on everyone (a planted subgroup difference is checked in test_who_and_how)
    return {(t["evaluation"], t["indicator"]): t for f in d["files"].values() for t in f.get("true_effects", [])
            if t["estimand"] != "subgroup_difference"}


@pytest.fixture(scope="module")
def runs(example_analysis):
    return {e: example_analysis(e) for e in EVALUATIONS}  # run_analysis, shared with other modules


@pytest.mark.parametrize("evaluation", EVALUATIONS)
def test_recovers_the_true_att_where_the_naive_difference_does_not(runs, truths, evaluation):
    result, _analysis = runs[evaluation]
    checked = 0
    for est in result.estimates:
        truth = truths.get((evaluation, est.indicator))
        if truth is None or est.estimand != "att":
            continue
        assert est.ci_low <= truth["value"] <= est.ci_high, (est.indicator, est.estimate, truth["value"])
        if truth.get("naive_difference") is not None:
            # matching lands nearer the truth than the naive comparison
            assert abs(est.estimate - truth["value"]) < abs(truth["naive_difference"] - truth["value"])
        checked += 1
    assert checked >= 1


def test_reach_naive_difference_is_outside_the_matched_interval(runs, truths):
    result, _ = runs["reach-2023-matched"]
    est = next(e for e in result.estimates if e.indicator == "suspended" and e.estimand == "att")
    naive = truths[("reach-2023-matched", "suspended")]["naive_difference"]
    assert not est.ci_low <= naive <= est.ci_high


@pytest.mark.parametrize("evaluation", EVALUATIONS)
def test_results_sections_flow_and_estimands(runs, evaluation):
    result, analysis = runs[evaluation]
    sec = result.sections
    assert {"balance", "matching", "propensity", "attrition"} <= set(sec)
    bal = sec["balance"]
    assert bal["formula"].startswith("SMD = ")
    for row in bal["rows"]:
        assert {"smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_after",
                "ecdf_max_after", "wwc_band_after", "adjusted"} <= set(row)
    assert isinstance(bal["flag_any_smd_ge_0_1"], bool) and isinstance(bal["wwc_pass"], bool)
    m = sec["matching"]
    assert m["caliper"]["width_logit"] > 0 and m["caliper"]["width_probability"] > 0
    assert m["sizes"]["after"]["treated"] <= m["sizes"]["before"]["treated"]
    assert m["max_pair_distance"]["logit"] <= m["caliper"]["width_logit"]
    stages = {(s.stage, s.group) for s in result.flow}
    assert {("in_data", "treated"), ("treated_pool", "treated"), ("comparison_pool", "comparison"),
            ("discarded", "treated"), ("matched", "treated"), ("matched", "comparison")} <= stages
    primary = [e for e in result.estimates if e.primary]
    assert len(primary) == 1 and primary[0].estimand == "att"
    assert "cluster-robust by matched set" in primary[0].method
    assert {"att", "risk_ratio"} <= {e.estimand for e in result.estimates}
    if evaluation == "reach-2023-matched":
        assert "did_att" in {e.estimand for e in result.estimates}
    data = analysis.analysed_data
    assert {"matched_set", "weight", "unit_weight", "score", "distance"} <= set(data.columns)


def test_results_are_byte_identical_and_matched_data_is_private(project, tmp_path):
    evaluation = project.evaluation("vip-2023-matched")
    first = run_and_write(evaluation, tmp_path / "a").to_json()
    second = run_and_write(evaluation, tmp_path / "b").to_json()
    assert first == second
    private = project.root / ".evalkit" / "private" / "vip-2023-matched"
    rows = pd.read_csv(private / "analysed_data.csv")
    assert not (tmp_path / "a" / "private").exists()  # person-level rows never sit beside the results
    assert private.stat().st_mode & 0o777 == 0o700 and (private / "analysed_data.csv").stat().st_mode & 0o777 == 0o600
    assert {"attender_id", "matched_set", "weight"} <= set(rows.columns)
    published = (tmp_path / "a" / "results.json").read_text()
    assert not any(str(i) in published for i in rows["attender_id"].head(50))


def test_matched_data_reads_the_plans_file(project):
    from evalkit.estimate.matching import matched_data

    rows = matched_data(project.evaluation("reach-2023-matched"))
    assert {"pupil_id", "reach", "matched_set", "weight", "unit_weight", "score"} <= set(rows.columns)
    assert rows.groupby("matched_set")["reach"].sum().eq(1).all()  # one treated pupil per matched set


def test_holm_across_main_estimates(runs):
    result, _ = runs["reach-2023-matched"]
    main = [e for e in result.estimates if e.estimand == "att"]
    assert len(main) == 2
    ps = sorted(e.p_value for e in main)
    holm = sorted(e.p_value_holm for e in main)
    assert holm[0] == pytest.approx(min(1, 2 * ps[0]))
    assert all(e.p_value_holm is None for e in result.estimates if e.estimand != "att")
