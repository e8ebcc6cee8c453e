"""The success measures: counted once into the store, read by the dashboard and the time series.

``success_measures.yml`` (:mod:`evalkit.monitor.definitions`) says which rows count. Here:

- :func:`compute_success_measures` counts every measure and variant per month and area (and
  for the whole partnership area, ``area = 'all'``) with its population and rate, and replaces
  the store table ``success_measures`` in one transaction. Counts are Ibis expressions (as the
  indicators); months a source has loaded but with nothing counted are zeros.
- :func:`its_frame` turns that table into the strategy interrupted time series' data (one row
  per area and month, a column per measure): :func:`export_its_data` writes it as the plan's
  data file, byte for byte what the dashboard fits, so the report and the dashboard fit the
  same model (:func:`evalkit.estimate.its.analyse`, with the plan's settings) to the same rows.
- :func:`its_estimates` is that fit for the dashboard, saying whether the plan's data file is
  current.

Why the plan reads an exported file rather than the store: an evaluation keeps its own data
file, hashed in its manifest, so the report can be re-run and checked without the monitoring
store, and the rating's staleness check (a changed data file means re-run) works as for every
other plan; the export is written from the store and the dashboard refits from the store, so
the two cannot silently disagree (a stale file is reported on the dashboard).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.errors import DataError, EvalkitError, ProjectError
from evalkit.monitor.config import Monitoring
from evalkit.monitor.definitions import UNDER_25, MeasureDef, Variant
from evalkit.monitor.indicators import (_predicate, age_band_labels, classify_police, loaded_periods, refresh_mapping,
                                        rows_of, source_table)
from evalkit.result_sections import Counterfactual

TABLE = "success_measures"
COLUMNS = ["measure", "variant", "area", "period", "count", "population", "rate", "rate_per", "source",
           "measures_version", "sv_definition"]
ALL = "all"
VARIANT_WORDS = {"all": "all victims", "under_25": "victims aged under 25", "non_domestic": "excluding domestic abuse"}
EXPORT_SCHEMA = "evalkit.success-measures-export/v1"


def _classified(src, group: list[MeasureDef], monitoring: Monitoring) -> ir.Table:
    """The source's rows with what ``group`` filters on: only the offence lists it reads are joined."""
    mapping = monitoring.mapping
    if mapping is None or src.id != mapping.source:
        return rows_of(src, monitoring)
    only = {m.id for m in group if m.offences is not None}
    if any(c in m.where for m in group for c in ("sv_category", "sv_offence", "serious_violence", "mapped")):
        only |= {"local", "not_serious_violence"}
    return classify_police(source_table(src), mapping, src, monitoring.measures, only=only)


def count_column(measure: str, variant: str) -> str:
    return f"n_{measure}__{variant}"


def count_expression(group: MeasureDef | list[MeasureDef], monitoring: Monitoring) -> ir.Table:
    """Counts per month and area of measures on one source, date and area column, in one pass.

    A column per measure and variant (:func:`count_column`); unbound, compiles for any engine.
    """
    group = [group] if isinstance(group, MeasureDef) else list(group)
    first = group[0]
    src = monitoring.sources[first.source]
    t = _classified(src, group, monitoring)
    t = t.mutate(period=t[first.date].truncate("M").cast("date"),
                 area=t[first.area].cast("string").fill_null("unknown"))
    t = t.filter(t.period.notnull())
    counts = {}
    for m in group:
        keep = [_predicate(t, c, r) for c, r in m.where.items()]
        if m.offences is not None:
            keep.append(t[f"in_{m.id}"])
        base = ibis.and_(*keep) if keep else ibis.literal(True)
        for variant in m.variants:
            cond = base
            if variant is Variant.under_25:
                cond = cond & (t[m.age] < UNDER_25)
            elif variant is Variant.non_domestic:
                cond = cond & ~t.domestic
            # a boolean's own sum(): PostgreSQL has no cast from boolean to bigint
            counts[count_column(m.id, variant.value)] = cond.fill_null(False).sum()
    return t.group_by(["period", "area"]).agg(**counts)


