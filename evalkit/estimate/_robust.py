"""Weighted regression with robust covariance: the one fitting core of the subgroup, equity and
delivery analyses.

Two families, each with absorbed fixed effects (swept out by weighted alternating projections,
so a panel's unit and period effects cost no memory) and three covariance conventions:

- ``HC1``: heteroskedasticity-robust, ``n / (n - K)`` (Stata ``, robust``; fixest ``"hetero"``);
- ``HC2``: heteroskedasticity-robust with the leverage correction ``e_i^2 / (1 - h_ii)``
  (MacKinnon & White 1985; R ``sandwich::vcovHC(type = "HC2")``, estimatr's default). For a
  difference in means it equals Welch's variance. Not defined here with absorbed fixed effects
  (their leverage is not in the within-transformed design), which is refused;
- ``CR1``: cluster-robust, ``G/(G-1) * (N-1)/(N-K)`` (Stata ``vce(cluster)``, fixest's default
  ``ssc()``), where K counts the explicit regressors plus the fixed effects *not nested* in the
  clusters, by fixest's rule (``fixef.K = "nested"``); several cluster variables combine as
  Cameron, Gelbach & Miller (2011) with each term's own ``G_j/(G_j-1)`` (sandwich's and the
  matched design's convention). Inference uses t(G - 1) with the fewest clusters (fixest
  ``t.df = "min"``).

Linear models use t(N - K) with HC covariances. Poisson models (log link, quasi-likelihood: the
variance is never assumed Poisson because the covariance is always robust) use the normal
reference, clustered or not, as R's ``glm`` with ``sandwich``/``lmtest`` and fixest's ``fepois``
report z values (and as evalkit's DiD and RCT rate ratios do).
Every :class:`Fit` carries its convention in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from evalkit.errors import EstimationError, OptionError

# alternating projections stop when no demeaned value moves by more than this (relative)
DEMEAN_TOL = 1e-12
DEMEAN_MAX_ITER = 10_000
# a column whose within-transformed norm is below this share of its raw norm is absorbed by the
# fixed effects (it varies only between their levels)
ABSORBED = 1e-9
POISSON_MAX_ITER = 100
POISSON_TOL = 1e-12


class Covariance(str, Enum):
    hc1 = "HC1"
    hc2 = "HC2"
    cr1 = "CR1"


@dataclass(frozen=True)
class Fit:
    """A fitted model: coefficients, robust covariance, and the conventions behind them."""

    names: tuple[str, ...]
    params: np.ndarray
    vcov: np.ndarray
    n: int  # rows used
    k_small_sample: int  # K of (N - 1)/(N - K) or n/(n - K)
    df: int | None  # degrees of freedom of the t reference; None = normal reference
    clusters: tuple[int, ...]  # clusters of each cluster variable (empty for HC)
    covariance: Covariance
    family: str  # "linear" or "poisson"
    convention: str  # the covariance and reference distribution in words
    dropped_rows: int = 0  # Poisson: rows of fixed-effect levels without any event

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Wald:
    """A joint Wald test of R b = 0."""

    statistic: float  # W = (Rb)' (R V R')^+ (Rb)
    q: int  # rank of R V R' (restrictions tested)
    df_den: int | None  # F's denominator df; None = chi-square reference
    p_value: float
    reference: str  # "F(q, df)" or "chi-square(q)"


def _codes(values) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values).reset_index(drop=True), sort=True)
    if (codes < 0).any():
        raise EstimationError("a cluster or fixed-effect column is missing for some rows; expected a value on every row")
    return codes.astype(np.intp), len(uniques)


def _dummies(codes: np.ndarray, size: int):
    import scipy.sparse as sp

    n = codes.size
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, size))


def demean(M: np.ndarray, w: np.ndarray, fixed_effects: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """Weighted within transformation of the columns of ``M`` by every fixed effect at once.

    Alternating projections (the method of fixest, reghdfe and lfe): subtract each effect's
    weighted group means in turn until nothing moves. One pass is exact for one effect or a
    balanced two-way panel; otherwise it converges to the projection on the joint space.
    """
    out = np.array(M, dtype=float, copy=True)
    if out.ndim == 1:
        out = out[:, None]
    if not fixed_effects:
        return out
    mats = []
    for codes, size in fixed_effects:
        D = _dummies(codes, size)
        wsum = np.asarray(D.T @ w).ravel()
        mats.append((D, codes, np.where(wsum > 0, wsum, 1.0)))
    scale = np.maximum(np.abs(out).max(axis=0), 1e-300)
    for _ in range(DEMEAN_MAX_ITER if len(mats) > 1 else 1):
        before = out.copy() if len(mats) > 1 else None
        for D, codes, wsum in mats:
            means = np.asarray(D.T @ (out * w[:, None])) / wsum[:, None]
            out -= means[codes]
        if before is None or np.max(np.abs(out - before) / scale) < DEMEAN_TOL:
            break
    return out


def _nested(fe_codes: np.ndarray, fe_size: int, cluster_codes: Sequence[np.ndarray]) -> bool:
    """Whether every level of the fixed effect lies within one cluster of some cluster variable."""
    for cl in cluster_codes:
        pairs = np.unique(fe_codes.astype(np.int64) * (int(cl.max()) + 1) + cl)
        if pairs.size == fe_size:
            return True
    return False


def _small_sample_k(k: int, fixed_effects, cluster_codes) -> int:
    """fixest's K with ``fixef.K = "nested"``: explicit regressors, plus the fixed effects not nested
    in the clusters (each effect after the first loses one level to the shared constant)."""
    if not fixed_effects:
        return k
    sizes = [size for _c, size in fixed_effects]
    n_fe = len(sizes)
    full = k + sum(sizes) - (n_fe - 1)
    if not cluster_codes:
        return full
    nested = [_nested(c, s, cluster_codes) for c, s in fixed_effects]
    if all(nested):
        return k + 1
    return full - sum(s - 1 for s, is_n in zip(sizes, nested) if is_n)


def _meat_clustered(scores: np.ndarray, cluster_codes: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Sum over clusters of the outer products of score sums; several variables combine by
    inclusion-exclusion (Cameron, Gelbach & Miller 2011), each term scaled by its G/(G-1)."""
    from itertools import combinations

    k = scores.shape[1]
    meat = np.zeros((k, k))
    counts = [int(c.max()) + 1 for c in cluster_codes]
    for size in range(1, len(cluster_codes) + 1):
        sign = 1.0 if size % 2 else -1.0
        for combo in combinations(cluster_codes, size):
            if size == 1:
                codes, g = combo[0], int(combo[0].max()) + 1
            else:
                codes, g = _codes(pd.MultiIndex.from_arrays(combo).to_flat_index())
            if g < 2:
                continue
            sums = np.asarray(_dummies(codes, g).T @ scores)
            meat += sign * (g / (g - 1)) * (sums.T @ sums)
    return meat, counts


