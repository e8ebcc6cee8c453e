"""Equity in monitoring: who is referred, engaged, completes and improves, against who lives here.

Pure functions on small aggregated frames (one row per group, already counted by the store's
indicators), so they are easy to check by hand and never see a person-level row:

- :func:`breakdown`: counts by any declared demographic column, each group's share of the total
  with a Wilson interval, and the share with the column not recorded;
- :func:`relative_rate_index`: the relative rate index (RRI) of each group against a reference
  group: the group's rate (count per resident, or per person at the previous stage) divided by
  the reference group's. Interval on the log scale with the normal approximation:

  * people (each counted at most once; the rate is a proportion of the denominator):
    ``SE(log RRI) = sqrt(1/a - 1/n_a + 1/b - 1/n_b)``, the log method of Katz, Baptista, Azen &
    Pike (1978, Biometrics 34:469) for a ratio of two binomial proportions;
  * events (a person can be counted more than once, e.g. offences): ``SE = sqrt(1/a + 1/b)``,
    the ratio of two Poisson rates (Rothman, Greenland & Lash, Modern Epidemiology, 3rd ed.,
    ch. 14);

  with the rate itself given a Wilson (people) or exact Poisson (Garwood 1936; events) interval;
- :func:`stage_disproportionality`: the RRI at each stage of a programme's flow (referral against
  the resident population, then engagement against referrals, completion against engagement,
  improvement against completion): each decision point against the stage that feeds it, the
  method of the US OJJDP's RRI matrix, so disparity introduced at one stage is not counted again
  at the next;
- :func:`reach`: the share of the eligible population a programme reached, with Wilson intervals,
  by group and overall.

Reference group. UK youth justice statistics (Youth Justice Board / Ministry of Justice) compare
ethnic groups with White children, using the five broad 2011/2021 Census groups (Asian, Black,
Mixed, Other, White); the Department for Education's exclusion statistics compare detailed groups
with White British pupils. The default here is ``"White"`` and it is always configurable
(``reference=``): a plan with the detailed 18+1 categories should name ``"White British"``.

Small counts: any group whose count (or the reference group's) is below ``min_count`` gets no
rate, share or RRI (only its typed counts, which the disclosure layer suppresses or not), so a
suppressed count cannot be worked back from a published rate and a known population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from evalkit.errors import DataError, OptionError
from evalkit.estimate._stats import wilson as _wilson
from evalkit.estimate.feasibility import poisson_exact

DEFAULT_REFERENCE = "White"
MIN_COUNT = 5  # the disclosure threshold: fewer than this is a small cell (configurable)
UNKNOWN_SHARE = 0.10  # more than this share not recorded: the breakdown may mislead
UNKNOWN_LABELS = ("unknown", "not known", "not stated", "not recorded", "")


class Counted(str, Enum):
    people = "people"  # each person at most once: the rate is a proportion (binomial, Katz log method)
    events = "events"  # events such as offences or attendances: a Poisson rate


class Disparity(str, Enum):
    higher = "higher"  # interval above 1
    lower = "lower"  # interval below 1
    no_clear_difference = "no_clear_difference"  # interval includes 1
    reference = "reference"
    not_reported = "not_reported"  # small counts, or no events


@dataclass(frozen=True)
class GroupShare:
    """One group of a breakdown: its count and share of the total (Wilson interval)."""

    column: str
    group: str
    count: int
    total: int
    share: float | None
    share_low: float | None
    share_high: float | None
    reported: bool  # False when the count is below min_count (the count stays for the disclosure layer)


@dataclass(frozen=True)
class Breakdown:
    column: str
    measure: str  # what was counted, e.g. "referrals"
    groups: tuple[GroupShare, ...]
    unknown: int  # rows with the column not recorded
    unknown_share: float | None
    min_count: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class GroupRate:
    """One group's rate and its relative rate index against the reference group."""

    column: str
    group: str
    count: int
    denominator: float  # resident population, or people at the previous stage
    rate: float | None  # per ``per``
    rate_low: float | None
    rate_high: float | None
    share_of_count: float | None  # this group's share of all counted
    share_of_denominator: float | None  # and of the denominator (population)
    representation: float | None  # share_of_count / share_of_denominator (YJB's "over-representation")
    rri: float | None
    rri_low: float | None
    rri_high: float | None
    se_log_rri: float | None
    disparity: Disparity
    is_reference: bool
    reported: bool
    reason: str | None


