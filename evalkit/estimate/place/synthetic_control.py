"""Synthetic control (Abadie, Diamond & Hainmueller 2010) for a comparison-area panel.

Two layers:

- The core, on arrays, as R's ``Synth`` (Hainmueller & Diamond, 1.1-8) computes it:
  :func:`simplex_weights` solves the inner problem (donor weights W, non-negative, summing to
  one, that best match the treated unit's predictors under predictor weights V) exactly, by
  Wolfe's (1976) minimum-norm-point algorithm; :func:`fit_synth` chooses V by the nested
  optimisation of ``Synth::synth``: predictors scaled by their standard deviation across units,
  V = |v| / sum|v|, the loss the mean squared pre-period outcome gap, Nelder-Mead and BFGS
  (central differences, step 1e-3 as R's ``optim``) each from equal and from regression-based
  starting values, the best of the four kept. :func:`ridge_augment` gives the ridge augmented
  synthetic control (Ben-Michael, Feller & Rothstein 2021, JASA 116:1789), with the penalty chosen
  by leave-one-period-out cross-validation and the one-standard-error rule as R's ``augsynth``.
- The place-based layer, :func:`synthetic_control`, fits one measure of a
  :class:`~evalkit.estimate.place.panel.ComparisonPanel` for one treated area, with predictors
  that are the pre-period outcome in 12-month blocks (and any covariates) and the fit over every
  pre-period month, then runs the placebos and builds the intervals described below.

Inference. *Placebo in space*: each donor in turn is treated as if it were the treated area, with
the other donors as its donors (the real treated area is never a donor); the statistic is the
ratio of post- to pre-period root mean squared prediction error, and the p-value its exact rank:
(number of areas whose ratio is at least the treated area's) / (J + 1). *Placebo in time*: the
start moved earlier (12 months by default) and the fit rerun on the months before the real start
only; a gap in that fake post-period is evidence against the design. *Intervals*: each placebo's
gap path, rescaled to the treated area's pre-period fit (multiplied by the treated area's
pre-RMSPE over the placebo's), is a draw of what the treated area's gap would look like with no
effect, if the treated area is exchangeable with the donors (the assumption behind the
permutation p-value). Inverting the permutation test of a shift, the band of the gap each month
is the observed gap minus the m-th largest and m-th smallest rescaled placebo gaps, and the
interval of the events prevented is built the same way from each placebo's cumulative gap in
events at the treated area's population; m = max(1, floor((1 - level) / 2 * (J + 1))), so the
level reached is 1 - 2m / (J + 1) (0.949 with 38 donors), reported with every interval. This is a
finite-sample permutation construction (Abadie, Diamond & Hainmueller 2010, section 2.4;
Firpo & Possebom 2018, J Causal Inference 6(2)); the conformal intervals of Chernozhukov,
Wuethrich & Zhu (2021, JASA 116:1849) are an alternative not built here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd

from evalkit.errors import EstimationError, check_choice
from evalkit.estimate.place.panel import ComparisonPanel, check_inside_hull

# R's optim defaults, which Synth uses through optimx
NM_MAX_EVALUATIONS = 500  # Nelder-Mead: maxit counts function evaluations
BFGS_MAX_ITERATIONS = 100
BFGS_STEP = 1e-3  # optim's ndeps: central differences
RELTOL = 1.490116e-08  # optim's reltol, sqrt(.Machine$double.eps)
PLACEBO_IN_TIME_MONTHS = 12
BLOCK_MONTHS = 12


class Method(str, Enum):
    synth = "synth"  # ADH with nested V (R Synth)
    augmented = "augmented"  # ridge augmented SCM on pre-period outcomes (Ben-Michael et al. 2021)


class SynthError(EstimationError):
    """The synthetic control cannot be estimated honestly on these data."""


# ------------------------------------------------------------------------------ the core


try:
    # the gufunc behind np.linalg.solve, called without its checks and wrapping (they cost four times
    # the solve itself on these tiny systems); the same LAPACK routine on the same matrix, so the
    # same bits. A singular matrix gives NaNs instead of LinAlgError, caught the same way below.
    from numpy.linalg._umath_linalg import solve1 as _lapack_solve
except ImportError:  # pragma: no cover - a numpy without it
    _lapack_solve = None

_RHS: dict[int, np.ndarray] = {}  # (0, ..., 0, 1) of each size, read-only
_BORDER: dict[int, np.ndarray] = {}  # [[0, 1], [1', 0]] of each size, read-only


def _bordered(n: int) -> np.ndarray:
    """A new (n + 1) x (n + 1) matrix with ones in the last row and column, zeros elsewhere."""
    border = _BORDER.get(n)
    if border is None:
        rhs = np.zeros(n + 1)
        rhs[n] = 1.0
        rhs.flags.writeable = False
        _RHS[n] = rhs  # before the border: whoever finds the border finds its right-hand side
        border = np.zeros((n + 1, n + 1))
        border[:n, n] = border[n, :n] = 1.0
        border.flags.writeable = False
        _BORDER[n] = border
    return border.copy()


def _affine_minimiser(Q: np.ndarray) -> np.ndarray:
    """Coefficients a, summing to 1, of the point of the affine hull of Q's columns nearest 0."""
    n = Q.shape[1]
    M = _bordered(n)
    M[:n, :n] = Q.T @ Q
    rhs = _RHS[n]
    if _lapack_solve is not None:
        with np.errstate(invalid="ignore"):
            sol = _lapack_solve(M, rhs, signature="dd->d")
        if all(map(math.isfinite, sol.tolist())):
            return sol[:n]
    else:
        try:
            sol = np.linalg.solve(M, rhs)
            if np.all(np.isfinite(sol)):
                return sol[:n]
        except np.linalg.LinAlgError:
            pass
    return np.linalg.lstsq(M, rhs, rcond=None)[0][:n]  # affinely dependent corral: least-norm answer


