"""Effects on the matched or weighted sample: weighted least squares with cluster-robust SEs.

The standard error is ``sandwich::vcovCL(type = "HC1")``: the cluster sum of scores, each
clustering scaled by G/(G-1), the whole by (N-1)/(N-K); several cluster variables combine as
Cameron-Gelbach-Miller two-way clustering (pair + unit - pair-and-unit), which is what MatchIt's
documentation recommends when controls are reused (matching with replacement).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fit:
    beta: np.ndarray
    vcov: np.ndarray
    n: int
    k: int
    clusters: tuple[int, ...]  # number of clusters of each clustering


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values), sort=False)[0]


def wls_cluster(y: np.ndarray, X: np.ndarray, w: np.ndarray, clusters: list | None = None) -> Fit:
    keep = w > 0
    y, X, w = y[keep], X[keep], w[keep]
    n, k = X.shape
    XtWX = X.T @ (X * w[:, None])
    bread = np.linalg.pinv(XtWX)
    beta = bread @ (X.T @ (w * y))
    scores = X * (w * (y - X @ beta))[:, None]
    meat = np.zeros((k, k))
    counts = []
    if not clusters:
        meat = scores.T @ scores * (n / (n - 1))
        counts.append(n)
    else:
        codes = [_codes(np.asarray(c)[keep]) for c in clusters]
        for size in range(1, len(codes) + 1):
            sign = (-1) ** (size + 1)
            for combo in combinations(codes, size):
                c = combo[0] if size == 1 else _codes(pd.MultiIndex.from_arrays(combo).to_flat_index())
                g = int(c.max()) + 1
                if size == 1:
                    counts.append(g)
                agg = np.column_stack([np.bincount(c, weights=scores[:, j], minlength=g) for j in range(k)]) \
                    if g < n else scores
                meat += sign * (g / (g - 1)) * (agg.T @ agg) if g > 1 else 0.0
    meat *= (n - 1) / (n - k)
    vcov = bread @ meat @ bread
    return Fit(beta, vcov, n, k, tuple(counts))


def t_interval(est: float, se: float, df: int, level: float = 0.95) -> tuple[float, float, float]:
    from evalkit.estimate._dist import t_sf
    from evalkit.estimate._stats import t_crit

    if not np.isfinite(se) or se <= 0:
        return float("nan"), float("nan"), float("nan")
    q = t_crit(df, level)
    p = 2 * t_sf(abs(est / se), df)
    return est - q * se, est + q * se, float(p)


def adjusted_design(treat: np.ndarray, Z: np.ndarray | None, w: np.ndarray, estimand: str) -> np.ndarray:
    """[1, treat] or, for covariate adjustment, [1, treat, Zc, treat*Zc] with Z centred on the
    target population (the treated for the ATT), so the treat coefficient is the ATT/ATE."""
    X = np.column_stack([np.ones(treat.size), treat.astype(float)])
    if Z is None or Z.shape[1] == 0:
        return X
    target = (treat == 1) if estimand == "att" else np.ones(treat.size, bool)
    ww = w * target
    centre = (Z * ww[:, None]).sum(0) / ww.sum()
    Zc = Z - centre
    varying = Zc[w > 0].std(0) > 0
    Zc = Zc[:, varying]
    return np.column_stack([X, Zc, Zc * treat[:, None]])
