"""How long rendering every example report takes (HTML, and with the PDFs), and how big the files are.

Run with `.venv/bin/python bench/bench_report.py`. On a temporary copy of the example project,
prepared as `evalkit demo` prepares it (data from `evalkit synth`; the monitoring extracts ingested
and the success measures exported, which the strategy's time series reads; every plan run; the
portfolio from `evalkit compare`), it times `build_reports` for every evaluation as one
publication (disclosure decided once, every page scanned; Pandoc path unless the Quarto CLI is on
PATH): the HTML pages alone, then HTML with the PDFs (`evalkit report --pdf`, the demo's step),
each as wall and CPU seconds (CPU counting the renderers it starts). The preparation must succeed:
a plan that fails to run stops the bench (it used to time nothing useful when strategy-its failed).
`BENCH_RUNS` (default 1) repeats each render and keeps the best.

    .venv/bin/python bench/bench_report.py
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "1"))


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def prepare(project_dir: Path) -> None:
    """The example project with data, monitoring store, results and portfolio, as the demo leaves it."""
    shutil.copytree(REPO / "logic_models", project_dir / "logic_models")
    shutil.copytree(REPO / "evaluations", project_dir / "evaluations", ignore=shutil.ignore_patterns("data"))
    shutil.copytree(REPO / "monitoring", project_dir / "monitoring", ignore=shutil.ignore_patterns("extracts"))
    for name in ("evalkit.yml",):
        if (REPO / name).exists():
            shutil.copy(REPO / name, project_dir / name)
    evalkit = [sys.executable, "-m", "evalkit", "--project", str(project_dir)]
    for step in (["synth"], ["monitor", "demo-data", "--ingest"], ["monitor", "export"], ["run"],
                 ["compare"]):
        done = subprocess.run([*evalkit, *step, "-q"], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"preparing the example project: `evalkit {' '.join(step)}` failed:\n"
                             f"{done.stderr.strip()[-2000:]}")


def timed_build(project, chosen, reports_dir: Path, pdf: bool):
    from evalkit.report.write import build_reports

    best = None
    built = []
    for _ in range(RUNS):
        c0, t0 = cpu(), time.perf_counter()
        built = build_reports(project, chosen, reports_dir=reports_dir, pdf=pdf, log=lambda *_: None)
        took = (time.perf_counter() - t0, cpu() - c0)
        best = took if best is None or took[0] < best[0] else best
    return best, built


def main() -> None:
    from evalkit.project import load_project, results_path
    from evalkit.publish.render import quarto_available

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        project_dir = Path(tmp) / "example"
        t0 = time.perf_counter()
        prepare(project_dir)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"renderer: {'quarto' if quarto_available() else 'pandoc (pypandoc-binary)'}; best of {RUNS}; "
              f"example project prepared in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.1f}")
        project = load_project(project_dir, check_data=False)
        reports_dir = project_dir / "reports"
        chosen = [e for e in project.evaluations.values() if results_path(project_dir, e.id).exists()]
        missing = sorted(set(project.evaluations) - {e.id for e in chosen})
        if missing:
            raise SystemExit(f"no results for {', '.join(missing)}: the bench would not time every report")
        (html_wall, html_cpu), built = timed_build(project, chosen, reports_dir, pdf=False)
        print(f"{'page':28} {'HTML MB':>8}")
        for b in built:
            size = b.html.stat().st_size / 1e6 if b.html else 0.0
            print(f"{b.evaluation:28} {size:8.2f}")
        print(f"{len(chosen)} reports + index, HTML: {html_wall:.2f} s wall, {html_cpu:.2f} s CPU")
        (pdf_wall, pdf_cpu), built = timed_build(project, chosen, reports_dir, pdf=True)
        pdfs = [b.pdf for b in built if b.pdf]
        print(f"{len(chosen)} reports + index, HTML + {len(pdfs)} PDFs (`evalkit report --pdf`): {pdf_wall:.2f} s wall, "
              f"{pdf_cpu:.2f} s CPU; PDFs {sum(p.stat().st_size for p in pdfs) / 1e3:.0f} kB together; "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
