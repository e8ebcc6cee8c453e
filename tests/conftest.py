"""Shared fixtures: throw-away copies of the example project, with its synthetic data.

The fixtures other test files use (computed once, shared, never modified):

- ``example_project_ro``: the example project with its data (``evalkit synth``, the monitoring demo
  extracts in the store, ``success_measures.csv``). Built once per test session *across xdist
  workers* (``shared_build``); each worker reads its own copy. Do not modify it.
- ``example_project``: a fresh copy of the plans and data (without the store) that a test may change.
- ``example_analysis(id)`` / ``example_result(id)``: ``run_analysis`` of an example plan, once per
  session across the workers (pickled). Read-only; a test that changes a result must copy it.
- ``example_run``: the example project after a real ``evalkit run --no-store`` (its results files),
  once per session across the workers. Copy it before changing it.
- ``shared_build(tmp_path_factory, name, build)``: call ``build(path)`` once per session across
  the workers (a file lock on a folder all workers see) and return ``path``; for any costly,
  read-only thing several test files need. Copy the folder before changing anything in it.
- ``run_cli(*args, cwd=...)``: the real ``evalkit`` command in a subprocess.
- ``copy_monitoring_project(root)`` / ``keyed_monitoring_project(root, monkeypatch, key)``: the
  example plans (no data) with ``monitoring/``, the latter with the pseudonymisation key set.
- ``monitor_fixtures.example_store`` / ``monitor_fixtures.example_dashboard``: the monitoring demo
  store, and the dashboard written from it (see that module).

What makes the suite slow (issue 20): one evaluation of the example's ``strategy-areas`` plan
(synthetic control with placebos) costs about 30 CPU-s, building the example data about 15, and
every ``evalkit`` subprocess pays its imports again; prefer the shared fixtures above to building
or running again, unless running in another process is what the test is about.
"""

from __future__ import annotations

import os
import re

# One BLAS/OpenMP thread per test process, set before anything imports numpy. `make test` runs two
# xdist workers on two cores; each worker's BLAS (numpy's and scipy's OpenBLAS) would otherwise
# start one thread per core, and every subprocess a test starts (os.environ is inherited) too:
# four or more busy threads on two cores made the suite about 40% slower (issue 20).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACT = Path(__file__).resolve().parent / "contract"


def copy_logic_models(src: Path, dest: Path, names: tuple[str, ...] | None = None) -> Path:
    """The logic models of ``src`` (a folder; only ``names`` when given) copied to ``dest`` for a project that holds only some of
    the example's plans: a cost period that counts its participants from a plan (``{from: data,
    evaluation: ...}``) keeps its declared figure instead, since `evalkit validate` refuses a count
    from a plan the project does not have."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(src).glob("*.yml")):
        if names is not None and path.name not in names:
            continue
        text = re.sub(r"\{from: data,.*?declared: (\d+)\}", r"\1", path.read_text(encoding="utf-8"), flags=re.S)
        assert "from: data" not in text, f"{path.name}: a counted cost period without a declared figure"
        (dest / path.name).write_text(text, encoding="utf-8")
    return dest


def _copy_project(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for folder in ("logic_models", "evaluations"):
        shutil.copytree(src / folder, dest / folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.tmp"))
    if (src / "monitoring").exists():  # the settings and sources, not the extracts
        shutil.copytree(src / "monitoring", dest / "monitoring", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("extracts"))
    return dest


def copy_monitoring_project(root: Path) -> Path:
    """Copy the example plans (without data) and ``monitoring/`` (settings and sources) to ``root``."""
    for folder in ("logic_models", "evaluations"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("data"))
    (root / "monitoring").mkdir()
    for f in (REPO / "monitoring").glob("*.yml"):
        shutil.copy(f, root / "monitoring" / f.name)
    shutil.copytree(REPO / "monitoring" / "sources", root / "monitoring" / "sources")
    return root


def keyed_monitoring_project(root: Path, monkeypatch, key: str) -> Path:
    """``copy_monitoring_project(root)`` with the pseudonymisation key set to ``key`` and no
    ``EVALKIT_STORE`` for the test: the project the ingest, fault and integrity tests start from."""
    from evalkit.monitor.keys import KEY_ENV

    copy_monitoring_project(root)
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.delenv("EVALKIT_STORE", raising=False)
    return root


MONITORING_FOR_MEASURES = ("populations", "police", "hospital_admissions")


def write_success_measures(root: Path) -> Path:
    """The strategy plan's data as the example makes it: demo extracts -> store -> `monitor export`.

    Only the sources the success measures read are ingested (the rest are not needed here).
    """
    import os

    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.ingest import ingest
    from evalkit.monitor.keys import KEY_ENV
    from evalkit.monitor.measures import export_its_data
    from evalkit.monitor.synth import EXTRACTS, write_demo_extracts
    from evalkit.project import load_project
    from evalkit.store import open_store

    if not (root / "monitoring").exists():
        (root / "monitoring").mkdir()
        for f in (REPO / "monitoring").glob("*.yml"):
            shutil.copy(f, root / "monitoring" / f.name)
        shutil.copytree(REPO / "monitoring" / "sources", root / "monitoring" / "sources")
    before = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = before or "t" * 40
    try:
        report = write_demo_extracts(root)
        mon = load_monitoring(root)
        with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
            for source in MONITORING_FOR_MEASURES:
                for path in sorted(p for p in (root / EXTRACTS / source).glob("*.*") if p.is_file()):
                    ingest(store, mon, source, path)
            for source, path in report.corrections:
                ingest(store, mon, source, path, replace=True)
            (path,) = export_its_data(store, mon, load_project(root, check_data=False))
    finally:
        if before is None:
            os.environ.pop(KEY_ENV, None)
    return path


def shared_build(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per test session, however many xdist workers ask; returns the folder.

    The workers of one session share the parent of their base temporary folders; the first to ask
    builds under a file lock while the others wait, then all read the same finished folder (renamed
    into place only when ``build`` returned, so a failed build is never read: the next asker tries
    again and fails the same way). Treat the folder as read-only: copy it before changing it.
    """
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    shared.mkdir(exist_ok=True)
    done = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                partial = shared / f"{name}.partial-{os.getpid()}"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir()
                build(partial)
                partial.rename(done)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return done


