"""What an intervention costs: the ``costs:`` block, its validation, and costs per participant.

The block (phase B hangs it under a logic model's ``costs:`` key; until then it can live in a
file of costs per intervention, see :func:`load_costs_file`)::

    costs:
      price_year: 2023-24            # the year whose prices the amounts are in
      source: Programme budget and finance returns, 2023-24
      periods:
        - id: 2023-24
          start: 2023-04-01
          end: 2024-03-31
          participants: {started: 150, completed: 105}
          set_up: {training: 6000, materials: 2500}          # one-off costs
          running: {staff: 210000, venues: 8000, materials: 4000, travel: 6000, overheads: 31000}
          in_kind:                                            # given, not paid for: valued at what it would cost
            - {category: venues, amount: 7500, provided_by: Schools (rooms for sessions)}

Amounts are pounds in the block's ``price_year`` (a period may name its own). Categories are
fixed (:class:`CostCategory`), so two partnerships' costs add up the same way. In-kind
contributions count in the economic cost and are also shown apart, so the cash a commissioner
pays is never confused with the full cost.

Validation follows :mod:`evalkit.spec`: the raw pydantic types check shape (unknown keys and
categories, wrong types), :func:`resolve_costs` checks meaning, and every problem is one
:class:`~evalkit.errors.Problem` with the line and key path. This module imports only pydantic
and light evalkit modules, so the spec layer can import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evalkit.errors import Problem, SpecError
from evalkit.vfm import deflators as d
from evalkit.vfm import results as res

COSTS_FILE_SCHEMA = "evalkit.costs/v1"


class CostCategory(str, Enum):
    staff = "staff"
    training = "training"
    venues = "venues"
    materials = "materials"
    travel = "travel"
    overheads = "overheads"


CATEGORIES = tuple(c.value for c in CostCategory)

# ---------------------------------------------------------------------------- raw YAML types

# strict: "12000" or true is a mistake to report, not a number to guess
Amount = Annotated[float, Field(strict=True, description="pounds, in the price year")]
Count = Annotated[int, Field(strict=True, ge=0)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryAmounts(_Raw):
    """Amounts by category; a category left out costs nothing."""

    staff: Amount | None = None
    training: Amount | None = None
    venues: Amount | None = None
    materials: Amount | None = None
    travel: Amount | None = None
    overheads: Amount | None = None


class InKindRaw(_Raw):
    category: CostCategory
    amount: Amount = Field(description="what it would have cost to buy, in pounds")
    provided_by: Text = Field(description="who gave it, e.g. 'Schools (rooms for sessions)'")
    one_off: bool = Field(False, description="a set-up contribution rather than a running one")
    note: str | None = None


class ParticipantsRaw(_Raw):
    started: Count | None = Field(None, description="people who started in this period")
    completed: Count | None = Field(None, description="of those, how many completed")


class CostPeriodRaw(_Raw):
    id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="the period's name, e.g. 2023-24 or pilot")
    start: dt.date
    end: dt.date
    price_year: str | int | None = Field(None, description="overrides the block's price_year")
    participants: ParticipantsRaw | None = None
    set_up: CategoryAmounts | None = Field(None, description="one-off costs: recruitment, training, materials")
    running: CategoryAmounts | None = Field(None, description="costs of delivery in the period")
    in_kind: list[InKindRaw] = Field(default_factory=list)
    note: str | None = None


class CostsBlock(_Raw):
    """Costs of one intervention, by period, in one price year (or one per period)."""

    price_year: str | int | None = Field(
        None, description="e.g. 2023-24 (financial year) or 2023 (calendar year); required unless every period has one")
    currency: Literal["GBP"] = "GBP"
    source: str | None = Field(None, description="where the figures come from")
    illustrative: bool = Field(False, description="true for made-up example figures; every output says so")
    periods: list[CostPeriodRaw] = Field(min_length=1)


class CostsFile(_Raw):
    """A file of costs per intervention (until they move into the logic models)."""

    schema_: Literal["evalkit.costs/v1"] = Field(alias="schema")
    note: str | None = None
    interventions: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")], CostsBlock]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------------------- resolved objects


@dataclass(frozen=True)
class CostItem:
    category: CostCategory
    amount: float  # in the period's price year
    cash: bool  # False: an in-kind contribution
    one_off: bool  # True: set-up
    provided_by: str | None = None


@dataclass(frozen=True)
class CostPeriod:
    id: str
    start: dt.date
    end: dt.date
    price_year: d.PriceYear
    started: int | None
    completed: int | None
    items: tuple[CostItem, ...]
    note: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def amount(self, *, cash: bool | None = None, one_off: bool | None = None) -> float:
        return sum(i.amount for i in self.items
                   if (cash is None or i.cash is cash) and (one_off is None or i.one_off is one_off))

    @property
    def total(self) -> float:
        return self.amount()


@dataclass(frozen=True)
class Costs:
    periods: tuple[CostPeriod, ...]
    source: str | None
    illustrative: bool
    currency: str = "GBP"

    def period(self, period_id: str) -> CostPeriod:
        for p in self.periods:
            if p.id == period_id:
                return p
        from evalkit.vfm.errors import VfmError

        raise VfmError(f"no cost period {period_id!r}; expected one of {', '.join(p.id for p in self.periods)}")


# ---------------------------------------------------------------------------- resolve


def _money(x: float) -> str:
    sign, x = ("-", -x) if x < 0 else ("", x)
    return sign + (f"£{x:,.0f}" if float(x).is_integer() else f"£{x:,.2f}")


def resolve_costs(raw: CostsBlock, *, file: str = "costs", line_of=None, prefix: tuple = ("costs",),
                  participants: Mapping[str, tuple[int | None, int | None]] | None = None,
                  ) -> tuple[Costs | None, list[Problem]]:
    """Check a costs block's meaning; every problem at once, each with its key path and line.

    ``line_of(path)`` gives the line of a key path (``Document.line_of``); ``prefix`` is where the
    block sits in its file. ``participants`` ({period id: (started, completed)}) replaces the
    declared counts, for phase B to fill them from the plan's data or the monitoring store.
    """
    from evalkit.spec.yamlio import format_path

    problems: list[Problem] = []

    def err(path: tuple, message: str, found: str, expected: str, severity: str = "error") -> None:
        full = prefix + path
        problems.append(Problem(file, line_of(full) if line_of else None, format_path(full), message,
                                found=found, expected=expected, severity=severity))  # type: ignore[arg-type]

    block_year: d.PriceYear | None = None
    if raw.price_year is not None:
        try:
            block_year = d.parse_price_year(raw.price_year)
        except ValueError as exc:
            err(("price_year",), "price year is not a year", str(exc), d.PRICE_YEAR_EXPECTED)
    elif not all(p.price_year is not None for p in raw.periods):
        err(("price_year",), "price year is missing: the costs must say which year's prices they are in",
            "nothing", f"price_year: {d.PRICE_YEAR_EXPECTED}")

    periods: list[CostPeriod] = []
    spans: list[tuple[dt.date, dt.date, int]] = []  # (start, end, index in the file) of well-formed periods
    seen: dict[str, int] = {}
    for i, p in enumerate(raw.periods):
        where = ("periods", i)
        if p.id in seen:
            err(where + ("id",), "period id is used twice", f"'{p.id}' (also periods[{seen[p.id]}])",
                "each period id once")
        seen.setdefault(p.id, i)
        if p.end < p.start:
            err(where + ("end",), "period ends before it starts", f"start {p.start}, end {p.end}",
                "an end date on or after the start date")
        else:
            spans.append((p.start, p.end, i))
        year = block_year
        if p.price_year is not None:
            try:
                year = d.parse_price_year(p.price_year)
            except ValueError as exc:
                err(where + ("price_year",), "price year is not a year", str(exc), d.PRICE_YEAR_EXPECTED)
                year = None
        items: list[CostItem] = []
        for key, one_off in (("set_up", True), ("running", False)):
            amounts = getattr(p, key)
            if amounts is None:
                continue
            for cat in CostCategory:
                value = getattr(amounts, cat.value)
                if value is None:
                    continue
                if value < 0:
                    err(where + (key, cat.value), "a cost cannot be negative", _money(value),
                        "an amount of 0 or more, in pounds; record income or savings apart, not as a negative cost")
                    continue
                items.append(CostItem(cat, float(value), cash=True, one_off=one_off))
        for j, gift in enumerate(p.in_kind):
            if gift.amount < 0:
                err(where + ("in_kind", j, "amount"), "a cost cannot be negative", _money(gift.amount),
                    "the amount it would have cost to buy, 0 or more")
                continue
            items.append(CostItem(gift.category, float(gift.amount), cash=False, one_off=gift.one_off,
                                  provided_by=gift.provided_by))
        started = p.participants.started if p.participants else None
        completed = p.participants.completed if p.participants else None
        if participants is not None and p.id in participants:
            started, completed = participants[p.id]
        total = sum(it.amount for it in items)
        if total > 0 and not started:
            err(where + ("participants",) + (("started",) if p.participants else ()),
                "this period has costs but no participants, so no cost per participant can be given",
                f"{_money(total)} of costs and " + ("participants.started: 0" if started == 0 else "no participants.started"),
                "participants.started: the number who started in the period, from the plan's data or the monitoring store")
        if started is not None and completed is not None and completed > started:
            err(where + ("participants", "completed"), "more participants completed than started",
                f"completed {completed}, started {started}", "completed no more than started")
        declared = p.in_kind or any(getattr(a, c) is not None for a in (p.set_up, p.running) if a for c in CATEGORIES)
        if not declared:
            err(where, "period has no costs", f"period '{p.id}' with no set_up, running or in_kind amounts",
                "the period's costs, or remove the period", severity="warning")
        if year is not None:
            periods.append(CostPeriod(p.id, p.start, p.end, year, started, completed, tuple(items), p.note))

    spans.sort()
    for (_, e1, i1), (s2, _, i2) in zip(spans, spans[1:]):
        if s2 <= e1:
            err(("periods", i2, "start"), "periods overlap, so costs and participants would be counted twice",
                f"'{raw.periods[i2].id}' starts {s2}, before '{raw.periods[i1].id}' ends ({e1})",
                "periods that do not overlap")
    if any(p.severity == "error" for p in problems):
        return None, problems
    costs = Costs(periods=tuple(sorted(periods, key=lambda p: p.start)), source=raw.source,
                  illustrative=raw.illustrative, currency=raw.currency)
    return costs, problems


def check_costs_mapping(data: object, *, file: str, lines: Mapping[tuple, int] | None = None,
                        prefix: tuple = ("costs",), participants=None) -> tuple[Costs | None, list[Problem]]:
    """Shape and meaning of a costs block given as plain YAML data, found at ``prefix`` in ``file``.

    ``lines`` is ``Document.lines`` of the whole file, so problems carry the file's own lines.
    """
    from evalkit.spec.shape import check_shape
    from evalkit.spec.yamlio import Document

    lines = lines or {}
    sub = {k[len(prefix):]: v for k, v in lines.items() if k[:len(prefix)] == prefix}
    doc = Document(file=file, data=data, lines=sub)
    raw, problems = check_shape(doc, CostsBlock)
    problems = [_prefixed(pr, prefix) for pr in problems]
    if raw is None:
        return None, problems

    whole = Document(file=file, data=None, lines=dict(lines))
    costs, more = resolve_costs(raw, file=file, line_of=whole.line_of, prefix=prefix, participants=participants)
    return costs, problems + more


def _prefixed(problem: Problem, prefix: tuple) -> Problem:
    from dataclasses import replace

    from evalkit.spec.yamlio import format_path

    head = format_path(prefix)
    path = problem.path
    joined = head if not path else (head + path if path.startswith("[") else f"{head}.{path}")
    return replace(problem, path=joined)


def check_file_shape(doc, model):
    """``check_shape`` for a file whose model spells its ``schema`` key ``schema_`` (pydantic keeps
    the name ``schema`` for itself): the messages use the key as written in the file."""
    from dataclasses import replace

    from evalkit.spec.shape import check_shape

    raw, problems = check_shape(doc, model)
    return raw, [replace(p, expected=p.expected.replace("schema_,", "schema,")) if p.expected else p
                 for p in problems]


def load_costs_file(path: Path | str) -> dict[str, Costs]:
    """Read a file of costs per intervention (``schema: evalkit.costs/v1``); raise
    :class:`~evalkit.errors.SpecError` listing every problem."""
    from evalkit.spec.yamlio import read_yaml

    path = Path(path)
    doc = read_yaml(path, shown_as=path.name)
    problems = list(doc.problems)
    out: dict[str, Costs] = {}
    if doc.data is not None:
        raw, shape_problems = check_file_shape(doc, CostsFile)
        problems += shape_problems
        if raw is not None:
            for intervention, block in raw.interventions.items():
                costs, more = resolve_costs(block, file=doc.file, line_of=doc.line_of,
                                            prefix=("interventions", intervention))
                problems += more
                if costs is not None:
                    out[intervention] = costs
    if any(p.severity == "error" for p in problems):
        raise SpecError(problems)
    return out


def example_costs() -> dict[str, Costs]:
    """The illustrative costs of the example interventions (made up; every output says so)."""
    return load_costs_file(d.DATA / "example_costs.yml")


# ---------------------------------------------------------------------------- summaries


def _per(amount: float, n: int | None) -> float | None:
    return amount / n if n else None


def _period_row(period_id: str, start: dt.date, end: dt.date, price_year: str, analysis_year: d.PriceYear,
                parts: dict[str, float], started: int | None, completed: int | None, note: str) -> res.PeriodCost:
    cash = parts["cash_set_up"] + parts["cash_running"]
    in_kind = parts["in_kind_set_up"] + parts["in_kind_running"]
    total = cash + in_kind
    running = parts["cash_running"] + parts["in_kind_running"]
    return res.PeriodCost(
        period=period_id, start=start.isoformat(), end=end.isoformat(), days=(end - start).days + 1,
        price_year=price_year, analysis_year=analysis_year.label, cash=cash, in_kind=in_kind, total=total,
        started=started, completed=completed, per_started=_per(total, started),
        per_completed=_per(total, completed), per_started_cash=_per(cash, started),
        per_started_running=_per(running, started), note=note, **parts)


def summarise_costs(costs: Costs, *, intervention: str, analysis_year: d.PriceYear | str,
                    series: d.DeflatorSeries | None = None) -> res.CostSummary:
    """Costs per period and overall, per participant started and completed, in the analysis
    year's prices. Participants are added across periods: each is counted in the period they
    started in."""
    analysis_year = d.as_price_year(analysis_year)
    series = series or d.load_deflator_series()
    uplifts: dict[d.PriceYear, res.Uplift] = {}
    rows: list[res.PeriodCost] = []
    lines: list[res.CategoryCost] = []
    totals = dict.fromkeys(("cash_set_up", "cash_running", "in_kind_set_up", "in_kind_running"), 0.0)
    for p in costs.periods:
        if p.price_year not in uplifts:
            uplifts[p.price_year] = d.uplift(series, p.price_year, analysis_year)
        factor = uplifts[p.price_year].factor
        parts = {
            "cash_set_up": p.amount(cash=True, one_off=True) * factor,
            "cash_running": p.amount(cash=True, one_off=False) * factor,
            "in_kind_set_up": p.amount(cash=False, one_off=True) * factor,
            "in_kind_running": p.amount(cash=False, one_off=False) * factor,
        }
        for k, v in parts.items():
            totals[k] += v
        note = "" if p.completed is not None else "completions not recorded for this period"
        rows.append(_period_row(p.id, p.start, p.end, p.price_year.label, analysis_year, parts,
                                p.started, p.completed, note))
        for item in p.items:
            lines.append(res.CategoryCost(period=p.id, category=item.category.value,
                                          funding="cash" if item.cash else "in_kind",
                                          timing="set_up" if item.one_off else "running",
                                          amount=item.amount * factor, amount_price_year=item.amount,
                                          price_year=p.price_year.label, provided_by=item.provided_by))
    started = sum(p.started or 0 for p in costs.periods) or None
    all_completed = all(p.completed is not None for p in costs.periods)
    completed = sum(p.completed or 0 for p in costs.periods) if all_completed else None
    years = {p.price_year.label for p in costs.periods}
    note = ("participants added across periods (each counted in the period they started in)"
            if len(costs.periods) > 1 else "")
    if not all_completed:
        note = "; ".join(filter(None, [note, "no cost per completer: some periods do not record completions"]))
    overall = _period_row("all", costs.periods[0].start, max(p.end for p in costs.periods),
                          years.pop() if len(years) == 1 else "mixed", analysis_year, totals,
                          started, completed, note)
    return res.CostSummary(intervention=intervention, analysis_year=analysis_year.label,
                           currency=costs.currency, deflator=series.label, periods=tuple(rows),
                           overall=overall, lines=tuple(lines),
                           uplifts=tuple(uplifts[y] for y in sorted(uplifts)),
                           illustrative=costs.illustrative, source=costs.source)


def _months(start: dt.date, end: dt.date) -> Iterable[tuple[str, int, bool]]:
    """(YYYY-MM, days of the month inside [start, end], is the first month)."""
    first = True
    current = start
    while current <= end:
        if current.month == 12:
            next_month = dt.date(current.year + 1, 1, 1)
        else:
            next_month = dt.date(current.year, current.month + 1, 1)
        last = min(end, next_month - dt.timedelta(days=1))
        yield f"{current.year:04d}-{current.month:02d}", (last - current).days + 1, first
        first = False
        current = next_month


def monthly_costs(costs: Costs, *, analysis_year: d.PriceYear | str,
                  series: d.DeflatorSeries | None = None) -> tuple[res.MonthCost, ...]:
    """Costs per calendar month, for the dashboard's cost per participant per month: running
    costs spread evenly over each period's days; set-up costs in the period's first month."""
    analysis_year = d.as_price_year(analysis_year)
    series = series or d.load_deflator_series()
    out = []
    for p in costs.periods:
        factor = d.uplift(series, p.price_year, analysis_year).factor
        run_cash = p.amount(cash=True, one_off=False) * factor / p.days
        run_kind = p.amount(cash=False, one_off=False) * factor / p.days
        set_up = p.amount(one_off=True) * factor
        for month, days, first in _months(p.start, p.end):
            out.append(res.MonthCost(month=month, period=p.id, days=days, running_cash=run_cash * days,
                                     running_in_kind=run_kind * days, set_up=set_up if first else 0.0,
                                     analysis_year=analysis_year.label))
    return tuple(out)
