"""Sensitivity to unmeasured confounding: E-values and Rosenbaum bounds.

- **E-value** (VanderWeele & Ding 2017, *Ann Intern Med* 167:268-274): the minimum strength of
  association, on the risk-ratio scale, that an unmeasured confounder would need with both the
  treatment and the outcome (beyond the measured covariates) to explain away the estimate;
  given for the point estimate and for the CI limit closest to 1 (1 when the CI already
  includes 1). Odds ratios, hazard ratios and standardised mean differences are converted to
  approximate risk ratios with the paper's formulas.
- **Rosenbaum bounds** for pair-matched designs (Rosenbaum 2002, *Observational Studies*,
  ch. 4): the Wilcoxon signed-rank test's upper-bound p-value when, within a pair, the odds of
  treatment may differ by a factor Γ because of an unmeasured covariate; Γ* is the smallest Γ
  at which the result is no longer significant at ``alpha``.
- **Rosenbaum bounds for matched sets** of one treated unit and k controls (k may vary by set,
  e.g. 2:1 matching with a few 1:1 sets left by the caliper), with a sum statistic over sets
  T = sum of the treated units' scores:

  * binary outcomes: the sign-score statistic (number of treated units with the event), whose
    bound is exact (Rosenbaum 2002, §4.4): in a set of n units of which m have the event, the
    chance that the treated unit is one of them is at most Γm / (Γm + n - m); the bound's
    null distribution of T is a sum of independent Bernoullis, computed exactly.
  * other outcomes: the aligned rank statistic (Hodges & Lehmann 1962: each response minus its
    set's mean, ranked over all sets), with the large-sample bound of Gastwirth, Krieger &
    Rosenbaum (2000, *J R Stat Soc B* 62:545-555, "asymptotic separability"; the route of
    Rosenbaum 2007, *Biometrics* 63:456-464, with ranks for its m-scores): in each set the
    top a units by score get odds Γ of being the treated one, with a chosen to maximise the
    expectation of T (then its variance), and T is referred to the normal distribution.

  Treated-minus-mean-of-controls differences are not used: with k >= 2 controls their sign
  is not a fair coin even without hidden bias, so the signed-rank bound does not apply to them.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from evalkit.errors import EstimationError, check_choice


class Scale(str, Enum):
    risk_ratio = "risk_ratio"
    rate_ratio = "rate_ratio"
    odds_ratio = "odds_ratio"
    hazard_ratio = "hazard_ratio"
    smd = "smd"  # standardised mean difference (Cohen's d, Hedges' g)


def _e(rr: float) -> float:
    """E-value of a risk ratio (either side of 1)."""
    if rr <= 0 or not math.isfinite(rr):
        raise EstimationError(f"E-value: a risk ratio must be a positive number; found {rr!r}")
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def evalue_rr(estimate: float, ci_low: float | None = None, ci_high: float | None = None) -> dict:
    """E-value for a risk ratio and for the CI limit closest to the null."""
    out = {"point": _e(estimate), "ci_bound": None, "risk_ratio": estimate, "ci_limit_used": None}
    if estimate >= 1 and ci_low is not None:
        out.update(ci_bound=1.0 if ci_low <= 1 else _e(ci_low), ci_limit_used=ci_low)
    elif estimate < 1 and ci_high is not None:
        out.update(ci_bound=1.0 if ci_high >= 1 else _e(ci_high), ci_limit_used=ci_high)
    return out


def to_risk_ratio(value: float, scale: Scale | str, common_outcome: bool = False) -> float:
    """VanderWeele & Ding's approximate conversions to the risk-ratio scale."""
    if not isinstance(scale, Scale):
        check_choice("scale", scale, [s.value for s in Scale])
    scale = Scale(scale)
    if scale in (Scale.risk_ratio, Scale.rate_ratio):
        return value
    if scale is Scale.odds_ratio:  # rare outcome: OR ~ RR; common (>15%): sqrt(OR)
        return math.sqrt(value) if common_outcome else value
    if scale is Scale.hazard_ratio:
        if not common_outcome:
            return value
        return (1 - 0.5 ** math.sqrt(value)) / (1 - 0.5 ** math.sqrt(1 / value))
    return math.exp(0.91 * value)  # smd


