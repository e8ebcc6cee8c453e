"""Comparison-area difference-in-differences on rates: treated areas against donor areas.

The rate (per 100,000, or per 1,000,000 for homicides) of area i in month t is modelled with area
and month fixed effects and a treatment indicator that switches on at each treated area's start
month; its coefficient is the change in the treated areas' rate relative to the donors'. Three
kinds of inference, because area panels have few clusters and often a single treated one:

- cluster-robust by area, CR1 with the small-sample factor G/(G-1) (N-1)/(N-K) (fixed effects
  nested in the clusters are not counted, as Stata ``xtreg, fe vce(cluster)`` and fixest), and
  t(G-1) for both p-value and interval;
- a wild cluster bootstrap through the :class:`WildClusterBootstrap` hook (issue 15 writes the
  restricted bootstrap with Webb weights and test-inversion intervals; until it lands the default
  calls the restricted Rademacher bootstrap p-value already in :mod:`evalkit.estimate.did`);
- a permutation over donors (Conley & Taber 2011, Rev Econ Stat 93:113; as the synthetic
  control's placebo in space): each donor in turn takes the treated area's start month, the
  treated area left out; the p-value is the rank of |estimate| among them, and the interval
  inverts that test for a shift. With one treated area this is the one to read: cluster-robust
  and wild bootstrap inference both fail with a single treated cluster (MacKinnon & Webb 2017,
  J Appl Econometrics 32:233).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np
import pandas as pd

from evalkit.errors import check_choice
from evalkit.estimate.place.panel import ComparisonPanel
from evalkit.estimate.place.synthetic_control import permutation_interval
# the bootstrap's result type lives with the bootstrap (so the bootstrap never imports this module)
from evalkit.estimate.wild_bootstrap import BootstrapResult  # noqa: F401 (re-exported)

FEW_CLUSTERS = 30  # below this many clusters analytic cluster-robust p-values over-reject (Cameron & Miller 2015)
BOOTSTRAP_DRAWS = 999


class Weighting(str, Enum):
    none = "none"  # each area counts equally (the fixest/Stata default)
    population = "population"  # each resident counts equally: areas weighted by population


class WildClusterBootstrap(Protocol):
    """What the difference-in-differences needs from issue 15's few-cluster bootstrap.

    ``y`` and ``X`` are the outcome and regressors after the area and month fixed effects are swept
    out (Frisch-Waugh-Lovell), ``clusters`` the area code of each row, ``coefficient`` the column
    of X tested (H0: its coefficient is 0), ``weights`` the analysis weights or None. The bootstrap
    must be seeded by ``seed`` alone, so the same call gives the same answer in any process.
    """

    def __call__(self, y: np.ndarray, X: np.ndarray, clusters: np.ndarray, *, coefficient: int, seed: int,
                 level: float, weights: np.ndarray | None) -> BootstrapResult: ...


def restricted_rademacher(y: np.ndarray, X: np.ndarray, clusters: np.ndarray, *, coefficient: int, seed: int,
                          level: float, weights: np.ndarray | None) -> BootstrapResult:
    """The default hook: the restricted wild cluster bootstrap p-value of :mod:`evalkit.estimate.did`.

    It gives a p-value only (no interval) and no analysis weights; issue 15 replaces it.
    """
    from evalkit.estimate.did import wild_bootstrap_wald

    if weights is not None:
        return BootstrapResult(p_value=float("nan"), ci_low=None, ci_high=None, draws=0,
                               method="not run: the bootstrap of issue 15 is needed for weighted models")
    cols = [f"x{i}" for i in range(X.shape[1])]
    data = pd.DataFrame(X, columns=cols)
    data["y"] = y
    # y and X are already demeaned; demeaning again by constant unit/period ids changes nothing
    data["unit"] = 0
    data["t"] = 0
    data["cluster"] = clusters
    out = wild_bootstrap_wald(data, cols, [cols[coefficient]], seed, draws=BOOTSTRAP_DRAWS)
    return BootstrapResult(p_value=out["p_value"], ci_low=None, ci_high=None, draws=out["draws"],
                           method=f"wild cluster restricted bootstrap, Rademacher weights, {out['draws']} draws "
                                  "(evalkit.estimate.did; p-value only)")


@dataclass(frozen=True)
class AreaDidResult:
    measure: str
    age_group: str
    treated_areas: tuple[str, ...]
    n_donors: int
    rate_per: int
    weighting: str
    estimate: float  # change in the treated areas' rate (per rate_per a month) relative to the donors'
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    ci_level: float
    convention: str
    n_clusters: int
    n_obs: int
    permutation_p_value: float | None
    permutation_interval: tuple[float, float, float] | None  # low, high, level reached
    bootstrap: BootstrapResult | None
    events_prevented: float  # -estimate x post-period person-months / rate_per, summed over treated areas
    events_prevented_interval: tuple[float, float, float] | None  # from the permutation interval where run
    warnings: tuple[str, ...]
    placebo_estimates: tuple[tuple[str, float], ...]


def _demean(values: np.ndarray, area: np.ndarray, month: np.ndarray, w: np.ndarray,
            tol: float = 1e-12, max_iter: int = 10_000) -> np.ndarray:
    """Weighted two-way within transformation by alternating projections (exact in one pass unweighted)."""
    out = values.astype(float).copy()
    for _ in range(max_iter):
        before = out.copy()
        for codes in (area, month):
            sw = np.bincount(codes, w)
            for c in range(out.shape[1]):
                out[:, c] -= (np.bincount(codes, w * out[:, c]) / sw)[codes]
        if np.max(np.abs(out - before)) <= tol * max(1.0, float(np.max(np.abs(values)))):
            break
    return out


def _twfe(y: np.ndarray, d: np.ndarray, area: np.ndarray, month: np.ndarray, w: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Estimate, CR1 standard error, and the demeaned (y, d) the bootstrap needs."""
    Z = _demean(np.column_stack([y, d]), area, month, w)
    yd, dd = Z[:, 0], Z[:, 1]
    sxx = float(np.sum(w * dd * dd))
    beta = float(np.sum(w * dd * yd) / sxx)
    u = yd - beta * dd
    scores = np.bincount(area, w * dd * u)
    G, N, K = len(scores), len(y), 1
    factor = G / (G - 1) * (N - 1) / (N - K)
    se = float(np.sqrt(factor * np.sum(scores ** 2)) / sxx)
    return beta, se, yd, dd


