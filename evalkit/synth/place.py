"""A synthetic comparison-area panel with a known effect in the treated area.

About 40 areas by month (January 2016 to December 2023): the treated area, Leicester, whose
Violence Reduction Network began in October 2019, and 39 comparison community safety partnership
areas that never had one. Each area's monthly rate follows an interactive fixed-effects model (an
area level, a national trend with a summer peak, and two latent factors with area loadings, so
areas do not share parallel trends and a weighted comparison is needed), with counts drawn as
negative binomial around population times rate. From the start month the treated area's rates
are multiplied by a known rate ratio, for all ages and (more strongly) for under-25s, and the
events prevented that this implies are recorded as the truth: the expected count without the
programme minus the expected count with it, summed over the post-period.

Names of comparison areas are invented ("Comparison CSP 01" ...): these are not real places.
:func:`area_panel` is the example project's ``data/areas/area_panel.csv`` (read by
``evaluations/strategy-areas.yml``), drawn from its own random stream (``evalkit.synth._util.rng_for``
keyed by the file name), so adding it changed no other generated file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TREATED_AREA = "Leicester"
TREATED_POPULATION = 355_000  # mid-2019, rounded (as evalkit.synth._util.AREAS)
START = "2019-10"
FIRST, LAST = "2016-01", "2023-12"
UNDER_25_SHARE = 0.32  # of residents; younger in the city

# (measure, count column, baseline monthly rate per 100,000 residents, NB alpha, rate per,
#  true rate ratio from the start month for all ages and for under-25s, under-25 rate multiplier)
MEASURES = (
    ("knife_sv_offences", 12.0, 0.01, 100_000, 0.85, 0.78, 1.9),
    ("knife_admissions", 0.6, 0.01, 100_000, 0.85, 0.80, 2.2),
    ("homicides", 0.09, 0.0, 1_000_000, 0.90, None, None),
)


@dataclass(frozen=True)
class PlaceTruth:
    """What was built into the panel, to hold the estimator to."""

    measure: str  # e.g. "knife_sv_offences" or "knife_sv_offences_u25"
    rate_ratio: float  # treated area's rate from the start month, relative to without the programme
    events_prevented: float  # expected events without minus with the programme, whole post-period
    mean_rate_gap: float  # expected mean post-period gap in rate units (per rate_per)
    rate_per: int


def place_measures() -> tuple:
    """The panel's measures, all ages and under-25s, as :class:`~evalkit.estimate.place.panel.Measure`."""
    from evalkit.estimate.place.panel import Measure

    out = []
    for name, _base, _alpha, per, _rr, rr25, _mult in MEASURES:
        out.append(Measure(name=name, count=name, population="population", rate_per=per, age_group="all ages"))
        if rr25 is not None:
            out.append(Measure(name=f"{name}_u25", count=f"{name}_u25", population="population_u25", rate_per=per,
                               age_group="under 25"))
    return tuple(out)


