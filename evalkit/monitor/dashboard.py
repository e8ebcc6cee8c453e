"""The monitoring dashboard: one publication (its pages and its data export), disclosure-controlled.

``write_dashboard`` computes the indicators, the needs-assessment profile and the status, turns
every count into a typed value of one ledger (:mod:`evalkit.publish`), declares how they are
linked, and publishes ``dashboard.qmd`` (Quarto ``format: dashboard``), ``dashboard.html`` and
``dashboard_data.json`` (only published values) after the scan. The links:

- a programme indicator's monthly counts (the trend and the latest tile);
- each breakdown's 12-month group totals add up to the sum of the last 12 monthly totals (a
  group left out is a latent rest, so the sum stays honest);
- a success measure's year-ending totals are sums of its monthly counts (differencing two
  year-ending totals gives a month minus the month a year before: the audit knows);
- the Home Office success measures (``success_measures.yml``, :mod:`evalkit.monitor.measures`):
  each year's total is the sum of its months where the months are shown, and of its areas for
  the latest year; a variant (victims aged under 25, excluding domestic abuse) and the rest
  (a latent cell) add up to all victims, year by year and area by area, so "all minus under 25"
  cannot give a small count away;
- the needs-assessment categories, hours, days, areas, sexes and ages each add up to the total
  of serious violence; the shares (domestic, knife, public place, night-time economy of the
  public-place violence) are percentages of their counts; residents who were a victim or a
  suspect add up over their areas of residence; each health source's parts add up to its total,
  and sharp-object admissions by place to the sharp-object count;
- a count that is the same fact in two places (the local-definition serious violence of the
  latest year and the profile's total; the knife share's numerator and the local knife measure;
  hospital sharp-object admissions and the knife admissions measure) is one cell;
- a proportion is a share of its numerator and denominator, a mean a statistic of its
  denominator; a rate reveals its count.

A tile or point whose value is hidden shows no RAG colour and no status word.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.monitor.config import Monitoring

DATA_JSON = "dashboard_data.json"
QMD = "dashboard.qmd"
HTML = "dashboard.html"
AREA_SMALL_SHARE = 0.4  # area series only for indicators with fewer small area-months than this share


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if math.isnan(f) else f


def _whole(v) -> int | None:
    f = _num(v)
    return None if f is None or not isinstance(f, float) else int(round(f))


def _its(values: pd.DataFrame, indicator: str, interruption) -> dict | None:
    """Segmented trend of a success measure (whole area), with the ITS estimator."""
    rows = values[(values.indicator == indicator) & (values.breakdown == "all")].sort_values("period")
    rows = rows[rows["population"].notna()]
    if interruption is None or len(rows) < 6:
        return None
    month = pd.PeriodIndex(pd.to_datetime(rows["period"]), freq="M")
    cut = pd.Period(interruption, "M")
    if not (month.min() < cut <= month.max()) or (month < cut).sum() < 3 or (month >= cut).sum() < 3:
        return None
    series = pd.DataFrame({"area": "all", "month": month, "count": rows["numerator"].to_numpy(float),
                           "population": rows["population"].to_numpy(float)})
    rate_per = float(rows["rate_per"].iat[0])
    from evalkit.estimate.its import critical_value, fit_its
    from evalkit.spec.raw import CountModel, Seasonality

    fit = fit_its(series, cut, CountModel.quasi_poisson, Seasonality.month)
    crit = critical_value(fit["info"])
    b, se = float(fit["params"]["level_change"]), float(np.sqrt(fit["cov"].loc["level_change", "level_change"]))
    s, sse = float(fit["params"]["slope_change"]), float(np.sqrt(fit["cov"].loc["slope_change", "slope_change"]))
    pop = series["population"].to_numpy()
    from evalkit.estimate.its import design_matrix

    design = design_matrix(series, cut, Seasonality.month).to_numpy(float)
    return {"_design": design,  # for its_published: never exported or drawn
            "period": [str(p) for p in rows["period"]], "interruption": str(cut.start_time.date()),
            "fitted_rate": [float(v) for v in np.asarray(fit["fitted"]) / pop * rate_per],
            "counterfactual_rate": [float(v) for v in np.asarray(fit["counterfactual"]) / pop * rate_per],
            "level_change": {"estimate": math.exp(b), "ci_low": math.exp(b - crit * se),
                             "ci_high": math.exp(b + crit * se)},
            "slope_change_per_year": {"estimate": math.exp(12 * s), "ci_low": math.exp(12 * (s - crit * sse)),
                                      "ci_high": math.exp(12 * (s + crit * sse))},
            "method": "evalkit.estimate.its: quasi-Poisson segmented regression, population offset, month-of-year terms",
            "rate_per": rate_per}


def _plan_interruption(project, intervention: str):
    for e in project.evaluations.values():
        if e.intervention.id == intervention and e.time_series is not None:
            return e.time_series.interruption
    return None


# --------------------------------------------------------------------------------------------
# the typed model of what the dashboard shows


def _rag_told(policy, n: int | None, rag: str | None, target: float | None, amber: float | None) -> str | None:
    """A count's RAG band as the page may show it. Under rounding the band of the unrounded count could say
    more than the rounded number (9 shown as 10 and red against a target of 9: exactly 8), so a band is
    shown only where every count the rounded one can be has that band."""
    from evalkit.publish.policy import PolicyKind

    if policy.kind is not PolicyKind.round or rag is None or n is None or target is None or not n:
        return rag
    amber = target if amber is None else amber
    higher = amber <= target  # the amber band lies below a target when higher is better

    def band(v: float) -> str:
        if higher:
            return "green" if v >= target else "amber" if v >= amber else "red"
        return "green" if v <= target else "amber" if v <= amber else "red"
    lo, hi = policy.interval(policy.shown(n))
    return rag if len({band(v) for v in range(int(lo), int(hi) + 1)}) == 1 else None


def _indicator_model(page, rows: pd.DataFrame, key: str, *, latent: bool = False) -> dict:
    """Typed values per period for one indicator (whole area): counts, shares or statistics.

    ``latent``: the monthly counts are declared but not shown (a success measure whose months are
    mostly under the threshold is published as year-ending totals only)."""
    from evalkit.publish.values import Fixed, Rate, Share, Stat

    out = {"period": [str(p) for p in rows["period"]], "value": [], "count": [], "rate": [],
           "rag": [r if isinstance(r, str) else None for r in rows["rag"]]}
    measure = rows["measure"].iat[0]
    if measure == "count" and "target" in rows:
        out["rag"] = [_rag_told(page.ledger.policy, _whole(n), r, _num(t), _num(a))
                      for n, r, t, a in zip(rows["numerator"], out["rag"], rows["target"],
                                            rows["amber"] if "amber" in rows else [None] * len(rows))]
    for period, r in zip(out["period"], rows.itertuples()):
        num, den = _whole(r.numerator), _whole(r.denominator)
        if measure == "count":
            if num is None:  # no data for the month: nothing to show (not a zero)
                out["count"].append(None)
                out["value"].append(Fixed(None, lambda v: "-"))
                out["rate"].append(None)
                continue
            c = page.count(num, role="normal", label=f"{key} {period[:7]}", latent=latent)
            out["count"].append(c)
            out["value"].append(Fixed(None, lambda v: "-") if latent else c)
            rate = _num(r.rate)
            out["rate"].append(Rate(c, rate) if rate is not None and not latent else None)
        elif measure == "proportion" and num is not None and den is not None:
            n = page.count(num, role="normal", label=f"{key} {period[:7]} numerator", latent=True)
            d = page.count(den, role="normal", label=f"{key} {period[:7]} denominator", latent=True)
            out["value"].append(Share(n, d, digits=0, plotted=True))
            out["count"].append(None)
            out["rate"].append(None)
        else:
            d = page.count(den, role="normal", label=f"{key} {period[:7]} people", latent=True) \
                if den is not None else None
            out["value"].append(Stat(_num(r.value), [d], lambda v: "-" if v is None else f"{v:.1f}"))
            out["count"].append(None)
            out["rate"].append(None)
    return out


FAMILY = "monitoring"


def monitoring_publication(policy, project_root: Path, out_dir: Path, page: str):
    """A publication of the monitoring family: the dashboard or a needs assessment.

    Both are public and can cover the same months, so each is solved against what the others already
    publish (one ledger across them, :class:`evalkit.publish.publication.Publication`'s ``family``):
    a category, month or share one of them hides cannot be worked out from the other's cells."""
    from evalkit.publish.publication import Publication

    out_dir = Path(out_dir)
    try:
        where = out_dir.resolve().relative_to(Path(project_root).resolve()).as_posix()
    except ValueError:
        where = out_dir.resolve().as_posix()
    return Publication(policy, project_root=project_root, out_root=out_dir, setting=f"--out {out_dir}",
                       family=FAMILY, name=f"{where}/{page}")


def dashboard_publication(store, monitoring: Monitoring, project, out_dir: Path, *, as_of=None, policy=None):
    """The dashboard as a publication (not yet published): its page, its data export, one ledger."""
    from evalkit.monitor import charts
    from evalkit.monitor.indicators import compute_indicators
    from evalkit.monitor.profile import needs_profile
    from evalkit.monitor.status import status
    from evalkit.publish.policy import project_policy

    policy = policy or project_policy(project.root)
    values = compute_indicators(store, monitoring, project)
    st = status(store, monitoring, project, as_of=as_of, values=values)
    pub = monitoring_publication(policy, project.root, out_dir, "dashboard")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True, source="the monitoring store")
    ledger = page.ledger
    model = {"as_of": st.as_of, "period_kind": monitoring.settings.period, "indicators": [], "breakdowns": {},
             "success": {}, "measures": {}, "profile": {}, "quality": {}, "mapping_version":
             monitoring.mapping.version if monitoring.mapping else None}
    overall = values[values.breakdown == "all"]
    interruption = monitoring.settings.interruption or _plan_interruption(project, monitoring.settings.success_measures)
    raw_values = {}  # unpublished values, only to check the declared SPC step changes against the data
    for (intervention, indicator), rows in overall.groupby(["intervention", "indicator"], sort=False):
        lm = project.interventions[intervention]
        ind = lm.indicators[indicator]
        rows = rows.sort_values("period")
        latest = rows.iloc[-1]
        key = f"{intervention}/{indicator}"
        success_measure = intervention == monitoring.settings.success_measures
        # months mostly under the threshold say little and, beside the year-ending totals, would
        # force most of those to be withheld too: such a success measure shows year-ending totals only
        small_months = rows["numerator"].map(policy.small).mean() if len(rows) else 0.0
        monthly_hidden = bool(success_measure and latest["measure"] == "count" and small_months >= 0.5)
        series = _indicator_model(page, rows, key, latent=monthly_hidden)
        item = {"intervention": intervention, "intervention_name": lm.name, "indicator": indicator,
                "label": ind.label, "measure": latest["measure"], "direction": ind.direction.value,
                "rate_per": ind.rate_per, "target": _num(latest["target"]), "amber": _num(latest["amber"]),
                "target_per": ind.target.per.value if ind.target is not None and ind.target.per is not None else None,
                "amber_default": ind.target is not None and ind.target.amber is None, "series": series,
                "success_measure": success_measure, "monthly_hidden": monthly_hidden}
        model["indicators"].append(item)
        raw_values[key] = [_num(v) for v in rows["value"]]
        if item["measure"] == "count":
            group_cells = _breakdown_model(page, values, intervention, indicator, series, model)
            if not success_measure:
                _area_series_model(page, values, intervention, indicator, series, model,
                                   (group_cells or {}).get("area"))
        if item["success_measure"]:
            model["success"][indicator] = {"its": _its(values, indicator, interruption),
                                           "rolling": _rolling_model(page, rows, series, key,
                                                                     annual_only=monthly_hidden)}
    from evalkit._parallel import fork_map
    from evalkit.monitor.measures import compute_success_measures, its_estimates

    measures = compute_success_measures(store, monitoring) if monitoring.measures is not None else None

    # the profile's queries (this process: the store is its) and the strategy time series' model
    # fits (pure computation on the measures read above) do not depend on each other: the fits are
    # made by fork_map's helper meanwhile, with the same answers as one after the other
    def part(name: str):
        if name == "profile":
            return needs_profile(store, monitoring, save=not getattr(store, "read_only", False))
        return its_estimates(store, monitoring, project, measures)

    names = ["profile", "its"] if measures is not None else ["profile"]
    done = dict(zip(names, fork_map(part, names)))
    if measures is not None:
        model["measures"] = _measures_model(page, measures, done["its"], monitoring)
    profile = done["profile"]
    if profile:
        model["profile"] = _profile_model(page, profile)
    model["quality"] = {"sources": [asdict(s) for s in st.sources],
                        "unmapped": [(r.offence_type, page.count(int(r.n), role="normal",
                                                                  label=f"unmapped {r.offence_type}"))
                                     for r in st.unmapped.itertuples()]}
    from evalkit.monitor import equity_panel

    model["equity"] = equity_panel.equity_model(page, store, monitoring, project, model)
    del ledger
    from evalkit.monitor.spc_dashboard import declared_step_changes

    model["spc"] = {"step_changes": declared_step_changes(monitoring, model, raw_values)}
    charts.build_page(page, model, policy)
    equity_panel.render(page, model, policy)
    from evalkit.monitor.costs import cost_panel  # issue 19: running cost per participant per month

    model["costs"] = cost_panel(page, project, model)
    pub.export(DATA_JSON, lambda: export_json(model, policy))
    return pub