def under_25_bands(bands: list[int]) -> list[str]:
    """The population age-band labels below 25; the bands must have 25 as an edge."""
    edges = sorted(bands)
    if UNDER_25 not in edges:
        raise ProjectError(f"monitoring/monitor.yml: age_bands {edges} have no edge at {UNDER_25}; the under-25 "
                           f"success measures need one (e.g. [0, 10, 18, 25, 35, 50, 65])")
    return [label for lo, label in zip(edges, age_band_labels(edges)) if lo < UNDER_25]


def population_by_area(store, monitoring: Monitoring, under_25: bool) -> pd.DataFrame:
    """year, area, population (all ages, or aged under 25) from the population source; empty without one."""
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    if pop_src is None or not store.has_table(pop_src.table) or "area" not in pop_src.breakdowns:
        return pd.DataFrame(columns=["year", "area", "population"])
    p = source_table(pop_src)
    year = p[pop_src.date_column]
    year = year if pop_src.columns[pop_src.date_column].type.value == "integer" else year.year()
    if under_25:
        if "age" not in pop_src.breakdowns:
            return pd.DataFrame(columns=["year", "area", "population"])
        p = p.filter(p[pop_src.breakdowns["age"]].cast("string").isin(under_25_bands(monitoring.settings.age_bands)))
        year = p[pop_src.date_column]
        year = year if pop_src.columns[pop_src.date_column].type.value == "integer" else year.year()
    p = p.mutate(year=year.cast("int64"), area=p[pop_src.breakdowns["area"]].cast("string"))
    out = store.ibis().execute(p.group_by(["year", "area"]).agg(population=p.population.sum().cast("float64")))
    return out.sort_values(["area", "year"], ignore_index=True)


def _with_population(frame: pd.DataFrame, pops: pd.DataFrame, rate_per: int) -> pd.DataFrame:
    """Each month gets its year's population (the latest earlier year when the year is missing)."""
    out = frame.copy()
    out["_year"] = [d.year for d in out["period"]]
    if len(pops):
        total = pops.groupby("year", as_index=False)["population"].sum().assign(area=ALL)
        table = pd.concat([pops[["year", "area", "population"]], total], ignore_index=True)
        table = table.rename(columns={"year": "_year"}).astype({"_year": "int64"}).sort_values("_year")
        out["_order"] = range(len(out))
        out = pd.merge_asof(out.astype({"_year": "int64"}).sort_values("_year"), table, on="_year", by="area",
                            direction="backward").sort_values("_order").drop(columns="_order")
    else:
        out["population"] = np.nan
    out["rate"] = out["count"] / out["population"] * rate_per
    return out.drop(columns="_year").reset_index(drop=True)


