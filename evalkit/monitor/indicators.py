"""Indicator computations, written once as Ibis expressions and executed on the store.

Every expression here is built on *unbound* tables (``ibis.table(schema, name)``) named like
the store's tables, so the same definitions compile for any engine Ibis supports: DuckDB by
default (the store), or PostgreSQL, Spark, BigQuery... when the data outgrow one machine
(see docs/monitoring.md). Only small, already aggregated frames come back to pandas, where
targets and RAG status are applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from evalkit.errors import DataError, SpecError, Problem
from evalkit.monitor.config import ColumnType, IndicatorDef, Monitoring, Source
from evalkit.monitor.definitions import DASHES, MappingFile, norm_description

IBIS_TYPES = {ColumnType.string: "string", ColumnType.integer: "int64", ColumnType.number: "float64",
              ColumnType.boolean: "boolean", ColumnType.date: "date", ColumnType.datetime: "timestamp"}
PERIOD_UNITS = {"month": "M", "quarter": "Q"}
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
BREAKDOWNS = ("all", "area", "age_band", "sex")
DEFAULT_AMBER_SHARE = 0.9  # toolkit default when a target has no amber threshold: within 10% of target
VALUE_COLUMNS = ["period", "group", "numerator", "denominator", "value"]


# ---------------------------------------------------------------- tables


def source_table(src: Source) -> ir.Table:
    schema = {"_extract_id": "int32", "_line": "int64"}
    schema.update({c: IBIS_TYPES[d.type] for c, d in src.columns.items()})
    return ibis.table(schema, name=src.table)


OFFENCE_KEYS = "offence_keys"
LOCAL, NOT_SV = "local", "not_serious_violence"


def offence_keys_table() -> ir.Table:
    """The store's lookup of offence codes and descriptions (see :func:`offence_key_rows`)."""
    return ibis.table({"version": "string", "list": "string", "key_kind": "string", "key": "string",
                       "category": "string", "offence": "string"}, name=OFFENCE_KEYS)


def measure_list(measure_id: str) -> str:
    return f"measure:{measure_id}"


def offence_key_rows(mapping: MappingFile, measures=None) -> list[tuple]:
    """Rows of ``offence_keys``: (version, list, kind, key, category, offence) for every offence list."""
    rows = [(mapping.version, LOCAL, kind, key, cat.id, off.name)
            for cat, off in mapping.offences() for kind, key in off.keys()]
    rows += [(mapping.version, NOT_SV, kind, key, None, off.name)
             for off in mapping.not_serious_violence for kind, key in off.keys()]
    for m in (measures.measures if measures is not None else ()):
        if m.offences is not None:
            rows += [(measures.version, measure_list(m.id), kind, key, None, off.name)
                     for off in m.offences for kind, key in off.keys()]
    return rows


def _norm_code(col: ir.StringValue) -> ir.StringValue:
    # the SQL twin of definitions.norm_code
    return col.re_replace(r"\s+", "").upper().replace(".", "/")


def _norm_description(col: ir.StringValue) -> ir.StringValue:
    # the SQL twin of definitions.norm_description
    for dash in DASHES:
        col = col.replace(dash, "-")
    return col.re_replace(r"\s+", " ").strip().lower()


def _lookup(t: ir.Table, version: str, list_name: str, tag: str) -> ir.Table:
    """``t`` with ``_{tag}_offence`` (and ``_{tag}_category``): the offence its code, else its description, names."""
    k = offence_keys_table()
    k = k.filter(k.version == version, k.list == list_name)
    for kind, key_col in (("code", "_code_key"), ("description", "_desc_key")):
        part = k.filter(k.key_kind == kind).select(k.key.name(f"_{tag}_{kind}_key"),
                                                   k.offence.name(f"_{tag}_{kind}_off"),
                                                   k.category.name(f"_{tag}_{kind}_cat"))
        t = t.left_join(part, t[key_col] == part[f"_{tag}_{kind}_key"]).drop(f"_{tag}_{kind}_key")
    # a known code decides; a row without one (or with a code the list lacks) falls back to its description
    return t.mutate(**{f"_{tag}_offence": t[f"_{tag}_code_off"].coalesce(t[f"_{tag}_description_off"]),
                       f"_{tag}_category": ibis.cases((t[f"_{tag}_code_off"].notnull(), t[f"_{tag}_code_cat"]),
                                                      else_=t[f"_{tag}_description_cat"])}
                    ).drop(*[f"_{tag}_{kind}_{x}" for kind in ("code", "description") for x in ("off", "cat")])


