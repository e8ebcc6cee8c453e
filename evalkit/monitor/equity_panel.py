"""The dashboard's equity page: who is referred, engaged and completes, against who lives here.

For each programme indicator counting referrals (a programme source with an ``engaged`` column,
indicators.yml with no engagement filter), over the same last 12 months as the dashboard's
breakdowns, and for each demographic column the referral source declares (``breakdowns:`` in its
source file: area, age, sex and any other, such as ethnicity):

- referrals per 1,000 residents of the programme's eligible ages (the logic model's
  ``population.age``; age bands that overlap it), with the relative rate index (RRI) against the
  largest group and its 95% interval (:func:`evalkit.monitor.equity.relative_rate_index`; referrals
  are events, so the ratio of Poisson rates);
- engagement among those referred, completion among those engaged (a completed exit recorded for
  the referral by the store's latest data) and, where the exits record it, the outcome at exit
  (``in_ete``) among completers: each a share of the stage before, with its RRI (Katz log method),
  the OJJDP's stage-by-stage method, so a disparity is seen where it enters;
- reach: those engaged as a share of the eligible residents.

A demographic column the population source does not hold (ethnicity, say) gets the stage shares and
their RRIs, not the rates against residents.

Disclosure control: the referrals of each group are the dashboard breakdown's own cells (one fact,
not two); each later stage's groups add up to its total (with a latent rest for groups not
recorded); a percentage is a share of its two counts, a rate per resident reveals its count, and an
RRI is hidden with either rate it divides (an RRI and a population give the count away).
"""

from __future__ import annotations

import math

import pandas as pd

MONTHS = 12
PER = 1000


def _programme_plans(monitoring, project):
    from evalkit.monitor.indicators import plans

    out = []
    for plan in plans(monitoring, project):
        src, d = plan.source, plan.definition
        if (plan.measure == "count" and "engaged" in src.columns and "engaged" not in (d.where or {})
                and "referral_id" in src.columns):
            out.append(plan)
    return out


def _exits_source(monitoring, referrals):
    for src in monitoring.sources.values():
        if src is not referrals and "exit_reason" in src.columns and "referral_id" in src.columns:
            return src
    return None


def equity_model(page, store, monitoring, project, model: dict) -> dict:
    """The equity page's typed model (counts are cells of ``page``'s ledger); {} when there are no data."""
    from evalkit.monitor.indicators import _missing_tables

    out = {}
    pop_src = monitoring.sources.get(monitoring.settings.population_source)
    have_pop = pop_src is not None and not _missing_tables(store, [pop_src.table])
    for plan in _programme_plans(monitoring, project):
        key = f"{plan.definition.intervention}/{plan.definition.indicator}"
        entry = model["breakdowns"].get(key)
        if not entry or _missing_tables(store, [plan.source.table]):
            continue
        exits = _exits_source(monitoring, plan.source)
        if exits is not None and _missing_tables(store, [exits.table]):
            exits = None
        rows = _rows(store, monitoring, plan, entry, exits)
        lm = project.interventions[plan.definition.intervention]
        ages = getattr(lm, "age", None)  # the logic model's population.age, e.g. (10, 17)
        tables = []
        for breakdown in _breakdowns(plan.source):
            if breakdown in entry.get("not_shown", ()):
                continue
            pop = _population(store, pop_src, breakdown, ages, monitoring) if have_pop else None
            t = _table(page, rows, breakdown, entry.get(breakdown) or [], pop, key)
            if t is not None:
                tables.append(t)
        if tables:
            out[key] = {"label": plan.indicator.label, "programme": plan.intervention_name, "from": entry["from"],
                        "to": entry["to"], "ages": list(ages) if ages else None, "tables": tables}
    return out


def _breakdowns(src) -> list[str]:
    names = []
    for b in src.breakdowns:
        names.append("age_band" if b == "age" else b)
    return names


