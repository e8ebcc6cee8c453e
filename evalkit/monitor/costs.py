"""The dashboard's cost per participant per month (value for money, issue 19).

For each intervention whose logic model declares costs and a ``participants_indicator`` (a count
indicator the monitoring store holds by month, e.g. referrals received): the month's running
cost (each cost period's running costs, cash and in kind, spread evenly over its days, in the
analysis year's prices; set-up costs left out) over that month's count. The count is the same
ledger cell as the indicator's trend on the dashboard, and the cost per participant is derived
from it, so it is hidden whenever the count is.
"""

from __future__ import annotations

from evalkit.publish.document import Col, Markdown
from evalkit.publish.values import Derived, Fixed, phrase

MONTHS = 12  # the latest months shown


def _money(x) -> str:
    return "-" if x is None else f"£{x:,.0f}"


def cost_model(page, project, model: dict) -> dict:
    """{intervention/indicator: rows of (month, running cost, count, cost per participant)}."""
    from evalkit.vfm.costs import monthly_costs

    out: dict = {}
    series = {(i["intervention"], i["indicator"]): i for i in model["indicators"]}
    for lm in project.interventions.values():
        costs = lm.costs
        if costs is None or costs.participants_indicator is None:
            continue
        item = series.get((lm.id, costs.participants_indicator))
        if item is None:
            continue
        running: dict[str, float] = {}
        for m in monthly_costs(costs, analysis_year=costs.report_year):
            running[m.month] = running.get(m.month, 0.0) + m.running_cash + m.running_in_kind
        rows = []
        for period, count in zip(item["series"]["period"], item["series"]["count"]):
            month = period[:7]
            if month not in running or count is None:
                continue
            per = running[month] / count.cell.value if count.cell.value else None
            rows.append({"month": month, "running_cost": Fixed(running[month], _money), "participants": count,
                         "per_participant": Derived(per, [count], _money)})
        if rows:
            out[f"{lm.id}/{costs.participants_indicator}"] = {
                "intervention": lm.name, "indicator": item["label"], "analysis_year": costs.report_year.label,
                "illustrative": costs.illustrative, "rows": rows[-MONTHS:]}
    return out


def cost_panel(page, project, model: dict) -> dict:
    """Add the dashboard's "Costs" page; returns its model (for ``dashboard_data.json``)."""
    found = cost_model(page, project, model)
    if not found:
        return {}
    page.add(Markdown("\n# Costs\n\n## Row\n"))
    for key, entry in found.items():
        page.note(phrase("{who}: running cost per participant per month ({which} in the month), in {year} prices"
                         "{illustrative}. Running costs of each cost period are spread evenly over its days; set-up "
                         "costs are left out; participants are the month's count in the monitoring store.",
                         who=Fixed(entry["intervention"]), which=Fixed(entry["indicator"].lower()),
                         year=Fixed(entry["analysis_year"]),
                         illustrative=Fixed("; illustrative costs" if entry["illustrative"] else "")))
        rows = [[Col(r["month"], "month"), Col(r["running_cost"], "running_cost", True),
                 Col(r["participants"], "participants", True), Col(r["per_participant"], "per_participant", True)]
                for r in entry["rows"]]
        page.table(["month", "running cost", "participants", "running cost per participant"], rows,
                   table_id=f"ek-costs-{key.replace('/', '-')}")
    return found
