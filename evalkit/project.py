"""Find, validate and resolve a project: a folder holding ``logic_models/`` and ``evaluations/``.

``validate_project`` runs both passes (shape, then meaning, then the data) and returns every
problem; ``load_project`` returns the resolved, frozen :class:`~evalkit.spec.model.Project` or
raises :class:`~evalkit.errors.SpecError` carrying every error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import Problem, ProjectError, SpecError
from evalkit.spec import model as m

LOGIC_MODELS = "logic_models"
EVALUATIONS = "evaluations"
PROJECT_FILE = "evalkit.yml"
YAML_SUFFIXES = (".yml", ".yaml")


def is_project(path: Path) -> bool:
    return (path / LOGIC_MODELS).is_dir() and (path / EVALUATIONS).is_dir()


def find_project(start: Path | str | None = None) -> Path:
    """The project holding ``start`` (default: the current folder), searching upwards."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if is_project(candidate):
            return candidate
    raise ProjectError(
        f"{here}: not inside an evalkit project; expected a folder holding "
        f"'{LOGIC_MODELS}/' and '{EVALUATIONS}/' (use --project DIR to name one)")


def _yaml_files(folder: Path) -> list[Path]:
    # anything named *.yml but a folder is read (a FIFO or device is then reported, not skipped silently)
    return sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and not p.is_dir())


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@dataclass
class Validation:
    """The outcome of validating a project: resolved objects where possible, and every problem."""

    root: Path
    interventions: dict[str, m.LogicModel] = field(default_factory=dict)
    evaluations: dict[str, m.Evaluation] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def for_files(self, files: Sequence[Path]) -> list[Problem]:
        shown = {_shown(f.resolve(), self.root) for f in files}
        return [p for p in self.problems if p.file in shown]


def _read_files(root: Path, folder: str, model, kind: str, each: str, problems: list[Problem]):
    """Yield (path, document, raw model or None) for each YAML file, shape-checked, ids unique.

    A file whose id another file already uses is reported and skipped, so a duplicate can never
    silently replace the first definition.
    """
    from evalkit.spec.shape import check_shape
    from evalkit.spec.yamlio import read_yaml

    seen: dict[str, str] = {}
    for path in _yaml_files(root / folder):
        doc = read_yaml(path, _shown(path, root))
        problems += doc.problems
        raw, shape_problems = check_shape(doc, model)
        problems += shape_problems
        if raw is not None and raw.id in seen:
            problems.append(Problem(doc.file, doc.line_of(("id",)), "id", f"{kind} id is used by another file",
                                    found=f"'{raw.id}' (also in {seen[raw.id]})",
                                    expected=f"a different id in each {each}"))
            continue
        if raw is not None:
            seen[raw.id] = doc.file
        yield path, doc, raw


def _data_roots(root: Path, problems: list[Problem]) -> list[Path]:
    """The folders outside the project that ``evalkit.yml`` lets plans read data from."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return []
    from evalkit.spec.raw import ProjectFile
    from evalkit.spec.shape import check_shape
    from evalkit.spec.yamlio import read_yaml

    doc = read_yaml(path, PROJECT_FILE)
    problems += doc.problems
    raw, found = check_shape(doc, ProjectFile)
    problems += found
    if raw is None:
        return []
    out = []
    for i, text in enumerate(raw.data_roots):
        folder = Path(text).expanduser()
        folder = folder if folder.is_absolute() else root / folder
        if not folder.is_dir():
            problems.append(Problem(PROJECT_FILE, doc.line_of(("data_roots", i)), f"data_roots[{i}]",
                                    "no such folder", found=str(folder), expected="an existing folder"))
            continue
        out.append(folder.resolve())
    return out


def validate_project(root: Path | str | None = None, *, check_data: bool = True) -> Validation:
    """Validate every logic model and evaluation plan in the project at ``root``."""
    from evalkit.spec.raw import EvaluationFile, LogicModelFile
    from evalkit.spec.resolve import resolve_evaluation, resolve_logic_model

    if root is not None and not Path(root).exists():
        raise ProjectError(f"{root}: no such folder; expected a project folder holding "
                           f"'{LOGIC_MODELS}/' and '{EVALUATIONS}/'")
    root = find_project(root) if root is None or not is_project(Path(root)) else Path(root).resolve()
    result = Validation(root=root)
    data_roots = (root, *_data_roots(root, result.problems))

    broken: set[str] = set()
    unreadable: list[str] = []  # logic model files too broken to know their id
    for path, doc, raw in _read_files(root, LOGIC_MODELS, LogicModelFile, "logic model", "logic model",
                                     result.problems):
        if raw is None:
            if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
                broken.add(doc.data["id"])
            else:
                unreadable.append(doc.file)
            continue
        logic_model, problems = resolve_logic_model(doc, raw, path)
        result.problems += problems
        if logic_model is None:
            broken.add(raw.id)
        else:
            result.interventions[raw.id] = logic_model

    for path, doc, raw in _read_files(root, EVALUATIONS, EvaluationFile, "evaluation", "evaluation plan",
                                     result.problems):
        if raw is None:
            continue
        evaluation, problems = resolve_evaluation(doc, raw, path, result.interventions, broken,
                                                     tuple(unreadable), data_roots)
        result.problems += problems
        if evaluation is None:
            continue
        if check_data:
            from evalkit.data.checks import check_data as check

            problems = check(evaluation, doc)
            result.problems += problems
            if any(p.severity == "error" for p in problems):
                continue
        result.evaluations[raw.id] = evaluation
    return result


def load_project(path: Path | str | None = None, *, check_data: bool = True) -> m.Project:
    """The validated, resolved project at ``path``; raises SpecError listing every error."""
    result = validate_project(path, check_data=check_data)
    if result.errors:
        raise SpecError(result.problems)
    return m.Project(root=result.root, interventions=m.frozen_map(result.interventions),
                     evaluations=m.frozen_map(result.evaluations), warnings=tuple(result.warnings))
