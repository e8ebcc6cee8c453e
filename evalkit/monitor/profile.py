"""The needs-assessment profile of serious violence, as the strategy's needs assessment reports it.

From the police records classified by the local definition (the last 12 loaded months): peak
hours and days; shares domestic, with a knife, and **in public places**, and the share of
public-place serious violence in the night-time economy; victims' and suspects' sex and ages;
the share of residents who were a victim or a suspect (distinct pseudonymised people, by area
of residence) beside offences by area of offence; the change on the previous 12 months by
category; and the offence types the definition does not list. From ambulance call-outs, A&E
attendances and hospital admissions: the same kind of profile of the health data, so the
picture does not rest on police data alone.

Everything is an Ibis expression on the store's tables (portable like the indicators); only
small aggregated frames come back. Counts here are *not* disclosure-controlled: the dashboard
publishes them as typed values of its ledger (:func:`evalkit.monitor.dashboard._profile_model`).
"""

from __future__ import annotations

import math

import ibis
import numpy as np
import ibis.expr.types as ir
import pandas as pd

from evalkit.monitor.config import Monitoring, Source
from evalkit.monitor.indicators import age_band, classify_police, populations, source_table

# ICD-10 assault by ... (external causes X85-Y09), grouped as the strategy's profile shows them
ICD10_ASSAULT = (("X99", "sharp object"), ("Y00", "blunt object"), ("Y04", "bodily force"),
                 ("X93", "firearm"), ("X94", "firearm"), ("X95", "firearm"))
# ICD-10 place-of-occurrence fourth character for external causes (W00-Y34)
ICD10_PLACE = {"0": "home", "1": "residential institution", "2": "school or public building",
               "3": "sports area", "4": "street and highway", "5": "trade and service area",
               "6": "industrial or construction area", "7": "farm", "8": "other specified place",
               "9": "unspecified place"}
WINDOW_MONTHS = 12


def _loaded_window(store, src: Source, months: int | None):
    """(start, stop, previous_start) of the last ``months`` loaded months of ``src``; None without data."""
    row = store.con.execute("SELECT min(period_start), max(period_end) FROM extracts WHERE source = ? "
                            "AND status = 'active'", [src.id]).fetchone()
    if row is None or row[1] is None:
        return None
    first, end = pd.Timestamp(row[0]), pd.Timestamp(row[1])
    start = first if months is None else max(first, end - pd.DateOffset(months=months - 1))
    stop = end + pd.DateOffset(months=1)
    previous = start - pd.DateOffset(months=months) if months is not None else None
    return start, stop, (previous if previous is not None and previous >= first else None)


def _counts(t: ir.Table, key, name: str, order=None) -> ir.Table:
    out = t.group_by(**{name: key}).agg(n=t.count())
    return out.order_by(order if order is not None else [ibis.desc("n"), name])


def _has(src: Source, *columns: str) -> bool:
    return all(c in src.columns for c in columns)