def compute_success_measures(store, monitoring: Monitoring, save: bool = True) -> pd.DataFrame:
    """Every measure and variant per month and area (COLUMNS); replaces the store table when ``save``.

    A measure whose source has no data yet is left out. Every month the source has loaded gets
    a row for every area (zero when nothing was counted); ``area = 'all'`` is the whole area.
    """
    measures = monitoring.measures
    if measures is None:
        return pd.DataFrame(columns=COLUMNS)
    if monitoring.mapping is not None:
        refresh_mapping(store, monitoring.mapping, measures)
    backend = store.ibis()
    pops = {False: population_by_area(store, monitoring, under_25=False)}
    sv_version = monitoring.mapping.version if monitoring.mapping is not None else None
    frames = []
    groups: dict[tuple, list[MeasureDef]] = {}  # measures on one source, date and area: one query
    for m in measures.measures:
        if store.has_table(monitoring.sources[m.source].table):
            groups.setdefault((m.source, m.date, m.area), []).append(m)
    counted = {}
    for (source, _date, _area), group in groups.items():
        result = backend.execute(count_expression(group, monitoring))
        result["period"] = pd.to_datetime(result["period"]).dt.date
        for m in group:
            counted[m.id] = result
    for m in measures.measures:
        if m.id not in counted:
            continue
        src = monitoring.sources[m.source]
        months = loaded_periods(store, src, "month")
        all_counts = counted[m.id]
        for variant in m.variants:
            col = count_column(m.id, variant.value)
            counts = all_counts[["period", "area", col]].rename(columns={col: "count"})
            counts = counts[counts["count"] > 0]
            under = variant is Variant.under_25
            if under not in pops:
                pops[under] = population_by_area(store, monitoring, under_25=True)
            areas = sorted(set(pops[False]["area"]) | set(counts["area"]))
            grid = pd.MultiIndex.from_product([months, areas], names=["period", "area"]).to_frame(index=False)
            part = grid.merge(counts, on=["period", "area"], how="left")
            outside = counts[~counts["period"].isin(months)]
            if len(outside):  # rows dated outside the loaded months cannot happen for checked extracts
                raise DataError(f"{src.id}: {int(outside['count'].sum())} row(s) dated outside the loaded months")
            part["count"] = part["count"].fillna(0).astype("int64")
            total = part.groupby("period", as_index=False)["count"].sum().assign(area=ALL)
            part = pd.concat([total, part], ignore_index=True)
            part = _with_population(part, pops[under], m.rate_per)
            frames.append(part.assign(measure=m.id, variant=variant.value, rate_per=m.rate_per, source=src.id,
                                      measures_version=measures.version,
                                      sv_definition=sv_version if src.id == getattr(monitoring.mapping, "source", None)
                                      else None))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    out = out.reindex(columns=COLUMNS)
    out["area_order"] = (out["area"] != ALL).astype(int)
    out = out.sort_values(["measure", "variant", "area_order", "area", "period"], kind="stable",
                          ignore_index=True).drop(columns="area_order")
    if save:
        store.replace_rows(TABLE, out)
    return out


def read_success_measures(store) -> pd.DataFrame:
    """The store's success_measures table, in its canonical order."""
    out = store.con.execute(f"SELECT * FROM {TABLE}").df()
    out["period"] = pd.to_datetime(out["period"]).dt.date
    out["area_order"] = (out["area"] != ALL).astype(int)
    return out.sort_values(["measure", "variant", "area_order", "area", "period"], kind="stable",
                           ignore_index=True).drop(columns="area_order")


# ---------------------------------------------------------------------------- the time series


def its_column(measure: str, variant: str) -> str:
    return measure if variant == ALL else f"{measure}_{variant}"


def its_frame(values: pd.DataFrame) -> pd.DataFrame:
    """The strategy time series' data: area, month, population, population_under_25, a count per measure.

    One row per area (with a population) and month; a measure's cell is empty in months its
    source has not loaded. Deterministic: sorted by area and month, integer counts.
    """
    v = values[(values["area"] != ALL) & values["population"].notna()]
    if v.empty:
        return pd.DataFrame(columns=["area", "month", "population", "population_under_25"])
    v = v.assign(month=[f"{p:%Y-%m}" for p in v["period"]], column=[its_column(m, x) for m, x in
                                                                    zip(v["measure"], v["variant"])])
    counts = v.pivot_table(index=["area", "month"], columns="column", values="count", aggfunc="first")
    pop_all = v[v["variant"] != "under_25"].groupby(["area", "month"])["population"].first().rename("population")
    pop_u25 = v[v["variant"] == "under_25"].groupby(["area", "month"])["population"].first().rename(
        "population_under_25")
    out = pd.concat([pop_all, pop_u25, counts], axis=1).reset_index()
    out = out.sort_values(["area", "month"], ignore_index=True)
    out = out[out["population"].notna()]
    ordered = ["area", "month", "population", "population_under_25"] + sorted(counts.columns)
    out = out.reindex(columns=ordered)
    for c in ordered[2:]:
        out[c] = out[c].astype("Int64")
    return out.reset_index(drop=True)


