"""A killed `evalkit report` never leaves an unscanned page (issue 12's atomic publishing).

In a file of its own (issue 20): it takes half a minute, and the suite runs one file per worker at a
time (`--dist loadfile`), so beside the rest of test_publish_routes.py it would hold one worker alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli

from evalkit.publish.policy import Policy
from evalkit.publish.scan import scan_html


def _published_files(reports: Path) -> dict[str, bytes]:
    return {str(p.relative_to(reports)): p.read_bytes() for p in reports.rglob("*")
            if p.is_file() and p.suffix in (".html", ".pdf", ".qmd")}


@pytest.mark.slow
def test_killing_evalkit_report_never_leaves_an_unscanned_page(example_project):
    root = example_project
    for e in ("mvp-external-trial", "strategy-its"):
        assert run_cli("run", e, "--project", str(root), "--no-store").returncode == 0
    first = run_cli("report", "--pdf", "--project", str(root))
    assert first.returncode == 0, first.stderr
    reports = root / "reports"
    random.seed(12)
    for delay in [random.uniform(0.5, 9.0) for _ in range(5)]:
        before = _published_files(reports)
        # a different threshold, so every page changes: a half-written new page would differ from both
        proc = subprocess.Popen([sys.executable, "-m", "evalkit", "report", "--pdf", "--min-count",
                                 str(random.choice([6, 7, 8])), "--project", str(root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        receipts = json.loads((root / ".evalkit" / "published.json").read_text())
        for rel, data in _published_files(reports).items():
            if before.get(rel) == data:
                continue  # the previous good page
            assert receipts.get(f"reports/{rel}") == hashlib.sha256(data).hexdigest(), rel  # scanned, then moved
            if rel.endswith(".html"):
                assert scan_html(data.decode("utf-8"), Policy(threshold=5)) == []
        assert not [p for p in reports.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    # the next run cleans what the killed ones left in the private staging folder
    assert run_cli("report", "--project", str(root)).returncode == 0
    assert not list((root / ".evalkit" / "tmp").glob("publish-*"))
