"""The portfolio page: interventions compared by EIF level, and an index of every report.

Reads ``reports/index.json`` (written by ``evalkit report``: which reports exist) and
``reports/portfolio.json`` (schema ``evalkit.portfolio/v1``, written by ``evalkit compare``);
either may be missing, and the page says so rather than failing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path

from evalkit.report import wording as w
from evalkit.report.disclosure import guard_path, policy_from
from evalkit.report.figures import _to, md_text
from evalkit.report.tables import cnt, num, table, txt
from evalkit.report.write import PORTFOLIO_FILE, read_portfolio
from evalkit.verdict import REPORT_WORDS, null_for

def load(folder: str | Path = ".") -> tuple[dict, dict | None]:
    folder = Path(folder)
    index_path = guard_path(folder / "index.json")
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else {}
    guard_path(folder / PORTFOLIO_FILE)
    return index, read_portfolio(folder)


def portfolio_table(I: Mapping, F: Mapping | None) -> str:
    if not F:
        return ("\n*" + md_text("No evidence portfolio yet: run `evalkit compare` to rate every intervention, then "
                                "`evalkit report` again.") + "*\n")
    pol = policy_from(I)
    rows = []
    for r in F.get("interventions") or []:
        if not isinstance(r, Mapping):
            continue
        head = r.get("headline") or {}
        reach = (r.get("reach") or {}).get("participants")
        current = (r.get("pathway") or {}).get("current") or {}
        step = current.get("name") or current.get("step")
        effect = "-"
        if head.get("estimate") is not None:
            effect = f"{w.fmt(head['estimate'])} ({w.fmt(head.get('ci_low'))} to {w.fmt(head.get('ci_high'))})"
        statements = "; ".join(st.get("short") or st.get("words", "") for st in r.get("evidence_statements") or []
                               if isinstance(st, Mapping)) or "-"
        rows.append([txt(r.get("name") or r.get("intervention"), "intervention"), txt(r.get("level") or "-", "level"),
                     txt("NE" if r.get("not_effective") else "", "ne"),
                     txt(r.get("n_studies", len(r.get("studies") or [])), "studies"),
                     txt(step if step is not None else "-", "step"),
                     cnt(reach if isinstance(reach, int) else None, False, "reach"),
                     txt((head.get("label") or head.get("indicator") or "-")
                         + (" (not a child outcome: carries no level)" if head.get("child_outcome") is False else ""),
                         "headline"), num(effect, "effect"),
                     txt(head.get("verdict") or "-", "verdict"),
                     txt(statements, "statements"),
                     txt(r.get("basis") or "-", "basis")])
    out = ["\n" + md_text("Levels are self-assessed against the EIF evidence standards with evalkit; none is an EIF "
                          "rating. A place-based strategy is not applicable.") + "\n",
           table(["intervention", "self-assessed EIF level", "NE", "studies", "pathway step", "reach",
                  "headline outcome", "effect (CI)", "verdict", "evidence statements", "rules"], rows, to=_to(),
                 policy=pol, table_id="ek-portfolio")]
    for note in F.get("notes") or []:
        out.append("\n- " + md_text(note))
    return "".join(out) + "\n"


def portfolio_forest(I: Mapping, F: Mapping | None) -> str:
    if not F:
        return ""
    from evalkit.plots.forest import ForestRow
    from evalkit.report.sections import forest_figures

    pairs = []
    for r in F.get("interventions") or []:
        for f in r.get("forest") or [] if isinstance(r, Mapping) else []:
            if not isinstance(f, Mapping) or f.get("estimate") is None or not f.get("primary"):
                continue
            # the rating's verdict (evalkit.verdict.judge, in the evidence's words) shown in the report's words
            outcome = REPORT_WORDS.get(str(f.get("verdict")), "unknown")
            text = f"{r.get('name') or r.get('intervention')} [{r.get('level') or '-'}]: {f.get('label') or f.get('indicator')} ({f.get('evaluation')})"
            null = null_for(f.get("estimand"), f.get("units"))
            safe = html.escape(text, quote=False)
            pairs.append((ForestRow(safe, f["estimate"], f.get("ci_low"), f.get("ci_high"), null, outcome, hover=safe),
                          ForestRow(text, f["estimate"], f.get("ci_low"), f.get("ci_high"), null, outcome, hover=text)))
    return forest_figures(pairs)


def report_list(I: Mapping, F: Mapping | None) -> str:
    reports = I.get("reports") or []
    if not reports:
        return "\n*No reports yet: run `evalkit run` and `evalkit report`.*\n"
    names = I.get("intervention_names") or {}
    lines = []
    for r in reports:
        href = str(r.get("href") or "")
        if not href.endswith(".html") or "/" not in href or href.startswith(("/", "javascript:")) or ".." in href:
            continue
        link = f"[{md_text(r.get('title') or r.get('id'))}]({href})"
        extra = f" ([PDF]({r['pdf']}))" if r.get("pdf") and str(r["pdf"]).endswith(".pdf") and ".." not in str(r["pdf"]) else ""
        who = names.get(r.get("intervention"), r.get("intervention"))
        lines.append(f"- {link}{extra}: " + md_text(f"{who}, {str(r.get('design', '')).replace('_', ' ')}"))
    return "\n" + "\n".join(lines) + "\n"
