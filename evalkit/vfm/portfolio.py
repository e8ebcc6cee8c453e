"""Value for money in the portfolio (``evalkit compare``, its ``portfolio.json``, the portfolio page).

For each intervention whose logic model declares costs: the full cost, the cost per participant
who started and completed, the cost rating (with who published its bands), and, for the study the
headline effect comes from, the cost per outcome of the headline indicator (with its interval and
method) and its benefit-cost ratio where the outcome is valued with the unit costs of crime. The
figures are the same records the report's "Value for money" section shows
(:func:`evalkit.vfm.assess.assess`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evalkit.vfm.assess import Assessment, assess, assess_costs


def _row(a: Assessment, indicator: str | None) -> dict[str, Any]:
    o = a.summary.overall
    r = a.rating
    row: dict[str, Any] = {
        "analysis_year": a.analysis_year, "illustrative": a.illustrative, "total_cost": o.total,
        "started": o.started, "completed": o.completed, "per_started": o.per_started, "per_completed": o.per_completed,
        "rating": r.rating, "rating_label": r.label, "rating_published_by": r.published_by,
        "rating_source": r.source, "rules_version": r.rules_version, "evaluation": a.evaluation,
        "outcome": None, "participants_from": a.participants_from,
        "participant_checks": [x.words for x in a.participant_checks],
    }
    costed = next((c for c in a.outcomes if c.indicator == indicator), None) or (a.outcomes[0] if a.outcomes else None)
    if costed is not None:
        k, m = costed.cost_per_outcome, costed.monetised
        row["outcome"] = {
            "indicator": costed.indicator, "outcome": k.outcome, "status": k.status.value,
            "cost_per_outcome": k.cost_per_outcome, "ci_low": k.ci_low, "ci_high": k.ci_high, "at_least": k.at_least,
            "method": k.method, "comparison_group": costed.comparison_group,
            "bcr": m.bcr if m else None, "bcr_low": m.bcr_low if m else None, "bcr_high": m.bcr_high if m else None,
            "net_benefit": m.net_benefit if m else None,
        }
    return row


def value_for_money_rows(project, portfolio: Mapping, results_file: Callable[[str], Path]) -> dict[str, dict[str, Any]]:
    """{intervention id: its value for money} for the interventions with costs, from the headline
    study's saved results where there are any (``results_file(evaluation id)``: the caller passes
    :func:`evalkit.project.results_path`, which this layer does not import)."""
    from evalkit.results import ResultSet

    out: dict[str, dict[str, Any]] = {}
    rows = {r.get("intervention"): r for r in portfolio.get("interventions") or [] if isinstance(r, Mapping)}
    for lm in project.interventions.values():
        if lm.costs is None:
            continue
        head = (rows.get(lm.id) or {}).get("headline") or {}
        evaluation, indicator = head.get("evaluation"), head.get("indicator")
        a = None
        path = results_file(str(evaluation))
        if evaluation and path.exists():
            a = assess(lm, ResultSet.read(path), project)
        out[lm.id] = _row(a or assess_costs(lm, project), indicator)
    return out


def add_value_for_money(portfolio: dict, project, results_file: Callable[[str], Path]) -> dict:
    """The portfolio with each costed intervention's ``value_for_money`` entry (plain data)."""
    from evalkit.vfm.results import _plain

    found = value_for_money_rows(project, portfolio, results_file)
    for row in portfolio.get("interventions") or []:
        if isinstance(row, dict) and row.get("intervention") in found:
            row["value_for_money"] = _plain(found[row["intervention"]])
    costed = {k for k in found}
    rated = {r.get("intervention") for r in portfolio.get("interventions") or [] if isinstance(r, Mapping)}
    # interventions with costs but no rating row (no evaluation yet): kept apart, so their costs still show
    extra = [dict(found[k], intervention=k, name=next(lm.name for lm in project.interventions.values() if lm.id == k))
             for k in sorted(costed - rated)]
    if extra:
        portfolio["costs_only"] = _plain(extra)
    return portfolio


def cost_columns(row: Mapping | None) -> tuple[str, str, str]:
    """(cost per participant, cost rating, cost per outcome) as ``evalkit compare`` prints them."""
    if not row:
        return "-", "-", "-"
    money = lambda x: "-" if x is None else f"£{x:,.0f}"  # noqa: E731
    per = money(row.get("per_started")) + (" (illustrative)" if row.get("illustrative") else "")
    rating = "-" if row.get("rating") is None else (
        f"{row['rating']} ({row.get('rating_label')}; " +
        ("EIF bands" if row.get("rating_published_by") == "EIF" else "toolkit default bands") + ")")
    o = row.get("outcome")
    if not o:
        return per, rating, "-"
    if o.get("cost_per_outcome") is None:
        cpo = f"{o['outcome']}: no figure" + (f" (at least {money(o['at_least'])})" if o.get("at_least") else "")
    else:
        cpo = f"{o['outcome']}: {money(o['cost_per_outcome'])} ({money(o['ci_low'])} to {money(o['ci_high'])}, {o['method']})"
    if o.get("bcr") is not None:
        cpo += f"; BCR {o['bcr']:.2f} ({o['bcr_low']:.2f} to {o['bcr_high']:.2f})"
    return per, rating, cpo
