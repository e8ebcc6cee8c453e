"""Can a hidden count be worked out from what is published? One answer for the solver and the scan.

A publication is a set of cells (counts). A reader knows, for each cell, an interval: a shown
count exactly, a rounded count to within half the rounding base, a count marked small as 1 to
threshold-1, a withheld count only as at least 0. Linked tables add linear facts: a total is the
sum of its parts (categories and their total, groups and "all", a flow stage and the next stage
plus those lost, a year-ending total and its twelve months, a cross-page total), and a shown
percentage with its denominator bounds its numerator.

A hidden cell is *exposed* when those facts leave it fewer than two whole values. The test is
exact linear algebra first (a null-space test: is the cell fixed by the sums alone, whatever the
bounds?), then, only where bounds could pin it, two small linear programmes (HiGHS, from
scipy) for its least and greatest possible value. The solver knows the true values and tries a
step along the null space from them before it solves anything; the scan, which does not know
them, finds a feasible point first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

INF = float("inf")
_EPS = 1e-7


@dataclass
class Facts:
    """What a reader knows: bounds per cell, sums, and percentage bounds (cells are ints)."""

    lo: dict[int, float] = field(default_factory=dict)
    hi: dict[int, float] = field(default_factory=dict)
    sums: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # total == sum(parts)
    ratios: list[tuple[int, int, float, float]] = field(default_factory=list)  # p_lo*den <= num <= p_hi*den

    def bound(self, cell: int, lo: float, hi: float) -> None:
        self.lo[cell], self.hi[cell] = float(lo), float(hi)


def components(facts: Facts, cells: Iterable[int]) -> list[list[int]]:
    """Groups of cells linked by sums or ratios (each audited on its own)."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for c in cells:
        find(c)
    for total, parts in facts.sums:
        for p in parts:
            union(total, p)
    for num, den, _a, _b in facts.ratios:
        union(num, den)
    groups: dict[int, list[int]] = {}
    for c in list(parent):
        groups.setdefault(find(c), []).append(c)
    return [sorted(g) for g in groups.values()]


def exposed(facts: Facts, targets: Iterable[int], truth: Mapping[int, float] | None = None,
            groups: Sequence[Sequence[int]] | None = None) -> dict[int, tuple[float, float]]:
    """The targets a reader can pin to fewer than two whole values, with their (min, max).

    ``groups``: the linked components to look at (default: all, from ``facts``)."""
    import numpy as np

    targets = set(targets)
    if not targets:
        return {}
    facts = _whole_pairs(facts)
    if groups is None:
        cells = set(targets) | set(facts.lo)
        for total, parts in facts.sums:
            cells.add(total)
            cells.update(parts)
        for num, den, _a, _b in facts.ratios:
            cells.update((num, den))
        groups = components(facts, cells)
    out: dict[int, tuple[float, float]] = {}
    with _one_thread():  # small dense problems: BLAS threads only contend (30x slower on 2 busy cores)
        for comp in groups:
            mine = [c for c in comp if c in targets]
            if not mine:
                continue
            out.update(_component(facts, list(comp), mine, truth, np))
    return out


_PAIRS = 2500  # at most this many (numerator, denominator) pairs are tried per printed ratio


def _whole_pairs(facts: Facts) -> Facts:
    """Counts are whole numbers: a printed ratio of two counts each known to a short interval (rounded
    counts, a percentage or a change printed to 0.1%) can leave one whole pair only, which the linear
    programmes (over real numbers) would not see: 62 and 50 shown as 60 and 50 with +24.0% are exactly
    62 and 50. Each such ratio's cells are narrowed to the whole pairs that fit (a reader can list them)."""
    import math

    if not facts.ratios:
        return facts
    lo, hi = dict(facts.lo), dict(facts.hi)
    for _pass in range(3):
        changed = False
        for num, den, p_lo, p_hi in facts.ratios:
            a0, a1 = lo.get(num, 0.0), hi.get(num, INF)
            b0, b1 = lo.get(den, 0.0), hi.get(den, INF)
            if INF in (a1, b1) or (a1 - a0 + 1) * (b1 - b0 + 1) > _PAIRS:
                continue
            fits = [(a, b) for b in range(math.ceil(b0 - _EPS), math.floor(b1 + _EPS) + 1)
                    for a in range(max(math.ceil(a0 - _EPS), math.ceil(p_lo * b - 1e-9)),
                                   min(math.floor(a1 + _EPS), math.floor(p_hi * b + 1e-9)) + 1)]
            if not fits:
                continue  # contradictory (a bound rounded differently): leave it to the programmes
            na0, na1 = min(a for a, _b in fits), max(a for a, _b in fits)
            nb0, nb1 = min(b for _a, b in fits), max(b for _a, b in fits)
            if (na0, na1, nb0, nb1) != (a0, a1, b0, b1):
                lo[num], hi[num], lo[den], hi[den] = float(na0), float(na1), float(nb0), float(nb1)
                changed = True
        if not changed:
            break
    return Facts(lo=lo, hi=hi, sums=facts.sums, ratios=facts.ratios)