def _rows(store, monitoring, plan, entry, exits) -> pd.DataFrame:
    """The referrals of the window (person-level, in memory only) with their stage flags."""
    import ibis

    from evalkit.monitor.indicators import PERIOD_UNITS, age_band, filtered, rows_of

    src, d = plan.source, plan.definition
    backend = store.ibis()
    t = filtered(rows_of(src, monitoring), d.where)
    period = t[d.date].truncate(PERIOD_UNITS[monitoring.settings.period]).cast("date")
    t = t.mutate(period=period)
    lo, hi = pd.Timestamp(entry["from"]).date(), pd.Timestamp(entry["to"]).date()
    t = t.filter((t.period >= ibis.literal(lo)) & (t.period <= ibis.literal(hi)))
    cols = {"referral_id": t["referral_id"], "engaged": t["engaged"].fill_null(False)}
    for b, col in src.breakdowns.items():
        if b == "age":
            cols["age_band"] = age_band(t[col], monitoring.settings.age_bands)
        else:
            cols[b] = t[col].cast("string").fill_null("unknown")
    frame = backend.execute(t.select(**cols))
    frame["stage_source"] = "referrals"
    if exits is None:
        return frame
    # exits in the same window (the demo's and many case systems' exits carry their own ids, so
    # completion is the share of those who left in the window who completed, as the dashboard's
    # completion indicator counts it)
    e = filtered(rows_of(exits, monitoring), {k: v for k, v in (d.where or {}).items() if k in exits.columns})
    date = exits.date_column
    e = e.mutate(period=e[date].truncate(PERIOD_UNITS[monitoring.settings.period]).cast("date"))
    e = e.filter((e.period >= ibis.literal(lo)) & (e.period <= ibis.literal(hi)))
    ecols = {"referral_id": e["referral_id"], "completed": e["exit_reason"].cast("string") == "completed"}
    ecols["improved"] = e["in_ete"] if "in_ete" in exits.columns else ibis.null("boolean")
    for b, col in exits.breakdowns.items():
        if b == "age":
            ecols["age_band"] = age_band(e[col], monitoring.settings.age_bands)
        else:
            ecols[b] = e[col].cast("string").fill_null("unknown")
    ex = backend.execute(e.select(**ecols))
    ex["stage_source"] = "exits"
    return pd.concat([frame, ex], ignore_index=True)


def _population(store, pop_src, breakdown, ages, monitoring) -> dict | None:
    """Residents of the eligible ages in the latest year, by group (None when the source lacks the column)."""
    from evalkit.monitor.indicators import declares, source_table

    if breakdown != "age_band" and not declares(pop_src, breakdown):
        return None
    if breakdown == "age_band" and not declares(pop_src, "age"):
        return None
    p = source_table(pop_src)
    year = p[pop_src.date_column]
    age_col = pop_src.breakdowns.get("age")
    group = p[age_col if breakdown == "age_band" else pop_src.breakdowns[breakdown]].cast("string")
    cols = {"year": year, "group": group, "population": p.population}
    if age_col:
        cols["band"] = p[age_col].cast("string")
    frame = store.ibis().execute(p.select(**cols))
    if frame.empty:
        return None
    frame["year"] = pd.to_numeric(frame["year"].astype(str).str[:4], errors="coerce")
    frame = frame[frame["year"] == frame["year"].max()]
    if ages and "band" in frame:
        frame = frame[frame["band"].map(lambda b: _overlaps(b, ages))]
    return frame.groupby("group")["population"].sum().astype(float).to_dict()


def _overlaps(band: str, ages) -> bool:
    lo_age, hi_age = int(ages[0]), int(ages[-1])
    text = str(band)
    try:
        if text.endswith("+"):
            lo, hi = int(text[:-1]), 200
        else:
            lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        return False
    return lo <= hi_age and hi >= lo_age


