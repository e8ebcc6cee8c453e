"""The portfolio: every intervention side by side, and the project-level rating verbs.

``rate_project`` reads each evaluation's ``reports/<id>/results.json`` (re-running the plan in
memory when the file is missing or its inputs changed) and rates every intervention in the
project. ``build_portfolio`` turns the ratings into one versioned, deterministic record
(``evalkit.portfolio/v1``) that the reports render as a table and a forest plot; it holds no
time stamps, so the same inputs give a byte-identical ``portfolio.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, check_choice
from evalkit.evidence.errors import EvidenceError
from evalkit.evidence.pathway import pathway_position
from evalkit.evidence.rate import LEVELS, ProgrammeRating, rate_results
from evalkit.evidence.rules import Rules, load_rules
from evalkit.results import ResultSet, _plain

PORTFOLIO_SCHEMA = "evalkit.portfolio/v1"
SORT_KEYS = ("level", "name", "step", "studies", "reach")


def evidence_statements(logic_model) -> list[dict[str, Any]]:
    """The evidence statements recorded in the logic model: the toolkit ratings of the approach.

    Each says whose statement it is (``stated_in``, e.g. the strategy), which toolkit edition,
    and when it was read: toolkit ratings change.
    """
    out = []
    for ev in getattr(logic_model, "evidence", ()) or ():
        edition = f" {ev.year}" if getattr(ev, "year", None) else ""
        out.append({"source": ev.source, "approach": ev.approach, "impact": ev.impact.value,
                    "evidence_quality": ev.evidence_quality, "cost": ev.cost, "note": ev.note, "url": ev.url,
                    "year": getattr(ev, "year", None), "stated_in": getattr(ev, "stated_in", None),
                    "retrieved": ev.retrieved.isoformat(),
                    "short": f"{ev.approach}: {ev.impact.value} impact ({ev.source}{edition})",
                    "words": f"{ev.approach}: {ev.impact.value} impact ({ev.source}{edition})"
                             + (f", evidence quality {ev.evidence_quality}/5" if ev.evidence_quality else "")
                             + (f"; as stated in {ev.stated_in}" if getattr(ev, "stated_in", None) else "")
                             + f" (read {ev.retrieved.isoformat()})"})
    return out


def yef_ratings(logic_model) -> list[dict[str, Any]]:
    """The YEF Toolkit statements among the logic model's evidence statements."""
    return [e for e in evidence_statements(logic_model) if "yef" in e["source"].lower()]


OUTCOME_FIELDS = ("indicator", "label", "estimand", "estimate", "ci_low", "ci_high", "ci_level", "p_value", "p_kind",
                  "units", "n", "verdict", "follow_up_months", "effect_size", "child_outcome", "role",
                  "months_after_end")


def _outcome_row(s, o) -> dict[str, Any]:
    """One judged outcome of one study, as the portfolio file holds it (headline and forest rows)."""
    return {"evaluation": s.evaluation, "design": s.design, **{k: getattr(o, k) for k in OUTCOME_FIELDS}}


def _headline(rating: ProgrammeRating) -> dict[str, Any] | None:
    """The primary-outcome effect of the study the level rests on (else the strongest counted study)."""
    for s in [s for s in rating.studies if s.counted]:
        o = next((o for o in s.outcomes if o.primary), s.effect_outcome)
        if o is not None:
            return _outcome_row(s, o)
    return None


def _reach(rating: ProgrammeRating) -> dict[str, Any]:
    local = [s.participants for s in rating.studies if not s.external and s.participants is not None and s.counted]
    return {"participants": max(local) if local else None,
            "basis": "the most participants (treated group) analysed in any one local study; studies of the "
                     "same cohort are not added together, external studies are not counted"}


def _forest(rating: ProgrammeRating) -> list[dict[str, Any]]:
    rows = []
    for s in rating.studies:
        for o in s.outcomes:
            rows.append({"intervention": rating.intervention, "sms": s.sms, "external": s.external,
                         "primary": o.primary, "child_outcome": o.child_outcome, **_outcome_row(s, o)})
    return rows


def add_context(rating: ProgrammeRating, *, stages, logic_model, rules: Rules) -> ProgrammeRating:
    """The rating with its pathway position, YEF rating, reach and headline effect attached."""
    extras = {"pathway": pathway_position(stages, rating, rules), "yef": yef_ratings(logic_model),
              "evidence_statements": evidence_statements(logic_model),
              "reach": _reach(rating), "headline": _headline(rating),
              "n_studies": len(rating.study_groups), "n_analyses": len(rating.studies),
              "n_unrated": len(rating.unrated)}
    return replace(rating, extras=extras)


def sort_ratings(ratings: Sequence[ProgrammeRating], by: str = "level") -> list[ProgrammeRating]:
    check_choice("--sort", by, SORT_KEYS)
    keys = {
        "level": lambda r: (-r.rank, r.not_effective, r.intervention),
        "name": lambda r: (r.name.lower(), r.intervention),
        "step": lambda r: (-(r.extras.get("pathway", {}).get("current", {}).get("step") or 0), -r.rank, r.intervention),
        "studies": lambda r: (-len(r.studies), -r.rank, r.intervention),
        "reach": lambda r: (-((r.extras.get("reach") or {}).get("participants") or -1), r.intervention),
    }
    return sorted(ratings, key=keys[by])