def police_profile_expressions(monitoring: Monitoring, start, stop, previous=None, with_population: bool = True) -> dict:
    """Each part of the police profile as an unbound Ibis expression (compiles for any engine).

    ``with_population``: whether the population source has data (rates by area need it).
    """
    src = monitoring.sources[monitoring.settings.police_source]
    police = classify_police(source_table(src), monitoring.mapping, src, monitoring.measures)
    when = police[src.date_column]
    window = police.filter(when >= start, when < stop)
    sv = window.filter(window.serious_violence)
    bands = monitoring.settings.age_bands
    out = {
        "by_hour": sv.group_by(hour=sv[src.date_column].hour()).agg(n=sv.count()).order_by("hour"),
        "by_day": sv.group_by(day=sv[src.date_column].day_of_week.index(),
                              day_name=sv[src.date_column].day_of_week.full_name()).agg(n=sv.count()).order_by("day"),
        # booleans summed as such: PostgreSQL has no cast from boolean to bigint
        "shares": sv.agg(n=sv.count(), domestic=sv.domestic.sum(), knife=sv.knife.sum(),
                         location_known=sv.public_place.notnull().sum(),
                         public_place=sv.public_place.fill_null(False).sum(),
                         night_time_economy=sv.night_time_economy.sum(),
                         public_night_time_economy=(sv.public_place.fill_null(False) & sv.night_time_economy).sum()),
        "by_category": sv.group_by("sv_category").agg(n=sv.count()).order_by([ibis.desc("n"), "sv_category"]),
        "unmapped": (un := window.filter(~window.mapped)).group_by(
            offence_type=un[monitoring.mapping.offence_column]).agg(n=un.count()).order_by(
            [ibis.desc("n"), "offence_type"]),
    }
    for who in ("victim", "suspect"):
        if _has(src, f"{who}_age"):
            out[f"{who}_ages"] = sv.group_by(age_band=age_band(sv[f"{who}_age"], bands)).agg(n=sv.count()
                                                                                            ).order_by("age_band")
        if _has(src, f"{who}_sex"):
            out[f"{who}_sex"] = _counts(sv, sv[f"{who}_sex"].cast("string").fill_null("unknown"), "sex", "sex")
    if previous is not None:
        prev = police.filter(when >= previous, when < start)
        prev = prev.filter(prev.serious_violence)
        now_n = sv.group_by("sv_category").agg(n=sv.count())
        prev_n = prev.group_by(sv_category=prev.sv_category).agg(n_previous=prev.count())
        j = now_n.outer_join(prev_n, now_n.sv_category == prev_n.sv_category)
        out["year_on_year"] = j.select(sv_category=j.sv_category.coalesce(j.sv_category_right),
                                       n=j.n.fill_null(0), n_previous=j.n_previous.fill_null(0)
                                       ).order_by("sv_category")
    by_area = sv.group_by(group=sv[src.breakdowns["area"]]).agg(n=sv.count())
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    pops = None
    if with_population and pop_src is not None and "area" in pop_src.breakdowns:
        p = populations(pop_src, "area")
        pops = p.filter(p.year == p.year.max())
        j = by_area.left_join(pops, by_area.group == pops.group)
        out["by_area"] = j.select(area=j.group, n=j.n, population=j.population,
                                  rate_per_100000=j.n / j.population * 100000).order_by(
            [ibis.desc("rate_per_100000"), "area"])
    else:
        out["by_area"] = by_area.rename(area="group").order_by([ibis.desc("n"), "area"])
    # residents who were a victim or a suspect: distinct pseudonymised people by area of residence
    for who in ("victim", "suspect"):
        if not _has(src, f"{who}_id", f"{who}_residence"):
            continue
        people = sv.filter(sv[f"{who}_id"].notnull(), sv[f"{who}_residence"].notnull())
        # each person once, in the area of residence of their latest record in the window (the
        # greatest area name among records of that moment): the areas then add up to the residents
        who_id, res, when = people[f"{who}_id"], people[f"{who}_residence"].cast("string"), people[src.date_column]
        latest = people.group_by(_pid=who_id).agg(_last=when.max())
        at = people.inner_join(latest, (who_id == latest._pid) & (when == latest._last))
        person = at.group_by(_pid=at._pid).agg(group=at[f"{who}_residence"].cast("string").max())
        per_area = person.group_by("group").agg(people=person.count())
        if pops is not None:
            j = per_area.inner_join(pops, per_area.group == pops.group)
            out[f"{who}s_by_residence"] = j.select(area=j.group, people=j.people, population=j.population,
                                                   rate_per_100000=j.people / j.population * 100000
                                                   ).order_by("area")
            residents = person.filter(person.group.isin(pops.group))
            out[f"{who}_residents"] = residents.agg(people=residents.count(),
                                                    population=pops.population.sum().as_scalar())
        else:
            out[f"{who}s_by_residence"] = per_area.rename(area="group").order_by("area")
    return out


