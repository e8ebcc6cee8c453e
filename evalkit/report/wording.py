"""The one place where numbers become words.

Tables, plot labels and the plain-words summary all call these functions, so the text can
never contradict the numbers or the evidence rating: :func:`verdict` asks
:func:`evalkit.verdict.judge` (the same function the rating uses) for significance, the null
value (0 for differences, 1 for ratios) and the direction, under the significance rule of the
evidence rules file (``significance_alpha``, ``holm_adjusted_p``); :func:`fmt` formats every
number shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalkit.results import Estimate
from evalkit.verdict import Outcome, SignificanceRule, judge

DIGITS = 3  # decimals for estimates and intervals everywhere in a report


@dataclass(frozen=True)
class Verdict:
    """What one estimate says, decided once (by :func:`evalkit.verdict.judge`)."""

    significant: bool | None  # None: neither a p-value nor a CI to decide on
    outcome: Outcome
    ci_level_pct: str  # "95%"
    null: float
    basis: str  # "p-value" | "Holm p-value" | "confidence interval" | "none"
    p_value: float | None = None  # the p-value the decision used
    alpha: float = 0.05

    @property
    def marker(self) -> str:
        """The table's significance column."""
        return {True: "yes", False: "no", None: "-"}[self.significant]


@lru_cache(maxsize=1)
def _default_rules():
    from evalkit.evidence.rules import load_rules

    return load_rules()


def default_rule() -> SignificanceRule:
    """The significance rule of evalkit's own evidence rules file (what `evalkit rate` uses by default)."""
    from evalkit.evidence.assess import significance_rule

    return significance_rule(_default_rules())


def pre_trend_alpha(C: Any) -> float:
    """The threshold below which a pre-trend test fails parallel trends: the rating's
    (``parallel_trends_alpha`` in ``context.json``, else evalkit's default rules)."""
    sig = (C or {}).get("significance") if hasattr(C, "get") else None
    value = sig.get("parallel_trends_alpha") if isinstance(sig, dict) else None
    return float(value) if isinstance(value, (int, float)) else _default_rules().value("parallel_trends_alpha")


def rule_from_context(C: Any) -> SignificanceRule:
    """The rule a report uses: the one the portfolio's ratings used (``context.json``), else the default."""
    sig = (C or {}).get("significance") if hasattr(C, "get") else None
    if not isinstance(sig, dict) or not isinstance(sig.get("alpha"), (int, float)):
        return default_rule()
    return SignificanceRule(alpha=float(sig["alpha"]), holm=bool(sig.get("holm_adjusted_p", True)),
                            source=str(sig.get("source") or ""))


def rule_words(rule: SignificanceRule | None = None) -> str:
    """The rule in one sentence, for a report's methods."""
    rule = rule or default_rule()
    threshold = f"below {rule.alpha:g}" if rule.alpha is not None else "below 1 minus its confidence level"
    holm = " (Holm-adjusted across the study's outcomes, where reported)" if rule.holm else ""
    where = f", the threshold of the {rule.source}" if rule.source else ""
    return (f"An estimate is called significant when its p-value{holm} is {threshold}{where}, or, where no p-value "
            "is reported, when its confidence interval excludes no difference; the evidence rating uses the "
            "same rule.")


def pct(level: float) -> str:
    value = level * 100
    return f"{value:.0f}%" if abs(value - round(value)) < 1e-9 else f"{value:g}%"


def verdict(e: Estimate, rule: SignificanceRule | None = None) -> Verdict:
    j = judge(e, rule or default_rule())
    return Verdict(j.significant, j.outcome, pct(e.ci_level), j.null, j.basis, j.p_value, j.alpha)


