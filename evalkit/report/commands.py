"""The ``evalkit report`` command (a CLI plug-in; imports nothing heavy at module level)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "report", help="write and render evaluation reports, the portfolio page and the index",
        description="Build every report (reports/<evaluation>/index.qmd, .html and with --pdf .pdf) and the "
                    "portfolio page (reports/index.html) from each evaluation's results.json (.evalkit/results/"
                    "<evaluation>/, never published itself), as one publication: "
                    "disclosure control on every count (project setting: evalkit.yml, disclosure), each page "
                    "rendered (Quarto when on PATH, otherwise Pandoc) and scanned before it replaces the "
                    "published one. Stale results (plan, logic model, data, rules or evalkit changed) are refused. "
                    "Results files an older evalkit left in reports/ are first moved to .evalkit/results/ "
                    "(one line says so).")
    p.add_argument("evaluations", nargs="*", metavar="EVALUATION",
                   help="evaluation ids or plan files (default: every evaluation with results)")
    p.add_argument("--pdf", action="store_true", help="also render each report to PDF (Typst)")
    p.add_argument("--min-count", type=_whole, default=None, metavar="K",
                   help="disclosure threshold for this run: counts from 1 to K-1 are hidden (default: the "
                        "project's, evalkit.yml disclosure.threshold, else 5)")
    p.add_argument("--allow-stale", action="store_true",
                   help="publish results that no longer match their inputs; each such page says it is stale")
    p.add_argument("--no-render", action="store_true",
                   help="publish the .qmd files only (they are still rendered and scanned in a private folder)")
    p.add_argument("--no-index", action="store_true", help="skip the portfolio page and index")
    add_common(p)
    return {"report": cmd_report}


def _whole(text: str):
    try:
        return int(text)
    except ValueError:
        return text  # refused with the setting's message in cmd_report


def cmd_report(args) -> int:
    from evalkit.api import report
    from evalkit.console import json_data, output, progress
    from evalkit.console import project_dir as _project_dir
    from evalkit.console import select_evaluations as _select_evaluations
    from evalkit.project import load_project, move_old_results, results_path

    out = output(args)
    if args.min_count is not None:
        from evalkit.publish.policy import check_threshold

        check_threshold(args.min_count, "--min-count")
    project = load_project(_project_dir(args), check_data=False)
    moved = move_old_results(project.root)
    if moved:
        out.note(moved)
    if args.evaluations:
        chosen = _select_evaluations(project, args.evaluations)
    else:
        chosen = [e for e in project.evaluations.values() if results_path(project.root, e.id).exists()]
        if not chosen:
            out.say("evalkit report: no results yet; run `evalkit run` first")
    with progress(out, len(chosen) + (0 if args.no_index else 1), "writing reports") as steps:
        def log(message: str) -> None:  # build_reports says one line per report written (or failed)
            out.say(message)
            steps.advance()

        built = report(project, chosen, pdf=args.pdf, min_count=args.min_count, render=not args.no_render,
                       index=not args.no_index, allow_stale=args.allow_stale, log=log)
    index = next((b for b in built if b.evaluation == "index" and b.html), None)
    if index is not None:
        out.say(f"open {Path(index.html)}")
    out.result({"reports": json_data(built), "index": str(index.html) if index is not None else None})
    return 0
