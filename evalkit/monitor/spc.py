"""Statistical process control: XmR charts with NHS England's "Making Data Count" rules.

An XmR chart (individuals and moving range) puts each period's value beside its process
limits, the mean plus or minus 2.66 times the mean moving range (the moving range chart's
upper limit is 3.267 times it). Making Data Count (MDC) reads four special-cause patterns, in
this order of precedence when a point is part of more than one:

1. ``beyond_limits``: a point above the upper or below the lower process limit;
2. ``trend``: seven consecutive points each higher (or each lower) than the one before; the
   trend may cross the mean, and a tie breaks it;
3. ``two_of_three``: two of three consecutive points beyond two sigma (2/3 of the way from
   the mean to a limit) on the same side, all three on that side of the mean; the points
   beyond two sigma are flagged;
4. ``shift``: seven or more consecutive points on one side of the mean (a point on the mean
   breaks the run).

Everything else is common-cause variation: a single month below target inside the limits is
not a crisis. The *variation icon* is the latest point's: common cause, or special cause of an
improving, concerning or (for indicators with no better direction) neutral nature, high or
low. The *assurance icon* compares the target with the latest limits: a target beyond the
limits on the good side is consistently passed, beyond them on the bad side consistently
failed, and a target between the limits is hit and miss.

Limits are computed per *baseline*: from the first period, and again from each declared step
change (a re-phased baseline); never automatically. ``baseline_points`` fixes each baseline's
limits on its first periods. Outlying moving ranges are kept in the mean moving range, as the
MDC spreadsheet tools do (``screen_outliers=True`` drops those at or above 3.267 times the mean
moving range, as NHSRplotthedots does by default). A baseline whose limits would rest on fewer
than ``min_points`` values (default 15) is refused rather than drawn with unreliable limits.

Checked against the NHS-R community's NHSRplotthedots package (``tests/reference/spc/``).
Values that are missing or suppressed are gaps: they enter no mean, moving range or limit,
and a pattern must run through consecutive values, so nothing in a chart depends on a
suppressed value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from datetime import datetime
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError, OptionError, check_choice

LIMIT_FACTOR = 2.66  # 3 / d2, d2 = 1.128 for moving ranges of two points
NEAR_FACTOR = 2 * LIMIT_FACTOR / 3  # two sigma
MR_LIMIT_FACTOR = 3.267  # D4 for moving ranges of two points
RUN_LENGTH = 7  # points on one side of the mean
TREND_LENGTH = 7  # points each higher (or lower) than the last
# Values a baseline's limits must rest on. Sources differ: NHSRplotthedots calls limits on fewer than
# 12 points "trial limits", The Health Care Data Guide (p155) asks for 20 to 30 for an I chart.
DEFAULT_MIN_POINTS = 15
CONVENTION = ("NHS England Making Data Count XmR: limits mean +/- 2.66 x mean moving range; rules beyond limits, "
              "7-point trend, 2 of 3 beyond 2 sigma, 7-point shift")


class Improvement(str, Enum):
    """Which way is better for the indicator (``neutral``: neither)."""

    increase = "increase"
    decrease = "decrease"
    neutral = "neutral"


class Rule(str, Enum):
    """The special-cause patterns, in MDC's order of precedence."""

    beyond_limits = "beyond_limits"
    trend = "trend"
    two_of_three = "two_of_three"
    shift = "shift"


class PointType(str, Enum):
    common_cause = "common_cause"
    improvement = "special_cause_improvement"
    concern = "special_cause_concern"
    neutral = "special_cause_neutral"


class VariationIcon(str, Enum):
    common_cause = "common_cause"
    improvement_high = "improvement_high"
    improvement_low = "improvement_low"
    concern_high = "concern_high"
    concern_low = "concern_low"
    neutral_high = "neutral_high"
    neutral_low = "neutral_low"


class AssuranceIcon(str, Enum):
    consistent_pass = "consistent_pass"
    consistent_fail = "consistent_fail"
    hit_and_miss = "hit_and_miss"


