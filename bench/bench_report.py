"""How long rendering every example report takes, and how big the files are.

Run with `.venv/bin/python bench/bench_report.py`. On a temporary copy of the example project
(data from `evalkit synth`, results from `evalkit run`, the portfolio from `evalkit compare`
where that command exists) it times `build_reports` for every evaluation (HTML, Pandoc path
unless the Quarto CLI is on PATH; one publication: disclosure decided once, every page scanned),
then the PDF of one report, and prints seconds and sizes per report (each report's seconds is
the whole publication's, which is built at once). `BENCH_RUNS` (default 1) repeats the whole HTML render and keeps the best.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "1"))


def main() -> None:
    from evalkit.project import load_project
    from evalkit.publish.render import quarto_available, render_pdf
    from evalkit.report.write import build_reports

    with tempfile.TemporaryDirectory() as tmp:
        project_dir = Path(tmp) / "example"
        shutil.copytree(REPO / "logic_models", project_dir / "logic_models")
        shutil.copytree(REPO / "evaluations", project_dir / "evaluations", ignore=shutil.ignore_patterns("data"))
        evalkit = [sys.executable, "-m", "evalkit", "--project", str(project_dir)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([*evalkit[:3], "synth", "--project", str(project_dir)], check=True, **quiet)
        ran = subprocess.run([*evalkit[:3], "run", "--project", str(project_dir)], capture_output=True, text=True)
        if ran.returncode != 0:
            print(f"note: `evalkit run` failed for some plans:\n{ran.stderr.strip()}")
        subprocess.run([*evalkit[:3], "compare", "--project", str(project_dir)], **quiet)
        project = load_project(project_dir, check_data=False)
        reports_dir = project_dir / "reports"
        chosen = [e for e in project.evaluations.values() if (reports_dir / e.id / "results.json").exists()]
        best, built = None, []
        for _ in range(RUNS):
            start = time.perf_counter()
            built = build_reports(project, chosen, reports_dir=reports_dir, log=lambda *_: None)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        pdf_report = next((b for b in built if b.evaluation != "index"), None)
        pdf_seconds = pdf_size = None
        if pdf_report is not None:
            start = time.perf_counter()
            pdf = render_pdf(pdf_report.qmd, Path(tmp) / "one.pdf")
            pdf_seconds, pdf_size = time.perf_counter() - start, pdf.stat().st_size
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"renderer: {'quarto' if quarto_available() else 'pandoc (pypandoc-binary)'}; best of {RUNS}")
        print(f"{'report':28} {'seconds':>8} {'HTML MB':>8}")
        for b in built:
            size = b.html.stat().st_size / 1e6 if b.html else 0.0
            print(f"{b.evaluation:28} {b.seconds:8.2f} {size:8.2f}")
        print(f"{'all reports + index':28} {best:8.2f}")
        if pdf_seconds is not None:
            print(f"PDF of {pdf_report.evaluation}: {pdf_seconds:.2f} s, {pdf_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
