"""Write a report's Quarto source from an evaluation's results, and render it.

``write_report(results_path, evaluation)`` writes ``context.json`` beside the results (labels and
logic model from the project's YAML, the disclosure threshold, the programme's rating when the
evidence portfolio exists) and ``index.qmd``, whose code chunks read ``results.json`` and
``context.json`` at render time: no number is written into the ``.qmd`` itself.
``build_reports`` does that for many evaluations, renders each (HTML, optionally PDF), runs the
disclosure check on every rendered file, and writes the portfolio page and index
(``reports/index.qmd``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.evidence.portfolio import PORTFOLIO_SCHEMA  # its writer (`evalkit compare`)
from evalkit.report.disclosure import DEFAULT_THRESHOLD, Policy, check_rendered
from evalkit.report.figures import md_text
from evalkit.results import ResultSet

PORTFOLIO_FILE = "portfolio.json"


def _yaml_str(text: str) -> str:
    """A YAML scalar that Quarto reads as literal text (Markdown-escaped, JSON-quoted)."""
    return json.dumps(md_text(text), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# context


def read_portfolio(reports_dir: Path) -> dict | None:
    path = Path(reports_dir) / PORTFOLIO_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, Mapping) and data.get("schema") == PORTFOLIO_SCHEMA else None


def rating_for(portfolio: Mapping | None, intervention: str, evaluation: str) -> dict | None:
    if not portfolio:
        return None
    for row in portfolio.get("interventions") or []:
        if isinstance(row, Mapping) and row.get("intervention") == intervention:
            study = next((s for s in row.get("studies") or [] if isinstance(s, Mapping)
                          and s.get("evaluation") == evaluation), None)
            keep = {k: row.get(k) for k in ("intervention", "name", "level", "not_effective", "harm", "resting_on",
                                             "explanation", "rests_on", "basis", "rules_version", "level_words",
                                             "applicable", "evidence_statements")}
            keep["programme"] = row.get("name") or intervention
            if study:
                keep["study"] = {k: study.get(k) for k in ("design_words", "sms", "supports", "external", "counted",
                                                           "record_status")}
                keep["study"]["checks"] = [
                    {k: c.get(k) for k in ("id", "label", "status", "evidence")} for c in study.get("checks") or []
                    if isinstance(c, Mapping)]
            return keep
    return None


def significance_for(portfolio: Mapping | None) -> dict:
    """The significance rule the portfolio's ratings used (else evalkit's default rules), for the report."""
    from evalkit.report.wording import default_rule, pre_trend_alpha

    rules = (portfolio or {}).get("rules") or {}
    sig = rules.get("significance") if isinstance(rules, Mapping) else None
    if isinstance(sig, Mapping) and isinstance(sig.get("alpha"), (int, float)):
        return {"alpha": sig["alpha"], "holm_adjusted_p": bool(sig.get("holm_adjusted_p", True)),
                "parallel_trends_alpha": sig.get("parallel_trends_alpha"),
                "source": f"evidence rules ({rules.get('file')}, version {rules.get('version')})"}
    rule = default_rule()
    return {"alpha": rule.alpha, "holm_adjusted_p": rule.holm, "parallel_trends_alpha": pre_trend_alpha({}),
            "source": rule.source}


def build_context(evaluation, *, threshold: int = DEFAULT_THRESHOLD, portfolio: Mapping | None = None) -> dict:
    """What a report shows besides the results: from the plan and logic model, never from data."""
    lm = evaluation.intervention
    nodes = [{"id": n.id, "label": n.label, "kind": n.kind, "horizon": n.horizon} for n in lm.nodes.values()]
    indicators = {i.id: {"label": i.label, "measures": i.measures.id, "type": i.type.value,
                         "direction": i.direction.value, "source": i.source.value, "child_outcome": i.child_outcome}
                  for i in lm.indicators.values()}
    ev = {"id": evaluation.id, "title": evaluation.title, "design": evaluation.design.value,
          "stage": evaluation.stage.value, "follow_up_months": evaluation.follow_up_months,
          "primary_outcome": evaluation.primary_outcome.id, "external": evaluation.is_external,
          "evaluator": {"name": evaluation.evaluator.name, "independent": evaluation.evaluator.independent}}
    return {
        "schema": "evalkit.report-context/v1",
        "evaluation": ev,
        "intervention": {"id": lm.id, "name": lm.name, "summary": lm.summary, "prevention": lm.prevention.value,
                         "population": lm.population_description, "problem": lm.problem},
        "indicators": indicators,
        "logic_model": {"nodes": nodes, "links": [list(link) for link in lm.links]},
        "disclosure": {"threshold": int(threshold)},
        "evidence": rating_for(portfolio, lm.id, evaluation.id),
        "significance": significance_for(portfolio),
    }


# --------------------------------------------------------------------------------------------
# the .qmd


# Quarto's per-format options: the report is rendered to HTML and to PDF (Typst)
_REPORT_FORMATS = "format:\n  html:\n    toc: true\n    embed-resources: true\n  typst:\n    toc: true\n"


def _front_matter(title: str, subtitle: str | None = None, formats: str = "") -> str:
    """The YAML header of every document evalkit writes: code hidden, run by Python."""
    sub = f"subtitle: {_yaml_str(subtitle)}\n" if subtitle is not None else ""
    return (f"---\ntitle: {_yaml_str(title)}\n{sub}lang: en-GB\ntoc: true\n{formats}"
            "execute:\n  echo: false\n  warning: false\njupyter: python3\n---\n\n")


def _load_chunk(module: str, alias: str, names: str) -> str:
    """The hidden first chunk: what the document's other chunks read (``names = alias.load()``)."""
    return f"```{{python}}\n#| include: false\nfrom evalkit.report import {module} as {alias}\n{names} = {alias}.load()\n```\n"


