"""Matching engine: MatchIt semantics against a literal port, every option, every bad-input message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError, EstimationError, OptionError
from evalkit.estimate.matching import effect, match
from evalkit.estimate.matching import optimal as optimal_module
from evalkit.estimate.matching.core import check_constraints
from evalkit.estimate.matching.effects import wls_cluster
from evalkit.estimate.matching.nearest import NNProblem, match_nearest
from evalkit.spec.raw import Matching


# ----------------------------------------------------------------- a literal port of nn_matchC_vec

def matchit_port(d, treat, order, ratio, replace, caliper, cov=None, widths=None, exact=None):
    """MatchIt 4.5.x's nn_matchC_vec, loop for loop (O(n) scans): the reference for the fast code."""
    n = len(d)
    o = np.argsort(d, kind="stable")
    ds, ts = d[o], treat[o]
    ex = None if exact is None else exact[o]
    cv = None if cov is None else cov[o]
    can = ~ts.astype(bool)
    t_rows = np.flatnonzero(treat)
    pos_of = {int(r): i for i, r in enumerate(o)}
    mm = np.full((t_rows.size, ratio), -1)

    def ok(ii, k, row):
        if ts[k] or not can[k] or o[k] in row:
            return None
        if caliper is not None and abs(ds[ii] - ds[k]) > caliper:
            return False
        if ex is not None and ex[ii] != ex[k]:
            return None
        if cv is not None and (np.abs(cv[ii] - cv[k]) > widths).any():
            return None
        return True

    for r in range(ratio):
        for i in order:
            ii = pos_of[int(t_rows[i])]
            row = set(mm[i][mm[i] >= 0].tolist())
            found = {}
            for step, rng in ((-1, range(ii - 1, -1, -1)), (1, range(ii + 1, n))):
                for k in rng:
                    v = ok(ii, k, row)
                    if v is False:
                        break
                    if v:
                        found[step] = k
                        break
            if -1 in found and 1 in found:
                k = found[-1] if abs(ds[found[-1]] - ds[ii]) <= abs(ds[found[1]] - ds[ii]) else found[1]
            elif found:
                k = next(iter(found.values()))
            else:
                continue
            mm[i, r] = o[k]
            if not replace:
                can[k] = False
    return mm


@pytest.mark.parametrize("case", range(12))
def test_fast_nearest_equals_matchit_port(case):
    rng = np.random.default_rng(case)
    n = 120
    treat = rng.random(n) < 0.35
    d = np.round(rng.normal(size=n) + 0.6 * treat, 2 if case % 3 == 0 else 8)  # rounded: ties
    ratio = 1 + case % 3
    replace = case % 4 == 3
    caliper = None if case % 2 else 0.25
    exact = rng.integers(0, 3, n) if case % 5 in (1, 2) else None
    cov = rng.normal(size=(n, 2)) if case % 6 in (0, 4) else None
    widths = np.array([1.0, 1.5]) if cov is not None else None
    n_t = int(treat.sum())
    order = [rng.permutation(n_t), np.argsort(-d[treat], kind="stable"), np.arange(n_t)][case % 3]
    fast = match_nearest(NNProblem(d, treat, order, ratio, replace, caliper, cov, widths, exact))
    slow = matchit_port(d, treat, order, ratio, replace, caliper, cov, widths, exact)
    assert (fast == slow).all()


def _frame(n=400, seed=0, shift=0.8):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(int)
    region = rng.choice(["north", "south", "east"], n)
    p = 1 / (1 + np.exp(-(-1.0 + shift * x1 + 0.5 * x2)))
    t = (rng.random(n) < p).astype(int)
    y = 2.0 * t + x1 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"id": [f"U{i}" for i in range(n)], "t": t, "x1": x1, "x2": x2, "region": region,
                         "y": y, "yb": (y > 1).astype(int)})


COVS = ["x1", "x2", "region"]


def _pairs(res):
    long = res.long
    t = long[long.treated == 1].set_index("set")["row"]
    c = long[long.treated == 0]
    return t.loc[c["set"]].to_numpy(), c["row"].to_numpy()


