"""The run verb: evaluation plan -> data -> design -> ResultSet -> ``results.json``.

The same path for every design. ``run`` returns the ResultSet; ``run_and_write`` also writes
``results.json`` (byte-identical for the same inputs) and ``run-info.json`` (the one file
allowed to hold the time of the run) into ``.evalkit/results/<evaluation>/`` (owner-only; never under
``reports/``, which people upload: results hold unsuppressed counts).
"""

from __future__ import annotations

import contextlib

import importlib
import json
import platform
from collections.abc import Mapping
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.results import Manifest, ResultSet
from evalkit.spec import model as m
from evalkit.spec.designs import REGISTRY

# design -> module exposing analyse(evaluation, frame, seed): the registry's
DESIGN_MODULES = {d.value: e.analysis_module for d, e in REGISTRY.items()}
DEPENDENCIES = ("numpy", "pandas", "scipy", "statsmodels", "linearmodels", "scikit-learn", "dowhy",
                "pydantic", "PyYAML", "duckdb", "plotly")


def dependency_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def evalkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evalkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def plan_options(evaluation: m.Evaluation) -> dict:
    """The options that shaped the analysis, as written in the plan (after defaults)."""
    from evalkit.results import _plain

    opts = {
        "design": evaluation.design, "stage": evaluation.stage, "primary_outcome": evaluation.primary_outcome.id,
        "follow_up_months": evaluation.follow_up_months, "covariates": list(evaluation.covariates),
        "subgroups": list(evaluation.subgroups), "cluster": evaluation.cluster, "weights": evaluation.weights,
        "timepoints": {k: dict(v.columns) for k, v in evaluation.timepoints.items()},
        "outcomes": {k: col for k, (_i, col) in evaluation.outcomes.items()},
        "study": evaluation.study, "study_role": evaluation.study_role,
        "follow_up_from": evaluation.follow_up_from,
    }
    # every design's own options block, as the registry names them (the built-in designs' blocks are
    # fields of the resolved plan; a design added by its module alone keeps its block in design_options)
    for key in sorted({e.options_section for e in REGISTRY.values() if e.options_section}):
        block = getattr(evaluation, key, None)
        if block is not None:
            opts[key] = block.model_dump(mode="json")
    for key, block in evaluation.design_options.items():
        opts[key] = block.model_dump(mode="json")
    if evaluation.data is not None:
        d = evaluation.data
        opts["data"] = {"path": d.path_as_written, "id": d.id, "treatment": d.treatment,
                        "period": d.period, "population": d.population, "sheet": d.sheet}
    return _plain(opts)


def needed_columns(evaluation: m.Evaluation) -> list[str]:
    """The plan's data columns (``Evaluation.data_columns``, the one list), as a list."""
    return list(evaluation.data_columns)


# designs whose analysis gets DoWhy refutations and sensitivity sections (evalkit.estimate.causal)
ROBUSTNESS_DESIGNS = tuple(d.value for d, e in REGISTRY.items() if e.robustness is not None)


def add_robustness(evaluation: m.Evaluation, frame, analysis):
    """The design's analysis plus the 'robustness' and 'sensitivity' sections; estimates unchanged."""
    import dataclasses

    if evaluation.design.value not in ROBUSTNESS_DESIGNS:
        return analysis
    from evalkit.estimate import causal

    extra = causal.robustness(evaluation, frame, analysis, evaluation.seed, in_worker=True)
    return dataclasses.replace(analysis, sections={**analysis.sections, **extra})


@contextlib.contextmanager
def _rows_to_worker(evaluation: m.Evaluation, frame):
    """While a refuted design runs, its analysed rows go to the DoWhy worker as soon as the design hands
    them over (:func:`evalkit.estimate.analysed_rows_ready`), so that the refutations run beside the
    design's estimates rather than after them; whatever was sent and not used is dropped at the end."""
    if evaluation.design.value not in ROBUSTNESS_DESIGNS:
        yield
        return
    from evalkit.estimate import causal, listening_for_rows

    def listener(rows, outcome_column):
        causal.send_rows(evaluation, frame, rows, outcome_column)

    try:
        with listening_for_rows(listener):
            yield
    finally:
        causal.forget_rows()


def units_sha256(evaluation: m.Evaluation, frame) -> str | None:
    """A digest of the units analysed (treated units where there is a treatment column, else all ids).

    Two plans with the same digest analyse one sample, whatever their files look like: the
    evidence rating counts them as one study. Only the digest is kept, never the ids.
    """
    import hashlib

    d = evaluation.data
    if d is None or d.id not in frame.columns:
        return None
    ids = frame[d.id]
    if d.treatment and d.treatment in frame.columns:
        import pandas as pd

        ids = ids[pd.to_numeric(frame[d.treatment], errors="coerce") == 1]
    units = sorted({str(v) for v in ids.dropna()})
    if not units:
        return None
    return hashlib.sha256("\n".join(units).encode("utf-8")).hexdigest()


