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
from evalkit.spec.costs import CATEGORIES, resolve_costs
from evalkit.spec.model import CostItem, CostPeriod, Costs
from evalkit.spec.raw import (CategoryAmounts, CostCategory, CostPeriodRaw, CostsBlock, InKindRaw,
                              ParticipantsRaw)
from evalkit.vfm import deflators as d
from evalkit.vfm import results as res

COSTS_FILE_SCHEMA = "evalkit.costs/v1"
__all__ = ["CATEGORIES", "CategoryAmounts", "CostCategory", "CostItem", "CostPeriod", "CostPeriodRaw", "Costs",
           "CostsBlock", "CostsFile", "InKindRaw", "ParticipantsRaw", "check_costs_mapping", "example_costs",
           "load_costs_file", "monthly_costs", "resolve_costs", "summarise_costs"]


class CostsFile(BaseModel):
    """A file of costs per intervention (``schema: evalkit.costs/v1``), apart from the logic models."""

    schema_: Literal["evalkit.costs/v1"] = Field(alias="schema")
    note: str | None = None
    interventions: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")], CostsBlock]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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
                    series: d.DeflatorSeries | None = None,
                    counted: Mapping[str, tuple[int | None, int | None]] | None = None) -> res.CostSummary:
    """Costs per period and overall, per participant started and completed, in the analysis
    year's prices. Participants are added across periods: each is counted in the period they
    started in. ``counted`` ({period id: (started, completed)}, from
    :func:`evalkit.vfm.participants.count_participants`) replaces the declared counts."""
    if counted:
        from dataclasses import replace

        costs = replace(costs, periods=tuple(replace(p, started=counted[p.id][0], completed=counted[p.id][1])
                                             if p.id in counted else p for p in costs.periods))
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