def test_exact_and_covariate_calipers_are_respected():
    df = _frame()
    res = match(df, treatment="t", covariates=COVS, options=Matching(exact=["region"], calipers={"x1": 0.1},
                                                                     caliper=0.2), id_column="id")
    tr, cr = _pairs(res)
    assert (res.pool["region"].to_numpy()[tr] == res.pool["region"].to_numpy()[cr]).all()
    assert (np.abs(res.pool["x1"].to_numpy()[tr] - res.pool["x1"].to_numpy()[cr]) <= 0.1).all()
    assert (np.abs(res.distance[tr] - res.distance[cr]) <= res.matching["caliper"]["width"]).all()


def test_ratio_two_weights_and_sets():
    df = _frame()
    res = match(df, treatment="t", covariates=COVS, options=Matching(ratio=2), id_column="id")
    sizes = res.long.groupby("set").size()
    assert (sizes <= 3).all() and (sizes == 3).mean() > 0.5
    w = res.long.loc[res.long.treated == 0].groupby("set")["weight"].sum()
    assert np.allclose(w, 1.0)  # each set's controls carry one treated unit's weight


def test_random_order_is_reproducible_by_seed():
    df = _frame()
    opts = Matching(order="random")
    a = match(df, treatment="t", covariates=COVS, options=opts, seed=5).long
    b = match(df, treatment="t", covariates=COVS, options=opts, seed=5).long
    pd.testing.assert_frame_equal(a, b)


def test_discard_both_removes_units_outside_common_support():
    df = _frame(shift=2.5)
    res = match(df, treatment="t", covariates=COVS, options=Matching(discard="both"))
    d, t = res.distance, res.treated
    kept = ~res.discarded
    assert d[kept & t].min() >= d[~t].min() and d[kept & ~t].max() <= d[t].max()
    assert res.counts["discarded"]["treated"] + res.counts["discarded"]["comparison"] > 0


def test_optimal_total_distance_no_worse_than_greedy():
    df = _frame(n=300)
    greedy = match(df, treatment="t", covariates=COVS, options=Matching(caliper_scale="probability"))
    best = match(df, treatment="t", covariates=COVS, options=Matching(method="optimal", caliper_scale="probability"))
    tg, cg = _pairs(greedy)
    to, co = _pairs(best)
    assert len(to) == len(tg)
    assert np.abs(best.distance[to] - best.distance[co]).sum() <= np.abs(greedy.distance[tg] - greedy.distance[cg]).sum() + 1e-12


def test_optimal_pool_too_large(monkeypatch):
    monkeypatch.setattr(optimal_module, "MAX_CELLS", 100)
    with pytest.raises(EstimationError, match=r"optimal matching needs a .* cost matrix .*Use method: nearest"):
        match(_frame(), treatment="t", covariates=COVS, options=Matching(method="optimal"))


def test_ipw_and_exact_methods_run():
    df = _frame(n=2000, seed=3)
    ipw = match(df, treatment="t", covariates=COVS, options=Matching(method="ipw", stabilise=True, trim=0.01))
    eff = effect(ipw, ipw.pool["y"].to_numpy())
    assert abs(eff["estimate"] - 2.0) < 4 * eff["std_error"]
    assert "HC1" in eff["method"]
    ate = match(df, treatment="t", covariates=COVS, options=Matching(method="ipw", estimand="ate"))
    assert ate.balance["formula"].startswith("SMD = (weighted mean treated - weighted mean comparison) / sqrt(")
    ex = match(df, treatment="t", covariates=["x2", "region"], options=Matching(method="exact"))
    assert ex.balance["max_abs_smd_after"] < 1e-8  # exact cells balance every covariate exactly


def test_missing_covariates_reported_then_policy_applied():
    df = _frame()
    df.loc[:9, "x1"] = np.nan
    cc = match(df, treatment="t", covariates=COVS)
    assert cc.counts["pool"]["treated"] + cc.counts["pool"]["comparison"] == len(df) - 10
    assert cc.missing["columns"]["x1"]["treated"] + cc.missing["columns"]["x1"]["comparison"] == 10
    assert any(code == "missing_covariates" and "10 rows" in msg for code, msg in cc.notes)
    mi = match(df, treatment="t", covariates=COVS, options=Matching(missing="missing_indicator"))
    assert len(mi.pool) == len(df)
    assert "x1:missing" in [r["term"] for r in mi.balance["rows"]]


