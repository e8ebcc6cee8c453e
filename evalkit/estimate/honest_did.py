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

Relative magnitudes, Delta^RM(Mbar): the violation after the start moves by at most Mbar times
the largest move between consecutive periods before it. The interval is HonestDiD's default for
it, the conditional least-favourable hybrid (C-LF) of Andrews, Roth & Pakes, on HonestDiD's grid
and with HonestDiD's simulation draws (see the section below): equal to its bounds to rounding.

Inputs are the event-study coefficients (pre-periods first, the reference period left out) and
their covariance; the target is the first post-period effect unless ``l_vec`` says otherwise.
"""

from __future__ import annotations

import math

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
    if post == 1:  # HonestDiD tests one post period with its no-nuisance ARP test, which evalkit has not ported
        rm = {"status": "not computed", "reason": "relative-magnitude bounds with a single post period are not "
              "implemented in evalkit; use R HonestDiD with the event-time estimates and covariance in the "
              "group_time section"}
    elif post > RM_MAX_POST:  # each grid point is a block LP then: minutes, not seconds
        rm = {"status": "not computed", "reason": f"{post} post periods: evalkit computes relative-magnitude bounds "
              f"for event windows of up to {RM_MAX_POST} post periods (did: event_window: lags: {RM_MAX_POST - 1} in "
              "the plan), or use R HonestDiD with the event-time estimates and covariance in the group_time section"}
    else:
        rm = {"first_post_period": relative_magnitudes_sensitivity(b, V, pre, post, alpha=alpha),
              "average_post_effect": relative_magnitudes_sensitivity(b, V, pre, post, l_vec=np.full(post, 1 / post),
                                                                     alpha=alpha)}
    out["relative_magnitudes"] = rm
    return out


# ---------------------------------------------------------------------------- relative magnitudes
#
# Delta^RM(Mbar): the post-period violation of parallel trends moves by at most Mbar times the
# largest pre-period move. The identified set is a union of polyhedra (one per pre-period s where
# the largest move sits, and its sign), and the confidence set is the union of the conditional
# least-favourable hybrid (C-LF) tests of Andrews, Roth & Pakes over those polyhedra, tested on
# a grid of the parameter: a port of R HonestDiD's computeConditionalCS_DeltaRM (deltarm.R) and
# its ARP nuisance-parameter test (arp-nuisance.R). The least-favourable critical value is
# simulated in HonestDiD from 1,000 draws of R's generator after set.seed(0); evalkit draws the
# same numbers (R's Mersenne-Twister and inversion, reproduced below), so the grid decisions, and
# with them the bounds, are HonestDiD's.

# the dual programs' vertices are enumerated when there are at most this many candidate supports
# (C(12, 6): six post periods); beyond, each batch of programs is one block-diagonal LP
RM_MAX_SUPPORTS = 924
RM_MAX_POST = 6  # in evalkit run: C(12, 6) = 924, so the fast path
_R_BIG = 134217728  # 2^27: R's inversion combines two uniforms per normal draw
_I2_32M1 = 2.328306437080797e-10


def _r_normals(count: int, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); rnorm(count)`` in R (Mersenne-Twister, Inversion), bit for bit."""
    from scipy import stats

    s = seed & 0xFFFFFFFF
    for _ in range(50):  # R's initial scrambling (RNG_Init)
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = []
    for _ in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words.append(s)
    gen = np.random.MT19937()
    # dummy[0] is the position (FixupSeeds sets it to 624: regenerate before the first draw)
    gen.state = {"bit_generator": "MT19937", "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624}}
    u = gen.random_raw(2 * count).astype(np.float64) * 2.3283064365386963e-10
    u = np.where(u <= 0.0, 0.5 * _I2_32M1, np.where(1.0 - u <= 0.0, 1.0 - 0.5 * _I2_32M1, u))
    first, second = u[0::2], u[1::2]
    return stats.norm.ppf((np.floor(_R_BIG * first) + second) / _R_BIG)


def _r_rmvnorm(n: int, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """mvtnorm::rmvnorm(n, sigma = sigma) after set.seed(seed): rows of normals times the symmetric
    square root of sigma (its eigen method; the symmetric root does not depend on eigenvector signs)."""
    values, vectors = np.linalg.eigh(sigma)
    root = (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T
    return _r_normals(n * sigma.shape[0], seed).reshape(n, sigma.shape[0]) @ root


def _rm_constraints(num_pre: int, num_post: int, Mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """HonestDiD's .create_A_RM: A with A delta <= 0 for Delta^RM_{s,sign}(Mbar) (reference period dropped)."""
    T = num_pre + num_post
    first = np.zeros((T, T + 1))
    for r in range(T):
        first[r, r:r + 2] = [-1, 1]
    v = np.zeros(T + 1)
    v[num_pre + s - 1:num_pre + s + 1] = [-1, 1]
    if not max_positive:
        v = -v
    upper = np.vstack([np.tile(v, (num_pre, 1)), np.tile(Mbar * v, (num_post, 1))])
    A = np.vstack([first - upper, -first - upper])
    A = A[np.einsum("ij,ij->i", A, A) > 1e-10]
    return np.delete(A, num_pre, axis=1)


class _DualPolytope:
    """{lambda >= 0 : sd' lambda = 1, X' lambda = 0}, the dual of HonestDiD's .test_delta_lp_fn.

    min eta s.t. y - X delta <= eta sd has the dual max lambda'y over this polytope, so its optimum
    for any y is the best vertex. With few moments the vertices are enumerated once and every
    program (one per simulation draw, per grid point, per bisection step) is a matrix product;
    with many, the programs of a batch are solved as one block-diagonal LP (HiGHS), whose
    multipliers are the vertices."""

    def __init__(self, X: np.ndarray, sd: np.ndarray, max_supports: int):
        self.X, self.sd = X, sd
        self.W = np.column_stack([sd, X])
        m, k1 = self.W.shape
        self.V = self._vertices() if math.comb(m, k1) <= max_supports else None

    def _vertices(self) -> np.ndarray:
        from itertools import combinations

        m, k1 = self.W.shape
        target = np.zeros(k1)
        target[0] = 1.0
        found = []
        for support in combinations(range(m), k1):
            Ws = self.W[list(support)].T
            if abs(np.linalg.det(Ws)) < 1e-12:
                continue
            lam_s = np.linalg.solve(Ws, target)
            if np.all(lam_s >= -1e-12):
                lam = np.zeros(m)
                lam[list(support)] = np.maximum(lam_s, 0.0)
                if not any(np.allclose(lam, f, atol=1e-12) for f in found):
                    found.append(lam)
        return np.array(found).reshape(len(found), m)

    def best(self, Y: np.ndarray):
        """For each row y of Y: max lambda'y and the lambda attaining it (None, None: no solution)."""
        Y = np.atleast_2d(Y)
        if self.V is not None:
            if len(self.V) == 0:
                return None, None
            values = Y @ self.V.T
            idx = np.argmax(values, axis=1)
            return values[np.arange(len(Y)), idx], self.V[idx]
        from scipy import sparse
        from scipy.optimize import linprog

        n, (m, k1) = len(Y), self.W.shape
        c = np.tile(np.eye(k1)[0], n)
        A = sparse.kron(sparse.identity(n, format="csr"), sparse.csr_matrix(-self.W), format="csr")
        res = linprog(c, A_ub=A, b_ub=-Y.ravel(), bounds=[(None, None)] * (n * k1), method="highs")
        if res.status != 0:
            return None, None
        eta = np.asarray(res.x).reshape(n, k1)[:, 0]
        return eta, -np.asarray(res.ineqlin.marginals, dtype=float).reshape(n, m)


def _lf_cv(P: _DualPolytope, sigma: np.ndarray, kappa: float, sims: int = 1000, seed: int = 0) -> float:
    """The least-favourable critical value (ARP section 6.2), from HonestDiD's 1,000 draws."""
    eta, _ = P.best(-_r_rmvnorm(sims, sigma, seed))
    if eta is None:  # every draw's program is unbounded (HonestDiD: NA, removed)
        return float("nan")
    return float(np.quantile(eta, 1 - kappa))


def _max_program(s_T, gamma, sigma, P: _DualPolytope, c):
    """max f'lambda over the dual polytope (HonestDiD's .max_program)."""
    b = (sigma @ gamma) / float(gamma @ sigma @ gamma)
    value, lam = P.best(s_T + b * c)
    return float(value[0]), lam[0]


def _is_solution(c, s_T, gamma, sigma, P, tol=1e-6):
    value, x = _max_program(s_T, gamma, sigma, P, c)
    return abs(c - value) <= tol, x


def _vlo_vup_dual(eta, s_T, gamma, sigma, P):
    """HonestDiD's .vlo_vup_dual_fn: the truncation points of the dual approach (ARP appendix D)."""
    tol_c, maxiters, switchiters = 1e-6, 10000, 10
    sigma_B = float(np.sqrt(gamma @ sigma @ gamma))
    low0, high0 = min(-100.0, eta - 20 * sigma_B), max(100.0, eta + 20 * sigma_B)
    ok, _ = _is_solution(eta, s_T, gamma, sigma, P)
    if not ok:
        return eta, np.inf
    b = (sigma @ gamma) / float(gamma @ sigma @ gamma)

    def shortcut(x):
        top = float(x @ s_T)
        top = 0.0 if abs(top) < np.finfo(float).eps ** 0.75 else top
        return top / (1 - float(x @ b))

    def side(start, upper: bool):
        ok, res = _is_solution(start, s_T, gamma, sigma, P)
        if ok:
            return np.inf if upper else -np.inf
        dif, iters = 0.0, 1
        mid = shortcut(res)
        while True:
            ok, res = _is_solution(mid, s_T, gamma, sigma, P)
            if ok or iters >= maxiters:
                break
            iters += 1
            if iters >= switchiters:
                dif = tol_c + 1
                break
            mid = shortcut(res)
        low, high = (eta, mid) if upper else (mid, eta)
        while dif > tol_c and iters < maxiters:
            iters += 1
            mid = (low + high) / 2
            ok, _ = _is_solution(mid, s_T, gamma, sigma, P)
            if ok == upper:
                low = mid
            else:
                high = mid
            dif = high - low
        return mid

    return side(low0, upper=False), side(high0, upper=True)


def _truncated_normal_quantile(p: float, lo: float, hi: float) -> float:
    from scipy import stats

    return float(stats.truncnorm.ppf(p, lo, hi))


def _lf_test_rejects(y, X, sigma, P: _DualPolytope, eta, lam, alpha: float, kappa: float, lf_cv: float) -> bool:
    """HonestDiD's .lp_conditional_test_fn with hybrid_flag = "LF", given the program's optimum
    eta and multipliers lam for this y."""
    sd = P.sd
    if eta is None:
        return False  # the program has no solution: HonestDiD does not reject
    if eta > lf_cv:
        return True
    mod_size = (alpha - kappa) / (1 - kappa)
    k = X.shape[1]
    B = lam > 1e-6
    degenerate = int(B.sum()) != k + 1
    XB = X[B]
    full_rank = min(XB.shape) > 0 and np.linalg.matrix_rank(XB) == min(XB.shape)
    if degenerate or not full_rank:
        s_T = (np.eye(len(y)) - np.outer(sigma @ lam, lam) / float(lam @ sigma @ lam)) @ y
        vlo, vup = _vlo_vup_dual(eta, s_T, lam, sigma, P)
        var = float(lam @ sigma @ lam)
        if abs(var) < np.finfo(float).eps:
            return eta > 0
        sB = np.sqrt(var)
        maxstat, zlo, zup = eta / sB, vlo / sB, min(vup, lf_cv) / sB
    else:
        M = len(y)
        basis = np.column_stack([sd[B], XB])
        inv = np.linalg.inv(basis)
        S_B, S_Bc = np.eye(M)[B], np.eye(M)[~B]
        Gamma_B = np.column_stack([sd[~B], X[~B]]) @ inv @ S_B - S_Bc
        v_B = (np.eye(int(B.sum()))[0] @ inv @ S_B)
        s2 = float(v_B @ sigma @ v_B)
        sB = np.sqrt(s2)
        rho = Gamma_B @ sigma @ v_B / s2
        bound = (-Gamma_B @ y) / rho + float(v_B @ y)
        vlo = float(np.max(bound[rho > 0])) if np.any(rho > 0) else -np.inf
        vup = float(np.min(bound[rho < 0])) if np.any(rho < 0) else np.inf
        maxstat, zlo, zup = eta / sB, vlo / sB, min(vup, lf_cv) / sB
    if not (zlo <= maxstat <= zup):
        return False
    return maxstat > max(0.0, _truncated_normal_quantile(1 - mod_size, zlo, zup))


def _rm_accepts(betahat, sigma, num_pre, num_post, l_vec, Mbar, s, max_positive, alpha, kappa):
    """A function thetas -> accepted (array), for one polyhedron of Delta^RM (post-period moments only)."""
    A = _rm_constraints(num_pre, num_post, Mbar, s, max_positive)
    A = A[np.any(A[:, num_pre:] != 0, axis=1)]  # postPeriodMomentsOnly
    # the change of basis that puts l'delta_post first (HonestDiD's .construct_Gamma)
    AGI = A[:, num_pre:] @ np.linalg.inv(_construct_gamma(l_vec))
    one, X = AGI[:, 0], AGI[:, 1:]
    Y = A @ betahat
    SY = A @ sigma @ A.T
    P = _DualPolytope(X, np.sqrt(np.diag(SY)), RM_MAX_SUPPORTS)
    lf = _lf_cv(P, SY, kappa)

    def accepts(thetas) -> np.ndarray:
        ys = Y[None, :] - np.outer(np.asarray(thetas, dtype=float), one)
        etas, lams = P.best(ys)
        if etas is None:
            return np.ones(len(ys), dtype=bool)
        return np.array([not _lf_test_rejects(y, X, SY, P, float(e), lam, alpha, kappa, lf)
                         for y, e, lam in zip(ys, etas, lams)])

    return accepts


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix with l' as its first row: the pivot columns of rref([l, I]), as
    HonestDiD's .construct_Gamma takes them (l, then every e_j but the one at l's last non-zero)."""
    n = len(l_vec)
    B = np.column_stack([l_vec, np.eye(n)])
    last = int(np.flatnonzero(l_vec != 0)[-1])
    columns = [0] + [1 + j for j in range(n) if j != last]
    return B[:, columns].T


def relative_magnitudes_interval(betahat, sigma, num_pre: int, num_post: int, Mbar: float, l_vec=None,
                                 alpha: float = ALPHA, grid_points: int = 1000, coarse: int = 10) -> dict:
    """The C-LF confidence set for l'beta_post under Delta^RM(Mbar) on HonestDiD's grid (+-20 SD).

    HonestDiD tests every point of its 1,000-point grid against every polyhedron; evalkit tests
    every ``coarse``-th point, then every point next to a change, so it finds the same lowest and
    highest accepted points unless an accepted stretch shorter than ``coarse`` grid steps lies
    apart from the rest (the result says how it was searched)."""
    betahat = np.asarray(betahat, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    l_vec = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float)
    if num_post < 2:
        raise ValueError("relative magnitudes need two post periods or more here (the one-period test of "
                         "HonestDiD is not ported)")
    post = slice(num_pre, num_pre + num_post)
    sd_theta = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    grid = np.linspace(-20 * sd_theta, 20 * sd_theta, grid_points)
    tests = [_rm_accepts(betahat, sigma, num_pre, num_post, l_vec, Mbar, s, sign, alpha, alpha / 10)
             for s in range(-(num_pre - 1), 1) for sign in (True, False)]
    marks = sorted(set(range(0, grid_points, coarse)) | {grid_points - 1})
    # every polyhedron on the coarse marks in one batch; the union accepts where any accepts
    union = np.zeros(len(marks), dtype=bool)
    for t in tests:
        union |= t(grid[marks])
    cache: dict[int, bool] = dict(zip(marks, union.tolist()))

    def accepted(i: int) -> bool:
        if i not in cache:
            cache[i] = any(bool(t([grid[i]])[0]) for t in tests)
        return cache[i]

    hits = [i for i in marks if cache[i]]
    if not hits:
        return {"Mbar": float(Mbar), "lb": None, "ub": None, "method": "C-LF", "delta": "DeltaRM",
                "empty": True}
    lo, hi = hits[0], hits[-1]
    while lo > 0 and accepted(lo - 1):  # step outwards to the first rejected neighbour
        lo -= 1
    while hi < grid_points - 1 and accepted(hi + 1):
        hi += 1
    return {"Mbar": float(Mbar), "lb": float(grid[lo]), "ub": float(grid[hi]), "method": "C-LF",
            "delta": "DeltaRM", "open_at_grid_edge": lo == 0 or hi == grid_points - 1}


def relative_magnitudes_sensitivity(betahat, sigma, num_pre: int, num_post: int, Mbarvec=None, l_vec=None,
                                    alpha: float = ALPHA) -> dict:
    """C-LF sets over Mbar (default 0.5, 1, 1.5, 2, as HonestDiD's README) and the breakdown Mbar:
    the largest Mbar in the grid up to which every set excludes 0."""
    Mbarvec = [0.5, 1.0, 1.5, 2.0] if Mbarvec is None else list(Mbarvec)
    rows = [relative_magnitudes_interval(betahat, sigma, num_pre, num_post, float(m), l_vec, alpha)
            for m in Mbarvec]
    breakdown = None
    for r in rows:
        if r["lb"] is None or not (r["lb"] > 0 or r["ub"] < 0):
            break
        breakdown = r["Mbar"]
    return {"restriction": "relative magnitudes (Delta^RM): after the programme, parallel trends are violated by "
                           "at most Mbar times the largest change between consecutive periods before it",
            "rows": rows, "breakdown_Mbar": breakdown, "alpha": alpha,
            "grid": "HonestDiD's 1,000 points over +-20 standard errors; every 10th tested, then every "
                    "neighbour of a change",
            "reference": "Rambachan & Roth (2023) Rev Econ Stud 90(5):2555-2591; R HonestDiD "
                         "createSensitivityResults_relativeMagnitudes (method C-LF, seed 0)"}