def _covariance_label(cov: Covariance, family: str, clusters: tuple[int, ...], cluster_names: Sequence[str],
                      absorbed: bool, df: int | None) -> str:
    ref = "normal reference" if df is None else f"t({df}) reference"
    if cov is Covariance.cr1:
        by = " and ".join(f"{name} ({g} clusters)" for name, g in zip(cluster_names, clusters))
        multi = "; several cluster variables combined as Cameron, Gelbach & Miller (2011)" if len(clusters) > 1 else ""
        fe = ", K counting fixed effects not nested in the clusters (fixest's rule)" if absorbed else ""
        return (f"CR1 cluster-robust by {by}: G/(G-1) x (N-1)/(N-K){fe}, as Stata vce(cluster) and fixest"
                f"{multi}; {ref}")
    if cov is Covariance.hc2:
        return f"HC2 heteroskedasticity-robust (leverage-corrected, sandwich::vcovHC type HC2); {ref}"
    return f"HC1 heteroskedasticity-robust, n/(n-K) (Stata robust, fixest hetero); {ref}"


def _prepare(y, X, names, weights, clusters, absorb, covariance):
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    if len(names) != k:
        raise ValueError("one name per column of X")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise EstimationError("analysis weights must be positive and finite on every row analysed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise EstimationError("the outcome or a regressor is missing or infinite on some analysed rows")
    cluster_codes = [_codes(c)[0] for c in clusters]
    fixed_effects = [_codes(a) for a in absorb]
    if covariance is None:
        covariance = Covariance.cr1 if clusters else (Covariance.hc1 if absorb else Covariance.hc2)
    covariance = Covariance(covariance)
    if covariance is Covariance.cr1 and not clusters:
        raise OptionError("covariance: 'CR1' needs a cluster column; expected one of 'HC1', 'HC2' without clusters")
    if covariance is not Covariance.cr1 and clusters:
        raise OptionError(f"covariance: {covariance.value!r} ignores the clusters given; expected 'CR1' with clusters")
    if covariance is Covariance.hc2 and absorb:
        raise OptionError("covariance: 'HC2' is not computed with absorbed fixed effects (their leverage is not in "
                          "the within-transformed design); expected 'HC1' or 'CR1'")
    return y, X, list(names), w, cluster_codes, fixed_effects, covariance


def _check_absorbed(Xd: np.ndarray, X: np.ndarray, names: list[str]) -> None:
    raw = np.linalg.norm(X, axis=0)
    within = np.linalg.norm(Xd, axis=0)
    gone = [nm for nm, r, wn in zip(names, raw, within) if r > 0 and wn <= ABSORBED * r]
    if gone:
        raise EstimationError("absorbed by the fixed effects (they do not vary within them): " + ", ".join(gone))


def _solve(Xd: np.ndarray, target: np.ndarray, w: np.ndarray, names: list[str]):
    """Weighted least squares by the normal equations, with the columns scaled to unit norm (so the
    rank check is scale-free) and one step of iterative refinement (so the coefficients agree with
    a QR solution to about machine precision); returns the coefficients and (X'WX)^-1."""
    sw = np.sqrt(w)
    A = Xd * sw[:, None]
    b = target * sw
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    if np.any(norms == 0):
        zero = [nm for nm, v in zip(names, norms) if v == 0]
        raise EstimationError("the model's terms are empty on these data: " + ", ".join(zero))
    G = (A.T @ A) / np.outer(norms, norms)
    eig = np.linalg.eigvalsh(G)
    if eig[0] <= 1e-11 * eig[-1]:
        raise EstimationError("the model's terms are collinear on these data (e.g. a subgroup level in which every "
                              "unit has the same treatment): " + ", ".join(names))
    Ginv = np.linalg.inv(G)
    beta = Ginv @ (A.T @ b / norms)
    beta += Ginv @ (A.T @ (b - A @ (beta / norms)) / norms)  # refinement
    beta = beta / norms
    bread = Ginv / np.outer(norms, norms)
    return beta, bread


def _sandwich(Xd, resid_w, bread, w_leverage, covariance, cluster_codes, n, K):
    """V = bread * meat * bread with the small-sample factor of the convention.

    ``resid_w`` are the score weights (w_i e_i for WLS, w_i (y_i - mu_i) for Poisson);
    ``w_leverage`` the weights of the hat matrix (w_i, or w_i mu_i)."""
    scores = Xd * resid_w[:, None]
    if covariance is Covariance.cr1:
        meat, counts = _meat_clustered(scores, cluster_codes)
        meat = meat * (n - 1) / (n - K)
    elif covariance is Covariance.hc2:
        h = w_leverage * np.einsum("ij,jk,ik->i", Xd, bread, Xd)
        if np.any(h >= 1 - 1e-12):
            raise EstimationError("a unit has leverage one (it alone determines a coefficient), so HC2 is not "
                                  "defined; a subgroup level or category with a single unit in an arm?")
        s = scores / np.sqrt(1 - h)[:, None]
        meat, counts = s.T @ s, []
    else:
        meat, counts = scores.T @ scores * n / (n - K), []
    V = bread @ meat @ bread
    return (V + V.T) / 2, tuple(counts)


def fit_linear(y, X, names: Sequence[str], *, weights=None, clusters: Sequence = (), cluster_names: Sequence[str] = (),
               absorb: Sequence = (), covariance: Covariance | str | None = None) -> Fit:
    """Weighted least squares of ``y`` on the columns of ``X`` (no constant added), with fixed
    effects ``absorb`` swept out and the robust covariance of the convention."""
    y, X, names, w, cluster_codes, fixed_effects, covariance = _prepare(y, X, names, weights, clusters, absorb,
                                                                        covariance)
    n, k = X.shape
    if fixed_effects:
        M = demean(np.column_stack([y, X]), w, fixed_effects)
        yd, Xd = M[:, 0], M[:, 1:]
        _check_absorbed(Xd, X, names)
    else:
        yd, Xd = y, X
    beta, bread = _solve(Xd, yd, w, names)
    resid = yd - Xd @ beta
    K = _small_sample_k(k, fixed_effects, cluster_codes)
    if n - K < 1:
        raise EstimationError(f"{n} rows for {K} parameters: no degrees of freedom left for a standard error")
    V, counts = _sandwich(Xd, w * resid, bread, w, covariance, cluster_codes, n, K)
    df = (min(counts) - 1) if covariance is Covariance.cr1 else n - K
    label = _covariance_label(covariance, "linear", counts, cluster_names or [f"cluster {i + 1}" for i in range(len(counts))],
                              bool(fixed_effects), df)
    return Fit(tuple(names), beta, V, n, K, df, counts, covariance, "linear", label)


def fit_poisson(y, X, names: Sequence[str], *, weights=None, offset=None, clusters: Sequence = (),
                cluster_names: Sequence[str] = (), absorb: Sequence = (),
                covariance: Covariance | str | None = None) -> Fit:
    """Poisson regression (log link) by iteratively reweighted least squares, with fixed effects
    swept out at each step (as fixest::fepois) and a robust covariance.

    With a binary outcome this is the "modified Poisson" risk-ratio model (Zou 2004); with counts
    and ``offset = log(exposure)`` a rate-ratio model. Levels of a fixed effect whose rows have
    no event at all carry no information (their effect is minus infinity) and are dropped first,
    as fixest does; ``Fit.dropped_rows`` counts them.
    """
    y, X, names, w, cluster_codes, fixed_effects, covariance = _prepare(y, X, names, weights, clusters, absorb,
                                                                        covariance)
    if np.any(y < 0):
        raise EstimationError("a ratio (Poisson) model needs outcomes >= 0")
    off = np.zeros(y.size) if offset is None else np.asarray(offset, dtype=float)
    keep = np.ones(y.size, dtype=bool)
    for _ in range(10):  # dropping one effect's empty levels can empty another's
        changed = False
        for codes, size in fixed_effects:
            totals = np.bincount(codes[keep], weights=y[keep], minlength=size)
            empty = keep & (totals[codes] <= 0)
            if empty.any():
                keep &= ~empty
                changed = True
        if not changed:
            break
    dropped = int((~keep).sum())
    if dropped:
        y, X, w, off = y[keep], X[keep], w[keep], off[keep]
        cluster_codes = [_codes(c[keep])[0] for c in cluster_codes]
        fixed_effects = [_codes(c[keep]) for c, _s in fixed_effects]
    n, k = X.shape
    if y.sum() <= 0:
        raise EstimationError("no events in the rows analysed, so no ratio can be estimated")
    mu = (y + y.mean()) / 2
    eta = np.log(mu)
    dev_old = math.inf
    for _ in range(POISSON_MAX_ITER):
        z = eta - off + (y - mu) / mu
        wi = w * mu
        M = demean(np.column_stack([z, X]), wi, fixed_effects)
        zd, Xd = M[:, 0], M[:, 1:]
        beta, _bread = _solve(Xd, zd, wi, names)
        eta = off + z - (zd - Xd @ beta)
        mu = np.exp(eta)
        dev = 2 * float(np.sum(w * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - (y - mu))))
        if abs(dev - dev_old) <= POISSON_TOL * (0.1 + abs(dev)):
            break
        dev_old = dev
    else:
        raise EstimationError("the ratio (Poisson) model did not converge; is an arm or subgroup without events?")
    wi = w * mu
    Xd = demean(X, wi, fixed_effects)
    if fixed_effects:
        _check_absorbed(Xd, X, names)
    bread = np.linalg.inv(Xd.T @ (Xd * wi[:, None]))
    K = _small_sample_k(k, fixed_effects, cluster_codes)
    if n - K < 1:
        raise EstimationError(f"{n} rows for {K} parameters: no degrees of freedom left for a standard error")
    V, counts = _sandwich(Xd, w * (y - mu), bread, wi, covariance, cluster_codes, n, K)
    df = None  # z reference for the ratio model, clustered or not
    label = _covariance_label(covariance, "poisson", counts, cluster_names or [f"cluster {i + 1}" for i in range(len(counts))],
                              bool(fixed_effects), df)
    return Fit(tuple(names), beta, V, n, K, df, counts, covariance, "poisson", label, dropped_rows=dropped)


