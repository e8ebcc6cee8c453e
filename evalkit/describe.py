"""Plain-text summaries for the terminal: functions of specs and results, never methods on them."""

from __future__ import annotations

import math

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
        data = "external study" if ev.is_external else " + ".join(w for _r, _p, w in ev.data.files)
        rows.append([ev.id, ev.intervention.id, ev.design.value, ev.stage.value, ev.primary_outcome.id,
                     f"{ev.follow_up_months}", "yes" if ev.evaluator.independent else "no", data])
    parts += ["Evaluations", _table(["id", "intervention", "design", "stage", "primary outcome", "months",
                                     "independent", "data"], rows)]
    return "\n".join(parts)


def project_data(project: m.Project) -> dict:
    """``evalkit summary --json``: the same interventions, indicators and evaluations as data."""
    interventions = []
    for lm in project.interventions.values():
        interventions.append({
            "id": lm.id, "name": lm.name, "prevention": lm.prevention.value, "age": list(lm.age) if lm.age else None,
            "evidence": [{"source": e.source, "approach": e.approach, "impact": e.impact.value} for e in lm.evidence],
            "indicators": [{"id": ind.id, "label": ind.label, "type": ind.type.value,
                            "direction": ind.direction.value, "source": ind.source.value,
                            "measures": ind.measures.id,
                            "target": ind.target.model_dump(mode="json") if ind.target is not None else None}
                           for ind in lm.indicators.values()]})
    evaluations = [{"id": ev.id, "intervention": ev.intervention.id, "design": ev.design.value,
                    "stage": ev.stage.value, "primary_outcome": ev.primary_outcome.id,
                    "follow_up_months": ev.follow_up_months, "independent": ev.evaluator.independent,
                    "data": None if ev.is_external else ev.data.path_as_written,
                    "comparison_data": None if ev.is_external else ev.data.comparison_as_written}
                   for ev in project.evaluations.values()]
    return {"root": str(project.root), "interventions": interventions, "evaluations": evaluations}


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return str(x)


def _p(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _ci_heading(result) -> str:
    levels = {e.ci_level for e in result.estimates}
    return f"{levels.pop():.0%} CI" if len(levels) == 1 else "CI (level varies)"


def _methods(result) -> list[str]:
    """Each distinct method once, in order of first use: the table's footnotes."""
    return list(dict.fromkeys(e.method for e in result.estimates))


ESTIMATE_HEADERS = ("indicator", "subgroup", "estimand", "timepoints", "n", "estimate", "std. error", "CI", "p",
                    "p (Holm)", "units", "method")


def _estimate_rows(result) -> list[list[str]]:
    methods = _methods(result)
    return [[e.indicator + (" *" if e.primary else ""), e.subgroup, e.estimand, " -> ".join(e.timepoints) or "-",
             str(e.n), _fmt(e.estimate),
             _fmt(e.std_error), f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]", _p(e.p_value), _p(e.p_value_holm),
             e.units, f"[{methods.index(e.method) + 1}]"] for e in result.estimates]


def _header_pairs(result) -> list[tuple[str, str]]:
    options = result.manifest.options if isinstance(result.manifest.options, dict) else {}
    data = [i for i in result.manifest.inputs if isinstance(i, dict) and str(i.get("role", "")).endswith("data")]
    rows = sum(int(i.get("rows") or 0) for i in data)
    return [("Evaluation", result.evaluation), ("Design", result.design),
            ("Intervention", result.intervention), ("Stage", str(options.get("stage") or "-")),
            ("Primary outcome", str(options.get("primary_outcome") or "-")),
            ("Follow-up", f"{options['follow_up_months']} months" if options.get("follow_up_months") is not None
             else "-"),
            ("Estimates", str(len(result.estimates))), ("Rows read", str(rows) if data else "-"),
            ("Seed", str(result.manifest.seed)), ("evalkit", result.manifest.evalkit_version)]