def build_portfolio(ratings: Sequence[ProgrammeRating], rules: Rules, sort: str = "level") -> dict[str, Any]:
    ordered = sort_ratings(ratings, sort)
    rows = []
    for r in ordered:
        d = r.to_dict()
        d["forest"] = _forest(r)
        rows.append(d)
    return _plain({
        "schema": PORTFOLIO_SCHEMA,
        "levels": list(LEVELS),
        "sort": sort,
        "rules": {"version": rules.version, "file": rules.path, "sha256": _rules_sha256(rules),
                  "published_by": {rid: r.published_by for rid, r in rules.rules.items()},
                  # reports judge significance with the same rule as the ratings (evalkit.verdict)
                  "significance": {"alpha": rules.value("significance_alpha"),
                                   "holm_adjusted_p": bool(rules.value("holm_adjusted_p")),
                                   "parallel_trends_alpha": rules.value("parallel_trends_alpha")}},
        "notes": [
            "Every level here is self-assessed against the EIF evidence standards with evalkit; none is an EIF rating.",
            "EIF levels belong to programmes; a study only has a design class, an SMS level and checks. Re-analyses "
            "of one sample count as one study; unverified or illustrative study records are shown, never counted; "
            "a place-based strategy is not applicable.",
            "NE (not_effective) is shown beside the level, with no place in the order.",
            "Rules tagged toolkit_default are evalkit's configurable defaults, not published EIF criteria.",
            "Forest-plot rows keep each study's own units: compare estimates within an intervention only.",
        ],
        "interventions": rows,
    })


def _rules_sha256(rules: Rules) -> str | None:
    """The rules file's hash, so a report can tell a rating made under other rules (stale)."""
    from evalkit.data.load import sha256
    from evalkit.evidence.rules import DEFAULT_RULES

    path = Path(rules.path)
    path = path if path.is_absolute() else (DEFAULT_RULES if path.name == DEFAULT_RULES.name else path)
    try:
        return sha256(path)
    except OSError:
        return None


def portfolio_json(portfolio: Mapping[str, Any]) -> str:
    return json.dumps(portfolio, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_portfolio(portfolio: Mapping[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(portfolio_json(portfolio), encoding="utf-8")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------- from a project


def _stale(result, evaluation) -> str | None:
    """Why saved results no longer match the plan, logic model or data (None if they match)."""
    from evalkit.data.load import sha256

    files = {"evaluation plan": evaluation.source, "logic model": evaluation.intervention.source}
    if evaluation.data is not None:
        files["data"] = evaluation.data.path  # its content hash covers a comparison pool's file too
    inputs = {i.get("role"): i for i in result.manifest.inputs if isinstance(i, Mapping)}
    for role, path in files.items():
        if role not in inputs:
            continue
        try:
            if "content_sha256" in inputs[role]:  # data: recorded by content, whatever the order of rows
                from evalkit.run import data_content_sha256

                if data_content_sha256(evaluation) != inputs[role]["content_sha256"]:
                    return f"the {role} changed since the results were written"
            elif sha256(path) != inputs[role].get("sha256"):
                return f"the {role} changed since the results were written"
        except (OSError, EvalkitError):
            return None  # the data file is gone or unreadable: the saved results are all there is
    return None


def project_results(project, *, run_missing: bool = True, saved: Path | None = None):
    """Each evaluation's ResultSet: saved ``results.json`` if current, else run in memory.

    Returns (results, notes, unrated): notes say which studies were run now; unrated holds
    (intervention, evaluation, reason) for studies that have no results and could not be run.
    """
    reports = saved or project.root / "reports"
    results, notes, unrated = [], [], []
    for evaluation in project.evaluations.values():
        path = reports / evaluation.id / "results.json"
        why = "no results.json"
        if path.exists():
            try:
                result = ResultSet.read(path)
            except (EvalkitError, ValueError, KeyError, TypeError) as exc:
                why = f"{path} cannot be read ({exc})"
            else:
                why = _stale(result, evaluation)
                if why is None:
                    results.append(result)
                    continue
        if not run_missing and not evaluation.is_external:
            unrated.append((evaluation.intervention.id, evaluation.id, f"not run ({why}); run `evalkit run {evaluation.id}`"))
            continue
        from evalkit.run import run

        try:
            results.append(run(evaluation))
            if not evaluation.is_external:
                notes.append(f"{evaluation.id}: ran now ({why}); `evalkit run` saves results")
        except EvalkitError as exc:
            unrated.append((evaluation.intervention.id, evaluation.id, f"could not be run: {exc}"))
    return results, notes, unrated


def rate_project(path: Path | str | None = None, *, rules: Rules | None = None, run_missing: bool = True,
                 only: Sequence[str] = ()):
    """Rate every intervention of the project at ``path``: (ratings with context, notes, the project)."""
    from evalkit.project import load_project

    rules = rules or load_rules()
    project = load_project(path, check_data=False)
    unknown = [i for i in only if i not in project.interventions]
    if unknown:
        raise EvidenceError(f"{', '.join(unknown)}: no such intervention in {project.root}; expected one of "
                            f"{', '.join(project.interventions)}")
    results, notes, unrated = project_results(project, run_missing=run_missing)
    contexts = dict(project.evaluations)
    ratings = rate_results(results, contexts, dict(project.interventions), rules, unrated)
    out = []
    for r in ratings:
        if only and r.intervention not in only:
            continue
        stages = [(e.id, e.stage.value, e.design.value) for e in project.evaluations.values() if e.intervention.id == r.intervention]
        out.append(add_context(r, stages=stages, logic_model=project.interventions.get(r.intervention), rules=rules))
    return out, notes, project