def _breakdown_model(page, values, intervention, indicator, series, model, months: int = 12) -> dict | None:
    """Group totals over the last ``months`` months, linked to the monthly totals they add up to.

    Returns each breakdown's group cells with the months they cover ({breakdown: {group: cell},
    "periods": [...]}), so the area series can be linked to its area's total."""
    from evalkit.publish.values import Rate

    rows = values[(values.intervention == intervention) & (values.indicator == indicator)
                  & (values.measure == "count")]
    last = sorted(rows["period"].unique())[-months:]
    rows = rows[rows["period"].isin(last)]
    key = f"{intervention}/{indicator}"
    idx = [i for i, p in enumerate(series["period"]) if p in {str(x) for x in last}]
    monthly = [series["count"][i] for i in idx]
    if not monthly or any(m is None for m in monthly):
        return None
    total = page.count(sum(m.value for m in monthly), role="normal", label=f"{key} last {months} months",
                       latent=True)
    page.ledger.sum(total, monthly)
    n_months = rows["period"].nunique()
    rate_per = rows["rate_per"].dropna().iat[0] if rows["rate_per"].notna().any() else None
    entry = {"months": int(n_months), "from": str(min(rows["period"])), "to": str(max(rows["period"]))}
    out: dict = {"periods": [str(x) for x in last]}
    for breakdown, parts in rows[rows.breakdown != "all"].groupby("breakdown"):
        agg = parts.groupby("group").agg(n=("numerator", "sum"), population=("population", "mean")).reset_index()
        groups = []
        cells = []
        # a breakdown whose groups are mostly under the threshold is not shown (its few shown groups
        # would have to be withheld with the total they add up to)
        mostly_small = agg["n"].map(page.ledger.policy.small).mean() >= 0.5 if len(agg) else False
        for g, n, pop in zip(agg["group"], agg["n"], agg["population"]):
            c = page.count(int(n), role="detail", label=f"{key} {breakdown} {g}", latent=mostly_small)
            cells.append(c)
            rate = (n / pop * rate_per * 12 / max(n_months, 1)) if rate_per and pop and not math.isnan(pop) else None
            groups.append({"group": str(g), "count": c,
                           "rate": Rate(c, rate) if rate is not None and not mostly_small else None})
        rest = total.value - sum(c.value for c in cells)
        if rest >= 0:
            extra = [page.count(rest, role="detail", label=f"{key} {breakdown} not recorded", latent=True)] if rest else []
            page.ledger.sum(total, cells + extra)
        entry[breakdown] = [] if mostly_small else groups
        if mostly_small:
            entry.setdefault("not_shown", []).append(breakdown)
        out[breakdown] = dict(zip((str(g) for g in agg["group"]), cells))
    model["breakdowns"][key] = entry
    out["area"] = {"cells": out.get("area") or {}, "periods": out["periods"]} if "area" in out else None
    return out