def _one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _component(facts: Facts, comp: list[int], mine: list[int], truth, np) -> dict[int, tuple[float, float]]:
    index = {c: i for i, c in enumerate(comp)}
    n = len(comp)
    lo = np.array([facts.lo.get(c, 0.0) for c in comp], dtype=float)
    hi = np.array([facts.hi.get(c, INF) for c in comp], dtype=float)
    members = set(comp)
    rows = []
    for total, parts in facts.sums:
        if total in members:
            row = np.zeros(n)
            row[index[total]] += 1.0
            for p in parts:
                row[index[p]] -= 1.0
            rows.append(row)
    ub_rows = []
    for num, den, p_lo, p_hi in facts.ratios:
        if num in members:
            r1 = np.zeros(n)
            r1[index[num]] += 1.0
            r1[index[den]] -= p_hi
            r2 = np.zeros(n)
            r2[index[num]] -= 1.0
            r2[index[den]] += p_lo
            ub_rows += [r1, r2]
    A = np.array(rows) if rows else np.zeros((0, n))
    U = np.array(ub_rows) if ub_rows else np.zeros((0, n))
    fixed = hi - lo <= _EPS
    out: dict[int, tuple[float, float]] = {}
    free = [i for i in range(n) if not fixed[i]]
    for c in mine:
        if fixed[index[c]]:
            out[c] = (lo[index[c]], hi[index[c]])
    todo = [c for c in mine if c not in out]
    if not todo:
        return out
    # null space of the sums over the cells not already known exactly
    fi = np.array(free, dtype=int)
    Af = A[:, fi] if len(rows) else np.zeros((0, len(fi)))
    if Af.shape[0]:
        _u, s, vt = np.linalg.svd(Af, full_matrices=True)
        rank = int((s > 1e-9 * max(1.0, s.max(initial=0.0))).sum())
        null = vt[rank:].T  # len(free) x k
    else:
        null = np.eye(len(fi))
    pos = {free[j]: j for j in range(len(free))}
    point = None
    if truth is not None:
        point = np.array([float(truth.get(c, 0.0)) for c in comp])
    pivots, R = _rref(Af, np)
    lp_needed = []
    for c in todo:
        j = pos[index[c]]
        row = null[j] if null.size else np.zeros(0)
        weight = float(row @ row) if row.size else 0.0
        if weight < 1e-12:  # fixed by the sums alone: differencing recovers it, whatever the bounds
            out[c] = (-1.0, -1.0)
            continue
        if point is None:
            point = _feasible(A, U, lo, hi, np)
            if point is None:  # the published facts contradict each other: nothing can be said safely
                return {**out, **{t: (-1.0, -1.0) for t in todo if t not in out}}
        if any(_steps(point, d, lo, hi, U) for d in _directions(j, pivots, R, fi, n, null, row, weight, np)):
            continue
        lp_needed.append(c)
    # every feasible point found is kept: two points a whole value apart in a cell prove that cell safe;
    # the points with the hidden cells all as high, then all as low, as they can be settle most at once
    pool = [point] if point is not None else []
    if len(lp_needed) > 2:
        for sign in (-1.0, 1.0):
            obj = np.zeros(n)
            obj[[index[c] for c in lp_needed]] = sign
            res = _lp(obj, A, U, lo, hi)
            if res.status == 0:
                pool.append(res.x)
    for c in lp_needed:
        i = index[c]
        if _spread(pool, i) >= 1 - 1e-6:
            continue
        top, x_top = _bound(A, U, lo, hi, i, -1.0, np)
        if x_top is not None:
            pool.append(x_top)
        if _spread(pool, i) >= 1 - 1e-6:
            continue
        low, x_low = _bound(A, U, lo, hi, i, 1.0, np)
        if x_low is not None:
            pool.append(x_low)
        if top is None or low is None or np.floor(top + _EPS) - np.ceil(low - _EPS) < 1:
            out[c] = (low if low is not None else -1.0, top if top is not None else -1.0)
    return out


def _spread(pool, i) -> float:
    if len(pool) < 2:
        return 0.0
    values = [p[i] for p in pool]
    return max(values) - min(values)


