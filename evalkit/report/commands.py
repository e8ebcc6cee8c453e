"""The ``evalkit report`` command (a CLI plug-in; imports nothing heavy at module level)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "report", help="write and render evaluation reports, the portfolio page and the index",
        description="Write reports/<evaluation>/index.qmd from each evaluation's results.json and render it to one "
                    "self-contained HTML file (Quarto when on PATH, otherwise Pandoc), checking that no count under "
                    "the disclosure threshold is shown; then the portfolio page and index (reports/index.html).")
    p.add_argument("evaluations", nargs="*", metavar="EVALUATION",
                   help="evaluation ids or plan files (default: every evaluation with results)")
    p.add_argument("--pdf", action="store_true", help="also render each report to PDF (Typst)")
    p.add_argument("--min-count", type=int, default=5, metavar="K",
                   help="disclosure threshold: counts from 1 to K-1 are suppressed (default 5)")
    p.add_argument("--no-render", action="store_true", help="write the .qmd files only")
    p.add_argument("--no-index", action="store_true", help="skip the portfolio page and index")
    add_common(p)
    return {"report": cmd_report}


def cmd_report(args) -> int:
    from evalkit.cli import _project_dir, _select_evaluations
    from evalkit.errors import OptionError
    from evalkit.project import load_project
    from evalkit.report.write import build_reports

    if args.min_count < 1:
        raise OptionError(f"--min-count: found {args.min_count}; expected a whole number of at least 1")
    project = load_project(_project_dir(args), check_data=False)
    reports_dir = project.root / "reports"
    if args.evaluations:
        chosen = _select_evaluations(project, args.evaluations)
    else:
        chosen = [e for e in project.evaluations.values() if (reports_dir / e.id / "results.json").exists()]
        if not chosen:
            print("evalkit report: no results yet; run `evalkit run` first")
    built = build_reports(project, chosen, reports_dir=reports_dir, threshold=args.min_count, pdf=args.pdf,
                          render=not args.no_render, index=not args.no_index)
    index = next((b for b in built if b.evaluation == "index" and b.html), None)
    if index is not None:
        print(f"open {Path(index.html)}")
    return 0