def classify_police(police: ir.Table, mapping: MappingFile, src: Source, measures=None,
                    only: set[str] | None = None) -> ir.Table:
    """Police records classified by the local definition (and the success measures' offence lists).

    Adds ``sv_category`` and ``sv_offence`` (NULL when not serious violence or unmapped),
    ``serious_violence``, ``mapped`` (listed as serious violence or as not), ``knife``,
    ``domestic``, ``public_place`` (NULL when the location is not recorded) and
    ``night_time_economy``; for each measure with an offence list, ``in_<measure id>``.
    Offences are matched by Home Office code where the row has one the list knows, else by
    description (see :mod:`evalkit.monitor.definitions`). ``only``: the lists to look up
    (``local``, ``not_serious_violence``, measure ids); the others' columns are left out, so a
    query that needs one list does not join the rest.
    """
    code = police[mapping.code_column] if mapping.code_column else ibis.null("string")
    t = police.mutate(_code_key=_norm_code(code) if mapping.code_column else code,
                      _desc_key=_norm_description(police[mapping.offence_column]))
    wanted = (lambda name: True) if only is None else (lambda name: name in only)  # noqa: E731
    local, nsv = wanted(LOCAL), wanted(NOT_SV)
    if local:
        t = _lookup(t, mapping.version, LOCAL, "sv")
    if nsv:
        t = _lookup(t, mapping.version, NOT_SV, "nsv")
    lists = [m for m in (measures.measures if measures is not None else ()) if m.offences is not None
             and wanted(m.id)]
    for m in lists:
        t = _lookup(t, measures.version, measure_list(m.id), m.id)
    when = t[src.date_column]
    timed = src.columns[src.date_column].type is ColumnType.datetime
    nte = mapping.flags.night_time_economy
    evening = (when - ibis.interval(hours=6)).day_of_week.full_name() if timed else ibis.literal("")
    night = (when.hour().isin(nte.hours) & evening.isin(nte.evenings)) if timed else ibis.literal(False)
    pp = mapping.flags.public_place
    if pp is not None:
        loc = _norm_description(t[pp.column])
        public = ibis.cases((loc.isnull(), ibis.null("boolean")),
                            else_=loc.isin([norm_description(v) for v in pp.values]))
    else:
        public = ibis.null("boolean")
    extra = {}
    if local:
        extra.update(sv_category=t._sv_category, sv_offence=t._sv_offence, serious_violence=t._sv_offence.notnull())
    if local and nsv:
        extra["mapped"] = t._sv_offence.notnull() | t._nsv_offence.notnull()
    out = t.mutate(
        **extra,
        knife=t[mapping.flags.knife].fill_null(False),
        domestic=t[mapping.flags.domestic].fill_null(False),
        public_place=public,
        night_time_economy=night,
        **{f"in_{m.id}": t[f"_{m.id}_offence"].notnull() for m in lists},
    )
    drop = ["_code_key", "_desc_key"]
    drop += ["_sv_offence", "_sv_category"] if local else []
    drop += ["_nsv_offence", "_nsv_category"] if nsv else []
    drop += [c for m in lists for c in (f"_{m.id}_offence", f"_{m.id}_category")]
    return out.drop(*drop)


def age_band_labels(bands: list[int]) -> list[str]:
    edges = sorted(bands)
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])]
    return labels + [f"{edges[-1]}+"]


def age_band(age: ir.IntegerValue, bands: list[int]) -> ir.StringValue:
    edges = sorted(bands)
    labels = age_band_labels(edges)
    cases = [(age < hi, label) for hi, label in zip(edges[1:], labels)]
    return ibis.cases((age.isnull(), "unknown"), *cases, else_=labels[-1])