def _table(page, rows: pd.DataFrame, breakdown: str, groups_shown: list, pop: dict | None, key: str) -> dict | None:
    from evalkit.monitor import equity as eq
    from evalkit.publish.values import Rate, Share

    if breakdown not in rows.columns or rows.empty:
        return None
    led = page.ledger
    refs = rows[rows["stage_source"] == "referrals"]
    exs = rows[(rows["stage_source"] == "exits") & rows[breakdown].notna()] if "stage_source" in rows else rows.iloc[:0]
    by = refs.groupby(breakdown, sort=True).agg(referred=("referral_id", "size"),
                                               engaged=("engaged", lambda s: int(s.astype(bool).sum())))
    if "completed" not in exs.columns:  # no exits source (e.g. the starter project's referrals alone): no exit stages
        exs = exs.assign(completed=pd.Series(dtype="boolean"), improved=pd.Series(dtype="boolean"))
    flags = exs.assign(completed=exs["completed"].astype("boolean").fillna(False).astype(bool))
    with_outcome = bool(flags.loc[flags["completed"], "improved"].notna().any()) if len(flags) else False
    ex = flags.groupby(breakdown, sort=True).agg(
        exited=("referral_id", "size"), completed=("completed", "sum"),
        improved=("improved", lambda s: int(pd.to_numeric(s, errors="coerce").fillna(0).astype(bool).sum())))
    # the outcome at exit among completers only
    imp = flags[flags["completed"]].groupby(breakdown)["improved"].agg(
        lambda s: int(pd.to_numeric(s, errors="coerce").fillna(0).astype(bool).sum()))
    by = by.join(ex[["exited", "completed"]], how="outer").fillna(0).astype(int)
    by["improved"] = [int(imp.get(g, 0)) for g in by.index]
    referred_cells = {g["group"]: g["count"] for g in groups_shown}
    known = [g for g in by.index if not eq._is_unknown(str(g)) and int(by.loc[g, "referred"]) > 0]
    if len(known) < 2:
        return None  # one group referred (a programme for one age band, say): nothing to compare
    cells: dict[tuple[str, str], object] = {}
    for g in by.index:
        c = referred_cells.get(str(g))
        if c is None or c.value != int(by.loc[g, "referred"]):
            # the breakdown shows no cell for it (or counts otherwise): this panel's own cell
            c = page.count(int(by.loc[g, "referred"]), role="detail", label=f"equity {key} {breakdown} {g} referred")
        cells[(str(g), "referred")] = c
    stages = ["engaged"] + (["exited", "completed"] if len(flags) else []) + (["improved"] if with_outcome else [])
    totals = {}
    for stage in stages:
        parts = []
        for g in by.index:
            v = int(by.loc[g, stage])
            c = page.count(v, role="detail", label=f"equity {key} {breakdown} {g} {stage}")
            cells[(str(g), stage)] = c
            parts.append(c)
        total = page.count(sum(p.value for p in parts), role="normal", label=f"equity {key} {stage} all",
                           latent=True)
        led.sum(total, parts)
        totals[stage] = total
    # those lost between a stage and the one it feeds are counts too (latent): 29 referred and 26
    # engaged give away 3 not engaged, so the audit must know the difference
    feeds = {"engaged": "referred", "completed": "exited", "improved": "completed"}
    for stage in stages:
        prev = feeds.get(stage)
        if prev is None or prev not in stages + ["referred"]:
            continue
        for g in by.index:
            whole, part = cells[(str(g), prev)], cells[(str(g), stage)]
            if whole.value >= part.value:
                lost = page.count(whole.value - part.value, role="detail", latent=True,
                                  label=f"equity {key} {breakdown} {g} {prev} not {stage}")
                led.sum(whole, [part, lost])
    # the RRIs, from the counts (computed on every group; the page shows what disclosure allows)
    counts = by.reset_index().rename(columns={breakdown: "group"})
    counts["group"] = counts["group"].astype(str)
    ref = max(known, key=lambda g: (int(by.loc[g, "referred"]), str(g)))
    k = led.policy.threshold
    rounding = led.policy.kind.value == "round"
    out_rows = []
    rri = {}
    if pop is not None:
        missing = [g for g in known if str(g) not in pop or pop[str(g)] <= 0]
        if not missing:
            den = pd.DataFrame({"group": list(pop), "population": list(pop.values())})
            known_counts = counts[counts["group"].isin([str(g) for g in known])]
            rri["referred"] = eq.relative_rate_index(known_counts, den, "group", count="referred", reference=str(ref),
                                                     counted="events", per=PER, stage="referrals",
                                                     min_count=k)
            rri["reach"] = eq.relative_rate_index(known_counts, den, "group", count="engaged", reference=str(ref),
                                                  counted="people", per=100, stage="engaged", min_count=k)
        else:
            pop = None
    before = {"engaged": "referred", "completed": "exited", "improved": "completed"}
    for stage in [s for s in stages if s in before]:
        prev = before[stage]
        ok = counts[prev] > 0
        try:
            rri[stage] = eq.relative_rate_index(counts[ok], counts[ok], "group", count=stage, denominator=prev,
                                                reference=str(ref), counted="people", per=100, stage=stage,
                                                denominator_name=prev, min_count=k)
        except Exception:  # noqa: BLE001 - a stage no group reaches has no index, the counts are still shown
            rri[stage] = None
    for g in by.index:
        g = str(g)
        row = {"group": g, "reference": g == str(ref), "unknown": eq._is_unknown(g)}
        ref_cells = {s: cells[(str(ref), s)] for s in ("referred", *stages)}
        row["referred"] = cells[(g, "referred")]
        if pop is not None and g in pop and g in [str(x) for x in known]:
            row["residents"] = pop[g]
            r = _group_row(rri.get("referred"), g)
            row["rate"] = Rate(cells[(g, "referred")], PER * cells[(g, "referred")].value / pop[g],
                               lambda v: f"{v:.2f}")
            ref_rate = Rate(ref_cells["referred"], PER * ref_cells["referred"].value / pop[str(ref)])
            row["rri_referred"] = _rri_value(r, [row["rate"], ref_rate], rounding)
            reach_r = _group_row(rri.get("reach"), g)
            row["reach"] = Rate(cells[(g, "engaged")], 100 * cells[(g, "engaged")].value / pop[g],
                                lambda v: f"{v:.2f}%")
            ref_reach = Rate(ref_cells["engaged"], 100 * ref_cells["engaged"].value / pop[str(ref)])
            row["rri_reach"] = _rri_value(reach_r, [row["reach"], ref_reach], rounding)
        for stage in stages:
            row[stage] = cells[(g, stage)]
            prev = before.get(stage)
            if prev is not None and cells[(g, prev)].value > 0:
                row[f"{stage}_share"] = Share(cells[(g, stage)], cells[(g, prev)])
                ref_share = Share(ref_cells[stage], ref_cells[prev]) if ref_cells[prev].value > 0 else None
                row[f"rri_{stage}"] = _rri_value(_group_row(rri.get(stage), g), [row[f"{stage}_share"], ref_share],
                                                 rounding)
        out_rows.append(row)
    rest = {"group": "all", "referred": None, **{s: totals[s] for s in stages}}
    return {"breakdown": breakdown, "reference": str(ref), "stages": stages, "before": before, "rows": out_rows, "all": rest,
            "against_residents": pop is not None,
            "methods": {s: r.method for s, r in rri.items() if r is not None}}


