"""Subgroup effects: each design's model against statsmodels fits with the same interaction terms,
by-hand formulas, the small-cell rule, Holm, the typed caveats and the bad-input messages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from evalkit.errors import DataError, EstimationError, OptionError
from evalkit.estimate.subgroups import (EffectModel, Interaction, Scale, Subgroup, age_band, as_estimates,
                                        deprivation_quintile, interaction_frame, subgroup_effects, subgroup_frame)

REL = 1e-9


def trial(seed=7, n=700, clusters=30):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": [f"P{i:04d}" for i in range(n)],
        "sex": rng.choice(["female", "male"], n, p=[0.45, 0.55]),
        "eth": rng.choice(["White", "Asian", "Black", "Mixed"], n, p=[0.55, 0.25, 0.12, 0.08]),
        "school": rng.integers(0, clusters, n),
        "x": rng.normal(size=n), "w": rng.uniform(0.5, 2.0, n)})
    df["t"] = rng.integers(0, 2, n)
    df["y"] = 1 + df.t * (0.4 + 0.5 * (df.sex == "female")) + df.x + rng.normal(size=n) + \
        rng.normal(0, 0.3, clusters)[df.school]
    df["yb"] = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 - 0.5 * df.t + 0.4 * df.x)))).astype(int)
    return df


def by_level(res, column):
    return {e.level: e for e in res.effects if e.column == column}


def sm_terms(fit, column):
    """statsmodels' treated x level coefficients, keyed by level."""
    out = {}
    for name in fit.params.index:
        if name.endswith(":t") and name.startswith(f"C({column})["):
            out[name[len(f"C({column})["):name.index("]")]] = name
    return out


# ------------------------------------------------------------------------------ against statsmodels


def test_rct_saturated_clustered_matches_statsmodels():
    df = trial()
    model = EffectModel(design="rct", outcome="y", treatment="t", covariates=("x",), clusters=("school",))
    res = subgroup_effects(df, model, ["sex", "eth"])
    for col in ("sex", "eth"):
        fit = smf.ols(f"y ~ 0 + C({col}) + C({col}):t + C({col}):x", df).fit(
            cov_type="cluster", cov_kwds={"groups": df.school}, use_t=True)
        terms = sm_terms(fit, col)
        levels = by_level(res, col)
        assert set(levels) == set(terms)
        for lv, name in terms.items():
            assert levels[lv].estimate == pytest.approx(fit.params[name], rel=REL)
            assert levels[lv].std_error == pytest.approx(fit.bse[name], rel=REL)
            # t(G - 1) as fixest/Stata: statsmodels' cluster inference uses G - 1 too
            assert levels[lv].p_value == pytest.approx(fit.pvalues[name], rel=1e-7)
            assert levels[lv].df == 29
        # the joint interaction test: all treated x level coefficients equal
        names = list(terms.values())
        constraints = ", ".join(f"{a} = {names[0]}" for a in names[1:])
        ft = fit.wald_test(constraints, use_f=True, scalar=True)
        test = next(tt for tt in res.tests if tt.column == col)
        assert test.statistic / test.df_num == pytest.approx(float(ft.statistic), rel=REL)
        assert test.p_value == pytest.approx(float(ft.pvalue), rel=1e-7)
        assert (test.df_num, test.df_den) == (len(names) - 1, 29)
    assert "CR1 cluster-robust by school (30 clusters)" in res.covariance


def test_common_slopes_hc2_matches_statsmodels():
    df = trial(seed=11)
    model = EffectModel(design="rct", outcome="y", treatment="t", covariates=("x",),
                        interaction=Interaction.common_slopes)
    res = subgroup_effects(df, model, ["eth"])
    fit = smf.ols("y ~ C(eth) + C(eth):t + x", df).fit(cov_type="HC2")
    levels = by_level(res, "eth")
    for lv, name in sm_terms(fit, "eth").items():
        assert levels[lv].estimate == pytest.approx(fit.params[name], rel=REL)
        assert levels[lv].std_error == pytest.approx(fit.bse[name], rel=REL)
        assert levels[lv].df == fit.df_resid
    assert "HC2" in res.covariance