def read_plan_data(evaluation: m.Evaluation):
    """The plan's data as analysed: located, read strictly, checked, in canonical order.

    A matched comparison's two files (``data.comparison``) are each located, read and checked as
    the plan's only file would be (so a message names that file's lines), then stacked with the
    0/1 ``data.treatment`` column made (1: participants, 0: the pool) and put in canonical order.
    """
    from evalkit.data.checks import canonical_order, check_location, prepared_frame
    from evalkit.data.load import file_kind, read_table

    spec = evaluation.data
    if spec.comparison is None:
        check_location(spec)
        frame = read_table(spec.path, needed_columns(evaluation), spec.sheet, spec.missing_values)
        return prepared_frame(evaluation, frame, file_kind(spec.path))
    import dataclasses

    import pandas as pd

    columns = [c for c in needed_columns(evaluation) if c != spec.treatment]
    parts = []
    for (_role, path, written), group in zip(spec.files, (1, 0)):
        alone = dataclasses.replace(spec, path=path, path_as_written=written, treatment=None, comparison=None,
                                    comparison_as_written=None)
        check_location(alone)
        frame = read_table(path, columns, spec.sheet, spec.missing_values)
        frame = prepared_frame(dataclasses.replace(evaluation, data=alone), frame, file_kind(path))
        parts.append(frame.assign(**{spec.treatment: group}))
    return canonical_order(pd.concat(parts, ignore_index=True), evaluation)


def data_content_sha256(evaluation: m.Evaluation) -> str:
    """The order-free content hash that results.json records for the plan's data (see run_analysis)."""
    from evalkit.data.load import content_sha256

    return content_sha256(read_plan_data(evaluation)[needed_columns(evaluation)])


def run(evaluation: m.Evaluation, frame=None) -> ResultSet:
    """Run one evaluation; ``frame`` overrides reading the plan's data file (for notebooks, tests)."""
    return run_analysis(evaluation, frame)[0]


def run_analysis(evaluation: m.Evaluation, frame=None, meanwhile=None):
    """The ResultSet and the design's Analysis (which also holds the analysed, person-level rows).

    ``meanwhile(analysis)``, when given, is called with the design's analysis before its DoWhy
    refutations are collected: work that needs the analysis but not the refutations (writing the
    analysed rows) then runs while the worker refutes."""
    from evalkit.data.checks import prepared_frame
    from evalkit.data.load import content_sha256, sha256

    inputs = [{"path": evaluation.source.name, "role": "evaluation plan", "sha256": sha256(evaluation.source)},
              {"path": evaluation.intervention.source.name, "role": "logic model",
               "sha256": sha256(evaluation.intervention.source)}]
    if evaluation.is_external:
        from evalkit.estimate import external

        analysis = external.analyse(evaluation)
    else:
        module_name = DESIGN_MODULES.get(evaluation.design.value)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise EvalkitError(f"{evaluation.source.name}: design '{evaluation.design.value}' "
                               "cannot be run by this version of evalkit yet") from exc
        columns = needed_columns(evaluation)
        check_not_private(evaluation)
        if evaluation.design.value in ROBUSTNESS_DESIGNS:
            from evalkit.estimate.causal import start_worker

            start_worker()  # DoWhy loads in a worker while the data are read and the design runs
        # the data's identity is its content, not the order of its rows: the same rows in any order
        # give byte-identical results.json (the file's own SHA-256 goes to run-info.json)
        if frame is None:
            frame = read_plan_data(evaluation)
            files = evaluation.data.files
            treatment = evaluation.data.treatment
            inputs.append({"path": evaluation.data.path_as_written, "role": "data",
                           "content_sha256": content_sha256(frame[columns]), "rows": int(len(frame)),
                           "columns": columns, "units_sha256": units_sha256(evaluation, frame)})
            if len(files) == 2:  # participants and comparison pool: the pool's own rows, for the record
                _role, _path, written = files[1]
                pool = frame[frame[treatment] == 0]
                inputs[-1]["rows"] = int(len(frame) - len(pool))
                inputs.append({"path": written, "role": "comparison data", "rows": int(len(pool)),
                               "content_sha256": content_sha256(pool[[c for c in columns if c != treatment]]),
                               "columns": [c for c in columns if c != treatment]})
        else:
            frame = prepared_frame(evaluation, frame)
            inputs.append({"path": "(data frame passed in)", "role": "data", "rows": int(len(frame)),
                           "content_sha256": content_sha256(frame[[c for c in columns if c in frame]]),
                           "columns": columns, "units_sha256": units_sha256(evaluation, frame)})
        fz = evaluation.feasibility
        if fz is not None and fz.sessions is not None:  # read by the design itself
            from evalkit.estimate.feasibility import read_sessions

            sessions = read_sessions(evaluation, frame[evaluation.data.id])
            inputs.append({"path": fz.sessions.path, "role": "session records",
                           "content_sha256": content_sha256(sessions), "rows": int(len(sessions))})
        from evalkit._threads import one_blas_thread

        with one_blas_thread(), _rows_to_worker(evaluation, frame):  # every design: see evalkit._threads
            analysis = module.analyse(evaluation, frame, evaluation.seed)
            if meanwhile is not None:
                meanwhile(analysis)
            analysis = add_robustness(evaluation, frame, analysis)
            if evaluation.delivery is not None:  # "How it was delivered", for any design
                import dataclasses

                from evalkit.estimate.delivery_run import delivery_section

                section, delivered = delivery_section(evaluation, frame)
                analysis = dataclasses.replace(analysis, sections={**analysis.sections, "delivery": section})
                inputs.append({"path": evaluation.delivery.sessions.path, "role": "delivery session records",
                               "content_sha256": content_sha256(delivered), "rows": int(len(delivered))})
    manifest = Manifest(
        evalkit_version=evalkit_version(), python_version=platform.python_version(),
        dependencies=dependency_versions(), seed=evaluation.seed, inputs=tuple(inputs),
        options=plan_options(evaluation))
    result = ResultSet(
        evaluation=evaluation.id, intervention=evaluation.intervention.id, title=evaluation.title,
        design=evaluation.design.value, estimates=tuple(analysis.estimates), flow=tuple(analysis.flow),
        warnings=tuple(analysis.warnings), sections=dict(analysis.sections), manifest=manifest)
    return result, analysis