def _chunk(call: str, label: str | None = None, cap: str | None = None) -> str:
    opts = "#| output: asis\n"
    if label:
        opts += f"#| label: {label}\n"
    if cap:
        opts += f"#| fig-cap: {json.dumps(cap)}\n"
    return f"```{{python}}\n{opts}print({call})\n```\n"


def report_qmd(results: ResultSet, context: Mapping) -> str:
    """The Quarto source of one report. Sections appear only where the results hold them."""
    from evalkit.report import sections as S

    sec = results.sections or {}
    iv = context.get("intervention") or {}
    subtitle = f"{iv.get('name') or results.intervention}: evaluation report"
    parts = [_front_matter(results.title, subtitle, _REPORT_FORMATS)
             + "<!-- Written by `evalkit report` from results.json and context.json; edit the code, not the numbers. -->\n\n"
             + _load_chunk("sections", "S", "R, C")
             + f"""
## Summary {{#sec-summary}}

{_chunk("S.summary(R, C)")}
"""]
    mermaid = S.mermaid_logic_model(context, sorted({e.indicator for e in results.estimates}))
    if mermaid:
        parts.append(f"## Logic model {{#sec-logic-model}}\n\n```{{mermaid}}\n{mermaid}\n```\n\n"
                     f"{_chunk('S.logic_model_note(R, C)')}\n")
    parts.append(f"## Participant flow {{#sec-flow}}\n\n{_chunk('S.flow(R, C)')}\n")
    parts.append(f"## Methods {{#sec-methods}}\n\n{_chunk('S.methods(R, C)')}\n")
    if "external" in sec:
        parts.append(f"## The study {{#sec-external}}\n\n{_chunk('S.external(R, C)')}\n")
    if "balance" in sec or "matching" in sec:
        heading = "Balance after matching" if results.design == "matched_comparison" else "Baseline balance"
        parts.append(f"## {heading} {{#sec-balance}}\n\n"
                     f"{_chunk('S.matching(R, C)')}\n{_chunk('S.balance(R, C)', 'fig-love', 'Love plot: absolute standardised mean differences before and after matching (dashed line: 0.1).')}\n")
    if "feasibility" in sec:
        parts.append(f"## Feasibility criteria {{#sec-feasibility}}\n\n{_chunk('S.feasibility(R, C)')}\n")
    parts.append("## Results {#sec-results}\n\n" + _chunk("S.results_table(R, C)") + "\n"
                 + _chunk("S.forest(R, C)", "fig-forest",
                          "Forest plot of the main estimates with their confidence intervals (dashed line: no difference).")
                 + "\n")
    if "reliable_change" in sec:
        parts.append(f"## Reliable change {{#sec-reliable-change}}\n\n{_chunk('S.reliable_change(R, C)')}\n")
    if "counterfactual" in sec:
        parts.append("## Observed and expected without the programme {#sec-counterfactual}\n\n"
                     f"{_chunk('S.counterfactual(R, C)')}\n")
    if "event_study" in sec:
        parts.append(f"## Event study {{#sec-event-study}}\n\n{_chunk('S.event_study(R, C)')}\n")
    parts.append(f"## Robustness and sensitivity {{#sec-robustness}}\n\n{_chunk('S.robustness(R, C)')}\n")
    parts.append(f"## Evidence rating {{#sec-evidence}}\n\n{_chunk('S.evidence(R, C)')}\n")
    parts.append("## Limitations {#sec-limitations}\n\n::: {.callout-warning title=\"What the run flagged\"}\n"
                 f"{_chunk('S.limitations(R, C)')}:::\n\n")
    parts.append(f"## Reproducibility {{#sec-manifest}}\n\n{_chunk('S.manifest(R, C)')}\n")
    return "\n".join(parts)


