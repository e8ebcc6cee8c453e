"""Typed values: every number a publication shows that is, or is built from, a count.

A :class:`Count` is a cell of the publication's :class:`~evalkit.publish.ledger.Ledger`; what it
shows (the number, the number rounded, "fewer than 5", or ``[c]``) is decided once, by
``Ledger.solve``, and every output asks the value itself: prose (:meth:`text`), a table cell
(:meth:`table_text`), a figure (:meth:`plot`), an export (:meth:`export`). Derived values carry the
counts they reveal and are hidden with them:

- :class:`Share` (a percentage of a count over its denominator: hidden when either is hidden, and
  its shown digits enter the audit, since a percentage times its denominator gives the count);
- :class:`Rate` (a count over a population: hidden with its count; it reveals the exact count,
  so under the rounding policy the audit treats its count as known exactly);
- :class:`Stat` (a mean, an estimate, an interval bound, a p-value, an SD...: hidden when any
  group it describes is small);
- :class:`Derived` (anything computed from other values: hidden when any of them is).

:func:`phrase` writes a sentence from typed values; the sentence can never print a number that
its table suppresses, because it prints the same value.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.publish.cells import Cell, Status
from evalkit.publish.policy import PolicyKind


class Value:
    """Something shown that may be hidden. Subclasses define ``hidden``, ``shown_text`` and ``cells``."""

    kind = "value"

    @property
    def hidden(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def cells(self) -> tuple[int, ...]:
        return ()

    def shown_text(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def mark(self) -> str:
        return "[c]"

    def text(self) -> str:
        """In a sentence."""
        return self.mark() if self.hidden else self.shown_text()

    def table_text(self) -> str:
        """In a table cell or a figure label."""
        return self.mark() if self.hidden else self.shown_text()

    def plot(self) -> float | None:
        """In a figure's data: None when hidden (never drawn at its true height)."""
        return None if self.hidden else self.plot_value()

    def plot_value(self) -> float | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def export(self):
        return None if self.hidden else self.plot_value()

    @property
    def status(self) -> str:
        return "withheld" if self.hidden else "shown"


class Count(Value):
    kind = "count"

    def __init__(self, cell: Cell, ledger):  # ledger: the evalkit.publish.ledger.Ledger the cell is in
        self.cell, self.ledger = cell, ledger

    def __repr__(self) -> str:
        return f"Count({self.cell.label}={self.cell.value})"

    def _solved(self) -> Status:
        if self.cell.status is None:
            raise RuntimeError("solve the ledger before rendering a count")
        return self.cell.status

    @property
    def status(self) -> str:
        return self._solved().value

    @property
    def hidden(self) -> bool:
        return self._solved().hidden

    @property
    def small(self) -> bool:
        """Under the threshold (primary suppression): known from the policy alone, before solving."""
        return self.ledger.policy.small(self.cell.value)

    def cells(self) -> tuple[int, ...]:
        return (self.cell.id,)

    @property
    def shown_value(self) -> int | None:
        # a latent count only links others: it is never displayed, exported or drawn
        if self.hidden or self._solved() is Status.latent:
            return None
        return self.ledger.policy.shown(self.cell.value)

    def table_text(self) -> str:
        if self._solved() is Status.latent:
            return "-"
        return super().table_text()

    def shown_text(self) -> str:
        return str(self.shown_value)

    def plot_value(self) -> float | None:
        return self.shown_value

    def text(self) -> str:
        if self.small:
            return self.ledger.policy.small_words
        return super().text()

    # the true value, for code that needs it to decide (never for output)
    @property
    def value(self) -> int:
        return self.cell.value


class Share(Value):
    """``num / den`` shown as a percentage (``digits`` decimals); ``complement`` shows 1 - share."""

    kind = "share"

    def __init__(self, num: Count, den: Count, digits: int = 1, complement: bool = False, plotted: bool = False):
        self.num, self.den, self.digits, self.complement = num, den, digits, complement
        # a figure shows the fraction itself: the audit then assumes 8 decimals of the percentage are known.
        # Under the rounding policy a figure shows it as printed instead (a share to 8 decimals beside a
        # rounded denominator would give the unrounded counts back). Figures and exports never carry
        # more digits than the audit assumes (``fraction_digits``).
        policy = num.ledger.policy
        audited = 8 if plotted and policy.kind is not PolicyKind.round else digits
        self.fraction_digits = audited + 2
        num.ledger.share(num, den, audited)

    @property
    def hidden(self) -> bool:
        # a percentage of a small count, or of all but a small count, gives it away with its denominator
        policy = self.num.ledger.policy
        return (self.num.hidden or self.den.hidden or self.den.value == 0 or self.num.small or self.den.small
                or policy.small(self.den.value - self.num.value))

    def cells(self):
        return (self.num.cell.id, self.den.cell.id)

    @property
    def fraction(self) -> float:
        f = self.num.value / self.den.value
        return 1 - f if self.complement else f

    def shown_text(self) -> str:
        return f"{self.fraction * 100:.{self.digits}f}%"

    def plot_value(self):
        return round(self.fraction, self.fraction_digits)