def default_out(project_root: Path, evaluation: m.Evaluation) -> Path:
    """The folder of an evaluation's results files: ``.evalkit/results/<id>/`` (see ``project.results_path``)."""
    from evalkit.project import results_path

    return results_path(project_root, evaluation.id, create=True).parent


def check_out_folder(project_root: Path, out: Path, setting: str = "--out") -> None:
    """Refuse to write results files into ``reports/``: they hold unsuppressed counts, and that folder is uploaded."""
    try:
        inside = Path(out).resolve().is_relative_to((Path(project_root) / "reports").resolve())
    except (OSError, ValueError):
        return
    if inside:
        raise EvalkitError(f"{setting}: {out} is inside reports/, the folder people upload, and results files hold "
                           "unsuppressed counts; expected a folder outside it (default: .evalkit/results/<evaluation>/)")


def input_files(evaluation: m.Evaluation) -> dict[str, Path]:
    """The files a results manifest records, by role (what a stale-results check compares)."""
    files = {"evaluation plan": evaluation.source, "logic model": evaluation.intervention.source}
    if evaluation.data is not None:
        files["data"] = evaluation.data.path
    fz = evaluation.feasibility
    if fz is not None and fz.sessions is not None:
        files["session records"] = (evaluation.source.parent / fz.sessions.path).resolve()
    if getattr(evaluation, "delivery", None) is not None:
        files["delivery session records"] = (evaluation.source.parent / evaluation.delivery.sessions.path).resolve()
    return files


def stale_reasons(result: ResultSet, evaluation: m.Evaluation) -> list[str]:
    """What changed since ``result`` was computed: the plan, logic model, data or evalkit itself.

    Each reason is a few words naming the file (empty when the results are current)."""
    from evalkit.data.load import sha256

    out = []
    now = evalkit_version()
    if result.manifest.evalkit_version != now:
        out.append(f"evalkit changed (results from {result.manifest.evalkit_version}, now {now})")
    recorded = {i.get("role"): i for i in result.manifest.inputs if isinstance(i, dict) or hasattr(i, "get")}
    for role, path in input_files(evaluation).items():
        entry = recorded.get(role)
        if entry is None or not entry.get("sha256"):
            continue
        shown = entry.get("path") or Path(path).name
        try:
            if sha256(path) != entry["sha256"]:
                out.append(f"the {role} ({shown}) changed")
        except OSError:
            out.append(f"the {role} ({shown}) is missing")
    return out


def private_dir(project_root: Path, evaluation_id: str) -> Path:
    """Where a run keeps its person-level rows: the project's working area, owner-only, never under reports/."""
    from evalkit.publish.atomic import private_dir as owner_only

    work = owner_only(Path(project_root) / ".evalkit")
    return owner_only(owner_only(work / "private") / evaluation_id)


