"""Bench: `make demo` (= `evalkit demo`, eleven steps in one process) against the same commands run one by one.

A fresh copy of the example project (no data, no results) for each, in the same run:

- **evalkit demo**: the eleven steps in one process (``evalkit demo --json``: per-step wall and CPU
  seconds, CPU counting the renderers it starts);
- **the commands one by one**: ``evalkit synth``, ``validate``, ... ``report --pdf``, each its own process,
  as the Makefile ran them before issue 20 (each pays the imports again).

Prints both totals, the ratio, and the demo's total against the 60 s target of issue 20 (wall
clock; on a loaded machine read the CPU seconds and the ratio).

    .venv/bin/python bench/bench_demo.py [--skip-separate]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def fresh_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(("tests/", "bench/", "evalkit/", "docs/", ".")):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return dest


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-separate", action="store_true", help="time only `evalkit demo`")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from evalkit.cli import DEMO_STEPS

    evalkit = [sys.executable, "-m", "evalkit"]
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        root = fresh_copy(Path(tmp) / "demo")
        c0, t0 = children_cpu(), time.perf_counter()
        done = subprocess.run([*evalkit, "demo", "--json"], cwd=root, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, children_cpu() - c0
        if done.returncode:
            raise SystemExit(f"evalkit demo failed:\n{done.stderr[-3000:]}")
        steps = json.loads(done.stdout)["steps"]
        print(f"{'step':36} {'wall s':>8} {'CPU s':>8}")
        for s in steps:
            print(f"{s['step']:36} {s['seconds']:8.1f} {s['cpu_seconds']:8.1f}")
        print(f"evalkit demo (one process): {wall:.1f} s wall, {cpu:.1f} s CPU")
        if not args.skip_separate:
            root2 = fresh_copy(Path(tmp) / "separate")
            c0, t0 = children_cpu(), time.perf_counter()
            for _label, cmd in DEMO_STEPS:
                subprocess.run([*evalkit, *cmd], cwd=root2, check=True, capture_output=True)
            wall2, cpu2 = time.perf_counter() - t0, children_cpu() - c0
            print(f"the eleven commands one by one (before issue 20): {wall2:.1f} s wall, {cpu2:.1f} s CPU")
            print(f"ratio  separate / demo: {wall2 / wall:.2f}x wall, {cpu2 / cpu:.2f}x CPU")
    print(f"target demo < {TARGET_S:.0f} s: {wall:.1f} s wall ({'met' if wall < TARGET_S else 'NOT met'}), "
          f"{cpu:.1f} s CPU ({'met' if cpu < TARGET_S else 'NOT met'} on CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
