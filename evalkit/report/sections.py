"""The sections of an evaluation report, each a function of the results and the context.

A report's ``index.qmd`` calls these from its code chunks (``#| output: asis``) and prints
what they return; so under Quarto and under the Pandoc fallback the same code writes the same
Markdown. Nothing here computes a statistic: every number comes from ``results.json`` and goes
through :mod:`evalkit.report.wording` (formatting, significance, direction) and
:mod:`evalkit.report.disclosure` (small counts). Every section is optional: a missing
``sections`` key or empty record gives an empty string or a short "not reported" line.

``context.json`` (written by ``evalkit report`` from the project's YAML) holds what the results
do not: labels, the logic model, the plan's evaluator, the disclosure threshold, the rating.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.report import wording as w
from evalkit.report.disclosure import Policy, guard_path, policy_from, suppress
from evalkit.report.figures import _asset_dir, _to, asset_file, emit, md_text
from evalkit.report.render import raw_block
from evalkit.report.tables import cnt, num, table, txt
from evalkit.results import Estimate, ResultSet

CONTEXT_SCHEMA = "evalkit.report-context/v1"
DESIGN_WORDS = {
    "pre_post": "before-and-after (pre/post) comparison in one group",
    "matched_comparison": "matched comparison group (propensity score matching)",
    "difference_in_differences": "difference-in-differences against a comparison group",
    "interrupted_time_series": "interrupted time series",
    "rct": "randomised controlled trial",
    "feasibility": "feasibility study",
}
MAIN_ESTIMANDS = ("mean_change", "change_in_proportion", "att", "ate", "did_att", "reported", "level_change",
                  "slope_change", "risk_ratio", "rate_ratio")
STAGE_WORDS = {"in_data": "In the data", "with_baseline": "With a baseline measure",
               "with_follow_up": "With a follow-up measure", "analysed": "Analysed", "treated_pool": "Eligible",
               "comparison_pool": "Eligible", "matched": "Matched", "discarded": "Not matched (discarded)"}


# --------------------------------------------------------------------------------------------
# loading


def load(folder: str | Path = ".") -> tuple[ResultSet, dict]:
    """The results and the context a report reads (nothing else, and nothing private)."""
    folder = Path(folder)
    results = ResultSet.read(guard_path(folder / "results.json"))
    ctx_path = guard_path(folder / "context.json")
    context = json.loads(ctx_path.read_text(encoding="utf-8")) if ctx_path.exists() else {}
    return results, context


policy = policy_from  # the disclosure policy of a report's context


def label(C: Mapping, indicator: str | None) -> str:
    if indicator is None:
        return "all indicators"
    info = (C.get("indicators") or {}).get(indicator) or {}
    return str(info.get("label") or indicator)


def _h(text: Any) -> str:
    """Text for plotly labels: markup escaped (plotly decodes &lt; &gt; &amp; but not &quot;)."""
    return html.escape(str(text), quote=False)


def _p(*sentences: str) -> str:
    """A paragraph of plain text, escaped for Markdown."""
    return "\n" + md_text(" ".join(s for s in sentences if s)) + "\n"


def _note(text: str) -> str:
    return "\n*" + md_text(text) + "*\n"


def sec_get(R: ResultSet, key: str) -> Mapping | None:
    value = (R.sections or {}).get(key)
    return value if isinstance(value, Mapping) and value else None


def _main(R: ResultSet) -> list[Estimate]:
    return [e for e in R.estimates if e.estimand in MAIN_ESTIMANDS]


def _est_label(C, e: Estimate, with_comparison: bool = True) -> str:
    text = label(C, e.indicator)
    if e.subgroup != "all":
        text += f" ({e.subgroup})"
    if with_comparison and e.comparison:
        text += f", {e.comparison}"
    return text


# --------------------------------------------------------------------------------------------
# summary


def summary(R: ResultSet, C: Mapping) -> str:
    ev = C.get("evaluation") or {}
    iv = C.get("intervention") or {}
    name = iv.get("name") or R.intervention
    design = DESIGN_WORDS.get(R.design, R.design.replace("_", " "))
    who = (ev.get("evaluator") or {}).get("name")
    done = f"{name} was evaluated with a {design}"
    done += f" by {who}" if who else ""
    done += " (recorded here from the study's own report; evalkit did not re-analyse it)." if ev.get("external") else "."
    if ev.get("follow_up_months"):
        done += f" Outcomes were followed up to {ev['follow_up_months']} months."
    out = ["\n### What was done\n", _p(done)]
    rule = w.rule_from_context(C)
    main = _main(R)
    primary = [e for e in main if e.primary] or main[:1]
    rest = [e for e in main if e not in primary and e.subgroup == "all"]
    out.append("\n### What was found\n")
    fs = sec_get(R, "feasibility")
    if fs:
        verdict = fs.get("verdict")
        if isinstance(verdict, str):
            out.append(_p(f"Feasibility: {verdict}"))
        path = fs.get("pathway")
        if isinstance(path, Mapping) and path.get("verdict"):
            out.append(_p(f"Next step: {path['verdict']} (next stage: {str(path.get('next_stage', '-')).replace('_', ' ')})."))
    elif not main:
        out.append(_p("The run produced no estimates."))
    for e in primary:
        out.append(_p("Primary outcome: " + w.sentence(e, _est_label(C, e, with_comparison=False), rule)))
    if rest:
        counts = w.summary_counts(rest, rule)
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        out.append(_p(f"Of the other {len(rest)} main estimate(s) for everyone: " + ", ".join(parts) + "."))
        for e in rest:
            out.append("\n- " + md_text(w.sentence(e, _est_label(C, e, with_comparison=False), rule)))
        out.append("\n")
    out.append("\n### How sure we are\n")
    sure = [w.design_caveat(R.design)]
    rating = (C.get("evidence") or {}) if isinstance(C.get("evidence"), Mapping) else {}
    if rating.get("level"):
        sure.append(f"The programme's evidence rating is {rating['level']} (see the evidence rating section).")
    if R.warnings:
        sure.append(f"The run recorded {len(R.warnings)} caution(s), listed under limitations.")
    if any(e.p_value_holm is not None for e in main):
        which = "adjusted" if rule.holm else "unadjusted"
        sure.append("P-values are also shown adjusted for multiple outcomes (Holm); significance is judged on the "
                    f"{which} p-values, as in the evidence rating.")
    out.append(_p(*sure))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# logic model


def mermaid_logic_model(C: Mapping, evaluated: Sequence[str]) -> str:
    """Mermaid source of the logic model, the evaluated outcomes highlighted (labels escaped)."""
    lm = C.get("logic_model") or {}
    nodes = lm.get("nodes") or []
    if not nodes:
        return ""
    measured = {(C.get("indicators") or {}).get(i, {}).get("measures") for i in evaluated}
    lines = ["flowchart LR"]
    ids = {}
    for k, node in enumerate(nodes):
        ids[node["id"]] = f"n{k}"
        text = _mermaid_label(f"{node.get('kind', '').capitalize()}: {node.get('label', node['id'])}")
        lines.append(f'  n{k}["{text}"]')
    for a, b in lm.get("links") or []:
        if a in ids and b in ids:
            lines.append(f"  {ids[a]} --> {ids[b]}")
    lines.append("  classDef evaluated fill:#fde68a,stroke:#b45309,stroke-width:3px,color:#111")
    lines.append("  classDef plain fill:#eef2f7,stroke:#6b7a90,color:#111")
    hit = [ids[n["id"]] for n in nodes if n["id"] in measured]
    if hit:
        lines.append(f"  class {','.join(hit)} evaluated")
    return "\n".join(lines)


def _mermaid_label(text: str) -> str:
    # Mermaid entity codes: markup in a label is drawn as text, never parsed as HTML
    table = {"&": "#amp;", "<": "#lt;", ">": "#gt;", '"': "#quot;", "#": "#35;", "[": "#91;", "]": "#93;",
             "{": "#123;", "}": "#125;", "|": "#124;", "`": "#96;"}
    return "".join(table.get(ch, ch) for ch in str(text).replace("\n", " "))


def logic_model_note(R: ResultSet, C: Mapping) -> str:
    known = C.get("indicators") or {}
    evaluated = sorted({e.indicator for e in R.estimates if e.indicator in known})
    if not evaluated:
        return ""
    names = ", ".join(label(C, i) for i in evaluated)
    return _note(f"Highlighted: the outcomes this evaluation measured ({names}).")


# --------------------------------------------------------------------------------------------
# participant flow


def _flow_stages(R: ResultSet):
    stages = list(R.flow)
    if not stages:
        return None, []
    primary = next((e.indicator for e in R.estimates if e.primary), None)
    overall = [s for s in stages if s.indicator is None]
    per_ind = [s for s in stages if s.indicator is not None and s.indicator == primary] or \
              [s for s in stages if s.indicator is not None and s.indicator == stages[-1].indicator]
    chosen = overall + [s for s in per_ind if (s.stage, s.group) not in {(o.stage, o.group) for o in overall}]
    return (primary if per_ind else None), chosen


def flow_plan(R: ResultSet, pol: Policy):
    """The flow's boxes, counts and suppressed cells, decided once per report.

    Relations: each stage = next stage + those lost between them (for matched designs the
    pool = matched + not matched or discarded); the "all" column = the sum of the groups.
    Suppression gives up the earlier stage first, so the number analysed stays visible.
    """
    indicator, stages = _flow_stages(R)
    groups: dict[str, list] = {}
    for s in stages:
        groups.setdefault(s.group, []).append(s)
    cells: dict[tuple, int] = {}
    relations = []
    layout = []
    for group, items in groups.items():
        main = [s for s in items if s.stage != "discarded"]
        boxes = []
        for i, s in enumerate(main):
            cells[(group, s.stage)] = s.n
            side = None
            if i + 1 < len(main) and main[i + 1].n <= s.n:
                nxt = main[i + 1]
                lost = s.n - nxt.n
                side = ("Not matched or discarded" if nxt.stage == "matched"
                        else f"Not {STAGE_WORDS.get(nxt.stage, nxt.stage).lower()}")
                cells[(group, "lost", s.stage)] = lost
                relations.append(((group, s.stage), [(group, nxt.stage), (group, "lost", s.stage)]))
            boxes.append((s, side))
        layout.append((group, boxes))
    parts = [g for g in groups if g != "all"]
    if "all" in groups and parts:
        for s in groups["all"]:
            relations.append((("all", s.stage), [(g, s.stage) for g in parts]))
    hidden = suppress(cells, relations, pol, prefer="total")
    return indicator, layout, cells, hidden


def hidden_values(R: ResultSet, pol: Policy) -> dict[str, set[int]]:
    """Counts the flow suppresses, by group: the same count is hidden wherever else it appears."""
    _i, _l, cells, hidden = flow_plan(R, pol)
    out: dict[str, set[int]] = {}
    for key in hidden:
        if cells.get(key) is not None:
            out.setdefault(key[0], set()).add(int(cells[key]))
    return out


def flow(R: ResultSet, C: Mapping) -> str:
    from evalkit.plots.flow import Box, flow_svg
    from evalkit.report.disclosure import count_text

    pol = policy(C)
    indicator, layout, cells, hidden = flow_plan(R, pol)
    if not layout:
        return _note("The run recorded no participant flow.")
    columns = []
    for group, boxes in layout:
        col = []
        for s, side in boxes:
            key = (group, s.stage)
            b_kwargs = {}
            if side is not None:
                lk = (group, "lost", s.stage)
                b_kwargs = {"side_title": side, "side_count": count_text(cells[lk], lk in hidden, pol)}
            col.append(Box(STAGE_WORDS.get(s.stage, s.stage.replace("_", " ")), count_text(s.n, key in hidden, pol),
                           **b_kwargs))
        title = {"all": "", "treated": "Took part", "comparison": "Comparison"}.get(group, group)
        columns.append((title, col))
    out = []
    if indicator is not None:
        out.append(_note(f"Counts for the primary outcome, {label(C, indicator)}, where counts differ by indicator."))
    out.append(_svg(flow_svg(columns), "flow"))
    attr = (R.sections or {}).get("attrition")
    if isinstance(attr, Mapping):
        bits = []
        if attr.get("overall") is not None:
            bits.append(f"Overall attrition: {w.fmt_pct(attr['overall'])}.")
        if attr.get("differential") is not None:
            bits.append(f"Differential attrition (took part minus comparison): {w.fmt_pct(attr['differential'])} "
                        "points.")
        if attr.get("definition"):
            bits.append(f"Attrition here is the {attr['definition']}.")
        if bits:
            out.append(_p(*bits))
    if hidden:
        out.append(_note(f"[c]: fewer than {pol.threshold} people, or a count that would reveal such a count "
                         "(suppressed for disclosure control)."))
    return "".join(out)


def _svg(svg: str, name: str) -> str:
    if _to() == "html":
        return raw_block(f'<figure class="ek-diagram">{svg}</figure>')
    path, ref = asset_file(f"{name}.svg", _asset_dir())
    path.write_text(svg, encoding="utf-8")
    return f"\n![]({ref}){{width=90%}}\n"


# --------------------------------------------------------------------------------------------
# methods


def _flatten(value, prefix=""):
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) if value else "(none)"
        yield prefix, "(not set)" if value is None else value


def conventions_in_words(R: ResultSet) -> list[str]:
    """One line per estimand and convention, from what each estimate recorded (issue 15: the
    methods section names the SE convention and reference distribution in words)."""
    from evalkit.estimate.conventions import in_words

    seen: dict[str, list[str]] = {}
    for e in R.estimates:
        words = in_words(e.details or {})
        if words:
            seen.setdefault(words, [])
            if e.estimand not in seen[words]:
                seen[words].append(e.estimand)
        boot = (e.details or {}).get("wild_bootstrap")
        if isinstance(boot, Mapping) and boot.get("method"):
            line = (f"{e.estimand} ({e.indicator}): with {boot.get('clusters')} clusters, also a "
                    f"{boot['method']}: p = {w.fmt(boot.get('p_value'), 3)}, {w.pct(boot.get('ci_level', 0.95))} CI "
                    f"{w.fmt(boot.get('ci_low'))} to {w.fmt(boot.get('ci_high'))}")
            seen.setdefault(line, [])
    return [(f"{', '.join(estimands)}: {words}" if estimands else words) for words, estimands in seen.items()]


def methods(R: ResultSet, C: Mapping) -> str:
    out = [_p(f"Design: {DESIGN_WORDS.get(R.design, R.design)}.", w.design_caveat(R.design))]
    by_method: dict[str, set] = {}
    for e in R.estimates:
        by_method.setdefault(e.method, set()).add(e.estimand)
    if by_method:
        out.append("\n**Estimation.**\n")
        for method, estimands in by_method.items():
            out.append("\n- " + md_text(f"{', '.join(sorted(estimands))}: {method}"))
        out.append("\n")
    conventions = conventions_in_words(R)
    if conventions:
        out.append("\n**Standard errors and reference distributions.**\n")
        for line in conventions:
            out.append("\n- " + md_text(line))
        out.append("\n\nThe conventions and their Stata and R equivalents are listed in evalkit's "
                   "docs/conventions.md.\n")
    levels = sorted({e.ci_level for e in R.estimates})
    if levels:
        out.append(_p(f"Confidence intervals are {', '.join(w.pct(x) for x in levels)}; no difference is 0, or 1 "
                      "for ratios.", w.rule_words(w.rule_from_context(C))))
    rc = sec_get(R, "reliable_change")
    if rc:
        first = next(iter(rc.values()))
        if isinstance(first, Mapping) and first.get("method"):
            out.append(_p("Reliable change: " + str(first["method"]) + "."))
    options = R.manifest.options or {}
    rows = [[txt(k), txt(v)] for k, v in _flatten(options)]
    rows.append([txt("seed"), txt(R.manifest.seed)])
    out.append("\n**Every option that shaped the analysis** (from the plan, after defaults):\n")
    tbl = table(["option", "value"], rows, to=_to(), policy=policy(C), table_id="ek-options")
    if _to() == "html" and len(rows) > 15:
        tbl = (raw_block(f"<details><summary>Show all {len(rows)} options</summary>") + tbl
               + raw_block("</details>"))
    out.append(tbl)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# results


RESULT_HEADERS = ["indicator", "subgroup", "estimand", "comparison", "n", "n took part", "n comparison",
                  "estimate", "CI low", "CI high", "CI level", "p", "p (Holm)", "effect size", "significant",
                  "reading"]


PRINT_HEADERS = ["indicator", "subgroup", "estimand", "n", "estimate", "CI low", "CI high", "p", "significant"]


def _significance_note(C: Mapping) -> str:
    rule = w.rule_from_context(C)
    holm = " (Holm-adjusted where given)" if rule.holm else ""
    threshold = f"{rule.alpha:g}" if rule.alpha is not None else "1 minus the CI level"
    return (f"p{holm} below {threshold}, or, without a p-value, a confidence interval that excludes no difference "
            "(the rule the evidence rating uses).")


def results_table(R: ResultSet, C: Mapping) -> str:
    """Main estimates in one table (``ek-results``); event-time and cohort cells in another."""
    main = [(i, e) for i, e in enumerate(R.estimates) if e.estimand in MAIN_ESTIMANDS]
    more = [(i, e) for i, e in enumerate(R.estimates) if e.estimand not in MAIN_ESTIMANDS]
    if not main and not more:
        return _note("No estimates.")
    plan = _count_plan(R, policy(C))
    out = [_results_rows(C, main or more, "ek-results", plan)]
    out.append(_note("* primary outcome. Significant: " + _significance_note(C) + " "
                     "Estimates are in the units of each indicator; ratios have no difference at 1."))
    if main and more:
        out.append(f"\n**Further estimates** ({len(more)}: event-time and cohort-by-period effects):\n")
        out.append(_results_rows(C, more, "ek-results-more", plan))
    return "".join(out)


def _count_plan(R: ResultSet, pol: Policy) -> set:
    """Which counts of the results tables to hide, decided for all estimates at once.

    Relations: n = n took part + n comparison in each row; and, where two or more levels of a
    subgroup column are reported for the same indicator, estimand and comparison, the everyone
    row's n = the sum of the levels' n. Counts hidden in the flow are hidden here too.
    """
    elsewhere = hidden_values(R, pol)
    cells, relations, also = {}, [], []
    families: dict[tuple, dict] = {}
    for i, e in enumerate(R.estimates):
        for k, v, g in (("n", e.n, "all"), ("t", e.n_treated, "treated"), ("c", e.n_comparison, "comparison")):
            if v is not None:
                cells[(i, k)] = v
                if v in elsewhere.get(g, ()):
                    also.append((i, k))
        relations.append(((i, "n"), [(i, "t"), (i, "c")]))
        column = e.subgroup.split("=", 1)[0] if e.subgroup != "all" else None
        fam = families.setdefault((e.indicator, e.estimand, e.comparison, tuple(e.timepoints)), {})
        fam.setdefault(column, []).append(i)
    for fam in families.values():
        everyone = fam.get(None)
        for column, rows in fam.items():
            if column is not None and everyone and len(rows) >= 2:
                relations.append(((everyone[0], "n"), [(r, "n") for r in rows]))
    return suppress(cells, relations, pol, also=also)


def _results_rows(C: Mapping, items, table_id: str, plan: set) -> str:
    """Rows of a results table; ``plan``: the counts to hide (:func:`_count_plan`)."""
    pol = policy(C)
    rule = w.rule_from_context(C)
    rows, attrs = [], []
    for i, e in items:
        v = w.verdict(e, rule)
        hidden = {k for k in ("n", "t", "c") if (i, k) in plan}
        es = e.effect_size
        rows.append([
            txt(("* " if e.primary else "") + label(C, e.indicator), "indicator"), txt(e.subgroup, "subgroup"),
            txt(e.estimand, "estimand"), txt(e.comparison or " -> ".join(e.timepoints), "comparison"),
            cnt(e.n, "n" in hidden, "n"), cnt(e.n_treated, "t" in hidden, "n_treated"),
            cnt(e.n_comparison, "c" in hidden, "n_comparison"),
            num(w.fmt(e.estimate), "estimate"), num(w.fmt(e.ci_low), "ci_low"), num(w.fmt(e.ci_high), "ci_high"),
            num(w.pct(e.ci_level), "ci_level"), num(w.fmt_p(e.p_value), "p_value"),
            num(w.fmt_p(e.p_value_holm), "p_value_holm"),
            txt(f"{es.kind} {w.fmt(es.value)}" if es else "-", "effect_size"), txt(v.marker, "significant"),
            txt(v.outcome, "outcome")])
        attrs.append({"row": i, "indicator": e.indicator, "estimand": e.estimand, "subgroup": e.subgroup})
    if _to() != "html":  # a printed page has room for fewer columns
        keep = [RESULT_HEADERS.index(h) for h in PRINT_HEADERS]
        return table(PRINT_HEADERS, [[r[k] for k in keep] for r in rows], to=_to(), policy=pol)
    return table(RESULT_HEADERS, rows, to=_to(), policy=pol, table_id=table_id, row_attrs=attrs)


def _wrap(text: str, width: int = 38) -> str:
    import textwrap

    return "<br>".join(_h(line) for line in textwrap.wrap(text, width)) or _h(text)


def forest(R: ResultSet, C: Mapping) -> str:
    """Forest plots of the main estimates: differences and ratios on separate axes."""
    from evalkit.plots.forest import ForestRow

    rule = w.rule_from_context(C)
    pairs = []
    for e in _main(R):
        v = w.verdict(e, rule)
        text = f"{label(C, e.indicator)}{f' ({e.subgroup})' if e.subgroup != 'all' else ''} [{e.estimand}]"
        pairs.append((ForestRow(label=_wrap(text), estimate=e.estimate, ci_low=e.ci_low, ci_high=e.ci_high, null=v.null,
                                outcome=v.outcome, hover=_h(f"{text}: {w.fmt(e.estimate)} ({w.interval(e)}); {v.outcome}")),
                      ForestRow(text, e.estimate, e.ci_low, e.ci_high, v.null, v.outcome)))
    return forest_figures(pairs)


def forest_figures(pairs: Sequence[tuple]) -> str:
    """One forest plot per scale (differences; ratios on a log axis), from (interactive, static)
    pairs of :class:`~evalkit.plots.forest.ForestRow`: the first with its texts escaped for plotly."""
    from evalkit.plots.forest import mpl_forest, plotly_forest

    by_null: dict[float, list] = {}
    for shown, plain in pairs:
        by_null.setdefault(shown.null, []).append((shown, plain))
    out = []
    for null, items in sorted(by_null.items()):
        x_title = "ratio (log scale; 1 = no difference)" if null == 1 else "difference (0 = no difference)"
        shown, plain = [a for a, _b in items], [b for _a, b in items]
        out.append(emit(lambda rows=shown, x=x_title: plotly_forest(rows, x_title=x),
                        lambda rows=plain, x=x_title: mpl_forest(rows, x_title=x)))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# design-specific sections


def balance(R: ResultSet, C: Mapping) -> str:
    bal = sec_get(R, "balance")
    if not bal or not bal.get("rows"):
        return ""
    rows = []
    covs, before, after = [], [], []
    for r in bal["rows"]:
        name = str(r.get("covariate") or r.get("name") or r.get("term") or "?")
        covs.append(name)
        before.append(r.get("smd_before"))
        after.append(r.get("smd_after"))
        rows.append([txt(name, "covariate"), num(w.fmt(r.get("smd_before")), "smd_before"),
                     num(w.fmt(r.get("smd_after")), "smd_after"),
                     num(w.fmt(r.get("var_ratio_before")), "var_ratio_before"),
                     num(w.fmt(r.get("var_ratio_after")), "var_ratio_after"),
                     num(w.fmt(r.get("ecdf_mean_after")), "ecdf_mean_after"),
                     num(w.fmt(r.get("ecdf_max_after")), "ecdf_max_after"),
                     txt(r.get("wwc_band_after") or "-", "wwc_band_after")])
    out = [table(["covariate", "SMD before", "SMD after", "variance ratio before", "variance ratio after",
                  "eCDF mean after", "eCDF max after", "WWC band after"], rows, to=_to(), policy=policy(C),
                 table_id="ek-balance")]
    flags = []
    if bal.get("flag_any_smd_ge_0_1") is not None:
        flags.append("Some covariate still has |SMD| of 0.1 or more after matching." if bal["flag_any_smd_ge_0_1"]
                     else "Every covariate has |SMD| under 0.1 after matching.")
    if bal.get("flag_var_ratio_outside"):
        flags.append("Some variance ratio lies outside 0.5 to 2.")
    if bal.get("wwc_pass") is not None:
        flags.append("Baseline equivalence meets the WWC standard." if bal["wwc_pass"]
                     else "Baseline equivalence does not meet the WWC standard.")
    if bal.get("formula"):
        flags.append(f"Standardised mean difference: {bal['formula']}.")
    out.append(_p(*flags))
    from evalkit.plots.balance import mpl_love, plotly_love

    out.append(emit(lambda: plotly_love([_h(c) for c in covs], before, after), lambda: mpl_love(covs, before, after)))
    return "".join(out)


def matching(R: ResultSet, C: Mapping) -> str:
    mt = (R.sections or {}).get("matching")
    if not isinstance(mt, Mapping):
        return ""
    pol = policy(C)
    sizes = mt.get("sizes") or {}
    elsewhere = hidden_values(R, pol)
    rows = []
    if isinstance(sizes, Mapping):
        for stage, v in sizes.items():
            if not isinstance(v, Mapping):
                continue
            cells = {g: v.get(g) for g in ("treated", "comparison") if isinstance(v.get(g), int)}
            hidden = suppress(cells, [], pol, also=[g for g, n in cells.items() if n in elsewhere.get(g, ())])
            rows.append([txt(stage.replace("_", " ")), *(cnt(cells.get(g), g in hidden, g) for g in ("treated", "comparison"))])
    out = []
    if rows:
        out.append(table(["stage", "took part", "comparison"], rows, to=_to(), policy=pol, table_id="ek-matching"))
    opts = {k: v for k, v in mt.items() if k in ("method", "distance", "estimand", "ratio", "replace", "order",
                                                 "discard", "matched_sets") and not isinstance(v, (Mapping, list))}
    cal = mt.get("caliper")
    if isinstance(cal, Mapping) and cal.get("sd_units") is not None:
        opts["caliper"] = (f"{cal['sd_units']} SD of the {cal.get('matched_on', 'score')} (width {w.fmt(cal.get('width_logit', cal.get('width')))} "
                           f"on the logit scale, {w.fmt(cal.get('width_probability'))} on the probability scale)")
    if opts:
        out.append(_p("Matching: " + "; ".join(f"{k.replace('_', ' ')} = {v}" for k, v in opts.items()) + "."))
    ps = sec_get(R, "propensity")
    if ps and ps.get("formula"):
        link = f" ({ps['model']})" if ps.get("model") else ""
        out.append(_p(f"Propensity model{link}: {ps['formula']}."))
    return "".join(out)


def reliable_change(R: ResultSet, C: Mapping) -> str:
    rc = sec_get(R, "reliable_change")
    if not rc:
        return ""
    pol = policy(C)
    rows, labels, counts, texts = [], [], [], []
    keys = ("improved", "no_reliable_change", "deteriorated")
    for ind, entry in rc.items():
        if not isinstance(entry, Mapping) or entry.get("improved") is None:
            continue
        cells = {k: entry.get(k) for k in ("n", *keys)}
        hidden = suppress(cells, [("n", list(keys))], pol)
        shown = [None if k in hidden or pol.small(cells[k]) else cells[k] for k in keys]
        mark = [pol.mark if v is None else str(v) for v in shown]
        name = label(C, ind)
        labels.append(name)
        counts.append(shown)
        texts.append(mark)
        rows.append([txt(name), num(w.fmt(entry.get("threshold_points"), 2), "threshold"),
                     num(w.fmt(entry.get("reliability"), 2), "reliability"),
                     txt(entry.get("reliability_source") or "-"), cnt(cells["n"], "n" in hidden, "n"),
                     *(cnt(cells[k], k in hidden, k) for k in keys)])
    if not rows:
        return ""
    from evalkit.plots.change import mpl_reliable_change, plotly_reliable_change

    out = [table(["indicator", "threshold (points)", "reliability", "reliability from", "n", "improved",
                  "no reliable change", "deteriorated"], rows, to=_to(), policy=pol, table_id="ek-reliable-change")]
    out.append(emit(lambda: plotly_reliable_change([_h(x) for x in labels], counts, texts),
                    lambda: mpl_reliable_change(labels, counts, texts)))
    return "".join(out)


def event_study(R: ResultSet, C: Mapping) -> str:
    es = sec_get(R, "event_study")
    if not es:
        return ""
    from evalkit.plots.forest import ForestRow, mpl_forest, plotly_forest

    out = []
    for ind, entry in es.items():
        if not isinstance(entry, Mapping):
            continue
        rows = [ForestRow(label=f"t = {r.get('event_time')}", estimate=r.get("estimate") or 0.0, ci_low=r.get("ci_low"),
                          ci_high=r.get("ci_high"), null=0.0, outcome="unknown") for r in entry.get("rows") or []]
        test = entry.get("pre_trend_test") or {}
        out.append(f"\n#### {md_text(label(C, ind))}\n")
        if test.get("p_value") is not None:
            # the evidence rating's threshold (rules: parallel_trends_alpha), so text and rating agree
            alpha = w.pre_trend_alpha(C)
            out.append(_p(f"Pre-trend test ({test.get('hypothesis', 'leads are zero')}): p = {w.fmt_p(test['p_value'])}."
                          + (f" The leads differ from zero (p < {alpha:g}): the parallel-trends assumption is in doubt."
                             if test["p_value"] < alpha else f" No evidence against parallel trends (p >= {alpha:g}).")))
        if rows:
            out.append(emit(lambda rows=rows: plotly_forest(rows, x_title="effect relative to t = -1"),
                            lambda rows=rows: mpl_forest(rows, x_title="effect relative to t = -1")))
        honest = honest_did_words((sec_get(R, "honest_did") or {}).get(ind))
        if honest:
            out.append(_p(honest))
    return "".join(out)


def honest_did_words(entry) -> str | None:
    """Rambachan-Roth smoothness bounds in one paragraph (run when the pre-trend test failed)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("first_post_period"), Mapping):
        return None
    sens = entry["first_post_period"]
    rows = [r for r in sens.get("rows") or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    first = rows[0]
    text = (f"Sensitivity to a violation of parallel trends (Rambachan & Roth 2023, smoothness bounds): if the "
            f"difference in trends continued linearly from before the start (M = 0), the effect in the first "
            f"period after it would lie between {w.fmt(first.get('lb'))} and {w.fmt(first.get('ub'))} (95% "
            "fixed-length interval). ")
    top = sens.get("breakdown_M")
    if top is None:
        text += ("That interval includes zero: once the pre-period trend is carried forward, the data do not show "
                 "an effect.")
    elif top >= rows[-1].get("M", top):
        text += (f"The interval excludes zero for every bend in the trend up to M = {w.fmt(top, 3)} per period, "
                 "the largest the pre-period data support.")
    else:
        text += (f"The interval excludes zero while the trend bends by at most M = {w.fmt(top, 3)} per period "
                 "between consecutive periods; beyond that, the conclusion depends on how far trends diverge.")
    return text


def robustness(R: ResultSet, C: Mapping) -> str:
    """Refutations (DoWhy: original and new effect side by side), E-value, Rosenbaum bounds."""
    sec = R.sections or {}
    out = []
    rob = sec.get("robustness")
    refs = rob.get("refutations") if isinstance(rob, Mapping) else rob
    if isinstance(rob, Mapping) and rob.get("status") == "not run":
        out.append(_p(f"Refutation checks were not run: {rob.get('reason') or 'no reason recorded'}."))
    if isinstance(refs, list) and refs:
        rows = []
        for r in refs:
            if not isinstance(r, Mapping):
                continue
            passed = r.get("passed", r.get("pass"))
            rows.append([txt(str(r.get("name", "?")).replace("_", " ")),
                         num(w.fmt(r.get("original_effect", r.get("original"))), "original"),
                         num(w.fmt(r.get("new_effect", r.get("new"))), "new"),
                         txt({True: "pass", False: "FAIL", None: "not judged"}.get(passed, str(passed)), "result"),
                         txt(r.get("rule") or "-")])
        out.append(table(["refutation", "original effect", "new effect", "result", "rule"], rows, to=_to(),
                         policy=policy(C), table_id="ek-robustness"))
        if isinstance(rob, Mapping):
            agree = rob.get("agreement")
            bits = []
            if rob.get("all_passed") is not None:
                bits.append("Every refutation passed." if rob["all_passed"] else "At least one refutation failed: "
                            "treat the estimate with extra caution.")
            if isinstance(agree, Mapping) and agree.get("dowhy_estimate") is not None:
                bits.append(f"DoWhy's own estimate was {w.fmt(agree['dowhy_estimate'])} against evalkit's "
                            f"{w.fmt(agree.get('evalkit_estimate'))}"
                            + (f" ({w.fmt(agree['difference_in_standard_errors'], 2)} standard errors apart)"
                               if agree.get("difference_in_standard_errors") is not None else "") + ".")
            out.append(_p(*bits))
    sens = sec.get("sensitivity")
    if isinstance(sens, Mapping) and sens:
        bits = []
        ev = sens.get("e_value")
        if isinstance(ev, Mapping) and ev.get("point") is not None:
            bits.append(f"E-value {w.fmt(ev['point'], 2)} (confidence limit: {w.fmt(ev.get('ci_bound'), 2)}), from "
                        f"{ev.get('from') or 'the primary estimate'}: "
                        f"{ev.get('reading') or 'how strongly an unmeasured confounder would have to be associated with both taking part and the outcome to explain the effect away'}.")
        elif isinstance(ev, Mapping) and ev.get("reason"):
            bits.append(f"E-value not computed: {ev['reason']}.")
        elif isinstance(ev, (int, float)):
            bits.append(f"E-value: {w.fmt(ev, 2)}.")
        rb = sens.get("rosenbaum")
        gamma = rb.get("gamma_critical") if isinstance(rb, Mapping) else sens.get("rosenbaum_gamma", sens.get("gamma"))
        p1 = rb.get("p_value_gamma_1") if isinstance(rb, Mapping) else None
        if gamma is not None and p1 is not None and not p1 < rb.get("alpha", 0.05):
            bits.append(f"Rosenbaum bounds: the effect is not significant even before any hidden bias (Gamma = 1, "
                        f"p = {w.fmt(p1, 3)}), so there is nothing for hidden bias to explain away.")
        elif gamma is not None:
            bits.append(f"Rosenbaum bounds: the effect stays significant for hidden bias up to Gamma = "
                        f"{w.fmt(gamma, 2)} (a hidden factor could multiply the odds of taking part by that much"
                        " within a matched pair before the conclusion changes).")
        elif isinstance(rb, Mapping) and rb.get("reason"):
            bits.append(f"Rosenbaum bounds: {rb.get('status', 'not computed')} ({rb['reason']}).")
        out.append(_p(*bits))
    if not out:
        return _note("No robustness or sensitivity checks were recorded for this design.")
    return "".join(out)


def feasibility(R: ResultSet, C: Mapping) -> str:
    fs = sec_get(R, "feasibility")
    if not fs:
        return ""
    pol = policy(C)
    rows = []
    for r in fs.get("criteria") or []:
        if not isinstance(r, Mapping):
            continue
        count = r.get("count") if isinstance(r.get("count"), int) else None
        denom = r.get("denominator")
        denom = int(denom) if isinstance(denom, (int, float)) and float(denom).is_integer() else None
        # a proportion with its denominator reveals the count: a small count (or a small rest)
        # hides both, and then the value too
        small = count is not None and (pol.small(count) or (denom is not None and pol.small(denom - count)))
        proportion = (r.get("units") or "").startswith("proportion")
        value = r.get("value")
        shown = (w.fmt_pct(value) if proportion else w.fmt(value, 2)) if not small or not proportion else pol.mark
        ci = "-"
        if r.get("ci_low") is not None and not small:
            ci = (f"{w.fmt_pct(r['ci_low'])} to {w.fmt_pct(r.get('ci_high'))}" if proportion
                  else f"{w.fmt(r['ci_low'], 2)} to {w.fmt(r.get('ci_high'), 2)}")
        thresholds = f"green {r.get('green')}, amber {r.get('amber')} ({r.get('better') or 'higher'} is better)"
        rows.append([txt(r.get("label") or r.get("key"), "criterion"), num(shown, "value"), num(ci, "ci"),
                     cnt(count, small, "count"), cnt(denom, small, "denominator"), txt(thresholds),
                     txt(str(r.get("rag") or "-").upper(), "rag")])
    out = []
    if rows:
        out.append(table(["criterion", "value", "CI", "count", "of", "thresholds", "RAG"], rows, to=_to(),
                         policy=pol, table_id="ek-feasibility"))
    bits = []
    if isinstance(fs.get("verdict"), str):
        bits.append(fs["verdict"])
    if isinstance(fs.get("thresholds_rule"), str):
        bits.append(f"Thresholds: {fs['thresholds_rule']}.")
    out.append(_p(*bits))
    return "".join(out)


def counterfactual(R: ResultSet, C: Mapping) -> str:
    cf = sec_get(R, "counterfactual")
    if not cf:
        return ""
    from evalkit.plots.series import mpl_counterfactual, plotly_counterfactual

    pol = policy(C)
    out = []
    for ind, entry in cf.items():
        if not isinstance(entry, Mapping):
            continue
        rows = [r for r in entry.get("rows") or [] if isinstance(r, Mapping) and r.get("area", "all") == "all"]
        if not rows:
            continue
        periods = [str(r.get("period")) for r in rows]
        # an observed rate with its population reveals the count: small counts are left out
        observed = [None if pol.small(r.get("observed")) else r.get("observed_rate") for r in rows]
        fitted = [r.get("fitted_rate") for r in rows]
        counter = [r.get("counterfactual_rate") for r in rows]
        y_title = f"rate {entry.get('rates_are') or ''}".strip()
        left_out = sum(1 for r in rows if pol.small(r.get("observed")))
        out.append(f"\n#### {md_text(label(C, ind))}\n")
        out.append(emit(lambda a=periods, b=observed, c=fitted, d=counter, i=entry.get("interruption"), y=y_title:
                        plotly_counterfactual(a, b, c, d, i, _h(y)),
                        lambda a=periods, b=observed, c=fitted, d=counter, i=entry.get("interruption"), y=y_title:
                        mpl_counterfactual(a, b, c, d, i, y)))
        if left_out:
            out.append(_note(f"Observed rates of months with 1 to {pol.threshold - 1} events are not shown "
                             "(disclosure control)."))
    return "".join(out)


def external(R: ResultSet, C: Mapping) -> str:
    ex = (R.sections or {}).get("external")
    if not isinstance(ex, Mapping):
        return ""
    pol = policy(C)
    bits = [f"Source: {ex.get('citation') or 'not given'}."]
    sample = ex.get("sample") or {}
    t, c, k = sample.get("treated"), sample.get("comparison"), sample.get("clusters")
    rows = []
    cells = {"t": t, "c": c}
    hidden = suppress(cells, [], pol)
    rows.append([txt("took part"), cnt(t, "t" in hidden)])
    rows.append([txt("comparison"), cnt(c, "c" in hidden)])
    if k is not None:
        rows.append([txt("clusters"), cnt(k, pol.small(k))])
    attr = ex.get("attrition") or {}
    if attr.get("overall") is not None:
        bits.append(f"Overall attrition {w.fmt_pct(attr['overall'])}, differential {w.fmt_pct(attr.get('differential'))}.")
    if ex.get("baseline_equivalence") is not None:
        bits.append("Baseline equivalence was " + ("shown." if ex["baseline_equivalence"] else "not shown."))
    if ex.get("intention_to_treat") is not None:
        bits.append("Analysis by intention to treat." if ex["intention_to_treat"] else "Not analysed by intention to treat.")
    if ex.get("follow_up_months"):
        bits.append(f"Follow-up: {ex['follow_up_months']} months.")
    return _p(*bits) + table(["sample", "count"], rows, to=_to(), policy=pol, table_id="ek-external-sample")


def evidence(R: ResultSet, C: Mapping) -> str:
    rating = C.get("evidence")
    if not isinstance(rating, Mapping) or not rating:
        return _note("No evidence rating was available when this report was written "
                     "(run `evalkit compare` and then `evalkit report` again).")
    out = []
    level = rating.get("level")
    if level:
        ne = " (NE: evidence of no effect or harm)" if rating.get("not_effective") or rating.get("ne") else ""
        # a self-assessment against the EIF standards, never presented as EIF's own rating
        words = rating.get("level_words") or f"Self-assessed {level} against the EIF evidence standards (not an EIF rating)"
        out.append(_p(f"Evidence level for {rating.get('programme') or R.intervention}: {words}{ne}."))
    for st in rating.get("evidence_statements") or []:
        if isinstance(st, Mapping) and st.get("words"):
            out.append("\n- " + md_text(f"Evidence statement: {st['words']}" + (f". {st['note']}" if st.get("note") else "")))
    if rating.get("evidence_statements"):
        out.append("\n")
    for key in ("explanation", "reasons", "why"):
        value = rating.get(key)
        if isinstance(value, str):
            out.append(_p(value))
        elif isinstance(value, list):
            out.extend("\n- " + md_text(v if isinstance(v, str) else json.dumps(v, sort_keys=True)) for v in value)
            out.append("\n")
    study = rating.get("study")
    if isinstance(study, Mapping):
        bits = [f"This study: {study.get('design_words') or R.design}"]
        if study.get("sms") is not None:
            bits.append(f"Maryland Scientific Methods Scale level {study['sms']}")
        if study.get("counted") is False:
            bits.append(f"an {study.get('record_status') or 'unverified'} study record: shown, never counted in a level")
        elif study.get("supports"):
            bits.append(f"can support up to level {study['supports']}")
        out.append(_p(", ".join(str(b) for b in bits) + "."))
        checks = [c for c in study.get("checks") or [] if isinstance(c, Mapping)]
        if checks:
            rows = [[txt(c.get("label") or c.get("id"), "check"), txt(str(c.get("status")).replace("_", " "), "status"),
                     txt(c.get("evidence") or "")] for c in checks]
            out.append(table(["check", "status", "evidence"], rows, to=_to(), policy=policy(C),
                             table_id="ek-evidence-checks"))
    if rating.get("basis"):
        out.append(_p(f"The level rests on {rating['basis']}."))
    cited = rating.get("rests_on") or rating.get("rules")
    if isinstance(cited, Mapping):
        for who, ids in cited.items():
            if ids:
                out.append(_p(f"Rules published by {'EIF' if who == 'EIF' else 'evalkit (a configurable toolkit default, not EIF)'}: "
                              + ", ".join(map(str, ids)) + "."))
    return "".join(out) or _note("The rating file holds no level.")


def limitations(R: ResultSet, C: Mapping) -> str:
    if not R.warnings:
        return _p("The run recorded no cautions. The limitations of the design itself are described under methods.")
    out = []
    for wn in R.warnings:
        where = f" ({label(C, wn.indicator)})" if wn.indicator else ""
        out.append("\n- " + md_text(f"{wn.message}{where}") + f" \\[{md_text(wn.code)}\\]")
    return "".join(out) + "\n"


def manifest(R: ResultSet, C: Mapping) -> str:
    m = R.manifest
    out = [_p(f"evalkit {m.evalkit_version}, Python {m.python_version}, seed {m.seed}. Results schema {R.schema}. "
              "The same inputs and seed give a byte-identical results.json.")]
    rows = [[txt(i.get("path")), txt(i.get("role", "-")), txt(i.get("sha256", "-"), "sha256"),
             txt(i.get("rows", "-"))] for i in m.inputs]
    out.append(table(["input", "role", "SHA-256", "rows"], rows, to=_to(), policy=policy(C), table_id="ek-inputs"))
    deps = [[txt(k), txt(v)] for k, v in sorted(m.dependencies.items())]
    out.append(table(["package", "version"], deps, to=_to(), policy=policy(C), table_id="ek-dependencies"))
    return "".join(out)