def _bound(A, U, lo, hi, i, sign, np):
    """The least (sign 1) or greatest (sign -1) value cell ``i`` can take, and a point reaching it."""
    c = np.zeros(len(lo))
    c[i] = sign
    res = _lp(c, A, U, lo, hi)
    if res.status == 3:
        return (INF if sign < 0 else -INF), None
    if res.status != 0:
        return None, None
    return float(res.fun) * sign, res.x


def _rref(A, np):
    """Pivot columns and the reduced row echelon form of ``A`` (sums have 0/1 entries: exact enough)."""
    M = np.array(A, dtype=float)
    rows, cols = M.shape
    pivots = []
    r = 0
    for c in range(cols):
        if r >= rows:
            break
        k = r + int(np.argmax(np.abs(M[r:, c])))
        if abs(M[k, c]) < 1e-9:
            continue
        M[[r, k]] = M[[k, r]]
        M[r] /= M[r, c]
        others = np.abs(M[:, c]) > 1e-12
        others[r] = False
        M[others] -= np.outer(M[others, c], M[r])
        pivots.append(c)
        r += 1
    return pivots, M[:r]


def _directions(j, pivots, R, fi, n, null, row, weight, np):
    """Steps that keep every sum and move free cell ``j`` by exactly 1: first the sparse ones (one
    free cell moved, the pivots following), then the least-norm one."""
    pivot_of = {c: r for r, c in enumerate(pivots)}
    free_cols = [c for c in range(len(fi)) if c not in pivot_of]

    def basis(fcol):
        d = np.zeros(len(fi))
        d[fcol] = 1.0
        for r, pc in enumerate(pivots):
            d[pc] = -R[r, fcol]
        return d

    tried = []
    if j in pivot_of:
        r = pivot_of[j]
        for fcol in free_cols:
            coef = -R[r, fcol]
            if abs(coef) > 1e-9:
                tried.append(basis(fcol) / coef)
                if len(tried) >= 6:
                    break
    else:
        tried.append(basis(j))
    tried.append(null @ row / weight)
    for d in tried:
        full = np.zeros(n)
        full[fi] = d
        yield full


def _steps(point, d, lo, hi, U) -> bool:
    for sign in (1.0, -1.0):
        x = point + sign * d
        if (x >= lo - 1e-6).all() and (x <= hi + 1e-6).all() and (U.shape[0] == 0 or (U @ x <= 1e-6).all()):
            return True
    return False


def _lp(c, A, U, lo, hi):
    from scipy.optimize import linprog

    bounds = [(float(a), None if b == INF else float(b)) for a, b in zip(lo, hi)]
    kw = {}
    if A.shape[0]:
        kw.update(A_eq=A, b_eq=[0.0] * A.shape[0])
    if U.shape[0]:
        kw.update(A_ub=U, b_ub=[0.0] * U.shape[0])
    return linprog(c, bounds=bounds, method="highs", **kw)


def _feasible(A, U, lo, hi, np):
    res = _lp(np.zeros(len(lo)), A, U, lo, hi)
    return res.x if res.status == 0 else None


def describe(cell_labels: Mapping[int, str], found: Mapping[int, tuple[float, float]], limit: int = 4) -> str:
    names = [cell_labels.get(c, f"cell {c}") for c in sorted(found)]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


__all__: Sequence[str] = ("Facts", "components", "exposed", "describe", "INF")


def fixed_by_moments(design, known, sums=()) -> list[int]:
    """Which unknown entries of a series a reader can work out from a fitted model and sums.

    A log-linear model (Poisson, quasi-Poisson) with an intercept solves ``X'y = X'mu``: who sees
    its fitted values ``mu`` (a fitted trend, a counterfactual, or the estimates with the design)
    knows ``X'y``, a linear fact for every column of ``design`` (n x p). ``known``: n booleans, the
    entries shown; ``sums``: 0/1 rows of length n whose totals are published (year-ending totals).
    Returns the positions of the unknown entries these facts fix (exact linear algebra, no bounds):
    a model fitted on a series with such entries must not be published beside it."""
    import numpy as np
    from scipy.linalg import null_space

    X = np.asarray(design, dtype=float)
    known = np.asarray(known, dtype=bool)
    unknown = np.flatnonzero(~known)
    if not len(unknown):
        return []
    rows = [X.T] + [np.asarray(r, dtype=float)[None, :] for r in sums]
    A = np.vstack(rows)[:, unknown]
    N = null_space(A)
    if N.size == 0:
        return [int(i) for i in unknown]
    return [int(i) for j, i in enumerate(unknown) if np.all(np.abs(N[j]) < 1e-8)]