def test_matched_weighted_hc1_with_doubly_robust_adjustment_matches_statsmodels():
    """The matched design's adjustment: covariates centred on each level's treated, interacted
    with treatment; WLS with the matching weights, HC1."""
    df = trial(seed=5)
    model = EffectModel(design="matched_comparison", outcome="y", treatment="t", weights="w", covariates=("x",),
                        covariates_by_treatment=True)
    res = subgroup_effects(df, model, ["sex"])
    levels = by_level(res, "sex")
    parts = []
    for lv in ("female", "male"):
        d = (df.sex == lv).astype(float)
        xc = df.x - np.average(df.x[(df.sex == lv) & (df.t == 1)], weights=df.w[(df.sex == lv) & (df.t == 1)])
        parts += [d.rename(f"d_{lv}"), (d * df.t).rename(f"t_{lv}"), (d * xc).rename(f"x_{lv}"),
                  (d * xc * df.t).rename(f"tx_{lv}")]
    X = pd.concat(parts, axis=1)
    fit = sm.WLS(df.y, X, weights=df.w).fit(cov_type="HC1")
    for lv in ("female", "male"):
        assert levels[lv].estimate == pytest.approx(fit.params[f"t_{lv}"], rel=REL)
        assert levels[lv].std_error == pytest.approx(fit.bse[f"t_{lv}"], rel=REL)
        # the ATT in the level by hand: weighted mean difference plus the adjustment
    caveats = {w.code for w in res.warnings}
    assert "subgroup_balance" in caveats


def test_saturated_equals_separate_fits():
    """Each subgroup's estimate is the design's estimator run on that subgroup alone."""
    df = trial(seed=3)
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t", covariates=("x",)), ["eth"])
    for lv, e in by_level(res, "eth").items():
        part = df[df.eth == lv]
        fit = smf.ols("y ~ t + x", part).fit(cov_type="HC2")
        assert e.estimate == pytest.approx(fit.params["t"], rel=REL)
        assert e.std_error == pytest.approx(fit.bse["t"], rel=REL)  # HC2 has no global small-sample factor


def test_binary_risk_difference_and_counts():
    df = trial(seed=9)
    res = subgroup_effects(df, EffectModel(design="rct", outcome="yb", treatment="t"), ["sex"])
    for lv, e in by_level(res, "sex").items():
        part = df[df.sex == lv]
        p1, p0 = part.yb[part.t == 1].mean(), part.yb[part.t == 0].mean()
        n1, n0 = (part.t == 1).sum(), (part.t == 0).sum()
        assert e.estimate == pytest.approx(p1 - p0, rel=REL)
        # HC2 for a difference in proportions is the unpooled variance with n - 1 (Welch)
        se = math.sqrt(part.yb[part.t == 1].var(ddof=1) / n1 + part.yb[part.t == 0].var(ddof=1) / n0)
        assert e.std_error == pytest.approx(se, rel=REL)
        assert (e.n_treated, e.n_comparison) == (n1, n0)
        assert (e.events_treated, e.events_comparison) == (part.yb[part.t == 1].sum(), part.yb[part.t == 0].sum())
        assert (e.mean_treated, e.mean_comparison) == (pytest.approx(p1), pytest.approx(p0))
    assert res.estimand == "itt"


def test_risk_ratio_without_covariates_is_the_ratio_of_means():
    df = trial(seed=9)
    res = subgroup_effects(df, EffectModel(design="matched_comparison", outcome="yb", treatment="t", weights="w",
                                           scale=Scale.ratio), ["sex"])
    assert res.estimand == "risk_ratio"
    for lv, e in by_level(res, "sex").items():
        part = df[df.sex == lv]
        m1 = np.average(part.yb[part.t == 1], weights=part.w[part.t == 1])
        m0 = np.average(part.yb[part.t == 0], weights=part.w[part.t == 0])
        assert e.estimate == pytest.approx(m1 / m0, rel=1e-9)
        assert e.ci_low < e.estimate < e.ci_high
    assert "subgroup_scale" in {w.code for w in res.warnings}