def _area_series_model(page, values, intervention, indicator, series, model, area_totals: dict | None = None) -> None:
    """Each area's monthly counts, for the dashboard's area filter: cells linked to the month's total,
    and an area's months of the breakdown's window to that area's 12-month total (``area_totals``:
    else the total less the shown months would give a hidden area-month away).

    An indicator with more than a few area-months under the threshold (two in five or more) has no area
    series: its small area-months would have to be withheld with others, and the others can include
    the whole area's month, which would cost the trend (and the XmR chart) a point."""
    rows = values[(values.intervention == intervention) & (values.indicator == indicator)
                  & (values.breakdown == "area") & (values.measure == "count")]
    if rows.empty:
        return
    key = f"{intervention}/{indicator}"
    policy = page.ledger.policy
    if rows["numerator"].map(policy.small).mean() >= AREA_SMALL_SHARE:
        model.setdefault("areas_not_shown", []).append(key)
        return
    by = {(str(p), str(g)): _whole(n) for p, g, n in zip(rows["period"], rows["group"], rows["numerator"])}
    groups = sorted({str(g) for g in rows["group"]})
    out = {g: [] for g in groups}
    for i, period in enumerate(series["period"]):
        month = series["count"][i]
        cells = []
        for g in groups:
            n = by.get((period, g))
            if month is None or n is None:
                out[g].append(None)
                continue
            c = page.count(n, role="detail", label=f"{key} {g} {period[:7]}")
            out[g].append(c)
            cells.append(c)
        if month is not None and cells:
            rest = month.value - sum(c.value for c in cells)
            if rest < 0:
                raise ValueError(f"{key} {period}: the areas add up to more than the month's total")
            extra = [page.count(rest, role="detail", label=f"{key} {period[:7]} area not recorded", latent=True)] \
                if rest else []
            page.ledger.sum(month, cells + extra)
    if area_totals:
        window = set(area_totals["periods"])
        for g, total in area_totals["cells"].items():
            parts = [c for period, c in zip(series["period"], out.get(g, ())) if period in window and c is not None]
            if not parts:
                continue
            if sum(c.value for c in parts) != total.value:
                raise ValueError(f"{key} {g}: the area's months do not add up to its {len(window)}-month total")
            page.ledger.sum(total, parts)
    model.setdefault("areas", {})[key] = out


