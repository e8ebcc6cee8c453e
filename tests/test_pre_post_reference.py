"""Pre/post numbers against R (t.test, wilcox.test, mcnemar.test, binom.test, sandwich::vcovCL).

The reference values and the data they come from sit in tests/reference/prepost/, with
``reference.R`` (which made the numbers) and ``make_data.py`` (which made the data). The
tests run the whole design (plan -> evalkit.run -> Estimate), not only the helpers.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from evalkit.estimate import _stats as st
from evalkit.run import run
from test_pre_post_support import REFERENCE, make_plan, reference_values

REL = 1e-6
REF = reference_values()


def close(got, dataset, quantity):
    want = REF[(dataset, quantity)]
    assert got is not None, f"{dataset}/{quantity}: got None, R gives {want}"
    assert got == pytest.approx(want, rel=REL, abs=1e-12), f"{dataset}/{quantity}: {got} vs R {want}"


def _read(name):
    return pd.read_csv(REFERENCE / name)


def _one(result, indicator, estimand="mean_change", subgroup="all"):
    (est,) = [e for e in result.estimates if e.indicator == indicator and e.estimand == estimand
              and e.subgroup == subgroup]
    return est


def check_score(est, dataset, clustered=False):
    d = est.details
    close(est.n, dataset, "n")
    close(est.estimate, dataset, "mean_change")
    t = d["paired_t"]
    close(t["std_error"], dataset, "se")
    close(t["t"], dataset, "t")
    close(t["df"], dataset, "df")
    close(t["p_value"], dataset, "p_t")
    close(t["ci_low"], dataset, "ci_low")
    close(t["ci_high"], dataset, "ci_high")
    close(d["wilcoxon_signed_rank"]["statistic_v"], dataset, "wilcoxon_v")
    close(d["wilcoxon_signed_rank"]["p_value"], dataset, "wilcoxon_p")
    close(d["correlation_baseline_follow_up"], dataset, "cor")
    close(d["sd_change"], dataset, "sd_change")
    close(d["effect_sizes"]["d_z"], dataset, "d_z")
    close(d["effect_sizes"]["d_av"], dataset, "d_av")
    close(d["effect_sizes"]["hedges_g_av"], dataset, "g_av")
    close(est.effect_size.value, dataset, "g_av")
    if clustered:
        close(est.std_error, dataset, "cr_se")
        close(est.ci_low, dataset, "cr_ci_low")
        close(est.ci_high, dataset, "cr_ci_high")
        close(est.p_value, dataset, "cr_p")
        close(d["clusters"], dataset, "clusters")
        assert "cluster-robust" in est.method
    else:
        close(est.std_error, dataset, "se")
        close(est.ci_low, dataset, "ci_low")
        close(est.ci_high, dataset, "ci_high")
        close(est.p_value, dataset, "p_t")


@pytest.mark.parametrize("dataset,file", [("sleep", "score_sleep.csv"), ("small", "score_small.csv"),
                                          ("zeros", "score_zeros.csv")])
def test_score_matches_r(tmp_path, dataset, file):
    frame = _read(file).rename(columns={"pre": "w_pre", "post": "w_post"})
    ev = make_plan(tmp_path, frame, {"wellbeing": {"baseline": "w_pre", "exit": "w_post"}})
    check_score(_one(run(ev), "wellbeing"), dataset)


def test_sleep_is_the_textbook_example():
    # Student's sleep data: t = 4.0621, df = 9, p = 0.002833 in every textbook printing of t.test
    assert REF[("sleep", "t")] == pytest.approx(4.0621, abs=1e-4)
    assert REF[("sleep", "p_t")] == pytest.approx(0.002833, abs=1e-6)


def test_clustered_score_matches_r_and_reliable_change(tmp_path):
    frame = _read("score_clustered.csv")
    ev = make_plan(tmp_path, frame, {"sdq": {"baseline": "pre", "exit": "post"}}, cluster="school",
                   subgroups=("female",))
    result = run(ev)
    check_score(_one(result, "sdq"), "clustered", clustered=True)
    check_score(_one(result, "sdq", subgroup="female=1"), "clustered_female1", clustered=True)
    rc = result.sections["reliable_change"]["sdq"]
    close(rc["threshold_points"], "rc", "sdq_080")
    close(rc["improved"], "rc_clustered", "improved")
    close(rc["deteriorated"], "rc_clustered", "deteriorated")
    assert rc["reliability_source"].startswith("instrument 'SDQ self-report'")
    assert "internal_consistency" in rc["reliability_source"]


def test_reliable_change_thresholds_match_published_table():
    # domain reference table: SDQ SD 5.2 at r = 0.80 -> 6.4 points, r = 0.62 -> 8.9, WEMWBS -> 10.0
    close(st.reliable_change_threshold(5.2, 0.80), "rc", "sdq_080")
    close(st.reliable_change_threshold(5.2, 0.62), "rc", "sdq_062")
    close(st.reliable_change_threshold(8.79, 0.83), "rc", "wemwbs_083")
    assert round(st.reliable_change_threshold(5.2, 0.62), 1) == 8.9


@pytest.mark.parametrize("table", ["small", "large", "agresti", "tied", "none_discordant"])
def test_binary_matches_r(tmp_path, table):
    frame = _read("binary_tables.csv")
    frame = frame[frame["table"] == table].drop(columns="table").rename(columns={"pre": "s_pre", "post": "s_post"})
    ev = make_plan(tmp_path, frame, {"susp": {"baseline": "s_pre", "exit": "s_post"}})
    est = _one(run(ev), "susp", "change_in_proportion")
    key = f"binary_{table}"
    close(est.estimate, key, "diff")
    close(est.ci_low, key, "ci_low")
    close(est.ci_high, key, "ci_high")
    close(est.std_error, key, "wald_se")
    close(est.p_value, key, "mcnemar_p")
    close(est.details["mcnemar"]["p_value"], key, "mcnemar_p")
    if (key, "mcnemar_chi2") in REF:
        close(est.details["mcnemar"]["statistic"], key, "mcnemar_chi2")
        assert "chi-square" in est.details["mcnemar"]["method"]
    rr = est.details["risk_ratio"]
    close(rr["value"], key, "rr")
    close(rr["ci_low"], key, "rr_low")
    close(rr["ci_high"], key, "rr_high")


def test_agresti_textbook_mcnemar():
    # Agresti, Categorical Data Analysis, presidential approval: 150 vs 86 discordant pairs;
    # z^2 without continuity correction = 17.36; R's default (with correction) is 16.82
    assert (150 - 86) ** 2 / (150 + 86) == pytest.approx(17.36, abs=0.005)
    close(st.mcnemar(150, 86)["statistic"], "binary_agresti", "mcnemar_chi2")


@pytest.mark.parametrize("cluster", [None, "area"])
def test_count_matches_r(tmp_path, cluster):
    frame = _read("count_pairs.csv")
    ev = make_plan(tmp_path, frame, {"offences": {"baseline": "pre", "exit": "post"}}, cluster=cluster)
    result = run(ev)
    est = _one(result, "offences")
    close(est.estimate, "count", "mean_change")
    close(est.details["paired_t"]["std_error"], "count", "se")
    close(est.details["paired_t"]["p_value"], "count", "p_t")
    close(est.details["wilcoxon_signed_rank"]["p_value"], "count", "wilcoxon_p")
    rr = _one(result, "offences", "rate_ratio")
    key = "count_rr_" + (cluster or "id")
    close(rr.estimate, key, "ratio")
    close(rr.std_error, key, "se_log")
    close(rr.ci_low, key, "ci_low")
    close(rr.ci_high, key, "ci_high")
    close(rr.p_value, key, "p")
    assert rr.direction_good is True  # fewer offences is good


def test_holm_matches_r():
    adjusted = st.holm([0.01, 0.04, 0.03, 0.20, 0.004])
    for i, p in enumerate(adjusted, start=1):
        close(p, "holm", f"p{i}")
    assert st.holm([0.01, None, 0.02]) == [pytest.approx(0.02), None, pytest.approx(0.02)]


def test_cluster_se_matches_statsmodels():
    import numpy as np
    import statsmodels.api as sm

    frame = _read("score_clustered.csv")
    d = (frame["post"] - frame["pre"]).to_numpy(float)
    fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["school"])[0]},
                                         use_t=True)
    ours = st.cluster_mean(d, frame["school"])
    assert ours["se"] == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert ours["ci_low"] == pytest.approx(float(fit.conf_int()[0, 0]), rel=1e-10)
    assert math.isclose(ours["p"], float(fit.pvalues[0]), rel_tol=1e-8)
