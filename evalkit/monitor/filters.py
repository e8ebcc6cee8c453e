"""Indicator definitions checked against the data they count.

A filter value that never occurs in the source (``programme: VIP`` for ``vip``) would count
nothing and show a confident red zero; here it is an error listing the values seen, or a warning
when the definition says ``allow_absent: true`` (a programme with no referrals yet). Filter
values must have the column's type (``"true"`` in quotes is text, not a boolean). Derived police
columns are checked against the serious violence mapping rather than the data (a month without
a homicide is a real zero). A score's column must hold numbers within the instrument's range and
the indicator's plausible range.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from evalkit.errors import Problem, SpecError
from evalkit.monitor.config import ColumnType, Monitoring

FILE = "monitoring/indicators.yml"
MAX_SHOWN = 12
# columns classify_police adds: name -> kind
DERIVED = {"sv_category": "category", "sv_offence": "offence", "serious_violence": "boolean", "mapped": "boolean",
           "knife": "boolean", "domestic": "boolean", "public_place": "boolean", "night_time_economy": "boolean"}


def _doc(monitoring: Monitoring):
    from evalkit.spec.yamlio import read_yaml

    path = monitoring.root / FILE
    return read_yaml(path, FILE) if path.is_file() else None


def _type_ok(value: Any, kind: ColumnType | str) -> bool:
    if kind in (ColumnType.boolean, "boolean"):
        return isinstance(value, bool)
    if kind is ColumnType.integer:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is ColumnType.number:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in (ColumnType.date, ColumnType.datetime):
        return isinstance(value, (dt.date, dt.datetime))
    return isinstance(value, str)


EXPECTED = {ColumnType.boolean: "true or false (unquoted)", ColumnType.integer: "a whole number (unquoted)",
            ColumnType.number: "a number (unquoted)", ColumnType.date: "a date such as 2024-01-31",
            ColumnType.datetime: "a date and time", ColumnType.string: "text",
            "boolean": "true or false (unquoted)", "category": "a category id", "offence": "an offence's name"}


def _kind_of(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text"}.get(type(value), type(value).__name__)


def _shown_values(values: list, plain: bool) -> str:
    """The values seen, for the message: listed only for columns that hold categories, not identifiers."""
    import re

    if not values:
        return "none (the column is empty)"
    if not plain:
        return f"{len(values)} distinct value(s) (not listed: the column holds identifiers)"
    # a value with a run of digits may be an identifier that strayed into a category column
    shown = [v for v in values if not (isinstance(v, str) and re.search(r"[0-9]{3}", v))]
    text = ", ".join(repr(v) for v in sorted(shown, key=repr)[:MAX_SHOWN])
    hidden = len(values) - min(len(shown), MAX_SHOWN)
    return text + (f" and {hidden} more" if hidden else "")


def check_filters(store, monitoring: Monitoring, plans: list) -> list[Problem]:
    """Problems with the definitions' filters and score columns against the stored data.

    Raises SpecError when any is an error; returns the warnings (``allow_absent`` values).
    """
    doc = _doc(monitoring)
    problems: list[Problem] = []
    seen_cache: dict[tuple[str, str], list] = {}
    have = set(store.tables())
    index = {id(d): i for i, d in enumerate(monitoring.indicators)}

    def add(i: int, path: tuple, message: str, found: str, expected: str, severity: str = "error") -> None:
        from evalkit.spec.yamlio import format_path

        full = ("indicators", i) + path
        line = doc.line_of(full) if doc is not None else None
        problems.append(Problem(FILE, line, format_path(full), message, found, expected, severity))  # type: ignore

    mapping = monitoring.mapping
    for plan in plans:
        d, src = plan.definition, plan.source
        i = index.get(id(d), 0)
        derived = mapping is not None and src.id == mapping.source
        if src.table not in have:
            continue
        for part, rules in (("where", d.where), ("success", d.success or {})):
            for column, rule in rules.items():
                path = (part, column)
                if column not in src.columns and not (derived and column in DERIVED):
                    names = list(src.columns) + (list(DERIVED) if derived else [])
                    add(i, path, f"not a column of source {src.id}", repr(column), "one of " + ", ".join(names))
                    continue
                if isinstance(rule, dict):
                    prefix = set(rule) == {"prefix"} and isinstance(rule["prefix"], (str, list))
                    if rule not in ({"not_null": True}, {"not_null": False}) and not prefix:
                        add(i, path, "filter not understood", "a mapping",
                            "a value, a list of values, {not_null: true/false} or {prefix: text}")
                    continue
                values = rule if isinstance(rule, list) else [rule]
                kind = DERIVED[column] if column not in src.columns else src.columns[column].type
                wrong = [v for v in values if not _type_ok(v, kind)]
                if wrong:
                    add(i, path, "the filter value is not of the column's type",
                        f"{wrong[0]!r} ({_kind_of(wrong[0])})", EXPECTED[kind])
                    continue
                if kind in ("category", "offence"):
                    names = sorted(c.id for c in mapping.categories) if kind == "category" else \
                        sorted(o.name for _c, o in mapping.offences())
                    absent = [v for v in values if v not in names]
                    if absent:
                        add(i, path, f"not {'a category' if kind == 'category' else 'an offence'} of the serious "
                            f"violence definition ({mapping.version})", repr(absent[0]),
                            "one of " + ", ".join(f"'{c}'" for c in names))
                    continue
                if kind in ("boolean", ColumnType.boolean):
                    continue  # true/false: either may be absent in a real extract
                key = (src.table, column)
                if key not in seen_cache:
                    seen_cache[key] = [r[0] for r in store.con.execute(
                        f'SELECT DISTINCT "{column}" FROM {src.table} WHERE "{column}" IS NOT NULL ORDER BY 1 '
                        "LIMIT 1000").fetchall()]
                seen = seen_cache[key]
                absent = [v for v in values if v not in seen]
                if absent:
                    plain = column not in src.pseudonymise and column not in src.key
                    add(i, path, f"no row of source {src.id} has this value", repr(absent[0]),
                        f"one of the values seen: {_shown_values(seen, plain)}"
                        + ("" if d.allow_absent else " (or allow_absent: true if it may legitimately be absent)"),
                        severity="warning" if d.allow_absent else "error")
        if plan.measure == "mean" and d.value:
            _check_score(store, plan, i, add)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(problems)
    return problems


def _check_score(store, plan, i: int, add) -> None:
    """A score's column: numbers (a boolean averaged is not a score), within the instrument and plausible ranges."""
    d, src, ind = plan.definition, plan.source, plan.indicator
    decl = src.columns.get(d.value)
    if decl is None:
        add(i, ("value",), f"not a column of source {src.id}", repr(d.value), "one of " + ", ".join(src.columns))
        return
    if decl.type not in (ColumnType.number, ColumnType.integer):
        add(i, ("value",), f"score indicator '{ind.id}' averages a column that is not a number",
            f"{d.value} of type {decl.type.value}", "a number or integer column")
        return
    ranges = []
    if ind.instrument is not None and ind.instrument.range is not None:
        ranges.append((*ind.instrument.range, f"the instrument's range ({ind.instrument.name})"))
    if getattr(ind, "plausible", None) is not None:
        ranges.append((*ind.plausible, f"the plausible range of '{ind.id}'"))
    for low, high, what in ranges:
        outside = f'WHERE s."{d.value}" < ? OR s."{d.value}" > ?'
        n = store.con.execute(f"SELECT count(*) FROM {src.table} s {outside}", [low, high]).fetchone()[0]
        if n:
            name, line = store.con.execute(
                f"SELECT e.file_name, s._line FROM {src.table} s JOIN extracts e ON e.extract_id = s._extract_id "
                f"{outside} ORDER BY s._extract_id, s._line LIMIT 1", [low, high]).fetchone()
            add(i, ("value",), f"column '{d.value}' of source {src.id} holds values outside {what}, first in "
                f"{name} line {line}", f"{n} value(s)", f"values from {low:g} to {high:g}")
