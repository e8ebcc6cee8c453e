"""Estimation: one module per design, each returning an :class:`Analysis` of the same shape.

A design module exposes ``analyse(evaluation, frame, seed) -> Analysis``. The runner
(:mod:`evalkit.run`) reads the data, calls it, and wraps the analysis with a manifest into a
:class:`~evalkit.results.ResultSet`. Estimation never imports reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
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
