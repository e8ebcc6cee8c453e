"""The portfolio page: interventions compared by EIF level, and an index of every report.

Built from ``.evalkit/results/portfolio.json`` (``evalkit compare``) and the list of reports, as one page of
the same publication as the reports: the reach of an intervention is the same count (the same
cell of the ledger) as the report's number of participants, so it is hidden wherever the report
hides it; a headline effect of a small group is not shown. Either input may be missing, and the
page says so rather than failing.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from pathlib import Path

from evalkit.publish.document import Col, Markdown
from evalkit.publish.text import md_text
from evalkit.publish.values import Fixed, Phrase, Stat
from evalkit.report import wording as w
from evalkit.verdict import REPORT_WORDS, null_for


def build_portfolio_page(pub, path: str, reports: Sequence[Mapping], portfolio: Mapping | None,
                         names: Mapping[str, str], *, reports_built: Mapping | None = None,
                         approaches: Mapping[str, list] | None = None,
                         value_for_money: Mapping[str, Mapping] | None = None, **_kw):
    page = pub.page(path, "Evaluations and the evidence portfolio", source="portfolio.json and the reports")
    # each intervention's counts on its own reports' pages: a portfolio row is the same fact as one of
    # those (its reach, its headline n), never as an equal number about another programme (linking
    # those withheld Reach's cost-period starters to protect a count on Phoenix's page)
    page_intervention = {f"{r.get('id')}/index": r.get("intervention") for r in reports}
    report_counts: dict = {}
    for p in pub.pages:
        if p is not page:
            report_counts.setdefault(page_intervention.get(p.path), []).extend(p.counts)
    page.heading("Interventions by evidence level", anchor="sec-portfolio")
    if not portfolio:
        page.note("No evidence portfolio yet: run `evalkit compare` to rate every intervention, then "
                  "`evalkit report` again.")
    else:
        _portfolio_table(page, portfolio, report_counts, value_for_money or {})
        _portfolio_forest(page, portfolio)
    if approaches and any(approaches.values()):
        _approaches(page, approaches, names)
    page.heading("Every report", anchor="sec-reports")
    _report_list(page, reports, names)
    _monitoring_links(page, Path(pub.out_root))  # the dashboard and any needs assessment beside the reports
    return page


def _approaches(page, approaches: Mapping[str, list], names: Mapping[str, str]) -> None:
    """The evidence toolkits' rating of each intervention's approach (issue 16, point 11)."""
    from evalkit.publish.document import Bullets
    from evalkit.report.sections import IMPACT_WORDS

    page.heading("Evidence for each approach", anchor="sec-approaches")
    texts = []
    for lm_id, items in sorted(approaches.items()):
        for x in items or []:
            bits = [f"{names.get(lm_id, lm_id)}: {x.get('source')} rates {x.get('approach')} as "
                    f"{IMPACT_WORDS.get(x.get('impact'), x.get('impact'))}"]
            if x.get("evidence_quality") is not None:
                bits.append(f"evidence quality {x['evidence_quality']} of 5")
            texts.append("; ".join(bits) + (f" ({x['note']})" if x.get("note") else "")
                         + f"; read {x.get('retrieved')}.")
    items_: list = [None] * len(texts)
    for k, t in enumerate(texts):
        page.untrusted_item(t, items_, k)
    page.add(Bullets(items_))
    page.note("A toolkit rates the approach across studies elsewhere, not the programme itself (its EIF level is "
              "in the table above).")


# the rating's words for a headline, as a reader says them (never "null")
VERDICT_WORDS = {"positive": "improved", "harmful": "worsened", "null": "no clear change", "unknown": "unclear",
                 None: "-"}


def _monitoring_links(page, out_root: Path) -> None:
    """Links to the monitoring dashboard and the needs assessments published beside the reports (issue 22)."""
    import re

    folder = out_root / "monitoring"
    sna = sorted(p.name for p in folder.glob("sna-*.html") if re.fullmatch(r"sna-\d{4}-\d{2}-to-\d{4}-\d{2}\.html", p.name))
    if not (folder / "dashboard.html").exists() and not sna:
        return
    page.heading("Monitoring", anchor="sec-monitoring")
    lines = []
    if (folder / "dashboard.html").exists():  # names written by evalkit itself, never data
        lines.append("- [Outcomes monitoring dashboard](monitoring/dashboard.html): indicators against their "
                     "targets, XmR charts, area and period filters")
    for name in sna:
        span = name[len("sna-"):-len(".html")].replace("-to-", " to ")
        lines.append(f"- [Strategic needs assessment, {span}](monitoring/{name})")
    page.add(Markdown("\n" + "\n".join(lines) + "\n"))


def _cost_cols(page, intervention: str, row: Mapping | None) -> list:
    """Cost per participant, cost rating and cost per outcome: hidden with the count of starters they
    divide by (the same ledger cell as the reports' value-for-money tables)."""
    from evalkit.publish.values import Derived
    from evalkit.report.value_for_money import _key
    from evalkit.vfm.portfolio import cost_columns

    if not row:
        return [Col("-", "cost_per_participant"), Col("-", "cost_rating"), Col("-", "cost_per_outcome")]
    started = None
    if isinstance(row.get("started"), int):
        started = page.count(row["started"], role="headline", key=_key(intervention, "all", "started"),
                             label=f"{intervention}: cost period all started")
    per, rating, cpo = cost_columns(row)
    return [Col(Derived(per, [started]), "cost_per_participant", True), Col(Derived(rating, [started]), "cost_rating"),
            Col(Derived(cpo, [started]), "cost_per_outcome")]


def _portfolio_table(page, F: Mapping, report_counts, vfm: Mapping) -> None:
    rows = []
    for r in F.get("interventions") or []:
        if not isinstance(r, Mapping):
            continue
        head = r.get("headline") or {}
        reach = (r.get("reach") or {}).get("participants")
        reach_cell = None
        if isinstance(reach, int):
            reach_cell = page.count(reach, role="headline", label=f"portfolio {r.get('intervention')} reach")
            page.ledger.link_by_value(reach_cell, report_counts.get(r.get("intervention"), []))
        n = head.get("n")
        of = []
        if isinstance(n, int):
            nc = page.count(n, role="normal", label=f"portfolio {r.get('intervention')} headline n")
            page.ledger.link_by_value(nc, report_counts.get(r.get("intervention"), []))
            of.append(nc)
        current = (r.get("pathway") or {}).get("current") or {}
        step = current.get("name") or current.get("step")
        effect = None
        if head.get("estimate") is not None:
            effect = f"{w.fmt(head['estimate'])} ({w.fmt(head.get('ci_low'))} to {w.fmt(head.get('ci_high'))})"
        statements = "; ".join(st.get("short") or st.get("words", "") for st in r.get("evidence_statements") or []
                               if isinstance(st, Mapping))
        headline = (head.get("label") or head.get("indicator") or "-") \
            + (" (not a child outcome: carries no level)" if head.get("child_outcome") is False else "")
        rows.append([Col(r.get("name") or r.get("intervention"), "intervention"), Col(r.get("level") or "-", "level"),
                     Col("NE" if r.get("not_effective") else "", "ne"),
                     Col(str(r.get("n_studies", len(r.get("studies") or []))), "studies"),
                     Col(step if step is not None else "-", "step"),
                     Col(reach_cell if reach_cell is not None else "-", "reach", True),
                     Col(headline, "headline"),
                     Col(Stat(effect, of, lambda v: "-" if v is None else v), "effect"),
                     Col(VERDICT_WORDS.get(head.get("verdict"), head.get("verdict") or "-"), "verdict"),
                     # the strategy's evidence statements: author text, guarded like any other
                     page.untrusted_col(statements, "statements") if statements else Col("-", "statements"),
                     Col(r.get("basis") or "-", "basis"),
                     *_cost_cols(page, r.get("intervention"), vfm.get(r.get("intervention")))])
    page.note("Levels are self-assessed against the EIF evidence standards with evalkit; none is an EIF rating. "
              "A place-based strategy is not applicable.")
    page.table(["intervention", "self-assessed EIF level", "NE", "studies", "pathway step", "reach",
                "headline outcome", "effect (CI)", "verdict", "evidence statements", "rules",
                "cost per participant", "cost rating", "cost per outcome (95% CI)"], rows,
               table_id="ek-portfolio")
    if vfm:
        page.note("Costs: the full cost (cash and in kind) per participant who started, in each intervention's "
                  "analysis-year prices; the cost rating runs from 1 (low) to 5 (high), with evalkit's own bands (a "
                  "toolkit default, not EIF's); the cost per outcome is from the study of the headline effect, with "
                  "its 95% interval and method. The example's costs are illustrative. See each report's Value for "
                  "money section.")
    notes = list(F.get("notes") or [])
    if notes:
        from evalkit.publish.document import Bullets

        items: list = [None] * len(notes)
        for k, note in enumerate(notes):
            page.untrusted_item(str(note), items, k)
        page.add(Bullets(items))


def _portfolio_forest(page, F: Mapping) -> None:
    from evalkit.plots.forest import ForestRow
    from evalkit.report.sections import forest_specs

    pairs, units = [], []
    for r in F.get("interventions") or []:
        for f in r.get("forest") or [] if isinstance(r, Mapping) else []:
            if not isinstance(f, Mapping) or f.get("estimate") is None or not f.get("primary"):
                continue
            outcome = REPORT_WORDS.get(str(f.get("verdict")), "unknown")
            text = (f"{r.get('name') or r.get('intervention')} [{r.get('level') or '-'}]: "
                    f"{f.get('label') or f.get('indicator')} ({f.get('evaluation')})")
            null = null_for(f.get("estimand"), f.get("units"))
            safe = html.escape(text, quote=False)
            of = []
            if isinstance(f.get("n"), int):
                of.append(page.count(f["n"], role="normal", label=f"portfolio forest {f.get('evaluation')} n"))
            pairs.append(((ForestRow(safe, f["estimate"], f.get("ci_low"), f.get("ci_high"), null, outcome, hover=safe),
                           ForestRow(text, f["estimate"], f.get("ci_low"), f.get("ci_high"), null, outcome, hover=text)),
                          Stat(f["estimate"], of)))
            units.append(str(f.get("units") or "the indicator's units").split(" (")[0])  # one unit per axis
    for k, spec in enumerate(forest_specs(pairs, units)):
        page.figure(spec, "Headline effect of each intervention (its own units; compare within an intervention only).",
                    f"fig-portfolio{'-' + str(k + 1) if k else ''}")


def _report_list(page, reports: Sequence[Mapping], names: Mapping[str, str]) -> None:
    lines = []
    for r in reports:
        href = str(r.get("href") or "")
        if not href.endswith(".html") or "/" not in href or href.startswith(("/", "javascript:")) or ".." in href:
            continue
        link = f"[{md_text(r.get('title') or r.get('id'))}]({href})"
        pdf = r.get("pdf")
        extra = f" ([PDF]({pdf}))" if pdf and str(pdf).endswith(".pdf") and ".." not in str(pdf) else ""
        who = names.get(r.get("intervention"), r.get("intervention"))
        lines.append(f"- {link}{extra}: " + md_text(f"{who}, {str(r.get('design', '')).replace('_', ' ')}"))
    if not lines:
        page.note("No reports yet: run `evalkit run` and `evalkit report`.")
        return
    page.add(Markdown("\n" + "\n".join(lines) + "\n"))


__all__ = ["build_portfolio_page", "Fixed", "Phrase"]
