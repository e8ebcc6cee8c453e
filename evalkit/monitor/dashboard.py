"""The monitoring dashboard: published data (disclosure-controlled), a Quarto dashboard, its HTML.

``write_dashboard`` computes the indicators, the needs-assessment profile and the status,
applies disclosure control (counts from 1 to ``min_count - 1`` suppressed, with secondary
suppression where the parts of a breakdown add up to the total; rates and proportions built on
such counts suppressed too), writes ``dashboard_data.json`` (only published values), the
``dashboard.qmd`` (``format: dashboard``) reading it, and renders the HTML with
:func:`evalkit.report.render.render_html` (Quarto when on PATH, Pandoc otherwise), then checks
the page with the report's disclosure scanner.
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
TEMPLATE = Path(__file__).resolve().parent / "templates" / "dashboard.qmd"


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if math.isnan(f) else f


def _small(n, k: int) -> bool:
    return n is not None and not (isinstance(n, float) and math.isnan(n)) and 0 < n < k


def publishable_values(values: pd.DataFrame, k: int) -> pd.DataFrame:
    """Indicator rows with small counts suppressed: ``value``/``rate`` set to NaN and ``suppressed`` True.

    Counts: 0 < n < k suppressed, then secondary suppression within each period and breakdown
    (the groups add up to the 'all' row). Proportions and means: suppressed when the
    denominator or the numerator count is small.
    """
    from evalkit.report.disclosure import Policy, suppress

    policy = Policy(threshold=k)
    out = values.copy()
    hidden = pd.Series(False, index=out.index)
    counts = out["measure"] == "count"
    hidden |= counts & out["numerator"].map(lambda n: _small(n, k))
    props = out["measure"] == "proportion"
    hidden |= props & (out["denominator"].map(lambda n: _small(n, k)) | out["numerator"].map(lambda n: _small(n, k)))
    means = out["measure"] == "mean"
    hidden |= means & out["denominator"].map(lambda n: _small(n, k))
    # secondary: per indicator and period, each breakdown's groups add up to the 'all' count
    c = out[counts]
    for (_ind, _int, period), rows in c.groupby(["indicator", "intervention", "period"]):
        total = rows[rows.breakdown == "all"]
        if total.empty:
            continue
        for breakdown, parts in rows[rows.breakdown != "all"].groupby("breakdown"):
            cells = {i: int(n) for i, n in zip(parts.index, parts["numerator"])}
            cells[total.index[0]] = int(total["numerator"].iat[0])
            extra = suppress(cells, [(total.index[0], list(parts.index))], policy)
            hidden.loc[list(extra)] = True
    out["suppressed"] = hidden
    for col in ("value", "numerator", "rate"):
        out.loc[hidden, col] = np.nan
    out.loc[hidden & props, "denominator"] = np.nan
    return out


def _series(frame: pd.DataFrame) -> dict:
    return {"period": [str(p) for p in frame["period"]],
            **{c: [_num(v) for v in frame[c]] for c in ("value", "rate", "numerator", "denominator")},
            "rag": [r if isinstance(r, str) else None for r in frame["rag"]],
            "suppressed": [bool(s) for s in frame["suppressed"]]}


def _last_months_sum(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    last = sorted(frame["period"].unique())[-months:]
    return frame[frame["period"].isin(last)]


def _breakdown_totals(values: pd.DataFrame, k: int, months: int = 12) -> dict:
    """Counts and yearly rates per group over the last ``months`` months, for count indicators."""
    from evalkit.report.disclosure import Policy, suppress

    out = {}
    counts = values[values.measure == "count"]
    for (intervention, indicator), rows in counts.groupby(["intervention", "indicator"]):
        rows = _last_months_sum(rows, months)
        n_months = rows["period"].nunique()
        per = {}
        for breakdown, parts in rows.groupby("breakdown"):
            agg = parts.groupby("group").agg(n=("numerator", "sum"), population=("population", "mean")).reset_index()
            per[breakdown] = agg
        if "all" not in per:
            continue
        total = per["all"]
        entry = {"months": int(n_months), "from": str(min(rows["period"])), "to": str(max(rows["period"]))}
        for breakdown, agg in per.items():
            if breakdown == "all":
                continue
            cells = {g: int(n) for g, n in zip(agg["group"], agg["n"])}
            cells["__all__"] = int(total["n"].iat[0])
            hidden = suppress(cells, [("__all__", list(agg["group"]))], Policy(threshold=k))
            rate_per = rows["rate_per"].dropna().iat[0] if rows["rate_per"].notna().any() else None
            groups = []
            for g, n, pop in zip(agg["group"], agg["n"], agg["population"]):
                rate = (n / pop * rate_per * 12 / max(n_months, 1)) if rate_per and pop and not math.isnan(pop) else None
                groups.append({"group": g, "n": None if g in hidden else int(n),
                               "rate": None if g in hidden or rate is None else float(rate)})
            entry[breakdown] = groups
        out[f"{intervention}/{indicator}"] = entry
    return out


def dashboard_data(store, monitoring: Monitoring, project, as_of=None) -> dict:
    """Everything the dashboard shows, disclosure-controlled, as plain JSON-able data."""
    from evalkit.monitor.indicators import compute_indicators
    from evalkit.monitor.profile import needs_profile
    from evalkit.monitor.status import status

    k = monitoring.settings.disclosure.min_count
    values = compute_indicators(store, monitoring, project)
    st = status(store, monitoring, project, as_of=as_of, values=values)
    published = publishable_values(values, k)
    indicators = []
    for (intervention, indicator), rows in published[published.breakdown == "all"].groupby(
            ["intervention", "indicator"], sort=False):
        lm = project.interventions[intervention]
        ind = lm.indicators[indicator]
        rows = rows.sort_values("period")
        latest = rows.iloc[-1]
        indicators.append({
            "intervention": intervention, "intervention_name": lm.name, "indicator": indicator, "label": ind.label,
            "type": ind.type.value, "measure": latest["measure"], "direction": ind.direction.value,
            "rate_per": ind.rate_per, "target": _num(latest["target"]), "amber": _num(latest["amber"]),
            "target_per": ind.target.per.value if ind.target is not None and ind.target.per is not None else None,
            "amber_default": ind.target is not None and ind.target.amber is None,
            "latest": {"period": str(latest["period"]), "value": _num(latest["value"]), "rate": _num(latest["rate"]),
                       "rag": latest["rag"] if isinstance(latest["rag"], str) else None,
                       "suppressed": bool(latest["suppressed"]), "numerator": _num(latest["numerator"]),
                       "denominator": _num(latest["denominator"])},
            "series": _series(rows),
            "success_measure": intervention == monitoring.settings.success_measures,
        })
    # the success measures and their time series: computed in evalkit.monitor.measures, the same
    # table and model as the strategy's interrupted time series report
    from evalkit.monitor.measures import compute_success_measures, its_estimates, published_success
    from evalkit.monitor.profile import published_profile

    measures = compute_success_measures(store, monitoring)
    success = published_success(measures, its_estimates(store, monitoring, project, measures), monitoring, k)
    prof = published_profile(needs_profile(store, monitoring), k)
    return {
        "title": "Outcomes monitoring",
        "period_kind": monitoring.settings.period,
        "as_of": st.as_of, "disclosure": {"min_count": k, "mark": "[c]"},
        "mapping_version": monitoring.mapping.version if monitoring.mapping else None,
        "indicators": indicators,
        "breakdowns": _breakdown_totals(values, k),
        "success": success,
        "profile": prof,
        "quality": {
            "sources": [asdict(s) for s in st.sources],
            "unmapped": [{"offence_type": r.offence_type, "n": None if _small(r.n, k) else int(r.n)}
                         for r in st.unmapped.itertuples()],
        },
    }


def write_dashboard(store, monitoring: Monitoring, project, out_dir: Path | str, *, as_of=None,
                    render: bool = True) -> dict[str, Path]:
    """Write dashboard_data.json and dashboard.qmd into ``out_dir`` and render dashboard.html."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = dashboard_data(store, monitoring, project, as_of=as_of)
    (out_dir / DATA_JSON).write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (out_dir / QMD).write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    written = {"data": out_dir / DATA_JSON, "qmd": out_dir / QMD}
    if render:
        from evalkit.report.disclosure import Policy, check_rendered
        from evalkit.report.render import render_html

        html = render_html(out_dir / QMD, out_dir / HTML)
        check_rendered(html, Policy(threshold=monitoring.settings.disclosure.min_count))
        written["html"] = html
    return written
