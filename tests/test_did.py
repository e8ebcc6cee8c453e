"""Difference-in-differences: a published replication, known answers on simulated panels, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError, EstimationError, OptionError
from evalkit.estimate import did

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def phoenix(example_project_ro):
    from evalkit.project import load_project

    return load_project(example_project_ro).evaluation("phoenix-2023-did")


def _plan(evaluation, **data):
    """The Phoenix plan pointed at other columns (the estimator reads only these fields)."""
    spec = dataclasses.replace(evaluation.data, **{k: v for k, v in data.items() if k in
                                                   ("id", "period", "treatment", "population")})
    ind = evaluation.primary_outcome
    return dataclasses.replace(evaluation, data=spec, outcomes={ind.id: (ind, data.get("outcome", "y"))},
                               cluster=data.get("cluster"), covariates=(), weights=None)


def _long(frame):
    return frame


# ----------------------------------------------------------------------------- Card & Krueger (1994)


def test_twfe_reproduces_card_krueger_1994(phoenix):
    """Card & Krueger (1994, AER 84(4)), Table 3 row 4, balanced sample of stores: change in mean FTE
    employment NJ +0.47 (0.48), PA -2.28 (1.25); difference NJ - PA = 2.75 (SE 1.34).
    Rows 1-2 (all available stores): Feb NJ 20.44, PA 23.33; Nov NJ 21.03, PA 21.17.
    Data: tests/reference/card_krueger_1994.csv (see tests/reference/README-did-its.md)."""
    ck = pd.read_csv(REFERENCE / "card_krueger_1994.csv")
    # the published means of all available stores, as a check on the embedded data
    assert ck.loc[ck.nj == 1, "fte_feb92"].mean() == pytest.approx(20.44, abs=0.005)
    assert ck.loc[ck.nj == 0, "fte_feb92"].mean() == pytest.approx(23.33, abs=0.005)
    assert ck.loc[ck.nj == 1, "fte_nov92"].mean() == pytest.approx(21.03, abs=0.005)
    assert ck.loc[ck.nj == 0, "fte_nov92"].mean() == pytest.approx(21.17, abs=0.005)
    balanced = ck.dropna(subset=["fte_feb92", "fte_nov92"])
    assert len(balanced) == 384
    long = pd.concat([
        pd.DataFrame({"store": balanced.store, "wave": 1, "nj_after": 0, "fte": balanced.fte_feb92}),
        pd.DataFrame({"store": balanced.store, "wave": 2, "nj_after": balanced.nj, "fte": balanced.fte_nov92}),
    ], ignore_index=True)
    plan = _plan(phoenix, id="store", period="wave", treatment="nj_after", outcome="fte")
    result = did.analyse(plan, long, seed=1)
    att = next(e for e in result.estimates if e.estimand == "did_att")
    assert att.estimate == pytest.approx(2.75, abs=0.005)
    # cluster-robust (store) SE; the paper's 1.34 is the unpooled two-sample SE of the changes
    assert att.std_error == pytest.approx(1.34, abs=0.02)
    assert att.n_treated == 309 and att.n_comparison == 75
    # one cohort, no leads: the group-time ATT is the same 2x2 difference
    gt = next(e for e in result.estimates if e.estimand == "group_time")
    assert gt.estimate == pytest.approx(2.75, abs=0.005)
    assert gt.std_error == pytest.approx(1.34, abs=0.02)


# ----------------------------------------------------------------------------- simulated staggered panel


def _staggered(rng, n_per=40, n_never=120, T=12, effect=(1.0, 2.0), dynamic=0.0):
    cohorts = {4: n_per, 8: n_per}
    g = np.concatenate([[c] * k for c, k in cohorts.items()] + [[np.inf] * n_never])
    n = len(g)
    alpha = rng.normal(0, 1, n) + 0.5 * np.isfinite(g)
    t = np.arange(T)
    on = t[None, :] >= g[:, None]
    tau = np.where(g[:, None] == 4, effect[0], effect[1]) + dynamic * np.clip(t[None, :] - g[:, None], 0, None)
    y = alpha[:, None] + 0.2 * t[None, :] + on * tau + rng.normal(0, 1, (n, T))
    frame = pd.DataFrame({"unit": np.repeat(np.arange(n), T), "period": np.tile(t + 1, n),
                          "treated": on.ravel().astype(int), "y": y.ravel()})
    true = float((on * tau)[on].mean())
    return frame, true


def test_group_time_recovers_heterogeneous_effects_where_twfe_is_biased(phoenix):
    rng = np.random.default_rng(7)
    frame, true = _staggered(rng, dynamic=0.5)
    plan = _plan(phoenix, id="unit", period="period", treatment="treated")
    result = did.analyse(plan, frame, seed=1)
    gt = result.sections["group_time"][plan.primary_outcome.id]
    cells = {(c["cohort_label"], c["period_label"]): c for c in gt["cells"]}
    # cohort starting in period 4 (index 3) at its third treated period: tau = 1 + 0.5 * 2
    c = cells[("5", "7")]
    assert c["estimate"] == pytest.approx(2.0, abs=3 * c["std_error"])
    assert c["n_treated"] == 40 and c["n_comparison"] == 120
    overall = next(e for e in result.estimates if e.estimand == "group_time")
    assert overall.ci_low < true < overall.ci_high
    # TWFE's forbidden comparisons (late vs early treated) pull it away from the truth here
    twfe = next(e for e in result.estimates if e.estimand == "did_att")
    assert abs(twfe.estimate - true) > abs(overall.estimate - true)
    # pre-period cells estimate zero
    pre = [c for c in gt["cells"] if not c["post"]]
    assert np.mean([abs(c["estimate"]) / c["std_error"] for c in pre]) < 1.5
    assert result.sections["event_study"][plan.primary_outcome.id]["pre_trend_test"]["p_value"] > 0.01


def test_not_yet_treated_comparison_and_option_check(phoenix):
    rng = np.random.default_rng(3)
    frame, _ = _staggered(rng, n_never=0)
    plan = _plan(phoenix, id="unit", period="period", treatment="treated")
    result = did.analyse(plan, frame, seed=1)  # no never-treated units: not-yet-treated by default
    gt = result.sections["group_time"][plan.primary_outcome.id]
    assert gt["comparison"] == "not_yet_treated"
    first = [c for c in gt["cells"] if c["cohort_label"] == "5" and c["post"] and c["estimate"] is not None]
    assert first and all(c["n_comparison"] == 40 for c in first)  # the later cohort, before it starts
    with pytest.raises(EstimationError, match="never-treated"):
        did.analyse(plan, frame, seed=1, comparison="never_treated")
    with pytest.raises(OptionError, match="not_yet_treated"):
        did.group_time(did.prepare_panel(plan, frame, "y")[0], "last_treated")


def test_few_units_per_cell_warns_loudly(phoenix):
    rng = np.random.default_rng(5)
    frame, _ = _staggered(rng, n_per=4, n_never=60)
    plan = _plan(phoenix, id="unit", period="period", treatment="treated")
    result = did.analyse(plan, frame, seed=1)
    warning = [w for w in result.warnings if w.code == "few_units"]
    assert warning and "fewer than 10" in warning[0].message
    assert result.sections["group_time"][plan.primary_outcome.id]["cells_with_few_units"]


def test_phoenix_plan_recovers_built_in_effect(example_project_ro, phoenix):
    import json

    truth = json.loads((example_project_ro / "evaluations/data/dictionary.json").read_text())
    true = {e["estimand"]: e["value"] for e in truth["files"]["phoenix_panel.csv"]["true_effects"]}
    frame = pd.read_csv(example_project_ro / "evaluations/data/phoenix_panel.csv")
    result = did.analyse(phoenix, frame, phoenix.seed)
    att = next(e for e in result.estimates if e.estimand == "did_att")
    assert att.ci_low < true["att"] < att.ci_high
    assert att.effect_size.ci_low < true["rate_ratio"] < att.effect_size.ci_high
    rr = next(e for e in result.estimates if e.estimand == "rate_ratio")
    assert rr.ci_low < true["rate_ratio"] < rr.ci_high and not rr.primary
    assert att.primary and att.direction_good is True
    # Rambachan-Roth bounds are added exactly when the pre-trend test fails (on the example, by chance)
    failed = result.sections["event_study"][phoenix.primary_outcome.id]["pre_trend_test"]["p_value"] < 0.05
    assert set(result.sections) == {"event_study", "group_time"} | ({"honest_did"} if failed else set())
    cells = result.sections["group_time"]["sv_offences"]["cells"]
    assert {c["cohort_label"] for c in cells} == {"2022-01", "2022-07", "2023-01"}
    assert all(c["n_treated"] == 50 and c["n_comparison"] == 450 for c in cells)


# ----------------------------------------------------------------------------- bad input


def _small(phoenix):
    frame = pd.DataFrame({"unit": np.repeat([1, 2, 3, 4], 4), "period": np.tile([1, 2, 3, 4], 4),
                          "treated": [0, 0, 1, 1] * 2 + [0] * 8, "y": np.arange(16.0)})
    return frame, _plan(phoenix, id="unit", period="period", treatment="treated")


def test_unit_observed_once_is_named(phoenix):
    frame, plan = _small(phoenix)
    frame = pd.concat([frame, pd.DataFrame({"unit": [9], "period": [2], "treated": [0], "y": [1.0]})])
    with pytest.raises(DataError, match=r"observed in one period only \(9\)"):
        did.analyse(plan, frame, seed=1)


def test_no_pre_period_is_named(phoenix):
    frame, plan = _small(phoenix)
    frame.loc[frame.unit.isin([1, 2]), "treated"] = 1
    with pytest.raises(DataError, match="no pre-period"):
        did.analyse(plan, frame, seed=1)


def test_bad_treatment_and_periods(phoenix):
    frame, plan = _small(phoenix)
    bad = frame.assign(treated=frame.treated.replace({1: 2}))
    with pytest.raises(DataError, match="must be 0 or 1"):
        did.analyse(plan, bad, seed=1)
    with pytest.raises(DataError, match="neither numbers nor dates"):
        did.analyse(plan, frame.assign(period=frame.period.map({1: "a", 2: "b", 3: "c", 4: "d"})), seed=1)
    with pytest.raises(EstimationError, match="no unit is ever treated"):
        did.analyse(plan, frame.assign(treated=0), seed=1)
    with pytest.raises(DataError, match="more than one row per unit and period"):
        did.analyse(plan, pd.concat([frame, frame.iloc[:1]]), seed=1)


# ----------------------------------------------------------------------------- weights, controls, pre-trends


def test_twfe_with_weights_and_controls_matches_dummy_variable_wls(phoenix):
    import statsmodels.api as sm

    rng = np.random.default_rng(9)
    frame, _ = _staggered(rng, n_per=20, n_never=40, T=6)
    frame["x"] = rng.normal(size=len(frame))
    frame["y"] = frame["y"] + 0.7 * frame["x"]
    frame["w"] = np.repeat(rng.uniform(0.5, 2, frame.unit.nunique()), 6)
    plan = dataclasses.replace(_plan(phoenix, id="unit", period="period", treatment="treated"),
                               covariates=("x",), weights="w")
    att = next(e for e in did.analyse(plan, frame, 1).estimates if e.estimand == "did_att")
    X = pd.concat([frame[["treated", "x"]], pd.get_dummies(frame.unit, prefix="u", dtype=float),
                   pd.get_dummies(frame.period, prefix="t", drop_first=True, dtype=float)], axis=1)
    ref = sm.WLS(frame.y, X, weights=frame.w).fit()
    assert att.estimate == pytest.approx(ref.params["treated"], abs=1e-8)
    assert "weighted" in att.method and "controls: x" in att.method


def test_pre_trend_violation_is_flagged(phoenix):
    rng = np.random.default_rng(4)
    frame, _ = _staggered(rng)
    # treated units drift upward before they start: parallel trends fails
    g = frame.groupby("unit")["treated"].transform(lambda s: s.idxmax() if s.any() else -1)
    frame.loc[g >= 0, "y"] += 0.4 * frame.loc[g >= 0, "period"]
    plan = _plan(phoenix, id="unit", period="period", treatment="treated")
    result = did.analyse(plan, frame, 1)
    test = result.sections["event_study"][plan.primary_outcome.id]["pre_trend_test"]
    assert test["p_value"] <= 0.01 and test["p_value_asymptotic"] < 0.001
    assert test["reference"].startswith("wild cluster bootstrap")
    assert any(w.code == "pre_trends" for w in result.warnings)


def test_missing_cluster_column_is_named(phoenix):
    frame, plan = _small(phoenix)
    with pytest.raises(DataError, match="no column 'school' \\(cluster\\)"):
        did.analyse(dataclasses.replace(plan, cluster="school"), frame, seed=1)


def test_poisson_twfe_matches_glm_with_dummies():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n, T = 60, 6
    g = np.where(np.arange(n) < 20, 3, 99)
    t = np.arange(T)
    on = t[None, :] >= g[:, None]
    y = rng.poisson(3 * np.exp(rng.normal(0, 0.5, n)[:, None] + 0.1 * t) * np.where(on, 0.7, 1))
    panel = pd.DataFrame({"unit": np.repeat(np.arange(n), T), "t": np.tile(t, n), "d": on.ravel().astype(int),
                          "y": y.ravel().astype(float), "w": 1.0})
    panel["cluster"] = panel["unit"]
    got = did.poisson_twfe(panel, [], False)
    X = pd.concat([panel[["d"]], pd.get_dummies(panel.unit, prefix="u", dtype=float),
                   pd.get_dummies(panel.t, prefix="t", drop_first=True, dtype=float)], axis=1)
    ref = sm.GLM(panel.y, X, family=sm.families.Poisson()).fit(cov_type="cluster", cov_kwds={"groups": panel.unit})
    assert got["log_rate_ratio"] == pytest.approx(ref.params["d"], abs=1e-8)
    # statsmodels counts all 66 parameters in (N-1)/(N-K); evalkit, as fixest, K = 1 + 6 periods (units nest in
    # clusters)
    assert got["dof_k"] == 7
    assert got["std_error_log"] * np.sqrt((360 - 7) / (360 - 66)) == pytest.approx(ref.bse["d"], rel=1e-6)


def test_text_in_the_outcome_is_named_and_missing_outcomes_are_counted(phoenix):
    frame, plan = _small(phoenix)
    bad = frame.astype({"y": object}).reset_index(drop=True)
    bad.loc[2, "y"] = "unknown"
    with pytest.raises(DataError, match=r"outcome column 'y' holds values that are not numbers at line 4 of the data \(counting the header as 1\): 'unknown'"):
        did.analyse(plan, bad, seed=1)
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(12), 6)
    gap = pd.DataFrame({"unit": units, "period": np.tile(np.arange(1, 7), 12),
                        "treated": ((units < 4) & (np.tile(np.arange(1, 7), 12) >= 4)).astype(int),
                        "y": rng.normal(size=72)})
    gap.loc[2, "y"] = np.nan
    result = did.analyse(plan, gap, seed=1)
    assert any(w.code == "rows_missing" and w.message.startswith("1 of 72 row(s) have no 'y'") for w in result.warnings)


def test_few_area_clusters_get_the_wild_bootstrap_beside_the_analytic_ci(phoenix):
    """Issue 15 point 7: 10 areas (< 30, < 12: Webb weights), seeded by the plan; 8 areas warn."""
    frame = pd.read_csv(REFERENCE / "wild" / "areas_panel.csv")
    frame["t"] = frame["month"]
    plan = _plan(phoenix, id="area", period="t", treatment="d", outcome="y", cluster="area")
    result = did.analyse(plan, frame, seed=11)
    att = next(e for e in result.estimates if e.estimand == "did_att")
    boot = att.details["wild_bootstrap"]
    assert boot["weights"] == "webb" and boot["clusters"] == 10 and boot["seed"] == 11
    assert boot["ci_low"] < att.estimate < boot["ci_high"]
    assert att.details["reference_distribution"] == "t(G-1) = t(9)"
    assert any(w.code == "few_clusters" for w in result.warnings)
    again = did.analyse(plan, frame.sample(frac=1.0, random_state=2), seed=11)
    assert next(e for e in again.estimates if e.estimand == "did_att").details["wild_bootstrap"] == boot
    eight = frame[~frame["area"].isin(["csp00", "csp02"])]
    result = did.analyse(plan, eight, seed=11)
    assert any(w.code == "very_few_clusters" for w in result.warnings)


def test_few_cluster_did_is_byte_identical_across_processes_and_row_orders(phoenix, tmp_path):
    """Group-time effects, the wild bootstrap and the TWFE and event-study estimates in two processes
    with different PYTHONHASHSEED and the rows shuffled: the same JSON. (The pre-trend test's own
    bootstrap draws are keyed by row position until issue 13 keys them by cluster id: left out.)"""
    import json
    import os
    import subprocess
    import sys

    frame = pd.read_csv(REFERENCE / "wild" / "areas_panel.csv")
    frame.sample(frac=1.0, random_state=5).to_csv(tmp_path / "shuffled.csv", index=False)
    frame.to_csv(tmp_path / "sorted.csv", index=False)
    code = """
import json, sys, dataclasses, pandas as pd
sys.path.insert(0, {tests!r})
from evalkit.project import load_project
from evalkit.estimate import did
from evalkit.results import _plain
from test_did import _plan
plan = load_project({project!r}).evaluation("phoenix-2023-did")
plan = _plan(plan, id="area", period="month", treatment="d", outcome="y", cluster="area")
out = did.analyse(plan, pd.read_csv(sys.argv[1]), seed=7)
for section in out.sections.get("event_study", {{}}).values():
    section.pop("pre_trend_test")
print(json.dumps(_plain({{"e": [dataclasses.asdict(e) for e in out.estimates], "s": out.sections}}), sort_keys=True))
"""
    project = phoenix.source.parents[1]
    script = code.format(tests=str(Path(__file__).parent), project=str(project))
    outs = []
    for name, hashseed in (("sorted.csv", "1"), ("shuffled.csv", "987")):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        res = subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], capture_output=True, text=True,
                             env=env, check=True)
        outs.append(res.stdout)
    assert outs[0] == outs[1] and json.loads(outs[0])["e"]