def _predicate(t: ir.Table, column: str, rule) -> ir.BooleanValue:
    if column not in t.columns:
        raise DataError(f"indicators.yml: filter on column {column!r}, which the source does not have; "
                        f"expected one of {', '.join(c for c in t.columns if not c.startswith('_'))}")
    col = t[column]
    if isinstance(rule, dict):
        if rule == {"not_null": True}:
            return col.notnull()
        if rule == {"not_null": False}:
            return col.isnull()
        if set(rule) == {"prefix"} and isinstance(rule["prefix"], (str, list)):
            # e.g. ICD-10 X99 with any fourth character (X99, X99.4, X994)
            prefixes = [rule["prefix"]] if isinstance(rule["prefix"], str) else rule["prefix"]
            return ibis.or_(*[col.upper().startswith(str(p).upper()) for p in prefixes]).fill_null(False)
        raise DataError(f"indicators.yml: filter {column}: {rule!r} not understood; expected a value, a list of "
                        "values, {not_null: true/false} or {prefix: text}")
    if isinstance(rule, list):
        return col.isin(rule)
    return col == rule


def filtered(t: ir.Table, rules: dict) -> ir.Table:
    preds = [_predicate(t, c, r) for c, r in rules.items()]
    return t.filter(*preds) if preds else t


# ---------------------------------------------------------------- one indicator


@dataclass(frozen=True)
class Plan:
    """One indicator definition tied to its logic-model indicator and source."""

    definition: IndicatorDef
    indicator: object  # evalkit.spec.model.Indicator
    intervention_name: str
    source: Source
    measure: str  # count | proportion | mean


def measure_of(indicator_type: str) -> str:
    return {"count": "count", "rate": "count", "binary": "proportion", "proportion": "proportion",
            "score": "mean"}[indicator_type]


def declares(src: Source, breakdown: str) -> bool:
    """Whether ``src`` has the column for ``breakdown`` (age bands come from its age column)."""
    return (breakdown if breakdown != "age_band" else "age") in src.breakdowns


def breakdowns_of(plan: Plan) -> list[str]:
    """The breakdowns an indicator is shown by: as listed, else every one its source declares."""
    return plan.definition.breakdowns or [b for b in ("area", "age_band", "sex") if declares(plan.source, b)]


def rows_of(src: Source, monitoring: Monitoring) -> ir.Table:
    """The source's table, classified by the serious violence mapping when it is the mapped source."""
    t = source_table(src)
    if monitoring.mapping is not None and src.id == monitoring.mapping.source:
        t = classify_police(t, monitoring.mapping, src, monitoring.measures)
    return t


def grouped(plan: Plan, t: ir.Table, period_kind: str, breakdown: str, bands: list[int]) -> ir.Table:
    """The indicator per period and breakdown group: period, group, numerator, denominator, value."""
    d, src = plan.definition, plan.source
    t = filtered(t, d.where)
    period = t[d.date].truncate(PERIOD_UNITS[period_kind]).cast("date")
    if breakdown == "all":
        group = ibis.literal("all")
    elif breakdown == "age_band":
        group = age_band(t[src.breakdowns["age"]], bands)
    else:
        group = t[src.breakdowns[breakdown]].cast("string").fill_null("unknown")
    t = t.mutate(period=period, group=group)
    if t[d.date].type().is_timestamp() or t[d.date].type().is_date():
        t = t.filter(t.period.notnull())
    g = t.group_by(["period", "group"])
    if plan.measure == "count":
        out = g.agg(numerator=t.count().cast("float64"))
        return out.mutate(denominator=ibis.null("float64"), value=out.numerator).select(*VALUE_COLUMNS)
    if plan.measure == "proportion":
        ok = ibis.and_(*[_predicate(t, c, r) for c, r in (d.success or {}).items()])
        # a boolean's own sum(), not cast("int64"): PostgreSQL has no cast from boolean to bigint
        out = g.agg(numerator=ok.fill_null(False).sum().cast("float64"),
                    denominator=t.count().cast("float64"))
        return out.mutate(value=out.numerator / out.denominator).select(*VALUE_COLUMNS)
    col = t[d.value]
    out = g.agg(numerator=col.sum().cast("float64"), denominator=col.count().cast("float64"), value=col.mean())
    return out.select(*VALUE_COLUMNS)


