"""Sensitivity of an event-study effect to violations of parallel trends (Rambachan & Roth 2023).

When the pre-trend test fails, "the DiD is biased" is not the end of the analysis: Rambachan &
Roth's *honest* DiD asks how large a violation of parallel trends would have to be to overturn
the conclusion, and gives confidence intervals that stay valid if the violation is bounded.

Smoothness restrictions, Delta^SD(M): the differential trend may bend by at most M between
consecutive periods (M = 0: it continues linearly from the pre-period). For each M the interval
is the fixed-length confidence interval (FLCI) of R ``HonestDiD::createSensitivityResults``
(method "FLCI", its default for Delta^SD): the affine estimator l_pre' beta_pre + l' beta_post
with the smallest worst-case half-length over Delta^SD(M) (Armstrong & Kolesar 2018), found by
second-order cone programs (cvxpy). The one deliberate difference: HonestDiD simulates the
folded-normal quantile with 10^6 draws; evalkit computes it exactly (a difference in the 4th
significant digit at most, tested against HonestDiD's README numbers).

Inputs are the event-study coefficients (pre-periods first, the reference period left out) and
their covariance; the target is the first post-period effect unless ``l_vec`` says otherwise.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05


def _folded_normal_quantile(p: float, mu: float) -> float:
    """c with P(|N(mu, 1)| <= c) = p (HonestDiD's .qfoldednormal, exactly rather than simulated)."""
    from scipy import optimize, stats

    mu = abs(float(mu))
    f = lambda c: stats.norm.cdf(c - mu) - stats.norm.cdf(-c - mu) - p  # noqa: E731
    hi = mu + 10.0
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def _variance_matrices(sigma: np.ndarray, K: int, l_vec: np.ndarray):
    """Var(l_pre' b_pre + l' b_post) as a quadratic in (U, W), l_pre = WtoL(W) (HonestDiD's
    .createMatricesForVarianceFromW)."""
    s_pre, s_prepost = sigma[:K, :K], sigma[:K, K:]
    s_post = float(l_vec @ sigma[K:, K:] @ l_vec)
    w_to_l = np.eye(K)
    for c in range(K - 1):
        w_to_l[c + 1, c] = -1.0
    stack = np.hstack([np.zeros((K, K)), w_to_l])
    quad = stack.T @ s_pre @ stack
    lin = 2 * stack.T @ s_prepost @ l_vec
    return (quad + quad.T) / 2, lin, s_post, w_to_l


def _problem_parts(K: int, l_vec: np.ndarray):
    T = len(l_vec)
    lower = np.tril(np.ones((K, K)))
    target = float(np.arange(1, T + 1) @ l_vec)
    constant = sum(abs(float(np.arange(1, s + 1) @ l_vec[T - s:])) for s in range(1, T + 1)) - target
    return lower, target, constant


def _solve(objective, constraints):  # noqa: D401 - one convex program, with a fallback solver
    import cvxpy as cp

    prob = cp.Problem(objective, constraints)
    for solver in ("CLARABEL", "SCS"):
        try:
            prob.solve(solver=solver)
        except cp.error.SolverError:
            continue
        if prob.status in ("optimal", "optimal_inaccurate"):
            return prob
    return prob


class _BiasProblem:
    """The worst-case-bias program of HonestDiD's .findWorstCaseBiasGivenH, compiled once with the
    SD bound h as a parameter (the search over h solves it a few dozen times)."""

    def __init__(self, sigma: np.ndarray, K: int, l_vec: np.ndarray):
        import cvxpy as cp

        quad, lin, const, self.w_to_l = _variance_matrices(sigma, K, l_vec)
        lower, target, self.constant = _problem_parts(K, l_vec)
        self.x = cp.Variable(2 * K)
        U, self.W = self.x[:K], self.x[K:]
        self.h2 = cp.Parameter(nonneg=True)
        cons = [lower @ self.W - U <= 0, -lower @ self.W - U <= 0, cp.sum(self.W) == target,
                cp.quad_form(self.x, cp.psd_wrap(quad)) + lin @ self.x + const <= self.h2]
        self.problem = cp.Problem(cp.Minimize(self.constant + cp.sum(U)), cons)

    def __call__(self, h: float):
        import cvxpy as cp

        self.h2.value = float(h) ** 2
        for solver in ("CLARABEL", "SCS"):
            try:
                self.problem.solve(solver=solver)
            except cp.error.SolverError:
                continue
            if self.problem.status in ("optimal", "optimal_inaccurate"):
                return float(self.problem.value), self.w_to_l @ np.asarray(self.W.value).ravel()
        return np.inf, None


def _lowest_h(sigma: np.ndarray, K: int, l_vec: np.ndarray) -> tuple[float, np.ndarray]:
    import cvxpy as cp

    quad, lin, const, w_to_l = _variance_matrices(sigma, K, l_vec)
    lower, target, _ = _problem_parts(K, l_vec)
    x = cp.Variable(2 * K)
    U, W = x[:K], x[K:]
    cons = [lower @ W - U <= 0, -lower @ W - U <= 0, cp.sum(W) == target]
    prob = _solve(cp.Minimize(cp.quad_form(x, cp.psd_wrap(quad)) + lin @ x + const), cons)
    return float(np.sqrt(max(prob.value, 0.0))), w_to_l @ np.asarray(W.value).ravel()


def _h_for_minimum_bias(sigma: np.ndarray, K: int, l_vec: np.ndarray) -> float:
    quad, lin, const, _ = _variance_matrices(sigma, K, l_vec)
    _, target, _ = _problem_parts(K, l_vec)
    x = np.concatenate([np.zeros(K), np.zeros(K - 1), [target]])
    return float(np.sqrt(x @ quad @ x + lin @ x + const))


class FLCI:
    """Fixed-length confidence intervals for l' tau_post under Delta^SD(M), for any M, over one
    event study (HonestDiD's findOptimalFLCI); the programs are compiled once."""

    def __init__(self, betahat, sigma, num_pre: int, num_post: int, l_vec=None, alpha: float = ALPHA):
        self.b = np.asarray(betahat, dtype=float)
        S = np.asarray(sigma, dtype=float)
        self.l_vec = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float)
        self.K, self.alpha = num_pre, alpha
        self.h0 = _h_for_minimum_bias(S, num_pre, self.l_vec)
        self.h_min, self.l_min_var = _lowest_h(S, num_pre, self.l_vec)
        self.bias = _BiasProblem(S, num_pre, self.l_vec)

    def _half(self, h: float, M: float) -> float:
        bias, _ = self.bias(h)
        return _folded_normal_quantile(1 - self.alpha, M * bias / h) * h if np.isfinite(bias) else np.inf

    def interval(self, M: float) -> dict:
        from scipy import optimize

        if M == 0 or self.h0 <= self.h_min * (1 + 1e-9):
            h_star = self.h_min  # with no bias to trade against, the smallest SD wins
        else:
            # the half-length is quasi-convex in h on [h_min, h0]: bounded scalar minimisation
            res = optimize.minimize_scalar(lambda h: self._half(h, M), bounds=(self.h_min * (1 + 1e-9), self.h0),
                                           method="bounded", options={"xatol": 1e-6 * self.h0})
            h_star = self.h0 if self._half(self.h0, M) < res.fun else float(res.x)
        if h_star == self.h_min:
            # the bias program's feasible set is one point there: take the minimum-variance
            # estimator itself (asking a solver for it through the variance bound is inaccurate)
            l_pre = self.l_min_var
            lower, _, constant = _problem_parts(self.K, self.l_vec)
            bias = constant + float(np.sum(np.abs(lower @ np.cumsum(l_pre))))
        else:
            bias, l_pre = self.bias(h_star)
        half = _folded_normal_quantile(1 - self.alpha, M * bias / h_star) * h_star
        v = np.concatenate([l_pre, self.l_vec])
        centre = float(v @ self.b)
        return {"M": float(M), "lb": centre - half, "ub": centre + half, "method": "FLCI", "delta": "DeltaSD",
                "half_length": float(half)}


