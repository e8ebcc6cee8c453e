"""A minimal typed effect, and the number of good outcomes it implies.

Value for money needs only a few things from an evaluation: the estimate, its confidence
interval, the number of people (or the baseline events) it applies to, and its scale. So any
design's estimate can feed it (:func:`effect_from_estimate` reads an
:class:`evalkit.results.Estimate`, or anything with the same attributes).

Scales:

- ``difference``: a difference per participant (risk difference, change in a proportion, a mean
  difference in counts); outcomes = estimate x ``n``;
- ``total``: a number of outcomes in total, such as the place-based design's events prevented or
  a time series' observed-minus-counterfactual; outcomes = the estimate itself;
- ``ratio``: a risk or rate ratio; outcomes = ``baseline_events`` x (1 - ratio) when fewer events
  is better (x (ratio - 1) when more is better). ``baseline_events`` are the events expected
  without the programme over the same people and period.

"Outcomes" are always *good* outcomes (improvements, events avoided): an estimate in the bad
direction gives a negative number. The interval is carried through the (monotone) conversion, so
``low`` is always the least favourable end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from statistics import NormalDist

from evalkit.vfm.errors import VfmError
from evalkit.vfm.results import OutcomeCount


class EffectScale(str, Enum):
    difference = "difference"
    total = "total"
    ratio = "ratio"


class GoodWhen(str, Enum):
    decrease = "decrease"
    increase = "increase"


@dataclass(frozen=True)
class Effect:
    outcome: str  # the good outcome in words, e.g. "suspension avoided", "reliable improvement"
    estimate: float
    ci_low: float | None
    ci_high: float | None
    scale: EffectScale
    good_when: GoodWhen  # which way of the estimate is better
    n: int | None = None  # difference scale: participants it applies to (normally those who started)
    baseline_events: float | None = None  # ratio scale: events expected without the programme
    ci_level: float = 0.95
    std_error: float | None = None  # on the estimate's scale (log scale for a ratio); else from the CI
    source: str = ""  # e.g. "reach-2023-matched: ATT, risk difference"

    def __post_init__(self):
        # accept the enums' values ("difference", "decrease"), as a plan or a notebook writes them
        for name, enum in (("scale", EffectScale), ("good_when", GoodWhen)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, enum(value))
            except ValueError:
                raise VfmError(f"effect '{self.outcome}': {name}: {value!r} is not a valid choice; expected one of "
                               f"{', '.join(repr(m.value) for m in enum)}") from None


def z_value(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_effect(effect: Effect) -> None:
    """Raise :class:`VfmError` naming the first thing wrong with an effect."""
    name = f"effect '{effect.outcome}'"
    scale = effect.scale
    if not _finite(effect.estimate):
        raise VfmError(f"{name}: estimate must be a number (found {effect.estimate!r})")
    if effect.ci_low is None or effect.ci_high is None:
        if effect.std_error is None:
            raise VfmError(f"{name}: no confidence interval and no standard error, so no interval can be put on "
                           f"the cost per outcome; give ci_low and ci_high (or std_error)")
    else:
        if not (_finite(effect.ci_low) and _finite(effect.ci_high)):
            raise VfmError(f"{name}: ci_low and ci_high must be numbers (found {effect.ci_low!r}, {effect.ci_high!r})")
        if not effect.ci_low <= effect.estimate <= effect.ci_high:
            raise VfmError(f"{name}: the estimate {effect.estimate:g} is not inside its interval "
                           f"[{effect.ci_low:g}, {effect.ci_high:g}]")
    if effect.std_error is not None and not (_finite(effect.std_error) and effect.std_error >= 0):
        raise VfmError(f"{name}: std_error must be a number of 0 or more (found {effect.std_error!r})")
    if not 0 < effect.ci_level < 1:
        raise VfmError(f"{name}: ci_level must be between 0 and 1 (found {effect.ci_level!r})")
    if scale is EffectScale.difference:
        if not isinstance(effect.n, int) or isinstance(effect.n, bool) or effect.n <= 0:
            raise VfmError(f"{name}: a difference per participant needs n, the number of participants it applies "
                           f"to (normally those who started); found {effect.n!r}")
    if scale is EffectScale.ratio:
        if effect.estimate <= 0 or (effect.ci_low is not None and effect.ci_low <= 0):
            raise VfmError(f"{name}: a ratio and its interval must be above 0 (found {effect.estimate:g}, "
                           f"[{effect.ci_low}, {effect.ci_high}])")
        if not (_finite(effect.baseline_events) and effect.baseline_events > 0):
            raise VfmError(f"{name}: a ratio needs baseline_events, the events expected without the programme over "
                           f"the same people and period, to count the events avoided; found {effect.baseline_events!r}")


def log_std_error(effect: Effect) -> float:
    """The standard error of the estimate on its analysis scale (log scale for a ratio)."""
    if effect.std_error is not None:
        return float(effect.std_error)
    z = z_value(effect.ci_level)
    if effect.scale is EffectScale.ratio:
        return (math.log(effect.ci_high) - math.log(effect.ci_low)) / (2 * z)
    return (effect.ci_high - effect.ci_low) / (2 * z)


def to_outcomes(effect: Effect, value):
    """Good outcomes implied by an estimate ``value`` (a float or a numpy array) on the effect's scale."""
    sign = -1.0 if effect.good_when is GoodWhen.decrease else 1.0
    if effect.scale is EffectScale.difference:
        return sign * value * effect.n
    if effect.scale is EffectScale.total:
        return sign * value
    if effect.good_when is GoodWhen.decrease:  # events avoided
        return effect.baseline_events * (1 - value)
    return effect.baseline_events * (value - 1)  # events gained


