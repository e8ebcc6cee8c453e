"""Faults of the machine and hostile files: one line saying what happened and what to do, exit 1,
no traceback, the store unchanged.

A full disk and a read-only folder are real: each test runs evalkit inside a private mount
namespace (``unshare -rm``) holding a small tmpfs or a read-only bind mount of the project, so
the kernel itself answers ENOSPC or EROFS. Where user namespaces are not available the tests
skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, copy_monitoring_project, keyed_monitoring_project, run_cli
from test_monitor_ingest import KEY, _csv, _police, _wait_for

from evalkit.monitor.ingest import HOLD_ENV, RELEASE_ENV
from evalkit.monitor.keys import KEY_ENV

PY = sys.executable


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


NAMESPACES = _namespaces_work()
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason="user and mount namespaces (unshare -rm) are not "
                                                            "available here, so no real full disk or read-only mount")


def _env(**extra) -> dict:
    env = dict(os.environ, **{KEY_ENV: KEY}, **extra)
    env.pop("EVALKIT_STORE", None)
    env.update(extra)
    return env


def _in_namespace(script: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-rm", "sh", "-ec", script], capture_output=True, text=True, timeout=600,
                          env=env or _env())


def _one_line(stderr: str) -> str:
    """The one message line (ingest's progress lines, indented, aside)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("  ")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    return lines[0]


SNAPSHOT = textwrap.dedent("""\
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    out = {"extracts": [list(map(str, r)) for r in con.execute("SELECT extract_id, source, rows, status FROM extracts ORDER BY 1").fetchall()]}
    for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'src_%' ORDER BY 1").fetchall():
        out[t] = [str(v) for v in con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {t}").fetchone()]
    print(json.dumps(out))
    """)


def _snapshot(store: Path) -> dict:
    done = subprocess.run([PY, "-c", SNAPSHOT, str(store)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return keyed_monitoring_project(tmp_path / "project", monkeypatch, KEY)


def _ingest_one(root: Path) -> Path:
    path = _csv(_police("2024-01-01"), root / "in" / "police_2024-01.csv")
    done = run_cli("monitor", "ingest", "police", str(path), "--project", str(root))
    assert done.returncode == 0, done.stderr
    return root / ".evalkit" / "evalkit.duckdb"


# ------------------------------------------------------------------ a full disk


@needs_namespaces
def test_a_full_disk_during_ingest_leaves_the_store_unchanged(project, tmp_path):
    from evalkit.monitor import synth

    disk = tmp_path / "disk"
    disk.mkdir()
    big = synth.big_police_file(tmp_path / "police_big.csv", rows=150_000, start="2010-01-01")
    small = _csv(_police("2024-01-01"), tmp_path / "police_2024-01.csv")
    store = disk / "store.duckdb"
    snap = tmp_path / "snapshot.py"
    snap.write_text(SNAPSHOT)
    script = f"""
        mount -t tmpfs -o size=4m tmpfs {disk}
        {PY} -m evalkit monitor ingest police {small} --project {project} > /dev/null
        {PY} {snap} {store} > {tmp_path}/before.json
        set +e
        {PY} -m evalkit monitor ingest police {big} --project {project} > /dev/null 2> {tmp_path}/err.txt
        echo $? > {tmp_path}/rc.txt
        set -e
        {PY} {snap} {store} > {tmp_path}/after.json
        {PY} -m evalkit monitor status --project {project} > /dev/null 2> {tmp_path}/status_err.txt
    """
    done = _in_namespace(script, _env(EVALKIT_STORE=str(store)))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rc.txt").read_text().strip() == "1"
    line = _one_line((tmp_path / "err.txt").read_text())
    assert "disk is full" in line and "nothing was changed" in line
    assert json.loads((tmp_path / "after.json").read_text()) == json.loads((tmp_path / "before.json").read_text())


@needs_namespaces
def test_a_full_disk_writing_results_is_one_line_and_leaves_no_partial_file(example_project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = f"""
        mount -t tmpfs -o size=12k tmpfs {out}
        set +e
        {PY} -m evalkit run reach-2023-matched --no-store --out {out}/r --project {example_project} \
            > /dev/null 2> {tmp_path}/err.txt
        echo $? > {tmp_path}/rc.txt
        ls -A {out}/r > {tmp_path}/left.txt 2>/dev/null || true
    """
    done = _in_namespace(script)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rc.txt").read_text().strip() == "1"
    line = _one_line((tmp_path / "err.txt").read_text())
    assert "No space left on device (ENOSPC)" in line and "free some space" in line
    left = (tmp_path / "left.txt").read_text().split()
    assert "results.json.tmp" not in left and not [f for f in left if f.endswith((".tmp", ".partial"))]


# ------------------------------------------------------------------ a read-only project folder


@needs_namespaces
def test_a_read_only_project_run_is_one_line_and_status_still_works(project, tmp_path):
    store = _ingest_one(project)
    before = _snapshot(store)
    for name in ("logic_models", "evaluations"):
        shutil.rmtree(project / name)
        shutil.copytree(REPO / name, project / name, ignore=shutil.ignore_patterns("data"))
    from evalkit.synth import synthesise

    synthesise(project)
    # the strategy's time series reads a file `evalkit monitor export` writes from a full store,
    # which this one-month store cannot give; the plan is not what this test is about
    (project / "evaluations" / "strategy-its.yml").unlink()
    new = _csv(_police("2024-02-01", prefix="F"), tmp_path / "police_2024-02.csv")
    script = f"""
        mount --bind {project} {project}
        mount -o remount,bind,ro {project}
        set +e
        {PY} -m evalkit run reach-2023-prepost --project {project} > /dev/null 2> {tmp_path}/run_err.txt
        echo $? > {tmp_path}/run_rc.txt
        {PY} -m evalkit monitor ingest police {new} --project {project} > /dev/null 2> {tmp_path}/ingest_err.txt
        echo $? > {tmp_path}/ingest_rc.txt
        {PY} -m evalkit monitor status --project {project} > {tmp_path}/status_out.txt 2> {tmp_path}/status_err.txt
        echo $? > {tmp_path}/status_rc.txt
        {PY} -m evalkit monitor indicators --project {project} > /dev/null 2> {tmp_path}/ind_err.txt
        echo $? > {tmp_path}/ind_rc.txt
    """
    done = _in_namespace(script)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run_rc.txt").read_text().strip() == "1"
    assert "read-only" in _one_line((tmp_path / "run_err.txt").read_text()).lower()
    assert (tmp_path / "ingest_rc.txt").read_text().strip() == "1"
    assert "read-only" in _one_line((tmp_path / "ingest_err.txt").read_text()).lower()
    # status and indicators only read the store: they work on a read-only folder
    assert (tmp_path / "status_rc.txt").read_text().strip() == "0", (tmp_path / "status_err.txt").read_text()
    assert "police" in (tmp_path / "status_out.txt").read_text()
    assert (tmp_path / "ind_rc.txt").read_text().strip() == "0", (tmp_path / "ind_err.txt").read_text()
    assert _snapshot(store) == before


# ------------------------------------------------------------------ a damaged or locked store


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_store_is_one_line_and_left_as_it_is(project, tmp_path, damage):
    store = _ingest_one(project)
    data = store.read_bytes()
    store.write_bytes({"garbage": b"not a database " * 5000, "truncated": data[: len(data) // 3],
                       "empty": b""}[damage])
    kept = store.read_bytes()
    new = _csv(_police("2024-02-01", prefix="F"), tmp_path / "police_2024-02.csv")
    for args in (("monitor", "status"), ("monitor", "ingest", "police", str(new)), ("monitor", "indicators")):
        done = run_cli(*args, "--project", str(project))
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        line = _one_line(done.stderr)
        assert "damaged" in line or "store schema" in line or "cannot open the store" in line, line
        assert store.read_bytes() == kept


def test_a_concurrent_ingest_and_status_wait_their_turn(project, tmp_path):
    store = _ingest_one(project)
    first = _csv(_police("2024-02-01", prefix="F"), tmp_path / "police_2024-02.csv")
    second = _csv(_police("2024-03-01", prefix="M"), tmp_path / "police_2024-03.csv")
    proc = subprocess.Popen([PY, "-m", "evalkit", "monitor", "ingest", "police", str(first), "--project", str(project)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=_env(**{HOLD_ENV: "120", RELEASE_ENV: str(tmp_path / "release")}))
    try:
        _wait_for(proc, "holding the transaction open")
        for args in (("monitor", "ingest", "police", str(second)), ("monitor", "status"), ("monitor", "indicators")):
            done = run_cli(*args, "--project", str(project))
            assert done.returncode == 1, (args, done.stderr)
            line = _one_line(done.stderr)
            assert "in use by another evalkit process" in line and "try again" in line.lower()
        assert proc.poll() is None  # still holding: the three were refused while it held the store
        (tmp_path / "release").touch()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    after = _snapshot(store)
    assert [e[1:] for e in after["extracts"]] == [["police", "40", "active"], ["police", "40", "active"]] or \
        len(after["extracts"]) == 2
    # and now the second goes in
    assert run_cli("monitor", "ingest", "police", str(second), "--project", str(project)).returncode == 0


def test_status_and_indicators_open_the_store_read_only(project, monkeypatch):
    from evalkit.cli import main
    from evalkit.store import db

    _ingest_one(project)
    modes = []
    real = db.open_store

    def spy(path, **kw):
        modes.append(kw.get("read_only", False))
        return real(path, **kw)

    monkeypatch.setattr(db, "open_store", spy)
    monkeypatch.setattr("evalkit.store.open_store", spy)
    assert main(["monitor", "status", "--project", str(project)]) == 0
    assert main(["monitor", "indicators", "--project", str(project)]) == 0
    assert modes == [True, True]


# ------------------------------------------------------------------ hostile YAML


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def _limited(args, cwd=None, memory_mb: int = 1500, timeout: int = 120) -> subprocess.CompletedProcess:
    """evalkit with its address space capped: a memory blow-up fails the test instead of the machine."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))

    return subprocess.run([PY, "-m", "evalkit", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=cap, env=_env())


def test_a_yaml_alias_bomb_is_refused_without_exhausting_memory(example_project):
    (example_project / "logic_models" / "bomb.yml").write_text(BOMB)
    start = time.monotonic()
    done = _limited(["validate", "--no-data", "--project", str(example_project)])
    assert time.monotonic() - start < 60
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "logic_models/bomb.yml: error: (file): the file expands to more than 100,000 values" in done.stderr


def test_a_huge_or_deep_yaml_file_is_refused(example_project):
    (example_project / "logic_models" / "huge.yml").write_text("id: x\nnotes: |\n" + ("  " + "y" * 99 + "\n") * 30_000)
    (example_project / "logic_models" / "deep.yml").write_text(
        "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n")
    done = _limited(["validate", "--no-data", "--project", str(example_project)])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "logic_models/huge.yml: error: (file): the file is too large for an evalkit YAML file" in done.stderr
    assert "logic_models/deep.yml: error: (file): the file nests more than 60 levels deep" in done.stderr


# ------------------------------------------------------------------ only regular files are data


def test_a_fifo_named_csv_does_not_hang(example_project, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    project = copy_monitoring_project(tmp_path / "monitoring-project")
    data = example_project / "evaluations" / "data" / "reach_cohort.csv"
    data.unlink()
    os.mkfifo(data)
    for args in (["validate"], ["run", "reach-2023-prepost", "--no-store"]):
        done = _limited([*args, "--project", str(example_project)], timeout=60)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "a named pipe (FIFO); expected a regular file" in done.stderr
    fifo = tmp_path / "police.csv"
    os.mkfifo(fifo)
    done = _limited(["monitor", "ingest", "police", str(fifo), "--project", str(project)], timeout=60)
    assert done.returncode == 1 and "named pipe (FIFO)" in _one_line(done.stderr)
    plan = example_project / "evaluations" / "fifo.yml"
    os.mkfifo(plan)
    done = _limited(["validate", "--no-data", "--project", str(example_project)], timeout=60)
    assert done.returncode == 1 and "evaluations/fifo.yml: error: (file): not a regular file" in done.stderr


# ------------------------------------------------------------------ data inside the project (or a listed root)


SECRET_LINE = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash"


def test_data_paths_outside_the_project_and_symlinks_are_refused(example_project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "passwd.csv").write_text(SECRET_LINE + "\nmore\n")
    shutil.copy(example_project / "evaluations" / "data" / "reach_cohort.csv", outside / "cohort.csv")
    plan = example_project / "evaluations" / "reach-prepost.yml"
    text = plan.read_text()
    plan.write_text(text.replace("data/reach_cohort.csv", f"{outside}/passwd.csv"))
    done = run_cli("validate", "--project", str(example_project))
    assert done.returncode == 1 and "SECRET" not in done.stderr + done.stdout
    assert "outside the project" in done.stderr
    # a relative path climbing out, and a symlink inside the project pointing out, are the same
    plan.write_text(text.replace("data/reach_cohort.csv", "../../elsewhere/cohort.csv"))
    assert "outside the project" in run_cli("validate", "--project", str(example_project)).stderr
    link = example_project / "evaluations" / "data" / "link.csv"
    link.symlink_to(outside / "passwd.csv")
    plan.write_text(text.replace("data/reach_cohort.csv", "data/link.csv"))
    done = run_cli("run", "reach-2023-prepost", "--no-store", "--project", str(example_project))
    assert done.returncode == 1 and "SECRET" not in done.stderr and "outside the project" in done.stderr
    # unless the project lists the folder as a data root
    (example_project / "evalkit.yml").write_text(f"data_roots: [{outside}]\n")
    plan.write_text(text.replace("data/reach_cohort.csv", f"{outside}/cohort.csv"))
    done = run_cli("run", "reach-2023-prepost", "--no-store", "--project", str(example_project))
    assert done.returncode == 0, done.stderr


def test_a_data_root_that_does_not_exist_is_a_spec_error(example_project):
    (example_project / "evalkit.yml").write_text("data_roots: [/no/such/folder]\n")
    done = run_cli("validate", "--no-data", "--project", str(example_project))
    assert done.returncode == 1
    assert "evalkit.yml:1: error: data_roots[0]: no such folder (found /no/such/folder" in done.stderr
