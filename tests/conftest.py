"""Shared fixtures: throw-away copies of the example project, with its synthetic data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACT = Path(__file__).resolve().parent / "contract"


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


@pytest.fixture(scope="session")
def example_project_ro(tmp_path_factory) -> Path:
    """The example project with its data generated once per session. Do not modify it."""
    from evalkit.synth import synthesise

    root = tmp_path_factory.mktemp("example-ro")
    shutil.copytree(REPO / "logic_models", root / "logic_models")
    (root / "evaluations").mkdir()
    for plan in (REPO / "evaluations").glob("*.yml"):
        shutil.copy(plan, root / "evaluations" / plan.name)
    synthesise(root)
    write_success_measures(root)
    return root


@pytest.fixture
def example_project(example_project_ro, tmp_path) -> Path:
    """A fresh copy of the example project (with data) that a test may change."""
    return _copy_project(example_project_ro, tmp_path / "project")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``evalkit`` command in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
