"""ITS on simulated series with a known level and slope change: CI coverage over 500 series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.estimate import its
from evalkit.spec.raw import CountModel, Seasonality

def _series(rng, months, interruption_at, level, slope_per_year, alpha, base=5.5e-5, pop=1_000_000):
    t = np.arange(len(months))
    post = (t >= interruption_at).astype(float)
    since = np.where(post == 1, t - interruption_at, 0)
    season = 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    mu = pop * base * np.exp(0.04 / 12 * t + season + np.log(level) * post + np.log(slope_per_year) * since / 12)
    mu = mu * rng.gamma(1 / alpha, alpha, len(t))  # gamma-Poisson: NB2 with this alpha
    return rng.poisson(mu)


@pytest.mark.slow
def test_negative_binomial_its_coverage_500_replications():
    rng = np.random.default_rng(20240301)
    months = pd.period_range("2016-01", "2023-12", freq="M")
    k = months.get_loc(pd.Period("2019-10", "M"))
    level, slope = 0.88, 0.95
    rows = pd.DataFrame({"area": "county", "month": months, "population": 1_000_000})
    interruption = pd.Period("2019-10", "M")
    X = its.design_matrix(rows, interruption, Seasonality.month)
    offset = np.log(rows["population"].to_numpy(dtype=float))
    hits = {"level_change": 0, "slope_change": 0}
    estimates = {"level_change": [], "slope_change": []}
    reps = 500
    for _ in range(reps):
        y = _series(rng, months, k, level, slope, alpha=0.04).astype(float)
        params, cov, info = its.fit_counts(y, X, offset, CountModel.negative_binomial)
        crit = its.critical_value(info)
        for name, scale, truth in (("level_change", 1, level), ("slope_change", 12, slope)):
            b, se = params[name] * scale, np.sqrt(cov.loc[name, name]) * scale
            hits[name] += (b - crit * se) < np.log(truth) < (b + crit * se)
            estimates[name].append(b)
    coverage = {name: h / reps for name, h in hits.items()}
    for name, cov_ in coverage.items():
        assert 0.92 <= cov_ <= 0.98, (name, cov_)
    # and no material bias on the log scale
    assert np.mean(estimates["level_change"]) == pytest.approx(np.log(level), abs=0.02)
    assert np.mean(estimates["slope_change"]) == pytest.approx(np.log(slope), abs=0.02)
    print(coverage)


@pytest.mark.slow
def test_events_avoided_interval_coverage_200_replications():
    # the events avoided (counterfactual minus fitted, summed after the interruption) against the truth of the
    # simulation (the expected events without and with the change): the Monte Carlo interval over the
    # coefficients should cover it about 95% of the time
    rng = np.random.default_rng(20240302)
    months = pd.period_range("2016-01", "2023-12", freq="M")
    k = months.get_loc(pd.Period("2019-10", "M"))
    level, slope, pop, base = 0.88, 0.95, 1_000_000, 5.5e-5
    rows = pd.DataFrame({"area": "county", "month": months, "population": pop})
    interruption = pd.Period("2019-10", "M")
    t = np.arange(len(months))
    post = t >= k
    season = 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    cf_true = pop * base * np.exp(0.04 / 12 * t + season)
    mu_true = cf_true * np.exp(np.log(level) * post + np.log(slope) * np.where(post, t - k, 0) / 12)
    truth = float((cf_true - mu_true)[post].sum())
    hits, reps = 0, 200
    for r in range(reps):
        y = _series(rng, months, k, level, slope, alpha=0.04)
        fit = its.fit_its(rows.assign(count=y), interruption, CountModel.negative_binomial, Seasonality.month)
        ev = its.events_avoided(rows.assign(count=y), fit, interruption, seed=r, draws=2000)
        hits += ev["low"] < truth < ev["high"]
    assert 0.90 <= hits / reps <= 0.99, hits / reps