def populations(pop_src: Source, breakdown: str) -> ir.Table:
    """Population per year and breakdown group: year, group, population."""
    p = source_table(pop_src)
    year = p[pop_src.date_column]
    year = year if pop_src.columns[pop_src.date_column].type is ColumnType.integer else year.year()
    if breakdown == "all":
        group = ibis.literal("all")
    elif breakdown == "age_band":
        group = p[pop_src.breakdowns["age"]].cast("string")
    else:
        group = p[pop_src.breakdowns[breakdown]].cast("string")
    p = p.mutate(year=year.cast("int64"), group=group)
    return p.group_by(["year", "group"]).agg(population=p.population.sum().cast("float64"))


def with_rates(values: ir.Table, pops: ir.Table, rate_per: int) -> ir.Table:
    """Join each period to the population of its year (the latest earlier year when missing)."""
    v = values.mutate(year=values.period.year().cast("int64"))
    latest = pops.group_by("group").agg(max_year=pops.year.max())
    v = v.left_join(latest, v.group == latest.group).drop("group_right")
    v = v.mutate(use_year=ibis.least(v.year, v.max_year))
    j = v.left_join(pops, (v.group == pops.group) & (v.use_year == pops.year)).drop("group_right", "year_right")
    return j.mutate(rate=j.value / j.population * rate_per).select(*VALUE_COLUMNS, "population", "rate")


def expressions(plan: Plan, monitoring: Monitoring, period_kind: str) -> ir.Table:
    """The whole indicator (every breakdown) as ONE backend-portable expression."""
    t = rows_of(plan.source, monitoring)
    bands = monitoring.settings.age_bands
    parts = []
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    rate_per = plan.indicator.rate_per if plan.measure == "count" else None
    for breakdown in ("all", *breakdowns_of(plan)):
        part = grouped(plan, t, period_kind, breakdown, bands)
        if rate_per and pop_src is not None and (breakdown == "all" or declares(pop_src, breakdown)):
            part = with_rates(part, populations(pop_src, breakdown), rate_per)
        else:
            part = part.mutate(population=ibis.null("float64"), rate=ibis.null("float64"))
        parts.append(part.mutate(breakdown=ibis.literal(breakdown)))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


# ---------------------------------------------------------------- plans from the project


def plans(monitoring: Monitoring, project) -> list[Plan]:
    """Tie each definition in indicators.yml to its logic-model indicator; problems listed at once."""
    problems, out = [], []
    file = "monitoring/indicators.yml"
    for i, d in enumerate(monitoring.indicators):
        where = f"indicators[{i}]"
        lm = project.interventions.get(d.intervention)
        if lm is None:
            problems.append(Problem(file, None, where + ".intervention", "no such logic model", repr(d.intervention),
                                    f"one of {', '.join(project.interventions)}"))
            continue
        ind = lm.indicators.get(d.indicator)
        if ind is None:
            problems.append(Problem(file, None, where + ".indicator", f"no such indicator in {d.intervention}",
                                    repr(d.indicator), f"one of {', '.join(lm.indicators)}"))
            continue
        src = monitoring.sources[d.source]
        measure = measure_of(ind.type.value)
        if d.date not in rows_of(src, monitoring).columns:
            problems.append(Problem(file, None, where + ".date", f"not a column of source {src.id}", repr(d.date),
                                    f"one of {', '.join(src.columns)}"))
        if measure == "proportion" and not d.success:
            problems.append(Problem(file, None, where + ".success", f"{ind.type.value} indicator needs a success rule",
                                    "nothing", "success: {column: value}"))
        if measure == "mean" and not d.value:
            problems.append(Problem(file, None, where + ".value", "score indicator needs the column to average",
                                    "nothing", "value: <column>"))
        for b in d.breakdowns or []:
            if not declares(src, b):
                problems.append(Problem(file, None, where + ".breakdowns", f"source {src.id} declares no {b} column",
                                        b, f"one of {', '.join(src.breakdowns) or '(none)'}"))
        out.append(Plan(d, ind, lm.name, src, measure))
    if problems:
        raise SpecError(problems)
    return out