VARIATION_LABELS = {
    VariationIcon.common_cause: "Common cause variation: no significant change",
    VariationIcon.improvement_high: "Special cause of an improving nature: higher values",
    VariationIcon.improvement_low: "Special cause of an improving nature: lower values",
    VariationIcon.concern_high: "Special cause of a concerning nature: higher values",
    VariationIcon.concern_low: "Special cause of a concerning nature: lower values",
    VariationIcon.neutral_high: "Special cause: higher values (neither direction is better)",
    VariationIcon.neutral_low: "Special cause: lower values (neither direction is better)",
}
ASSURANCE_LABELS = {
    AssuranceIcon.consistent_pass: "The process will consistently meet the target",
    AssuranceIcon.consistent_fail: "The process will consistently miss the target",
    AssuranceIcon.hit_and_miss: "Hit and miss: the process will sometimes meet the target, sometimes not",
}
RULE_LABELS = {
    Rule.beyond_limits: "a point beyond the process limits",
    Rule.trend: f"{TREND_LENGTH} points in a row rising or falling",
    Rule.two_of_three: "2 of 3 points beyond two sigma",
    Rule.shift: f"{RUN_LENGTH} or more points on one side of the mean",
}

FRAME_COLUMNS = ["period", "value", "suppressed", "baseline", "baseline_start", "in_baseline", "mean",
                 "lower_limit", "upper_limit", "lower_2sigma", "upper_2sigma", "moving_range", "mean_moving_range",
                 "moving_range_limit", "beyond_limits", "trend", "two_of_three", "shift", "rule", "side",
                 "point_type", "icon", "target", "assurance"]


@dataclass(frozen=True)
class Baseline:
    """The limits of one baseline: from ``start`` (the first period or a step change) to ``end``."""

    start: object
    end: object
    n_values: int  # values (not missing or suppressed) in the baseline
    n_limit_values: int  # values the limits rest on (all, or those in the first baseline_points periods)
    mean: float
    mean_moving_range: float
    lower_limit: float
    upper_limit: float
    moving_range_limit: float


