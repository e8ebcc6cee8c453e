"""Small statistical helpers shared by the design modules.

Every function is vectorised where a simulation needs it (the last axis holds the units) and
documents the exact formula, because evaluators compare our numbers with R and textbooks.
Reference values for each one sit in ``tests/reference/prepost/`` with the R script that
made them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

# An exact McNemar (binomial) test below this many discordant pairs; above it the chi-square
# approximation with continuity correction (R's mcnemar.test default) is close enough.
MCNEMAR_EXACT_BELOW = 25
# R's wilcox.test uses the exact signed-rank distribution below 50 non-zero differences
# when there are no ties or zeros; we follow the same rule so numbers match R.
WILCOXON_EXACT_BELOW = 50
# a standard deviation below this share of the data's magnitude is floating-point noise
NO_SPREAD = 1e-10
# z_crit(0.95) as a literal, for the normal 95% intervals of DiD and external studies
Z95 = 1.959963984540054


def z_crit(level: float) -> float:
    from evalkit.estimate._dist import norm_ppf

    return float(norm_ppf(0.5 + level / 2))


def t_crit(df, level: float):
    from evalkit.estimate._dist import t_ppf

    return t_ppf(0.5 + level / 2, df)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm (1979) step-down adjusted p-values; ``None`` entries are left out and kept ``None``.

    The same arithmetic as statsmodels' ``multipletests(method="holm")`` (R's
    ``p.adjust(p, "holm")``): sort ascending, multiply the i-th smallest by (m - i + 1), take the
    running maximum, cap at 1. Written out here rather than called because statsmodels' Holm
    branch runs ``gc.collect()`` on every call (about 0.2 s in a process holding a large heap,
    which made subgroup families and simulations minutes slower); a test asserts the numbers
    equal statsmodels' bit for bit.
    """
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if idx:
        pvals = np.asarray([float(p_values[i]) for i in idx], dtype=float)
        order = np.argsort(pvals)  # statsmodels' sort (not stable); ties give equal adjusted values
        adjusted = np.maximum.accumulate(pvals[order] * np.arange(len(pvals), 0, -1))
        adjusted[adjusted > 1] = 1
        unsorted = np.empty_like(adjusted)
        unsorted[order] = adjusted
        for i, p in zip(idx, unsorted):
            out[i] = float(p)
    return out