def flci(betahat, sigma, num_pre: int, num_post: int, M: float, l_vec=None, alpha: float = ALPHA) -> dict:
    """One fixed-length confidence interval (see :class:`FLCI`)."""
    return FLCI(betahat, sigma, num_pre, num_post, l_vec, alpha).interval(M)


def smoothness_upper_bound(betahat, sigma, num_pre: int, alpha: float = ALPHA) -> float:
    """HonestDiD's DeltaSD_upperBound_Mpre: the largest one-sided upper bound of the pre-period
    second differences, the top of its default grid of M."""
    from scipy import stats

    b = np.asarray(betahat, dtype=float)[:num_pre]
    S = np.asarray(sigma, dtype=float)[:num_pre, :num_pre]
    A = np.zeros((num_pre - 1, num_pre + 1))
    for r in range(num_pre - 1):
        A[r, r:r + 3] = [1, -2, 1]
    A = np.delete(A, num_pre, axis=1)[:, :num_pre]  # the reference period (0) dropped; no post periods
    A = np.vstack([A, -A])
    diffs = A @ b
    se = np.sqrt(np.diag(A @ S @ A.T))
    return float(np.max(diffs + stats.norm.ppf(1 - alpha) * se))


def original_ci(betahat, sigma, num_pre: int, num_post: int, l_vec=None, alpha: float = ALPHA) -> dict:
    from scipy import stats

    l_vec = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float)
    b = np.asarray(betahat, dtype=float)[num_pre:]
    S = np.asarray(sigma, dtype=float)[num_pre:, num_pre:]
    est, se = float(l_vec @ b), float(np.sqrt(l_vec @ S @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"estimate": est, "lb": est - z * se, "ub": est + z * se, "method": "Original"}


def smoothness_sensitivity(betahat, sigma, num_pre: int, num_post: int, Mvec=None, l_vec=None,
                           alpha: float = ALPHA) -> dict:
    """FLCIs over a grid of M (HonestDiD's default grid: 10 values from 0 to the pre-period bound),
    the original CI, and the breakdown M: the largest M in the grid whose interval excludes 0."""
    if Mvec is None:
        top = smoothness_upper_bound(betahat, sigma, num_pre, alpha) if num_pre > 1 else \
            float(np.sqrt(np.asarray(sigma)[0, 0]))
        Mvec = np.linspace(0.0, max(top, 0.0), 10)
    solver = FLCI(betahat, sigma, num_pre, num_post, l_vec, alpha)
    rows = [solver.interval(float(M)) for M in Mvec]
    breakdown = None  # the largest M up to which every interval of the grid excludes 0
    for r in rows:
        if not (r["lb"] > 0 or r["ub"] < 0):
            break
        breakdown = r["M"]
    return {"restriction": "smoothness (Delta^SD): the differential trend bends by at most M per period",
            "rows": rows, "original": original_ci(betahat, sigma, num_pre, num_post, l_vec, alpha),
            "breakdown_M": breakdown, "alpha": alpha,
            "reference": "Rambachan & Roth (2023) Rev Econ Stud 90(5):2555-2591; R HonestDiD createSensitivityResults "
                         "(method FLCI)"}


def event_study_sensitivity(event_times, estimates, covariance, alpha: float = ALPHA) -> dict | None:
    """Smoothness sensitivity of the first post-period effect and of the average post effect, from
    event-time estimates with the reference period (-1) left out; None without two leads and a lag."""
    e = np.asarray(event_times, dtype=int)
    order = np.argsort(e)
    e, b = e[order], np.asarray(estimates, dtype=float)[order]
    V = np.asarray(covariance, dtype=float)[np.ix_(order, order)]
    keep = e != -1
    e, b, V = e[keep], b[keep], V[np.ix_(keep, keep)]
    pre, post = int(np.sum(e < -1)), int(np.sum(e >= 0))
    if pre < 2 or post < 1 or not np.all(np.diff(e[e < -1]) == 1) or not np.all(np.diff(e[e >= 0]) == 1):
        return None
    out = {"event_times": e.tolist(), "num_pre_periods": pre, "num_post_periods": post,
           "first_post_period": smoothness_sensitivity(b, V, pre, post, alpha=alpha)}
    if post > 1:
        out["average_post_effect"] = smoothness_sensitivity(b, V, pre, post, l_vec=np.full(post, 1 / post),
                                                            alpha=alpha)
    out["relative_magnitudes"] = {"status": "not computed", "reason": "relative-magnitude bounds (Delta^RM, "
                                  "C-LF) are not yet implemented in evalkit; use R HonestDiD with the event-time "
                                  "estimates and covariance in the group_time section"}
    return out
