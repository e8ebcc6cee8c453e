"""The reference distributions of evalkit's intervals and tests, from ``scipy.special``.

``scipy.stats`` takes about a third of a second to import, longer than matching 110,000 pupils, and
``evalkit run`` of a matched plan used it for nothing but these functions (issue 20). Each is the
function ``scipy.stats`` itself evaluates (scipy 1.15: ``t._ppf`` is ``stdtrit(df, q)``, ``t._sf`` is
``stdtr(df, -x)``, ``norm._ppf`` is ``ndtri``, ``norm._sf`` is ``ndtr(-x)``, ``f._sf`` is ``fdtrc``,
``chi2._sf`` is ``chdtrc``), so the numbers are bit for bit the same (tests/test_dist.py compares
them over grids, edges included). Arguments outside a distribution's domain give NaN, as there.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _quantile(q, valid, inner):
    """scipy.stats' ppf around its ``_ppf``: the support's ends at q = 0 and 1, NaN outside [0, 1]
    or for bad parameters, ``inner`` in between."""
    q = np.asarray(q, float)
    valid = valid & (q == q)
    out = np.where(valid & (q > 0) & (q < 1), inner, np.nan)
    out = np.where(valid & (q == 0), -np.inf, np.where(valid & (q == 1), np.inf, out))
    return out[()] if out.ndim == 0 else out


def t_ppf(q, df):
    """Student's t quantile (``scipy.stats.t.ppf(q, df)``)."""
    q, df = np.asarray(q, float), np.asarray(df, float)
    return _quantile(q, df > 0, special.stdtrit(df, q))


def _upper_tail(x, valid, lower_end: float, inner):
    """scipy.stats' sf around its ``_sf``: 1 at or below the support's lower end, 0 at +inf, NaN for
    NaN or bad parameters, ``inner`` in between."""
    x = np.asarray(x, float)
    out = np.where((x > lower_end) & (x < np.inf), inner, np.where(x <= lower_end, 1.0, 0.0))
    out = np.where(valid & (x == x), out, np.nan)
    return out[()] if out.ndim == 0 else out


def t_sf(x, df):
    """Student's t upper tail (``scipy.stats.t.sf(x, df)``)."""
    x, df = np.asarray(x, float), np.asarray(df, float)
    return _upper_tail(x, df > 0, -np.inf, special.stdtr(df, -x))


def norm_ppf(q):
    """Standard normal quantile (``scipy.stats.norm.ppf(q)``)."""
    q = np.asarray(q, float)
    return _quantile(q, True, special.ndtri(q))


def norm_sf(x):
    """Standard normal upper tail (``scipy.stats.norm.sf(x)``)."""
    x = np.asarray(x, float)
    return _upper_tail(x, True, -np.inf, special.ndtr(-x))


def f_sf(x, dfn, dfd):
    """F upper tail (``scipy.stats.f.sf(x, dfn, dfd)``)."""
    x, dfn, dfd = np.asarray(x, float), np.asarray(dfn, float), np.asarray(dfd, float)
    return _upper_tail(x, (dfn > 0) & (dfd > 0), 0.0, special.fdtrc(dfn, dfd, x))


def chi2_sf(x, df):
    """Chi-square upper tail (``scipy.stats.chi2.sf(x, df)``)."""
    x, df = np.asarray(x, float), np.asarray(df, float)
    return _upper_tail(x, df > 0, 0.0, special.chdtrc(df, x))


def rankdata(a) -> np.ndarray:
    """Average ranks of a 1-D array, ties sharing the mean of their ranks (``scipy.stats.rankdata``'s
    default); ranks are whole or half numbers, so any exact method gives the same floats. An input
    holding NaN gets NaN ranks throughout, as there."""
    x = np.asarray(a, dtype=float).ravel()
    if x.size and np.isnan(x).any():
        return np.full(x.size, np.nan)
    order = np.argsort(x, kind="mergesort")
    y = x[order]
    first = np.concatenate([[True], y[1:] != y[:-1]]) if x.size else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=x.size)
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(starts + 1 + (counts - 1) / 2, counts)
    return ranks
