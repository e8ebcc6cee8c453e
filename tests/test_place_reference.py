"""Known answers for the place-based core: ADH (2010) California, R Synth, pysyncon's ASCM, statsmodels.

See tests/reference/synth_california/README.md for the data, the scripts and the published numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.estimate.place.synthetic_control import fit_synth, ridge_augment, simplex_weights

HERE = Path(__file__).parent / "reference" / "synth_california"
# ADH (2010) Table 2: the donors of synthetic California (every other state 0; New Mexico 0.002)
PUBLISHED = {"Utah": 0.334, "Nevada": 0.234, "Montana": 0.199, "Colorado": 0.164, "Connecticut": 0.069}


@pytest.fixture(scope="module")
def california():
    smoking = pd.read_csv(HERE / "smoking.csv")
    states = sorted(smoking["state"].unique())

    def mean(col, years):
        return smoking[smoking["year"].isin(years)].groupby("state")[col].mean()

    pre80 = range(1980, 1989)
    X = pd.concat([mean("lnincome", pre80), mean("age15to24", pre80), mean("retprice", pre80),
                   mean("beer", range(1984, 1989)), mean("cigsale", [1975]), mean("cigsale", [1980]),
                   mean("cigsale", [1988])], axis=1).T[states]
    Y = smoking.pivot(index="year", columns="state", values="cigsale")[states]
    return X, Y, states


def _fit(X, Y, treated, donors):
    pre = Y.loc[1970:1988]
    return fit_synth(X[treated].to_numpy(), X[donors].to_numpy(), pre[treated].to_numpy(), pre[donors].to_numpy())


@pytest.fixture(scope="module")
def reference():
    return json.loads((HERE / "reference.json").read_text())


def test_california_weights_match_adh_and_r_synth(california, reference):
    X, Y, states = california
    donors = [s for s in states if s != "California"]
    fit = _fit(X, Y, "California", donors)
    w = pd.Series(fit.weights, index=donors)
    r = pd.Series(reference["weights"])[donors]
    assert set(w[w > 0.01].index) == set(PUBLISHED) == set(r[r > 0.01].index)
    for state, published in PUBLISHED.items():
        assert abs(w[state] - published) < 0.04, (state, w[state], published)
        assert abs(w[state] - r[state]) < 0.04, (state, w[state], r[state])
    assert w.drop(list(PUBLISHED)).max() < 0.001
    assert np.isclose(w.sum(), 1.0) and (w >= 0).all()
    # the nested search finds a pre-period fit at least as good as Synth's (V is not identified)
    assert fit.loss_v <= reference["loss_v"] * (1 + 1e-9)
    assert fit.loss_v == pytest.approx(3.1559750589606, rel=1e-6)
    # the gap: observed minus synthetic, every year, within a pack of R's; 2000 about 26 packs lower
    gap = Y["California"].to_numpy() - Y[donors].to_numpy() @ fit.weights
    assert np.max(np.abs(gap - np.array(reference["gap"]))) < 1.0
    assert -28 < gap[-1] < -24
    # predictor balance close to R's synthetic California
    synth_x = X[donors].to_numpy() @ fit.weights
    assert np.allclose(synth_x, reference["balance"]["synthetic"], rtol=0.01)


def test_california_placebo_in_space_rank_is_first_of_39(california, reference):
    """Every donor as if treated: California's post/pre MSPE ratio is the largest, p = 1/39."""
    X, Y, states = california
    donors = [s for s in states if s != "California"]

    def ratio(treated, pool):
        fit = _fit(X, Y, treated, pool)
        gap = Y[treated].to_numpy() - Y[pool].to_numpy() @ fit.weights
        pre, post = gap[:19], gap[19:]
        return np.mean(post ** 2) / np.mean(pre ** 2)

    ours = {"California": ratio("California", donors)}
    for d in donors:
        ours[d] = ratio(d, [x for x in donors if x != d])
    rank = sum(v >= ours["California"] for v in ours.values())
    assert rank == reference["placebo_rank"] == 1
    assert rank / len(ours) == pytest.approx(reference["placebo_p_value"]) == pytest.approx(1 / 39)
    assert ours["California"] == pytest.approx(reference["mspe_ratio"], rel=0.1)
    # the placebos order the donors as R's do
    r = pd.Series({k: v["ratio"] for k, v in reference["placebos"].items()})[donors]
    o = pd.Series(ours)[donors]
    assert o.rank().corr(r.rank()) > 0.9


def test_ridge_ascm_matches_pysyncon_augsynth(california):
    _, Y, states = california
    ref = json.loads((HERE / "ascm_reference.json").read_text())
    donors = [s for s in states if s != "California"]
    pre = Y.loc[1970:1988]
    aug = ridge_augment(pre["California"].to_numpy(), pre[donors].to_numpy())
    assert aug.penalty == pytest.approx(ref["lambda"], rel=1e-9)
    assert np.max(np.abs(aug.weights - pd.Series(ref["weights"])[donors].to_numpy())) < 1e-5
    assert np.max(np.abs(aug.scm_weights - pd.Series(ref["scm_weights"])[donors].to_numpy())) < 1e-5
    assert np.isclose(aug.weights.sum(), 1.0)
    centre = Y[donors].mean(axis=1).to_numpy()
    gap = Y["California"].to_numpy() - (centre + (Y[donors].to_numpy() - centre[:, None]) @ aug.weights)
    assert np.max(np.abs(gap - np.array(ref["gap"]))) < 1e-3


def test_simplex_weights_against_scipy_slsqp():
    """The exact inner solver agrees with a general QP solver on random problems, inside and outside the hull."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    for k, J, inside in [(3, 10, False), (7, 38, False), (5, 12, True), (2, 30, True)]:
        A = rng.normal(size=(k, J))
        b = A @ rng.dirichlet(np.ones(J)) if inside else rng.normal(size=k) * 3
        w = simplex_weights(A, b)
        res = minimize(lambda x: np.sum((A @ x - b) ** 2), np.full(J, 1 / J), jac=lambda x: 2 * A.T @ (A @ x - b),
                       bounds=[(0, 1)] * J, constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                       method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
        assert np.all(w >= 0) and np.isclose(w.sum(), 1.0)
        assert np.sum((A @ w - b) ** 2) <= res.fun + 1e-9
        if inside:
            assert np.sum((A @ w - b) ** 2) < 1e-18
