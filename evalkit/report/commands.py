"""The ``evalkit report`` command (a CLI plug-in; imports nothing heavy at module level)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "report", help="write and render evaluation reports, the portfolio page and the index",
        description="Build every report (reports/<evaluation>/index.qmd, .html and with --pdf .pdf) and the "
                    "portfolio page (reports/index.html) from each evaluation's results.json, as one publication: "
                    "disclosure control on every count (project setting: evalkit.yml, disclosure), each page "
                    "rendered (Quarto when on PATH, otherwise Pandoc) and scanned before it replaces the "
                    "published one. Stale results (plan, logic model, data, rules or evalkit changed) are refused.")
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
    from evalkit.cli import _project_dir, _select_evaluations
    from evalkit.project import load_project
    from evalkit.publish.policy import project_policy
    from evalkit.report.write import build_reports

    root_hint = _project_dir(args)
    project = load_project(root_hint, check_data=False)
    policy = project_policy(project.root)
    if args.min_count is not None:
        policy = policy.with_threshold(args.min_count, "--min-count")
    reports_dir = project.root / "reports"
    if args.evaluations:
        chosen = _select_evaluations(project, args.evaluations)
    else:
        chosen = [e for e in project.evaluations.values() if (reports_dir / e.id / "results.json").exists()]
        if not chosen:
            print("evalkit report: no results yet; run `evalkit run` first")
    built = build_reports(project, chosen, reports_dir=reports_dir, policy=policy, pdf=args.pdf,
                          render=not args.no_render, index=not args.no_index, allow_stale=args.allow_stale)
    index = next((b for b in built if b.evaluation == "index" and b.html), None)
    if index is not None:
        print(f"open {Path(index.html)}")
    return 0