def test_poisson_hc1_matches_statsmodels_hc0_times_n_over_n_minus_k():
    df = trial(seed=4)
    res = subgroup_effects(df, EffectModel(design="rct", outcome="yb", treatment="t", scale=Scale.ratio,
                                           covariates=("x",), covariance="HC1"), ["sex"])
    fit = smf.glm("yb ~ 0 + C(sex) + C(sex):t + C(sex):x", df, family=sm.families.Poisson()).fit(
        cov_type="HC0", tol=1e-14)
    factor = math.sqrt(len(df) / (len(df) - len(fit.params)))
    for lv, name in sm_terms(fit, "sex").items():
        e = by_level(res, "sex")[lv]
        assert math.log(e.estimate) == pytest.approx(fit.params[name], rel=1e-8)
        assert e.std_error == pytest.approx(fit.bse[name] * factor, rel=1e-7)
        assert e.df is None  # normal reference for an unclustered ratio model


def test_poisson_clustered_matches_statsmodels():
    df = trial(seed=4)
    res = subgroup_effects(df, EffectModel(design="rct", outcome="yb", treatment="t", scale=Scale.ratio,
                                           clusters=("school",)), ["sex"])
    fit = smf.glm("yb ~ 0 + C(sex) + C(sex):t", df, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": df.school}, tol=1e-14)
    for lv, name in sm_terms(fit, "sex").items():
        e = by_level(res, "sex")[lv]
        assert e.std_error == pytest.approx(fit.bse[name], rel=1e-7)


def test_pre_post_change_by_hand():
    """No treatment column: the effect is the mean change in each subgroup; HC2 gives sd/sqrt(n),
    exactly the paired-t standard error of a separate analysis."""
    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame({"care": rng.choice([0, 1], n, p=[0.85, 0.15]), "change": rng.normal(-2, 3, n)})
    df.loc[df.care == 1, "change"] -= 1.5
    res = subgroup_effects(df, EffectModel(design="pre_post", outcome="change", treatment=None), ["care"])
    assert res.estimand == "mean_change"
    for lv, e in by_level(res, "care").items():
        d = df.change[df.care == int(lv)]
        assert e.estimate == pytest.approx(d.mean(), rel=REL)
        assert e.std_error == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)), rel=REL)
        assert e.n_treated is None and e.smallest_arm == len(d)
    # the interaction test is the (Welch-type) comparison of the two mean changes
    test = res.tests[0]
    fit = smf.ols("change ~ C(care)", df).fit(cov_type="HC2", use_t=True)
    assert test.p_value == pytest.approx(float(fit.pvalues["C(care)[T.1]"]), rel=1e-7)
    assert test.reference == "0"  # the larger level
    assert test.differences[0].estimate == pytest.approx(fit.params["C(care)[T.1]"], rel=REL)
    assert "no_causal_claim" in {w.code for w in res.warnings}


def did_panel(seed=8, units=120, periods=8):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(periods), units)
    treated_unit = rng.random(units) < 0.5
    girl = rng.random(units) < 0.5
    start = 4
    d = (treated_unit[unit] & (period >= start)).astype(int)
    y = (rng.normal(0, 1, units)[unit] + 0.2 * period + 0.3 * period * girl[unit]
         + d * (1.0 + 0.8 * girl[unit]) + rng.normal(0, 1, units * periods))
    return pd.DataFrame({"unit": unit, "period": period, "d": d, "y": y,
                         "sex": np.where(girl[unit], "female", "male"), "area": (unit % 15)})


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_did_with_fixed_effects_matches_dummies_and_separate_twfe():
    """Unit effects and period-by-subgroup effects absorbed; clustered by unit. Point estimates equal
    statsmodels with explicit dummies and separate TWFE fits per subgroup; the SE differs from the
    dummies' only by fixest's K (unit effects nested in the clusters are not counted)."""
    from linearmodels.panel import PanelOLS

    df = did_panel()
    model = EffectModel(design="difference_in_differences", outcome="y", treatment="d", unit="unit",
                        absorb=("unit", "period"), clusters=("unit",))
    res = subgroup_effects(df, model, ["sex"])
    fit = smf.ols("y ~ 0 + C(unit) + C(period):C(sex) + C(sex):d", df).fit(
        cov_type="cluster", cov_kwds={"groups": df.unit})
    n = len(df)
    k_sm = fit.model.exog.shape[1]  # statsmodels' small-sample factor counts every column, rank-deficient or not
    k_fixest = 2 + 2 * 8  # two treated x level terms + the period-by-sex effects (unit effects nested)
    for lv in ("female", "male"):
        e = by_level(res, "sex")[lv]
        name = f"C(sex)[{lv}]:d"
        assert e.estimate == pytest.approx(fit.params[name], rel=1e-8)
        assert e.std_error == pytest.approx(fit.bse[name] * math.sqrt((n - k_sm) / (n - k_fixest)), rel=1e-7)
        part = df[df.sex == lv].set_index(["unit", "period"])
        twfe = PanelOLS(part.y, part[["d"]], entity_effects=True, time_effects=True).fit()
        assert e.estimate == pytest.approx(float(twfe.params["d"]), rel=1e-8)
        assert e.n_treated + e.n_comparison == e.n == df[df.sex == lv].unit.nunique()
    assert "subgroup_parallel_trends" in {w.code for w in res.warnings}
    # a characteristic that changes within a unit is refused
    df2 = df.copy()
    df2.loc[(df2.unit == 3) & (df2.period == 5), "sex"] = "female" if df2.loc[df2.unit == 3, "sex"].iloc[0] == "male" \
        else "male"
    with pytest.raises(DataError, match="changes within a unit"):
        subgroup_effects(df2, model, ["sex"])


