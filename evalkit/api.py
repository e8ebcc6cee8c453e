"""The verbs that have no single home elsewhere: ``rate`` and ``report``, as the CLI runs them.

``evalkit.load_project``, ``evalkit.run``, ``evalkit.rate`` and ``evalkit.report`` are the
Python side of ``evalkit validate``, ``run``, ``rate`` and ``report``: each CLI command is a thin
call of the same function, so a notebook and the shell give the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _project(project):
    """A loaded Project, from a Project or a folder (default: the one holding the current folder)."""
    from evalkit.spec.model import Project

    if isinstance(project, Project):
        return project
    from evalkit.project import load_project

    return load_project(project, check_data=False)


def _evaluations(project, evaluations):
    from evalkit.spec.model import Evaluation

    if evaluations is None:
        return None
    if isinstance(evaluations, (str, Evaluation)):
        evaluations = [evaluations]
    return [e if isinstance(e, Evaluation) else project.evaluation(e) for e in evaluations]


def rate(project=None, interventions: Sequence[str] = (), *, run_missing: bool = True, rules=None) -> list:
    """The EIF evidence level of each intervention, as ``evalkit rate`` gives it.

    ``project`` is a loaded project or its folder. Each plan's saved ``.evalkit/results/<id>/results.json``
    is read; a plan without (current) results is run in memory unless ``run_missing`` is False.
    Returns one :class:`~evalkit.evidence.rate.ProgrammeRating` per intervention, best level first;
    ``evalkit.evidence.text.rating_text(rating)`` words one as the CLI prints it.
    """
    from evalkit.evidence.portfolio import sort_ratings
    from evalkit.evidence.rules import load_rules

    root = _project(project).root if project is not None else None
    if isinstance(interventions, str):
        interventions = (interventions,)
    ratings, _notes, _loaded = rate_project(root, rules=rules or load_rules(), run_missing=run_missing,
                                            only=tuple(interventions))
    return sort_ratings(ratings, "level")


def rate_project(path: Path | str | None = None, *, rules=None, run_missing: bool = True,
                 only: Sequence[str] = ()):
    """Rate every intervention of the project at ``path``: (ratings with context, notes, the project)."""
    from evalkit.evidence.errors import EvidenceError
    from evalkit.evidence.portfolio import add_context
    from evalkit.evidence.rate import rate_results
    from evalkit.evidence.rules import load_rules
    from evalkit.project import load_project
    from evalkit.run import project_results as run_results

    rules = rules or load_rules()
    project = load_project(path, check_data=False)
    unknown = [i for i in only if i not in project.interventions]
    if unknown:
        raise EvidenceError(f"{', '.join(unknown)}: no such intervention in {project.root}; expected one of "
                            f"{', '.join(project.interventions)}")
    results, notes, unrated = run_results(project, run_missing=run_missing)
    contexts = dict(project.evaluations)
    ratings = rate_results(results, contexts, dict(project.interventions), rules, unrated)
    out = []
    for r in ratings:
        if only and r.intervention not in only:
            continue
        stages = [(e.id, e.stage.value, e.design.value) for e in project.evaluations.values() if e.intervention.id == r.intervention]
        out.append(add_context(r, stages=stages, logic_model=project.interventions.get(r.intervention), rules=rules))
    return out, notes, project


def report(project=None, evaluations=None, *, pdf: bool = False, min_count: int | None = None,
           render: bool = True, index: bool = True, allow_stale: bool = False, log=None) -> list:
    """Write, render, scan and publish the reports of ``evaluations`` (ids or plans; default: every plan with results).

    As ``evalkit report``: ``reports/<id>/index.qmd`` from each saved ``results.json`` (kept, owner-only, in
    ``.evalkit/results/<id>/``; one moved there from ``reports/`` by an older evalkit is said in ``log``), rendered to
    self-contained HTML (and PDF with ``pdf``) under the project's disclosure policy
    (``evalkit.yml``, ``disclosure``); ``min_count`` overrides its threshold for this call. Stale
    results are refused unless ``allow_stale``. Then the portfolio page and index. Returns what was
    written, one record per report.
    """
    from evalkit.publish.policy import project_policy
    from evalkit.report.write import build_reports

    from evalkit.project import move_old_results, results_path

    loaded = _project(project)
    reports_dir = Path(loaded.root) / "reports"
    moved = move_old_results(loaded.root)
    if moved:
        (log or (lambda _message: None))(moved)
    policy = project_policy(loaded.root)
    if min_count is not None:
        policy = policy.with_threshold(min_count, "min_count (--min-count)")
    chosen = _evaluations(loaded, evaluations)
    if chosen is None:
        chosen = [e for e in loaded.evaluations.values() if results_path(loaded.root, e.id).exists()]
    return build_reports(loaded, chosen, reports_dir=reports_dir, policy=policy, pdf=pdf, render=render,
                         index=index, allow_stale=allow_stale, log=log or (lambda _message: None))
