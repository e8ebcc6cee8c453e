"""One exception root for evalkit.

Every user mistake raises a subclass of :class:`EvalkitError`; the CLI turns it into a short
message and a non-zero exit, and keeps the traceback for ``--debug``. Anything else escaping
is a bug in evalkit, not in the user's files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


class EvalkitError(Exception):
    """Root of every error evalkit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One finding about one place in one file: where, what was found, what was expected."""

    file: str
    line: int | None
    path: str
    message: str
    found: str | None = None
    expected: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.severity}: {self.path or '(file)'}: {self.message}"
        details = []
        if self.found is not None:
            details.append(f"found {self.found}")
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if details:
            text += " (" + "; ".join(details) + ")"
        return text


class SpecError(EvalkitError):
    """A project's YAML or data does not pass validation; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid project")


class ProjectError(EvalkitError):
    """The folder is not an evalkit project, or a named file is not part of it."""


class DataError(EvalkitError):
    """A data file cannot be read or does not hold what the plan says it holds."""


class EstimationError(EvalkitError):
    """An estimator cannot give an honest answer on these data (no overlap, too few units...)."""


class OptionError(EvalkitError):
    """An option value is not one of the valid choices."""


def check_choice(name: str, value: object, choices: Iterable[object]) -> None:
    """Raise :class:`OptionError` naming the valid choices when ``value`` is not among them."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise OptionError(f"{name}: {value!r} is not a valid choice; expected one of {listed}")
