"""A publication's counts as the ledger keeps them: one :class:`Cell` per count and the :class:`Status`
the ledger's decision gives it.

They live apart from :mod:`evalkit.publish.ledger` so that :mod:`evalkit.publish.values` (whose
``Count`` wraps a cell) and the ledger (which hands out Counts) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    shown = "shown"  # exact
    rounded = "rounded"  # round policy: shown to the nearest round_to
    small = "small"  # primary suppression: 1 .. threshold-1
    withheld = "withheld"  # complementary suppression
    latent = "latent"  # never displayed: a total or part that only links displayed cells

    @property
    def hidden(self) -> bool:
        return self in (Status.small, Status.withheld)


@dataclass(eq=False)
class Cell:
    id: int
    value: int
    role: str = "normal"
    label: str = ""
    latent: bool = False
    status: Status | None = None
    exact: bool = False  # a shown rate reveals the exact count even under rounding
    key: object = None
    # another publication of the same family already shows (or hides) this count: its status is
    # fixed here, and ``known`` is what that publication tells a reader of it
    fixed: Status | None = None
    known: tuple[float, float] | None = None
    foreign: bool = False  # declared only by another publication: never rendered here
