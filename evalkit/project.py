"""Find, validate and resolve a project: a folder holding ``logic_models/`` and ``evaluations/``.

``validate_project`` runs both passes (shape, then meaning, then the data) and returns every
problem; ``load_project`` returns the resolved, frozen :class:`~evalkit.spec.model.Project` or
raises :class:`~evalkit.errors.SpecError` carrying every error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import Problem, ProjectError, SpecError
from evalkit.spec import model as m

LOGIC_MODELS = "logic_models"
EVALUATIONS = "evaluations"
PROJECT_FILE = "evalkit.yml"
YAML_SUFFIXES = (".yml", ".yaml")


WORK_DIR = ".evalkit"  # the project's working area: owner-only, never uploaded
RESULTS_DIR = "results"
OLD_RESULTS_FILES = ("results.json", "run-info.json")  # what an older evalkit left in reports/<id>/


# reports/README.md of a new project: the one static file allowed in reports/ beside the scanned pages
REPORTS_README = """# reports

What `evalkit report` and `evalkit monitor` publish: each page was rendered and scanned
(disclosure control on every count) before it was moved here, so this folder is the one to upload.
Nothing else belongs here: the results files with unsuppressed counts (`evalkit run`,
`evalkit compare`) and person-level rows live, owner-only, in the project's `.evalkit/` folder.
"""


def results_path(root: Path | str, evaluation: str | None = None, name: str = "results.json", *,
                 create: bool = False) -> Path:
    """Where an analyst-only results file lives: ``.evalkit/results/<evaluation>/<name>``.

    ``results.json`` and ``run-info.json`` (unsuppressed aggregates and the run's record) go here,
    and, with ``evaluation`` None, ``.evalkit/results/<name>`` (the portfolio, ``portfolio.json``);
    never under ``reports/``, the folder people upload. With ``create`` the folders are made
    owner-only (0700), like the store and the private rows. The one place this path is spelt."""
    folder = Path(root) / WORK_DIR / RESULTS_DIR
    if evaluation is not None:
        folder = folder / evaluation
    if create:
        from evalkit.publish.atomic import private_dir

        private_dir(Path(root) / WORK_DIR)
        private_dir(Path(root) / WORK_DIR / RESULTS_DIR)
        private_dir(folder)
    return folder / name


def move_old_results(root: Path | str) -> str | None:
    """Move the results files an older evalkit left under ``reports/`` into ``.evalkit/results/``.

    ``reports/<id>/results.json`` and ``run-info.json`` and ``reports/portfolio.json`` hold
    unsuppressed aggregates; an older evalkit wrote them beside the pages. They are moved (owner-only)
    rather than published or ignored, and one line says so (None when there was nothing to move).
    Where a current file already sits in ``.evalkit/results/``, the old one is kept beside it as
    ``<name>.from-reports`` so nothing is lost or silently preferred."""
    import os

    reports = Path(root) / "reports"
    if not reports.is_dir():
        return None
    old = [(p, p.parent.name, p.name) for name in OLD_RESULTS_FILES for p in sorted(reports.glob(f"*/{name}"))]
    if (reports / "portfolio.json").is_file():
        old.append((reports / "portfolio.json", None, "portfolio.json"))
    moved = []
    for path, evaluation, name in old:
        if not path.is_file():
            continue
        dest = results_path(root, evaluation, name, create=True)
        if dest.exists():
            dest = dest.with_name(name + ".from-reports")
        os.chmod(path, 0o600)
        os.replace(path, dest)
        moved.append(str(path.relative_to(Path(root))))
    if not moved:
        return None
    shown = ", ".join(moved[:3]) + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
    return (f"moved {len(moved)} results file(s) an older evalkit left in reports/ (the folder people upload) to "
            f"{WORK_DIR}/{RESULTS_DIR}/ (owner-only): {shown}")


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
        f"'{LOGIC_MODELS}/' and '{EVALUATIONS}/' (use --project DIR to name one, or `evalkit init DIR` to start one)")


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
        unfilled = placeholders(doc)
        if unfilled:
            # a skeleton (`evalkit new`) not filled in yet: name each placeholder, and not the
            # type errors they cause; the file is not resolved until they are written
            problems += unfilled
            problems += [p for p in shape_problems if p.path not in {u.path for u in unfilled}]
            raw = None
        else:
            problems += shape_problems
        if raw is not None and raw.id in seen:
            problems.append(Problem(doc.file, doc.line_of(("id",)), "id", f"{kind} id is used by another file",
                                    found=f"'{raw.id}' (also in {seen[raw.id]})",
                                    expected=f"a different id in each {each}"))
            continue
        if raw is not None:
            seen[raw.id] = doc.file
        yield path, doc, raw


# a value still to be written: the skeletons of `evalkit new` hold "<what goes here>"
PLACEHOLDER = re.compile(r"^<[^<>\n]+>$")
PLACEHOLDER_FILE = re.compile(r"(^|/)<[^<>/\n]+>(\.\w+)?$")  # data/<participants>.csv


def placeholders(doc) -> list[Problem]:
    """One problem per key or value of ``doc`` that is still a ``<placeholder>``."""
    from evalkit.spec.yamlio import format_path

    found: list[Problem] = []

    def walk(value, path: tuple) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and PLACEHOLDER.match(key):
                    found.append(Problem(doc.file, doc.line_of(path + (key,)), format_path(path + (key,)),
                                         "placeholder key not written yet", found=repr(key),
                                         expected="your own key in its place, as the comment on the line says"))
                walk(item, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, path + (i,))
        elif isinstance(value, str) and (PLACEHOLDER.match(value.strip()) or PLACEHOLDER_FILE.search(value)):
            found.append(Problem(doc.file, doc.line_of(path), format_path(path), "placeholder not written yet",
                                 found=repr(value),
                                 expected="your own value in its place, as the comment on the line says"))

    walk(doc.data, ())
    return found


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
    from evalkit.publish.policy import DisclosureSettingError, project_policy

    try:
        project_policy(root)
    except DisclosureSettingError as exc:  # "evalkit.yml:LINE: key: ..." as one problem of the file
        where, _, rest = str(exc).partition(": ")
        line = where.rpartition(":")[2]
        key, _, message = rest.partition(": ")
        problems.append(Problem(PROJECT_FILE if where.startswith(PROJECT_FILE) else where.partition(":")[0],
                                int(line) if line.isdigit() else None, key, message or rest))
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
    from evalkit.spec.designs import plan_model
    from evalkit.spec.raw import LogicModelFile
    from evalkit.spec.resolve import resolve_evaluation, resolve_logic_model

    EvaluationFile = plan_model()  # with the options block of every registered design

    if root is not None and not Path(root).exists():
        raise ProjectError(f"{root}: no such folder; expected a project folder holding "
                           f"'{LOGIC_MODELS}/' and '{EVALUATIONS}/'")
    root = find_project(root) if root is None or not is_project(Path(root)) else Path(root).resolve()
    result = Validation(root=root)
    data_roots = (root, *_data_roots(root, result.problems))

    broken: set[str] = set()
    unreadable: list[str] = []  # logic model files too broken to know their id
    model_docs = []  # (document, logic model) of each valid logic model, for the checks across files
    plan_ids: dict[str, str | None] = {}  # every plan's id -> its intervention (None: the plan is broken)
    for path, doc, raw in _read_files(root, LOGIC_MODELS, LogicModelFile, "logic model", "logic model",
                                     result.problems):
        if raw is None:
            if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
                broken.add(doc.data["id"])
            else:
                unreadable.append(doc.file)
            continue
        logic_model, problems = resolve_logic_model(doc, raw, path)
        if logic_model is not None and logic_model.costs is not None:
            from evalkit.vfm.assess import costs_problems  # the unit costs of crime a costs block names

            problems = problems + costs_problems(doc, logic_model)
            if any(p.severity == "error" for p in problems):
                logic_model = None
        result.problems += problems
        if logic_model is None:
            broken.add(raw.id)
        else:
            result.interventions[raw.id] = logic_model
            model_docs.append((doc, logic_model))

    for path, doc, raw in _read_files(root, EVALUATIONS, EvaluationFile, "evaluation", "evaluation plan",
                                     result.problems):
        if raw is None:
            if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
                plan_ids[doc.data["id"]] = None
            continue
        plan_ids[raw.id] = raw.intervention
        evaluation, problems = resolve_evaluation(doc, raw, path, result.interventions, broken,
                                                     tuple(unreadable), data_roots)
        result.problems += problems
        if evaluation is None:
            continue
        private = _private_data(evaluation, doc, root)
        if private is not None:
            result.problems.append(private)
            continue
        if check_data:
            problems = _check_data(evaluation, doc)
            result.problems += problems
            if any(p.severity == "error" for p in problems):
                continue
        result.evaluations[raw.id] = evaluation
    result.problems += _counted_participants(model_docs, plan_ids, root)
    return result


def _counted_participants(model_docs, plan_ids: dict, root: Path) -> list[Problem]:
    """A cost period counted ``from: data`` names a plan of the project, of the same intervention.

    Checked here, with every file read, so that `evalkit validate` says it before the first report
    that counts (evalkit.vfm.participants makes the count, and stops that report with one line). A
    warning, not an error: `evalkit run` does not use costs, so the plans still run; `--strict` (and
    the demo) refuse it, and no report prints a figure without its count."""
    out = []
    for doc, logic_model in model_docs:
        for i, period in enumerate(logic_model.costs.periods if logic_model.costs is not None else ()):
            for which in ("started", "completed"):
                spec = getattr(period, f"{which}_from")
                if spec is None or spec.from_ != "data" or plan_ids.get(spec.evaluation, "") is None:
                    continue  # a broken plan has its own error
                key = ("costs", "periods", i, "participants", which, "evaluation")
                where = dict(file=_shown(logic_model.source, root), line=doc.line_of(key),
                             path=f"costs.periods[{i}].participants.{which}.evaluation", severity="warning")
                if spec.evaluation not in plan_ids:
                    out.append(Problem(**where, message="participants are counted from an evaluation plan the "
                                       "project does not have (its reports will stop)", found=repr(spec.evaluation),
                                       expected="one of " + (", ".join(sorted(plan_ids)) or "(no plans)")))
                elif plan_ids[spec.evaluation] != logic_model.id:
                    out.append(Problem(**where, message=f"evaluation '{spec.evaluation}' is of "
                                       f"{plan_ids[spec.evaluation]}, not {logic_model.id} (its reports will stop)",
                                       found=repr(spec.evaluation), expected=f"a plan of {logic_model.id}"))
    return out


def _private_data(evaluation: m.Evaluation, doc, root: Path) -> Problem | None:
    """A plan may not use the project's working area (.evalkit/: other runs' person-level rows, the store)."""
    if evaluation.data is None:
        return None
    for role, path, written in evaluation.data.files:
        try:
            inside = Path(path).resolve().is_relative_to((root / ".evalkit").resolve())
        except (OSError, ValueError):
            continue
        if inside:
            key = "path" if role == "data" else "comparison"
            return Problem(_shown(evaluation.source, root), doc.line_of(("data", key)), f"data.{key}",
                           "points into the project's .evalkit/ working area (person-level rows another run "
                           "wrote, or the store)", found=repr(written), expected="the evaluation's own data file")
    return None


def _check_data(evaluation: m.Evaluation, doc) -> list[Problem]:
    """The data checks of the plan's file, or of each of a matched comparison's two files."""
    import dataclasses

    from evalkit.data.checks import check_data

    spec = evaluation.data
    if spec is None or spec.comparison is None:
        return check_data(evaluation, doc)
    problems: list[Problem] = []
    for role, path, written in spec.files:
        # each file on its own, as if it were the plan's only file; the groups are the files
        alone = dataclasses.replace(spec, path=path, path_as_written=written, treatment=None, comparison=None,
                                    comparison_as_written=None)
        found = check_data(dataclasses.replace(evaluation, data=alone), doc)
        if role == "comparison data":  # a problem with "the file" is one with data.comparison
            line = doc.line_of(("data", "comparison"))
            found = [dataclasses.replace(p, path="data.comparison", line=line) if p.path == "data.path" else p
                     for p in found]
        problems += found
    if not any(p.severity == "error" and p.path in ("data.path", "data.comparison") for p in problems):
        problems += _check_two_files(evaluation, doc)
    return problems


def _check_two_files(evaluation: m.Evaluation, doc) -> list[Problem]:
    """What only two files can get wrong: columns that differ, a unit in both, a column's type."""
    import pandas as pd

    from evalkit.data.load import read_columns, read_table

    spec = evaluation.data
    (_r, path, written), (_c, pool, pool_written) = spec.files
    line = doc.line_of(("data", "comparison"))

    def problem(message: str, found: str, expected: str) -> Problem:
        return Problem(doc.file, line, "data.comparison", message, found=found, expected=expected)

    present = {written: read_columns(path, spec.sheet), pool_written: read_columns(pool, spec.sheet)}
    problems = [problem(f"{label} has a column named like the group column evalkit makes",
                        f"'{spec.treatment}'", "another name in data.treatment (evalkit makes the 0/1 column "
                        "from the files), or drop the column")
                for label, columns in present.items() if spec.treatment in columns]
    wanted = [c for c in evaluation.data_columns if c != spec.treatment]
    if any(c not in columns for c in wanted for columns in present.values()):
        only = [(label, [c for c in columns if c not in other])
                for (label, columns), other in zip(present.items(), reversed(list(present.values())))]
        problems.append(problem("the participants' and comparison files do not have the same columns",
                                "; ".join(f"only in {label}: {', '.join(cols)}" for label, cols in only if cols),
                                "the same columns in both files (at least every column the plan names)"))
        return problems
    frames = {label: read_table(p, wanted, spec.sheet, spec.missing_values)
              for label, p in ((written, path), (pool_written, pool))}
    (first_label, first), (second_label, second) = frames.items()
    both = first[spec.id].isin(second[spec.id]) & first[spec.id].notna()
    if both.any():
        # where to look, not the ids themselves: line numbers of a CSV (header = line 1), else rows
        csv = path.suffix.lower() == ".csv"
        lines = [int(i) + (2 if csv else 1) for i in both.to_numpy().nonzero()[0][:3]]
        more = f" and {int(both.sum()) - 3} more" if both.sum() > 3 else ""
        problems.append(problem(f"{int(both.sum())} unit(s) of {first_label} are also in the comparison pool",
                                f"the '{spec.id}' of {'lines' if csv else 'rows'} {', '.join(map(str, lines))}{more}"
                                f" of {first_label} "
                                f"in {second_label}", "each unit in one file only: participants or comparison pool"))
    for column in wanted:
        kinds = {label: pd.api.types.is_numeric_dtype(frame[column].dropna()) or frame[column].isna().all()
                 for label, frame in frames.items()}
        if len(set(kinds.values())) > 1:
            text = [label for label, numeric in kinds.items() if not numeric]
            problems.append(problem(f"column '{column}' holds numbers in one file and text in the other",
                                    f"text in {', '.join(text)}", "the same kind of values in both files"))
    return problems


def load_project(path: Path | str | None = None, *, check_data: bool = True) -> m.Project:
    """The validated, resolved project at ``path``; raises SpecError listing every error."""
    result = validate_project(path, check_data=check_data)
    if result.errors:
        from evalkit.publish.policy import project_policy

        project_policy(result.root)  # a wrong disclosure setting is one line on its own (DisclosureSettingError)
        raise SpecError(result.problems)
    return m.Project(root=result.root, interventions=m.frozen_map(result.interventions),
                     evaluations=m.frozen_map(result.evaluations), warnings=tuple(result.warnings))
