"""Inverse probability weights for the ATT (default) or the ATE, with stabilisation and trimming."""

from __future__ import annotations

import numpy as np


def ipw_weights(score: np.ndarray, treated: np.ndarray, estimand: str, stabilise: bool = False,
                trim: float | None = None) -> np.ndarray:
    p = np.asarray(score, float)
    if estimand == "att":
        w = np.where(treated, 1.0, p / (1 - p))
        if stabilise:
            # controls' weights then sum to about the number of controls, not of treated
            share = treated.mean()
            w = np.where(treated, 1.0, w * (1 - share) / share)
    else:
        w = np.where(treated, 1 / p, 1 / (1 - p))
        if stabilise:
            share = treated.mean()
            w = np.where(treated, w * share, w * (1 - share))
    if trim is not None:
        # winsorise each group's weights at its trim and 1 - trim quantiles
        for g in (treated, ~treated):
            lo, hi = np.quantile(w[g], [trim, 1 - trim])
            w[g] = np.clip(w[g], lo, hi)
    return w


def ess(w: np.ndarray) -> float:
    s2 = float(np.sum(w ** 2))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0