def its_csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def its_plans(project, monitoring: Monitoring) -> list:
    """The interrupted time series plans of the success-measures logic model."""
    wanted = monitoring.settings.success_measures
    return [e for e in project.evaluations.values()
            if e.intervention.id == wanted and e.design.value == "interrupted_time_series" and e.data is not None]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def export_its_data(store, monitoring: Monitoring, project, *, force: bool = False) -> list[Path]:
    """Write each success-measures ITS plan's data file from the store (recomputing the measures first).

    A file there already is replaced only when this export wrote it (its record beside it says
    so) or with ``force``: real data an evaluator put there is never overwritten.
    """
    plans = its_plans(project, monitoring)
    if not plans:
        raise ProjectError(f"no interrupted_time_series plan of '{monitoring.settings.success_measures}' (the "
                           "success-measures logic model, monitor.yml success_measures) to export for")
    values = compute_success_measures(store, monitoring)
    frame = its_frame(values)
    if frame.empty:
        raise DataError("no success measure has data with a population yet; ingest the sources and the "
                        "population estimates first")
    data = its_csv_bytes(frame)
    written = []
    for plan in plans:
        path = plan.data.path
        side = _sidecar(path)
        if path.exists() and not force and not side.exists():
            raise ProjectError(f"{path}: exists and was not written by `evalkit monitor export`; expected no file "
                               "there, or --force to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        record = {"schema": EXPORT_SCHEMA, "written_by": "evalkit monitor export", "table": TABLE,
                  "measures_version": monitoring.measures.version,
                  "sv_definition": monitoring.mapping.version if monitoring.mapping else None,
                  "sha256": hashlib.sha256(data).hexdigest(), "rows": int(len(frame)),
                  "columns": {c: _column_words(c, monitoring) for c in frame.columns}}
        side.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _column_words(column: str, monitoring: Monitoring) -> str:
    fixed = {"area": "community safety partnership area", "month": "YYYY-MM",
             "population": "mid-year population estimate, all ages",
             "population_under_25": "mid-year population estimate, aged under 25"}
    if column in fixed:
        return fixed[column]
    for m in monitoring.measures.measures:
        for v in m.variants:
            if its_column(m.id, v.value) == column:
                return f"{m.label} ({VARIANT_WORDS[v.value]}); count per month"
    return column