def _rolling_model(page, rows, series, key, *, annual_only: bool = False) -> dict:
    """Year-ending totals (sums of 12 monthly counts) and their rates.

    ``annual_only``: only the latest year-ending total and those 12, 24, ... months before it (years
    that do not overlap). For a measure whose months are mostly under the threshold, a total for
    every month would give every month away: overlapping totals differ by one month in, one out,
    and with the months known to be at least 0 the whole series can be rebuilt."""
    from evalkit.publish.values import Derived, Rate

    counts = series["count"]
    pop = [_num(p) for p in rows["population"]]
    rate_per = rows["rate_per"].dropna().iat[0] if rows["rate_per"].notna().any() else None
    out = {"period": series["period"], "count": [], "rate": [], "change": []}
    last = len(counts) - 1
    for t in range(len(counts)):
        if t < 11 or (annual_only and (last - t) % 12):
            out["count"].append(None)
            out["rate"].append(None)
            continue
        window = counts[t - 11:t + 1]
        if any(c is None for c in window):
            out["count"].append(None)
            out["rate"].append(None)
            continue
        # the latest year-ending total (and the one a year before it, for the change) are the headline:
        # where some must be withheld, older ones go first
        role = "headline" if t in (last, last - 12) else "normal"
        r = page.count(sum(c.value for c in window), role=role, label=f"{key} year ending {series['period'][t][:7]}")
        page.ledger.sum(r, window)
        out["count"].append(r)
        rate = r.value / pop[t] * rate_per if rate_per and pop[t] else None
        out["rate"].append(Rate(r, rate, lambda v: f"{v:.1f}") if rate is not None else None)
    for t, rate in enumerate(out["rate"]):
        before = out["rate"][t - 12] if t >= 12 else None
        if rate is None or before is None or not before.value:
            out["change"].append(None)
        else:
            out["change"].append(Derived(rate.value / before.value - 1, [rate, before], lambda v: f"{v:+.0%}"))
    return out


