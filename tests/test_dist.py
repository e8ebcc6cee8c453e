"""evalkit's reference distributions (evalkit.estimate._dist) are scipy.stats' own, bit for bit.

They are computed from scipy.special so that a run need not import scipy.stats (a third of a second,
issue 20); every estimate's interval and p-value goes through them, so any difference would move
published numbers. Compared over grids that include the edges (0, 1, infinities, NaN, bad degrees of
freedom), as scalars and as arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.estimate import _dist

Q = np.array([0.0, 1e-300, 1e-12, 0.001, 0.025, 0.05, 0.5, 0.8, 0.95, 0.975, 0.999, 1 - 1e-12, 1.0, -0.1, 1.1,
              np.nan])
X = np.array([-np.inf, -40.0, -3.0, -1.96, -0.5, 0.0, 1e-9, 0.5, 1.0, 1.96, 2.5, 8.0, 40.0, 1e4, np.inf, np.nan])
DF = np.array([0.5, 1.0, 2.0, 3.0, 7.0, 29.0, 30.0, 119.0, 1e4, 1e10, np.inf, 0.0, -1.0, np.nan])


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("ours, theirs, grid", [
    (_dist.norm_ppf, stats.norm.ppf, Q), (_dist.norm_sf, stats.norm.sf, X)])
def test_normal_functions_equal_scipy_stats(ours, theirs, grid):
    assert same(ours(grid), theirs(grid))
    for v in grid:
        got, want = ours(v), theirs(v)
        assert type(got) is type(want) and same(got, want), (v, got, want)
        assert type(ours(float(v))) is type(theirs(float(v)))


@pytest.mark.parametrize("ours, theirs, grid", [
    (_dist.t_ppf, stats.t.ppf, Q), (_dist.t_sf, stats.t.sf, X), (_dist.chi2_sf, stats.chi2.sf, X)])
def test_one_parameter_functions_equal_scipy_stats(ours, theirs, grid):
    g, d = np.meshgrid(grid, DF)
    assert same(ours(g, d), theirs(g, d))
    for v in grid:
        for df in (1, 4, 17, 1e6, np.int64(12), float("inf")):
            got, want = ours(v, df), theirs(v, df)
            assert type(got) is type(want) and same(got, want), (v, df, got, want)


def test_f_upper_tail_equals_scipy_stats():
    x, d1, d2 = np.meshgrid(X, DF[:9], DF)
    assert same(_dist.f_sf(x, d1, d2), stats.f.sf(x, d1, d2))
    for v in X:
        assert same(_dist.f_sf(v, 3, 41), stats.f.sf(v, 3, 41))


@pytest.mark.parametrize("values", [
    [], [3.0], [2.0, 2.0], [0.5, 3.0, 0.5, 1.0, 3.0, 3.0, -2.0, 0.0], list(np.arange(50) % 7),
    list(np.random.default_rng(1).normal(size=501)), list(np.round(np.random.default_rng(2).normal(size=2000), 1)),
    [1.0, np.nan, 2.0], [np.inf, -np.inf, 0.0, np.inf]])
def test_average_ranks_equal_scipy_stats(values):
    assert same(_dist.rankdata(values), stats.rankdata(values))
