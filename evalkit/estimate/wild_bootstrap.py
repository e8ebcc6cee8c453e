"""Wild cluster restricted bootstrap (WCR) for one coefficient of a linear model with few clusters.

With fewer than about 30 clusters (eight community safety areas, 20 force areas) cluster-robust
t tests over-reject even with the CR1 small-sample factor and t(G-1). The restricted wild
cluster bootstrap (Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017; Roodman, MacKinnon,
Nielsen & Webb 2019, Stata ``boottest``, R ``fwildclusterboot``) keeps its size close to nominal:

1. fit the model with the null imposed (coefficient = b0) and keep its residuals;
2. for each draw, flip the residuals cluster by cluster with weights v_g (Rademacher: +-1;
   Webb's six-point weights when there are fewer than 12 clusters, as 2^G Rademacher patterns
   are too few there) and refit the unrestricted model;
3. p = share of draws whose |t*| exceeds the observed |t| (symmetric, "two-tailed");
4. the confidence interval collects every b0 the test does not reject (test inversion).

Fixed effects are handled exactly as if their dummies were in the regression (the bootstrap
errors are projected off the fixed effects, not only the data), and analysis weights as WLS.
The t statistics use CR1 throughout (the small-sample factor cancels in the p-value).

Determinism: each cluster's weights are drawn from a generator keyed by the seed and a hash of
the cluster's id, never by row or cluster position, so row order, other clusters and the
process do not change them. With Rademacher weights and 2^G <= draws every sign pattern is
enumerated (no randomness at all), as fwildclusterboot and boottest do.

The function is reusable by any design (DiD with comparison areas, cluster trials, synthetic
control checks): pass the outcome, the regressors, the cluster ids, the column to test and,
optionally, fixed-effect codes and weights.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# below this many clusters evalkit reports the bootstrap beside the analytic result
FEW_CLUSTERS = 30
# below this many clusters Rademacher weights give too few distinct patterns: Webb's six-point
WEBB_BELOW = 12
# below this many clusters even the bootstrap is fragile: warn
VERY_FEW_CLUSTERS = 10
DRAWS = 9999
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def cluster_weights(cluster_ids: Sequence, seed: int, draws: int, kind: str) -> tuple[np.ndarray, bool]:
    """(G x B) weights, one row per cluster in sorted id order, and whether they enumerate all
    Rademacher patterns. Each row comes from a generator keyed by (seed, hash of the id)."""
    ids = [str(c) for c in cluster_ids]
    G = len(ids)
    if kind == "rademacher" and 2 ** G <= draws:
        patterns = np.array(list(itertools.product([1.0, -1.0], repeat=G)), dtype=float).T
        return patterns, True
    rows = []
    for cid in ids:
        key = int.from_bytes(hashlib.sha256(cid.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng([int(seed), key])
        if kind == "rademacher":
            rows.append(rng.integers(0, 2, size=draws) * 2.0 - 1.0)
        else:
            rows.append(WEBB[rng.integers(0, 6, size=draws)])
    return np.vstack(rows), False


def _demean(M: np.ndarray, w: np.ndarray, fe: Sequence[np.ndarray], tol: float = 1e-11,
            max_iter: int = 1000) -> np.ndarray:
    """Weighted projection of the columns of M off the fixed effects (alternating projections)."""
    out = M.astype(float).copy()
    if not fe:
        return out
    sums = [np.bincount(c, weights=w) for c in fe]
    for _ in range(max_iter):
        before = out.copy()
        for c, wsum in zip(fe, sums):
            for j in range(out.shape[1]):
                out[:, j] -= (np.bincount(c, weights=w * out[:, j], minlength=len(wsum)) / wsum)[c]
        if np.max(np.abs(out - before)) <= tol * max(1.0, float(np.max(np.abs(before)))):
            break
    return out


def wild_cluster_bootstrap(y, X, clusters, column: int, *, fe: Sequence[np.ndarray] = (), weights=None,
                           null: float = 0.0, seed: int = 0, draws: int = DRAWS, weight_type: str = "auto",
                           level: float = 0.95, ci: bool = True, small_sample: float = 1.0) -> dict:
    """WCR p-value of H0: beta[column] = ``null`` and its test-inversion confidence interval.

    ``y`` (n,), ``X`` (n, k) the regressors other than fixed effects (with a constant if the
    model has one and no fixed effects), ``clusters`` (n,) any hashable ids, ``fe`` integer
    codes of fixed effects to sweep out, ``weights`` analysis weights (WLS). ``weight_type``:
    ``auto`` (Webb under 12 clusters, else Rademacher), ``rademacher`` or ``webb``.
    ``small_sample`` is the CR1 factor the reported t statistic is scaled by (it cancels in the
    p-value and the interval).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    fe = [np.asarray(pd.factorize(pd.Series(c), sort=True)[0], dtype=np.intp) for c in fe]
    codes, uniques = pd.factorize(pd.Series(clusters), sort=True)
    codes = np.asarray(codes, dtype=np.intp)
    G = len(uniques)
    if G < 2:
        raise ValueError("the wild cluster bootstrap needs at least two clusters")
    kind = ("webb" if G < WEBB_BELOW else "rademacher") if weight_type == "auto" else weight_type
    if kind not in ("rademacher", "webb"):
        raise ValueError(f"weight_type {weight_type!r}: expected auto, rademacher or webb")
    V, enumerated = cluster_weights(list(uniques), seed, draws, kind)
    B = V.shape[1]

    # sweep out fixed effects, then scale by sqrt(w): an OLS problem equivalent to the WLS one
    sw = np.sqrt(w)
    Z = _demean(np.column_stack([y, X]), w, fe) * sw[:, None]
    yt, Xt = Z[:, 0], Z[:, 1:]
    XtX_inv = np.linalg.pinv(Xt.T @ Xt)
    A = XtX_inv @ Xt.T  # (k, n): beta = A y
    beta = A @ yt
    resid = yt - Xt @ beta
    a = XtX_inv[column]  # row of the bread for the tested coefficient

    def cluster_sum(v: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=v, minlength=G)

    def se_of(scores_per_cluster: np.ndarray) -> float:
        return float(np.sqrt(np.sum(scores_per_cluster ** 2)))

    # observed: r_h = a' X_h' u_h per cluster
    r_obs = cluster_sum((Xt @ a) * resid)
    t_hat_se = se_of(r_obs)
    xa = Xt @ a  # (n,): a' x_i

    # restricted fit: y - b0 x_j on the other regressors; everything below is affine in b0
    rest = [j for j in range(k) if j != column]
    Xr = Xt[:, rest]
    proj = (lambda v: Xr @ np.linalg.lstsq(Xr, v, rcond=None)[0]) if rest else (lambda v: np.zeros_like(v))
    xj = Xt[:, column]
    u_y = yt - proj(yt)  # restricted residuals = u_y - b0 * u_x
    u_x = xj - proj(xj)

    # the bootstrap errors u_i v_g(i) must also be projected off the fixed effects: precompute,
    # for each cluster g, the projection of its residuals (u restricted to g), scaled like the data
    def projected(u: np.ndarray) -> np.ndarray:
        E = np.zeros((n, G))
        E[np.arange(n), codes] = u / sw
        return _demean(E, w, fe) * sw[:, None] if fe else E * sw[:, None]

    Py, Px = projected(u_y), projected(u_x)  # (n, G)

    def pieces(Pm: np.ndarray, q0: np.ndarray):
        """For y* = q0 + Pm v: beta*_j = c + p'v and per-cluster scores r = alpha + Gamma v."""
        p = A[column] @ Pm  # (G,)
        c = A[column] @ q0
        P_all = A @ Pm  # (k, G)
        b_all = A @ q0  # (k,)
        # r_h = sum_{i in h} a'x_i (q_i - x_i' beta*) = sum_i xa_i q_i - (sum_i xa_i x_i)' beta*
        XA = np.vstack([cluster_sum(xa * Xt[:, j]) for j in range(k)]).T  # (G_h, k)
        alpha = cluster_sum(xa * q0) - XA @ b_all
        Gamma = np.vstack([cluster_sum(xa * Pm[:, g]) for g in range(G)]).T - XA @ P_all  # (G_h, G)
        return c, p, alpha, Gamma

    # q0(b0) = yt - u(b0) + ... = (yt - u_y) + b0 * u_x ; Pm(b0) = Py - b0 * Px
    q_base, q_slope = yt - u_y, u_x
    cy, py, ay, Gy = pieces(Py, q_base)
    cx, px, ax, Gx = pieces(-Px, q_slope)  # the b0 slope of each piece

    def p_value(b0: float) -> tuple[float, float]:
        c, p = cy + b0 * cx, py + b0 * px
        alpha, Gam = ay + b0 * ax, Gy + b0 * Gx
        beta_star = c + p @ V  # (B,)
        r = alpha[:, None] + Gam @ V  # (G, B)
        se_star = np.sqrt(np.sum(r ** 2, axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            t_star = (beta_star - b0) / se_star
        t_obs = (beta[column] - b0) / t_hat_se
        # strictly beyond |t|, as boottest, fwildclusterboot and wildboottest count; the draws
        # v = +1 and v = -1 reproduce |t| exactly and are ties, which rounding must not decide
        return float(np.mean(np.abs(t_star) > np.abs(t_obs) * (1 + 1e-9))), float(t_obs)

    p, t_obs = p_value(null)
    out = {"p_value": p, "t_statistic": t_obs / np.sqrt(small_sample), "null": float(null), "clusters": int(G), "draws": int(B),
           "weights": kind, "enumerated": bool(enumerated), "seed": int(seed),
           "method": ("wild cluster restricted bootstrap (WCR), "
                      + ("Rademacher" if kind == "rademacher" else "Webb six-point") + " weights, "
                      + (f"all {B} sign patterns" if enumerated else f"{B} draws, seed {seed}")
                      + "; symmetric p-value; CI by test inversion")}
    if ci:
        alpha_level = 1 - level
        centre = float(beta[column])
        se = t_hat_se if t_hat_se > 0 else 1.0
        bounds = []
        for sign in (-1.0, 1.0):
            inner, step = centre, 2.0 * se
            outer = centre + sign * step
            tries = 0
            while p_value(outer)[0] > alpha_level and tries < 60:
                inner, step = outer, step * 2
                outer = centre + sign * step
                tries += 1
            if tries >= 60:
                bounds.append(None)
                continue
            for _ in range(60):  # bisection on the (step) p-value function
                mid = (inner + outer) / 2
                if p_value(mid)[0] > alpha_level:
                    inner = mid
                else:
                    outer = mid
                if abs(outer - inner) <= 1e-10 * max(1.0, abs(centre), se):
                    break
            bounds.append((inner + outer) / 2)
        out["ci_low"], out["ci_high"] = bounds
        out["ci_level"] = level
    return out


@dataclass(frozen=True)
class BootstrapResult:
    """A few-cluster bootstrap's answer, as the comparison-area DiD's hook returns it."""

    p_value: float
    ci_low: float | None
    ci_high: float | None
    draws: int
    method: str  # e.g. "wild cluster restricted bootstrap, Rademacher weights, 999 draws"


def area_did_hook(y, X, clusters, *, coefficient: int, seed: int, level: float, weights=None):
    """The few-cluster bootstrap in the shape of the comparison-area DiD's hook
    (:class:`evalkit.estimate.place.area_did.WildClusterBootstrap`): ``y`` and ``X`` arrive with the
    area and month effects already swept out, so the bootstrap errors are not projected off them
    again (exact for the area effects, which nest in the area clusters; for the month effects this
    is the usual partialled-out approximation). Pass ``fe=`` to :func:`wild_cluster_bootstrap`
    directly for the exact version."""
    out = wild_cluster_bootstrap(y, X, clusters, coefficient, weights=weights, seed=seed, level=level)
    return BootstrapResult(p_value=out["p_value"], ci_low=out["ci_low"], ci_high=out["ci_high"], draws=out["draws"],
                           method=out["method"] + " (fixed effects partialled out before the bootstrap)")
