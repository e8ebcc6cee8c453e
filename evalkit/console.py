"""What every command shares: the common options, the output channels and progress bars.

The ``evalkit`` command (``evalkit/cli.py``) and the command modules of the packages (each
package's ``commands.py``, loaded by name from ``cli.PLUGIN_COMMANDS``) all use these, so they
live here rather than in ``cli.py``: nothing imports the CLI itself (the import-rule test,
``tests/test_import_rules.py``, guards that).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


def common_options(parser: argparse.ArgumentParser) -> None:
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


def project_dir(args) -> Path | None:
    return Path(args.project) if getattr(args, "project", None) else None


def select_evaluations(project, names):
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