def _wolfe(P: np.ndarray, start: list[int] | None, tol: float, max_iter: int) -> tuple[list[int], np.ndarray]:
    # The arithmetic (which numpy/BLAS call makes each number, on which memory layout) is kept as
    # it is: Synth's outer optimisation is so flat that a last-bit change in W moves V and even which
    # start wins, so only the Python around it is made lean (P[:, list] is Fortran-ordered, and
    # ``Q.T @ Q`` and ``Q @ lam`` on it are the calls the answers were first computed with).
    norms = np.einsum("ij,ij->j", P, P)
    scale = max(float(norms.max()), 1e-300)
    corral, lam, Q = None, None, None
    if start:
        # warm start from a previous corral when its affine minimiser lies inside it (Wolfe's invariant)
        Q = P[:, start]
        alpha = _affine_minimiser(Q)
        if all(a > tol for a in alpha.tolist()):  # np.all(alpha > tol), NaN too
            corral, lam = list(start), alpha
    if corral is None:
        corral, lam = [int(norms.argmin())], np.ones(1)
        Q = P[:, corral]
    x = Q @ lam
    for _ in range(max_iter):
        dots = P.T @ x
        j = int(dots.argmin())
        if x @ x - dots[j] <= tol * scale or j in corral:
            break
        corral.append(j)
        lam = np.append(lam, 0.0)
        for _minor in range(max_iter):
            alpha = _affine_minimiser(P[:, corral])
            if all(a > tol for a in alpha.tolist()):  # np.all(alpha > tol), NaN too
                lam = alpha
                break
            # walk from lam towards alpha until the first weight reaches zero, and drop it
            neg = alpha <= tol
            denom = lam[neg] - alpha[neg]
            theta = float(np.min(np.where(denom > 0, lam[neg] / np.where(denom > 0, denom, 1.0), 1.0)))
            lam = theta * alpha + (1 - theta) * lam
            keep = lam > tol
            if keep.all():  # numerically stuck: drop the smallest weight
                keep[int(np.argmin(lam))] = False
            corral = [c for c, k in zip(corral, keep) if k]
            lam = lam[keep]
            if len(corral) == 1:
                lam = np.ones(1)
                break
        x = P[:, corral] @ lam
    return corral, lam