def fmt(value: Any, digits: int = DIGITS) -> str:
    """Every estimate, interval bound and effect size in a report goes through here."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if value != value:  # NaN
        return "-"
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float | None) -> str:
    """A p-value in a sentence: "p = 0.012", "p < 0.001"."""
    if p is None:
        return "no p-value"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def fmt_pct(share: float | None, digits: int = 1) -> str:
    return "-" if share is None else f"{share * 100:.{digits}f}%"


def percentage_points(e: Estimate) -> bool:
    """A difference of two proportions: said in percentage points ("11.8 percentage points lower")."""
    units = (e.units or "").lower()
    return units.startswith("proportion") and "ratio" not in units and e.estimate is not None and \
        e.estimand not in ("risk_ratio", "rate_ratio", "odds_ratio", "level_change", "slope_change")


def points(value: float | None, unit: str = "percentage points") -> str:
    """A difference of proportions in words: -0.118 -> "11.8 percentage points lower"."""
    if value is None:
        return "-"
    size = f"{abs(value) * 100:.1f}"
    if size == "0.0":
        return f"0.0 {unit} (no difference)"
    return f"{size} {unit} {'lower' if value < 0 else 'higher'}"


def points_interval(e: Estimate) -> str:
    if e.ci_low is None or e.ci_high is None:
        return "no interval reported"
    return f"{pct(e.ci_level)} CI {points(e.ci_low, 'points')} to {points(e.ci_high, 'points')}"


def number_with_units(e: Estimate) -> str:
    """The estimate with its units in words: "11.8 percentage points lower", "2.309 points", "0.492"."""
    if percentage_points(e):
        return points(e.estimate)
    units = e.units or ""
    units = "" if (not units or units == "as reported" or "ratio" in units or units.startswith("proportion")) \
        else f" {units.split(' (')[0]}"
    return f"{fmt(e.estimate)}{units}"


def any_interval(e: Estimate) -> str:
    return points_interval(e) if percentage_points(e) else interval(e)


def interval(e: Estimate) -> str:
    if e.ci_low is None or e.ci_high is None:
        return "no interval reported"
    return f"{pct(e.ci_level)} CI {fmt(e.ci_low)} to {fmt(e.ci_high)}"


def what_was_estimated(e: Estimate) -> str:
    return {
        "mean_change": "the average change", "change_in_proportion": "the change in the proportion",
        "rate_ratio": "the rate ratio", "att": "the average effect on those who took part",
        "ate": "the average effect", "itt": "the intention-to-treat effect", "risk_ratio": "the risk ratio",
        "did_att": "the difference-in-differences effect",
        "event_time": "the effect by time since the start", "group_time": "the effect by cohort and period",
        "level_change": "the immediate change in level (rate ratio)",
        "slope_change": "the change in trend (rate ratio)", "reported": "the effect the study reported",
    }.get(e.estimand, f"the {e.estimand.replace('_', ' ')}")


def sentence(e: Estimate, label: str, rule: SignificanceRule | None = None) -> str:
    """One plain sentence for one estimate (plain text; the caller escapes it for Markdown)."""
    v = verdict(e, rule)
    number = f"{number_with_units(e)} ({any_interval(e)}"
    number += f"; {p_text(e.p_value)})" if e.p_value is not None else ")"
    who = f" for {e.subgroup}" if e.subgroup != "all" else ""
    if v.outcome == "improved":
        head = f"{label}{who} improved"
    elif v.outcome == "worsened":
        head = f"{label}{who} got worse"
    elif v.outcome == "no clear change":
        head = f"{label}{who} showed no clear change"
    elif v.significant:
        head = f"For {label}{who} there was a change, but we cannot say whether for the better"
    else:
        head = f"For {label}{who} we cannot say whether there was a change"
    return f"{head}: {what_was_estimated(e)} was {number}. {_how_sure(e, v)}"


def _how_sure(e: Estimate, v: Verdict) -> str:
    """Why the estimate is (not) significant, in the terms the decision used."""
    null_word = "no difference" if v.null == 0 else "a ratio of 1 (no difference)"
    if v.basis == "confidence interval":
        if v.significant:
            return (f"The {v.ci_level_pct} confidence interval does not include {null_word}, so a result this "
                    "large would be unlikely by chance alone.")
        return (f"The {v.ci_level_pct} confidence interval includes {null_word}, so the data are consistent "
                "with no effect.")
    if v.basis == "none":
        return "There is no confidence interval or p-value to judge how sure we can be."
    which = "p-value" if v.basis == "p-value" else "p-value after Holm adjustment for testing several outcomes"
    p = p_text(v.p_value)
    if v.significant:
        text = (f"The {which} ({p}) is below the significance threshold of {v.alpha:g}, so a result this large "
                "would be unlikely by chance alone.")
    else:
        text = (f"The {which} ({p}) is not below the significance threshold of {v.alpha:g}, so the data are "
                "consistent with no effect.")
    if e.ci_low is not None and e.ci_high is not None:
        inside = e.ci_low <= v.null <= e.ci_high
        if inside == v.significant:  # the interval alone would suggest otherwise: say why the p-value decides
            text += (f" The {v.ci_level_pct} confidence interval {'includes' if inside else 'excludes'} {null_word}; "
                     f"the {'adjusted ' if v.basis == 'Holm p-value' else ''}p-value against {v.alpha:g} decides, "
                     "as in the evidence rating.")
    return text


def summary_counts(estimates, rule: SignificanceRule | None = None) -> dict[str, int]:
    out = {"improved": 0, "worsened": 0, "no clear change": 0, "unknown": 0}
    for e in estimates:
        out[verdict(e, rule).outcome] += 1
    return out
