"""Shared fixtures: throw-away copies of the example project, with its synthetic data."""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per test process, set before anything imports numpy. `make test` runs two
# xdist workers on two cores; each worker's BLAS (numpy's and scipy's OpenBLAS) would otherwise
# start one thread per core, and every subprocess a test starts (os.environ is inherited) too:
# four or more busy threads on two cores made the suite about 40% slower (issue 20).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

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
    return root


@pytest.fixture
def example_project(example_project_ro, tmp_path) -> Path:
    """A fresh copy of the example project (with data) that a test may change."""
    return _copy_project(example_project_ro, tmp_path / "project")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``evalkit`` command in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