@dataclass(frozen=True)
class XmRChart:
    """One XmR chart: its baselines, the icons of its latest point, and the tidy frame behind it.

    ``frame`` has one row per period (columns :data:`FRAME_COLUMNS`): the value (NaN when
    missing or suppressed), which baseline it belongs to, the mean, limits and two-sigma lines,
    its moving range, a flag per rule (the point is part of that pattern), ``rule`` (the one
    that colours the point, by precedence; empty for common cause), ``side`` (``high`` or
    ``low``), ``point_type``, ``icon`` (the variation icon the point would give as the latest),
    the target and the chart's assurance icon (empty without a target or a better direction).
    """

    name: str
    improvement: Improvement
    target: float | None
    step_changes: tuple
    baselines: tuple[Baseline, ...]
    latest_period: object  # the latest period with a value: the icons describe it
    variation: VariationIcon
    assurance: AssuranceIcon | None
    screen_outliers: bool
    convention: str
    frame: pd.DataFrame = field(repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


# ---------------------------------------------------------------- the chart


def xmr(periods: Sequence, values: Sequence, *, name: str = "value", improvement: Improvement | str = "neutral",
        target: float | None = None, step_changes: Sequence = (), baseline_points: int | None = None,
        min_points: int = DEFAULT_MIN_POINTS, screen_outliers: bool = False,
        suppressed: Sequence[bool] | None = None) -> XmRChart:
    """The XmR chart of ``values`` by ``periods`` (any row order; periods must be distinct).

    ``suppressed`` marks values withheld by disclosure control: they are treated as gaps and
    blanked in the frame, so the chart is the same whatever value they hold. Each baseline's
    limits must rest on at least ``min_points`` values, or :class:`~evalkit.errors.EstimationError`
    says which baseline is short.
    """
    check_choice(f"{name}: improvement", getattr(improvement, "value", improvement), [i.value for i in Improvement])
    improvement = Improvement(getattr(improvement, "value", improvement))
    if not _whole(min_points) or min_points < 2:
        raise OptionError(f"{name}: min_points {min_points!r} is not valid; expected a whole number of at least 2")
    if baseline_points is not None and (not _whole(baseline_points) or baseline_points < min_points):
        raise OptionError(f"{name}: baseline_points {baseline_points!r} is not valid; expected a whole number of at "
                          f"least min_points ({min_points})")
    if target is not None and (isinstance(target, bool) or not isinstance(target, numbers.Real)
                               or not math.isfinite(target)):
        raise OptionError(f"{name}: target {target!r} is not a number")
    frame = _series(name, periods, values, suppressed)
    starts = _step_positions(name, frame["period"], step_changes)
    frame["baseline"] = np.searchsorted(np.asarray(starts), np.arange(len(frame)), side="right") - 1

    parts, baselines = [], []
    for _, part in frame.groupby("baseline", sort=True):
        part, limits = _baseline(name, part.copy(), baseline_points, min_points, screen_outliers)
        parts.append(_rules(part, improvement))
        baselines.append(limits)
    frame = pd.concat(parts, ignore_index=True)
    frame["target"] = float(target) if target is not None else float("nan")
    frame.loc[frame["value"].isna(), ["rule", "side", "point_type", "icon"]] = ""

    shown = frame[frame["value"].notna()]
    latest = shown.iloc[-1]
    last = baselines[-1]
    icon = assurance(improvement, target, last.lower_limit, last.upper_limit)
    frame["assurance"] = icon.value if icon else ""
    return XmRChart(name=name, improvement=improvement, target=None if target is None else float(target),
                    step_changes=tuple(frame["period"].iloc[s] for s in starts[1:]), baselines=tuple(baselines),
                    latest_period=latest["period"], variation=VariationIcon(latest["icon"]),
                    assurance=icon,
                    screen_outliers=screen_outliers, convention=CONVENTION + (
                        "; outlying moving ranges screened" if screen_outliers else ""),
                    frame=frame[FRAME_COLUMNS])


def assurance(improvement: Improvement, target: float | None, lower_limit: float,
              upper_limit: float) -> AssuranceIcon | None:
    """MDC's assurance icon: where the target lies against the process limits (None without one)."""
    if target is None or improvement is Improvement.neutral:
        return None
    if target > upper_limit:
        return AssuranceIcon.consistent_fail if improvement is Improvement.increase else AssuranceIcon.consistent_pass
    if target < lower_limit:
        return AssuranceIcon.consistent_pass if improvement is Improvement.increase else AssuranceIcon.consistent_fail
    return AssuranceIcon.hit_and_miss


# ---------------------------------------------------------------- input


def _whole(n) -> bool:
    return isinstance(n, numbers.Integral) and not isinstance(n, bool)


def _label(period) -> str:
    return str(period.date()) if isinstance(period, pd.Timestamp) and period == period.normalize() else str(period)


def _series(name: str, periods: Sequence, values: Sequence, suppressed: Sequence[bool] | None) -> pd.DataFrame:
    periods, values = list(periods), list(values)
    if len(periods) != len(values):
        raise DataError(f"{name}: {len(periods)} periods but {len(values)} values; expected one value per period")
    mask = [False] * len(values) if suppressed is None else [bool(s) for s in suppressed]
    if len(mask) != len(values):
        raise DataError(f"{name}: the suppressed mask has {len(mask)} entries for {len(values)} values")
    when = pd.Series([_period(name, raw) for raw in periods], dtype="datetime64[ns]")
    number = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
    bad = [i for i, (raw, v) in enumerate(zip(values, number))
           if (math.isnan(v) and not _is_missing(raw)) or math.isinf(v)]
    if bad:
        i = bad[0]
        raise DataError(f"{name}: value for {_label(when[i])} is {values[i]!r}; expected a finite number or missing")
    frame = pd.DataFrame({"period": when, "value": number, "suppressed": mask})
    dup = frame["period"].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{name}: period {_label(frame.loc[dup, 'period'].iloc[0])} appears {int(dup.sum())} times; "
                        "expected one value per period")
    frame = frame.sort_values("period", kind="stable", ignore_index=True)
    frame.loc[frame["suppressed"], "value"] = float("nan")  # nothing below may depend on a suppressed value
    return frame


