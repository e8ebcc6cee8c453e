"""Value-for-money results as data: frozen records, and one tidy frame for each kind.

Every amount in a record is in pounds at the *analysis year's* prices unless its name says
otherwise (``..._price_year``); each record names the deflator uplift it used. A figure that
cannot honestly be given (an effect whose interval includes no effect, a cohort with no
completers) is ``None``, with a ``status`` and a ``note`` in words, never a number that looks
real. Records are JSON-able through :func:`as_plain` (``dataclasses.asdict``; enums are ``str``),
so phase B can store them as a results section. Frames are functions of records, as in
:mod:`evalkit.results`; pandas is imported inside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any


class Status(str, Enum):
    """Whether a cost per outcome can be given, in one word a report can branch on."""

    estimable = "estimable"  # the effect's interval excludes no effect: a figure with a bounded interval
    no_upper_limit = "no_upper_limit"  # the interval includes no effect: no figure, only "at least"
    no_benefit = "no_benefit"  # the central estimate itself shows no improvement: no figure at all


@dataclass(frozen=True)
class Uplift:
    """How an amount in one year's prices was moved to another's, with the series that did it."""

    from_year: str
    to_year: str
    factor: float  # to_index / from_index
    from_index: float
    to_index: float
    series: str  # e.g. "ONS YBGB GDP deflator (release 2025-06-30)"
    from_how: str  # e.g. "financial year 2015-16: mean of 2015 Q2 to 2016 Q1"
    to_how: str


@dataclass(frozen=True)
class CategoryCost:
    """One cost line: a category, cash or in kind, set-up or running, in one period."""

    period: str
    category: str  # staff, training, venues, materials, travel, overheads
    funding: str  # cash | in_kind
    timing: str  # set_up | running
    amount: float  # analysis-year prices
    amount_price_year: float  # as declared, in the period's price year
    price_year: str
    provided_by: str | None = None


@dataclass(frozen=True)
class PeriodCost:
    """What one period (or all periods, ``period == "all"``) cost, and per participant."""

    period: str
    start: str  # ISO date
    end: str
    days: int
    price_year: str  # "mixed" for all periods when the periods differ
    analysis_year: str
    cash_set_up: float
    cash_running: float
    in_kind_set_up: float
    in_kind_running: float
    cash: float
    in_kind: float
    total: float
    started: int | None
    completed: int | None
    per_started: float | None  # total (cash + in kind, set-up + running) per participant who started
    per_completed: float | None
    per_started_cash: float | None
    per_started_running: float | None  # running costs only: the cost to deliver once set up
    note: str = ""


@dataclass(frozen=True)
class CostSummary:
    intervention: str
    analysis_year: str
    currency: str
    deflator: str
    periods: tuple[PeriodCost, ...]
    overall: PeriodCost
    lines: tuple[CategoryCost, ...]
    uplifts: tuple[Uplift, ...]
    illustrative: bool
    source: str | None


@dataclass(frozen=True)
class MonthCost:
    """Costs falling in one calendar month: running costs spread evenly over the period's days;
    set-up costs are shown in the period's first month (and kept apart, so a per-month cost per
    participant can leave them out)."""

    month: str  # YYYY-MM
    period: str
    days: int
    running_cash: float
    running_in_kind: float
    set_up: float
    analysis_year: str


@dataclass(frozen=True)
class OutcomeCount:
    """The number of good outcomes the effect implies (improvements, or events avoided), with its
    interval: ``low`` is the least favourable end, whatever the effect's scale and direction."""

    outcome: str
    scale: str
    central: float
    low: float | None
    high: float | None
    std_error: float | None
    ci_level: float
    how: str  # in words, e.g. "-0.114 risk difference x 310 participants, lower is better"
    source: str = ""


@dataclass(frozen=True)
class CostPerOutcome:
    outcome: str
    method: str  # fieller | delta | monte_carlo
    method_text: str  # the method in words, as a report prints it
    total_cost: float
    cost_std_error: float | None
    cost_basis: str
    outcomes: OutcomeCount
    status: Status
    cost_per_outcome: float | None
    ci_low: float | None
    ci_high: float | None
    at_least: float | None  # with no upper limit: the lowest cost per outcome the interval allows
    ci_level: float
    analysis_year: str
    note: str
    draws: int | None = None
    seed: int | None = None
    share_no_benefit: float | None = None  # Monte Carlo: share of draws with no improvement
    probability_below: tuple[tuple[float, float], ...] = ()  # (threshold, probability) pairs