def test_did_common_slopes_keeps_shared_period_effects():
    df = did_panel(seed=12)
    model = EffectModel(design="difference_in_differences", outcome="y", treatment="d", unit="unit",
                        absorb=("unit", "period"), clusters=("unit",), interaction=Interaction.common_slopes)
    res = subgroup_effects(df, model, ["sex"])
    fit = smf.ols("y ~ 0 + C(unit) + C(period) + C(sex):d", df).fit()
    for lv in ("female", "male"):
        assert by_level(res, "sex")[lv].estimate == pytest.approx(fit.params[f"C(sex)[{lv}]:d"], rel=1e-8)


def test_two_way_clustering_matches_by_hand_cgm():
    """Matched sets and units (controls reused): V = V_set + V_unit - V_both, each with its G/(G-1)."""
    df = trial(seed=21)
    df["unit"] = np.random.default_rng(1).integers(0, 400, len(df))
    model = EffectModel(design="matched_comparison", outcome="y", treatment="t", weights="w",
                        clusters=("school", "unit"))
    res = subgroup_effects(df, model, ["sex"])
    X = pd.concat([(df.sex == lv).astype(float).rename(f"d{lv}") for lv in ("female", "male")]
                  + [((df.sex == lv) * df.t).astype(float).rename(f"t{lv}") for lv in ("female", "male")], axis=1)
    base = sm.WLS(df.y, X, weights=df.w)
    n, k = X.shape
    vs = []
    for groups in (df.school, df.unit, df.school.astype(str) + "|" + df.unit.astype(str)):
        g = groups.nunique()
        v = base.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]}).cov_params().to_numpy()
        vs.append(v)  # each already carries G/(G-1) (N-1)/(N-K)
    V = vs[0] + vs[1] - vs[2]
    for j, lv in enumerate(("female", "male")):
        assert by_level(res, "sex")[lv].std_error == pytest.approx(math.sqrt(V[2 + j, 2 + j]), rel=1e-9)
    assert by_level(res, "sex")["female"].df == df.school.nunique() - 1


# ------------------------------------------------------------------------------ small cells, Holm, caveats


def test_small_level_gets_no_estimate_but_keeps_counts():
    df = trial(seed=13)
    df.loc[df.eth == "Mixed", "t"] = 0
    df.loc[df.index[df.eth == "Mixed"][:4], "t"] = 1  # four treated Mixed pupils
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), ["eth"])
    mixed = by_level(res, "eth")["Mixed"]
    assert not mixed.reported and mixed.reason.startswith("too few")
    assert (mixed.estimate, mixed.ci_low, mixed.p_value, mixed.mean_treated) == (None, None, None, None)
    assert mixed.n_treated == 4 and mixed.smallest_arm == 4 and mixed.n == (df.eth == "Mixed").sum()
    test = res.tests[0]
    assert "Mixed" not in test.levels and test.df_num == 2
    assert any(w.code == "subgroup_too_few" and "Mixed" in w.message for w in res.warnings)
    frame = subgroup_frame(res)
    row = frame[frame.level == "Mixed"].iloc[0]
    assert not row.reported and pd.isna(row.estimate) and row.n_treated == 4
    # no record is made for it
    assert "eth=Mixed" not in {e.subgroup for e in as_estimates(res, design="rct", timepoints=("exit",),
                                                                    units="points", comparison="",
                                                                    increase_is_good=True)}


