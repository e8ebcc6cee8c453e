"""The strategic needs assessment (Serious Violence Duty): ``evalkit monitor sna --from YYYY-MM --to YYYY-MM``.

One page, published through :mod:`evalkit.publish` (every count a cell of one ledger, the
links declared, the page scanned before it is moved into place), with the profile a Serious
Violence Duty needs assessment reports, for the months asked:

- volumes by category of the local serious violence definition, beside the same months a year
  before, and the monthly trend;
- rates by area (the community safety partnership areas: the localities of the example);
- peak hours and days; the shares domestic, in the night-time economy, with a knife, and of
  sexual offences;
- victims' and suspects' ages and sex; prevalence per 1,000 residents; residents who were a
  victim or a suspect, by area of residence (distinct pseudonymised people);
- the hospital and ambulance picture: A&E attendances, ambulance call-outs by category,
  hospital admissions by cause (ICD-10) and sharp-object assaults by place of occurrence.

The profile is :func:`evalkit.monitor.profile.profile_between` and
:func:`~evalkit.monitor.profile.health_profile` for the months asked (the dashboard's needs
profile, on another window), published by the dashboard's own ``_profile_model``. Every group
adds up to its total in the ledger (a group left out is a latent rest), so a small group cannot
be worked out from the others. An annual refresh is the same command with the next twelve
months. Areas of residence need the police source's ``victim_id``/``victim_residence`` (and
``suspect_*``) columns; without them the page says they are not reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from evalkit.errors import DataError, OptionError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(option: str, text: str) -> pd.Timestamp:
    if not isinstance(text, str) or not MONTH.match(text):
        raise OptionError(f"{option}: {text!r} is not a month; expected YYYY-MM, e.g. 2023-04")
    return pd.Timestamp(text + "-01")


def window(store, monitoring, start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first day, day after the last month) of ``--from``/``--to``, checked against the police data."""
    first, last = _month("--from", start), _month("--to", end)
    if first > last:
        raise OptionError(f"--from {start} is after --to {end}; expected --from no later than --to")
    src = monitoring.sources.get(monitoring.settings.police_source)
    if src is None or monitoring.mapping is None:
        raise DataError(f"monitoring/: no police source with a serious violence mapping (police_source: "
                        f"{monitoring.settings.police_source}); expected one, the needs assessment profiles it")
    row = store.con.execute("SELECT min(period_start), max(period_end) FROM extracts WHERE source = ? "
                            "AND status = 'active'", [src.id]).fetchone() if store.has_table("extracts") else (None, None)
    if row[1] is None:
        raise DataError(f"{src.id}: no police data ingested; expected extracts covering {start} to {end} "
                        f"(evalkit monitor ingest {src.id} FILE)")
    have_first, have_last = pd.Timestamp(row[0]).replace(day=1), pd.Timestamp(row[1]).replace(day=1)
    if first < have_first or last > have_last:
        raise DataError(f"--from {start} --to {end}: outside the police data ({have_first:%Y-%m} to "
                        f"{have_last:%Y-%m}); expected months within it")
    return first, last + pd.DateOffset(months=1)


def _frames(store, monitoring, start, stop) -> dict:
    """The parts of the assessment the dashboard's profile does not have, as small frames."""
    from evalkit.monitor.indicators import classify_police, populations, source_table

    backend = store.ibis()
    src = monitoring.sources[monitoring.settings.police_source]
    police = classify_police(source_table(src), monitoring.mapping, src, monitoring.measures)
    out = {}

    def sv_between(a, b):
        w = police.filter(police[src.date_column] >= a, police[src.date_column] < b)
        return w.filter(w.serious_violence)

    sv = sv_between(start, stop)
    year_before = (start - pd.DateOffset(years=1), stop - pd.DateOffset(years=1))
    prior = sv_between(*year_before)
    out["by_category_before"] = backend.execute(prior.group_by("sv_category").agg(n=prior.count()))
    out["before_total"] = int(backend.execute(prior.count()))
    month = sv[src.date_column].truncate("M")
    out["monthly"] = backend.execute(sv.group_by(month=month).agg(n=sv.count()).order_by("month"))
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    out["population"] = None
    if pop_src is not None:
        pops = populations(pop_src, "all")
        year = min(stop.year - (1 if stop.month == 1 else 0), int(backend.execute(pops.year.max())))
        out["population"] = float(backend.execute(pops.filter(pops.year == year).population.sum()))
        out["population_year"] = year
    return out


