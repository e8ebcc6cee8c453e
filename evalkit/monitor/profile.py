"""The needs-assessment profile of serious violence, as in the strategy's needs assessment.

Peak hours, day of week, share domestic, share in the night-time economy, share with a knife,
rates by area, ages of victims and suspects, and the offence types the mapping does not know.
Ibis expressions on the classified police records, like the indicators.
"""

from __future__ import annotations

import ibis
import pandas as pd

from evalkit.monitor.config import Monitoring
from evalkit.monitor.indicators import age_band, classify_police, populations, source_table


def _last_months(store, src, months: int | None):
    row = store.con.execute("SELECT min(period_start), max(period_end) FROM extracts WHERE source = ? "
                            "AND status = 'active'", [src.id]).fetchone()
    if row[1] is None:
        return None, None
    end = pd.Timestamp(row[1])
    start = pd.Timestamp(row[0]) if months is None else max(pd.Timestamp(row[0]), end - pd.DateOffset(months=months - 1))
    return start, end + pd.DateOffset(months=1)


def profile_expressions(monitoring: Monitoring, start, stop) -> dict:
    """Each part of the profile as an unbound Ibis expression (compiles for any engine)."""
    src = monitoring.sources[monitoring.settings.police_source]
    police = classify_police(source_table(src), monitoring.mapping, src)
    when = police[src.date_column]
    window = police.filter(when >= start, when < stop)
    sv = window.filter(window.serious_violence)
    bands = monitoring.settings.age_bands
    out = {
        "by_hour": sv.group_by(hour=sv[src.date_column].hour()).agg(n=sv.count()).order_by("hour"),
        "by_day": sv.group_by(day=sv[src.date_column].day_of_week.index(),
                              day_name=sv[src.date_column].day_of_week.full_name()).agg(n=sv.count()).order_by("day"),
        # booleans summed as such: PostgreSQL has no cast from boolean to bigint
        "shares": sv.agg(n=sv.count(), domestic=sv.domestic.sum(), night_time_economy=sv.night_time_economy.sum(),
                         knife=sv.knife.sum()),
        "by_category": sv.group_by("sv_category").agg(n=sv.count()).order_by(ibis.desc("n")),
        "victim_ages": sv.group_by(age_band=age_band(sv.victim_age, bands)).agg(n=sv.count()).order_by("age_band"),
        "suspect_ages": sv.group_by(age_band=age_band(sv.suspect_age, bands)).agg(n=sv.count()).order_by("age_band"),
        "unmapped": (un := window.filter(~window.mapped)).group_by(offence_type=un[monitoring.mapping.offence_column])
        .agg(n=un.count()).order_by(ibis.desc("n"), "offence_type"),
    }
    by_area = sv.group_by(group=sv[src.breakdowns["area"]]).agg(n=sv.count())
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    if pop_src is not None and "area" in pop_src.breakdowns:
        pops = populations(pop_src, "area")
        latest = pops.filter(pops.year == pops.year.max())
        j = by_area.left_join(latest, by_area.group == latest.group)
        by_area = j.select(area=j.group, n=j.n, population=j.population,
                           rate_per_100000=j.n / j.population * 100000).order_by(ibis.desc("rate_per_100000"))
    else:
        by_area = by_area.rename(area="group")
    out["by_area"] = by_area
    return out


def _window(store, monitoring: Monitoring, months: int | None):
    """(start, stop) of the last ``months`` loaded months of police data, the mapping in the store; None without."""
    src = monitoring.sources.get(monitoring.settings.police_source)
    if src is None or monitoring.mapping is None or not store.has_table(src.table):
        return None
    from evalkit.monitor.indicators import refresh_mapping

    refresh_mapping(store, monitoring.mapping)
    start, stop = _last_months(store, src, months)
    return None if start is None else (start, stop)


def unmapped_offences(store, monitoring: Monitoring, months: int | None = None) -> pd.DataFrame:
    """The profile's ``unmapped`` frame alone (offence_type, n); empty without police data."""
    window = _window(store, monitoring, months)
    if window is None:
        return pd.DataFrame(columns=["offence_type", "n"])
    start, stop = window
    return store.ibis().execute(profile_expressions(monitoring, start.to_pydatetime(), stop.to_pydatetime())["unmapped"])


def needs_profile(store, monitoring: Monitoring, months: int | None = 12) -> dict:
    """The profile of the last ``months`` loaded months as small frames; empty dict without police data."""
    window = _window(store, monitoring, months)
    if window is None:
        return {}
    return profile_between(store, monitoring, *window)


def profile_between(store, monitoring: Monitoring, start: pd.Timestamp, stop: pd.Timestamp) -> dict:
    """The profile of police records from ``start`` up to (not including) ``stop``, as small frames."""
    from evalkit.monitor.indicators import refresh_mapping

    refresh_mapping(store, monitoring.mapping)
    backend = store.ibis()
    frames = {name: backend.execute(expr) for name, expr in
              profile_expressions(monitoring, start.to_pydatetime(), stop.to_pydatetime()).items()}
    shares = frames.pop("shares").iloc[0]
    n = int(shares["n"])
    frames["summary"] = {
        "from": f"{start:%Y-%m}", "to": f"{(stop - pd.DateOffset(months=1)):%Y-%m}", "months": len(pd.date_range(start, stop, freq="MS", inclusive="left")),
        "serious_violence": n,
        "share_domestic": float(shares["domestic"]) / n if n else None,
        "share_night_time_economy": float(shares["night_time_economy"]) / n if n else None,
        "share_knife": float(shares["knife"]) / n if n else None,
        "peak_hour": int(frames["by_hour"].sort_values("n").iloc[-1]["hour"]) if n else None,
        "peak_day": str(frames["by_day"].sort_values("n").iloc[-1]["day_name"]) if n else None,
        "mapping_version": monitoring.mapping.version,
    }
    return frames