def paired_mean(d, level: float = 0.95) -> dict:
    """Mean of paired differences ``d`` (last axis) with a t-based CI and paired t-test.

    Works on a 1-D array (one analysis) or an (R, n) array (R simulated data sets). With
    fewer than two differences, or no variation in them, the inferential parts are NaN.
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    n = d.shape[-1]
    mean = d.mean(axis=-1) if n else np.full(d.shape[:-1], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = d.std(axis=-1, ddof=1) if n > 1 else np.full(d.shape[:-1], np.nan)
        se = sd / math.sqrt(n) if n > 1 else sd
        df = n - 1
        t = mean / se
        p = 2 * stats.t.sf(np.abs(t), df) if n > 1 else np.full(d.shape[:-1], np.nan)
        q = t_crit(df, level) if n > 1 else np.nan
    if n > 1:
        # differences equal up to rounding noise (e.g. 0.2 - 0.1 vs 0.3 - 0.2) have no spread to speak of
        scale = np.max(np.abs(d), axis=-1)
        se = np.where(sd > NO_SPREAD * np.maximum(scale, 1e-300), se, np.nan)
    return {"n": n, "mean": mean, "sd": sd, "se": se, "df": df, "t": np.where(np.isfinite(se), t, np.nan),
            "p": np.where(np.isfinite(se), p, np.nan), "ci_low": mean - q * se, "ci_high": mean + q * se}


def cluster_mean(d, clusters, level: float = 0.95) -> dict:
    """Mean of ``d`` with a cluster-robust (CR1) standard error and t(G - 1) CI.

    The mean is an intercept-only regression, so the sandwich is
    V = G/(G-1) * (N-1)/(N-K) * sum_g (sum_{i in g} e_i)^2 / N^2 with K = 1, the same as
    Stata's ``regress, vce(cluster)``, statsmodels' ``cov_type="cluster"`` and R's
    ``sandwich::vcovCL(type = "HC1")``; inference uses t with G - 1 degrees of freedom
    because with few clusters the normal reference is too narrow.
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    codes, _ = _factorize(clusters)
    n = d.size
    g = int(codes.max()) + 1 if n else 0
    mean = float(d.mean()) if n else math.nan
    if n < 2 or g < 2:
        return {"n": n, "clusters": g, "mean": mean, "se": math.nan, "df": max(g - 1, 0), "t": math.nan,
                "p": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    sums = np.bincount(codes, weights=d - mean, minlength=g)
    var = g / (g - 1) * float(np.sum(sums**2)) / n**2
    se = math.sqrt(var)
    df = g - 1
    if se <= NO_SPREAD * float(np.max(np.abs(d))):
        return {"n": n, "clusters": g, "mean": mean, "se": math.nan, "df": df, "t": math.nan, "p": math.nan,
                "ci_low": math.nan, "ci_high": math.nan}
    t = mean / se
    q = float(t_crit(df, level))
    return {"n": n, "clusters": g, "mean": mean, "se": se, "df": df, "t": t, "p": float(2 * stats.t.sf(abs(t), df)),
            "ci_low": mean - q * se, "ci_high": mean + q * se}


def _factorize(values):
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    return np.asarray(codes, dtype=np.intp), uniques


def wilcoxon_signed_rank(d) -> dict:
    """Wilcoxon signed-rank test of paired differences, computed as R's ``wilcox.test`` does.

    Zeros are dropped (Wilcoxon's convention). ``statistic_v`` is R's V, the sum of the
    ranks of the positive differences. Exact null distribution when fewer than 50 non-zero
    differences and no ties; otherwise the normal approximation with tie correction and
    continuity correction (R's defaults; R also leaves the exact test when there are zeros).
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    nz = d[d != 0]
    n = int(nz.size)
    if n == 0:
        return {"statistic_v": 0.0, "p_value": None, "n_nonzero": 0, "method": "no non-zero differences"}
    ranks = stats.rankdata(np.abs(nz))
    v = float(ranks[nz > 0].sum())
    ties = bool(np.unique(np.abs(nz)).size < n)
    zeros = bool(nz.size < d.size)
    if n < WILCOXON_EXACT_BELOW and not ties and not zeros:
        res = stats.wilcoxon(nz, zero_method="wilcox", method="exact")
        method = "exact signed-rank distribution"
    else:
        res = stats.wilcoxon(nz, zero_method="wilcox", correction=True, method="approx")
        method = "normal approximation with continuity correction" + (" and tie correction" if ties else "")
    if zeros:
        method += f"; {d.size - n} zero difference(s) dropped"
    return {"statistic_v": v, "p_value": float(res.pvalue), "n_nonzero": n, "method": method}


def wilson(x, n, level: float = 0.95):
    """Wilson score interval for x successes out of n (vectorised): statsmodels'
    ``proportion_confint(method="wilson")`` (R ``prop.test(correct = FALSE)``'s interval)."""
    from statsmodels.stats.proportion import proportion_confint

    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # round: 1 - 0.95 is 0.05000000000000004 in floating point
        low, high = proportion_confint(x, n, alpha=round(1 - level, 12), method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def newcombe_paired(a, b, c, d, level: float = 0.95):
    """Newcombe (1998, Stat Med 17:2635) method 10 CI for a paired difference in proportions.

    Cells: a = 1 at baseline and follow-up, b = 1 at baseline only, c = 1 at follow-up only,
    d = 0 at both. The difference is p_follow_up - p_baseline = (c - b)/n. The Wilson limits
    of each margin are combined with the phi correlation of the 2x2 table (phi = 0 when a
    margin is empty), which keeps the interval inside [-1, 1] and near nominal coverage
    where Wald intervals fail (few discordant pairs, proportions near 0 or 1).
    Returns (difference, low, high), vectorised.
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n = a + b + c + d
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = (a + b) / n
        p2 = (a + c) / n
        l1, u1 = wilson(a + b, n, level)
        l2, u2 = wilson(a + c, n, level)
        denom = (a + b) * (c + d) * (a + c) * (b + d)
        phi = np.where(denom > 0, (a * d - b * c) / np.sqrt(np.where(denom > 0, denom, 1.0)), 0.0)
        diff = p2 - p1
        lower = diff - np.sqrt(np.maximum((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0))
        upper = diff + np.sqrt(np.maximum((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2, 0))
    return diff, lower, upper


def paired_proportion_se(b, c, n):
    """Wald standard error of (c - b)/n for paired binary data: sqrt((b + c) - (c - b)^2/n)/n."""
    b, c, n = (np.asarray(v, dtype=float) for v in (b, c, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.maximum((b + c) - (c - b) ** 2 / n, 0)) / n


def mcnemar(b: int, c: int) -> dict:
    """McNemar's test on the discordant counts: exact binomial below 25, else chi-square (CC).

    statsmodels' ``contingency_tables.mcnemar``: ``exact=True`` is R's ``binom.test(b, b + c)``
    (two-sided, p = 0.5: min(1, 2 P(X <= min(b, c)))); ``exact=False, correction=True`` is R's
    ``mcnemar.test`` default, (|b - c| - 1)^2 / (b + c) on 1 df.
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    b, c = int(b), int(c)
    m = b + c
    if m == 0:
        return {"statistic": None, "p_value": 1.0, "method": "no discordant pairs: no evidence of change"}
    table = [[0, b], [c, 0]]
    if m < MCNEMAR_EXACT_BELOW:
        res = sm_mcnemar(table, exact=True)
        return {"statistic": float(min(b, c)), "p_value": min(1.0, float(res.pvalue)),
                "method": f"exact McNemar (binomial) test, {m} discordant pairs"}
    res = sm_mcnemar(table, exact=False, correction=True)
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue),
            "method": "McNemar chi-square test with continuity correction"}


def paired_risk_ratio(a, b, c, level: float = 0.95) -> tuple[float, float, float]:
    """p_follow_up / p_baseline for paired binary data with a log-scale CI.

    var(log RR) = (b + c) / ((a + b)(a + c)) (Agresti, Categorical Data Analysis, paired
    risk ratio). NaN when either margin is zero.
    """
    if a + b == 0 or a + c == 0:
        return math.nan, math.nan, math.nan
    rr = (a + c) / (a + b)
    se = math.sqrt((b + c) / ((a + b) * (a + c)))
    z = z_crit(level)
    return rr, rr * math.exp(-z * se), rr * math.exp(z * se)


def ratio_of_totals(y0, y1, clusters=None, level: float = 0.95) -> dict:
    """Rate ratio sum(y1)/sum(y0) for paired counts over equal periods, with a robust CI.

    This is the Poisson GEE (log link, independence, clusters = people or the plan's
    clusters) estimate of the follow-up vs baseline ratio; its sandwich variance of
    log R is sum_g (sum_{i in g} (y1_i - R y0_i))^2 / (R * sum y0)^2, times G/(G-1).
    It does not assume Poisson variance, so over-dispersed counts are fine.
    """
    from scipy import stats

    y0 = np.asarray(y0, dtype=float)
    y1 = np.asarray(y1, dtype=float)
    t0, t1 = float(y0.sum()), float(y1.sum())
    if t0 <= 0 or t1 <= 0 or y0.size < 2:
        return {"ratio": math.nan, "se_log": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan}
    r = t1 / t0
    u = y1 - r * y0
    if clusters is None:
        g = u.size
        sums = u
    else:
        codes, _ = _factorize(clusters)
        g = int(codes.max()) + 1
        sums = np.bincount(codes, weights=u, minlength=g)
    if g < 2:
        return {"ratio": r, "se_log": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan}
    var_log = g / (g - 1) * float(np.sum(sums**2)) / (r * t0) ** 2
    se = math.sqrt(var_log)
    z = z_crit(level)
    p = float(2 * stats.norm.sf(abs(math.log(r)) / se)) if se > 0 else math.nan
    return {"ratio": r, "se_log": se, "ci_low": r * math.exp(-z * se), "ci_high": r * math.exp(z * se), "p": p}


def hedges_correction(df):
    """Hedges' small-sample factor J = 1 - 3/(4 df - 1) (Lakens 2013, eq. for g_av with df = n - 1)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(df > 0, 1 - 3 / (4 * df - 1), np.nan)


def reliable_change_threshold(sd: float, reliability: float, z: float = 1.96) -> float:
    """Jacobson & Truax (1991): z * S_diff with S_diff = sqrt(2) * sd * sqrt(1 - r_xx).

    z = 1.96 as J&T wrote it (not the 1.95996... quantile) so thresholds match published
    tables, e.g. SDQ self-report SD 5.2 with r = 0.80 gives 6.45 points.
    """
    return z * math.sqrt(2.0) * sd * math.sqrt(1.0 - reliability)


def smd(x1, x0) -> float:
    """Standardised mean difference (x1 - x0) / sqrt((s1^2 + s0^2)/2); NaN if not computable."""
    x1 = np.asarray(x1, dtype=float)
    x0 = np.asarray(x0, dtype=float)
    if x1.size < 2 or x0.size < 2:
        return math.nan
    s = math.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    return (float(x1.mean()) - float(x0.mean())) / s if s > 0 else math.nan


# ---------------------------------------------------------------------------- shared by the designs


def good_direction(estimate: float, ind, null: float = 0.0) -> bool | None:
    """Whether ``estimate`` lies on the indicator's good side of ``null`` (None when it is on it or not finite)."""
    from evalkit.spec.raw import Direction

    if not math.isfinite(estimate) or estimate == null:
        return None
    return (estimate > null) == (ind.direction is Direction.increase)


def finite_or_none(value) -> float | None:
    """float, or None for NaN/inf/None (results hold no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def holm_family(estimates: list, idx: list[int], family: str | None = None) -> None:
    """Holm-adjust ``estimates[idx]`` as one family, in place; ``family`` (if given) goes in details."""
    for i, p in zip(idx, holm([estimates[i].p_value for i in idx])):
        noted = {"details": {**estimates[i].details, "holm_family": family}} if family is not None else {}
        estimates[i] = dataclasses.replace(estimates[i], p_value_holm=p, **noted)
