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
    from scipy.stats import rankdata

    d = diffs[diffs != 0]  # zero differences carry no sign (Wilcoxon's convention)
    ranks = rankdata(np.abs(d))
    return float(ranks[d > 0].sum()), ranks


def rosenbaum_p(diffs, gamma: float) -> dict:
    """Upper and lower bounds on the one-sided signed-rank p-value (treated > control) at Γ."""
    from scipy.stats import norm

    d = np.asarray(diffs, dtype=float)
    t, ranks = _signed_rank(d)
    out = {}
    for side, p_plus in (("upper", gamma / (1 + gamma)), ("lower", 1 / (1 + gamma))):
        mean = p_plus * ranks.sum()
        var = p_plus * (1 - p_plus) * np.sum(ranks ** 2)
        out[side] = float(norm.sf((t - mean) / math.sqrt(var))) if var > 0 else float("nan")
    return {"gamma": gamma, "statistic": t, "p_upper": out["upper"], "p_lower": out["lower"]}


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
    if not p1 < alpha:
        gamma_star = 1.0  # not significant even without hidden bias
    else:
        lo, hi = 1.0, 2.0
        while rosenbaum_p(d, hi)["p_upper"] < alpha and hi < 1e4:
            lo, hi = hi, hi * 2
        for _ in range(60):  # the upper p-value rises with Γ: bisection
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if rosenbaum_p(d, mid)["p_upper"] < alpha else (lo, mid)
        gamma_star = hi
    return {"pairs": int(len(d)), "nonzero_pairs": int(np.sum(d != 0)), "alpha": alpha,
            "direction": "treated higher" if increase else "treated lower", "gamma_critical": gamma_star,
            "p_value_gamma_1": p1, "table": table, "test": "Wilcoxon signed-rank, normal approximation",
            "reference": "Rosenbaum (2002) Observational Studies, 2nd ed., ch. 4"}