def health_profile_expressions(monitoring: Monitoring, windows: dict) -> dict:
    """Profiles of the ambulance, A&E and hospital admission sources: {source id: {part: expression}}."""
    bands = monitoring.settings.age_bands
    out = {}
    for sid, (start, stop) in windows.items():
        src = monitoring.sources[sid]
        t = source_table(src)
        t = t.filter(t[src.date_column] >= start, t[src.date_column] < stop)
        parts = {"total": t.agg(n=t.count())}
        if src.kind == "ambulance" and _has(src, "category"):
            parts["by_category"] = _counts(t, t.category.cast("string").fill_null("unknown"), "category")
        if _has(src, "cause_code"):
            code = t.cause_code.upper()
            cause = ibis.cases(*[(code.startswith(c), label) for c, label in ICD10_ASSAULT], else_="other assault")
            parts["by_cause"] = _counts(t, cause, "cause")
            # for sharp-object assaults, where: the fourth character is the place of occurrence (X99.4, X994)
            sharp = t.filter(code.startswith("X99"))
            fourth = sharp.cause_code.upper().replace(".", "").substr(3, 1)
            parts["sharp_by_place"] = _counts(sharp, ibis.cases(
                *[(fourth == k, v) for k, v in ICD10_PLACE.items()], else_="not recorded"), "place")
        if _has(src, "weapon"):
            parts["by_weapon"] = _counts(t, t.weapon.cast("string").nullif("").fill_null("not recorded"), "weapon")
        if _has(src, "location_type"):
            parts["by_location"] = _counts(t, t.location_type.cast("string").nullif("").fill_null("not recorded"),
                                           "location")
        if src.columns[src.date_column].type.value == "datetime":
            parts["by_hour"] = t.group_by(hour=t[src.date_column].hour()).agg(n=t.count()).order_by("hour")
        if "age" in src.breakdowns:
            parts["by_age"] = t.group_by(age_band=age_band(t[src.breakdowns["age"]], bands)).agg(n=t.count()
                                                                                              ).order_by("age_band")
        if "sex" in src.breakdowns:
            parts["by_sex"] = _counts(t, t[src.breakdowns["sex"]].cast("string").fill_null("unknown"), "sex", "sex")
        if "area" in src.breakdowns:
            parts["by_area"] = _counts(t, t[src.breakdowns["area"]].cast("string").fill_null("unknown"), "area", "area")
        out[sid] = parts
    return out


def _window(store, monitoring: Monitoring, months: int | None):
    """The police window (start, stop, previous) with the offence keys in the store; None without data."""
    src = monitoring.sources.get(monitoring.settings.police_source)
    if src is None or monitoring.mapping is None or not store.has_table(src.table):
        return None
    from evalkit.monitor.indicators import refresh_mapping

    refresh_mapping(store, monitoring.mapping, monitoring.measures)
    return _loaded_window(store, src, months)


def unmapped_offences(store, monitoring: Monitoring, months: int | None = None) -> pd.DataFrame:
    """Offence types the definition lists nowhere (offence_type, n); empty without police data."""
    window = _window(store, monitoring, months)
    if window is None:
        return pd.DataFrame(columns=["offence_type", "n"])
    start, stop, _prev = window
    return store.ibis().execute(police_profile_expressions(monitoring, start.to_pydatetime(), stop.to_pydatetime(),
                                                           with_population=False)["unmapped"])


def _execute_each(backend, exprs: dict) -> dict:
    """``{name: backend.execute(expr)}``, in order; on DuckDB each one's SQL compiled on both cores first.

    For these small aggregates compiling the Ibis expression (pure Python) costs more than DuckDB
    takes to run it: fork_map's helper compiles every other one (the same SQL text as here), then
    each is executed here as ``backend.execute`` would, with its SQL already made.
    """
    from evalkit._parallel import fork_map

    if getattr(backend, "name", None) != "duckdb" or len(exprs) < 4:
        return {name: backend.execute(expr) for name, expr in exprs.items()}
    names = list(exprs)
    tables = [exprs[name].as_table() for name in names]
    made = dict(zip(map(id, tables), fork_map(backend.compile, tables, queue=True)))
    compile_sql = backend.compile

    def compiled(expr, /, *, limit=None, params=None, **kw):
        if limit is None and not params and not kw and id(expr) in made:
            return made[id(expr)]
        return compile_sql(expr, limit=limit, params=params, **kw)

    backend.compile = compiled  # this backend object, for these calls only
    try:
        return {name: backend.execute(exprs[name]) for name in names}
    finally:
        del backend.compile


