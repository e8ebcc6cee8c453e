"""Small numeric helpers shared by the generators."""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import expit, ndtr

AREAS = (
    # community safety partnership areas of Leicester, Leicestershire and Rutland, with
    # approximate mid-2019 populations (ONS mid-year estimates, rounded)
    ("Leicester", 355_000),
    ("Charnwood", 185_000),
    ("Hinckley and Bosworth", 113_000),
    ("North West Leicestershire", 103_000),
    ("Blaby", 101_000),
    ("Harborough", 94_000),
    ("Oadby and Wigston", 57_000),
    ("Melton", 51_000),
    ("Rutland", 40_000),
)


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent stream per data file: changing one generator leaves the others alone."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def clipped_normal_mean(mu, sd, low, high):
    """E[clip(X, low, high)] for X ~ N(mu, sd^2): the expected value of a bounded score."""
    mu = np.asarray(mu, dtype=float)
    a, b = (low - mu) / sd, (high - mu) / sd
    pdf = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731
    inside = mu * (ndtr(b) - ndtr(a)) + sd * (pdf(a) - pdf(b))
    return low * ndtr(a) + inside + high * (1 - ndtr(b))


def logistic(x):
    return expit(x)


def ids(prefix: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Opaque, unique, non-sequential identifiers (like a case system's)."""
    numbers = rng.choice(np.arange(100_000, 1_000_000), size=n, replace=False)
    return np.array([f"{prefix}{x}" for x in numbers])