def area_did(panel: ComparisonPanel, measure: str, *, weighting: Weighting | str = Weighting.none,
             level: float = 0.95, seed: int = 0, bootstrap: WildClusterBootstrap | None = restricted_rademacher,
             permutation: bool = True) -> AreaDidResult:
    """Two-way fixed effects on rates, treated areas against the donors, with three kinds of inference."""
    from scipy import stats

    check_choice("weighting", weighting if isinstance(weighting, str) else weighting.value,
                 [x.value for x in Weighting])
    weighting = Weighting(weighting)
    m = panel.measure(measure)
    rate = panel.rate(measure)
    pops = panel.populations[m.population]
    treated = {panel.index(t.area): t.start_index for t in panel.treated}
    donors = list(panel.donor_index())
    T = rate.shape[1]

    def fit(units: list[int], starts: dict[int, int]):
        area = np.repeat(np.arange(len(units)), T)
        month = np.tile(np.arange(T), len(units))
        y = rate[units].ravel()
        d = np.concatenate([(np.arange(T) >= starts[u]).astype(float) if u in starts else np.zeros(T)
                            for u in units])
        w = pops[units].ravel() if weighting == Weighting.population else np.ones(len(y))
        return (*_twfe(y, d, area, month, w), area, w)

    units = sorted(treated) + donors
    beta, se, yd, dd, area, w = fit(units, treated)
    G = len(units)
    df = G - 1
    q = float(stats.t.ppf(0.5 + level / 2, df))
    p = float(2 * stats.t.sf(abs(beta / se), df)) if se > 0 else float("nan")
    warnings = []
    if len(treated) == 1:
        warnings.append("one treated area: cluster-robust and wild bootstrap inference are unreliable with a single "
                        "treated cluster (MacKinnon & Webb 2017); read the permutation p-value and interval")
    elif G < FEW_CLUSTERS:
        warnings.append(f"{G} clusters (fewer than {FEW_CLUSTERS}): the analytic p-value may over-reject; read the "
                        "wild cluster bootstrap")

    boot = None
    if bootstrap is not None:
        boot = bootstrap(yd, dd[:, None], area, coefficient=0, seed=seed, level=level,
                         weights=None if weighting == Weighting.none else w)

    # person-months at risk in the treated areas after their starts
    exposure = sum(float(pops[u, s:].sum()) for u, s in treated.items()) / m.rate_per
    perm_p = perm_iv = prevented_iv = None
    placebo: list[tuple[str, float]] = []
    if permutation and len(treated) == 1:
        ((_, ts),) = treated.items()
        draws = []
        for dj in donors:
            bj = fit(donors, {dj: ts})[0]
            draws.append(bj)
            placebo.append((panel.areas[dj], float(bj)))
        iv = permutation_interval(beta, np.array(draws), level, "permutation over donors")
        J = len(draws)
        perm_p = float((1 + np.sum(np.abs(np.array(draws)) >= abs(beta))) / (J + 1))
        perm_iv = (iv.low, iv.high, iv.level)
        prevented_iv = (float(-iv.high * exposure), float(-iv.low * exposure), iv.level)

    convention = ("two-way fixed effects (area, month) on rates; CR1 cluster-robust by area, "
                  "G/(G-1)(N-1)/(N-K) with nested fixed effects not counted, t(G-1) (Stata xtreg/fixest)"
                  + ("; areas weighted by population" if weighting == Weighting.population else ""))
    return AreaDidResult(
        measure=m.name, age_group=m.age_group, treated_areas=tuple(panel.areas[u] for u in sorted(treated)),
        n_donors=len(donors), rate_per=m.rate_per, weighting=weighting.value, estimate=beta, std_error=se,
        ci_low=beta - q * se, ci_high=beta + q * se, p_value=p, ci_level=level, convention=convention,
        n_clusters=G, n_obs=len(yd), permutation_p_value=perm_p, permutation_interval=perm_iv, bootstrap=boot,
        events_prevented=float(-beta * exposure), events_prevented_interval=prevented_iv,
        warnings=tuple(warnings), placebo_estimates=tuple(placebo))