def place_panel(rng: np.random.Generator, n_donors: int = 39) -> tuple[pd.DataFrame, tuple[PlaceTruth, ...]]:
    """The panel (one row per area and month) and the true effects built into it."""
    months = pd.period_range(FIRST, LAST, freq="M")
    T = len(months)
    start = months.get_loc(pd.Period(START, "M"))
    t = np.arange(T)
    season = 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    trend = 0.03 * (t - start) / 12
    # two smooth latent factors (e.g. a regional night-time economy cycle and a drugs-market shock)
    f1 = np.sin(2 * np.pi * t / 60.0)
    f2 = np.clip((t - 20) / 40.0, 0, 1) - 0.5
    areas = [TREATED_AREA] + [f"Comparison CSP {i:02d}" for i in range(1, n_donors + 1)]
    n = len(areas)
    pop = np.concatenate([[TREATED_POPULATION], np.round(rng.uniform(90_000, 650_000, n_donors), -3)])
    u25 = np.concatenate([[UNDER_25_SHARE], rng.uniform(0.26, 0.34, n_donors)])
    level = np.concatenate([[0.0], rng.normal(0.0, 0.25, n_donors)])
    load1 = np.concatenate([[0.04], rng.normal(0.0, 0.12, n_donors)])
    load2 = np.concatenate([[0.03], rng.normal(0.0, 0.10, n_donors)])
    growth = 1 + 0.008 * (t - start) / 12
    population = np.round(pop[:, None] * growth[None, :]).astype(int)
    population_u25 = np.round(population * u25[:, None]).astype(int)
    post = t >= start
    frame = pd.DataFrame({
        "area": np.repeat(areas, T), "month": np.tile(months.strftime("%Y-%m"), n),
        "population": population.ravel(), "population_u25": population_u25.ravel(),
        "treated_from": np.where(np.repeat(np.arange(n), T) == 0, START, ""),
    })
    truths = []
    for name, base, alpha, per, rr, rr25, mult in MEASURES:
        log_rate = (np.log(base / 100_000) + level[:, None] + trend[None, :] + season[None, :]
                    + load1[:, None] * f1[None, :] + load2[:, None] * f2[None, :])
        groups = [("", population, np.exp(log_rate), rr)]
        if rr25 is not None:
            groups.append(("_u25", population_u25, np.exp(log_rate) * mult, rr25))
        for suffix, pops, rate0, ratio in groups:
            mu0 = pops * rate0
            effect = np.ones((n, T))
            effect[0, post] = ratio
            mu = mu0 * effect
            if alpha > 0:  # negative binomial: gamma-Poisson mixture, variance mu + alpha mu^2
                mu = mu * rng.gamma(1 / alpha, alpha, mu.shape)
            frame[name + suffix] = rng.poisson(mu).ravel()
            prevented = float(np.sum(mu0[0, post] * (1 - ratio)))
            gap = float(np.mean(rate0[0, post] * (ratio - 1)) * per)
            truths.append(PlaceTruth(measure=name + suffix, rate_ratio=ratio, events_prevented=prevented,
                                     mean_rate_gap=gap, rate_per=per))
    return frame, tuple(truths)


# the example plan that reads the panel, and the logic model's indicator of each count column
EXAMPLE_EVALUATION = "strategy-areas"
INDICATORS = {"knife_sv_offences": "knife_sv", "knife_admissions": "knife_admissions", "homicides": "homicides"}


def area_panel(rng: np.random.Generator, Entry):
    """``area_panel.csv`` for ``evalkit synth``: the panel, and its dictionary entry (an ``Entry`` of
    :mod:`evalkit.synth.datasets`, passed in so this module does not import that one) with the true effects."""
    frame, truths = place_panel(rng)
    effects = []
    for truth in truths:
        base = truth.measure.removesuffix("_u25")
        under_25 = truth.measure.endswith("_u25")
        effects.append({
            "evaluation": EXAMPLE_EVALUATION, "indicator": INDICATORS[base], "estimand": "events_prevented",
            "subgroup": "under 25" if under_25 else "all", "value": truth.events_prevented,
            "rate_ratio": truth.rate_ratio,
            "description": f"expected {truth.measure} events without the strategy minus with it in {TREATED_AREA}, "
                           f"{START} to {LAST} (built in as a rate ratio of {truth.rate_ratio:g}"
                           + (", under-25s" if under_25 else "") + ")"})
    columns = {
        "area": f"{TREATED_AREA} (treated) and 39 invented comparison community safety partnership areas",
        "month": "calendar month, YYYY-MM", "population": "residents, all ages (grows 0.8% a year)",
        "population_u25": "residents aged under 25",
        "treated_from": f"first month under the Violence Reduction Network ({START}) on {TREATED_AREA}'s rows; empty "
                        "for comparison areas",
    }
    for name, *_rest in MEASURES:
        columns[name] = f"{name.replace('_', ' ')} in the month, all ages"
        if _rest[4] is not None:
            columns[f"{name}_u25"] = f"{name.replace('_', ' ')} in the month, victims aged under 25"
    entry = Entry(
        description="Comparison-area panel: 40 areas by month, 2016-01 to 2023-12, with a known effect in the "
                    "treated area from 2019-10 (for the synthetic control of strategy-areas).",
        columns=columns, true_effects=effects,
        notes=["Rates follow an interactive fixed-effects model (area level, national trend and summer peak, two "
               "latent factors with area loadings); counts are negative binomial (Poisson for homicides). The "
               "comparison areas are invented: not real places."])
    return frame, entry