def evalue(estimate: float, ci_low: float | None = None, ci_high: float | None = None,
           scale: Scale | str = Scale.risk_ratio, common_outcome: bool = False,
           std_error: float | None = None) -> dict:
    """E-value on any supported scale; for an SMD the CI is exp(0.91 d -/+ 1.78 SE) per the paper."""
    if not isinstance(scale, Scale):
        check_choice("scale", scale, [s.value for s in Scale])
    scale = Scale(scale)
    if scale is Scale.smd:
        if std_error is not None:
            lo, hi = math.exp(0.91 * estimate - 1.78 * std_error), math.exp(0.91 * estimate + 1.78 * std_error)
        else:
            lo = math.exp(0.91 * ci_low) if ci_low is not None else None
            hi = math.exp(0.91 * ci_high) if ci_high is not None else None
        out = evalue_rr(math.exp(0.91 * estimate), lo, hi)
    else:
        conv = lambda v: None if v is None else to_risk_ratio(v, scale, common_outcome)  # noqa: E731
        out = evalue_rr(conv(estimate), conv(ci_low), conv(ci_high))
    out.update(scale=scale.value, estimate=estimate, common_outcome=common_outcome,
               reference="VanderWeele & Ding (2017) Ann Intern Med 167:268-274")
    return out


# ------------------------------------------------------------------------------ Rosenbaum


def _signed_rank(diffs: np.ndarray) -> tuple[float, np.ndarray]:
    from evalkit.estimate._dist import rankdata

    d = diffs[diffs != 0]  # zero differences carry no sign (Wilcoxon's convention)
    ranks = rankdata(np.abs(d))
    return float(ranks[d > 0].sum()), ranks


def rosenbaum_p(diffs, gamma: float) -> dict:
    """Upper and lower bounds on the one-sided signed-rank p-value (treated > control) at Γ."""
    from evalkit.estimate._dist import norm_sf

    d = np.asarray(diffs, dtype=float)
    t, ranks = _signed_rank(d)
    out = {}
    for side, p_plus in (("upper", gamma / (1 + gamma)), ("lower", 1 / (1 + gamma))):
        mean = p_plus * ranks.sum()
        var = p_plus * (1 - p_plus) * np.sum(ranks ** 2)
        out[side] = float(norm_sf((t - mean) / math.sqrt(var))) if var > 0 else float("nan")
    return {"gamma": gamma, "statistic": t, "p_upper": out["upper"], "p_lower": out["lower"]}


def _gamma_critical(p_upper, p1: float, alpha: float, steps: int) -> float:
    """Γ*: the smallest Γ at which ``p_upper(Γ)`` reaches ``alpha`` (1 when ``p1``, its value at
    Γ = 1, already does). The upper p-value rises with Γ: double until it does, then bisect."""
    if not p1 < alpha:
        return 1.0  # not significant even without hidden bias
    lo, hi = 1.0, 2.0
    while p_upper(hi) < alpha and hi < 1e4:
        lo, hi = hi, hi * 2
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p_upper(mid) < alpha else (lo, mid)
    return hi


def pair_differences(treated, control) -> np.ndarray:
    """Treated minus control outcome for each matched pair (the input of the bounds below)."""
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape:
        raise EstimationError(f"pair outcomes: {t.size} treated and {c.size} control values; expected one of each "
                              "per pair")
    return t - c


def rosenbaum_bounds(diffs, alpha: float = 0.05, increase: bool = True,
                     gammas=(1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0)) -> dict:
    """Γ* (the smallest Γ at which the one-sided test stops being significant) and a table.

    ``diffs`` are matched-pair differences, treated minus control. ``increase`` says which
    direction is the effect being tested (False: the treatment lowers the outcome).
    """
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) < 2:
        raise EstimationError(f"Rosenbaum bounds need matched pairs; found {len(d)} pair difference(s)")
    d = d if increase else -d
    table = [rosenbaum_p(d, g) for g in gammas]
    p1 = rosenbaum_p(d, 1.0)["p_upper"]
    gamma_star = _gamma_critical(lambda g: rosenbaum_p(d, g)["p_upper"], p1, alpha, steps=60)
    return {"pairs": int(len(d)), "nonzero_pairs": int(np.sum(d != 0)), "alpha": alpha,
            "direction": "treated higher" if increase else "treated lower", "gamma_critical": gamma_star,
            "p_value_gamma_1": p1, "table": table, "test": "Wilcoxon signed-rank, normal approximation",
            "reference": "Rosenbaum (2002) Observational Studies, 2nd ed., ch. 4"}