def simplex_weights(A: np.ndarray, b: np.ndarray, tol: float = 1e-12, max_iter: int = 10_000,
                    start: list[int] | None = None) -> np.ndarray:
    """argmin_w ||A w - b||^2 subject to w >= 0 and sum(w) = 1, exactly.

    The minimum-norm point of the convex hull of the columns of A - b (Wolfe 1976, Math Prog 11:128):
    a corral of at most rank + 1 donors grows one donor at a time and shrinks when an affine
    minimiser leaves the hull. ``start`` (the donors of a previous, nearby solution) only speeds it
    up. Ties between donors are broken by column order.
    """
    P = np.asarray(A, dtype=float) - np.asarray(b, dtype=float)[:, None]
    J = P.shape[1]
    if J == 1:
        return np.ones(1)
    corral, lam = _wolfe(P, start, tol, max_iter)
    w = np.zeros(J)
    w[corral] = np.clip(lam, 0.0, None)
    return w / w.sum()


@dataclass(frozen=True)
class SynthFit:
    """Donor weights and predictor weights of one synthetic control, with its two losses."""

    weights: np.ndarray  # one per donor, >= 0, summing to 1
    v: np.ndarray  # predictor weights (diagonal of V), summing to 1
    loss_v: float  # mean squared pre-period outcome gap (Synth's loss.v: the pre-period MSPE)
    loss_w: float  # predictor misfit under V, on the scaled predictors (Synth's loss.w)
    start: str  # which starting value and optimiser gave the minimum, e.g. "regression, BFGS"


