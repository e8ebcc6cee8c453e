"""The publication ledger: every count a publication shows, the links between them, and one decision.

Writers never format a count themselves: they ask the ledger for a :class:`~evalkit.publish.values.Count`
(``ledger.count(value, ...)``), say how counts are linked (``ledger.sum(total, parts)``: a total
and its parts, a flow stage and the next stage plus those lost, a year-ending total and its
months, categories and their total, the same count on two pages) and only after
:meth:`Ledger.solve` render anything. ``solve`` applies the policy:

1. **Primary**: a count from 1 to threshold-1 is *small* (never shown).
2. **Complementary**: while the audit (:mod:`evalkit.publish.audit`) finds a hidden cell a reader
   could pin to fewer than two values from everything shown (sums, differences of rolling
   totals, shown percentages with their denominators, rates), another cell linked to it is
   *withheld*: the cheapest by role (``detail`` before ``normal`` before ``headline``), then the
   smallest. A withheld cell that the published facts would give away anyway is shown again.
3. Under the ``round`` policy every other count is shown rounded; shown rates and percentages
   (from unrounded counts) count as exact knowledge of their counts in the audit.

Cells are numbered in the order they are declared, so the same inputs give the same decisions
(and the same page bytes) in any process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from evalkit.publish.audit import INF, Facts, exposed
from evalkit.publish.policy import DisclosureError, Policy, PolicyKind

ROLE_COST = {"detail": 1, "normal": 10, "headline": 100}


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


@dataclass
class _Ratio:
    num: int
    den: int
    digits: int  # decimals of the percentage shown


class Ledger:
    """One publication's counts and relations (see the module doc)."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.cells: list[Cell] = []
        self.sums: list[tuple[int, tuple[int, ...]]] = []
        self.ratios: list[_Ratio] = []
        self.rates: set[int] = set()
        self._by_key: dict[object, int] = {}
        self.solved = False

    # ---------------------------------------------------------------- declaring

    def count(self, value, *, role: str = "normal", label: str = "", key: object = None, latent: bool = False):
        """A count that may be published (or, with ``latent``, one that only links others).

        ``key``: the same key gives the same cell (the same count shown in two places).
        """
        from evalkit.publish.values import Count

        if self.solved:
            raise RuntimeError("the ledger is solved: declare every count before rendering")
        if key is not None and key in self._by_key:
            cell = self.cells[self._by_key[key]]
            if int(value) != cell.value:
                raise ValueError(f"count {key!r} declared as {cell.value} and {value}")
            if not latent:
                cell.latent = False
            if ROLE_COST[role] > ROLE_COST[cell.role]:
                cell.role = role
            return Count(cell, self)
        if value is None:
            raise ValueError("a count needs a value (use None outside the ledger for 'not recorded')")
        v = float(value)
        if v != int(v) or v < 0:
            raise ValueError(f"a count must be a whole number of at least 0, not {value!r}")
        cell = Cell(len(self.cells), int(v), role, label or f"count {len(self.cells)}", latent)
        self.cells.append(cell)
        if key is not None:
            self._by_key[key] = cell.id
        return Count(cell, self)

    def get(self, key) -> "Count | None":
        from evalkit.publish.values import Count

        i = self._by_key.get(key)
        return None if i is None else Count(self.cells[i], self)

    def sum(self, total, parts: Sequence) -> None:
        """``total`` is the sum of ``parts`` (Counts). Checked: a wrong relation is a bug, not a fact."""
        parts = [p for p in parts if p is not None]
        if total is None or not parts:
            return
        t, ps = total.cell, [p.cell for p in parts]
        if t.value != sum(p.value for p in ps):
            raise ValueError(f"{t.label} ({t.value}) is not the sum of its parts "
                             f"({' + '.join(f'{p.label}={p.value}' for p in ps)})")
        self.sums.append((t.id, tuple(p.id for p in ps)))

    def same(self, a, b) -> None:
        """Two counts are the same number (e.g. a count in a sentence and a cell of a table)."""
        if a is not None and b is not None and a.cell is not b.cell:
            self.sum(a, [b])

    def link_by_value(self, count, among: Iterable) -> None:
        """Link ``count`` to every count in ``among`` holding the same value (the same fact, as far
        as a reader can tell): prose counts written by other code are tied to the tables this way."""
        for other in among:
            if other is not None and other.cell is not count.cell and other.cell.value == count.cell.value:
                self.same(count, other)

    def share(self, num, den, digits: int) -> None:
        self.ratios.append(_Ratio(num.cell.id, den.cell.id, digits))

    def rate(self, count) -> None:
        self.rates.add(count.cell.id)

    # ---------------------------------------------------------------- deciding

    def facts(self, hidden: set[int]) -> Facts:
        """What a reader of the published page knows, given which cells are hidden."""
        pol = self.policy
        f = Facts(sums=list(self.sums))
        for c in self.cells:
            if c.latent:
                f.bound(c.id, 0.0, INF)
            elif c.id in hidden:
                f.bound(c.id, 1.0, pol.threshold - 1.0) if pol.small(c.value) else f.bound(c.id, 0.0, INF)
            elif pol.kind is PolicyKind.round and c.id not in self.rates:
                f.bound(c.id, *pol.interval(pol.shown(c.value)))
            else:
                f.bound(c.id, c.value, c.value)
        for r in self.ratios:
            num, den = self.cells[r.num].value, self.cells[r.den].value
            if r.num in hidden or r.den in hidden or den == 0 or pol.small(num) or pol.small(den) \
                    or pol.small(den - num):
                continue  # not shown (values.Share hides it)
            p = self.cells[r.num].value / self.cells[r.den].value
            half = 0.5 * 10 ** -(r.digits + 2)
            shown = round(p, r.digits + 2)
            f.ratios.append((r.num, r.den, max(0.0, shown - half), shown + half))
        return f

    def _targets(self, primary: set[int]) -> list[int]:
        """What must stay unknown: the small counts (shown or latent)."""
        return sorted(primary | {c.id for c in self.cells if c.latent and self.policy.small(c.value)})

    def solve(self, max_rounds: int = 400) -> "Ledger":
        pol = self.policy
        hidden = {c.id for c in self.cells if pol.small(c.value)}
        primary = set(hidden)
        truth = {c.id: float(c.value) for c in self.cells}
        neighbours = self._neighbours()
        withheld_order: list[int] = []
        groups = self._groups()
        group_of = {c: g for g, members in enumerate(groups) for c in members}
        targets = self._targets(primary)
        dirty = {group_of[c] for c in targets if c in group_of}
        for _round in range(max_rounds):
            # only the linked tables touched by the last round can have changed
            found = exposed(self.facts(hidden), targets, truth, groups=[groups[g] for g in sorted(dirty)])
            if not found:
                break
            added = False
            dirty = set()
            for cell_id in sorted(found):
                pick = self._pick(cell_id, hidden, neighbours)
                if pick is not None:
                    hidden.add(pick)
                    withheld_order.append(pick)
                    dirty.add(group_of[pick])
                    added = True
            if not added:
                labels = ", ".join(self.cells[c].label for c in sorted(found)[:4])
                raise DisclosureError(f"cannot protect {labels}: every linked cell is already hidden")
        else:
            raise DisclosureError("complementary suppression did not settle; the linked tables are too large")
        # a withheld cell the published facts give away anyway protects nothing: show it
        withheld = hidden - primary
        if withheld:
            for cell_id in exposed(self.facts(hidden), sorted(withheld), truth):
                hidden.discard(cell_id)
        self._cleanup(hidden, primary, withheld_order, truth)
        for c in self.cells:
            if c.latent:
                c.status = Status.latent
            elif c.id in primary:
                c.status = Status.small
            elif c.id in hidden:
                c.status = Status.withheld
            elif pol.kind is PolicyKind.round and c.value:
                c.status = Status.rounded
            else:
                c.status = Status.shown
        self.solved = True
        return self

    def _groups(self) -> list[list[int]]:
        from evalkit.publish.audit import components

        f = Facts(sums=list(self.sums), ratios=[(r.num, r.den, 0.0, 1.0) for r in self.ratios])
        return components(f, range(len(self.cells)))

    def _neighbours(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for total, parts in self.sums:
            group = (total, *parts)
            for a in group:
                out.setdefault(a, set()).update(group)
        for r in self.ratios:
            out.setdefault(r.num, set()).add(r.den)
            out.setdefault(r.den, set()).add(r.num)
        return out

    def _pick(self, cell_id: int, hidden: set[int], neighbours) -> int | None:
        """The cheapest shown cell to withhold so ``cell_id`` is not given away: among the cells linked
        (by a sum or a share) to it or to the hidden cells linked to it; by role, then value."""
        cluster, frontier = {cell_id}, [cell_id]
        while frontier:
            nxt = []
            for c in frontier:
                for d in neighbours.get(c, ()):
                    if d not in cluster and (d in hidden or self.cells[d].latent):
                        cluster.add(d)
                        nxt.append(d)
            frontier = nxt
        candidates = {d for c in cluster for d in neighbours.get(c, ()) if d not in hidden and d not in cluster
                      and not self.cells[d].latent}
        if not candidates:
            return None
        return min(candidates, key=lambda c: (ROLE_COST[self.cells[c].role], self.cells[c].value, c))

    def _cleanup(self, hidden: set[int], primary: set[int], order: list[int], truth) -> None:
        """Show again each withheld cell the protection does not need (last withheld first)."""
        if len(order) > 60:  # large linked tables (monthly series): keep the safe set as found
            return
        for cell_id in reversed(list(dict.fromkeys(order))):
            if cell_id not in hidden or cell_id in primary:
                continue
            trial = hidden - {cell_id}
            group = [g for g in self._groups() if cell_id in g]
            if not exposed(self.facts(trial), self._targets(primary), truth, groups=group):
                hidden.discard(cell_id)

    # ---------------------------------------------------------------- reading back

    def check(self) -> list[str]:
        """The audit of the final decision (empty when every hidden cell is safe)."""
        hidden = {c.id for c in self.cells if c.status is not None and c.status.hidden}
        primary = {c.id for c in self.cells if c.status is Status.small}
        found = exposed(self.facts(hidden), self._targets(primary), {c.id: float(c.value) for c in self.cells})
        return [self.cells[c].label for c in sorted(found)]

    def manifest(self, cell_ids: Iterable[int] | None = None) -> dict:
        """The page's disclosure map: the policy and the links between the cells it shows (no values)."""
        keep = None if cell_ids is None else set(cell_ids)
        sums = []
        latent = set()
        for total, parts in self.sums:
            group = (total, *parts)
            if keep is None or any(c in keep for c in group):
                sums.append([total, list(parts)])
                latent.update(c for c in group if self.cells[c].latent)
        ratios = [[r.num, r.den] for r in self.ratios if keep is None or r.num in keep or r.den in keep]
        return {"schema": "evalkit.disclosure/v1", "policy": self.policy.to_json(), "sums": sums,
                "latent": sorted(latent), "shares": ratios}