def _same_fact(page, key, value: int, **kw):
    """The cell of ``key`` when it holds ``value`` (the same fact shown twice is one cell), else a new one."""
    held = page.ledger.get(key)
    if held is not None and (held.value == int(value) or held.cell.foreign):
        return page.count(int(value), key=key, **kw)  # a foreign count of older data gives way (ledger.count)
    if held is not None:
        return page.count(int(value), **kw)
    return page.count(int(value), key=key, **kw)


def _part_of(page, whole, part, label: str) -> None:
    """``whole`` = ``part`` + a latent rest (e.g. all victims = victims under 25 + the rest)."""
    rest = whole.value - part.value
    if rest < 0:
        raise ValueError(f"{label}: the part ({part.value}) is larger than the whole ({whole.value})")
    extra = [page.count(rest, role="detail", label=f"{label} rest", latent=True)] if rest else []
    page.ledger.sum(whole, [part] + extra)


def _windows(periods: list, years: int) -> list[tuple[int, int]]:
    """Non-overlapping 12-month windows ending at the latest month, oldest first: [(start, stop)] indexes."""
    out = []
    end = len(periods)
    while end - 12 >= 0 and len(out) < years:
        out.append((end - 12, end))
        end -= 12
    return out[::-1]


def _rate_fmt(v) -> str:
    return f"{v:.1f}"


def _change_fmt(v) -> str:
    """A relative change in whole percent; one that rounds to zero reads 0%, never -0%."""
    return "0%" if round(v * 100) == 0 else f"{v:+.0%}"


