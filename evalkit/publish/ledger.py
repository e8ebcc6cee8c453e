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
from dataclasses import dataclass

from evalkit.publish.audit import INF, Facts, exposed
from evalkit.publish.cells import Cell, Status
from evalkit.publish.policy import DisclosureError, Policy, PolicyKind

ROLE_COST = {"detail": 1, "normal": 10, "headline": 100}


@dataclass
class _Ratio:
    num: int
    den: int
    digits: int  # decimals of the percentage shown
    change: bool = False  # a relative change num/den - 1 (shown whenever both counts are), not a share


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
        # what other publications of the same family publish (see ``adopt``): their links and shares
        self.foreign_sums: list[tuple[int, tuple[int, ...]]] = []
        self.foreign_ratios: list[tuple[int, int, float, float]] = []

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
            if cell.foreign and value is not None and int(value) != cell.value:
                # another publication showed this fact from older data: a different count now (the
                # record keeps the old one's links); this one is a new cell under the key
                del self._by_key[key]
            else:
                if int(value) != cell.value:
                    raise ValueError(f"count {key!r} declared as {cell.value} and {value}")
                if cell.foreign:  # first declared here: rendered from now on (latent until said otherwise)
                    cell.foreign, cell.latent = False, True
                    cell.label = label or cell.label
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
        cell = Cell(len(self.cells), int(v), role, label or f"count {len(self.cells)}", latent, key=key)
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

    def change(self, now, before, digits: int) -> None:
        """``now / before - 1`` is printed with ``digits`` decimals of a percentage: beside rounded counts
        it narrows both (62 shown as 60 and 50 with +24.0% can only be 62/50), so the audit knows it."""
        self.ratios.append(_Ratio(now.cell.id, before.cell.id, digits, change=True))

    def rate(self, count) -> None:
        self.rates.add(count.cell.id)

    # ---------------------------------------------------------------- deciding

    def facts(self, hidden: set[int]) -> Facts:
        """What a reader of the published pages knows, given which cells are hidden (with what the
        other publications of the family, ``adopt``, tell them)."""
        pol = self.policy
        f = Facts(sums=list(self.sums) + list(self.foreign_sums))
        for c in self.cells:
            if c.foreign:
                f.bound(c.id, *c.known)
                continue
            if c.latent:
                lo, hi = 0.0, INF
            elif c.id in hidden:
                lo, hi = (1.0, pol.threshold - 1.0) if pol.small(c.value) else (0.0, INF)
            elif pol.kind is PolicyKind.round and c.id not in self.rates:
                lo, hi = pol.interval(pol.shown(c.value))
            else:
                lo, hi = c.value, c.value
            if c.known is not None:
                lo, hi = max(lo, c.known[0]), min(hi, c.known[1])
            f.bound(c.id, lo, hi)
        f.ratios = self._ratio_facts(hidden) + list(self.foreign_ratios)
        return f

    def _ratio_facts(self, hidden: set[int]) -> list[tuple[int, int, float, float]]:
        """Each shown percentage as bounds on its numerator over its denominator (its printed digits)."""
        pol = self.policy
        out = []
        for r in self.ratios:
            num, den = self.cells[r.num].value, self.cells[r.den].value
            if r.num in hidden or r.den in hidden or den == 0:
                continue  # not shown
            if not r.change and (pol.small(num) or pol.small(den) or pol.small(den - num)):
                continue  # not shown (values.Share hides it)
            p = num / den
            half = 0.5 * 10 ** -(r.digits + 2)
            shown = round(p, r.digits + 2)
            out.append((r.num, r.den, max(0.0, shown - half), shown + half))
        return out

    # ---------------------------------------------------------------- a family of publications

    def adopt(self, records: Iterable[dict]) -> None:
        """Take in what other publications of the same family (the dashboard and each needs assessment)
        already publish: their counts, links and shares, as records written by :meth:`record`.

        A count with the same key and value is the same cell: its status there is fixed here (a count
        shown there is known; one hidden there must stay hidden, or that page's protection is undone),
        and the other publications' small counts are protected here as if they were this one's.
        Called before anything is declared."""
        if any(not c.foreign for c in self.cells):
            raise RuntimeError("adopt the family's records before declaring any count")
        for rec in records:
            ids: dict[int, int] = {}
            for c in rec["cells"]:
                key = _thaw(c.get("key"))
                status = Status(c["status"])
                fixed = None if status is Status.latent else status
                known = (float(c["lo"]), INF if c["hi"] is None else float(c["hi"]))
                held = self.cells[self._by_key[key]] if key is not None and key in self._by_key else None
                if held is not None and held.value == int(c["value"]):
                    held.known = (max(held.known[0], known[0]), min(held.known[1], known[1]))
                    held.fixed = _more_revealing(held.fixed, fixed)
                    held.latent = held.latent and bool(c["latent"])
                    cell = held
                else:
                    cell = Cell(len(self.cells), int(c["value"]), "normal", f"{rec['publication']}: {c['label']}",
                                bool(c["latent"]), key=key, fixed=fixed, known=known, foreign=True)
                    self.cells.append(cell)
                    if key is not None and held is None:
                        self._by_key[key] = cell.id
                ids[int(c["id"])] = cell.id
            for total, parts in rec["sums"]:
                self.foreign_sums.append((ids[total], tuple(ids[p] for p in parts)))
            for num, den, lo, hi in rec["shares"]:
                self.foreign_ratios.append((ids[num], ids[den], float(lo), float(hi)))

    def record(self, publication: str) -> dict:
        """What this publication tells a reader, for the family's other publications to be solved against:
        each count it declares (true value, status, key, what a reader knows of it), its links, its shares."""
        hidden = {c.id for c in self.cells if c.status is not None and c.status.hidden}
        f = self.facts(hidden)
        own = [c for c in self.cells if not c.foreign]
        cells = [{"id": c.id, "key": _freeze(c.key), "value": int(c.value), "status": c.status.value,
                  "label": str(c.label), "latent": bool(c.latent), "lo": float(f.lo[c.id]),
                  "hi": None if f.hi[c.id] == INF else float(f.hi[c.id])} for c in own]
        return {"schema": "evalkit.disclosure-record/v1", "publication": publication, "policy": self.policy.to_json(),
                "cells": cells, "sums": [[t, list(ps)] for t, ps in self.sums],
                "shares": [[int(a), int(b), float(lo), float(hi)] for a, b, lo, hi in self._ratio_facts(hidden)]}

    def _targets(self, primary: set[int]) -> list[int]:
        """What must stay unknown: the small counts (shown or latent), here or in the family's other
        publications; not one another publication already shows (nothing can protect it now)."""
        public = {c.id for c in self.cells if c.fixed is not None and not c.fixed.hidden}
        # a count another publication withholds and this one shows as hidden too must stay unknown here as
        # well (its page's scan asks that of every hidden cell, and that publication's protection rests on it)
        kept = {c.id for c in self.cells if c.fixed is not None and c.fixed.hidden and not c.foreign and not c.latent}
        return sorted((primary | kept | {c.id for c in self.cells if c.latent and self.policy.small(c.value)}) - public)

    def _free(self, cell_id: int) -> bool:
        """This publication may decide the cell (not fixed by another one of the family)."""
        c = self.cells[cell_id]
        return not c.foreign and c.fixed is None

    def solve(self, max_rounds: int = 400) -> "Ledger":
        pol = self.policy
        fixed_hidden = {c.id for c in self.cells if c.fixed is not None and c.fixed.hidden}
        hidden = {c.id for c in self.cells if pol.small(c.value)} | fixed_hidden
        primary = {c.id for c in self.cells if pol.small(c.value) or c.fixed is Status.small}
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
        withheld = {c for c in hidden - primary if self._free(c)}
        if withheld:
            for cell_id in exposed(self.facts(hidden), sorted(withheld), truth):
                hidden.discard(cell_id)
        self._cleanup(hidden, primary, withheld_order, truth)
        for c in self.cells:
            if c.foreign:  # never rendered here: as the other publication shows it
                c.status = c.fixed or Status.latent
            elif c.latent:
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

        f = Facts(sums=list(self.sums) + list(self.foreign_sums),
                  ratios=[(r.num, r.den, 0.0, 1.0) for r in self.ratios] + list(self.foreign_ratios))
        return components(f, range(len(self.cells)))

    def _neighbours(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for total, parts in [*self.sums, *self.foreign_sums]:
            group = (total, *parts)
            for a in group:
                out.setdefault(a, set()).update(group)
        for num, den in [(r.num, r.den) for r in self.ratios] + [(n, d) for n, d, _a, _b in self.foreign_ratios]:
            out.setdefault(num, set()).add(den)
            out.setdefault(den, set()).add(num)
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
                      and not self.cells[d].latent and self._free(d)}
        if not candidates:
            return None
        return min(candidates, key=lambda c: (ROLE_COST[self.cells[c].role], self.cells[c].value, c))

    def _cleanup(self, hidden: set[int], primary: set[int], order: list[int], truth) -> None:
        """Show again each withheld cell the protection does not need (last withheld first)."""
        if len(order) > 60:  # large linked tables (monthly series): keep the safe set as found
            return
        for cell_id in reversed(list(dict.fromkeys(order))):
            if cell_id not in hidden or cell_id in primary or not self._free(cell_id):
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


def _freeze(key):
    """A ledger key as JSON (tuples as lists); a key JSON cannot hold is not recorded."""
    if hasattr(key, "item") and not isinstance(key, (tuple, list)):  # a numpy scalar
        key = key.item()
    if key is None or isinstance(key, (str, int, float, bool)):
        return str(key) if isinstance(key, str) else key
    if isinstance(key, (tuple, list)):
        parts = [_freeze(k) for k in key]
        return None if any(p is None and k is not None for p, k in zip(parts, key)) else parts
    return None


def _thaw(key):
    return tuple(_thaw(k) for k in key) if isinstance(key, list) else key


_REVEALS = {Status.shown: 4, Status.rounded: 3, Status.small: 2, Status.withheld: 1}


def _more_revealing(a: Status | None, b: Status | None) -> Status | None:
    """One fact in two records: what a reader has of it is the more revealing of the two."""
    if a is None or b is None:
        return a or b
    return a if _REVEALS[a] >= _REVEALS[b] else b
