"""A cost period's participants counted from the plan's data or the monitoring store.

A logic model's costs may say where a period's participants are counted instead of typing the number
in (``docs/value-for-money.md``, section 1)::

    participants:
      started: {from: data, evaluation: reach-2023-prepost, date: referral_date, declared: 150}
      completed: {from: data, evaluation: reach-2023-prepost, date: referral_date, where: {completed: 1}}
      # or: started: {from: store, indicator: ete_starts}

- ``from: data``: the distinct ids (the plan's ``data.id``) in the evaluation plan's data file (the
  participants' file of a matched comparison), read strictly; with ``date``, only rows whose date falls inside the period; with
  ``where``, only rows holding those values.
- ``from: store``: the monitoring store's monthly counts of a count indicator of this logic model
  (``indicator_values``, every area together), summed over the calendar months that start inside the
  period (``evalkit monitor status`` writes them).

The count is used. Where a ``declared`` figure is given too and the two differ, the difference is
said in words (every report and the portfolio print it): never settled silently. A count that cannot
be made (no such plan, a column the data does not have, no counts in the store) is an
:class:`~evalkit.errors.EvalkitError` naming the logic model's file and key: evalkit does not fall back
to the declared figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from evalkit.errors import EvalkitError


@dataclass(frozen=True)
class Disagreement:
    """A declared count and the count made from the plan's data or the store, when they differ."""

    period: str
    which: str  # started | completed
    declared: int
    counted: int
    counted_from: str  # "the plan's data" | "the monitoring store"

    @property
    def words(self) -> str:
        return (f"{self.period}: {self.declared:,} {self.which} as declared, {self.counted:,} counted from "
                f"{self.counted_from}; the count is used")


@dataclass(frozen=True)
class Counted:
    """Participants counted per period ({period id: (started, completed)}; None: not counted, the
    declared figure stands), how in words, and each disagreement with a declared figure."""

    by_period: dict
    words: tuple[str, ...]
    disagreements: tuple[Disagreement, ...]


def _where(project, logic_model, period_index: int, which: str) -> str:
    """``logic_models/x.yml:LINE: costs.periods[i].participants.which``, as every evalkit message names a key."""
    from pathlib import Path

    from evalkit.spec.yamlio import format_path, read_yaml

    key = ("costs", "periods", period_index, "participants", which)
    path = Path(logic_model.source)
    try:
        shown = path.resolve().relative_to(Path(project.root).resolve()).as_posix()
    except ValueError:
        shown = str(path)
    line = read_yaml(path, shown_as=shown).line_of(key)
    return f"{shown}:{line}: {format_path(key)}" if line else f"{shown}: {format_path(key)}"


def _from_data(project, logic_model, period, spec, where_words: str) -> tuple[int, str]:
    import pandas as pd

    try:
        plan = project.evaluation(spec.evaluation)
    except (EvalkitError, KeyError):
        raise EvalkitError(f"{where_words}: participants are counted from evaluation '{spec.evaluation}', which the "
                           f"project does not have; expected one of {', '.join(sorted(project.evaluations))}") from None
    if plan.intervention.id != logic_model.id:
        raise EvalkitError(f"{where_words}: evaluation '{spec.evaluation}' is of {plan.intervention.id}, not "
                           f"{logic_model.id}; expected a plan of this intervention")
    from evalkit.data.checks import check_location
    from evalkit.data.load import read_table

    spec_data = plan.data  # with two files (a matched comparison's pool), the participants' own file
    source = spec_data.path_as_written
    columns = list(dict.fromkeys(c for c in [spec_data.id, spec.date, *(k for k, _v in spec.where)] if c))
    try:
        check_location(spec_data)
        frame = read_table(spec_data.path, columns, spec_data.sheet, spec_data.missing_values)
    except EvalkitError as exc:
        raise EvalkitError(f"{where_words}: counting participants in {source}: {exc}") from None
    keep = pd.Series(True, index=frame.index)
    bits = []
    if spec.date is not None:
        raw = frame[spec.date]
        dates = pd.to_datetime(raw.astype(str), errors="coerce", format="mixed").dt.date
        # a date that cannot be read would silently leave its participant out of the count: refuse it
        bad = [i for i, (d, r) in enumerate(zip(dates, raw)) if pd.isna(d) and not pd.isna(r) and str(r).strip()]
        if bad:
            unit, first = ("line", bad[0] + 2) if spec_data.path.suffix.lower() in (".csv", ".xlsx") else ("row", bad[0] + 1)
            raise EvalkitError(f"{where_words}: column '{spec.date}' of {source} has {len(bad):,} value(s) that are "
                               f"not dates (first at {unit} {first}); expected dates such as 2023-09-14")
        keep &= dates.notna() & (dates >= period.start) & (dates <= period.end)
        bits.append(f"'{spec.date}' from {period.start} to {period.end}")
        undated = int(dates.isna().sum())
        if undated:  # said, not dropped silently: a row with no date cannot be placed in a period
            bits.append(f"{undated:,} row(s) with no '{spec.date}' left out")
    for column, value in spec.where:
        col = frame[column]
        match = col.astype(str).str.strip() == str(value).strip()
        if isinstance(value, bool) or isinstance(value, (int, float)):
            match = pd.to_numeric(col, errors="coerce") == float(value)
        keep &= match
        bits.append(f"{column} = {value}")
    n = int(frame.loc[keep, spec_data.id].nunique())
    words = (f"{n:,} distinct '{spec_data.id}' in {source} (evaluation {plan.id})"
             + (f", rows with {' and '.join(bits)}" if bits else ", the whole file (not limited to the period)"))
    return n, words