def _measures_model(page, values: pd.DataFrame, its: dict, monitoring: Monitoring, years: int = 5) -> dict:
    """The Home Office success measures (and the local-definition counts beside them) as typed values.

    Per measure and variant (whole area): the totals of the last ``years`` non-overlapping years
    ending at the latest month, with rates on the mid-year population; the monthly counts and
    rates of all victims where no month is under the threshold (a measure with small months is
    published as whole years only); the latest year by area. The links are in the module doc.
    """
    from evalkit.monitor.measures import ALL, VARIANT_WORDS
    from evalkit.publish.values import Derived, Rate

    policy = page.ledger.policy
    measures = monitoring.measures
    out = {"version": measures.version, "sv_definition": monitoring.mapping.version if monitoring.mapping else None,
           "its": {k: its.get(k) for k in ("plan", "data_file", "note")}, "measures": []}
    if values.empty:
        return out
    mapping_source = getattr(monitoring.mapping, "source", None)
    for m in measures.measures:
        mine = values[values["measure"] == m.id]
        if mine.empty:
            continue
        key = m.id
        entry = {"id": m.id, "indicator": m.indicator, "label": m.label, "definition": " ".join(m.definition.split()),
                 "local_definition": m.local_definition, "rate_per": m.rate_per, "cited": list(m.cited),
                 "sources": [{"key": k, "citation": " ".join(str(measures.sources.get(k, "")).split())}
                             for k in m.cited],
                 "source": m.source, "variants": [],
                 # model output only (fitted rates, rate ratios); the fit's warnings stay in its report
                 "its": {k: v for k, v in ((its.get("measures") or {}).get(m.id) or {}).items() if k != "warnings"}
                 or None}
        base_years: list = []
        base_areas: dict = {}
        for variant in m.variants:
            rows = mine[mine["variant"] == variant.value]
            whole = rows[rows["area"] == ALL].sort_values("period", ignore_index=True)
            periods = [str(p) for p in whole["period"]]
            counts = [int(n) for n in whole["count"]]
            pops = [_num(p) for p in whole["population"]]
            vkey = f"{key} {variant.value}"
            is_all = variant.value == ALL
            monthly = None
            local = is_all and m.local_definition and m.source == mapping_source
            if is_all and counts and not any(policy.small(n) for n in counts):
                # the local definition's months are the needs assessment's monthly trend: one cell each
                cells = [_same_fact(page, (_local_fact(m), p[:7], p[:7]), n, role="normal", label=f"{vkey} {p[:7]}")
                         if local else page.count(n, role="normal", label=f"{vkey} {p[:7]}")
                         for n, p in zip(counts, periods)]
                monthly = {"period": periods, "count": cells,
                           "rate": [Rate(c, _num(r), lambda v: f"{v:.2f}") if _num(r) is not None else None
                                    for c, r in zip(cells, whole["rate"])]}
            windows = _windows(periods, years)
            yearly = []
            for j, (a, b) in enumerate(windows):
                n = sum(counts[a:b])
                span = (periods[a][:7], periods[b - 1][:7])
                role = "headline" if j >= len(windows) - 2 else "normal"
                fact = None
                if local:
                    fact = (_local_fact(m), *span)
                elif is_all and m.source != mapping_source and m.where.get("cause_code") == {"prefix": "X99"}:
                    fact = (f"{m.source} X99", *span)
                label = f"{vkey} year ending {span[1]}"
                c = (_same_fact(page, fact, n, role=role, label=label) if fact is not None
                     else page.count(n, role=role, label=label))
                if monthly is not None:
                    page.ledger.sum(c, monthly["count"][a:b])
                if not is_all and j < len(base_years):
                    _part_of(page, base_years[j], c, label)
                pop = pops[b - 1]
                rate = Rate(c, n / pop * m.rate_per, _rate_fmt) if pop else None
                yearly.append({"from": span[0], "to": span[1], "count": c, "rate": rate})
            for j, y in enumerate(yearly):
                before = yearly[j - 1]["rate"] if j else None
                y["change"] = (Derived(y["rate"].value / before.value - 1, [y["rate"], before], _change_fmt)
                               if y["rate"] is not None and before is not None and before.value else None)
            if is_all:
                base_years = [y["count"] for y in yearly]
            by_area = []
            if yearly:
                a, b = windows[-1]
                last = set(whole["period"].iloc[a:b])
                latest = rows[(rows["area"] != ALL) & rows["period"].isin(last)]
                agg = latest.groupby("area", sort=True).agg(n=("count", "sum"), population=("population", "last"))
                cells = []
                for area, r in agg.iterrows():
                    label = f"{vkey} {area} year ending {yearly[-1]['to']}"
                    # the local definition's year by area is the needs profile's (and an assessment's) areas
                    # of those months: one cell each, or the two tables' complements could differ
                    c = (_same_fact(page, police_fact("by_area", area, (yearly[-1]["from"], yearly[-1]["to"])),
                                    int(r["n"]), role="detail", label=label) if local
                         else page.count(int(r["n"]), role="detail", label=label))
                    cells.append(c)
                    if not is_all and area in base_areas:
                        _part_of(page, base_areas[area], c, f"{vkey} {area}")
                    if is_all:
                        base_areas[area] = c
                    pop = _num(r["population"])
                    by_area.append({"area": str(area), "count": c,
                                    "rate": Rate(c, r["n"] / pop * m.rate_per, _rate_fmt) if pop else None})
                page.ledger.sum(yearly[-1]["count"], cells)
            entry["variants"].append({"variant": variant.value, "words": VARIANT_WORDS[variant.value],
                                      "monthly": monthly, "years": yearly, "latest_by_area": by_area})
        out["measures"].append(entry)
    return out


def _local_fact(m) -> str:
    return "police local serious violence" + (" knife" if m.where.get("knife") else "")


def police_fact(part: str, item: str, span) -> tuple:
    """The key of a count of the police needs profile (a category, an hour, an area...) over ``span``
    (first and last month): the same fact on the dashboard and in a needs assessment is one cell."""
    return ("police", part, str(item), *span)