def test_holm_families():
    df = trial(seed=17)
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), ["sex", "eth"])
    p = [tt.p_value for tt in res.tests]
    assert [tt.p_value_holm for tt in res.tests] == pytest.approx(list(multipletests(p, method="holm")[1]))
    reported = [e for e in res.effects if e.reported]
    expected = multipletests([e.p_value for e in reported], method="holm")[1]
    assert [e.p_value_holm for e in reported] == pytest.approx(list(expected))
    assert "2 interaction test(s)" in res.families["interaction_tests"]
    assert interaction_frame(res).p_value_holm.tolist() == pytest.approx([tt.p_value_holm for tt in res.tests])


def test_caveats_and_pre_registration():
    df = trial()
    model = EffectModel(design="rct", outcome="y", treatment="t")
    codes = [w.code for w in subgroup_effects(df, model, ["sex"]).warnings]
    assert codes[:3] == ["subgroups_not_powered", "subgroups_exploratory", "subgroup_baseline"]
    pre = subgroup_effects(df, model, ["sex"], pre_registered=True)
    assert "subgroups_exploratory" not in {w.code for w in pre.warnings} and pre.pre_registered
    assert "subgroups_not_powered" in {w.code for w in pre.warnings}


def test_detectable_difference_and_reference():
    df = trial()
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"),
                           [Subgroup("eth", reference="Asian")])
    test = res.tests[0]
    assert test.reference == "Asian"
    for diff in test.differences:
        assert diff.detectable == pytest.approx((1.959963984540054 + 0.8416212335729143) * diff.std_error)
        a, b = by_level(res, "eth")[diff.level], by_level(res, "eth")["Asian"]
        assert diff.estimate == pytest.approx(a.estimate - b.estimate, rel=REL)
    assert by_level(res, "eth")["Asian"].is_reference
    # default reference: the largest level
    assert subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), ["eth"]).tests[0].reference == "White"


def test_missing_subgroup_values_warned_and_left_out():
    df = trial()
    df.loc[df.index[:25], "eth"] = None
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), ["eth"])
    assert sum(e.n for e in res.effects) == len(df) - 25
    assert any(w.code == "subgroup_missing" and "25 unit(s)" in w.message for w in res.warnings)


def test_as_estimates_records():
    df = trial()
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t", clusters=("school",)), ["sex"],
                           indicator="sdq_total")
    recs = as_estimates(res, design="rct", timepoints=("baseline", "exit"), units="points",
                        comparison="treated vs comparison arm", increase_is_good=False)
    assert [r.subgroup for r in recs] == ["sex=female", "sex=male"]
    r = recs[0]
    assert r.indicator == "sdq_total" and r.estimand == "itt" and r.direction_good is False
    assert r.details["interaction_p_value"] == res.tests[0].p_value
    assert "CR1" in r.method


def test_row_order_does_not_change_a_number():
    df = trial(seed=31)
    model = EffectModel(design="matched_comparison", outcome="y", treatment="t", weights="w", clusters=("school",),
                        covariates=("x",), covariates_by_treatment=True)
    a = subgroup_frame(subgroup_effects(df, model, ["sex", "eth"]))
    b = subgroup_frame(subgroup_effects(df.sample(frac=1, random_state=4), model, ["sex", "eth"]))
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_categorical_covariates_are_expanded():
    df = trial()
    df["school_type"] = np.where(df.school < 10, "academy", np.where(df.school < 20, "maintained", "free"))
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t", covariates=("school_type",)),
                           ["sex"])
    fit = smf.ols("y ~ 0 + C(sex) + C(sex):t + C(sex):C(school_type)", df).fit(cov_type="HC2")
    for lv, name in sm_terms(fit, "sex").items():
        assert by_level(res, "sex")[lv].estimate == pytest.approx(fit.params[name], rel=REL)


# ------------------------------------------------------------------------------ declaring subgroups