def write_report(results_path: Path, evaluation, *, threshold: int = DEFAULT_THRESHOLD,
                 portfolio: Mapping | None = None) -> Path:
    """Write ``context.json`` and ``index.qmd`` beside ``results_path``; return the ``.qmd``."""
    results_path = Path(results_path)
    return _write_report(ResultSet.read(results_path), results_path.parent, evaluation, threshold=threshold,
                         portfolio=portfolio)


def _write_report(results: ResultSet, folder: Path, evaluation, *, threshold: int, portfolio: Mapping | None) -> Path:
    context = build_context(evaluation, threshold=threshold, portfolio=portfolio)
    (folder / "context.json").write_text(json.dumps(context, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    qmd = folder / "index.qmd"
    qmd.write_text(report_qmd(results, context), encoding="utf-8")
    return qmd


# --------------------------------------------------------------------------------------------
# the portfolio page and index


def index_qmd(title: str = "Evaluations and the evidence portfolio") -> str:
    return _front_matter(title) + _load_chunk("portfolio", "P", "I, F") + f"""
## Interventions by evidence level {{#sec-portfolio}}

{_chunk("P.portfolio_table(I, F)")}
{_chunk("P.portfolio_forest(I, F)", "fig-portfolio", "Headline effect of each intervention (its own units; compare within an intervention only).")}

## Every report {{#sec-reports}}

{_chunk("P.report_list(I, F)")}
"""


@dataclass
class Built:
    evaluation: str
    qmd: Path
    html: Path | None = None
    pdf: Path | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def build_reports(project, evaluations: Sequence, *, reports_dir: Path, threshold: int = DEFAULT_THRESHOLD,
                  pdf: bool = False, render: bool = True, index: bool = True, log=print) -> list[Built]:
    """Write (and render) each evaluation's report, then the portfolio page and index."""
    from evalkit.report.render import render_html, render_pdf

    reports_dir = Path(reports_dir)
    portfolio = read_portfolio(reports_dir)
    policy = Policy(threshold=threshold)
    built: list[Built] = []
    failed: list[str] = []
    read: dict[Path, ResultSet] = {}  # each results.json is parsed once; the index listing reuses it
    for evaluation in evaluations:
        folder = reports_dir / evaluation.id
        results_path = folder / "results.json"
        if not results_path.exists():
            raise EvalkitError(f"{evaluation.id}: no results at {results_path}; run `evalkit run {evaluation.id}` first")
        start = time.perf_counter()
        read[folder] = ResultSet.read(results_path)
        qmd = _write_report(read[folder], folder, evaluation, threshold=threshold, portfolio=portfolio)
        b = Built(evaluation.id, qmd)
        if render:
            try:
                b.html = _checked(render_html(qmd, qmd.with_suffix(".html")), policy)
                if pdf:
                    b.pdf = render_pdf(qmd, qmd.with_suffix(".pdf"))
            except EvalkitError as exc:  # one bad report must not stop the others
                b.problems.append(str(exc))
                failed.append(f"{evaluation.id}: {exc}")
                log(f"{evaluation.id}: FAILED: {exc}")
        b.seconds = time.perf_counter() - start
        built.append(b)
        if not b.problems:
            log(f"{evaluation.id}: wrote {qmd}" + (f", {b.html}" if b.html else "") + (f", {b.pdf}" if b.pdf else ""))
    if index:
        listing = []
        for folder in sorted(p.parent for p in reports_dir.glob("*/index.qmd")):
            r = read.get(folder)
            if r is None:
                try:
                    r = ResultSet.read(folder / "results.json")
                except (OSError, EvalkitError, ValueError, KeyError):
                    continue
            listing.append({"id": r.evaluation, "title": r.title, "intervention": r.intervention,
                            "design": r.design, "href": f"{folder.name}/index.html",
                            "pdf": f"{folder.name}/index.pdf" if (folder / "index.pdf").exists() else None})
        names = {lm.id: lm.name for lm in project.interventions.values()} if project is not None else {}
        (reports_dir / "index.json").write_text(json.dumps(
            {"schema": "evalkit.report-index/v1", "reports": listing, "intervention_names": names,
             "disclosure": {"threshold": threshold}}, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8")
        qmd = reports_dir / "index.qmd"
        qmd.write_text(index_qmd(), encoding="utf-8")
        b = Built("index", qmd)
        if render:
            start = time.perf_counter()
            b.html = _checked(render_html(qmd, qmd.with_suffix(".html")), policy)
            b.seconds = time.perf_counter() - start
        built.append(b)
        log(f"portfolio and index: wrote {qmd}" + (f", {b.html}" if b.html else ""))
    if failed:
        raise EvalkitError(f"{len(failed)} report(s) failed:\n" + "\n".join(failed))
    return built


def _checked(page: Path, policy: Policy) -> Path:
    """The disclosure check; a page that fails it is deleted so it cannot be published."""
    from evalkit.report.disclosure import DisclosureError

    try:
        return check_rendered(page, policy)
    except DisclosureError:
        page.unlink(missing_ok=True)
        raise
