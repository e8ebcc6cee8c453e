"""How fast the CLI answers: `evalkit --help` and `evalkit validate` against `python -c pass`.

Run with `make bench` or `.venv/bin/python bench/bench_cli.py`. Prints the median and best of
N runs of each command, in the same run, so the comparison is on the same machine and load.
`validate` runs on a temporary copy of the example project with its data generated.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def timed(cmd: list[str], cwd: Path) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "example"
        shutil.copytree(REPO / "logic_models", project / "logic_models")
        shutil.copytree(REPO / "evaluations", project / "evaluations", ignore=shutil.ignore_patterns("data"))
        subprocess.run([sys.executable, "-m", "evalkit", "synth", "--project", str(project)], check=True,
                       stdout=subprocess.DEVNULL)
        evalkit = [sys.executable, "-m", "evalkit"]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "evalkit --help": evalkit + ["--help"],
            "evalkit validate --no-data": evalkit + ["validate", "--no-data"],
            "evalkit validate": evalkit + ["validate"],
        }
        results = {name: timed(cmd, project) for name, cmd in cases.items()}
    base = statistics.median(results["python -c pass"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {RUNS} runs each")
    print(f"{'command':30} {'median s':>9} {'best s':>8} {'x python':>9}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:30} {med:9.3f} {min(times):8.3f} {med / base:9.1f}")


if __name__ == "__main__":
    main()