# ---------------------------------------------------------------- targets and RAG


def period_target(indicator, period_kind: str) -> tuple[float | None, float | None]:
    """(target, amber) for one period: count targets pro-rated from their own period."""
    target = indicator.target
    if target is None:
        return None, None
    value, amber = target.value, target.amber
    if target.per is not None and measure_of(indicator.type.value) == "count":
        scale = MONTHS_IN[period_kind] / MONTHS_IN[target.per.value]
        value = value * scale
        amber = amber * scale if amber is not None else None
    if amber is None:
        amber = value * DEFAULT_AMBER_SHARE if indicator.good_when_higher else value / DEFAULT_AMBER_SHARE
    return value, amber


def rag(values: pd.Series, target: float | None, amber: float | None, higher_is_better: bool) -> pd.Series:
    if target is None:
        return pd.Series([None] * len(values), index=values.index, dtype=object)
    v = values.astype(float)
    if higher_is_better:
        status = pd.Series("red", index=values.index).mask(v >= amber, "amber").mask(v >= target, "green")
    else:
        status = pd.Series("red", index=values.index).mask(v <= amber, "amber").mask(v <= target, "green")
    return status.where(v.notna(), None)


# ---------------------------------------------------------------- run it


def refresh_mapping(store, mapping: MappingFile, measures=None) -> None:
    """Hold the definition's (and the measures') offence keys in the store: the classification joins them."""
    rows = offence_key_rows(mapping, measures)
    versions = sorted({r[0] for r in rows} | {mapping.version})
    marks = ", ".join("?" for _ in versions)
    held = store.con.execute(f"SELECT version, list, key_kind, key, category, offence FROM {OFFENCE_KEYS} "
                             f"WHERE version IN ({marks})", versions).fetchall()
    if sorted(held, key=repr) == sorted(rows, key=repr):
        return  # already held: nothing to write
    files = {mapping.version: "serious_violence.yml"}
    if measures is not None:
        files.setdefault(measures.version, "success_measures.yml")
    for v in versions:
        old = sorted((r for r in held if r[0] == v), key=repr)
        new = sorted((r for r in rows if r[0] == v), key=repr)
        if old and old != new:
            # the same version must always mean the same offence list: numbers carry the version
            raise SpecError([Problem(f"monitoring/{files[v]}", None, "version",
                                     "the offence lists changed but the version did not; counts already made under "
                                     "this version used the old lists", repr(v), "a new version for a changed list")])
    if getattr(store, "read_only", False):  # status, indicators: the lists for this connection only
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {OFFENCE_KEYS} AS SELECT * FROM main.{OFFENCE_KEYS}")
        store.con.execute(f"DELETE FROM temp.{OFFENCE_KEYS} WHERE version IN ({marks})", versions)
        store.con.executemany(f"INSERT INTO temp.{OFFENCE_KEYS} VALUES (?, ?, ?, ?, ?, ?)", rows)
        return
    with store.transaction():
        for v in versions:
            store.con.execute(f"DELETE FROM {OFFENCE_KEYS} WHERE version = ?", [v])
        store.con.executemany(f"INSERT INTO {OFFENCE_KEYS} VALUES (?, ?, ?, ?, ?, ?)", rows)


def _missing_tables(store, tables: list[str]) -> list[str]:
    have = set(store.tables())
    return [t for t in tables if t not in have]


def loaded_periods(store, src: Source, period_kind: str) -> list:
    """The periods covered by the source's active extracts (where a missing row means zero)."""
    rows = store.con.execute("SELECT period_start, period_end FROM extracts WHERE source = ? AND status = 'active'",
                             [src.id]).fetchall()
    months = set()
    for start, end in rows:
        months.update(pd.date_range(start, end, freq="MS"))
    if period_kind == "quarter":
        months = {m.to_period("Q").start_time for m in months}
    return sorted(m.date() for m in months)


