"""The meaning pass of a logic model's ``costs:`` block (value for money), and price years.

The raw shape (:class:`evalkit.spec.raw.CostsBlock`) is checked by pydantic; here each period's
dates, price year, amounts and participants are checked and the frozen
:class:`evalkit.spec.model.Costs` is built. Every problem is one
:class:`~evalkit.errors.Problem` with the file's line and key path, all at once, so ``evalkit
validate`` shows everything there is to fix. The money arithmetic lives in :mod:`evalkit.vfm`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

from evalkit.errors import Problem
from evalkit.spec import model as m
from evalkit.spec import raw as r
from evalkit.spec.yamlio import format_path

CATEGORIES = tuple(c.value for c in r.CostCategory)
PRICE_YEAR_EXPECTED = "a price year such as 2023-24 (financial year, April to March) or 2023 (calendar year)"

_FY = re.compile(r"^(\d{4})-(\d{2})$")
_CY = re.compile(r"^(\d{4})$")


def parse_price_year(value: object) -> m.PriceYear:
    """``2023``, ``"2023"`` or ``"2023-24"``; anything else raises ``ValueError`` saying why."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a year")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"{value!r} is not a year")
    found = _CY.match(text)
    if found:
        return m.PriceYear(int(found.group(1)), financial=False)
    found = _FY.match(text)
    if found:
        first, second = int(found.group(1)), int(found.group(2))
        if (first + 1) % 100 != second:
            raise ValueError(f"'{text}' is not a financial year (the second part must be the year after the first)")
        return m.PriceYear(first, financial=True)
    if re.match(r"^\d{4}/\d{2,4}$", text):
        raise ValueError(f"'{text}' uses '/'; write a financial year with a hyphen, e.g. 2023-24")
    raise ValueError(f"{text!r} is not a year")


COUNT_KEYS = {"data": ("evaluation", "date", "where"), "store": ("indicator",)}


def _participant_count(raw: r.ParticipantCountRaw, path: tuple, err, indicators) -> m.ParticipantCount | None:
    """A period's participants counted from the plan's data or the store: each key the source does not use
    is a mistake, and what it needs must be there (the count itself is made when a report is built)."""
    source = raw.from_.value
    ok = True
    for other, keys in COUNT_KEYS.items():
        if other == source:
            continue
        for key in keys:
            if getattr(raw, key) not in (None, {}):
                err(path + (key,), f"'{key}' is for participants counted from: {other}", f"from: {source} with {key}",
                    f"for from: {source}, only " + ", ".join(COUNT_KEYS[source]) + " (and declared)")
                ok = False
    if source == "data" and raw.evaluation is None:
        err(path + ("evaluation",), "participants counted from the plan's data need the plan", "no evaluation",
            "evaluation: the id of an evaluation plan of this intervention, whose data has a row per participant")
        ok = False
    if source == "store":
        if raw.indicator is None:
            err(path + ("indicator",), "participants counted from the monitoring store need an indicator",
                "no indicator", "indicator: a count indicator of this logic model that the store holds by month")
            ok = False
        elif indicators is not None:
            ind = indicators.get(raw.indicator)
            if ind is None:
                err(path + ("indicator",), "costs name an indicator that is not in the logic model",
                    f"'{raw.indicator}'", "one of " + (", ".join(indicators) or "(no indicators)"))
                ok = False
            elif getattr(ind, "type", None) is not r.IndicatorType.count:
                err(path + ("indicator",), "participants must be counted with a count indicator",
                    f"'{raw.indicator}' of type {ind.type.value}", "a count indicator, e.g. starts in the month")
                ok = False
    if not ok:
        return None
    return m.ParticipantCount(source, evaluation=raw.evaluation, date=raw.date,
                              where=tuple(sorted(raw.where.items())), indicator=raw.indicator, declared=raw.declared)


def money(x: float) -> str:
    sign, x = ("-", -x) if x < 0 else ("", x)
    return sign + (f"£{x:,.0f}" if float(x).is_integer() else f"£{x:,.2f}")


