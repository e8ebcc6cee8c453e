"""Plain-text summaries for the terminal: functions of specs and results, never methods on them."""

from __future__ import annotations

from evalkit.spec import model as m


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def project_summary(project: m.Project) -> str:
    parts = [f"Project: {project.root}", ""]
    rows = []
    for lm in project.interventions.values():
        ages = f"{lm.age[0]}-{lm.age[1]}" if lm.age else "all"
        yef = "; ".join(f"{e.source}: {e.approach} ({e.impact.value})" for e in lm.evidence) or "-"
        rows.append([lm.id, lm.name, lm.prevention.value, ages, str(len(lm.indicators)), yef])
    parts += ["Interventions", _table(["id", "name", "prevention", "ages", "indicators", "external evidence"], rows), ""]
    rows = []
    for lm in project.interventions.values():
        for ind in lm.indicators.values():
            target = ""
            if ind.target is not None:
                target = f"{ind.target.value:g}" + (f" per {ind.target.per.value}" if ind.target.per else "")
            rows.append([lm.id, ind.id, ind.type.value, ind.direction.value, ind.source.value,
                         ind.measures.id, target or "-"])
    parts += ["Indicators", _table(["intervention", "indicator", "type", "better if", "source", "measures", "target"],
                                   rows), ""]
    rows = []
    for ev in project.evaluations.values():
        data = "external study" if ev.is_external else ev.data.path_as_written
        rows.append([ev.id, ev.intervention.id, ev.design.value, ev.stage.value, ev.primary_outcome.id,
                     f"{ev.follow_up_months}", "yes" if ev.evaluator.independent else "no", data])
    parts += ["Evaluations", _table(["id", "intervention", "design", "stage", "primary outcome", "months",
                                     "independent", "data"], rows)]
    return "\n".join(parts)


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return str(x)


def results_table(result) -> str:
    """A short table of a ResultSet's estimates (all subgroups, primary marked)."""
    rows = []
    for e in result.estimates:
        rows.append([("* " if e.primary else "  ") + e.indicator, e.subgroup, e.estimand, str(e.n),
                     _fmt(e.estimate), f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]", _fmt(e.p_value, 3),
                     _fmt(e.p_value_holm, 3), e.units])
    levels = {e.ci_level for e in result.estimates}
    ci = f"{levels.pop():.0%} CI" if len(levels) == 1 else "CI (level varies)"
    text = _table(["indicator", "subgroup", "estimand", "n", "estimate", ci, "p", "p (Holm)", "units"], rows)
    balance = result.sections.get("balance")
    if result.design == "matched_comparison" and isinstance(balance, dict) and balance.get("rows"):
        from evalkit.estimate.matching.balance import summary_lines

        text += "\nBalance after matching\n" + "\n".join(summary_lines(balance))
    if result.warnings:
        text += "\n" + "\n".join(f"  warning: {w.message}" for w in result.warnings)
    return text
