"""The ``evalkit`` command: a thin layer over the Python verbs.

Each command parses its arguments, calls one function, and prints through :func:`output`.
Every command takes the common options of :func:`_common`: ``--project``, ``--debug``, ``--quiet``
(nothing on stdout; errors still on stderr) and ``--json`` (the command's result as one JSON
document on stdout, and nothing else there). Long steps show a progress bar on stderr when a
person is watching (:func:`progress`). Every :class:`~evalkit.errors.EvalkitError` becomes a
short message on stderr and exit status 1; ``--debug`` shows the traceback instead. Heavy
libraries are imported inside the commands, so ``evalkit --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from evalkit.console import Output, json_data, json_text, output, progress  # noqa: F401 (the commands' API)
from evalkit.console import common_options as _common
from evalkit.console import project_dir as _project_dir
from evalkit.console import select_evaluations as _select_evaluations

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
# Modules exposing register(subparsers, add_common) -> {command: function}. They must import
# nothing heavy at module level: they are imported on every `evalkit` call.
PLUGIN_COMMANDS = ("evalkit.scaffold.commands", "evalkit.evidence.commands", "evalkit.report.commands",
                   "evalkit.monitor.commands", "evalkit.estimate.commands")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Evaluate violence prevention and early-intervention programmes and monitor their outcomes.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--project", metavar="DIR", default=None,
                        help="the project folder (default: the one holding the current folder)")
    parser.add_argument("--debug", action="store_true", default=False, help="show a traceback on errors")
    parser.add_argument("-q", "--quiet", action="store_true", default=False,
                        help="print nothing but errors (the exit status says how it went)")
    parser.add_argument("--json", action="store_true", default=False,
                        help="print the result as one JSON document on stdout, and nothing else there")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check logic models, evaluation plans and their data",
                       description="Check every logic model and evaluation plan (or the files named): shape, "
                                   "then meaning, then the data files. Every problem is one line: file:line: "
                                   "key path: what was found and what was expected.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to check (default: the whole project)")
    p.add_argument("--no-data", action="store_true", help="skip reading the data files")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    _common(p)

    p = sub.add_parser("schema", help="write the JSON Schema of both YAML formats",
                       description="Write logic_model.schema.json and evaluation.schema.json.")
    p.add_argument("--out", metavar="DIR", default=None, help="folder to write into (default: PROJECT/schemas)")
    p.add_argument("--check", action="store_true", help="fail if the files on disk differ from the schema")
    _common(p)

    p = sub.add_parser("synth", help="write the example project's data files and data dictionary",
                       description="Write every data file the project's plans name that evalkit can generate "
                                   "(seeded, deterministic), with a data dictionary of columns and true effects. "
                                   "Files not written by synth are never overwritten unless --force is given.")
    p.add_argument("--seed", type=int, default=None, help="seed (default 20240301)")
    p.add_argument("--force", action="store_true", help="overwrite data files that synth did not write")
    p.add_argument("--check", action="store_true",
                   help="instead of writing, compare the true effects with the estimates in .evalkit/results/*/results.json")
    _common(p)

    p = sub.add_parser("summary", help="print the project's interventions, indicators and evaluations")
    _common(p)

    p = sub.add_parser("run", help="run evaluations and write results.json",
                       description="Run the named evaluation plans (default: every plan in the project) and "
                                   "write results.json and run-info.json under .evalkit/results/<evaluation id>/ "
                                   "(owner-only: they hold unsuppressed counts, so never under reports/, the "
                                   "folder people upload; `evalkit report` publishes them with disclosure "
                                   "control). Results files an older evalkit left in reports/ are moved there "
                                   "first, in one line.")
    p.add_argument("evaluations", nargs="*", metavar="EVALUATION", help="plan files or evaluation ids")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output folder (one evaluation) or parent folder (several); not under reports/ "
                        "(default: .evalkit/results/<evaluation id>/)")
    p.add_argument("--no-store", action="store_true",
                   help="do not record the results in the project's store (.evalkit/evalkit.duckdb)")
    _common(p)

    p = sub.add_parser("demo", help="run the example project end to end (what `make demo` runs)",
                       description="Write the example data, validate, run every evaluation (true effects beside "
                                   "the estimates), rate and compare, ingest the example monitoring extracts, write "
                                   "the dashboard and render every report, in one process. Quiet by default: one "
                                   "progress bar per step and a closing summary of what was made and where to open "
                                   "it; -v prints every step's own lines (each file written).")
    p.add_argument("-v", "--verbose", action="store_true", help="print each step's own output (the per-file lines)")
    p.add_argument("--no-pdf", action="store_true", help="render the reports as HTML only")
    _common(p)

    # commands of other packages register themselves, so each package owns its own command code
    for module_name in PLUGIN_COMMANDS:
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except ModuleNotFoundError:  # the package itself is not there (yet)
            continue
        module = importlib.import_module(module_name)
        for name, func in module.register(sub, _common).items():
            COMMANDS[name] = func
    return parser


def _print_problems(problems, stream=None) -> None:
    for problem in problems:
        print(problem, file=stream or sys.stderr)


def _problem_data(problem) -> dict:
    import dataclasses

    return dataclasses.asdict(problem)


def cmd_validate(args) -> int:
    from evalkit.project import find_project, validate_project

    out = output(args)
    root = find_project(_project_dir(args) or (args.paths[0] if args.paths else None))
    result = validate_project(root, check_data=not args.no_data)
    problems = result.problems
    if args.paths:
        files = []
        for p in args.paths:
            path = Path(p)
            if not path.exists():
                from evalkit.errors import ProjectError

                raise ProjectError(f"{p}: no such file")
            files += sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
        problems = result.for_files(files)
        # a named plan may fail because the logic model it uses fails: show that too
        problems += [q for q in result.problems if q.file.startswith("logic_models/") and q not in problems
                     and q.severity == "error"]
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    failed = bool(errors or (args.strict and warnings))
    if not out.json:
        # --quiet keeps what makes the exit status 1 (errors; warnings too under --strict)
        _print_problems([p for p in problems if not out.quiet or p.severity == "error" or args.strict])
    checked = f"{len(result.interventions)} logic model(s), {len(result.evaluations)} evaluation plan(s) valid"
    out.result({"root": str(result.root), "ok": not failed, "strict": bool(args.strict),
                "logic_models": sorted(result.interventions), "evaluations": sorted(result.evaluations),
                "errors": errors, "warnings": warnings, "problems": [_problem_data(p) for p in problems]})
    if failed:
        if not out.json:
            out.note(f"evalkit validate: {errors} error(s), {warnings} warning(s) in {result.root}")
        return EXIT_ERROR
    out.say(f"ok: {checked}" + (f"; {warnings} warning(s)" if warnings else ""))
    return EXIT_OK


def cmd_schema(args) -> int:
    from evalkit.project import find_project
    from evalkit.spec.schema import SCHEMA_FILES, json_schemas, schema_text, write_schemas

    out = output(args)
    folder = Path(args.out) if args.out else find_project(_project_dir(args)) / "schemas"
    if args.check:
        stale = [name for name, schema in json_schemas().items()
                 if not (folder / SCHEMA_FILES[name]).exists()
                 or (folder / SCHEMA_FILES[name]).read_text(encoding="utf-8") != schema_text(schema)]
        out.result({"folder": str(folder), "up_to_date": not stale, "stale": [SCHEMA_FILES[s] for s in stale]})
        if stale:
            if not out.json:
                out.note(f"evalkit schema: {', '.join(SCHEMA_FILES[s] for s in stale)} in {folder} out of date; "
                         "run `evalkit schema`")
            return EXIT_ERROR
        out.say(f"ok: schemas in {folder} are up to date")
        return EXIT_OK
    written = write_schemas(folder)
    for path in written:
        out.say(f"wrote {path}")
    out.result({"written": [str(p) for p in written]})
    return EXIT_OK


def cmd_synth(args) -> int:
    from evalkit.synth.writer import DEFAULT_SEED, synthesise

    out = output(args)
    if args.check:
        from evalkit.project import find_project, move_old_results
        from evalkit.synth.recovery import recovery_rows, recovery_table

        root = find_project(_project_dir(args))
        moved = move_old_results(root)
        if moved:
            out.note(moved)
        if out.json:
            out.result({"rows": recovery_rows(root)})
        else:
            out.say(recovery_table(root))
        return EXIT_OK

    with progress(out, None, "writing the example data"):
        report = synthesise(_project_dir(args), seed=args.seed if args.seed is not None else DEFAULT_SEED,
                            force=args.force)
    for path in report.written:
        out.say(f"wrote {path}")
    for path in report.kept:
        out.say(f"kept {path} (not written by synth; --force to replace)")
    for plan, path in report.unknown:
        out.say(f"skipped {path} for {plan} (no generator for it)")
    out.result({"written": [str(p) for p in report.written], "kept": [str(p) for p in report.kept],
                "skipped": [{"evaluation": plan, "path": path} for plan, path in report.unknown]})
    return EXIT_OK


def cmd_summary(args) -> int:
    from evalkit.describe import project_data, project_summary
    from evalkit.project import load_project

    out = output(args)
    project = load_project(_project_dir(args), check_data=False)
    out.say(project_summary(project))
    out.result(project_data(project))
    return EXIT_OK


def cmd_run(args) -> int:
    from evalkit._dowhy_worker import start_early

    first = Path(args.evaluations[0]) if args.evaluations and Path(args.evaluations[0]).exists() else None
    # a refuted plan among those chosen: DoWhy's import (seconds) starts now on the other core, before
    # this process has imported anything heavy, and is done by the time the design needs it
    start_early(_project_dir(args) or first, args.evaluations)
    from evalkit.project import load_project, move_old_results
    from evalkit.run import check_out_folder, default_out, run_and_write

    out = output(args)
    project = load_project(_project_dir(args) or first)
    chosen = _select_evaluations(project, args.evaluations)
    if args.out:
        check_out_folder(project.root, Path(args.out))
    moved = move_old_results(project.root)
    if moved:
        out.note(moved)
    store = None
    done = []
    try:
        with progress(out, len(chosen), "running evaluations") as steps:
            for evaluation in chosen:
                steps.describe(f"running {evaluation.id}")
                if args.out and len(chosen) == 1:
                    folder = Path(args.out)
                elif args.out:
                    folder = Path(args.out) / evaluation.id
                else:
                    folder = default_out(project.root, evaluation)
                result = run_and_write(evaluation, folder)
                out.say(f"{evaluation.id}: wrote {folder / 'results.json'}")
                out.say(result.summary())
                run_id = None
                if not args.no_store:
                    from evalkit.store.results import save_results

                    store = store or _results_store(project.root)
                    run_id = save_results(store, result)
                    out.say(f"{evaluation.id}: recorded in {store.path} (run {run_id})")
                done.append({"evaluation": evaluation.id, "results": str(folder / "results.json"),
                             "store_run": run_id, "design": result.design,
                             "estimates": result.to_dict()["estimates"],
                             "warnings": result.to_dict()["warnings"]})
                steps.advance()
    finally:
        if store is not None:
            store.close()
    out.result({"runs": done})
    return EXIT_OK


# the steps of `evalkit demo` (= `make demo`): label, command line
DEMO_STEPS = (
    ("example data", ["synth"]),
    ("monitoring extracts ingested", ["monitor", "demo-data", "--ingest"]),
    ("success measures exported", ["monitor", "export"]),
    ("validate (no warnings)", ["validate", "--strict"]),
    ("summary", ["summary"]),
    ("run every evaluation", ["run"]),
    ("true effects against estimates", ["synth", "--check"]),
    ("evidence ratings and comparison", ["compare"]),
    ("monitoring status", ["monitor", "status"]),
    ("monitoring dashboard", ["monitor", "dashboard"]),
    ("strategic needs assessment", ["monitor", "sna", "--from", "2023-04", "--to", "2024-03"]),
    ("reports rendered", ["report", "--pdf"]),
)


def cmd_demo(args) -> int:
    """Every step in this process (the imports are paid once), each step's words captured.

    Quiet (the default): each step runs with --json, its document kept for the closing summary
    and its remarks (stderr) kept to be shown if it fails. -v: each step prints as on its own."""
    import contextlib
    import io
    import json
    import resource
    import time

    def cpu() -> float:  # this process and the renderers it starts (pandoc, typst)
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    out = output(args)
    verbose = bool(getattr(args, "verbose", False))
    root = Path(_project_dir(args) or Path.cwd()).resolve()
    steps = [(label, [c for c in cmd if not (c == "--pdf" and args.no_pdf)]) for label, cmd in DEMO_STEPS]
    documents: dict[str, object] = {}
    timings: list[tuple[str, float, float]] = []
    started = time.perf_counter()
    # with -v each step draws its own bars: two live displays at once would clash
    with progress(Output(quiet=True) if verbose else out, len(steps), "demo") as bar:
        for i, (label, cmd) in enumerate(steps, 1):
            bar.describe(f"[{i}/{len(steps)}] {label}")
            argv = ["--project", str(root), *cmd] + ([] if verbose else ["--json"])
            t0, c0 = time.perf_counter(), cpu()
            if verbose:
                out.say(f"\n== {label}: evalkit {' '.join(cmd)}")
                code = main(argv)
                text = err = ""
            else:
                text_io, err_io = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(text_io), contextlib.redirect_stderr(err_io):
                    code = main(argv)
                text, err = text_io.getvalue(), err_io.getvalue()
            timings.append((label, time.perf_counter() - t0, cpu() - c0))
            if code != EXIT_OK:
                if err:
                    print(err, end="" if err.endswith("\n") else "\n", file=sys.stderr)
                print(f"evalkit demo: step {i} ({label}: evalkit {' '.join(cmd)}) failed with exit status {code}",
                      file=sys.stderr)
                return EXIT_ERROR
            if text.strip():
                try:
                    documents[label] = json.loads(text)
                except ValueError:  # a step that printed text despite --json: nothing to summarise from it
                    documents[label] = None
            if not out.watched and not verbose:  # a log or a pipe: one line per step instead of the bar
                out.say(f"[{i}/{len(steps)}] {label}: done in {timings[-1][1]:.1f} s")
            bar.advance()
    out.say(demo_summary(root, documents, time.perf_counter() - started))
    out.result({"steps": [{"step": label, "seconds": round(sec, 3), "cpu_seconds": round(c, 3)}
                          for label, sec, c in timings],
                "made": demo_made(root)})
    return EXIT_OK


def demo_made(root: Path) -> dict:
    """What the demo leaves behind, from the files themselves (so the summary cannot overstate it)."""
    from evalkit.project import results_path

    reports = root / "reports"
    evals = sorted(p.parent.name for p in results_path(root, None, "").glob("*/results.json"))
    return {
        "results": [str(results_path(root, e)) for e in evals],
        "reports_html": sorted(str(p) for p in reports.glob("*/index.html") if p.parent.name != "monitoring"),
        "reports_pdf": sorted(str(p) for p in reports.glob("*/*.pdf") if p.parent.name != "monitoring"),
        "portfolio": str(reports / "index.html") if (reports / "index.html").exists() else None,
        "dashboard": next((str(p) for p in sorted((reports / "monitoring").glob("*.html"))), None),
        "data": str(root / "evaluations" / "data"),
        "store": next((str(p) for p in sorted((root / ".evalkit").glob("*.duckdb"))), None),
    }


def demo_summary(root: Path, documents: dict, seconds: float) -> str:
    made = demo_made(root)
    check = documents.get("true effects against estimates")
    covered = ""
    if isinstance(check, dict) and isinstance(check.get("rows"), list):
        rows = [r for r in check["rows"] if isinstance(r, dict)]
        judged = [r["covered"] for r in rows if r.get("covered") is not None]
        if judged:
            covered = f" ({sum(map(bool, judged))} of {len(judged)} true effects inside their 95% CIs)"
    lines = [f"evalkit demo: the example project, end to end, in {seconds:.0f} s",
             f"  data:        {made['data']} (synthetic, seeded)",
             f"  results:     {len(made['results'])} evaluations run{covered}, each .evalkit/results/<evaluation>/results.json",
             f"  reports:     {len(made['reports_html'])} HTML, {len(made['reports_pdf'])} PDF under {root / 'reports'}"]
    if made["store"]:
        lines.append(f"  store:       {made['store']} (monitoring extracts and evaluation results)")
    if made["dashboard"]:
        lines.append(f"  dashboard:   {made['dashboard']}")
    if made["portfolio"]:
        lines.append(f"open {made['portfolio']} in a browser: the portfolio, with a link to every report")
    lines.append("(evalkit demo -v, or make demo V=1, prints every file as it is written)")
    return "\n".join(lines)


def _results_store(root: Path):
    """The project's store, where the monitoring dashboard reads evaluation results from.

    Only the ``store:`` setting of monitoring/monitor.yml is read here: a run must not depend on
    the rest of the monitoring configuration being valid.
    """
    from evalkit.store import open_store, store_path

    configured = None
    settings = root / "monitoring" / "monitor.yml"
    if settings.exists():
        from evalkit.spec.yamlio import read_yaml

        data = read_yaml(settings).data
        configured = data.get("store") if isinstance(data, dict) and isinstance(data.get("store"), str) else None
    return open_store(store_path(root, configured))


COMMANDS = {"validate": cmd_validate, "schema": cmd_schema, "synth": cmd_synth, "summary": cmd_summary,
            "run": cmd_run, "demo": cmd_demo}


ERRNO_ADVICE = {
    "ENOSPC": "the disk is full: free some space (or write elsewhere, e.g. with --out) and run again",
    "EDQUOT": "the disk quota is used up: free some space (or write elsewhere, e.g. with --out) and run again",
    "EROFS": "the folder is on a read-only file system: run from a writable copy, or write elsewhere with --out",
    "EACCES": "permission denied: check the folder's permissions (or write elsewhere with --out)",
    "EPERM": "operation not permitted: check the folder's permissions (or write elsewhere with --out)",
    "EMFILE": "too many open files: close other programs or raise the limit (ulimit -n) and run again",
}


def fault_message(exc: BaseException) -> str:
    """One line for a fault of the machine or the store: what happened and what to do.

    Never the file's contents; the path is named because the user must find it.
    """
    import errno

    if isinstance(exc, MemoryError):
        return "out of memory: the data are too large for this machine's memory; close other programs, or use a " \
               "machine with more memory"
    if isinstance(exc, RecursionError):
        return "a file is nested too deeply to read; expected an ordinary evalkit YAML or data file"
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "")
        where = f" {exc.filename}" if exc.filename else ""
        what = exc.strerror or type(exc).__name__
        advice = ERRNO_ADVICE.get(name, "check the file and the folder, then run again")
        return f"cannot write or read{where}: {what}{f' ({name})' if name else ''}; {advice}. Files already " \
               "written are complete (each is replaced whole), and the store is as it was"
    text = str(exc)
    lowered = text.lower()
    if "no space left" in lowered or "disk is full" in lowered:
        return "the store could not be written: the disk is full; nothing was changed (the store is as it was). " \
               "Free some space and run again"
    if "read-only" in lowered:
        return "the store could not be written: its folder is read-only; nothing was changed. Run from a writable " \
               "copy, or set EVALKIT_STORE to a writable place"
    if "lock" in lowered:
        return "the store is in use by another evalkit process (an ingest, or a dashboard being written); nothing " \
               "was changed. Try again when it has finished"
    if type(exc).__name__ == "BinderException":  # a query named a column or table the store does not have
        return "the store does not hold what the source declarations describe (it was made by an older evalkit " \
               "or before a declaration changed); nothing was changed. Run `evalkit monitor ingest` once with " \
               "write access to bring it up to date, or move it away to start a new store"
    return f"the store could not be used ({type(exc).__name__}); nothing was changed. If the file is damaged, " \
           "restore it from a backup or move it away to start a new store"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from evalkit.run import evalkit_version

        if args.json:
            print(json_text({"version": evalkit_version()}), end="")
        elif not args.quiet:
            print(f"evalkit {evalkit_version()}")
        return EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from evalkit.errors import EvalkitError, SpecError

    try:
        return COMMANDS[args.command](args)
    except SpecError as exc:
        if args.debug:
            raise
        _print_problems([p for p in exc.problems if p.severity == "error"])
        print(f"evalkit {args.command}: the project has {sum(p.severity == 'error' for p in exc.problems)} "
              "error(s); run `evalkit validate` for details", file=sys.stderr)
        return EXIT_ERROR
    except EvalkitError as exc:
        if args.debug:
            raise
        print(f"evalkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, MemoryError, RecursionError) as exc:
        # the machine, not the user's files: a full disk, a read-only folder, no permission...
        if args.debug or isinstance(exc, BrokenPipeError):
            raise
        print(f"evalkit {args.command}: {fault_message(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        # the store's engine raises its own errors (a damaged or locked file, a full disk at COMMIT)
        if args.debug or not type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise
        print(f"evalkit {args.command}: {fault_message(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # pragma: no cover
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def entry() -> None:
    """The ``evalkit`` command (and ``python -m evalkit``): :func:`main`, then out without taking the
    interpreter apart.

    Python's own exit unloads every module one by one (pandas, numpy, scipy, pydantic and their
    kind): about 0.2 s after the work is done, a tenth of a matched run (issue 20). When ``main`` has
    returned, everything evalkit wrote is closed (files are written in ``with`` blocks and renamed into
    place); the exit handlers still run (the DoWhy worker's stop, temporary folders, logging), the
    streams are flushed, and the process ends with main's status. Where the store's engine is loaded,
    the normal exit closes its connections as before. An exception (``--debug``, a bug) takes the
    normal way out, with its traceback."""
    code = main()
    if "duckdb" in sys.modules:
        sys.exit(code)
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