def resolve_costs(raw: r.CostsBlock, *, file: str = "costs", line_of: Callable | None = None,
                  prefix: tuple = ("costs",),
                  participants: Mapping[str, tuple[int | None, int | None]] | None = None,
                  indicators: Mapping[str, object] | None = None, place_based: bool = False,
                  ) -> tuple[m.Costs | None, list[Problem]]:
    """Check a costs block's meaning; every problem at once, each with its key path and line.

    ``line_of(path)`` gives the line of a key path (``Document.line_of``); ``prefix`` is where the
    block sits in its file. ``participants`` ({period id: (started, completed)}) replaces the
    declared counts. ``indicators`` (the logic model's, by id) are what ``outcomes`` may name.
    A place-based strategy (``place_based``) serves a whole area: its periods need no participants.
    """
    problems: list[Problem] = []

    def err(path: tuple, message: str, found: str, expected: str, severity: str = "error") -> None:
        full = prefix + path
        problems.append(Problem(file, line_of(full) if line_of else None, format_path(full), message,
                                found=found, expected=expected, severity=severity))  # type: ignore[arg-type]

    block_year: m.PriceYear | None = None
    if raw.price_year is not None:
        try:
            block_year = parse_price_year(raw.price_year)
        except ValueError as exc:
            err(("price_year",), "price year is not a year", str(exc), PRICE_YEAR_EXPECTED)
    elif not all(p.price_year is not None for p in raw.periods):
        err(("price_year",), "price year is missing: the costs must say which year's prices they are in",
            "nothing", f"price_year: {PRICE_YEAR_EXPECTED}")
    analysis_year: m.PriceYear | None = None
    if raw.analysis_year is not None:
        try:
            analysis_year = parse_price_year(raw.analysis_year)
        except ValueError as exc:
            err(("analysis_year",), "analysis year is not a year", str(exc), PRICE_YEAR_EXPECTED)

    periods: list[m.CostPeriod] = []
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
                year = parse_price_year(p.price_year)
            except ValueError as exc:
                err(where + ("price_year",), "price year is not a year", str(exc), PRICE_YEAR_EXPECTED)
                year = None
        items: list[m.CostItem] = []
        for key, one_off in (("set_up", True), ("running", False)):
            amounts = getattr(p, key)
            if amounts is None:
                continue
            for cat in r.CostCategory:
                value = getattr(amounts, cat.value)
                if value is None:
                    continue
                if value < 0:
                    err(where + (key, cat.value), "a cost cannot be negative", money(value),
                        "an amount of 0 or more, in pounds; record income or savings apart, not as a negative cost")
                    continue
                items.append(m.CostItem(cat, float(value), cash=True, one_off=one_off))
        for j, gift in enumerate(p.in_kind):
            if gift.amount < 0:
                err(where + ("in_kind", j, "amount"), "a cost cannot be negative", money(gift.amount),
                    "the amount it would have cost to buy, 0 or more")
                continue
            items.append(m.CostItem(gift.category, float(gift.amount), cash=False, one_off=gift.one_off,
                                    provided_by=gift.provided_by))
        counted: dict[str, m.ParticipantCount | None] = {"started": None, "completed": None}
        declared: dict[str, int | None] = {"started": None, "completed": None}
        for which in ("started", "completed"):
            value = getattr(p.participants, which) if p.participants else None
            if isinstance(value, r.ParticipantCountRaw):
                counted[which] = _participant_count(value, where + ("participants", which), err, indicators)
                declared[which] = value.declared
            else:
                declared[which] = value
        started, completed = declared["started"], declared["completed"]
        if participants is not None and p.id in participants:
            started, completed = participants[p.id]
        total = sum(it.amount for it in items)
        if total > 0 and not started and not place_based and counted["started"] is None:
            err(where + ("participants",) + (("started",) if p.participants else ()),
                "this period has costs but no participants, so no cost per participant can be given",
                f"{money(total)} of costs and " + ("participants.started: 0" if started == 0 else "no participants.started"),
                "participants.started: the number who started in the period, from the plan's data or the "
                "programme's records")
        if started is not None and completed is not None and completed > started:
            err(where + ("participants", "completed"), "more participants completed than started",
                f"completed {completed}, started {started}", "completed no more than started")
        declared = p.in_kind or any(getattr(a, c) is not None for a in (p.set_up, p.running) if a for c in CATEGORIES)
        if not declared:
            err(where, "period has no costs", f"period '{p.id}' with no set_up, running or in_kind amounts",
                "the period's costs, or remove the period", severity="warning")
        if year is not None:
            periods.append(m.CostPeriod(p.id, p.start, p.end, year, started, completed, tuple(items), p.note,
                                        started_from=counted["started"], completed_from=counted["completed"]))

    spans.sort()
    for (_, e1, i1), (s2, _, i2) in zip(spans, spans[1:]):
        if s2 <= e1:
            err(("periods", i2, "start"), "periods overlap, so costs and participants would be counted twice",
                f"'{raw.periods[i2].id}' starts {s2}, before '{raw.periods[i1].id}' ends ({e1})",
                "periods that do not overlap")

    outcomes: dict[str, m.OutcomeCosting] = {}
    for ind_id, costing in raw.outcomes.items():
        if indicators is not None and ind_id not in indicators:
            err(("outcomes", ind_id), "costs name an indicator that is not in the logic model", f"'{ind_id}'",
                "one of " + (", ".join(indicators) or "(no indicators)"))
            continue
        outcomes[ind_id] = m.OutcomeCosting(ind_id, " ".join(costing.outcome.split()), costing.valued_as)

    which = raw.participants_indicator
    if which is not None and indicators is not None:
        ind = indicators.get(which)
        if ind is None:
            err(("participants_indicator",), "costs name an indicator that is not in the logic model", f"'{which}'",
                "one of " + (", ".join(indicators) or "(no indicators)"))
        elif getattr(ind, "type", None) is not r.IndicatorType.count:
            err(("participants_indicator",), "the participants indicator must count people",
                f"'{which}' of type {ind.type.value}", "a count indicator, e.g. referrals received")

    if any(p.severity == "error" for p in problems):
        return None, problems
    costs = m.Costs(periods=tuple(sorted(periods, key=lambda p: p.start)), source=raw.source,
                    illustrative=raw.illustrative, currency=raw.currency, analysis_year=analysis_year,
                    outcomes=m.frozen_map(outcomes), participants_indicator=which)
    return costs, problems
