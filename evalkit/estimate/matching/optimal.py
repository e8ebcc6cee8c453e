"""Optimal pair (1:k) matching: minimise the total distance within each exact-matching cell.

Uses scipy's ``linear_sum_assignment`` on a dense treated x control cost matrix, so it is for
small pools only; a pool too large for that is refused with the sizes and what to use instead.
Pairs that cannot respect the caliper cost a penalty larger than any feasible total, so the
solver first keeps as many pairs as possible inside the caliper and then minimises distance;
the pairs outside are left unmatched.
"""

from __future__ import annotations

import numpy as np

from evalkit.errors import EstimationError

# cells of the dense cost matrix (8 bytes each): 25 million is about 200 MB
MAX_CELLS = 25_000_000


def match_optimal(distance: np.ndarray, treated: np.ndarray, ratio: int = 1, caliper: float | None = None,
                  block: np.ndarray | None = None, discarded: np.ndarray | None = None,
                  cov_values: np.ndarray | None = None, cov_widths: np.ndarray | None = None) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    d = np.asarray(distance, float)
    n = d.size
    treated = np.asarray(treated, bool)
    discarded = np.zeros(n, bool) if discarded is None else np.asarray(discarded, bool)
    block = np.zeros(n, np.int64) if block is None else np.asarray(block)
    t_rows = np.flatnonzero(treated)
    t_pos = {int(r): i for i, r in enumerate(t_rows)}
    mm = np.full((t_rows.size, ratio), -1, np.int64)
    for cell in np.unique(block[t_rows]):
        ts = np.flatnonzero(treated & ~discarded & (block == cell))
        cs = np.flatnonzero(~treated & ~discarded & (block == cell))
        if ts.size == 0 or cs.size == 0:
            continue
        cells = ts.size * ratio * cs.size
        if cells > MAX_CELLS:
            raise EstimationError(
                f"optimal matching needs a {ts.size * ratio:,} x {cs.size:,} cost matrix ({cells:,} cells, "
                f"about {cells * 8 / 1e9:.1f} GB; expected at most {MAX_CELLS:,} cells). Use method: "
                "nearest for a pool this large, or match exactly on a column to split it into cells")
        cost = np.abs(d[ts][:, None] - d[cs][None, :])
        feasible = np.ones_like(cost, bool)
        if caliper is not None:
            feasible &= cost <= caliper
        if cov_values is not None:
            for j, w in enumerate(cov_widths):
                feasible &= np.abs(cov_values[ts, j][:, None] - cov_values[cs, j][None, :]) <= w
        penalty = (cost.max() + 1.0) * cost.shape[0] * ratio + 1.0
        cost = np.where(feasible, cost, penalty)
        rows, cols = linear_sum_assignment(np.repeat(cost, ratio, axis=0))
        slot = np.zeros(ts.size, int)
        for r, c in zip(rows.tolist(), cols.tolist()):
            t = r // ratio
            if not feasible[t, c]:
                continue
            mm[t_pos[int(ts[t])], slot[t]] = cs[c]
            slot[t] += 1
    # matched controls listed nearest first within each set
    return mm
