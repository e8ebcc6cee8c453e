"""Subgroups in every design: each design's subgroup section against statsmodels fits with the same
interaction terms, on the rows, weights and clusters the design analysed.

The engine itself (evalkit.estimate.subgroups) is checked in test_subgroups*.py; these tests check
the hooks: that each design hands over the frame and the model it estimates (matched sample with its
matching weights and matched-set clusters; weighting with its weights, HC1; DiD with unit and
period effects absorbed and its clustering; RCT with the baseline and covariates the ITT adjusts for,
clustered by the plan's cluster; pre/post change scores clustered by the plan's cluster).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.errors import OptionError
from evalkit.project import load_project
from evalkit.run import read_plan_data
from test_spec_validation import MATCHED, PREPOST, make_project, problems

REL = 1e-9


def _levels_model(frame, outcome, treatment, level_col, extra=(), absorb_unit=None, period=None):
    """The saturated interaction design with explicit columns: level dummies (or unit dummies and
    period-by-level dummies), treatment x level, each covariate x level."""
    levels = sorted(frame[level_col].astype(str).unique())
    lab = frame[level_col].astype(str).to_numpy()
    cols, names = [], []
    if absorb_unit is None:
        for lv in levels:
            cols.append((lab == lv).astype(float))
            names.append(f"level[{lv}]")
    else:
        for u in sorted(frame[absorb_unit].unique()):
            cols.append((frame[absorb_unit].to_numpy() == u).astype(float))
            names.append(f"unit[{u}]")
        periods = sorted(frame[period].unique())
        for lv in levels:
            for t in periods[1:]:  # the first period of each level is in its units' dummies
                cols.append(((lab == lv) & (frame[period].to_numpy() == t)).astype(float))
                names.append(f"t[{t}]x{lv}")
    for lv in levels:
        cols.append((lab == lv) * frame[treatment].to_numpy(float))
        names.append(f"treated x {lv}")
    for z in extra:
        for lv in levels:
            cols.append((lab == lv) * frame[z].to_numpy(float))
            names.append(f"{z} x {lv}")
    return np.column_stack(cols), names, levels


def _wald(params, cov, idx):
    R = np.zeros((len(idx) - 1, len(params)))
    for r, i in enumerate(idx[1:]):
        R[r, i], R[r, idx[0]] = 1.0, -1.0
    d = R @ params
    return float(d @ np.linalg.solve(R @ cov @ R.T, d)), len(idx) - 1


def _effects(section, indicator, column):
    return {e["level"]: e for e in section[indicator]["effects"] if e["subgroup"] == column}


def _test(section, indicator, column):
    return next(t for t in section[indicator]["tests"] if t["subgroup"] == column)


# ------------------------------------------------------------------------------------ matched


@pytest.fixture(scope="module")
def reach(example_project_ro):
    return load_project(example_project_ro).evaluation("reach-2023-matched")


def _matched_reference(analysis, evaluation, frame, column, cov_type):
    import statsmodels.api as sm

    data = analysis.analysed_data
    if column not in data:
        data = data.merge(frame[[evaluation.data.id, column]], on=evaluation.data.id, how="left")
    data = data[data["susp_12m"].notna()].reset_index(drop=True)
    X, names, levels = _levels_model(data, "susp_12m", evaluation.data.treatment, column)
    model = sm.WLS(data["susp_12m"].to_numpy(float), X, weights=data["weight"].to_numpy(float))
    if cov_type == "cluster":
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data["matched_set"])[0],
                                                      "use_correction": True, "df_correction": True})
    else:
        fit = model.fit(cov_type=cov_type)
    return fit, names, levels


def test_matched_subgroups_match_a_weighted_fit_clustered_by_matched_set(reach):
    plan = dataclasses.replace(reach, subgroups=("sen", "area"))
    frame = read_plan_data(plan)
    from evalkit.estimate import matching

    analysis = matching.analyse(plan, frame, plan.seed)
    section = analysis.sections["subgroups"]
    entry = section["suspended"]
    assert entry["design"] == "matched_comparison" and entry["estimand"] == "att"
    assert "matched_set" in entry["covariance"] and "CR1" in entry["covariance"]
    fit, names, levels = _matched_reference(analysis, plan, frame, "sen", "cluster")
    G = analysis.analysed_data["matched_set"].nunique()
    got = _effects(section, "suspended", "sen")
    for lv in levels:
        i = names.index(f"treated x {lv}")
        assert got[lv]["estimate"] == pytest.approx(fit.params[i], rel=REL)
        assert got[lv]["std_error"] == pytest.approx(fit.bse[i], rel=REL)
        # t with G - 1 df, the fewest clusters (fixest t.df = "min")
        p = 2 * stats.t.sf(abs(fit.params[i] / fit.bse[i]), G - 1)
        assert got[lv]["p_value"] == pytest.approx(p, rel=1e-7)
    W, q = _wald(fit.params, fit.cov_params(), [names.index(f"treated x {lv}") for lv in levels])
    test = _test(section, "suspended", "sen")
    assert test["statistic"] == pytest.approx(W / q, rel=1e-8) and test["df_num"] == q and test["df_den"] == G - 1
    # Holm across the family of interaction tests of the outcome (one per subgroup column)
    tests = section["suspended"]["tests"]
    ps = sorted(t["p_value"] for t in tests)
    assert min(t["p_value_holm"] for t in tests) == pytest.approx(min(1.0, len(ps) * ps[0]), rel=1e-12)
    codes = {c["code"] for c in entry["caveats"]}
    assert {"subgroups_not_powered", "subgroups_exploratory", "subgroup_balance"} <= codes
    # the run's cautions carry the two caveats every subgroup analysis has
    assert {"subgroups_not_powered", "subgroups_exploratory"} <= {w.code for w in analysis.warnings}


def test_small_levels_get_counts_and_no_statistic(reach):
    plan = dataclasses.replace(reach, subgroups=("area",))
    from evalkit.estimate import matching

    section = matching.analyse(plan, read_plan_data(plan), plan.seed).sections["subgroups"]
    rows = section["suspended"]["effects"]
    small = [r for r in rows if r["smallest_arm"] < section["suspended"]["min_arm"]]
    assert small, "the example has areas with few Reach pupils"
    for r in small:
        assert r["reported"] is False and r["estimate"] is None and r["ci_low"] is None and r["p_value"] is None
        assert r["n_treated"] is not None and r["n_comparison"] is not None


def test_weighting_subgroups_match_a_weighted_fit_with_hc1(reach):
    from evalkit.estimate import matching

    opt = reach.matching.model_copy(update={"method": reach.matching.method.__class__("ipw"), "ratio": 1,
                                            "caliper": None, "exact": [], "replace": False})
    plan = dataclasses.replace(reach, subgroups=("sen",), matching=opt)
    frame = read_plan_data(plan)
    analysis = matching.analyse(plan, frame, plan.seed)
    section = analysis.sections["subgroups"]
    assert section["suspended"]["design"] == "weighting"
    fit, names, levels = _matched_reference(analysis, plan, frame, "sen", "HC1")
    got = _effects(section, "suspended", "sen")
    for lv in levels:
        i = names.index(f"treated x {lv}")
        assert got[lv]["estimate"] == pytest.approx(fit.params[i], rel=REL)
        assert got[lv]["std_error"] == pytest.approx(fit.bse[i], rel=REL)
    W, q = _wald(fit.params, fit.cov_params(), [names.index(f"treated x {lv}") for lv in levels])
    assert _test(section, "suspended", "sen")["statistic"] == pytest.approx(W / q, rel=1e-8)


# ------------------------------------------------------------------------------------ DiD


@pytest.fixture(scope="module")
def phoenix(example_project_ro):
    return load_project(example_project_ro).evaluation("phoenix-2023-did")


def _panel(seed=3, n=80, T=8):
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    g = np.where(rng.random(n) < 0.5, 5, 99)
    effect = np.where(sex == "female", 1.5, 0.5)
    alpha = rng.normal(0, 1, n)
    t = np.arange(1, T + 1)
    on = t[None, :] >= g[:, None]
    y = alpha[:, None] + 0.3 * t[None, :] + on * effect[:, None] + rng.normal(0, 1, (n, T))
    return pd.DataFrame({"person": np.repeat([f"u{i:03d}" for i in range(n)], T), "month": np.tile(t, n),
                         "active": on.ravel().astype(int), "y": y.ravel(), "sex": np.repeat(sex, T)})


def test_did_subgroups_match_explicit_dummies_with_the_fixest_small_sample_factor(phoenix):
    import statsmodels.api as sm

    from evalkit.estimate import did

    frame = _panel()
    spec = dataclasses.replace(phoenix.data, id="person", period="month", treatment="active")
    ind = phoenix.primary_outcome
    plan = dataclasses.replace(phoenix, data=spec, outcomes={ind.id: (ind, "y")}, cluster=None, covariates=(),
                               weights=None, subgroups=("sex",))
    section = did.analyse(plan, frame, seed=1).sections["subgroups"]
    entry = section[ind.id]
    assert entry["estimand"] == "did_att" and "person" in entry["covariance"]
    X, names, levels = _levels_model(frame, "y", "active", "sex", absorb_unit="person", period="month")
    fit = sm.OLS(frame["y"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={
        "groups": pd.factorize(frame["person"])[0], "use_correction": False})
    N, G, T = len(frame), frame["person"].nunique(), frame["month"].nunique()
    # fixest: unit effects nested in the unit clusters count once; period x level effects count all
    # their levels less one; plus the two treatment x level regressors
    K = 2 + 1 + (2 * T - 1)
    scale = G / (G - 1) * (N - 1) / (N - K)
    got = _effects(section, ind.id, "sex")
    for lv in levels:
        i = names.index(f"treated x {lv}")
        assert got[lv]["estimate"] == pytest.approx(fit.params[i], rel=1e-8)
        assert got[lv]["std_error"] == pytest.approx(fit.bse[i] * np.sqrt(scale), rel=1e-7)
    W, q = _wald(fit.params, fit.cov_params() * scale, [names.index(f"treated x {lv}") for lv in levels])
    test = _test(section, ind.id, "sex")
    assert test["statistic"] == pytest.approx(W / q, rel=1e-6) and test["df_den"] == G - 1
    # the planted difference (1.5 vs 0.5) is found
    assert got["female"]["estimate"] - got["male"]["estimate"] == pytest.approx(1.0, abs=0.5)
    assert "subgroup_parallel_trends" in {c["code"] for c in entry["caveats"]}


# ------------------------------------------------------------------------------------ RCT


RCT_PLAN = """\
id: demo-rct
intervention: demo
title: A cluster-randomised trial
stage: test_for_efficacy
design: rct
evaluator: {name: University, independent: true}
data: {path: data/trial.csv, id: pupil_id, treatment: arm}
timepoints:
  conf: {baseline: conf_pre, follow_up_12m: conf_12m}