def _zero_filled(frame: pd.DataFrame, periods: list, extra_groups: list[str]) -> pd.DataFrame:
    """Counts: every loaded period and known group gets a row, zero when nothing happened."""
    groups = sorted(set(frame["group"]) | set(extra_groups)) or ["all"]
    grid = pd.MultiIndex.from_product([periods, groups], names=["period", "group"]).to_frame(index=False)
    frame = frame.assign(period=pd.to_datetime(frame["period"]).dt.date)
    out = grid.merge(frame, on=["period", "group"], how="outer")
    out["numerator"] = out["numerator"].fillna(0.0)
    out["value"] = out["value"].fillna(0.0)
    return out


def compute_indicators(store, monitoring: Monitoring, project, period_kind: str | None = None,
                       save: bool = True) -> pd.DataFrame:
    """Every configured indicator per period and breakdown, with rates, targets and RAG.

    Indicators whose source has no data yet are skipped. With ``save`` the values replace the
    ``indicator_values`` table in one transaction.
    """
    period_kind = period_kind or monitoring.settings.period
    if monitoring.mapping is not None:
        refresh_mapping(store, monitoring.mapping, monitoring.measures)
    backend = store.ibis()
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    have_pop = pop_src is not None and not _missing_tables(store, [pop_src.table])
    pop_groups = {}
    frames = []
    from evalkit.monitor.filters import check_filters

    defined = plans(monitoring, project)
    warnings = check_filters(store, monitoring, defined)  # a filter value the data never hold is an error
    for plan in defined:
        if _missing_tables(store, [plan.source.table]):
            continue
        t = rows_of(plan.source, monitoring)
        periods = loaded_periods(store, plan.source, period_kind)
        rate_per = plan.indicator.rate_per if plan.measure == "count" else None
        target, amber = period_target(plan.indicator, period_kind)
        for breakdown in ("all", *breakdowns_of(plan)):
            part = backend.execute(grouped(plan, t, period_kind, breakdown, monitoring.settings.age_bands))
            pop_ok = rate_per and have_pop and (breakdown == "all" or declares(pop_src, breakdown))
            if pop_ok and breakdown not in pop_groups:
                pops = populations(pop_src, breakdown)
                pop_groups[breakdown] = sorted(backend.execute(pops.select("group").distinct())["group"])
            if plan.measure == "count":
                part = _zero_filled(part, periods, pop_groups.get(breakdown, []) if pop_ok else [])
            if pop_ok:
                values = ibis.memtable(part.assign(period=pd.to_datetime(part["period"]))[VALUE_COLUMNS])
                values = values.mutate(period=values.period.cast("date"))
                part = backend.execute(with_rates(values, populations(pop_src, breakdown), rate_per))
            else:
                part = part.assign(population=float("nan"), rate=float("nan"))
            part = part.assign(breakdown=breakdown, intervention=plan.definition.intervention,
                               indicator=plan.definition.indicator, period_kind=period_kind,
                               measure=plan.measure, rate_per=plan.indicator.rate_per)
            part["target"] = target
            part["amber"] = amber
            part["rag"] = rag(part["value"], target, amber, plan.indicator.good_when_higher)
            frames.append(part)
    columns = ["intervention", "indicator", "period_kind", "period", "breakdown", "group", "measure", "value",
               "numerator", "denominator", "population", "rate", "rate_per", "target", "amber", "rag"]
    frames = [f.reindex(columns=columns).astype({"target": "float64", "amber": "float64", "rag": "object"})
              for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    out["period"] = pd.to_datetime(out["period"]).dt.date
    out = out.sort_values(["intervention", "indicator", "breakdown", "group", "period"], kind="stable",
                          ignore_index=True)
    out.attrs["warnings"] = warnings
    if save:
        out_save = out.assign(definitions_sha256=monitoring.indicators_sha256,
                              sv_definition=monitoring.mapping.version if monitoring.mapping else None)
        with store.transaction():
            store.con.execute("DELETE FROM indicator_values")
            store.con.register("_values", out_save)
            store.con.execute("INSERT INTO indicator_values BY NAME SELECT * FROM _values")
            store.con.unregister("_values")
    return out
