"""Build the reports and the portfolio page as one publication, and publish it.

``build_reports(project, evaluations, ...)`` reads each evaluation's ``results.json`` from
``.evalkit/results/<id>/`` (refusing stale ones unless ``allow_stale``), the context the results do
not hold (labels and the logic model from the project's YAML, the rating from
``.evalkit/results/portfolio.json``), builds one report
page per evaluation (:func:`evalkit.report.sections.build_report`) and the portfolio page and
index (:func:`evalkit.report.portfolio.build_portfolio_page`) in one
:class:`~evalkit.publish.publication.Publication`, then publishes it: one disclosure decision for
every page, each page written as a ``.qmd`` holding its published values, rendered (Quarto or
Pandoc; PDF through Typst), scanned, and only then moved into ``reports/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.evidence.portfolio import PORTFOLIO_SCHEMA  # its writer (`evalkit compare`)
from evalkit.publish.policy import Policy
from evalkit.results import ResultSet

PORTFOLIO_FILE = "portfolio.json"


class StaleResultsError(EvalkitError):
    """Results no longer match the files they were computed from."""


# --------------------------------------------------------------------------------------------
# context


def read_portfolio(project_root: Path) -> dict | None:
    """The portfolio `evalkit compare` wrote (``.evalkit/results/portfolio.json``), if any."""
    from evalkit.project import results_path

    path = results_path(project_root, None, PORTFOLIO_FILE)
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


def approach_evidence_of(lm) -> list[dict]:
    """The logic model's toolkit ratings of the approach (e.g. the YEF Toolkit), for the pages."""
    return [{"source": x.source, "approach": x.approach, "impact": x.impact.value,
             "evidence_quality": x.evidence_quality, "cost": x.cost, "note": x.note, "url": x.url,
             "retrieved": x.retrieved.isoformat()} for x in getattr(lm, "evidence", ()) or ()]


def build_context(evaluation, *, portfolio: Mapping | None = None) -> dict:
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
        "evidence": rating_for(portfolio, lm.id, evaluation.id),
        "approach_evidence": approach_evidence_of(lm),
        "significance": significance_for(portfolio),
    }


def value_for_money_of(evaluation, result, project=None):
    """The evaluation's value for money (None when its logic model declares no costs); with the
    project, participants the costs say to count are counted from the plan's data or the store."""
    from evalkit.vfm.assess import assess

    return assess(evaluation.intervention, result, project)


def rules_stale(portfolio: Mapping | None) -> str | None:
    """Whether the evidence rules changed since `evalkit compare` rated the portfolio."""
    if not portfolio:
        return None
    from evalkit.data.load import sha256
    from evalkit.evidence.rules import DEFAULT_RULES, load_rules

    rules = portfolio.get("rules") or {}
    recorded = rules.get("sha256")
    if recorded:
        file = str(rules.get("file") or DEFAULT_RULES.name)
        path = DEFAULT_RULES if file == DEFAULT_RULES.name else Path(file)
        try:
            if sha256(path) != recorded:
                return f"the evidence rules ({rules.get('file') or path.name}) changed since `evalkit compare`"
        except OSError:
            return f"the evidence rules file {path} is missing"
        return None
    current = load_rules().version
    if rules.get("version") not in (None, current):
        return f"the evidence rules changed (rated with version {rules.get('version')}, now {current})"
    return None


# --------------------------------------------------------------------------------------------
# building and publishing


