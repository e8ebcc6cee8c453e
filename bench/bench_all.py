"""`make bench`: every bench in one run, then each figure against its issue-20 target together.

Each bench script runs in turn (its own output shown as it comes); the lines that state a target
(``target`` in them) are collected and printed again at the end under the bench that printed
them, with the load average at the start and the end (on a loaded machine read CPU seconds and
same-run ratios, not wall clock). The test suite's time (target: under 5 minutes on 2 cores) is
the last line of ``make test``, not measured here.

    .venv/bin/python bench/bench_all.py [--skip bench_demo.py ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("bench_cli.py", "bench_run.py", "bench_matching.py", "bench_demo.py", "bench_monitor.py",
           "bench_prepost.py", "bench_report.py")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip", nargs="*", default=[], help="bench scripts to leave out")
    args = ap.parse_args(argv)
    start_load = os.getloadavg()
    t0 = time.perf_counter()
    found: list[tuple[str, str]] = []
    failed = []
    for name in BENCHES:
        if name in args.skip:
            continue
        print(f"\n=== {name} ===", flush=True)
        proc = subprocess.Popen([sys.executable, str(HERE / name)], stdout=subprocess.PIPE, text=True, bufsize=1)
        for line in proc.stdout:
            print(line, end="", flush=True)
            if "target" in line.lower():
                found.append((name, line.strip()))
        if proc.wait():
            failed.append(name)
    print(f"\n=== issue 20 targets, measured in this run ({time.perf_counter() - t0:.0f} s; load average "
          f"{start_load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} CPU(s)) ===")
    for name, line in found:
        print(f"{name:18} {line}")
    print(f"{'make test':18} target: the suite under 5 minutes on 2 cores (its last line prints its wall time)")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