def _timestamp(raw) -> pd.Timestamp | None:
    """A date, datetime or ISO text as a Timestamp; None for anything else (numbers included)."""
    if isinstance(raw, (int, float, bool)):
        return None
    try:
        # ISO text only: dateutil would read "March" as the first of March in year 1
        when = pd.Timestamp(datetime.fromisoformat(raw) if isinstance(raw, str) else raw)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if when is pd.NaT else when


def _period(name: str, raw) -> pd.Timestamp:
    if _is_missing(raw):
        raise DataError(f"{name}: period {raw!r} is missing; expected a date")
    when = _timestamp(raw)
    if when is None:
        raise DataError(f"{name}: period {raw!r} is not a date; expected dates such as 2024-01-01")
    return when


def _is_missing(raw) -> bool:
    return raw is None or raw is pd.NA or raw is pd.NaT or (isinstance(raw, float) and math.isnan(raw))


def _step_positions(name: str, periods: pd.Series, step_changes: Sequence) -> list[int]:
    first, last = periods.iloc[0], periods.iloc[-1]
    positions = [0]
    for raw in step_changes:
        when = _timestamp(raw)
        if when is None:
            raise OptionError(f"{name}: step change {raw!r} is not a date; expected a period of the series such as "
                              f"{_label(first)}")
        if when <= first or when > last:
            raise OptionError(f"{name}: step change {_label(when)} is outside the data ({_label(first)} to "
                              f"{_label(last)}); expected a period after the first")
        hit = np.flatnonzero(periods.to_numpy() == when.to_datetime64())
        if not len(hit):
            after = periods[periods > when].iloc[0]
            raise OptionError(f"{name}: step change {_label(when)} is not a period of the series; expected one of "
                              f"its periods, e.g. {_label(after)}")
        positions.append(int(hit[0]))
    if len(set(positions)) != len(positions):
        raise OptionError(f"{name}: a step change is declared twice; expected each date once")
    return sorted(positions)


# ---------------------------------------------------------------- limits


def _baseline(name: str, part: pd.DataFrame, baseline_points: int | None, min_points: int,
              screen_outliers: bool) -> tuple[pd.DataFrame, Baseline]:
    y = part["value"].to_numpy()
    in_limits = np.ones(len(y), dtype=bool) if baseline_points is None else np.arange(len(y)) < baseline_points
    fixed = np.where(in_limits, y, np.nan)
    n_limit = int(np.isfinite(fixed).sum())
    start, end = part["period"].iloc[0], part["period"].iloc[-1]
    if n_limit < min_points:
        within = f" in its first {baseline_points} periods" if baseline_points is not None else ""
        raise EstimationError(
            f"{name}: the baseline from {_label(start)} to {_label(end)} has {n_limit} values{within}; an XmR chart's "
            f"limits need at least {min_points} (min_points sets it)")
    mean = float(np.nanmean(fixed))
    mr_fixed = np.abs(np.diff(fixed, prepend=np.nan))
    if not np.isfinite(mr_fixed).any():
        raise EstimationError(f"{name}: the baseline from {_label(start)} to {_label(end)} has no two consecutive "
                              "values, so no moving range; expected values in consecutive periods")
    amr = float(np.nanmean(mr_fixed))
    if screen_outliers:
        # NHSRplotthedots (after Nelson 1982): drop moving ranges at or above the moving-range limit
        amr = float(np.nanmean(np.where(mr_fixed < MR_LIMIT_FACTOR * amr, mr_fixed, np.nan)))
    lower, upper = mean - LIMIT_FACTOR * amr, mean + LIMIT_FACTOR * amr
    part["baseline_start"] = start
    part["in_baseline"] = in_limits
    part["mean"] = mean
    part["lower_limit"], part["upper_limit"] = lower, upper
    part["lower_2sigma"], part["upper_2sigma"] = mean - NEAR_FACTOR * amr, mean + NEAR_FACTOR * amr
    part["moving_range"] = np.abs(np.diff(y, prepend=np.nan))
    part["mean_moving_range"] = amr
    part["moving_range_limit"] = MR_LIMIT_FACTOR * amr
    limits = Baseline(start=start, end=end, n_values=int(np.isfinite(y).sum()), n_limit_values=n_limit, mean=mean,
                      mean_moving_range=amr, lower_limit=lower, upper_limit=upper,
                      moving_range_limit=MR_LIMIT_FACTOR * amr)
    return part, limits


