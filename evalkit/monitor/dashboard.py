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
- the needs-assessment categories, hours, days and areas each add up to the total of serious
  violence; the shares (domestic, night-time economy, knife) are percentages of that total;
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
    return {"period": [str(p) for p in rows["period"]], "interruption": str(cut.start_time.date()),
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


def _indicator_model(page, rows: pd.DataFrame, key: str, *, latent: bool = False) -> dict:
    """Typed values per period for one indicator (whole area): counts, shares or statistics.

    ``latent``: the monthly counts are declared but not shown (a success measure whose months are
    mostly under the threshold is published as year-ending totals only)."""
    from evalkit.publish.values import Fixed, Rate, Share, Stat

    out = {"period": [str(p) for p in rows["period"]], "value": [], "count": [], "rate": [],
           "rag": [r if isinstance(r, str) else None for r in rows["rag"]]}
    measure = rows["measure"].iat[0]
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


def dashboard_publication(store, monitoring: Monitoring, project, out_dir: Path, *, as_of=None, policy=None):
    """The dashboard as a publication (not yet published): its page, its data export, one ledger."""
    from evalkit.monitor import charts
    from evalkit.monitor.indicators import compute_indicators
    from evalkit.monitor.profile import needs_profile
    from evalkit.monitor.status import status
    from evalkit.publish.policy import project_policy
    from evalkit.publish.publication import Publication

    policy = policy or project_policy(project.root)
    values = compute_indicators(store, monitoring, project)
    st = status(store, monitoring, project, as_of=as_of, values=values)
    pub = Publication(policy, project_root=project.root, out_root=Path(out_dir), setting=f"--out {out_dir}")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True, source="the monitoring store")
    ledger = page.ledger
    model = {"as_of": st.as_of, "period_kind": monitoring.settings.period, "indicators": [], "breakdowns": {},
             "success": {}, "profile": {}, "quality": {}, "mapping_version":
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
            _breakdown_model(page, values, intervention, indicator, series, model)
            if not success_measure:
                _area_series_model(page, values, intervention, indicator, series, model)
        if item["success_measure"]:
            model["success"][indicator] = {"its": _its(values, indicator, interruption),
                                           "rolling": _rolling_model(page, rows, series, key,
                                                                     annual_only=monthly_hidden)}
    profile = needs_profile(store, monitoring)
    if profile:
        model["profile"] = _profile_model(page, profile)
    model["quality"] = {"sources": [asdict(s) for s in st.sources],
                        "unmapped": [(r.offence_type, page.count(int(r.n), role="normal",
                                                                  label=f"unmapped {r.offence_type}"))
                                     for r in st.unmapped.itertuples()]}
    del ledger
    from evalkit.monitor.spc_dashboard import declared_step_changes

    model["spc"] = {"step_changes": declared_step_changes(monitoring, model, raw_values)}
    charts.build_page(page, model, policy)
    pub.export(DATA_JSON, lambda: export_json(model, policy))
    return pub


def _breakdown_model(page, values, intervention, indicator, series, model, months: int = 12) -> None:
    """Group totals over the last ``months`` months, linked to the monthly totals they add up to."""
    from evalkit.publish.values import Rate

    rows = values[(values.intervention == intervention) & (values.indicator == indicator)
                  & (values.measure == "count")]
    last = sorted(rows["period"].unique())[-months:]
    rows = rows[rows["period"].isin(last)]
    key = f"{intervention}/{indicator}"
    idx = [i for i, p in enumerate(series["period"]) if p in {str(x) for x in last}]
    monthly = [series["count"][i] for i in idx]
    if not monthly or any(m is None for m in monthly):
        return
    total = page.count(sum(m.value for m in monthly), role="normal", label=f"{key} last {months} months",
                       latent=True)
    page.ledger.sum(total, monthly)
    n_months = rows["period"].nunique()
    rate_per = rows["rate_per"].dropna().iat[0] if rows["rate_per"].notna().any() else None
    entry = {"months": int(n_months), "from": str(min(rows["period"])), "to": str(max(rows["period"]))}
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
    model["breakdowns"][key] = entry


def _area_series_model(page, values, intervention, indicator, series, model) -> None:
    """Each area's monthly counts, for the dashboard's area filter: cells linked to the month's total.

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


def _profile_model(page, profile: dict) -> dict:
    from evalkit.publish.values import Fixed, Rate, Share

    s = profile["summary"]
    total = page.count(int(s["serious_violence"]), role="headline", label="serious violence, last 12 months")
    out = {"summary": s, "total": total}

    def parts(name, label_col, rate_col=None, relate=True):
        frame = profile[name]
        items = []
        for r in frame.itertuples():
            c = page.count(int(r.n), role="detail", label=f"profile {name} {getattr(r, label_col)}")
            rate = Rate(c, _num(getattr(r, rate_col)), lambda v: f"{v:.1f}") if rate_col and hasattr(r, rate_col) \
                else None
            items.append((str(getattr(r, label_col)), c, rate))
        cells = [c for _l, c, _r in items]
        if relate and cells:
            rest = total.value - sum(c.value for c in cells)
            if rest >= 0:
                extra = [page.count(rest, role="detail", label=f"profile {name} not recorded", latent=True)] if rest else []
                page.ledger.sum(total, cells + extra)
        return items

    out["by_hour"] = parts("by_hour", "hour")
    out["by_day"] = parts("by_day", "day_name")
    out["by_category"] = parts("by_category", "sv_category")
    out["by_area"] = parts("by_area", "area", "rate_per_100000")
    out["victim_ages"] = parts("victim_ages", "age_band")
    out["suspect_ages"] = parts("suspect_ages", "age_band")
    n = total.value
    for key in ("share_domestic", "share_night_time_economy", "share_knife"):
        share = s.get(key)
        if share is None or not n:
            out[key] = Fixed(None, lambda v: "-")
            continue
        part = page.count(int(round(share * n)), role="detail", label=f"profile {key}", latent=True)
        out[key] = Share(part, total, digits=0)
    return out


# --------------------------------------------------------------------------------------------
# the export


def _typed(v):
    if v is None:
        return None
    return {"value": v.export(), "status": v.status, "kind": v.kind, "shown": v.table_text()}


def export_json(model: dict, policy) -> bytes:
    """``dashboard_data.json``: every value as published (``{"value", "status", "kind", "shown"}``)."""
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
        "success": {k: {"its": v["its"], "rolling": series(v["rolling"])} for k, v in model["success"].items()},
        "profile": ({k: ([{"label": lab, "count": _typed(c), "rate": _typed(r)} for lab, c, r in v]
                         if isinstance(v, list) else _typed(v) if hasattr(v, "status") else v)
                     for k, v in model["profile"].items()} if model["profile"] else {}),
        "spc": _spc_export(model),
        "areas": {key: {g: [_typed(v) for v in vals] for g, vals in groups.items()}
                  for key, groups in (model.get("areas") or {}).items()},
        "quality": {"sources": model["quality"]["sources"],
                    "unmapped": [{"offence_type": t, "count": _typed(c)} for t, c in model["quality"]["unmapped"]]},
    }
    return (json.dumps(data, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8")


def _spc_export(model: dict) -> dict:
    """Each indicator's XmR chart as drawn: icons, limits and step changes (from published values only)."""
    from evalkit.monitor.spc_dashboard import spc_summary

    steps = (model.get("spc") or {}).get("step_changes", {})
    return {f"{i['intervention']}/{i['indicator']}": spc_summary(i, steps.get(f"{i['intervention']}/{i['indicator']}", []),
                                                              model.get("period_kind", "month"))
            for i in model["indicators"]}


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