def _months_inside(start: dt.date, end: dt.date) -> list[str]:
    out = []
    y, m = start.year, start.month
    if start.day != 1:  # a month that starts before the period is not the period's
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    while dt.date(y, m, 1) <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _from_store(project, logic_model, period, spec, where_words: str) -> tuple[int, str]:
    from evalkit.store.db import open_store, store_path

    path = store_path(project.root)
    months = _months_inside(period.start, period.end)
    if not months:
        raise EvalkitError(f"{where_words}: period '{period.id}' holds no whole calendar month to count "
                           f"'{spec.indicator}' over; expected a period of at least one month")
    if not path.exists():
        raise EvalkitError(f"{where_words}: participants are counted from the monitoring store, which does not exist "
                           f"({path}); expected it: run `evalkit monitor ingest` and `evalkit monitor status` first")
    with open_store(path, read_only=True) as store:
        if not store.has_table("indicator_values"):
            rows = []
        else:
            rows = store.con.execute(
                "SELECT strftime(period, '%Y-%m') AS month, value FROM indicator_values WHERE intervention = ? "
                "AND indicator = ? AND breakdown = 'all' AND period_kind = 'month'",
                [logic_model.id, spec.indicator]).fetchall()
    found = {month: value for month, value in rows if month in set(months) and value is not None}
    missing = [mth for mth in months if mth not in found]
    if missing:
        raise EvalkitError(f"{where_words}: the monitoring store has no monthly count of '{spec.indicator}' for "
                           f"{len(missing)} of the period's {len(months)} months ({missing[0]} to {missing[-1]}); "
                           "expected every month: run `evalkit monitor status` after ingesting them")
    n = int(round(sum(float(v) for v in found.values())))
    return n, (f"{n:,}: the monitoring store's monthly counts of '{spec.indicator}', {months[0]} to {months[-1]}")


def count_participants(project, logic_model) -> Counted | None:
    """Each period's participants counted where the costs say so (None when no period is counted)."""
    costs = logic_model.costs
    if costs is None or not any(p.started_from or p.completed_from for p in costs.periods):
        return None
    by_period, words, disagree = {}, [], []
    for i, p in enumerate(costs.periods):
        got = {}
        for which in ("started", "completed"):
            spec = getattr(p, f"{which}_from")
            if spec is None:
                got[which] = getattr(p, which)
                continue
            where_words = _where(project, logic_model, i, which)
            n, how = (_from_data if spec.from_ == "data" else _from_store)(project, logic_model, p, spec, where_words)
            got[which] = n
            words.append(f"{p.id} {which}: {how}")
            if spec.declared is not None and spec.declared != n:
                disagree.append(Disagreement(p.id, which, spec.declared, n,
                                             "the plan's data" if spec.from_ == "data" else "the monitoring store"))
        if got["started"] is not None and got["completed"] is not None and got["completed"] > got["started"]:
            raise EvalkitError(f"{_where(project, logic_model, i, 'completed')}: more participants completed than started "
                               f"(counted {got['completed']:,} completed, {got['started']:,} started); expected "
                               "completed no more than started")
        by_period[p.id] = (got["started"], got["completed"])
    return Counted(by_period, tuple(words), tuple(disagree))
