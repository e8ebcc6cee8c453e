"""Whether an estimate is significant and which way it went: decided here, once.

The evidence rating (:mod:`evalkit.evidence.assess`) and every report's tables, plots and
plain-words summary (:mod:`evalkit.report.wording`) call :func:`judge`, so a report can never
say "improved" where the rating says "null". Each side only maps the outcome to its own words
(:data:`EVIDENCE_WORDS`, :data:`REPORT_WORDS`).

The rule, with the threshold from the evidence rules file (``significance_alpha``,
``holm_adjusted_p``): an estimate is significant when its p-value, Holm-adjusted where the
estimate carries one and the rule asks for it, is below alpha; when there is no p-value, when
its confidence interval excludes no difference (0 for differences, 1 for ratios). Without a
configured alpha the threshold is ``1 - ci_level``, so that the p-value and the interval test
the same thing. A significant estimate improved or worsened according to
``Estimate.direction_good``; where that is not known, the outcome is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evalkit.results import Estimate

RATIO_ESTIMANDS = frozenset({"rate_ratio", "risk_ratio", "odds_ratio", "level_change", "slope_change"})
RATIO_UNITS = frozenset({"ratio", "rate ratio", "risk ratio", "odds ratio"})

Outcome = Literal["improved", "worsened", "no clear change", "unknown"]
Basis = Literal["p-value", "Holm p-value", "confidence interval", "none"]
EVIDENCE_WORDS: dict[str, str] = {"improved": "positive", "worsened": "harmful", "no clear change": "null",
                                  "unknown": "unknown"}
REPORT_WORDS: dict[str, str] = {v: k for k, v in EVIDENCE_WORDS.items()}  # evidence word -> outcome


@dataclass(frozen=True)
class SignificanceRule:
    """The threshold :func:`judge` applies; the evidence rules file is where it is set."""

    alpha: float | None = None  # None: 1 - the estimate's ci_level
    holm: bool = True  # use p_value_holm where the estimate has one
    source: str = ""  # where the rule comes from, e.g. "evidence rules (rules.yml, version 1.0.0)"


@dataclass(frozen=True)
class Judgement:
    significant: bool | None  # None: neither a p-value nor a confidence interval to decide on
    outcome: Outcome
    basis: Basis
    p_value: float | None  # the p-value the decision used (Holm-adjusted where basis says so)
    alpha: float  # the threshold applied to p_value
    null: float  # the value meaning "no difference": 0, or 1 for ratios


def null_for(estimand: str | None, units: str | None) -> float:
    """0 for a difference, 1 for a ratio (by estimand, or by units such as "ratio (SE on the log scale)")."""
    head = (units or "").lower().split(" (")[0].strip()
    return 1.0 if estimand in RATIO_ESTIMANDS or head in RATIO_UNITS else 0.0


def null_value(e: Estimate) -> float:
    return null_for(e.estimand, e.units)


def ci_excludes(e: Estimate, value: float) -> bool | None:
    if e.ci_low is None or e.ci_high is None:
        return None
    return not (e.ci_low <= value <= e.ci_high)


def judge(e: Estimate, rule: SignificanceRule = SignificanceRule()) -> Judgement:
    """Significance and direction of one estimate under ``rule``."""
    null = null_value(e)
    alpha = rule.alpha if rule.alpha is not None else 1 - e.ci_level
    p, basis = e.p_value, "p-value"
    if rule.holm and e.p_value_holm is not None:
        p, basis = e.p_value_holm, "Holm p-value"
    significant: bool | None
    if p is not None:
        significant = p < alpha
    else:
        significant = ci_excludes(e, null)
        basis = "confidence interval" if significant is not None else "none"
    outcome: Outcome
    if significant is None:
        outcome = "unknown"
    elif not significant:
        outcome = "no clear change"
    elif e.direction_good is None:
        outcome = "unknown"
    else:
        outcome = "improved" if e.direction_good else "worsened"
    return Judgement(significant, outcome, basis, p, alpha, null)