def its_estimates(store, monitoring: Monitoring, project, values: pd.DataFrame | None = None) -> dict:
    """The strategy time series fitted to the store's success measures, as the plan fits it.

    With the plan: :func:`evalkit.estimate.its.analyse` on :func:`its_frame` of the store, i.e.
    the plan's model, seasonality and interruption on the rows its exported data file holds;
    ``data_file`` says whether that file is current. Without a plan: quasi-Poisson, month-of-
    year terms, area fixed effects at ``monitor.yml interruption``. {measure id: estimates}.
    """
    from evalkit.estimate import its

    values = read_success_measures(store) if values is None else values
    frame = its_frame(values)
    out = {"plan": None, "data_file": None, "measures": {}}
    if frame.empty:
        return out
    plans = its_plans(project, monitoring)
    by_indicator = {m.indicator: m for m in monitoring.measures.measures if m.indicator}
    if plans:
        plan = plans[0]
        file_bytes = plan.data.path.read_bytes() if plan.data.path.exists() else None
        status = "missing" if file_bytes is None else "current" if file_bytes == its_csv_bytes(frame) else "stale"
        out["plan"] = plan.id
        out["data_file"] = {"path": plan.data.path_as_written, "status": status}
        outcomes = {ind: col for ind, (_i, col) in plan.outcomes.items()}
        missing = [c for c in outcomes.values() if c not in frame.columns]
        if missing:
            out["note"] = (f"{plan.id} names column(s) {', '.join(missing)} the success measures do not have; "
                           "its time series is not shown")
            return out
        if (plan.data.id, plan.data.period, plan.data.population) != ("area", "month", "population"):
            out["note"] = (f"{plan.id} reads columns {plan.data.id}/{plan.data.period}/{plan.data.population}; the "
                           "exported success measures have area/month/population")
            return out
        try:
            if status == "current":
                # the rows exactly as `evalkit run` reads them (strict reading, canonical order)
                from evalkit.run import read_plan_data

                rows = read_plan_data(plan)
            else:
                from evalkit.data.checks import prepared_frame

                rows = prepared_frame(plan, pd.read_csv(io.BytesIO(its_csv_bytes(frame)), low_memory=False))
            analysis = its.analyse(plan, rows, plan.seed)
        except EvalkitError as exc:
            out["note"] = f"{plan.id}: {exc}"
            return out
        by_estimand = {(e.indicator, e.estimand): e for e in analysis.estimates}
        for ind, col in outcomes.items():
            measure = by_indicator.get(ind)
            if measure is None:
                continue
            level, slope = by_estimand.get((ind, "level_change")), by_estimand.get((ind, "slope_change"))
            # the typed entry (evalkit.result_sections.CounterfactualEntry): an undeclared field fails in a test
            cf = Counterfactual.from_mapping(analysis.sections["counterfactual"]).entry(ind)
            rows = [r for r in cf.rows if r["area"] == "all"]
            out["measures"][measure.id] = {
                "indicator": ind, "method": level.method, "interruption": cf.interruption,
                "level_change": _ratio(level), "slope_change_per_year": _ratio(slope),
                "period": [r["period"] for r in rows],
                "fitted_rate": [r["fitted_rate"] for r in rows],
                "counterfactual_rate": [r["counterfactual_rate"] for r in rows],
                "rate_per": cf.rate_per, "warnings": [w.message for w in analysis.warnings if w.indicator == ind]}
        return out
    interruption = monitoring.settings.interruption
    if interruption is None:
        return out
    from evalkit.spec.raw import CountModel, Seasonality

    cut = pd.Period(interruption, "M")
    for m in monitoring.measures.measures:
        col = its_column(m.id, ALL)
        if col not in frame.columns:
            continue
        rows = frame[frame[col].notna()]
        series = pd.DataFrame({"area": rows["area"].to_numpy(), "month": pd.PeriodIndex(rows["month"], freq="M"),
                               "count": rows[col].astype(float).to_numpy(),
                               "population": rows["population"].astype(float).to_numpy()})
        months = series["month"]
        if not (months.min() < cut <= months.max()) or months[months < cut].nunique() < its.MIN_POINTS \
                or months[months >= cut].nunique() < its.MIN_POINTS:
            continue
        series = series.sort_values(["area", "month"]).reset_index(drop=True)
        fit = its.fit_its(series, cut, CountModel.quasi_poisson, Seasonality.month)
        crit = its.critical_value(fit["info"])
        ratios = {}
        for name, scale in (("level_change", 1.0), ("slope_change", 12.0)):
            b, se = float(fit["params"][name]), float(np.sqrt(fit["cov"].loc[name, name]))
            ratios[name] = its._ratio(b, se, scale, crit)
        tot = series.assign(fitted=fit["fitted"], counterfactual=fit["counterfactual"]).groupby("month")[
            ["population", "fitted", "counterfactual"]].sum()
        out["measures"][m.id] = {
            "indicator": m.indicator, "interruption": str(cut),
            "method": "segmented quasi-Poisson (Pearson scale) regression, log-population offset, month-of-year "
                      "seasonality, area fixed effects (dashboard default: no time series plan)",
            "level_change": {k: ratios["level_change"][k] for k in ("estimate", "ci_low", "ci_high")},
            "slope_change_per_year": {k: ratios["slope_change"][k] for k in ("estimate", "ci_low", "ci_high")},
            "period": [str(p) for p in tot.index],
            "fitted_rate": [float(v) for v in tot["fitted"] / tot["population"] * m.rate_per],
            "counterfactual_rate": [float(v) for v in tot["counterfactual"] / tot["population"] * m.rate_per],
            "rate_per": m.rate_per, "warnings": []}
    return out


def _ratio(e) -> dict | None:
    if e is None:
        return None
    return {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "p_value": e.p_value}
