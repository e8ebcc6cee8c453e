"""The same inputs give byte-identical results in another process, with another PYTHONHASHSEED,
and with the rows of every data file in another order; the EIF ratings are the same too.

Each run is a real ``evalkit`` process (not a function call in this one), so Python's hash
seed, import order and any process-global state differ as they do between two users' runs.
The known cases this guards: matched designs' results.json changed with PYTHONHASHSEED (DoWhy's
adjustment set came out of a Python set), and matched estimates and the DiD pre-trend
bootstrap (hence an EIF level) changed with the order of the input rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE_RUN_HASH_SEED, _copy_project


def _shuffle_rows(root: Path, seed: int) -> list[str]:
    """Every data file of the project with its rows in a random order (same bytes per row)."""
    rng = np.random.default_rng(seed)
    changed = []
    for path in sorted((root / "evaluations" / "data").glob("*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        header, rows = lines[0], lines[1:]
        order = rng.permutation(len(rows))
        path.write_text(header + "".join(rows[i] for i in order), encoding="utf-8")
        changed.append(path.name)
    return changed


def _start(root: Path, hash_seed: str, *args: str, env_extra: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, **(env_extra or {}))
    env.pop("EVALKIT_STORE", None)
    return subprocess.Popen([sys.executable, "-m", "evalkit", *args, "--project", str(root)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def runs(example_project_ro, example_run, tmp_path_factory):
    """plain: conftest's example_run (`evalkit run --no-store` in a process of its own, hash seed 1,
    shared with the other modules that read the example's results files); shuffled: the same
    project with every data file's rows reordered, run here under hash seed 2."""
    assert EXAMPLE_RUN_HASH_SEED != "2"  # the two runs differ in hash seed as in row order
    base = tmp_path_factory.mktemp("determinism")
    plain = shutil.copytree(example_run, base / "plain", symlinks=True)
    shuffled = _copy_project(example_project_ro, base / "shuffled")
    assert len(_shuffle_rows(shuffled, 11)) >= 7
    _finish(_start(shuffled, "2", "run", "--no-store"))
    # `evalkit rate` of each at once (separate processes)
    ratings = [_finish(p) for p in [_start(root, seed, "rate")
                                    for root, seed in ((plain, EXAMPLE_RUN_HASH_SEED), (shuffled, "2"))]]
    return plain, shuffled, ratings


def test_the_shuffled_files_really_differ(runs):
    plain, shuffled, _ = runs
    for path in (plain / "evaluations" / "data").glob("*.csv"):
        other = shuffled / "evaluations" / "data" / path.name
        assert path.read_bytes() != other.read_bytes()
        assert sorted(path.read_text().splitlines()) == sorted(other.read_text().splitlines())


def test_results_are_byte_identical_across_hash_seeds_and_row_orders(runs):
    plain, shuffled, _ = runs
    plans = sorted(p.name for p in (plain / ".evalkit" / "results").iterdir() if (p / "results.json").exists())
    assert len(plans) == 9
    for name in plans:
        a = (plain / ".evalkit" / "results" / name / "results.json").read_bytes()
        b = (shuffled / ".evalkit" / "results" / name / "results.json").read_bytes()
        assert a == b, f"{name}: results.json differs between hash seeds / row orders"


def test_ratings_are_the_same(runs):
    _, _, (plain_rating, shuffled_rating) = runs
    assert "Level" in plain_rating or "level" in plain_rating
    assert plain_rating == shuffled_rating


def test_a_third_hash_seed_in_the_same_order_gives_the_same_bytes(runs, tmp_path):
    plain, _, _ = runs
    again = _copy_project(plain, tmp_path / "again")
    shutil.rmtree(again / ".evalkit" / "results", ignore_errors=True)
    env_seed = "4242"
    for name in ("reach-2023-matched", "phoenix-2023-did"):
        _finish(_start(again, env_seed, "run", name, "--no-store"))
        assert (again / ".evalkit" / "results" / name / "results.json").read_bytes() == \
            (plain / ".evalkit" / "results" / name / "results.json").read_bytes()


def test_the_dowhy_checks_in_this_process_give_the_same_bytes_as_in_the_worker(runs, tmp_path):
    """`evalkit run` refutes in a forked worker (issue 20); with the worker switched off the checks
    run in the same process, and results.json is the same, byte for byte, under another hash seed."""
    plain, _, _ = runs
    again = _copy_project(plain, tmp_path / "in-process")
    shutil.rmtree(again / ".evalkit" / "results", ignore_errors=True)
    for name in ("reach-2023-matched", "phoenix-2023-did"):
        _finish(_start(again, "99", "run", name, "--no-store", env_extra={"EVALKIT_DOWHY_WORKER": "0"}))
        assert (again / ".evalkit" / "results" / name / "results.json").read_bytes() == \
            (plain / ".evalkit" / "results" / name / "results.json").read_bytes()


def test_a_parquet_copy_in_another_order_gives_the_same_estimates(runs, tmp_path):
    """Another file format holding the same rows in another order: the same numbers (the data's
    content hash, and so the manifest, is the same too)."""
    plain, _, _ = runs
    other = _copy_project(plain, tmp_path / "parquet")
    shutil.rmtree(other / ".evalkit" / "results", ignore_errors=True)
    plan = other / "evaluations" / "reach-matched.yml"
    data = other / "evaluations" / "data" / "reach_with_comparison.csv"
    frame = pd.read_csv(data).sample(frac=1, random_state=3)
    frame.to_parquet(data.with_suffix(".parquet"), index=False)
    plan.write_text(plan.read_text().replace("reach_with_comparison.csv", "reach_with_comparison.parquet"))
    _finish(_start(other, "7", "run", "reach-2023-matched", "--no-store"))
    import json

    a = json.loads((plain / ".evalkit" / "results" / "reach-2023-matched" / "results.json").read_text())
    b = json.loads((other / ".evalkit" / "results" / "reach-2023-matched" / "results.json").read_text())
    assert a["estimates"] == b["estimates"]
    assert a["sections"] == b["sections"]
