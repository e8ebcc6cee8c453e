"""Random draws keyed by the seed and the units' ids, never by row position or Python's hash.

A bootstrap sign or a random matching order drawn as ``rng.choice(..., size=n)`` gives unit
*i* the i-th draw, so the same data in another row order (or with one unit more) changes every
unit's draw and the answer. Here each unit's draws are a function of (seed, unit id, draw
number) only: a counter-based generator (SplitMix64 finaliser) over a 64-bit key derived from
the id's text with SHA-256, vectorised in numpy. The same seed and ids give the same draws in
any process, any row order, with any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective avalanche of 64-bit words."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _text(value) -> str:
    # whole-number floats are ids read through a missing value (12.0 is unit 12)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (np.integer,)):
        value = int(value)
    return f"{type(value).__name__ if not isinstance(value, (int, str)) else 'v'}:{value}"


def unit_keys(ids) -> np.ndarray:
    """A 64-bit key per id, from the id's text (the same id always gets the same key)."""
    values = np.asarray(ids, dtype=object)
    uniq, inverse = np.unique(np.array([_text(v) for v in values], dtype=object), return_inverse=True)
    keys = np.array([int.from_bytes(hashlib.sha256(u.encode("utf-8")).digest()[:8], "little") for u in uniq],
                    dtype=np.uint64)
    return keys[inverse]


def keyed_bits(seed: int, ids, draws: int, stream: str) -> np.ndarray:
    """(len(ids), draws) uint64 words, each a function of (seed, stream, id, draw number) only."""
    base = np.uint64(int.from_bytes(hashlib.sha256(f"{int(seed)}:{stream}".encode()).digest()[:8], "little"))
    keys = _mix(unit_keys(ids) ^ base)
    counter = np.arange(1, draws + 1, dtype=np.uint64) * _GOLDEN
    with np.errstate(over="ignore"):
        return _mix(_mix(keys[:, None] + counter[None, :]))


def keyed_signs(seed: int, ids, draws: int, stream: str = "rademacher") -> np.ndarray:
    """Rademacher weights (+1/-1), one row per id, one column per draw."""
    bits = keyed_bits(seed, ids, draws, stream) >> np.uint64(63)
    return np.where(bits == 1, 1.0, -1.0)


def keyed_uniform(seed: int, ids, draws: int = 1, stream: str = "uniform") -> np.ndarray:
    """Uniforms in [0, 1), one row per id, one column per draw (53 random bits each)."""
    bits = keyed_bits(seed, ids, draws, stream) >> np.uint64(11)
    return bits.astype(np.float64) / float(2**53)


def keyed_order(seed: int, ids, stream: str = "order") -> np.ndarray:
    """A random order of the units (positions into ``ids``), ties of the keyed draw broken by id text."""
    u = keyed_uniform(seed, ids, 1, stream)[:, 0]
    text = np.array([_text(v) for v in np.asarray(ids, dtype=object)], dtype=str)
    return np.lexsort((text, u))