@dataclass(frozen=True)
class Monetised:
    """Crime (or admissions, or homicides) avoided, valued with a unit-cost table."""

    outcome: str
    offence: str
    offence_label: str
    table: str  # "<id> v<version>"
    unit_cost_price_year: float
    table_price_year: str
    unit_cost: float  # analysis-year prices
    uplift_factor: float
    events: OutcomeCount
    benefit: float
    benefit_low: float | None
    benefit_high: float | None
    total_cost: float
    net_benefit: float
    net_benefit_low: float | None
    net_benefit_high: float | None
    bcr: float
    bcr_low: float | None
    bcr_high: float | None
    method: str
    method_text: str
    ci_level: float
    analysis_year: str
    counted: tuple[str, ...]
    not_counted: tuple[str, ...]
    valuation: str  # how an event is valued, e.g. "an admission valued as one violence-with-injury offence"
    note: str
    draws: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class SensitivityCell:
    cost_case: str  # low | central | high
    effect_case: str  # low (least favourable end of the interval) | central | high
    cost: float
    outcomes: float
    cost_per_outcome: float | None
    net_benefit: float | None
    bcr: float | None
    note: str = ""


@dataclass(frozen=True)
class SensitivityTable:
    outcome: str
    cost_low_factor: float
    cost_high_factor: float
    cost_factors_source: str
    effect_cases: str
    unit_value: float | None
    analysis_year: str
    cells: tuple[SensitivityCell, ...]


@dataclass(frozen=True)
class CostRating:
    intervention: str
    rating: int | None
    label: str
    basis: str
    value: float | None  # the cost the rating was read from, in the bands' price year
    bands_price_year: str
    band_up_to: float | None
    published_by: str  # EIF | toolkit_default
    status: str  # confirmed | unconfirmed
    source: str
    rules_version: str
    note: str


def as_plain(record: Any) -> Any:
    """A record as plain JSON-able data (dicts, lists, str, numbers, None)."""
    return _plain(asdict(record))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


# ---------------------------------------------------------------------------- tidy frames


def _frame(records: Iterable[Any], cls: type, drop: tuple[str, ...] = (), extra=None):
    import pandas as pd

    names = [f.name for f in fields(cls) if f.name not in drop]
    rows = []
    for rec in records:
        row = {n: _plain(getattr(rec, n)) for n in names}
        if extra:
            row.update(extra(rec))
        rows.append(row)
    columns = names + (list(extra(None).keys()) if extra else [])
    return pd.DataFrame(rows, columns=columns)


def cost_frame(summary: CostSummary):
    """One row per period and a last row for all periods (``period == "all"``)."""
    frame = _frame((*summary.periods, summary.overall), PeriodCost)
    frame.insert(0, "intervention", summary.intervention)
    frame["deflator"] = summary.deflator
    return frame


def cost_lines_frame(summary: CostSummary):
    """One row per cost line (category, cash or in kind, set-up or running, period)."""
    frame = _frame(summary.lines, CategoryCost)
    frame.insert(0, "intervention", summary.intervention)
    frame["analysis_year"] = summary.analysis_year
    return frame


def month_frame(months: Iterable[MonthCost]):
    return _frame(months, MonthCost)


def _outcome_columns(rec):
    keys = ("outcomes_central", "outcomes_low", "outcomes_high", "outcomes_how")
    if rec is None:
        return dict.fromkeys(keys)
    o = rec.outcomes if isinstance(rec, CostPerOutcome) else rec.events
    return dict(zip(keys, (o.central, o.low, o.high, o.how)))


def cost_per_outcome_frame(results: Iterable[CostPerOutcome]):
    """One row per outcome: the cost per outcome, its interval, and why it may be missing."""
    return _frame(results, CostPerOutcome, drop=("outcomes", "probability_below"), extra=_outcome_columns)


def monetised_frame(results: Iterable[Monetised]):
    def extra(rec):
        cols = _outcome_columns(rec)
        cols["counted"] = None if rec is None else "; ".join(rec.counted)
        cols["not_counted"] = None if rec is None else "; ".join(rec.not_counted)
        return cols

    return _frame(results, Monetised, drop=("events", "counted", "not_counted"), extra=extra)


def sensitivity_frame(table: SensitivityTable):
    """The nine cells (costs low / central / high x effects low / central / high), tidy."""
    frame = _frame(table.cells, SensitivityCell)
    frame.insert(0, "outcome", table.outcome)
    frame["analysis_year"] = table.analysis_year
    return frame


def rating_frame(ratings: Iterable[CostRating]):
    return _frame(ratings, CostRating)