class Rate(Value):
    """A rate from an unrounded count (``value`` already computed), shown with ``fmt``."""

    kind = "rate"

    def __init__(self, count: Count, value: float | None, fmt: Callable[[float], str] = lambda v: f"{v:.2f}"):
        self.count, self.value, self.fmt = count, value, fmt
        count.ledger.rate(count)

    @property
    def hidden(self) -> bool:
        return (self.count.hidden or self.count.small or self.value is None
                or (isinstance(self.value, float) and math.isnan(self.value)))

    def cells(self):
        return (self.count.cell.id,)

    def shown_text(self) -> str:
        return self.fmt(self.value)

    def plot_value(self):
        return self.value


class Stat(Value):
    """A statistic of the groups ``of``: hidden when any of them is small (fewer than the threshold)."""

    kind = "stat"

    def __init__(self, value: Any, of: Sequence[Count | None], fmt: Callable[[Any], str] = str):
        self.value, self.of, self.fmt = value, [c for c in of if c is not None], fmt

    @property
    def hidden(self) -> bool:
        return any(c.small for c in self.of)

    def cells(self):
        return tuple(c.cell.id for c in self.of)

    def shown_text(self) -> str:
        return self.fmt(self.value)

    def plot_value(self):
        return self.value if isinstance(self.value, (int, float)) else None


class Derived(Value):
    """Any value computed from others: hidden when any of them is hidden."""

    kind = "derived"

    def __init__(self, value: Any, depends: Sequence[Value | None], fmt: Callable[[Any], str] = str):
        self.value, self.depends, self.fmt = value, [d for d in depends if d is not None], fmt

    @property
    def hidden(self) -> bool:
        return self.value is None or any(d.hidden for d in self.depends)

    def cells(self):
        return tuple(c for d in self.depends for c in d.cells())

    def shown_text(self) -> str:
        return self.fmt(self.value)

    def plot_value(self):
        return self.value if isinstance(self.value, (int, float)) else None


class Change(Derived):
    """A relative change of two counts, ``now / before - 1``, printed with ``digits`` decimals of a
    percentage (``fmt``, default ``+12.3%``): hidden when either is hidden; the audit knows it as a ratio
    of the two (under rounding it would otherwise give the unrounded counts back)."""

    def __init__(self, now: Count, before: Count, digits: int = 1, fmt: Callable[[Any], str] | None = None):
        value = now.value / before.value - 1 if before.value else None
        super().__init__(value, [now, before], fmt or (lambda v: f"{v:+.{digits}%}"))
        self.digits = digits
        if value is not None:
            now.ledger.change(now, before, digits)

    def plot_value(self):
        # a figure or an export carries the change as printed: the audit knows no more digits than that
        return None if self.value is None else round(self.value, self.digits + 2)


class Fixed(Value):
    """A value that reveals no count (a model's fitted rate, a threshold): always shown."""

    kind = "fixed"

    def __init__(self, value: Any, fmt: Callable[[Any], str] = str):
        self.value, self.fmt = value, fmt

    @property
    def hidden(self) -> bool:
        return False

    def shown_text(self) -> str:
        return self.fmt(self.value)

    def plot_value(self):
        return self.value if isinstance(self.value, (int, float)) else None


class Gated(Fixed):
    """A model's output (no count of its own) shown only if ``shown()``, asked after disclosure control:
    e.g. a fitted trend whose fit, beside the published months, would give a suppressed month away."""

    def __init__(self, value: Any, shown: Callable[[], bool], fmt: Callable[[Any], str] = str):
        super().__init__(value, fmt)
        self.shown = shown

    @property
    def hidden(self) -> bool:
        return not self.shown()


class Chosen(Fixed):
    """Words chosen after disclosure control (no count in either): ``yes`` when ``when()``, else ``no``.
    E.g. a note that a fitted trend is not drawn, said only where it is not."""

    def __init__(self, when: Callable[[], bool], yes: str, no: str):
        super().__init__(None)
        self.when, self.yes, self.no = when, yes, no

    def shown_text(self) -> str:
        return self.yes if self.when() else self.no


@dataclass
class Phrase:
    """A sentence with typed values in it: ``Phrase("{lost} of {pool} have no match", lost=c1, pool=c2)``.

    Plain text parts are escaped by the writer; each value renders itself (with its mark-up).
    """

    template: str
    values: dict[str, Value] = field(default_factory=dict)

    def parts(self) -> list[str | Value]:
        out: list[str | Value] = []
        for literal, name, spec, _conv in string.Formatter().parse(self.template):
            if literal:
                out.append(literal)
            if name is not None:
                if name not in self.values:
                    raise KeyError(f"phrase {self.template!r} has no value for {{{name}}}")
                out.append(self.values[name])
        return out

    def plain(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts())


def phrase(template: str, **values: Value) -> Phrase:
    return Phrase(template, values)
