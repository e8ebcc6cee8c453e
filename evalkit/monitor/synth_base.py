"""What the demo's extract generators share: the partnership's areas and their risk, the months,
the seasonal pattern, and times and dates within a month.

Its own module so that ``synth`` (the police and health extracts) and ``synth_partners`` (the
partners' extracts) both read it without importing each other. Moving code here changes no draw:
the functions are the same and take the caller's generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# community safety partnership areas of Leicester, Leicestershire and Rutland, mid-2020 populations (rounded)
AREAS = {"Leicester": 368_000, "Charnwood": 185_000, "Hinckley and Bosworth": 114_000, "Blaby": 102_000,
         "Harborough": 97_000, "North West Leicestershire": 105_000, "Melton": 52_000,
         "Oadby and Wigston": 58_000, "Rutland": 41_000}
# violence is concentrated in the city
AREA_RISK = {"Leicester": 2.2, "Charnwood": 1.0, "Hinckley and Bosworth": 0.8, "Blaby": 0.7, "Harborough": 0.5,
             "North West Leicestershire": 0.9, "Melton": 0.6, "Oadby and Wigston": 0.7, "Rutland": 0.4}
# hour-of-day weights: violence peaks in the evening and the early morning at weekends
HOURS = np.array([5, 4, 3, 2, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5, 6, 7, 7, 7, 8, 9, 10, 10, 9, 7], dtype=float)


def _months(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="MS")


def _seasonal(month_starts) -> np.ndarray:
    m = pd.DatetimeIndex(month_starts).month.to_numpy()
    return 1 + 0.12 * np.sin((m - 4) / 12 * 2 * np.pi)


def _timestamps(rng, month_of_row: np.ndarray) -> np.ndarray:
    """A time within each row's month, weighted to evenings and weekend nights."""
    starts = pd.DatetimeIndex(month_of_row)
    days = starts.days_in_month.to_numpy()
    day = np.floor(rng.random(len(starts)) * days).astype(int)
    hour = rng.choice(24, size=len(starts), p=HOURS / HOURS.sum())
    minute = rng.integers(0, 60, len(starts))
    ts = starts.to_numpy() + (day * 86400 + hour * 3600 + minute * 60).astype("timedelta64[s]")
    return ts.astype("datetime64[s]")


def _areas(rng, n: int, weights: dict) -> np.ndarray:
    names = np.array(list(AREAS))
    w = np.array([AREAS[a] * weights.get(a, 1.0) for a in names])
    return names[rng.choice(len(names), n, p=w / w.sum())]


def _days_in(rng, month: pd.Timestamp, n: int) -> np.ndarray:
    """``n`` dates spread over the days of ``month`` (``datetime.date`` objects)."""
    # numpy day arithmetic: called once per referral by the partners' extracts, where pandas'
    # Timedelta machinery cost about a millisecond a call
    days = rng.integers(0, month.days_in_month, n)
    return (np.datetime64(month.normalize().date(), "D") + days.astype("timedelta64[D]")).astype(object)