@dataclass
class Built:
    evaluation: str
    qmd: Path | None
    html: Path | None = None
    pdf: Path | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def build_reports(project, evaluations: Sequence, *, reports_dir: Path, policy: Policy | None = None,
                  pdf: bool = False, render: bool = True, index: bool = True, allow_stale: bool = False,
                  log=print) -> list[Built]:
    """Build every report (and the portfolio page and index) as one publication and publish it."""
    from evalkit.project import results_path
    from evalkit.publish.policy import project_policy
    from evalkit.publish.publication import Publication
    from evalkit.report.portfolio import build_portfolio_page
    from evalkit.report.sections import build_report
    from evalkit.run import stale_reasons

    start = time.perf_counter()
    reports_dir = Path(reports_dir)
    root = project.root if project is not None else reports_dir.parent
    policy = policy or project_policy(root)
    portfolio = read_portfolio(root)
    rules_change = rules_stale(portfolio)
    pub = Publication(policy, project_root=root, out_root=reports_dir, setting="reports folder")
    results: dict[str, ResultSet] = {}
    refused = []
    stale_of: dict[str, list[str]] = {}
    for evaluation in evaluations:
        path = results_path(root, evaluation.id)
        if not path.exists():
            raise EvalkitError(f"{evaluation.id}: no results at {path}; run `evalkit run {evaluation.id}` first")
        result = ResultSet.read(path)
        why = stale_reasons(result, evaluation) + ([rules_change] if rules_change else [])
        if why and not allow_stale:
            refused.append(f"{evaluation.id}: results are stale: {'; '.join(why)}; run `evalkit run {evaluation.id}` "
                           "(and `evalkit compare`) again, or publish them marked stale with --allow-stale")
        stale_of[evaluation.id] = why
        results[evaluation.id] = result
    if refused:
        raise StaleResultsError("\n".join(refused))
    for evaluation in evaluations:
        context = build_context(evaluation, portfolio=portfolio)
        context["value_for_money"] = value_for_money_of(evaluation, results[evaluation.id], project)
        build_report(pub, f"{evaluation.id}/index", results[evaluation.id], context,
                     stale=stale_of[evaluation.id], pdf=pdf)
    if index:
        listing = []
        for saved in sorted(p.parent for p in results_path(root, None, "").glob("*/results.json")):
            folder = reports_dir / saved.name  # the published pages of that evaluation
            r = results.get(saved.name)
            if r is None:
                if not (folder / "index.html").exists():
                    continue
                try:
                    r = ResultSet.read(saved / "results.json")
                except (OSError, EvalkitError, ValueError, KeyError, TypeError):
                    continue
            has_pdf = (pdf and r.evaluation in results) or (folder / "index.pdf").exists()
            listing.append({"id": r.evaluation, "title": r.title, "intervention": r.intervention, "design": r.design,
                            "href": f"{folder.name}/index.html", "pdf": f"{folder.name}/index.pdf" if has_pdf else None})
        names = {lm.id: lm.name for lm in project.interventions.values()} if project is not None else {}
        approaches = {lm.id: approach_evidence_of(lm) for lm in project.interventions.values()} \
            if project is not None else {}
        from evalkit.vfm.portfolio import value_for_money_rows

        vfm = (value_for_money_rows(project, portfolio or {}, lambda e: results_path(project.root, e))
               if project is not None else {})
        build_portfolio_page(pub, "index", listing, portfolio, names, reports_built=results, approaches=approaches,
                             value_for_money=vfm)
    pdf_pages = {f"{e.id}/index" for e in evaluations} if pdf else set()
    published = pub.publish(render=True, pdf_pages=pdf_pages, log=log, commit_rendered=render)
    built = []
    seconds = time.perf_counter() - start
    for page in pub.pages:
        files = published.pages.get(page.path, {})
        name = page.path.split("/")[0] if page.path != "index" else "index"
        b = Built(name, files.get("qmd"), files.get("html"), files.get("pdf"), seconds)
        if page.path in published.failed:
            b.problems.append(published.failed[page.path])
        else:
            log(f"{name}: wrote " + ", ".join(str(p) for p in files.values()))
        built.append(b)
    if published.failed:
        lines = [f"{p.split('/')[0]}: {why}" for p, why in published.failed.items()]
        raise EvalkitError(f"{len(lines)} page(s) not published (the previous versions, if any, are unchanged):\n"
                           + "\n".join(lines))
    return built