def _profile_model(page, profile: dict) -> dict:
    """The needs-assessment profile (:func:`evalkit.monitor.profile.needs_profile`) as typed values."""
    from evalkit.publish.values import Change, Fixed, Rate, Share

    s = profile["summary"]
    span = (s["from"], s["to"])
    total = _same_fact(page, ("police local serious violence", *span), int(s["serious_violence"]), role="headline",
                       label="serious violence, last 12 months")
    # the summary's counts are published only as the typed values below, never as they are
    out = {"summary": {k: s.get(k) for k in ("from", "to", "months", "previous_from", "peak_hour", "peak_day",
                                             "mapping_version")}, "total": total}

    def parts(frame, name, label_col, whole, count_col="n", rate_col=None, fact=None):
        items = []
        if frame is None:
            return items
        for r in frame.itertuples():
            lab = getattr(r, label_col)
            lab = "not recorded" if lab is None or (isinstance(lab, float) and math.isnan(lab)) else lab
            key = fact(name, lab) if fact is not None else police_fact(name, lab, span)
            c = _same_fact(page, key, int(getattr(r, count_col)), role="detail", label=f"profile {name} {lab}")
            value = _num(getattr(r, rate_col)) if rate_col and hasattr(r, rate_col) else None
            rate = Rate(c, value, _rate_fmt) if value is not None else None
            items.append((str(lab), c, rate))
        cells = [c for _l, c, _r in items]
        if whole is not None and cells:
            rest = whole.value - sum(c.value for c in cells)
            if rest >= 0:
                extra = [page.count(rest, role="detail", label=f"profile {name} not recorded", latent=True)] if rest else []
                page.ledger.sum(whole, cells + extra)
        return items

    for name, col in (("by_hour", "hour"), ("by_day", "day_name"), ("by_category", "sv_category"),
                      ("victim_ages", "age_band"), ("suspect_ages", "age_band"), ("victim_sex", "sex"),
                      ("suspect_sex", "sex")):
        if name in profile:
            out[name] = parts(profile[name], name, col, total)
    if "by_area" in profile:
        out["by_area"] = parts(profile["by_area"], "by_area", "area", total, rate_col="rate_per_100000")
    n = total.value
    latent = dict(role="detail", latent=True)
    knife = _same_fact(page, ("police local serious violence knife", *span), int(s["knife"]), label="profile knife",
                       **latent)
    domestic = _same_fact(page, police_fact("summary", "domestic", span), int(s["domestic"]),
                          label="profile domestic", **latent)
    known = _same_fact(page, police_fact("summary", "location recorded", span), int(s["location_known"]),
                       label="profile location recorded", **latent)
    public = _same_fact(page, police_fact("summary", "public place", span), int(s["public_place"]),
                        label="profile public place", **latent)
    public_nte = _same_fact(page, police_fact("summary", "public place, night-time economy", span),
                            int(s["public_night_time_economy"]), label="profile public place, night-time economy",
                            **latent)
    _part_of(page, total, knife, "profile knife")
    _part_of(page, total, domestic, "profile domestic")
    _part_of(page, total, known, "profile location recorded")
    _part_of(page, known, public, "profile public place")
    _part_of(page, public, public_nte, "profile public place, night-time economy")
    none = Fixed(None, lambda v: "-")
    out["share_domestic"] = Share(domestic, total, digits=0) if n else none
    out["share_knife"] = Share(knife, total, digits=0) if n else none
    out["share_public_place"] = Share(public, known, digits=0) if known.value else none
    out["share_public_night_time_economy"] = Share(public_nte, public, digits=0) if public.value else none
    for who in ("victim", "suspect"):
        people = s.get(f"{who}_residents")
        if people is None:
            continue
        residents = _same_fact(page, police_fact("residents", who, span), int(people), role="normal",
                               label=f"profile residents who were a {who}")
        pop = s.get(f"{who}_resident_population")
        out[f"{who}_residents"] = residents
        out[f"share_residents_{who}"] = (Rate(residents, people / pop, lambda v: f"{v:.2%}") if pop else none)
        frame = profile.get(f"{who}s_by_residence")
        if frame is not None:
            out[f"{who}s_by_residence"] = parts(frame, f"{who}s_by_residence", "area", residents, count_col="people",
                                                rate_col="rate_per_100000")
    yoy = profile.get("year_on_year")
    if yoy is not None and len(yoy):
        now = {lab: c for lab, c, _r in out.get("by_category", [])}
        # the same fact as the local-definition measure's year before (when it is on the page): one cell,
        # else that published year total less the shown categories would give a hidden one away
        prev_span = (s.get("previous_from"), (pd.Period(s["from"], "M") - 1).strftime("%Y-%m")) \
            if s.get("previous_from") and s.get("from") else None
        prev_total = _same_fact(page, ("police local serious violence", *prev_span), int(yoy["n_previous"].sum()),
                                role="normal", label="serious violence, previous 12 months", latent=True) \
            if prev_span else page.count(int(yoy["n_previous"].sum()), role="normal",
                                         label="serious violence, previous 12 months", latent=True)
        prev_cells = []
        rows = []
        for r in yoy.itertuples():
            cat = str(r.sv_category)
            c = now.get(cat) or _same_fact(page, police_fact("by_category", cat, span), int(r.n), role="detail",
                                           label=f"profile year on year {cat}")
            # the same fact as a needs assessment's category of those months (its own, or its year before)
            p = (_same_fact(page, police_fact("by_category", cat, prev_span), int(r.n_previous), role="detail",
                            label=f"profile previous 12 months {cat}") if prev_span
                 else page.count(int(r.n_previous), role="detail", label=f"profile previous 12 months {cat}"))
            prev_cells.append(p)
            change = Change(c, p, digits=0, fmt=_change_fmt) if p.value else none
            rows.append({"category": cat, "count": c, "previous": p, "change": change})
        page.ledger.sum(prev_total, prev_cells)
        out["year_on_year"] = rows
    health = {}
    for sid, h in (profile.get("health") or {}).items():
        h_span = (h["from"], h["to"])
        h_total = _same_fact(page, (sid, "total", "all", *h_span), int(h["n"]), role="headline",
                             label=f"profile {sid} total")
        entry = {"label": h["label"], "from": h["from"], "to": h["to"], "total": h_total}
        for name, col in (("by_category", "category"), ("by_cause", "cause"), ("by_weapon", "weapon"),
                          ("by_location", "location"), ("by_hour", "hour"), ("by_age", "age_band"),
                          ("by_sex", "sex"), ("by_area", "area")):
            if isinstance(h.get(name), pd.DataFrame):
                entry[name] = parts(h[name], f"{sid} {name}", col, h_total,
                                    fact=lambda part, lab, sid=sid, h_span=h_span: (sid, part, str(lab), *h_span))
        if isinstance(h.get("sharp_by_place"), pd.DataFrame):
            sharp = next((c for lab, c, _r in entry.get("by_cause", []) if lab == "sharp object"), None)
            if sharp is not None:
                # the same fact as the knife admissions measure's latest year, where the windows agree
                held = page.ledger.get((f"{sid} X99", h["from"], h["to"]))
                if held is not None and held.value == sharp.value:
                    page.ledger.same(held, sharp)
            entry["sharp_by_place"] = parts(h["sharp_by_place"], f"{sid} sharp_by_place", "place", sharp,
                                            fact=lambda part, lab, sid=sid, h_span=h_span: (sid, part, str(lab), *h_span))
        health[sid] = entry
    out["health"] = health
    return out


