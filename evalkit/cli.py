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
import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
# Modules exposing register(subparsers, add_common) -> {command: function}. They must import
# nothing heavy at module level: they are imported on every `evalkit` call.
PLUGIN_COMMANDS = ("evalkit.scaffold.commands", "evalkit.evidence.commands", "evalkit.report.commands",
                   "evalkit.monitor.commands", "evalkit.estimate.commands")


def _common(parser: argparse.ArgumentParser) -> None:
    """The options every command takes (also accepted before the command name)."""
    parser.add_argument("--project", metavar="DIR", default=argparse.SUPPRESS,
                        help="the project folder (default: the one holding the current folder)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show a traceback on errors")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print nothing but errors (the exit status says how it went)")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the result as one JSON document on stdout, and nothing else there")


# ---------------------------------------------------------------------------- output


class Output:
    """Where a command's words go: text for a person, one JSON document for a program, or nothing.

    ``say`` is for what a person reads (suppressed by --quiet and --json), ``note`` for remarks
    on stderr (suppressed by --quiet), ``result`` for the command's result as data: printed as
    JSON with --json, ignored otherwise (the text was said already).
    """

    def __init__(self, quiet: bool = False, json: bool = False, stdout=None, stderr=None):
        self.quiet, self.json = quiet, json
        self._stdout, self._stderr = stdout, stderr

    @property
    def stdout(self):
        return self._stdout or sys.stdout

    @property
    def stderr(self):
        return self._stderr or sys.stderr

    def say(self, text: str = "", end: str = "\n") -> None:
        if not (self.quiet or self.json):
            print(text, end=end, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stderr, flush=True)

    def result(self, data) -> None:
        if self.json:
            print(json_text(data), end="", file=self.stdout, flush=True)

    @property
    def watched(self) -> bool:
        """A person is watching stderr: progress bars are worth drawing."""
        if self.quiet or self.json:
            return False
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty())


def output(args) -> Output:
    """The Output of a parsed command line (its --quiet and --json)."""
    return Output(quiet=bool(getattr(args, "quiet", False)), json=bool(getattr(args, "json", False)))


def json_data(value):
    """Plain JSON-able data from results, dataclasses, frames and paths (NaN becomes null)."""
    import dataclasses

    from evalkit.results import _plain

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return json_data(value.to_dict())
        return {f.name: json_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_data(v) for v in value]
    if type(value).__name__ == "DataFrame":
        return [json_data(row) for row in value.to_dict(orient="records")]
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return _plain(value)


def json_text(data) -> str:
    import json

    # anything still not JSON (a pandas Period, say) is written as its text
    return json.dumps(json_data(data), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False,
                      default=str) + "\n"


class _Steps:
    """What a step loop sees: ``advance()`` after each item, ``describe(text)`` to relabel the bar."""

    def __init__(self, bar=None, task=None):
        self._bar, self._task = bar, task

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)


@contextlib.contextmanager
def progress(out: Output, total: int | None, description: str):
    """A progress bar on stderr for a long step (``total`` items, None for a spinner).

    Drawn only when a person is watching (stderr is a terminal, no --quiet or --json), so logs
    and pipes get plain lines; what the command prints meanwhile appears above the bar.
    """
    if not out.watched:
        yield _Steps()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(file=out.stderr), transient=True) as bar:
        yield _Steps(bar, bar.add_task(description, total=total))


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
                   help="instead of writing, compare the true effects with the estimates in reports/*/results.json")
    _common(p)

    p = sub.add_parser("summary", help="print the project's interventions, indicators and evaluations")
    _common(p)

    p = sub.add_parser("run", help="run evaluations and write results.json",
                       description="Run the named evaluation plans (default: every plan in the project) and "
                                   "write results.json under reports/<evaluation id>/.")
    p.add_argument("evaluations", nargs="*", metavar="EVALUATION", help="plan files or evaluation ids")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output folder (one evaluation) or parent folder (several)")
    p.add_argument("--no-store", action="store_true",
                   help="do not record the results in the project's store (.evalkit/evalkit.duckdb)")
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


def _project_dir(args) -> Path | None:
    return Path(args.project) if getattr(args, "project", None) else None


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
        from evalkit.project import find_project
        from evalkit.synth.recovery import recovery_rows, recovery_table

        root = find_project(_project_dir(args))
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


def _select_evaluations(project, names):
    from evalkit.errors import ProjectError

    if not names:
        return list(project.evaluations.values())
    chosen = []
    for name in names:
        path = Path(name)
        match = [e for e in project.evaluations.values()
                 if e.id == name or (path.suffix in (".yml", ".yaml") and e.source == path.resolve())]
        if not match:
            raise ProjectError(f"{name}: no evaluation plan with this id or file in {project.root}; "
                               f"expected one of {', '.join(project.evaluations)}")
        chosen += match
    return chosen


def cmd_run(args) -> int:
    from evalkit.project import load_project
    from evalkit.run import default_out, run_and_write

    out = output(args)
    first = Path(args.evaluations[0]) if args.evaluations and Path(args.evaluations[0]).exists() else None
    project = load_project(_project_dir(args) or first)
    chosen = _select_evaluations(project, args.evaluations)
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
            "run": cmd_run}


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