def test_cluster_se_equals_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    n = 300
    g = rng.integers(0, 60, n)
    X = np.column_stack([np.ones(n), rng.random(n) < 0.5])
    w = rng.uniform(0.5, 2, n)
    y = X @ [1, 2] + rng.normal(size=n) + rng.normal(size=60)[g]
    ours = wls_cluster(y, X, w, [g])
    ref = sm.WLS(y, X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert np.allclose(ours.beta, ref.params, rtol=1e-10)
    assert np.allclose(np.sqrt(np.diag(ours.vcov)), ref.bse, rtol=1e-10)


def test_logit_matches_statsmodels():
    import statsmodels.api as sm

    from evalkit.estimate.matching import propensity as ps

    df = _frame(n=500)
    t = df["t"].to_numpy() == 1
    design = ps.build_design(df, COVS, t)
    model = ps.fit(design, t, "logit", "t")
    X = sm.add_constant(design.model_matrix())
    ref = sm.Logit(t.astype(float), X).fit(disp=0, tol=1e-12)
    assert np.allclose([c["estimate"] for c in model.coefficients], ref.params, rtol=1e-8)
    assert np.allclose([c["std_error"] for c in model.coefficients], ref.bse, rtol=1e-6)
    probit = ps.fit(design, t, "probit", "t")
    assert probit.link == "probit" and ((probit.score > 0) & (probit.score < 1)).all()


def test_constraint_check_catches_a_bad_pair():
    d = np.array([0.0, 1.0, 0.05, 3.0])
    treated = np.array([True, True, False, False])
    mm = np.array([[2], [3]])
    with pytest.raises(EstimationError, match="outside the caliper"):
        check_constraints(mm, np.array([0, 1]), d, 0.5, None, None, None, False, treated)


# ----------------------------------------------------------------- bad input: one message each

def test_no_overlap_message():
    df = _frame()
    df["score"] = np.where(df["t"] == 1, 0.9, 0.1) + np.linspace(0, 0.01, len(df))
    with pytest.raises(EstimationError, match=r"no overlap in score column 'score': treated scores range .* "
                                              r"comparison scores .*expected overlapping ranges"):
        match(df, treatment="t", covariates=COVS, options=Matching(distance="column", score_column="score"))


def test_treated_group_of_one_message():
    df = _frame()
    df["t"] = 0
    df.loc[3, "t"] = 1
    with pytest.raises(EstimationError, match=r"found 1 treated unit \(expected at least 2\)"):
        match(df, treatment="t", covariates=COVS)


def test_separation_by_a_level_message():
    df = _frame()
    df.loc[df.index[df["t"] == 1][:6], "region"] = "west"  # only treated units live in the west
    with pytest.raises(EstimationError, match=r"perfect separation in the propensity model: covariate 'region' "
                                              r"level 'west' is held by \d+ rows, all of them treated"):
        match(df, treatment="t", covariates=COVS)


def test_separation_by_a_continuous_covariate_message():
    df = _frame()
    df["x1"] = np.where(df["t"] == 1, 10 + df["x1"].abs(), -df["x1"].abs())
    with pytest.raises(EstimationError, match=r"covariate 'x1' ranges .* among the \d+ treated .*no common support"):
        match(df, treatment="t", covariates=COVS)


def test_separation_by_a_combination_message():
    rng = np.random.default_rng(0)
    n = 200
    a, b = rng.normal(size=n), rng.normal(size=n)
    df = pd.DataFrame({"t": (a + b > 0).astype(int), "a": a, "b": b})
    with pytest.raises(EstimationError, match=r"perfect separation in the propensity model of 't': the covariates "
                                              r"\(a, b\) predict treatment exactly"):
        match(df, treatment="t", covariates=["a", "b"])


def test_caliper_that_drops_everyone_message():
    df = _frame()
    with pytest.raises(EstimationError, match=r"matching kept \d of \d+ treated units \(expected at least 2 "
                                              r"matched treated units\): caliper 1e-09 SD"):
        match(df, treatment="t", covariates=COVS, options=Matching(caliper=1e-9))


def test_all_missing_covariate_message():
    df = _frame()
    df["x1"] = np.nan
    with pytest.raises(DataError, match=r"covariate 'x1' has no values: all 400 rows are missing"):
        match(df, treatment="t", covariates=COVS)


def test_treatment_not_binary_message():
    df = _frame()
    df.loc[0, "t"] = 2
    with pytest.raises(DataError, match=r"treatment column 't' is not 0/1 on 1 rows \(found 2"):
        match(df, treatment="t", covariates=COVS)


def test_ate_with_nearest_is_an_option_error():
    with pytest.raises(OptionError, match=r"matching.estimand: method 'nearest' matches comparison units to treated "
                       r"ones, which targets the ATT \(found 'ate'; expected estimand: att, or method: exact, ipw"):
        match(_frame(), treatment="t", covariates=COVS, options=Matching(estimand="ate"))


def test_options_the_method_ignores_are_reported():
    res = match(_frame(), treatment="t", covariates=COVS, options=Matching(method="ipw", caliper=0.2, ratio=2))
    msgs = [m for code, m in res.notes if code == "option_ignored"]
    assert msgs == ["matching.caliper is ignored by method 'ipw'", "matching.ratio is ignored by method 'ipw'"]
    assert not [m for c, m in match(_frame(), treatment="t", covariates=COVS).notes if c == "option_ignored"]


def test_text_caliper_column_message():
    with pytest.raises(DataError, match=r"matching.calipers: column 'region' holds text .*expected numbers"):
        match(_frame(), treatment="t", covariates=COVS, options=Matching(calipers={"region": 1.0}))


def test_empty_categories_and_interactions():
    df = _frame()
    df["region"] = pd.Categorical(df["region"], categories=["east", "north", "south", "west"])
    res = match(df, treatment="t", covariates=COVS, options=Matching(interactions=[("x1", "x2")]))
    assert any("'west'" in m and "no rows" in m for c, m in res.notes if c == "propensity_model")
    terms = [c["term"] for c in res.propensity["coefficients"]]
    assert "x1*x2" in terms and "region:east" not in terms and "region:north" in terms
    assert "region:west" not in [r["term"] for r in res.balance["rows"]]


def test_balance_summary_lines():
    from evalkit.describe import balance_summary_lines as summary_lines

    res = match(_frame(), treatment="t", covariates=COVS)
    lines = summary_lines(res.balance)
    assert lines[0].startswith("term") and "WWC baseline equivalence" in lines[-1]
    assert len(lines) == len(res.balance["rows"]) + 2
    from evalkit.estimate.matching.balance import love_plot_data

    love = love_plot_data(res.balance)  # the same rows feed the love plot
    assert len(love) == 2 * len(res.balance["rows"])
    after = love[love["sample"] == "after"].set_index("term")["smd"]
    assert all(after[r["term"]] == r["smd_after"] for r in res.balance["rows"])


@pytest.mark.parametrize("seed", range(5))
def test_optimal_pairs_minimise_total_distance(seed):
    from itertools import permutations

    from evalkit.estimate.matching.optimal import match_optimal

    rng = np.random.default_rng(seed)
    d = rng.normal(size=12)
    treated = np.zeros(12, bool)
    treated[:5] = True
    mm = match_optimal(d, treated)
    got = np.abs(d[:5] - d[mm[:, 0]]).sum()
    best = min(np.abs(d[:5] - d[list(p)]).sum() for p in permutations(range(5, 12), 5))
    assert got == pytest.approx(best, rel=1e-12)


def test_ipw_weights_follow_the_formulas():
    from evalkit.estimate.matching.weighting import ess, ipw_weights

    p = np.array([0.2, 0.5, 0.8, 0.25, 0.6])
    t = np.array([True, True, False, False, False])
    assert np.allclose(ipw_weights(p, t, "att"), [1, 1, 4, 1 / 3, 1.5])
    assert np.allclose(ipw_weights(p, t, "ate"), [5, 2, 5, 4 / 3, 2.5])
    assert np.allclose(ipw_weights(p, t, "ate", stabilise=True), [5 * 0.4, 2 * 0.4, 5 * 0.6, 4 / 3 * 0.6, 2.5 * 0.6])
    assert ess(np.array([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)