# --------------------------------------------------------------------------------------------
# the export


def _typed(v):
    if v is None:
        return None
    return {"value": v.export(), "status": v.status, "kind": v.kind, "shown": v.table_text()}


def _plain(obj):
    """Typed values as ``_typed`` dicts; (label, count, rate) triples as dicts; frames never (none reach here)."""
    from evalkit.publish.values import Value

    if isinstance(obj, Value):
        return _typed(obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and len(obj) == 3 and isinstance(obj[0], str):
        return {"label": obj[0], "count": _plain(obj[1]), "rate": _plain(obj[2])}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def export_json(model: dict, policy) -> bytes:
    """``dashboard_data.json``: every value as published (``{"value", "status", "kind", "shown"}``)."""
    from evalkit.monitor.its_disclosure import its_published

    def series(s):
        return {k: ([_typed(v) for v in vals] if k in ("value", "count", "rate", "change") else vals)
                for k, vals in s.items()}

    data = {
        "schema": "evalkit.dashboard-data/v2", "as_of": model["as_of"], "period_kind": model["period_kind"],
        "disclosure": policy.to_json(), "mapping_version": model["mapping_version"],
        "indicators": [{k: (series(v) if k == "series" else v) for k, v in i.items()} for i in model["indicators"]],
        "breakdowns": {key: {b: ([{"group": g["group"], "count": _typed(g["count"]), "rate": _typed(g["rate"])}
                                  for g in groups] if isinstance(groups, list) and b != "not_shown" else groups)
                             for b, groups in entry.items()} for key, entry in model["breakdowns"].items()},
        "success": {k: {"its": its_published(_item_of(model, k), v), "rolling": series(v["rolling"])}
                    for k, v in model["success"].items()},
        "measures": _plain(model.get("measures") or {}),
        "profile": _plain(model["profile"]),
        "costs": _plain(model.get("costs") or {}),
        "spc": _spc_export(model),
        "equity": _equity_export(model),
        "areas": {key: {g: [_typed(v) for v in vals] for g, vals in groups.items()}
                  for key, groups in (model.get("areas") or {}).items()},
        # each source's extracts and periods; not its rows (a count of records, never disclosure-controlled:
        # all referrals ever, less the months shown, would be a suppressed month)
        "quality": {"sources": [{k: v for k, v in s.items() if k != "rows"} for s in model["quality"]["sources"]],
                    "unmapped": [{"offence_type": t, "count": _typed(c)} for t, c in model["quality"]["unmapped"]]},
    }
    return (json.dumps(data, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8")


def _item_of(model: dict, indicator: str) -> dict:
    return next(i for i in model["indicators"] if i["indicator"] == indicator and i["success_measure"])


def _equity_export(model: dict) -> dict:
    from evalkit.monitor.equity_panel import export

    return export(model, _plain)


def _spc_export(model: dict) -> dict:
    """Each indicator's XmR chart as drawn: icons, limits and step changes (from published values only)."""
    from evalkit.monitor.spc_dashboard import spc_summary

    from evalkit.monitor.spc_dashboard import measure_items

    steps = (model.get("spc") or {}).get("step_changes", {})
    kind = model.get("period_kind", "month")
    out = {f"{i['intervention']}/{i['indicator']}": spc_summary(i, steps.get(f"{i['intervention']}/{i['indicator']}", []),
                                                             kind)
           for i in model["indicators"]}
    out.update({key: spc_summary(item, steps.get(key, []), kind) for key, item in measure_items(model).items()})
    return out


def write_dashboard(store, monitoring: Monitoring, project, out_dir: Path | str, *, as_of=None,
                    render: bool = True) -> dict[str, Path]:
    """Publish ``dashboard.qmd``, ``dashboard.html`` and ``dashboard_data.json`` into ``out_dir``."""
    from evalkit.errors import EvalkitError

    out_dir = Path(out_dir)
    pub = dashboard_publication(store, monitoring, project, out_dir, as_of=as_of)
    published = pub.publish(render=True, commit_rendered=render, log=lambda *_: None)
    if published.failed:
        raise EvalkitError("the dashboard was not published (the previous one, if any, is unchanged): "
                           + "; ".join(published.failed.values()))
    files = published.pages["dashboard"]
    written = {"data": out_dir / DATA_JSON, "qmd": files["qmd"]}
    if "html" in files:
        written["html"] = files["html"]
    return written