# ------------------------------------------------------------------------------ Rosenbaum, matched sets


def _matched_sets(outcome, treated, sets) -> tuple[list[np.ndarray], list[int]]:
    """Per set: its responses, and the position of its one treated unit."""
    y = np.asarray(outcome, dtype=float)
    z = np.asarray(treated).astype(int)
    sid = np.asarray(sets)
    if not (len(y) == len(z) == len(sid)):
        raise EstimationError(f"matched sets: {len(y)} outcomes, {len(z)} treatment flags and {len(sid)} set ids; "
                              "expected one of each per unit")
    keep = ~np.isnan(y)
    y, z, sid = y[keep], z[keep], sid[keep]
    codes = np.unique(sid.astype(str), return_inverse=True)[1]
    order = np.argsort(codes, kind="stable")
    y, z, codes = y[order], z[order], codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    ys, zs = np.split(y, bounds), np.split(z, bounds)
    out_y, out_t = [], []
    for yy, zz in zip(ys, zs):
        # a set that lost its treated unit or every control to a missing outcome says nothing
        if len(yy) >= 2 and zz.sum() == 1:
            out_y.append(yy)
            out_t.append(int(np.flatnonzero(zz)[0]))
        elif zz.sum() > 1:
            raise EstimationError("matched-set Rosenbaum bounds need one treated unit per set; found a set with "
                                  f"{int(zz.sum())} treated units")
    return out_y, out_t


def separable_moments(scores: list[np.ndarray], gamma: float) -> tuple[float, float]:
    """Gastwirth, Krieger & Rosenbaum (2000): the bound's expectation and variance of T.

    For each set (scores q_1..q_n of its units, one of whom is treated) and a = 1..n-1, give
    the a highest scores odds Γ of being the treated one and the rest odds 1; keep the a with
    the largest expectation (ties: largest variance); sum over sets, which are independent."""
    total_mean, total_var = 0.0, 0.0
    by_size: dict[int, list[np.ndarray]] = {}
    for q in scores:
        by_size.setdefault(len(q), []).append(q)
    for n, group in by_size.items():
        Q = np.sort(np.vstack(group), axis=1)  # (sets, n), ascending
        top1 = np.cumsum(Q[:, ::-1], axis=1)[:, :-1]  # sum of the a highest, a = 1..n-1
        top2 = np.cumsum((Q ** 2)[:, ::-1], axis=1)[:, :-1]
        all1, all2 = Q.sum(axis=1, keepdims=True), (Q ** 2).sum(axis=1, keepdims=True)
        a = np.arange(1, n)
        denom = a * gamma + (n - a)
        mean = (gamma * top1 + (all1 - top1)) / denom
        var = (gamma * top2 + (all2 - top2)) / denom - mean ** 2
        best = mean.max(axis=1, keepdims=True)
        # among the a within rounding of the largest expectation, the largest variance
        tied = mean >= best - 1e-12 * (1 + np.abs(best))
        pick = np.argmax(np.where(tied, var, -np.inf), axis=1)
        rows = np.arange(len(Q))
        total_mean += float(mean[rows, pick].sum())
        total_var += float(np.clip(var[rows, pick], 0, None).sum())
    return total_mean, total_var


def _bernoulli_sum_sf(p: np.ndarray, t: int) -> float:
    """P(sum of independent Bernoulli(p_i) >= t), exactly.

    Sets of the same size and event count share a p, so the sum is a convolution of a few
    binomials (one per distinct p), which stays quick with thousands of sets."""
    from scipy.stats import binom

    dist = np.ones(1)
    values, counts = np.unique(np.asarray(p, dtype=float), return_counts=True)
    for pi, c in zip(values, counts):
        dist = np.convolve(dist, binom.pmf(np.arange(c + 1), c, pi))
    return float(np.clip(dist[max(t, 0):].sum(), 0.0, 1.0))


def set_scores(ys: list[np.ndarray], binary: bool) -> list[np.ndarray]:
    """Sign scores (the 0/1 outcome itself) or aligned ranks (response minus set mean, ranked overall)."""
    from evalkit.estimate._dist import rankdata

    if binary:
        return [y.astype(float) for y in ys]
    aligned = np.concatenate([y - y.mean() for y in ys])
    ranks = rankdata(aligned)
    return np.split(ranks, np.cumsum([len(y) for y in ys])[:-1])


