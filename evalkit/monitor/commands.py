"""``evalkit monitor ...``: ingest extracts, show status, write the dashboard, make demo extracts.

Imported on every ``evalkit`` call, so nothing heavy is imported here at module level.
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "monitor", help="outcomes monitoring: ingest monthly extracts, status, dashboard",
        description="Monitor outcomes between evaluations: ingest each month's extracts into the project's "
                    "DuckDB store (checked against monitoring/sources/*.yml, pseudonymised, all or nothing), "
                    "compute the logic models' indicators against their targets, and write the dashboard.")
    sub = p.add_subparsers(dest="monitor_command", metavar="ACTION")
    sub.required = True

    q = sub.add_parser("ingest", help="ingest extract files of one source",
                       description="Ingest each FILE (CSV, Parquet or XLSX) as an extract of SOURCE. Each file is "
                                   "taken whole or not at all; the same file twice changes nothing; an extract for "
                                   "a period already loaded is refused unless --replace says it is a correction.")
    q.add_argument("source", metavar="SOURCE", help="a source id from monitoring/sources/*.yml")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--replace", action="store_true",
                   help="the file corrects extracts already loaded for its periods: replace them (recorded)")
    add_common(q)

    q = sub.add_parser("status", help="what is ingested, missing or late, and which indicators are off target")
    q.add_argument("--as-of", metavar="DATE", default=None,
                   help="judge late extracts against this date (default: the latest month any source has)")
    add_common(q)

    q = sub.add_parser("indicators", help="compute the indicators and write them as CSV",
                       description="Compute every indicator of monitoring/indicators.yml per period and breakdown "
                                   "(store table indicator_values) and write them. Not disclosure-controlled: "
                                   "for analysts, not for publication.")
    q.add_argument("--period", choices=("month", "quarter"), default=None, help="default: monitor.yml period")
    q.add_argument("--out", metavar="FILE", default=None,
                   help="write here, .csv or .xlsx (default: print the latest period); text cells that would run "
                        "as spreadsheet formulas are written as text")
    add_common(q)

    q = sub.add_parser("dashboard", help="write the dashboard (.qmd and self-contained HTML)",
                       description="Write dashboard_data.json (disclosure-controlled), dashboard.qmd (Quarto "
                                   "format: dashboard) and dashboard.html (Quarto if on PATH, else Pandoc).")
    q.add_argument("--out", metavar="DIR", default=None, help="output folder (default: PROJECT/reports/monitoring)")
    q.add_argument("--as-of", metavar="DATE", default=None, help="as for status")
    q.add_argument("--no-render", action="store_true", help="write the .qmd and data only")
    add_common(q)

    q = sub.add_parser("sna", help="write the strategic needs assessment for a span of months",
                       description="Publish the Serious Violence Duty strategic needs assessment for the months "
                                   "--from to --to (disclosure-controlled, scanned before it is moved into place): "
                                   "volumes and trend by category, rates by area, peak hours and days, shares "
                                   "domestic, night-time economy, knife and sexual offences, victims and suspects, "
                                   "prevalence per resident, and the hospital and ambulance picture.")
    q.add_argument("--from", dest="start", metavar="YYYY-MM", required=True, help="first month")
    q.add_argument("--to", dest="end", metavar="YYYY-MM", required=True, help="last month")
    q.add_argument("--out", metavar="DIR", default=None, help="output folder (default: PROJECT/reports/monitoring)")
    q.add_argument("--no-render", action="store_true", help="write the .qmd only")
    add_common(q)

    q = sub.add_parser("export", help="write the strategy time series' data file from the store",
                       description="Compute the success measures (monitoring/success_measures.yml) into the store "
                                   "table success_measures and write them, one row per area and month, as the data "
                                   "file of each interrupted time series plan of the success-measures logic model "
                                   "(monitor.yml success_measures). A file this command did not write is never "
                                   "replaced without --force.")
    q.add_argument("--force", action="store_true", help="replace a data file this command did not write")
    add_common(q)

    q = sub.add_parser("demo-data", help="write synthetic monthly extracts for the example project",
                       description="Write seeded synthetic extracts under monitoring/extracts/ (history files and "
                                   "monthly files for every source, with a missing month, a late extract, a "
                                   "correction and unmapped offence types built in). Existing files are kept.")
    q.add_argument("--seed", type=int, default=None)
    q.add_argument("--ingest", action="store_true", help="also ingest them all (corrections with --replace)")
    add_common(q)
    return {"monitor": cmd_monitor}


def _root(args) -> Path:
    from evalkit.project import find_project

    return find_project(getattr(args, "project", None))


def _open(root: Path, monitoring, read_only: bool = False):
    from evalkit.store import open_store, store_path

    store = open_store(store_path(root, monitoring.settings.store), read_only=read_only)
    if not store.read_only:
        from evalkit.monitor.ingest import align_source_tables

        align_source_tables(store, monitoring.sources)  # a store made before a declaration gained columns
    return store


def _say_warnings(problems, out) -> None:
    for problem in problems or ():
        out.note(str(problem))


def _date(text: str | None):
    if text is None:
        return None
    import datetime as dt

    from evalkit.errors import OptionError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise OptionError(f"--as-of: {text!r} is not a date; expected YYYY-MM-DD") from None


def cmd_monitor(args) -> int:
    from evalkit.console import json_data, output, progress
    from evalkit.monitor.config import load_monitoring

    out = output(args)
    root = _root(args)
    monitoring = load_monitoring(root)
    action = args.monitor_command
    if action == "demo-data":
        return _demo(args, root, monitoring, out)
    if action == "indicators" and args.out:  # every value, unsuppressed: never into the folder people upload
        from evalkit.run import check_out_folder

        check_out_folder(root, Path(args.out).parent)
    # status and indicators only read: they work on a read-only store (the indicator values they
    # compute are not saved), and never need the write lock an ingest holds
    with _open(root, monitoring, read_only=action in ("status", "indicators")) as store:
        if action == "ingest":
            from evalkit.monitor.ingest import ingest

            reports = []
            with progress(out, len(args.files), f"ingesting {args.source}") as steps:
                for file in args.files:
                    steps.describe(f"ingesting {Path(file).name}")
                    report = ingest(store, monitoring, args.source, Path(file), replace=args.replace,
                                    progress=lambda message: out.note(f"  {message}"))
                    out.say(str(report))
                    reports.append(report)
                    steps.advance()
            out.result({"ingested": json_data(reports)})
            return 0
        from evalkit.project import load_project

        project = load_project(root, check_data=False)
        if action == "status":
            from evalkit.monitor.status import status

            found = status(store, monitoring, project, as_of=_date(args.as_of))
            _say_warnings(found.warnings, out)
            out.say(found.text())
            out.result(json_data(found))
            return 0
        if action == "export":
            from evalkit.monitor.measures import export_its_data

            for path in export_its_data(store, monitoring, project, force=args.force):
                print(f"wrote {path}")
            return 0
        if action == "indicators":
            from evalkit.monitor.indicators import compute_indicators

            values = compute_indicators(store, monitoring, project, period_kind=args.period, save=not store.read_only)
            _say_warnings(values.attrs.get("warnings"), out)
            if args.out:
                from evalkit.publish.export import write_table

                # an analyst's file (every value, not disclosure-controlled), safe to open in a spreadsheet
                write_table(values, Path(args.out))
                out.say(f"wrote {args.out} ({len(values)} rows; not disclosure-controlled: not for publication)")
                out.result({"wrote": args.out, "rows": len(values), "disclosure_controlled": False})
            else:
                latest = values[values.breakdown == "all"].sort_values("period").groupby(
                    ["intervention", "indicator"]).tail(1)
                out.say(latest[["intervention", "indicator", "period", "value", "rate", "target", "rag"]]
                        .to_string(index=False))
                out.result({"indicators": json_data(values)})
            return 0
        from evalkit.monitor.dashboard import write_dashboard
        from evalkit.publish.atomic import check_writable

        folder = Path(args.out) if args.out else root / "reports" / "monitoring"
        check_writable(folder, "--out" if args.out else "reports/monitoring")
        if action == "sna":
            from evalkit.monitor.sna import write_sna

            with progress(out, None, "writing the needs assessment"):
                files = write_sna(store, monitoring, project, args.start, args.end, folder, render=not args.no_render)
            for path in files.values():
                out.say(f"wrote {path}")
            out.result({"written": {k: str(v) for k, v in files.items()}})
            return 0
        with progress(out, None, "writing the dashboard"):
            written = write_dashboard(store, monitoring, project, folder, as_of=_date(args.as_of),
                                      render=not args.no_render)
        for path in written.values():
            out.say(f"wrote {path}")
        out.result({"written": {k: str(v) for k, v in written.items()}})
    return 0


def _demo(args, root: Path, monitoring, out) -> int:
    from evalkit.console import json_data, progress
    from evalkit.monitor.synth import DEFAULT_SEED, SOURCES, DemoReport, write_demo_extracts

    if set(monitoring.sources) & set(SOURCES):
        with progress(out, None, "writing the example extracts"):
            report = write_demo_extracts(root, seed=args.seed if args.seed is not None else DEFAULT_SEED)
    else:  # a project of one's own (evalkit init): the example's extracts would fit none of its sources
        report = DemoReport()
        out.note(f"note: the example extracts are for the sources {', '.join(SOURCES)}; this project declares "
                 f"{', '.join(monitoring.sources) or 'none'}, so none are written"
                 + ("; --ingest ingests the extracts already under monitoring/extracts/<source>/" if args.ingest
                    else ""))
    files = report.written + [p for _, p in report.corrections]
    for path in files:
        out.say(f"{'wrote' if path in report.new else 'kept'} {path.relative_to(root)}")
    result = {"written": [str(p) for p in files if p in report.new], "kept": [str(p) for p in files if p not in report.new]}
    if args.ingest:
        from evalkit.monitor.synth import ingest_demo_extracts

        ingested = []
        with _open(root, monitoring) as store, progress(out, None, "ingesting the example extracts"):
            for report_line in ingest_demo_extracts(store, monitoring, root, report):
                out.say(str(report_line))
                ingested.append(report_line)
        result["ingested"] = json_data(ingested)
    out.result(result)
    return 0