def balance_summary_lines(section: dict, max_rows: int | None = None) -> list[str]:
    """A plain-text balance summary (for the CLI): |SMD| before -> after per term, and the flags."""
    rows = section["rows"][:max_rows] if max_rows else section["rows"]
    width = max([len(r["term"]) for r in rows] + [4])
    out = [f"{'term':<{width}}  SMD before  SMD after  var ratio after  WWC band"]
    for r in rows:
        vr = "-" if r["var_ratio_after"] is None else f"{r['var_ratio_after']:.2f}"
        out.append(f"{r['term']:<{width}}  {r['smd_before']:>10.3f}  {r['smd_after']:>9.3f}  {vr:>15}  "
                   f"{r['wwc_band_after']}")
    out.append(f"max |SMD| {section['max_abs_smd_before']:.3f} before, {section['max_abs_smd_after']:.3f} after; "
               f"any |SMD| >= 0.1: {'yes' if section['flag_any_smd_ge_0_1'] else 'no'}; variance ratio outside "
               f"0.5-2: {'yes' if section['flag_var_ratio_outside'] else 'no'}; WWC baseline equivalence: "
               f"{'pass' if section['wwc_pass'] else 'not shown'}")
    return out


def _balance_lines(result) -> list[str]:
    from evalkit.result_sections import ABSENT

    # a before-and-after balance table (a matched or weighted comparison's; a trial's has one column)
    balance = result.section("balance")
    if balance is not None and balance.rows and balance.max_abs_smd_before is not ABSENT:
        return balance_summary_lines(balance.to_mapping())
    return []


def results_table(result) -> str:
    """A ResultSet's estimates (primary outcomes marked *), methods, balance and warnings, as text."""
    headers = list(ESTIMATE_HEADERS)
    headers[headers.index("CI")] = _ci_heading(result)
    text = _table(headers, _estimate_rows(result))
    text += "\n* primary outcome. Methods:\n" + "\n".join(
        f"  [{i}] {method}" for i, method in enumerate(_methods(result), 1))
    balance = _balance_lines(result)
    if balance:
        text += "\nBalance after matching\n" + "\n".join(balance)
    if result.warnings:
        text += "\nWarnings:\n" + "\n".join(f"  - {w.message}" for w in result.warnings)
    return text


def result_summary(result) -> str:
    """``ResultSet.summary()``: a header naming the study, then :func:`results_table`."""
    pairs = _header_pairs(result)
    left, right = pairs[0::2], pairs[1::2]
    lw = max(len(k) for k, _ in left) + 2
    lv = max(len(v) for _, v in left)
    rw = max(len(k) for k, _ in right) + 2
    lines = [f"{k + ':':<{lw}}{v:<{lv}}    {k2 + ':':<{rw}}{v2}" for (k, v), (k2, v2) in zip(left, right)]
    body = results_table(result)
    width = max(len(line) for line in lines + body.splitlines()[:2] + [result.title])
    rule = "=" * width
    return "\n".join([f"evalkit results: {result.title}", rule, *lines, rule, body])


def result_html(result) -> str:
    """``ResultSet._repr_html_``: the same header and estimates as compact HTML tables (notebooks)."""
    from html import escape

    pairs = _header_pairs(result)
    head = "".join(
        "<tr>" + "".join(f"<th style=\"text-align:left\">{escape(k)}:</th><td style=\"text-align:left\">"
                         f"{escape(v)}</td>" for k, v in pairs[i:i + 2]) + "</tr>"
        for i in range(0, len(pairs), 2))
    headers = list(ESTIMATE_HEADERS)
    headers[headers.index("CI")] = _ci_heading(result)
    numeric = {"n", "estimate", "std. error", "p", "p (Holm)"}
    cells = "".join(
        "<tr>" + "".join(
            (f"<th style=\"text-align:left\">{escape(v)}</th>" if j == 0 else
             f"<td style=\"text-align:{'right' if headers[j] in numeric else 'left'}\">{escape(v)}</td>")
            for j, v in enumerate(row)) + "</tr>"
        for row in _estimate_rows(result))
    notes = ["* primary outcome."] + [f"[{i}] {m}" for i, m in enumerate(_methods(result), 1)]
    warnings = "".join(f"<li>{escape(w.message)}</li>" for w in result.warnings)
    return (
        f"<div class=\"evalkit-results\">"
        f"<table class=\"simpletable\"><caption>evalkit results: {escape(result.title)}</caption>{head}</table>"
        f"<table class=\"simpletable\"><thead><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in headers)
        + f"</tr></thead><tbody>{cells}</tbody></table>"
        + "<p style=\"font-size:smaller\">" + "<br>".join(escape(n) for n in notes) + "</p>"
        + (f"<p><b>Warnings</b></p><ul>{warnings}</ul>" if warnings else "")
        + "</div>")