def run_and_write(evaluation: m.Evaluation, out: Path) -> ResultSet:
    """Run and write ``results.json`` and ``run-info.json`` into ``out`` (default ``.evalkit/results/<evaluation>/``,
    owner-only: files 0600, folder 0700); where the design keeps the analysed (person-level) rows, they go to
    the project's ``.evalkit/private/<evaluation>/``. Nothing goes under ``reports/``: that is what people publish."""
    import datetime as dt
    import os

    from evalkit.publish.atomic import private_dir as owner_only

    written: dict[str, Path] = {}

    def write_rows(analysis) -> None:
        # the analysed (person-level) rows, to a temporary file while the DoWhy worker refutes; put in
        # place only once results.json is written, as before
        if analysis.analysed_data is not None:
            folder = private_dir(_project_root(evaluation), evaluation.id)
            tmp = folder / "analysed_data.csv.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                analysis.analysed_data.to_csv(fh, index=False)
            os.chmod(tmp, 0o600)
            written["rows"] = tmp

    try:
        result, _analysis = run_analysis(evaluation, meanwhile=write_rows)  # every design calls it
        owner_only(out)  # unsuppressed aggregates: owner-only (folder 0700, files 0600), like the private rows
        os.chmod(result.write(out / "results.json"), 0o600)
    except BaseException:
        if "rows" in written:
            written["rows"].unlink(missing_ok=True)
        raise
    if "rows" in written:
        written["rows"].replace(written["rows"].with_name("analysed_data.csv"))
    info = {"evaluation": evaluation.id, "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if evaluation.data is not None and not evaluation.is_external:
        # the file's bytes (results.json records the data by content, whatever the order of its rows)
        from evalkit.data.load import sha256

        info["data_file_sha256"] = sha256(evaluation.data.path)
    (out / "run-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.chmod(out / "run-info.json", 0o600)
    return result


def _project_root(evaluation: m.Evaluation) -> Path:
    """The project holding the plan (its ``evaluations/`` folder's parent)."""
    from evalkit.project import find_project

    return find_project(evaluation.source.parent)


def check_not_private(evaluation: m.Evaluation) -> None:
    """Refuse a plan whose data is another run's person-level rows (``.evalkit/``)."""
    if evaluation.data is None:
        return
    path = Path(evaluation.data.path).resolve()
    if ".evalkit" in path.parts:
        raise EvalkitError(f"{evaluation.source.name}: data.path '{evaluation.data.path_as_written}' points into "
                           "the project's .evalkit/ working area (person-level rows another run wrote, or the "
                           "store); expected the evaluation's own data file")


def saved_results_stale(result, evaluation) -> str | None:
    """Why saved results no longer match the plan, logic model or data (None if they match).

    Unlike :func:`stale_reasons` (which ``evalkit report`` uses to refuse stale results), a changed
    evalkit version does not count, and an unreadable data file leaves the saved results standing:
    for rating, the saved results are then all there is."""
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
                if data_content_sha256(evaluation) != inputs[role]["content_sha256"]:
                    return f"the {role} changed since the results were written"
            elif sha256(path) != inputs[role].get("sha256"):
                return f"the {role} changed since the results were written"
        except (OSError, EvalkitError):
            return None  # the data file is gone or unreadable: the saved results are all there is
    return None


def project_results(project, *, run_missing: bool = True, saved: Path | None = None):
    """Each evaluation's ResultSet: saved ``results.json`` (``.evalkit/results/<id>/``) if current, else run in memory.

    Returns (results, notes, unrated): notes say which studies were run now; unrated holds
    (intervention, evaluation, reason) for studies that have no results and could not be run.
    """
    from evalkit.project import move_old_results, results_path

    moved = move_old_results(project.root)
    results, notes, unrated = [], [], []
    if moved:
        notes.append(moved)
    for evaluation in project.evaluations.values():
        path = saved / evaluation.id / "results.json" if saved else results_path(project.root, evaluation.id)
        why = "no results.json"
        if path.exists():
            try:
                result = ResultSet.read(path)
            except (EvalkitError, ValueError, KeyError, TypeError) as exc:
                why = f"{path} cannot be read ({exc})"
            else:
                why = saved_results_stale(result, evaluation)
                if why is None:
                    results.append(result)
                    continue
        if not run_missing and not evaluation.is_external:
            unrated.append((evaluation.intervention.id, evaluation.id, f"not run ({why}); run `evalkit run {evaluation.id}`"))
            continue
        try:
            results.append(run(evaluation))
            if not evaluation.is_external:
                notes.append(f"{evaluation.id}: ran now ({why}); `evalkit run` saves results")
        except EvalkitError as exc:
            unrated.append((evaluation.intervention.id, evaluation.id, f"could not be run: {exc}"))
    return results, notes, unrated