def _scaled(X1: np.ndarray, X0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictors divided by their standard deviation across all units, treated included (Synth)."""
    both = np.column_stack([X0, X1])
    sd = both.std(axis=1, ddof=1)
    if np.any(sd == 0):
        raise SynthError("a predictor has no variation across the areas; expected predictors that differ between "
                         "areas (leave that predictor out)")
    return X1 / sd, X0 / sd[:, None]


def _w_given_v(v: np.ndarray, X1s: np.ndarray, X0s: np.ndarray, memory: list | None = None) -> np.ndarray:
    a = np.abs(v)
    return _w_given_root(np.sqrt(a / a.sum()), X1s, X0s, memory)


def _w_given_root(root: np.ndarray, X1s: np.ndarray, X0s: np.ndarray, memory: list | None) -> np.ndarray:
    """Donor weights with the predictors scaled by ``root`` (the square root of V's diagonal).

    ``memory`` holds the donors of the last solution (sorted, as ``np.flatnonzero`` gives them):
    the solution starts from them, and they are replaced by this solution's donors. Call it with
    'invalid' floating-point warnings off (a singular corral gives NaNs, handled here).
    """
    start = memory[0] if memory else None
    if start and X0s.shape[1] > 1 and _lapack_solve is not None:
        w = _still_optimal(X0s, X1s, root, start)
        if w is not None:
            return w  # the same donors: memory stays as it is
    w = simplex_weights(X0s * root[:, None], X1s * root, start=start)
    if memory is not None:
        memory[:] = [np.flatnonzero(w > 0).tolist()]
    return w


def _still_optimal(X0s: np.ndarray, X1s: np.ndarray, root: np.ndarray, start: list[int],
                   tol: float = 1e-12) -> np.ndarray | None:
    """:func:`simplex_weights` when the warm start's corral is the answer at once, else None.

    It is, for nearly every evaluation of the outer loss (V moves a little, the donors stay), and
    then Wolfe's algorithm does exactly this: the corral's affine minimiser, found inside it, and
    no donor that would improve on it. Every number is computed by the same call on the same
    operands as there (see :func:`_wolfe`), so the weights are the same to the last bit; what is
    saved is the Python between them. Anything else (the minimiser outside the corral, a better
    donor, a singular system) returns None, and the whole algorithm runs from the start.
    """
    col = root[:, None]
    P = X0s * col
    P -= X1s[:, None] * col  # the same products as (X1s * root)[:, None]
    Q = P[:, start]
    n = len(start)
    border = _BORDER.get(n)
    M = border.copy() if border is not None else _bordered(n)
    M[:n, :n] = Q.T @ Q
    sol = _lapack_solve(M, _RHS[n], signature="dd->d")  # the caller keeps a singular matrix's NaNs quiet
    values = sol.tolist()
    if not (math.isfinite(values[n]) and all(a > tol for a in values[:n])):  # NaN fails both
        return None
    lam = sol[:n]
    x = Q @ lam
    dots = P.T @ x
    j = int(dots.argmin())
    if j not in start:
        # Wolfe's test, x'x - min(P'x) <= tol * scale with scale the largest squared column norm,
        # first against a lower bound of that scale (x is a convex combination of columns, so x'x is
        # at most their largest squared norm): passing it passes the test itself
        xx = x @ x
        gap = xx - dots[j]
        if not gap <= tol * (xx * (1 - 1e-9)):
            norms = np.einsum("ij,ij->j", P, P)
            if not gap <= tol * max(float(norms.max()), 1e-300):
                return None
    w = np.zeros(P.shape[1])
    w[start] = lam  # np.clip(lam, 0, None) is lam: every weight is above tol
    w /= np.add.reduce(w)  # w.sum() without its Python wrapper
    return w


def _nelder_mead(f, x0: np.ndarray) -> np.ndarray:
    """R's optim Nelder-Mead: initial step 10% of the largest coordinate, 500 evaluations, reltol."""
    from scipy.optimize import minimize

    step = 0.1 * float(np.max(np.abs(x0))) or 0.1
    simplex = np.vstack([x0] + [x0 + step * np.eye(len(x0))[i] for i in range(len(x0))])
    res = minimize(f, x0, method="Nelder-Mead",
                   options={"initial_simplex": simplex, "maxfev": NM_MAX_EVALUATIONS, "xatol": 1e-10,
                            "fatol": RELTOL * max(abs(f(x0)), RELTOL)})
    return res.x


def _bfgs(f, x0: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize

    steps = np.eye(len(x0)) * BFGS_STEP  # row i: BFGS_STEP in coordinate i

    def grad(x):
        g = np.empty_like(x)
        for i, e in enumerate(steps):
            g[i] = (f(x + e) - f(x - e)) / (2 * BFGS_STEP)
        return g

    res = minimize(f, x0, jac=grad, method="BFGS", options={"maxiter": BFGS_MAX_ITERATIONS, "gtol": 1e-10})
    return res.x


def fit_synth(X1: np.ndarray, X0: np.ndarray, Z1: np.ndarray, Z0: np.ndarray,
              custom_v: np.ndarray | None = None) -> SynthFit:
    """Nested synthetic control as ``Synth::synth``: predictors X (k x units), outcomes Z (periods x units).

    ``X1``/``Z1`` belong to the treated unit, ``X0``/``Z0`` hold one column per donor.
    """
    X1, X0, Z1, Z0 = (np.asarray(a, dtype=float) for a in (X1, X0, Z1, Z0))
    if X0.shape[1] < 2:
        raise SynthError(f"{X0.shape[1]} donor(s); expected at least 2 for a synthetic control")
    X1s, X0s = _scaled(X1, X0)
    k = X0.shape[0]

    memory: list = []  # the last solution's donors: the next inner problem starts from them
    # The inner solution depends on v and on the donors it starts from (the last bits of W do), so
    # a value is reused only for the same v from the same start: one evaluation in 14 here (the
    # optimisers and their line searches come back to points they have seen).
    seen: dict[tuple[bytes, tuple[int, ...]], tuple[float, list[int]]] = {}
    n_pre = len(Z1)

    def loss(v: np.ndarray) -> float:
        if not all(map(math.isfinite, v.tolist())):
            return np.inf
        a = np.abs(v)
        total = np.add.reduce(a)  # a.sum() without its Python wrapper
        if total == 0:
            return np.inf
        key = (v.tobytes(), tuple(memory[0]) if memory else ())
        known = seen.get(key)
        if known is None:
            w = _w_given_root(np.sqrt(a / total), X1s, X0s, memory)
            r = Z1 - Z0 @ w
            known = seen[key] = (float(r @ r / n_pre), memory[0])
        else:
            memory[:] = [known[1]]
        return known[0]

    if custom_v is not None or k == 1:
        best_v = np.ones(1) if k == 1 else np.abs(np.asarray(custom_v, dtype=float))
        start = "custom V" if k > 1 else "one predictor"
    else:
        starts = [("equal", np.full(k, 1.0 / k))]
        # regression-based start, as Synth: V from the coefficients of the outcomes on the predictors
        Xall = np.column_stack([np.ones(X0s.shape[1] + 1), np.column_stack([X1s, X0s]).T])
        Zall = np.column_stack([Z1, Z0])
        try:
            beta = np.linalg.solve(Xall.T @ Xall, Xall.T @ Zall.T)[1:]
            sv = np.diag(beta @ beta.T)
            if np.all(np.isfinite(sv)) and sv.sum() > 0:
                starts.append(("regression", sv / sv.sum()))
        except np.linalg.LinAlgError:
            pass  # collinear predictors: Synth keeps the equal-weights start only
        best = None
        with np.errstate(invalid="ignore"):  # for the inner solver: see _w_given_root
            for name, x0 in starts:
                for opt, run in (("Nelder-Mead", _nelder_mead), ("BFGS", _bfgs)):
                    v = run(loss, x0)
                    value = loss(v)
                    if best is None or value < best[0]:
                        best = (value, v, f"{name}, {opt}")
        best_v, start = best[1], best[2]
    v = np.abs(best_v) / np.abs(best_v).sum()
    w = _w_given_v(v, X1s, X0s)
    r = Z1 - Z0 @ w
    d = X1s - X0s @ w
    return SynthFit(weights=w, v=v, loss_v=float(r @ r / len(Z1)), loss_w=float(d @ (v * d)), start=start)


@dataclass(frozen=True)
class RidgeAugment:
    weights: np.ndarray  # augmented weights (may be negative; sum to 1)
    scm_weights: np.ndarray  # the synthetic control weights they start from
    penalty: float  # ridge lambda
    penalty_grid: tuple[float, ...]
    cv_error: tuple[float, ...]


def _ridge_adjust(x1: np.ndarray, X0: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    """(x1 - X0 w)' (X0 X0' + lam I)^-1 X0 on donor-centred outcomes: the ridge correction of w."""
    M = X0 @ X0.T + lam * np.eye(X0.shape[0])
    return X0.T @ np.linalg.solve(M, x1 - X0 @ w)


def ridge_augment(y1_pre: np.ndarray, Y0_pre: np.ndarray, penalty: float | None = None,
                  n_penalties: int = 20, min_ratio: float = 1e-8) -> RidgeAugment:
    """Ridge ASCM weights from pre-period outcomes (periods x donors), as R ``augsynth`` (progfunc Ridge).

    Outcomes are centred on the donors' mean each period; the SCM weights match the treated unit's
    pre-period outcomes (V = I); the ridge term corrects what they leave unmatched. Without a given
    ``penalty``, lambda is chosen from a grid below the largest squared singular value by holding out
    one pre-period at a time and taking the largest lambda within one standard error of the least
    cross-validation error.
    """
    y1 = np.asarray(y1_pre, dtype=float)
    Y0 = np.asarray(Y0_pre, dtype=float)
    centre = Y0.mean(axis=1)
    X0 = Y0 - centre[:, None]
    x1 = y1 - centre
    T0 = len(x1)
    w_scm = simplex_weights(X0, x1)
    grid: tuple[float, ...] = ()
    errors: tuple[float, ...] = ()
    if penalty is None:
        top = float(np.linalg.svd(X0, compute_uv=False)[0] ** 2)
        step = min_ratio ** (1 / n_penalties)
        grid_arr = top * step ** (np.arange(n_penalties + 1) - 1)
        err = np.empty((T0 - 1, len(grid_arr)))
        for i in range(T0 - 1):
            keep = np.arange(T0) != i
            w_i = simplex_weights(X0[keep], x1[keep])
            for g, lam in enumerate(grid_arr):
                w_aug = w_i + _ridge_adjust(x1[keep], X0[keep], w_i, lam)
                err[i, g] = (x1[i] - X0[i] @ w_aug) ** 2
        means = err.mean(axis=0)
        ses = err.std(axis=0, ddof=1) / np.sqrt(T0 - 1)
        best = int(np.argmin(means))
        within = np.flatnonzero(means <= means[best] + ses[best])
        penalty = float(grid_arr[within[np.argmax(grid_arr[within])]])
        grid, errors = tuple(float(g) for g in grid_arr), tuple(float(e) for e in means)
    w = w_scm + _ridge_adjust(x1, X0, w_scm, penalty)
    return RidgeAugment(weights=w, scm_weights=w_scm, penalty=float(penalty), penalty_grid=grid, cv_error=errors)


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class DonorWeight:
    area: str
    weight: float


@dataclass(frozen=True)
class PlaceboRun:
    area: str  # the donor treated as if treated
    pre_rmspe: float
    post_rmspe: float
    ratio: float  # post / pre RMSPE


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float  # the level the permutation construction reaches: 1 - 2m / (J + 1)
    method: str


@dataclass(frozen=True)
class SyntheticControlResult:
    """One measure, one treated area. Rates are per ``rate_per``; events are counts."""

    measure: str
    age_group: str
    area: str
    start: str
    method: str  # "synth" or "augmented"
    convention: str  # what the numbers follow, in words
    rate_per: int
    weights: tuple[DonorWeight, ...]  # every donor, largest first
    predictor_weights: tuple[tuple[str, float], ...]
    pre_rmspe: float
    post_rmspe: float
    rmspe_ratio: float
    p_value: float  # placebo-in-space rank p-value over the treated area and its J donors
    rank: int
    n_donors: int
    mean_gap: float  # mean post-period gap in rate units (treated minus synthetic)
    mean_gap_interval: Interval
    events_observed: float
    events_counterfactual: float
    events_prevented: float  # counterfactual minus observed, over the post-period (positive = fewer events)
    events_prevented_interval: Interval
    placebos: tuple[PlaceboRun, ...]
    placebo_in_time: dict  # fake start, its pre/post RMSPE, mean gap in the fake post-period
    penalty: float | None = None  # ridge lambda of the augmented method
    months: pd.DataFrame = field(repr=False, default=None)  # the tidy frame: one row per month
    # each placebo's gap path (placebos x months, in the order of ``placebos``), for the spaghetti plot
    placebo_gaps: np.ndarray = field(repr=False, default=None)

    def to_frame(self) -> pd.DataFrame:
        return self.months

    def weights_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"area": w.area, "weight": w.weight} for w in self.weights])

    def placebo_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.placebos])


