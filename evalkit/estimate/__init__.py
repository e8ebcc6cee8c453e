"""Estimation: one module per design, each returning an :class:`Analysis` of the same shape.

A design module exposes ``analyse(evaluation, frame, seed) -> Analysis``. The runner
(:mod:`evalkit.run`) reads the data, calls it, and wraps the analysis with a manifest into a
:class:`~evalkit.results.ResultSet`. Estimation never imports reporting.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from evalkit.results import Estimate, FlowStage, RunWarning


@dataclass(frozen=True)
class Analysis:
    estimates: tuple[Estimate, ...]
    flow: tuple[FlowStage, ...] = ()
    warnings: tuple[RunWarning, ...] = ()
    sections: Mapping[str, Any] = field(default_factory=dict)
    # rows analysed, with weights and matched-set ids; holds person identifiers, never published
    analysed_data: Any = None

    def __post_init__(self):
        # every estimate names its SE convention and reference distribution (docs/conventions.md)
        from evalkit.estimate.conventions import fill

        object.__setattr__(self, "estimates", tuple(fill(e) for e in self.estimates))


# ------------------------------------------------------------------------------ analysed rows, early
#
# What the design analyses, handed over as soon as it exists and before the design's estimates are
# computed: the runner (:mod:`evalkit.run`) listens while a refuted design runs, and sends the rows to
# the DoWhy worker at once, so that the refutations run on the other core while this process computes
# the estimates, balance and subgroups (issue 20). Only a head start: the runner checks the rows
# against the finished analysis and refutes again if they differ, so a design that never calls
# :func:`analysed_rows_ready`, or calls it wrongly, changes nothing but the time.

_rows_listener: contextvars.ContextVar[Callable[..., None] | None] = contextvars.ContextVar("rows_listener",
                                                                                            default=None)


@contextlib.contextmanager
def listening_for_rows(listener: Callable[..., None]) -> Iterator[None]:
    """Call ``listener(rows, outcome_column=...)`` when the running design hands over its analysed rows."""
    token = _rows_listener.set(listener)
    try:
        yield
    finally:
        _rows_listener.reset(token)


def analysed_rows_ready(rows: Any, outcome_column: str | None) -> None:
    """A design's analysed rows (what its ``Analysis.analysed_data`` will be) and the column of its
    primary estimate, before the estimates; a no-op unless the runner is listening. A listener's
    failure is its own: the design carries on."""
    listener = _rows_listener.get()
    if listener is not None:
        with contextlib.suppress(Exception):
            listener(rows, outcome_column=outcome_column)