def rosenbaum_sets_p(scores: list[np.ndarray], treated_at: list[int], gamma: float, binary: bool) -> dict:
    """Upper and lower bounds on the one-sided p-value (treated scores high) at Γ."""
    from evalkit.estimate._dist import norm_sf

    t = float(sum(q[i] for q, i in zip(scores, treated_at)))
    if binary:
        n = np.array([len(q) for q in scores], dtype=float)
        m = np.array([q.sum() for q in scores], dtype=float)
        hit = np.array([q[i] for q, i in zip(scores, treated_at)])
        informative = (m > 0) & (m < n)
        fixed = float(hit[~informative].sum())  # sets where every unit, or none, had the event
        n, m = n[informative], m[informative]
        p_up = gamma * m / (gamma * m + n - m)
        p_lo = m / (m + gamma * (n - m))
        k = int(round(t - fixed))
        return {"gamma": gamma, "statistic": t, "p_upper": _bernoulli_sum_sf(p_up, k),
                "p_lower": _bernoulli_sum_sf(p_lo, k), "expectation_upper": fixed + float(p_up.sum())}
    mean_u, var_u = separable_moments(scores, gamma)
    mean_l, var_l = separable_moments([-q for q in scores], gamma)
    mean_l = -mean_l
    sf = (lambda mu, v: float(norm_sf((t - mu) / math.sqrt(v))) if v > 0 else float("nan"))  # noqa: E731
    return {"gamma": gamma, "statistic": t, "p_upper": sf(mean_u, var_u), "p_lower": sf(mean_l, var_l),
            "expectation_upper": mean_u}


def rosenbaum_bounds_sets(outcome, treated, sets, alpha: float = 0.05, increase: bool = True,
                          gammas=(1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0)) -> dict:
    """Γ* and a table for matched sets of one treated unit and one or more controls.

    ``outcome``, ``treated`` (0/1) and ``sets`` (matched-set id) have one entry per unit. A 0/1
    outcome gets the exact sign-score bound, anything else the aligned-rank bound (see the
    module docstring). ``increase`` says which direction is the effect being tested."""
    ys, where = _matched_sets(outcome, treated, sets)
    if len(ys) < 2:
        raise EstimationError(f"Rosenbaum bounds need matched sets; found {len(ys)} complete set(s) with one "
                              "treated unit and at least one control")
    binary = bool(all(np.isin(y, (0.0, 1.0)).all() for y in ys))
    if binary:
        ys = ys if increase else [1 - y for y in ys]
    else:
        ys = ys if increase else [-y for y in ys]
    scores = set_scores(ys, binary)
    p_at = lambda g: rosenbaum_sets_p(scores, where, g, binary)["p_upper"]  # noqa: E731
    table = [rosenbaum_sets_p(scores, where, g, binary) for g in gammas]
    p1 = p_at(1.0)
    gamma_star = _gamma_critical(p_at, p1, alpha, steps=50)
    sizes: dict[int, int] = {}
    for y in ys:
        sizes[len(y) - 1] = sizes.get(len(y) - 1, 0) + 1
    informative = sum(1 for q in scores if np.ptp(q) > 0)
    if binary:
        test = "sign-score statistic (treated units with the event), exact bound (sum of independent Bernoullis)"
        reference = "Rosenbaum (2002) Observational Studies, 2nd ed., §4.4 (sign-score statistics)"
    else:
        test = "aligned rank statistic (Hodges-Lehmann), large-sample separable bound, normal approximation"
        reference = ("Gastwirth, Krieger & Rosenbaum (2000) J R Stat Soc B 62:545-555; Rosenbaum (2007) "
                     "Biometrics 63:456-464; Hodges & Lehmann (1962) Ann Math Stat 33:482-497")
    if binary:
        statistic = "treated units " + ("with" if increase else "without") + " the event"
    else:
        statistic = "sum of the treated units' aligned ranks" + ("" if increase else " of the negated outcome")
    return {"sets": len(ys), "controls_per_set": {str(k): v for k, v in sorted(sizes.items())},
            "statistic_is": statistic,
            "informative_sets": informative, "alpha": alpha,
            "direction": ("treated higher" if increase else "treated lower"), "gamma_critical": gamma_star,
            "p_value_gamma_1": p1, "table": table, "test": test, "scores": "sign" if binary else "aligned_rank",
            "reference": reference}
