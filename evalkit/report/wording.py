"""The one place where numbers become words.

Tables, plot labels and the plain-words summary all call these functions, so the text can
never contradict the numbers: :func:`verdict` decides significance (from the confidence
interval at the estimate's own level, falling back to the p-value), the null value (0 for
differences, 1 for ratios) and the direction (the indicator's good direction, from
``Estimate.direction_good``); :func:`fmt` formats every number shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from evalkit.results import Estimate

RATIO_ESTIMANDS = frozenset({"rate_ratio", "risk_ratio", "odds_ratio", "level_change", "slope_change"})
RATIO_UNITS = frozenset({"ratio", "rate ratio", "risk ratio", "odds ratio"})
DIGITS = 3  # decimals for estimates and intervals everywhere in a report

Direction = Literal["improved", "worsened", "no clear change", "unknown"]


@dataclass(frozen=True)
class Verdict:
    """What one estimate says, decided once."""

    significant: bool | None  # None: neither a CI nor a p-value to decide on
    outcome: Direction
    ci_level_pct: str  # "95%"
    null: float
    basis: str  # "confidence interval" | "p-value" | "none"

    @property
    def marker(self) -> str:
        """The table's significance column."""
        return {True: "yes", False: "no", None: "-"}[self.significant]


def null_value(e: Estimate) -> float:
    if e.estimand in RATIO_ESTIMANDS or (e.units or "").lower() in RATIO_UNITS:
        return 1.0
    return 0.0


def pct(level: float) -> str:
    value = level * 100
    return f"{value:.0f}%" if abs(value - round(value)) < 1e-9 else f"{value:g}%"


def verdict(e: Estimate) -> Verdict:
    null = null_value(e)
    level = pct(e.ci_level)
    if e.ci_low is not None and e.ci_high is not None:
        significant = not (e.ci_low <= null <= e.ci_high)
        basis = "confidence interval"
    elif e.p_value is not None:
        significant = e.p_value < 1 - e.ci_level
        basis = "p-value"
    else:
        significant, basis = None, "none"
    outcome: Direction
    if significant is None:
        outcome = "unknown"
    elif not significant:
        outcome = "no clear change"
    elif e.direction_good is None:
        outcome = "unknown"
    else:
        outcome = "improved" if e.direction_good else "worsened"
    return Verdict(significant, outcome, level, null, basis)


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


def interval(e: Estimate) -> str:
    if e.ci_low is None or e.ci_high is None:
        return "no interval reported"
    return f"{pct(e.ci_level)} CI {fmt(e.ci_low)} to {fmt(e.ci_high)}"


def what_was_estimated(e: Estimate) -> str:
    return {
        "mean_change": "the average change", "change_in_proportion": "the change in the proportion",
        "rate_ratio": "the rate ratio", "att": "the average effect on those who took part",
        "ate": "the average effect", "risk_ratio": "the risk ratio", "did_att": "the difference-in-differences effect",
        "event_time": "the effect by time since the start", "group_time": "the effect by cohort and period",
        "level_change": "the immediate change in level (rate ratio)",
        "slope_change": "the change in trend (rate ratio)", "reported": "the effect the study reported",
    }.get(e.estimand, f"the {e.estimand.replace('_', ' ')}")


def sentence(e: Estimate, label: str) -> str:
    """One plain sentence for one estimate (plain text; the caller escapes it for Markdown)."""
    v = verdict(e)
    units = e.units or ""
    units = "" if (not units or units == "as reported" or "ratio" in units or units.startswith("proportion")) \
        else f" {units.split(' (')[0]}"
    number = f"{fmt(e.estimate)}{units} ({interval(e)}"
    number += f"; {p_text(e.p_value)})" if e.p_value is not None else ")"
    who = f" for {e.subgroup}" if e.subgroup != "all" else ""
    if v.outcome == "improved":
        head = f"{label}{who} improved"
    elif v.outcome == "worsened":
        head = f"{label}{who} got worse"
    elif v.outcome == "no clear change":
        head = f"{label}{who} showed no clear change"
    else:
        head = f"For {label}{who} we cannot say whether there was a change"
    null_word = "no difference" if v.null == 0 else "a ratio of 1 (no difference)"
    if v.significant is True:
        sure = (f"The {v.ci_level_pct} confidence interval does not include {null_word}, so a result this "
                "large would be unlikely by chance alone.")
    elif v.significant is False:
        sure = (f"The {v.ci_level_pct} confidence interval includes {null_word}, so the data are consistent "
                "with no effect.")
    else:
        sure = "There is no confidence interval or p-value to judge how sure we can be."
    return f"{head}: {what_was_estimated(e)} was {number}. {sure}"


def design_caveat(design: str) -> str:
    return {
        "pre_post": ("This is a before-and-after comparison without a comparison group, so changes cannot be "
                     "attributed to the programme: they may reflect maturation, regression to the mean or other events."),
        "matched_comparison": ("Participants were compared with similar non-participants chosen by matching on "
                               "recorded characteristics; differences in unrecorded characteristics could still bias the results."),
        "difference_in_differences": ("The effect is estimated by comparing changes over time against a comparison "
                                      "group; it relies on both groups having followed parallel trends."),
        "interrupted_time_series": ("The effect is estimated against the trend before the programme started; other "
                                    "changes at the same time could explain a break in the series."),
        "rct": "Participants were allocated at random, which supports a causal interpretation if the trial was well run.",
    }.get(design, "")


def summary_counts(estimates) -> dict[str, int]:
    out = {"improved": 0, "worsened": 0, "no clear change": 0, "unknown": 0}
    for e in estimates:
        out[verdict(e).outcome] += 1
    return out