def test_age_band_and_deprivation_quintile():
    assert age_band(pd.Series([10, 13, 14, 15, 16, 17, None])).tolist()[:6] == \
        ["10-13", "10-13", "14-15", "14-15", "16-17", "16-17"]
    assert pd.isna(age_band(pd.Series([None, 12])).iloc[0])
    with pytest.raises(DataError, match="age outside the bands 10-17 at row 2: 18"):
        age_band(pd.Series([12, 18]))
    assert deprivation_quintile(pd.Series([1, 2, 3, 10])).tolist() == [1, 1, 2, 5]
    with pytest.raises(DataError, match="IMD decile outside 1-10 at row 1: 0"):
        deprivation_quintile(pd.Series([0, 3]))


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("change, kwargs, error, message", [
    (lambda d: d.drop(columns="sex"), {}, DataError, "subgroup column 'sex' is not in the analysis frame"),
    (lambda d: d.assign(y=d.y.astype(object).where(d.index != 5, "n/a")), {}, DataError,
     "outcome column 'y' holds values that are not numbers at row 6 of the analysis frame: 'n/a'"),
    (lambda d: d.assign(y=d.y.where(d.index != 2)), {}, DataError, "outcome column 'y' is missing or infinite at row 3"),
    (lambda d: d.assign(t=d.t.where(d.index != 0, 2)), {}, DataError,
     "treatment column 't' holds values other than 0 and 1 at row 1"),
    (lambda d: d, {"subgroups": [Subgroup("eth", levels=("White", "Asian", "Black"))]}, DataError,
     "holds 'Mixed', which is not among its declared levels"),
    (lambda d: d, {"subgroups": [Subgroup("eth", reference="Other")]}, DataError,
     "reference level 'Other' is not in the data"),
    (lambda d: d, {"subgroups": []}, OptionError, "none declared"),
    (lambda d: d, {"subgroups": ["sex", "sex"]}, OptionError, "declared twice"),
    (lambda d: d, {"min_arm": 30, "few_per_arm": 20}, OptionError, "expected 1 <= min_arm <= few_per_arm"),
])
def test_bad_input_messages(change, kwargs, error, message):
    df = change(trial())
    subgroups = kwargs.pop("subgroups", ["sex", "eth"])
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), subgroups, **kwargs)


@pytest.mark.parametrize("model, message", [
    (dict(treatment=None, covariates=("x",)), "covariates and fixed effects need a treatment column"),
    (dict(exposure="w"), "exposure is an offset of the ratio"),
    (dict(treatment=None, scale="ratio"), "scale 'ratio' needs a treatment column"),
    (dict(covariance="HC2", absorb=("school",)), "'HC2' is not computed with absorbed fixed effects"),
    (dict(covariance="CR1"), "'CR1' needs a cluster column"),
    (dict(covariance="HC1", clusters=("school",)), "ignores the clusters given"),
    (dict(covariance="CR2", clusters=("school",)), "covariance: 'CR2' is not a valid choice; expected one of 'HC1', 'HC2', 'CR1'"),
    (dict(design="its"), "'its' is not a valid Design"),
])
def test_bad_options(model, message):
    base = dict(design="rct", outcome="y", treatment="t")
    base.update(model)
    with pytest.raises((OptionError, ValueError), match=message):
        subgroup_effects(trial(), EffectModel(**base), ["sex"])


def test_level_without_treated_units_is_too_few_not_a_crash():
    df = trial()
    df.loc[df.sex == "female", "t"] = 0
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"), ["sex"])
    assert not by_level(res, "sex")["female"].reported
    assert any(w.code == "subgroup_no_test" for w in res.warnings)


def test_covariate_absorbed_by_fixed_effects_is_named():
    df = did_panel()
    df["girl_const"] = (df.sex == "female").astype(float) + df.unit * 0.01  # constant within unit
    model = EffectModel(design="difference_in_differences", outcome="y", treatment="d", unit="unit",
                        absorb=("unit", "period"), clusters=("unit",), covariates=("girl_const",))
    with pytest.raises(EstimationError, match="absorbed by the fixed effects .*girl_const"):
        subgroup_effects(df, model, ["sex"])


def test_reference_level_with_too_few_units_falls_back_to_the_largest():
    df = trial(seed=13)
    df.loc[df.eth == "Mixed", "t"] = 0
    res = subgroup_effects(df, EffectModel(design="rct", outcome="y", treatment="t"),
                           [Subgroup("eth", reference="Mixed")])
    assert res.tests[0].reference == "White"
    assert by_level(res, "eth")["White"].is_reference and not by_level(res, "eth")["Mixed"].is_reference
    assert any(w.code == "subgroup_reference_too_few" for w in res.warnings)