def _share(num, den):
    return float(num) / float(den) if den else None


def needs_profile(store, monitoring: Monitoring, months: int | None = WINDOW_MONTHS, save: bool = False) -> dict:
    """The profile of the last ``months`` loaded months as small frames; empty dict without police data.

    ``summary`` holds the window, the counts behind every share (so that a publisher can
    suppress a share built on a small count) and the definition version. ``save``: replace the
    store's ``needs_profile`` table with it (:func:`profile_rows`), in one transaction.
    """
    window = _window(store, monitoring, months)
    frames = {}
    if window is not None:
        start, stop, previous = window
        frames = profile_between(store, monitoring, start, stop, previous)
        frames["health"] = health_profile(store, monitoring, months)
    if save:
        store.replace_rows(PROFILE_TABLE, profile_rows(frames, monitoring))
    return frames


PROFILE_TABLE = "needs_profile"
PROFILE_COLUMNS = ["source", "window_from", "window_to", "part", "position", "item", "statistic", "value", "text",
                   "sv_definition"]


def _label_column(frame: pd.DataFrame) -> str:
    """The column naming a part's groups: its first text column (``day_name``, not the ``day`` that orders it)."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    return text[0] if text else frame.columns[0]


def _frame_rows(source: str, window: tuple[str, str], part: str, frame: pd.DataFrame, sv) -> list[dict]:
    label = _label_column(frame)
    out = []
    for position, row in enumerate(frame.to_dict("records")):
        item = row[label]
        item = "not recorded" if item is None or (isinstance(item, float) and math.isnan(item)) else str(item)
        for statistic, value in row.items():
            if statistic == label:
                continue
            value = None if value is None or pd.isna(value) else float(value)
            out.append({"source": source, "window_from": window[0], "window_to": window[1], "part": part,
                        "position": position, "item": item, "statistic": statistic, "value": value, "text": None,
                        "sv_definition": sv})
    return out


def profile_rows(profile: dict, monitoring: Monitoring) -> pd.DataFrame:
    """The profile (:func:`needs_profile`) in long form, the ``needs_profile`` table's rows (PROFILE_COLUMNS).

    One row per source, part, group and statistic, in the order the dashboard publishes them;
    the summary's entries are rows of part ``summary`` (a number in ``value``, a text in ``text``)."""
    rows: list[dict] = []
    if profile:
        police = monitoring.settings.police_source
        summary = profile["summary"]
        window = (summary["from"], summary["to"])
        sv = summary.get("mapping_version")
        for position, (key, value) in enumerate(summary.items()):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            rows.append({"source": police, "window_from": window[0], "window_to": window[1], "part": "summary",
                         "position": position, "item": key, "statistic": "value",
                         "value": float(value) if number else None,
                         "text": None if number or value is None else str(value), "sv_definition": sv})
        for part, frame in profile.items():
            if isinstance(frame, pd.DataFrame):
                rows += _frame_rows(police, window, part, frame, sv)
        for sid, health in (profile.get("health") or {}).items():
            window = (health["from"], health["to"])
            rows.append({"source": sid, "window_from": window[0], "window_to": window[1], "part": "summary",
                         "position": 0, "item": "n", "statistic": "value", "value": float(health["n"]), "text": None,
                         "sv_definition": None})
            for part, frame in health.items():
                if isinstance(frame, pd.DataFrame):
                    rows += _frame_rows(sid, window, part, frame, None)
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    out["position"] = out["position"].astype("int32")
    out["value"] = out["value"].astype("float64")
    return out


def read_needs_profile(store) -> pd.DataFrame:
    """The store's ``needs_profile`` table in its canonical order (source, part, position, statistic)."""
    return store.con.execute(f"SELECT {', '.join(PROFILE_COLUMNS)} FROM {PROFILE_TABLE} "
                             "ORDER BY source, part, position, statistic").df()