def _build_example_project(root: Path) -> None:
    from evalkit.synth import synthesise

    shutil.copytree(REPO / "logic_models", root / "logic_models")
    (root / "evaluations").mkdir()
    for plan in (REPO / "evaluations").glob("*.yml"):
        shutil.copy(plan, root / "evaluations" / plan.name)
    synthesise(root)
    write_success_measures(root)


@pytest.fixture(scope="session")
def example_project_ro(tmp_path_factory) -> Path:
    """The example project with its data generated once per session. Do not modify it.

    Generated once for all xdist workers (``shared_build``); each worker gets its own copy, so a
    test that writes into it by mistake cannot disturb the other worker's tests.
    """
    built = shared_build(tmp_path_factory, "example-project", _build_example_project)
    root = tmp_path_factory.mktemp("example-ro")
    shutil.copytree(built, root, symlinks=True, dirs_exist_ok=True)
    return root


EXAMPLE_RUN_HASH_SEED = "1"  # the PYTHONHASHSEED of example_run's `evalkit run` (test_determinism runs others)


def _run_example(built: Path, root: Path) -> None:
    _copy_project(built, root)  # the plans, their data and monitoring/ (no store, no extracts, no reports)
    env = dict(os.environ, PYTHONHASHSEED=EXAMPLE_RUN_HASH_SEED)
    env.pop("EVALKIT_STORE", None)
    done = subprocess.run([sys.executable, "-m", "evalkit", "run", "--no-store", "--project", str(root)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    """The example project after a real ``evalkit run --no-store`` of every plan (a process of its
    own, PYTHONHASHSEED=1): ``.evalkit/results/<id>/`` and ``.evalkit/private/<id>/`` as the command
    writes them, with the plans, data and ``monitoring/`` beside them (no store, no reports). Run
    once per session for all xdist workers (``shared_build``); the folder is shared: copy it
    before changing anything."""
    built = shared_build(tmp_path_factory, "example-project", _build_example_project)
    return shared_build(tmp_path_factory, "example-run", lambda folder: _run_example(built, folder / "project")) \
        / "project"


@pytest.fixture(scope="session")
def example_analysis(example_project_ro, tmp_path_factory):
    """``example_analysis(evaluation_id)``: ``run_analysis`` of an example plan (its ResultSet and
    the design's Analysis), computed once per test session *across xdist workers* (the worker that
    asks first runs it in process and pickles the pair, ``shared_build``; the other unpickles the
    same objects) and shared by every test that reads it: strategy-areas alone is about 20 CPU-s.
    Read-only, like ``example_project_ro``: a test that changes a result must copy it."""
    import pickle

    from evalkit.project import load_project
    from evalkit.run import run_analysis

    project = load_project(example_project_ro)
    cache: dict[str, tuple] = {}

    def build(evaluation_id: str, folder: Path) -> None:
        (folder / "analysis.pickle").write_bytes(pickle.dumps(run_analysis(project.evaluation(evaluation_id))))

    def get(evaluation_id: str) -> tuple:
        if evaluation_id not in cache:
            project.evaluation(evaluation_id)  # an unknown id fails here, not inside the build
            built = shared_build(tmp_path_factory, f"example-analysis-{evaluation_id}",
                                 lambda folder: build(evaluation_id, folder))
            cache[evaluation_id] = pickle.loads((built / "analysis.pickle").read_bytes())
        return cache[evaluation_id]

    return get


@pytest.fixture(scope="session")
def example_result(example_analysis):
    """``example_result(evaluation_id)``: the example plan's ResultSet (what ``evalkit.run`` returns)."""
    return lambda evaluation_id: example_analysis(evaluation_id)[0]


@pytest.fixture
def example_project(example_project_ro, tmp_path) -> Path:
    """A fresh copy of the example project (with data) that a test may change."""
    return _copy_project(example_project_ro, tmp_path / "project")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``evalkit`` command in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


# The test files that take longest, longest first (measured with `--durations`; issue 20). With
# `--dist loadfile` (pyproject.toml) each file runs whole on one worker, so its module-scoped
# fixtures are built once instead of once per worker; starting the longest files first keeps one
# worker from being left with a long file at the end while the other sits idle. A file missing
# from the list only runs later, in collection order.
SLOWEST_FIRST = (
    "test_publish_demo.py", "test_report_examples.py", "test_publish_killed.py", "test_publish_routes.py",
    "test_scaffold.py", "test_report.py",
    "test_results_schema.py", "test_place_design.py", "test_monitor_dashboard.py", "test_sim_matching.py",
    "test_docs_examples.py", "test_determinism.py", "test_subgroups_sim.py", "test_faults.py", "test_place.py",
    "test_monitor_postgres.py", "test_cli_output.py", "test_place_reference.py", "test_two_files.py",
    "test_evidence_project.py", "test_monitor_spc_example.py", "test_fuzz_inputs.py", "test_store_integrity.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order kept