def contrast(fit: Fit, vector) -> tuple[float, float]:
    """Estimate and standard error of c'b."""
    c = np.asarray(vector, dtype=float)
    return float(c @ fit.params), float(math.sqrt(max(float(c @ fit.vcov @ c), 0.0)))


def interval(fit: Fit, estimate: float, se: float, level: float) -> tuple[float, float, float]:
    """(low, high, two-sided p) from the fit's reference distribution; NaN where se is not positive."""
    from evalkit.estimate import _dist

    if not (math.isfinite(se) and se > 0):
        return math.nan, math.nan, math.nan
    if fit.df is None:
        q = float(_dist.norm_ppf(0.5 + level / 2))
        p = float(2 * _dist.norm_sf(abs(estimate / se)))
    else:
        q = float(_dist.t_ppf(0.5 + level / 2, fit.df))
        p = float(2 * _dist.t_sf(abs(estimate / se), fit.df))
    return estimate - q * se, estimate + q * se, p


def wald(fit: Fit, R) -> Wald:
    """Joint Wald test of R b = 0: F(q, df) = W/q when the fit uses a t reference, chi-square(q)
    otherwise. The pseudo-inverse and rank keep it defined when clusters are few (a cluster-robust
    covariance has rank at most G - 1)."""
    from evalkit.estimate import _dist

    R = np.atleast_2d(np.asarray(R, dtype=float))
    rb = R @ fit.params
    middle = R @ fit.vcov @ R.T
    q = int(np.linalg.matrix_rank(middle))
    if q == 0:
        return Wald(math.nan, 0, fit.df, math.nan, "not testable (no variation in the contrasts)")
    W = float(rb @ np.linalg.pinv(middle) @ rb)
    if fit.df is None:
        return Wald(W, q, None, float(_dist.chi2_sf(W, q)), f"chi-square({q})")
    return Wald(W, q, fit.df, float(_dist.f_sf(W / q, q, fit.df)), f"F({q}, {fit.df})")