def profile_between(store, monitoring: Monitoring, start: pd.Timestamp, stop: pd.Timestamp,
                    previous: pd.Timestamp | None = None) -> dict:
    """The police profile of ``start`` up to (not including) ``stop`` as small frames (no ``health``).

    ``previous``: the start of the comparison window (which ends at ``start``) for ``year_on_year``;
    None leaves it out. The needs assessment (:mod:`evalkit.monitor.sna`) asks for any span of
    months; :func:`needs_profile` for the last loaded ones.
    """
    from evalkit.monitor.indicators import refresh_mapping

    refresh_mapping(store, monitoring.mapping, monitoring.measures)
    backend = store.ibis()
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    exprs = police_profile_expressions(monitoring, start.to_pydatetime(), stop.to_pydatetime(),
                                       previous.to_pydatetime() if previous is not None else None,
                                       with_population=pop_src is not None and store.has_table(pop_src.table))
    frames = _execute_each(backend, exprs)
    shares = frames.pop("shares").iloc[0]
    n = int(shares["n"])
    public = int(shares["public_place"])
    summary = {
        "from": f"{start:%Y-%m}", "to": f"{(stop - pd.DateOffset(months=1)):%Y-%m}",
        "months": len(pd.date_range(start, stop, freq="MS", inclusive="left")),
        "previous_from": f"{previous:%Y-%m}" if previous is not None else None,
        "serious_violence": n, "domestic": int(shares["domestic"]), "knife": int(shares["knife"]),
        "location_known": int(shares["location_known"]), "public_place": public,
        "public_night_time_economy": int(shares["public_night_time_economy"]),
        "share_domestic": _share(shares["domestic"], n), "share_knife": _share(shares["knife"], n),
        "share_public_place": _share(public, shares["location_known"]),
        # the strategy's measure: of serious violence in public places, the share in the night-time economy
        "share_public_night_time_economy": _share(shares["public_night_time_economy"], public),
        "peak_hour": int(frames["by_hour"].sort_values(["n", "hour"]).iloc[-1]["hour"]) if n else None,
        "peak_day": str(frames["by_day"].sort_values(["n", "day"]).iloc[-1]["day_name"]) if n else None,
        "mapping_version": monitoring.mapping.version,
    }
    for who in ("victim", "suspect"):
        res = frames.pop(f"{who}_residents", None)
        if res is not None and len(res):
            people, pop = int(res["people"].iat[0]), res["population"].iat[0]
            summary[f"{who}_residents"] = people
            summary[f"{who}_resident_population"] = None if pd.isna(pop) else float(pop)
            summary[f"share_residents_{who}"] = None if pd.isna(pop) or not pop else people / float(pop)
    frames["summary"] = summary
    return frames


def health_profile(store, monitoring: Monitoring, months: int | None = WINDOW_MONTHS, between=None) -> dict:
    """{source id: {"label", "from", "to", part: frame}} for the ambulance and health sources with data.

    Each source's last ``months`` loaded months, or with ``between=(start, stop)`` those months
    (cut to the months the source has loaded; a source with none of them is left out).
    """
    windows = {}
    for sid, src in monitoring.sources.items():
        if src.kind not in ("ambulance", "health") or not store.has_table(src.table):
            continue
        w = _loaded_window(store, src, None if between is not None else months)
        if w is None:
            continue
        a, b = w[0], w[1]
        if between is not None:
            a, b = max(a, pd.Timestamp(between[0])), min(b, pd.Timestamp(between[1]))
            if a >= b:
                continue
        windows[sid] = (a, b)
    exprs = health_profile_expressions(monitoring, {k: (a.to_pydatetime(), b.to_pydatetime())
                                                    for k, (a, b) in windows.items()})
    backend = store.ibis()
    out = {}
    for sid, parts in exprs.items():
        start, stop = windows[sid]
        frames = _execute_each(backend, parts)
        total = int(frames.pop("total")["n"].iat[0])
        out[sid] = {"label": monitoring.sources[sid].label, "from": f"{start:%Y-%m}",
                    "to": f"{(stop - pd.DateOffset(months=1)):%Y-%m}", "n": total, **frames}
    return out