# ---------------------------------------------------------------- rules


def _runs_at_least(codes: np.ndarray, length: int) -> np.ndarray:
    """True where a point belongs to a run of >= ``length`` equal, non-zero codes."""
    out = np.zeros(len(codes), dtype=bool)
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[i]:
            j += 1
        if codes[i] != 0 and j - i + 1 >= length:
            out[i:j + 1] = True
        i = j + 1
    return out


def _stretch_rules(y: np.ndarray, side: np.ndarray, near: np.ndarray) -> dict:
    """The pattern rules on one stretch of consecutive values (no gaps)."""
    n = len(y)
    shift = _runs_at_least(side, RUN_LENGTH)
    steps = np.sign(np.diff(y))
    trend = np.zeros(n, dtype=bool)
    step_runs = _runs_at_least(steps, TREND_LENGTH - 1)  # six rises make a trend of seven points
    trend[:-1] |= step_runs
    trend[1:] |= step_runs
    # the direction of a point in a trend: the step to its right while the trend goes on, else from its left
    right = np.append(steps, steps[-1:]) if n > 1 else np.zeros(n)
    left = np.insert(steps, 0, 0.0)
    going_on = trend & np.append(trend[1:], False)
    direction = np.where(going_on, right, left)
    two = np.zeros(n, dtype=bool)
    for k in range(n - 2):
        w = slice(k, k + 3)
        if near[w].sum() >= 2 and abs(side[w].sum()) == 3:
            two[w] |= near[w]
    return {"shift": shift, "trend": trend, "two_of_three": two, "direction": direction}


def _rules(part: pd.DataFrame, improvement: Improvement) -> pd.DataFrame:
    y = part["value"].to_numpy()
    mean = part["mean"].to_numpy()
    side = np.sign(y - mean)
    beyond = (y > part["upper_limit"].to_numpy()) | (y < part["lower_limit"].to_numpy())
    near = ~beyond & ((y < part["lower_2sigma"].to_numpy()) | (y > part["upper_2sigma"].to_numpy()))
    flags = {k: np.zeros(len(y), dtype=bool) for k in ("shift", "trend", "two_of_three")}
    direction = np.zeros(len(y))
    present = np.isfinite(y)
    # patterns need consecutive values: a gap (missing or suppressed) ends every run
    edges = np.flatnonzero(np.diff(np.concatenate(([0], present.astype(int), [0]))))
    for a, b in zip(edges[::2], edges[1::2]):
        got = _stretch_rules(y[a:b], side[a:b], near[a:b])
        for k in flags:
            flags[k][a:b] = got[k]
        direction[a:b] = got["direction"]
    rule = np.select([beyond, flags["trend"], flags["two_of_three"], flags["shift"]],
                     [Rule.beyond_limits.value, Rule.trend.value, Rule.two_of_three.value, Rule.shift.value], "")
    sign = np.where(rule == Rule.trend.value, direction, side)
    high = np.select([rule == "", sign > 0], ["", "high"], "low")
    part["beyond_limits"], part["trend"] = beyond & present, flags["trend"]
    part["two_of_three"], part["shift"] = flags["two_of_three"], flags["shift"]
    part["rule"], part["side"] = rule, high
    part["point_type"], part["icon"] = zip(*(_kind(s, improvement) for s in high)) if len(high) else ((), ())
    return part


def _kind(side: str, improvement: Improvement) -> tuple[str, str]:
    if not side:
        return PointType.common_cause.value, VariationIcon.common_cause.value
    if improvement is Improvement.neutral:
        return PointType.neutral.value, f"neutral_{side}"
    good = (side == "high") == (improvement is Improvement.increase)
    return (PointType.improvement.value if good else PointType.concern.value,
            f"{'improvement' if good else 'concern'}_{side}")