def sna_publication(store, monitoring, project, start: str, end: str, out_dir: Path, *, policy=None):
    """The needs assessment as a publication (not yet published) and its page path."""
    from evalkit.monitor import charts
    from evalkit.monitor.dashboard import _profile_model, _same_fact, monitoring_publication, police_fact
    from evalkit.monitor.profile import health_profile, profile_between
    from evalkit.publish.document import Col, Tile, Tiles
    from evalkit.publish.policy import project_policy
    from evalkit.publish.values import Change, Fixed, Rate, Share, phrase

    first, stop = window(store, monitoring, start, end)
    policy = policy or project_policy(project.root)
    frames = _frames(store, monitoring, first, stop)
    profile = profile_between(store, monitoring, first, stop)
    profile["health"] = health_profile(store, monitoring, between=(first, stop))
    path = f"sna-{start}-to-{end}"
    pub = monitoring_publication(policy, project.root, out_dir, path)
    page = pub.page(path, f"Strategic needs assessment: serious violence, {start} to {end}",
                    subtitle="Serious Violence Duty: the partnership's data, disclosure-controlled",
                    source="the monitoring store")
    ledger = page.ledger
    model = {"profile": _profile_model(page, profile)}
    prof = model["profile"]
    total = prof["total"]
    s = prof["summary"]

    page.heading("About this assessment")
    page.para(phrase("Police-recorded serious violence from {a} to {b}, by the local definition {v}: {d}",
                     a=Fixed(start), b=Fixed(end), v=Fixed(monitoring.mapping.version),
                     d=Fixed(" ".join(monitoring.mapping.definition.split()))))
    page.note(phrase("Counts from 1 to {k} are not shown, nor any group that would let one be worked out from its "
                     "total; percentages and rates of them are withheld with them.", k=Fixed(policy.threshold - 1)))

    # ---- volumes and trend by category
    page.heading("Volumes and trend by category")
    before = dict(zip(frames["by_category_before"]["sv_category"].astype(str), frames["by_category_before"]["n"]))
    # the year before's total and categories are facts the dashboard may show too (its year on year, the
    # local-definition measure's year): one cell each across the two publications
    year_before = (f"{first - pd.DateOffset(years=1):%Y-%m}", f"{stop - pd.DateOffset(years=1, months=1):%Y-%m}")
    prior_total = _same_fact(page, ("police local serious violence", *year_before), frames["before_total"],
                             role="headline", label="serious violence, year before")
    rows, prior_cells = [], []
    for label, cell, _rate in prof["by_category"]:
        prev = _same_fact(page, police_fact("by_category", label, year_before), int(before.get(label, 0)),
                          role="detail", label=f"category {label} year before")
        prior_cells.append(prev)
        change = Change(cell, prev, digits=1) if prev.value else Fixed("-")
        rows.append([Col(label.replace("_", " ")), Col(cell, "offences", numeric=True),
                     Col(prev, "year before", numeric=True), Col(change, "change", numeric=True)])
    rest = prior_total.value - sum(c.value for c in prior_cells)
    extra = [page.count(rest, role="detail", label="categories year before not listed", latent=True)] if rest else []
    ledger.sum(prior_total, prior_cells + extra)
    rows.append([Col("all serious violence"), Col(total, "offences", numeric=True),
                 Col(prior_total, "year before", numeric=True),
                 Col(Change(total, prior_total, digits=1) if prior_total.value else Fixed("-"), "change",
                     numeric=True)])
    page.table(["category", f"{start} to {end}", "the same months a year before", "change"], rows,
               table_id="ek-sna-categories")
    monthly = [_same_fact(page, ("police local serious violence", f"{m:%Y-%m}", f"{m:%Y-%m}"), int(n), role="normal",
                          label=f"serious violence {m:%Y-%m}")
               for m, n in zip(pd.to_datetime(frames["monthly"]["month"]), frames["monthly"]["n"])]
    ledger.sum(total, monthly)
    page.figure(charts.BarSpec("Serious violence by month", [f"{m:%Y-%m}" for m in
                                                             pd.to_datetime(frames["monthly"]["month"])], monthly,
                               axis_title="offences"))

    # ---- shares, prevalence
    page.heading("Who, where and when")
    sexual = next((c for label, c, _r in prof["by_category"] if label == "sexual_offences"), None)
    pop = frames["population"]
    prevalence = Rate(total, total.value / pop * 1000 if pop else None, lambda v: f"{v:.1f}") if pop else Fixed("-")
    page.add(Tiles([Tile(Share(sexual, total, digits=0) if sexual is not None else Fixed("-"),
                         above=["Sexual offences"], colour="#37474f"),
                    Tile(prevalence, above=["Per 1,000 residents",
                                            f"mid-{frames.get('population_year', '')} population"], colour="#37474f")]))
    charts.profile(page, model, health=False)
    src = monitoring.sources[monitoring.settings.police_source]
    missing = [who for who in ("victim", "suspect") if f"{who}s_by_residence" not in profile]
    if missing:
        page.note(phrase("Areas of residence of {w}: not reported; the police source ({s}) has no {c} columns.",
                         w=Fixed(" and ".join(f"{w}s" for w in missing)), s=Fixed(src.id),
                         c=Fixed(", ".join(f"{w}_id and {w}_residence" for w in missing))))

    # ---- hospital and ambulance
    page.heading("The hospital and ambulance picture")
    if prof.get("health"):
        charts.health_picture(page, prof)
    else:
        page.note("No ambulance, A&E or hospital admission data in these months.")
    return pub, path


def write_sna(store, monitoring, project, start: str, end: str, out_dir: Path | str, *, render: bool = True) -> dict:
    from evalkit.errors import EvalkitError

    out_dir = Path(out_dir)
    pub, path = sna_publication(store, monitoring, project, start, end, out_dir)
    published = pub.publish(render=True, commit_rendered=render, log=lambda *_: None)
    if published.failed:
        raise EvalkitError("the needs assessment was not published (the previous one, if any, is unchanged): "
                           + "; ".join(published.failed.values()))
    return published.pages[path]