subgroups: [female]
cluster: school
primary_outcome: conf
follow_up_months: 12
"""


def test_rct_subgroups_match_an_ols_with_the_baseline_interacted_clustered_by_school(tmp_path):
    import statsmodels.api as sm

    from test_rct import LOGIC_MODEL, _data

    from evalkit.estimate import rct

    (tmp_path / "logic_models").mkdir()
    (tmp_path / "evaluations" / "data").mkdir(parents=True)
    (tmp_path / "logic_models" / "demo.yml").write_text(LOGIC_MODEL)
    (tmp_path / "evaluations" / "rct.yml").write_text(RCT_PLAN)
    frame = _data()
    frame.to_csv(tmp_path / "evaluations" / "data" / "trial.csv", index=False)
    plan = load_project(tmp_path).evaluation("demo-rct")
    data = read_plan_data(plan)
    section = rct.analyse(plan, data, plan.seed).sections["subgroups"]
    keep = data[data["conf_12m"].notna() & data["conf_pre"].notna()].reset_index(drop=True)
    X, names, levels = _levels_model(keep, "conf_12m", "arm", "female", extra=("conf_pre",))
    fit = sm.OLS(keep["conf_12m"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={
        "groups": pd.factorize(keep["school"])[0], "use_correction": True, "df_correction": True})
    got = _effects(section, "conf", "female")
    for lv in levels:
        i = names.index(f"treated x {lv}")
        assert got[lv]["estimate"] == pytest.approx(fit.params[i], rel=REL)
        assert got[lv]["std_error"] == pytest.approx(fit.bse[i], rel=REL)
    W, q = _wald(fit.params, fit.cov_params(), [names.index(f"treated x {lv}") for lv in levels])
    assert _test(section, "conf", "female")["statistic"] == pytest.approx(W / q, rel=1e-8)
    assert section["conf"]["estimand"] == "itt"
    assert "subgroup_baseline" in {c["code"] for c in section["conf"]["caveats"]}


def test_a_subgroup_that_is_also_a_covariate_is_refused(tmp_path):
    from test_rct import LOGIC_MODEL, _data

    from evalkit.estimate import rct

    (tmp_path / "logic_models").mkdir()
    (tmp_path / "evaluations" / "data").mkdir(parents=True)
    (tmp_path / "logic_models" / "demo.yml").write_text(LOGIC_MODEL)
    (tmp_path / "evaluations" / "rct.yml").write_text(RCT_PLAN.replace("cluster: school", "cluster: school\n"
                                                                       "subgroups: [school]")
                                                      .replace("subgroups: [female]\n", ""))
    _data().to_csv(tmp_path / "evaluations" / "data" / "trial.csv", index=False)
    plan = load_project(tmp_path).evaluation("demo-rct")
    with pytest.raises(OptionError, match="subgroups: column 'school' is also a column the rct analysis uses"):
        rct.analyse(plan, read_plan_data(plan), plan.seed)


# ------------------------------------------------------------------------------------ pre/post


def test_pre_post_subgroups_match_a_clustered_ols_of_the_change(example_project_ro):
    import statsmodels.api as sm

    from evalkit.estimate import pre_post

    plan = load_project(example_project_ro).evaluation("mvp-2023-prepost")
    data = read_plan_data(plan)
    section = pre_post.analyse(plan, data, plan.seed).sections["subgroups"]
    keep = data[data["conf_pre"].notna() & data["conf_post"].notna()].reset_index(drop=True)
    keep["change"] = keep["conf_post"] - keep["conf_pre"]
    lab = keep["female"].astype(int).astype(str)
    X = np.column_stack([(lab == lv).astype(float) for lv in ("0", "1")])
    fit = sm.OLS(keep["change"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={
        "groups": pd.factorize(keep["school_id"])[0], "use_correction": True, "df_correction": True})
    got = _effects(section, "intervene_confidence", "female")
    for j, lv in enumerate(("0", "1")):
        assert got[lv]["estimate"] == pytest.approx(fit.params[j], rel=REL)
        assert got[lv]["std_error"] == pytest.approx(fit.bse[j], rel=REL)
    W, q = _wald(fit.params, fit.cov_params(), [0, 1])
    assert _test(section, "intervene_confidence", "female")["statistic"] == pytest.approx(W / q, rel=1e-8)
    assert "no_causal_claim" in {c["code"] for c in section["intervene_confidence"]["caveats"]}


# ------------------------------------------------------------------------------------ validate


def test_every_comparative_design_reads_subgroups_and_validate_refuses_them_elsewhere():
    from evalkit.spec.designs import REGISTRY
    from evalkit.spec.raw import Design

    for d in (Design.pre_post, Design.matched_comparison, Design.difference_in_differences, Design.rct):
        assert "subgroups" in REGISTRY[d].options and "subgroups" in REGISTRY[d].sections, d
    assert "subgroups" not in REGISTRY[Design.interrupted_time_series].options
    assert "subgroups" not in REGISTRY[Design.feasibility].options


def test_subgroups_on_a_matched_plan_validate(tmp_path):
    root = make_project(tmp_path, plans={"m.yml": MATCHED + "subgroups: [female]\n"})
    assert problems(root) == []