def outcomes_achieved(effect: Effect) -> OutcomeCount:
    """The number of good outcomes, with its interval (least favourable end first)."""
    check_effect(effect)
    central = float(to_outcomes(effect, effect.estimate))
    if effect.ci_low is not None and effect.ci_high is not None:
        ends = sorted((float(to_outcomes(effect, effect.ci_low)), float(to_outcomes(effect, effect.ci_high))))
    else:
        z = z_value(effect.ci_level)
        se = effect.std_error
        if effect.scale is EffectScale.ratio:
            bounds = (effect.estimate * math.exp(-z * se), effect.estimate * math.exp(z * se))
        else:
            bounds = (effect.estimate - z * se, effect.estimate + z * se)
        ends = sorted(float(to_outcomes(effect, b)) for b in bounds)
    se = log_std_error(effect)
    better = "lower" if effect.good_when is GoodWhen.decrease else "higher"
    if effect.scale is EffectScale.difference:
        out_se = se * effect.n
        how = f"{effect.estimate:.4g} per participant x {effect.n:,} participants ({better} is better)"
    elif effect.scale is EffectScale.total:
        out_se = se
        how = f"{effect.estimate:.4g} in total ({better} is better)"
    else:
        out_se = effect.baseline_events * effect.estimate * se  # delta method on the log scale
        how = (f"{effect.baseline_events:,.4g} expected events x "
               f"{'(1 - ratio)' if effect.good_when is GoodWhen.decrease else '(ratio - 1)'}, "
               f"ratio {effect.estimate:.4g}")
    return OutcomeCount(outcome=effect.outcome, scale=effect.scale.value, central=central, low=ends[0],
                        high=ends[1], std_error=out_se, ci_level=effect.ci_level, how=how, source=effect.source)


def effect_from_estimate(estimate, *, outcome: str, scale: EffectScale | str, good_when: GoodWhen | str,
                         n: int | None = None, baseline_events: float | None = None, source: str | None = None) -> Effect:
    """An :class:`Effect` from an :class:`evalkit.results.Estimate` (or any record with ``estimate``,
    ``ci_low``, ``ci_high``, ``std_error``, ``ci_level`` and ``indicator``). For a difference, ``n``
    defaults to ``n_treated`` (or ``n``); pass the number who started to cost the whole cohort."""
    scale = EffectScale(scale)
    if scale is EffectScale.difference and n is None:
        n = getattr(estimate, "n_treated", None) or getattr(estimate, "n", None)
    se = getattr(estimate, "std_error", None)
    if scale is EffectScale.ratio:
        se = None  # an Estimate's SE of a ratio may be on either scale: use its interval instead
    return Effect(outcome=outcome, estimate=estimate.estimate, ci_low=estimate.ci_low, ci_high=estimate.ci_high,
                  scale=scale, good_when=GoodWhen(good_when), n=n, baseline_events=baseline_events,
                  ci_level=getattr(estimate, "ci_level", 0.95) or 0.95,
                  std_error=se if (se is not None and math.isfinite(se)) else None,
                  source=source if source is not None else
                  f"{getattr(estimate, 'indicator', '?')}: {getattr(estimate, 'estimand', '')}".strip())


def effect_from_reliable_change(section, *, outcome: str = "reliable improvement", level: float = 0.95,
                                source: str = "") -> Effect:
    """An :class:`Effect` counting reliable improvements from a pre/post ``reliable_change`` entry
    (one indicator's mapping, with ``n`` and ``improved``): the share improved, with its Wilson
    interval, over the ``n`` people measured. A pre/post count has no comparison group, so the
    cost per reliable improvement it gives is descriptive: it is not the cost of an improvement the
    programme caused. People not measured at follow-up are not counted as improved."""
    from evalkit.estimate._stats import wilson
    from evalkit.result_sections import ReliableChangeEntry, given

    # the typed entry (or its JSON object): a field it does not declare fails in a test
    entry = section if isinstance(section, ReliableChangeEntry) else ReliableChangeEntry.from_mapping(section)
    n, improved = int(entry.n), int(entry.improved)
    if n <= 0:
        raise VfmError(f"reliable change for '{outcome}': no one was measured at both timepoints")
    low, high = (float(v) for v in wilson(improved, n, level))
    deteriorated = given(entry, "deteriorated")
    detail = f"{improved} of {n} improved reliably" + (f", {deteriorated} deteriorated" if deteriorated is not None else "")
    return Effect(outcome=outcome, estimate=improved / n, ci_low=low, ci_high=high, scale=EffectScale.difference,
                  good_when=GoodWhen.increase, n=n, ci_level=level,
                  source=(source + ": " if source else "") + f"{detail} (pre/post, no comparison group; Wilson interval)")