@dataclass(frozen=True)
class Disproportionality:
    """The relative rate index of every group at one stage."""

    stage: str  # e.g. "referrals", "engaged", "completed", "improved"
    column: str  # the demographic column, e.g. "ethnicity"
    denominator: str  # "resident population" or the previous stage's name
    reference: str
    counted: Counted
    per: int
    ci_level: float
    method: str  # the interval formulas, in words
    rows: tuple[GroupRate, ...]
    min_count: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ReachRow:
    column: str
    group: str
    reached: int
    eligible: float
    share: float | None
    share_low: float | None
    share_high: float | None
    reported: bool


@dataclass(frozen=True)
class Reach:
    column: str
    rows: tuple[ReachRow, ...]  # the groups, then "all"
    ci_level: float
    min_count: int
    method: str
    disproportionality: Disproportionality  # reach of each group relative to the reference group's


# -------------------------------------------------------------------------------- helpers


def wilson(x: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval for x of n (the shared helper, as statsmodels' ``proportion_confint``
    with ``method="wilson"``)."""
    _z(level)
    lo, hi = _wilson(x, n, level)
    return float(lo), float(hi)


def _z(level: float) -> float:
    from scipy import stats

    if not 0 < level < 1:
        raise OptionError(f"ci_level: found {level}; expected a level between 0 and 1, e.g. 0.95")
    return float(stats.norm.ppf(0.5 + level / 2))


def _label(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _is_unknown(label: str) -> bool:
    return label.strip().lower() in UNKNOWN_LABELS


def _counts(frame: pd.DataFrame, group: str, value: str, what: str, whole: bool = True) -> pd.Series:
    """A frame's ``value`` by ``group``, checked: groups once each, numbers >= 0 (whole numbers for counts)."""
    for col in (group, value):
        if col not in frame.columns:
            raise DataError(f"{what}: column '{col}' is not in the frame; it has " + ", ".join(map(str, frame.columns)))
    labels = frame[group].map(lambda v: "" if pd.isna(v) else _label(v))
    dup = labels.duplicated(keep=False)
    if dup.any():
        raise DataError(f"{what}: group {labels[dup].iloc[0]!r} appears on {int(dup.sum())} rows; expected one row per "
                        f"'{group}' (aggregate first)")
    values = pd.to_numeric(frame[value], errors="coerce")
    bad = values.isna() | (values < 0) | (whole & (values != np.round(values)))
    if bad.any():
        found = frame[value][bad].iloc[0]
        found = found.item() if hasattr(found, "item") else found
        raise DataError(f"{what}: '{value}' for group {labels[bad].iloc[0]!r} is {found!r}; "
                        f"expected {'a whole number' if whole else 'a number'} >= 0")
    return pd.Series(values.to_numpy(dtype=float), index=labels.to_numpy(), name=value)


def _order(labels, reference: str | None = None) -> list[str]:
    """Canonical order: the reference group first, then the others alphabetically."""
    rest = sorted(v for v in labels if v != reference)
    return ([reference] if reference in labels else []) + rest


# -------------------------------------------------------------------------------- breakdown


def breakdown(counts: pd.DataFrame, column: str, *, count: str = "count", measure: str = "count",
              ci_level: float = 0.95, min_count: int = MIN_COUNT) -> Breakdown:
    """Counts by the levels of ``column`` (one row per level), with each level's share of the
    recorded total and a Wilson interval. Rows whose level is missing or reads 'unknown',
    'not known', 'not stated' or 'not recorded' are counted apart, not in the shares."""
    c = _counts(counts, column, count, f"breakdown by {column}")
    unknown = int(sum(v for k, v in c.items() if _is_unknown(k)))
    known = c[[not _is_unknown(k) for k in c.index]]
    total = int(known.sum())
    groups = []
    for g in _order(list(known.index)):
        x = int(known[g])
        ok = x >= min_count and total > 0
        lo, hi = wilson(x, total, ci_level) if ok else (None, None)
        groups.append(GroupShare(column, g, x, total, x / total if ok else None, lo, hi, ok))
    all_rows = total + unknown
    share_unknown = unknown / all_rows if all_rows else None
    warnings = []
    if share_unknown is not None and share_unknown > UNKNOWN_SHARE:
        warnings.append(f"'{column}' is not recorded for {share_unknown:.0%} of {measure}: the breakdown describes "
                        "only those with it recorded, and may not represent everyone")
    return Breakdown(column, measure, tuple(groups), unknown, share_unknown, min_count, tuple(warnings))


# -------------------------------------------------------------------------------- RRI


def relative_rate_index(counts: pd.DataFrame, denominators: pd.DataFrame, column: str, *, count: str = "count",
                        denominator: str = "population", reference: str = DEFAULT_REFERENCE,
                        counted: Counted | str = Counted.people, per: int = 1000, stage: str = "referrals",
                        denominator_name: str = "resident population", ci_level: float = 0.95,
                        min_count: int = MIN_COUNT) -> Disproportionality:
    """Each group's rate (count per ``per`` of its denominator) and its RRI against ``reference``.

    ``counts`` and ``denominators`` have one row per group of ``column``. Groups recorded as
    unknown are left out (and warned about when they are many); a group present in the counts but
    not in the denominators is an error, since its rate would be a guess.
    """
    try:
        counted = Counted(counted)
    except ValueError:
        raise OptionError(f"counted: {counted!r} is not a valid choice; expected one of 'people', 'events'") from None
    if per <= 0:
        raise OptionError(f"per: found {per}; expected a positive number such as 1000 or 100000")
    z = _z(ci_level)
    a = _counts(counts, column, count, f"{stage} by {column}")
    n = _counts(denominators, column, denominator, f"{denominator_name} by {column}", whole=False)
    unknown = float(sum(v for k, v in a.items() if _is_unknown(k)))
    a = a[[not _is_unknown(k) for k in a.index]]
    n = n[[not _is_unknown(k) for k in n.index]]
    missing = [g for g in a.index if g not in n.index]
    if missing:
        raise DataError(f"{stage} by {column}: group {missing[0]!r} has no {denominator_name}; expected a "
                        f"denominator for every group counted (found {', '.join(map(repr, sorted(n.index)))})")
    if reference not in a.index:
        raise DataError(f"{stage} by {column}: the reference group {reference!r} is not among the groups counted; "
                        f"expected one of {', '.join(map(repr, sorted(a.index)))} (set reference=)")
    zero = [g for g in a.index if n[g] <= 0]
    if zero:
        raise DataError(f"{stage} by {column}: group {zero[0]!r} has a {denominator_name} of 0; expected a positive "
                        "denominator")
    if counted is Counted.people:
        over = [g for g in a.index if a[g] > n[g]]
        if over:
            raise DataError(f"{stage} by {column}: group {over[0]!r} counts {int(a[over[0]])} people out of "
                            f"{n[over[0]]:g} ({denominator_name}); people counted once cannot outnumber their "
                            "denominator (count events with counted='events')")
    total_a, total_n = float(a.sum()), float(n[a.index].sum())
    b, nb = float(a[reference]), float(n[reference])
    ref_ok = b >= min_count
    rows = []
    for g in _order(list(a.index), reference):
        x, m = float(a[g]), float(n[g])
        ok = x >= min_count
        rate = lo = hi = None
        if ok:
            rate = per * x / m
            if counted is Counted.people:
                l_, h_ = wilson(x, m, ci_level)
            else:
                l_, h_ = (v / m for v in poisson_exact(int(x), ci_level))
            lo, hi = per * l_, per * h_
        share_a = x / total_a if ok and total_a > 0 else None
        share_n = m / total_n if total_n > 0 else None
        rep = share_a / share_n if share_a is not None and share_n else None
        rri = rri_lo = rri_hi = se = None
        reason = None
        disparity = Disparity.reference if g == reference else Disparity.not_reported
        if not ok:
            reason = f"fewer than {min_count} counted"
            disparity = Disparity.not_reported
        elif g != reference and not ref_ok:
            reason = f"the reference group {reference!r} has fewer than {min_count} counted"
        elif g != reference:
            var = (1 / x - 1 / m + 1 / b - 1 / nb) if counted is Counted.people else (1 / x + 1 / b)
            se = math.sqrt(max(var, 0.0))
            rri = (x / m) / (b / nb)
            rri_lo, rri_hi = rri * math.exp(-z * se), rri * math.exp(z * se)
            disparity = (Disparity.higher if rri_lo > 1 else Disparity.lower if rri_hi < 1
                         else Disparity.no_clear_difference)
        elif g == reference:
            rri = 1.0
        rows.append(GroupRate(column, g, int(x), m, rate, lo, hi, share_a, share_n, rep, rri, rri_lo, rri_hi, se,
                              disparity, g == reference, ok and (g == reference or ref_ok), reason))
    warnings = []
    everyone = total_a + unknown
    if everyone and unknown / everyone > UNKNOWN_SHARE:
        warnings.append(f"'{column}' is not recorded for {unknown / everyone:.0%} of {stage}: rates for the groups "
                        "recorded are too low by an unknown amount, and the index may be biased if recording "
                        "differs between groups")
    if counted is Counted.people:
        method = (f"rate per {per:,} {denominator_name}, Wilson interval; RRI = group rate / {reference} rate, "
                  "interval exp(log RRI ± z·SE) with SE = sqrt(1/a − 1/n_a + 1/b − 1/n_b) (Katz et al. 1978 "
                  "log method)")
    else:
        method = (f"events per {per:,} {denominator_name}, exact Poisson interval; RRI = group rate / {reference} "
                  "rate, interval exp(log RRI ± z·SE) with SE = sqrt(1/a + 1/b) (ratio of Poisson rates)")
    return Disproportionality(stage, column, denominator_name, reference, counted, per, ci_level, method,
                              tuple(rows), min_count, tuple(warnings))


STAGES = ("referred", "engaged", "completed", "improved")


def stage_disproportionality(flow: pd.DataFrame, population: pd.DataFrame, column: str, *,
                             stages: Sequence[str] = STAGES, population_column: str = "population",
                             reference: str = DEFAULT_REFERENCE, against: str = "previous_stage",
                             ci_level: float = 0.95, min_count: int = MIN_COUNT,
                             per: int = 1000) -> tuple[Disproportionality, ...]:
    """The RRI at each stage of the programme's flow.

    ``flow`` has one row per group with a count per stage (people: referred, engaged, completed,
    improved); ``population`` the resident population per group. The first stage is rated against
    the resident population (per ``per``); with ``against="previous_stage"`` (the default) each
    later stage against the one before (per 100 people), so each RRI says where a disparity
    enters; ``against="population"`` rates every stage against residents.
    """
    if against not in ("previous_stage", "population"):
        raise OptionError(f"against: {against!r} is not a valid choice; expected one of 'previous_stage', 'population'")
    stages = list(stages)
    if not stages:
        raise OptionError("stages: expected at least one stage column, e.g. referred")
    for s in stages:
        if s not in flow.columns:
            raise DataError(f"flow by {column}: stage column '{s}' is not in the frame; it has "
                            + ", ".join(map(str, flow.columns)))
    for before, after in zip(stages, stages[1:]):
        worse = pd.to_numeric(flow[after], errors="coerce") > pd.to_numeric(flow[before], errors="coerce")
        if worse.any():
            g = flow[column][worse].iloc[0]
            raise DataError(f"flow by {column}: group {_label(g)!r} has more {after} than {before}; expected each "
                            "stage to hold at most the people of the stage before")
    out = [relative_rate_index(flow, population, column, count=stages[0], denominator=population_column,
                               reference=reference, counted=Counted.people, per=per, stage=stages[0],
                               ci_level=ci_level, min_count=min_count)]
    for before, after in zip(stages, stages[1:]):
        if against == "population":
            out.append(relative_rate_index(flow, population, column, count=after, denominator=population_column,
                                           reference=reference, per=per, stage=after, ci_level=ci_level,
                                           min_count=min_count))
        else:
            out.append(relative_rate_index(flow, flow, column, count=after, denominator=before, reference=reference,
                                           per=100, stage=after, denominator_name=f"{before}", ci_level=ci_level,
                                           min_count=min_count))
    return tuple(out)


# -------------------------------------------------------------------------------- reach


def reach(reached: pd.DataFrame, eligible: pd.DataFrame, column: str, *, count: str = "count",
          eligible_column: str = "eligible", reference: str = DEFAULT_REFERENCE, ci_level: float = 0.95,
          min_count: int = MIN_COUNT) -> Reach:
    """Share of the eligible population reached, by group and overall (Wilson intervals), and each
    group's reach relative to the reference group's (an RRI with the eligible as denominator)."""
    rri = relative_rate_index(reached, eligible, column, count=count, denominator=eligible_column,
                              reference=reference, counted=Counted.people, per=100, stage="reached",
                              denominator_name="eligible population", ci_level=ci_level, min_count=min_count)
    rows = []
    for r in rri.rows:
        ok = r.count >= min_count
        lo, hi = wilson(r.count, r.denominator, ci_level) if ok else (None, None)
        rows.append(ReachRow(column, r.group, r.count, r.denominator, r.count / r.denominator if ok else None,
                             lo, hi, ok))
    total_x = sum(r.count for r in rri.rows)
    total_n = sum(r.denominator for r in rri.rows)
    ok = total_x >= min_count
    lo, hi = wilson(total_x, total_n, ci_level) if ok else (None, None)
    rows.append(ReachRow(column, "all", int(total_x), total_n, total_x / total_n if ok else None, lo, hi, ok))
    return Reach(column, tuple(rows), ci_level, min_count,
                 "reached / eligible, Wilson score interval; relative reach as an RRI (Katz log method)", rri)


# -------------------------------------------------------------------------------- tidy frames


def breakdown_frame(result: Breakdown) -> pd.DataFrame:
    return pd.DataFrame([{"column": g.column, "measure": result.measure, "group": g.group, "count": g.count,
                          "total": g.total, "share": g.share, "share_low": g.share_low, "share_high": g.share_high,
                          "reported": g.reported} for g in result.groups],
                        columns=["column", "measure", "group", "count", "total", "share", "share_low", "share_high",
                                 "reported"])


def disproportionality_frame(results: Disproportionality | Sequence[Disproportionality]) -> pd.DataFrame:
    """One row per stage and group: the table behind every RRI table and chart."""
    results = [results] if isinstance(results, Disproportionality) else list(results)
    rows = []
    for res in results:
        for r in res.rows:
            rows.append({"stage": res.stage, "column": r.column, "group": r.group, "denominator_name": res.denominator,
                         "reference": res.reference, "counted": res.counted.value, "per": res.per, "count": r.count,
                         "denominator": r.denominator, "rate": r.rate, "rate_low": r.rate_low, "rate_high": r.rate_high,
                         "share_of_count": r.share_of_count, "share_of_denominator": r.share_of_denominator,
                         "representation": r.representation, "rri": r.rri, "rri_low": r.rri_low,
                         "rri_high": r.rri_high, "disparity": r.disparity.value, "is_reference": r.is_reference,
                         "reported": r.reported, "reason": r.reason, "ci_level": res.ci_level})
    return pd.DataFrame(rows, columns=["stage", "column", "group", "denominator_name", "reference", "counted", "per",
                                       "count", "denominator", "rate", "rate_low", "rate_high", "share_of_count",
                                       "share_of_denominator", "representation", "rri", "rri_low", "rri_high",
                                       "disparity", "is_reference", "reported", "reason", "ci_level"])


def reach_frame(result: Reach) -> pd.DataFrame:
    return pd.DataFrame([{"column": r.column, "group": r.group, "reached": r.reached, "eligible": r.eligible,
                          "share": r.share, "share_low": r.share_low, "share_high": r.share_high,
                          "reported": r.reported} for r in result.rows],
                        columns=["column", "group", "reached", "eligible", "share", "share_low", "share_high",
                                 "reported"])