# ------------------------------------------------------------------------------ the place-based layer


def _predictors(rate: np.ndarray, start: int, covariates: list[np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Mean pre-period rate in 12-month blocks counting back from the start, then covariate means."""
    rows, names = [], []
    end = start
    while end > 0:
        begin = max(0, end - BLOCK_MONTHS)
        rows.append(rate[:, begin:end].mean(axis=1))
        names.append(f"rate, months {begin - start} to {end - start - 1}")
        end = begin
    for name, cov in covariates:
        rows.append(cov[:, :start].mean(axis=1))
        names.append(f"{name}, pre-period mean")
    return np.vstack(rows), names


def _fit_one(rate: np.ndarray, treated: int, donors: np.ndarray, start: int, method: Method,
             covariates: list) -> tuple[np.ndarray, np.ndarray, list[str], float | None]:
    """Weights (over ``donors``), predictor weights and names, and the ridge penalty."""
    if method == Method.augmented:
        aug = ridge_augment(rate[treated, :start], rate[donors, :start].T)
        return aug.weights, np.array([]), [], aug.penalty
    X, names = _predictors(rate, start, covariates)
    fit = fit_synth(X[:, treated], X[:, donors], rate[treated, :start], rate[donors, :start].T)
    return fit.weights, fit.v, names, None


def _synthetic_path(rate: np.ndarray, donors: np.ndarray, w: np.ndarray, method: Method) -> np.ndarray:
    if method == Method.augmented:
        # augmented weights act on donor-centred outcomes: add back the donors' mean path
        centre = rate[donors].mean(axis=0)
        return centre + w @ (rate[donors] - centre)
    return w @ rate[donors]


def _rmspe(gap: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gap ** 2))) if len(gap) else float("nan")


def permutation_interval(observed: float, null_draws: np.ndarray, level: float, what: str) -> Interval:
    """Invert the permutation test of a shift: observed minus the m-th largest / smallest null draw."""
    J = len(null_draws)
    m = max(1, int(np.floor((1 - level) / 2 * (J + 1))))
    draws = np.sort(null_draws)
    if m > J:
        return Interval(float("nan"), float("nan"), 0.0, what)
    return Interval(low=float(observed - draws[J - m]), high=float(observed - draws[m - 1]),
                    level=1 - 2 * m / (J + 1), method=what)


def synthetic_control(panel: ComparisonPanel, measure: str, area: str | None = None, *,
                      method: Method | str = Method.synth, level: float = 0.95,
                      placebo_in_time_months: int = PLACEBO_IN_TIME_MONTHS,
                      covariates: tuple[str, ...] = ()) -> SyntheticControlResult:
    """Synthetic control of one measure's rate for one treated area, with placebos and intervals."""
    check_choice("method", method if isinstance(method, str) else method.value, [m.value for m in Method])
    method = Method(method)
    t = panel.treated_area(area)
    m = panel.measure(measure)
    if method == Method.synth:
        check_inside_hull(panel, measure, t.area)
    for c in covariates:
        if c not in panel.covariates:
            raise SynthError(f"{panel.source}: covariate '{c}' is not in the panel; expected one of "
                             + (", ".join(panel.covariates) or "(none given when the panel was built)"))
    covs = [(c, panel.covariates[c]) for c in covariates]
    rate = panel.rate(measure)
    pops = panel.populations[m.population]
    counts = panel.counts[m.count]
    ti = panel.index(t.area)
    donors = panel.donor_index()
    s = t.start_index
    J = len(donors)

    w, v, names, penalty = _fit_one(rate, ti, donors, s, method, covs)
    synth = _synthetic_path(rate, donors, w, method)
    gap = rate[ti] - synth
    pre_rmspe, post_rmspe = _rmspe(gap[:s]), _rmspe(gap[s:])
    if pre_rmspe == 0:
        pre_rmspe = np.finfo(float).tiny  # an exact fit: the ratio is then infinite, as it should rank first

    # placebo in space: each donor as if treated, the other donors as its donors; the fits are
    # independent (most of a comparison-area run's time), so two processes share them out
    def placebo_gap(j: int) -> np.ndarray:
        others = np.delete(donors, j)
        wj, _, _, _ = _fit_one(rate, donors[j], others, s, method, covs)
        return rate[donors[j]] - _synthetic_path(rate, others, wj, method)

    from evalkit._parallel import fork_map

    placebo_gaps = np.empty((J, rate.shape[1]))
    runs = []
    for j, (d, gj) in enumerate(zip(donors, fork_map(placebo_gap, range(J), min_items=8))):
        placebo_gaps[j] = gj
        pre_j, post_j = _rmspe(gj[:s]), _rmspe(gj[s:])
        runs.append(PlaceboRun(area=panel.areas[d], pre_rmspe=pre_j, post_rmspe=post_j,
                               ratio=post_j / pre_j if pre_j > 0 else float("inf")))
    ratio = post_rmspe / pre_rmspe
    ratios = np.array([r.ratio for r in runs])
    rank = int(1 + np.sum(ratios >= ratio))
    p_value = rank / (J + 1)

    # intervals: placebo gaps rescaled to the treated area's pre-period fit
    pre_j = np.array([r.pre_rmspe for r in runs])
    scale = np.where(pre_j > 0, pre_rmspe / np.where(pre_j > 0, pre_j, 1.0), 1.0)
    null = placebo_gaps * scale[:, None]
    per = m.rate_per
    exposure = pops[ti] / per  # rate -> events in the treated area
    observed_events = counts[ti]
    counterfactual_events = synth * exposure
    post = slice(s, None)
    what = (f"permutation over {J} donors: placebo gaps rescaled by pre-period RMSPE, test inverted for a shift")
    band_lo, band_hi, band_level = [], [], []
    for col in range(rate.shape[1]):
        iv = permutation_interval(gap[col], null[:, col], level, what)
        band_lo.append(iv.low)
        band_hi.append(iv.high)
        band_level.append(iv.level)
    effect_events = float(np.sum(observed_events[post] - counterfactual_events[post]))
    null_events = (null[:, post] * exposure[post]).sum(axis=1)
    effect_iv = permutation_interval(effect_events, null_events, level, what)
    prevented_iv = Interval(low=-effect_iv.high, high=-effect_iv.low, level=effect_iv.level, method=what)
    mean_gap = float(gap[post].mean())
    mean_iv = permutation_interval(mean_gap, null[:, post].mean(axis=1), level, what)

    # placebo in time: a fake start earlier, fitted on the months before the real start only
    fake = s - placebo_in_time_months
    in_time: dict = {"months_earlier": placebo_in_time_months}
    if fake >= 2 and placebo_in_time_months > 0:
        sub = rate[:, :s]
        wf, _, _, _ = _fit_one(sub, ti, donors, fake, method, covs)
        gf = sub[ti] - _synthetic_path(sub, donors, wf, method)
        in_time.update(fake_start=panel.months[fake], pre_rmspe=_rmspe(gf[:fake]), post_rmspe=_rmspe(gf[fake:]),
                       mean_gap=float(gf[fake:].mean()),
                       ratio=_rmspe(gf[fake:]) / _rmspe(gf[:fake]) if _rmspe(gf[:fake]) > 0 else float("inf"))
    else:
        in_time.update(fake_start=None, note="too few pre-period months to move the start earlier")

    months = pd.DataFrame({
        "month": panel.months, "period": np.where(np.arange(len(panel.months)) < s, "pre", "post"),
        "observed_rate": rate[ti], "synthetic_rate": synth, "gap": gap,
        "gap_low": band_lo, "gap_high": band_hi, "band_level": band_level,
        "population": pops[ti], "observed_events": observed_events, "counterfactual_events": counterfactual_events,
        "events_prevented": counterfactual_events - observed_events,
    })
    months["cumulative_prevented"] = np.where(months["period"] == "post",
                                              months["events_prevented"].where(months["period"] == "post", 0).cumsum(),
                                              0.0)
    order = np.lexsort((np.array([panel.areas[d] for d in donors]), -w))
    weights = tuple(DonorWeight(panel.areas[donors[i]], float(w[i])) for i in order)
    convention = ("Abadie, Diamond & Hainmueller (2010) synthetic control, nested V as R Synth 1.1-8"
                  if method == Method.synth else
                  "ridge augmented synthetic control (Ben-Michael, Feller & Rothstein 2021) as R augsynth, "
                  "lambda by leave-one-period-out CV with the 1-SE rule")
    return SyntheticControlResult(
        measure=m.name, age_group=m.age_group, area=t.area, start=t.start, method=method.value,
        convention=convention, rate_per=per, weights=weights,
        predictor_weights=tuple(zip(names, (float(x) for x in v))),
        pre_rmspe=float(pre_rmspe), post_rmspe=post_rmspe, rmspe_ratio=float(ratio), p_value=float(p_value),
        rank=rank, n_donors=J, mean_gap=mean_gap, mean_gap_interval=mean_iv,
        events_observed=float(observed_events[post].sum()), events_counterfactual=float(counterfactual_events[post].sum()),
        events_prevented=-effect_events, events_prevented_interval=prevented_iv,
        placebos=tuple(runs), placebo_in_time=in_time, penalty=penalty, months=months, placebo_gaps=placebo_gaps)