def _group_row(result, group: str):
    if result is None:
        return None
    return next((r for r in result.rows if r.group == group), None)


def _rri_value(r, depends, rounding: bool = False):
    """The RRI with its interval as one value, hidden with either rate it divides. ``rounding`` (the
    rounding policy): the export holds the index as printed, two decimals; to full precision a ratio of
    two shares of rounded counts can give the counts back unrounded."""
    from evalkit.publish.values import Derived

    class RRI(Derived):
        def plot_value(self):  # the export's number: the index itself
            if not isinstance(self.value, tuple):
                return None
            return round(self.value[0], 2) if rounding else self.value[0]

    if r is None or r.rri is None or any(d is None for d in depends):
        return None
    if r.is_reference:
        return Derived("reference", depends, str)
    if r.rri_low is None or not all(map(math.isfinite, (r.rri, r.rri_low, r.rri_high))):
        return None
    return RRI((r.rri, r.rri_low, r.rri_high), depends, lambda v: f"{v[0]:.2f} ({v[1]:.2f}-{v[2]:.2f})")


# ---------------------------------------------------------------------------------------- page


WORDS = {"area": "area", "age_band": "age band", "sex": "sex", "ethnicity": "ethnic group"}


def render(page, model: dict, policy) -> None:
    """The "Equity" page of the dashboard."""
    from evalkit.publish.document import Col, Markdown
    from evalkit.publish.values import Fixed, phrase

    page.add(Markdown("\n# Equity\n\n## Row\n"))
    equity = model.get("equity") or {}
    if not equity:
        page.note("No programme referrals with engagement recorded yet: no equity breakdowns.")
        return
    page.note("Who is referred, engaged and completes, against who lives here. Referrals per 1,000 residents of "
              "the programme's eligible ages (latest mid-year estimates); engagement as a share of those referred, "
              "completion as a share of those who left the programme in the same months, the outcome at exit as a "
              "share of completers: each stage against the one that feeds it, so a disparity shows where it enters "
              "(the OJJDP relative rate index method). RRI: the "
              "group's rate divided by the largest group's, with its 95% interval (referrals: ratio of Poisson "
              "rates; later stages: Katz log method). Reach: those engaged as a share of eligible residents. "
              "An interval that includes 1 is no clear difference.")
    for key, entry in equity.items():
        for t in entry["tables"]:
            by = WORDS.get(t["breakdown"], t["breakdown"].replace("_", " "))
            page.heading(f"{entry['label']} by {by}, {entry['from'][:7]} to {entry['to'][:7]}", 3)
            headers = [by]
            if t["against_residents"]:
                headers += ["eligible residents", "referred", "per 1,000 residents", "RRI referral (95% CI)"]
            else:
                headers += ["referred"]
            stage_words = {"referred": "referred", "engaged": "engaged", "exited": "left the programme", "completed": "completed",
                           "improved": "in ETE at exit"}
            for st in t["stages"]:
                headers.append(stage_words[st])
                if st in t["before"]:
                    headers += [{"referred": "% of referred", "exited": "% of leavers",
                                 "completed": "% of completers"}[t["before"][st]],
                                f"RRI {stage_words[st]} (95% CI)"]
            if t["against_residents"]:
                headers += ["reach (% of residents)", "RRI reach (95% CI)"]
            rows = []
            for r in t["rows"]:
                cols = [Col(r["group"] + (" (reference)" if r["reference"] else ""), "group")]
                if t["against_residents"]:
                    cols += [Col(Fixed(r.get("residents"), lambda v: "-" if v is None else f"{v:,.0f}"), "residents",
                                 True), Col(r["referred"], "referred", True), _cell(r.get("rate"), "rate"),
                             _cell(r.get("rri_referred"), "rri")]
                else:
                    cols += [Col(r["referred"], "referred", True)]
                for st in t["stages"]:
                    cols.append(Col(r[st], st, True))
                    if st in t["before"]:
                        cols += [_cell(r.get(f"{st}_share"), "share"), _cell(r.get(f"rri_{st}"), "rri")]
                if t["against_residents"]:
                    cols += [_cell(r.get("reach"), "reach"), _cell(r.get("rri_reach"), "rri")]
                rows.append(cols)
            page.table(headers, rows, table_id=f"ek-equity-{key.replace('/', '-')}-{t['breakdown']}")
    page.note(phrase("A group with fewer than {k}, or that would let such a group be worked out, shows [c] or "
                     "'fewer than {k}'; its rates, shares and indices are not shown (disclosure control).",
                     k=Fixed(policy.threshold)))


def _cell(value, field):
    from evalkit.publish.document import Col
    from evalkit.publish.values import Fixed

    return Col(value if value is not None else Fixed("-"), field, True)


def export(model: dict, _plain) -> dict:
    """The equity page's values for ``dashboard_data.json`` (typed, as published by ``_plain``, the
    dashboard's own writer of typed values, passed in so this module does not import the dashboard)."""
    out = {}
    for key, entry in (model.get("equity") or {}).items():
        out[key] = {k: v for k, v in entry.items() if k != "tables"}
        out[key]["tables"] = [{"breakdown": t["breakdown"], "reference": t["reference"], "stages": t["stages"],
                               "before": t["before"],
                               "against_residents": t["against_residents"], "methods": t["methods"],
                               "rows": [_plain(r) for r in t["rows"]], "all": _plain(t["all"])}
                              for t in entry["tables"]]
    return out
