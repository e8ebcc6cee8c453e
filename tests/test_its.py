"""Interrupted time series: the example plan's known effects, rates, counterfactual, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError
from evalkit.estimate import its
from evalkit.spec.raw import CountModel, Seasonality


@pytest.fixture(scope="module")
def strategy(example_project_ro):
    from evalkit.project import load_project

    return load_project(example_project_ro, check_data=False).evaluation("strategy-its")


@pytest.fixture(scope="module")
def synthetic():
    # a series with a known level and slope change (negative binomial counts), in the plan's columns;
    # the example project's own data come from the monitoring store (tests/test_monitor_dashboard.py)
    from evalkit.synth._util import rng_for
    from evalkit.synth.datasets import success_measures
    from evalkit.synth.writer import DEFAULT_SEED

    return success_measures(rng_for(DEFAULT_SEED, "success_measures.csv"))


@pytest.fixture(scope="module")
def measures(synthetic):
    return synthetic[0]


@pytest.fixture(scope="module")
def result(strategy, measures):
    return its.analyse(strategy, measures, strategy.seed)


def test_example_plan_recovers_true_rate_ratios(synthetic, result):
    true = {(e["indicator"], e["estimand"]): e["value"] for e in synthetic[1].true_effects}
    got = {(e.indicator, e.estimand): e for e in result.estimates}
    assert set(got) == set(true)
    for key, value in true.items():
        e = got[key]
        assert e.ci_low < value < e.ci_high, (key, e.estimate, e.ci_low, e.ci_high, value)
        assert e.effect_size.kind == "rate_ratio"
    primary = [e for e in result.estimates if e.primary]
    assert {e.indicator for e in primary} == {"knife_sv"}
    sv = got[("knife_sv", "level_change")]
    assert sv.units == "rate ratio" and sv.direction_good is True
    assert got[("knife_sv", "slope_change")].units == "rate ratio per 12 months"
    assert sv.details["areas"] == 9 and sv.details["months_before"] == 45


def test_rates_per_population_and_counterfactual(strategy, result):
    cf = result.sections["counterfactual"]
    assert cf["homicides"]["rate_per"] == 1_000_000 and cf["knife_sv"]["rate_per"] == 100_000
    rows = pd.DataFrame(cf["knife_sv"]["rows"])
    total = rows[rows.area == "all"]
    assert len(total) == 96 and rows.area.nunique() == 10
    before = total[total.period < "2019-10"]
    # before the interruption the counterfactual is the fitted series
    assert np.allclose(before.fitted, before.counterfactual)
    first = total.iloc[0]
    assert first.observed_rate == pytest.approx(first.observed / first.population * 100_000)
    # the model's fitted counts add up to the observed counts (Poisson/NB score equations with intercepts)
    assert total.fitted.sum() == pytest.approx(total.observed.sum(), rel=0.02)


def test_poisson_on_overdispersed_counts_warns(strategy, measures):
    plan = dataclasses.replace(strategy, time_series=strategy.time_series.model_copy(
        update={"model": CountModel.poisson}))
    sub = measures[measures.area == "Leicester"]
    out = its.analyse(plan, sub, 1)
    assert any(w.code == "overdispersion" and w.indicator == "knife_sv" for w in out.warnings)


@pytest.mark.parametrize("model", list(CountModel))
@pytest.mark.parametrize("seasonality", list(Seasonality))
def test_every_model_and_seasonality_runs(strategy, measures, model, seasonality):
    plan = dataclasses.replace(strategy, time_series=strategy.time_series.model_copy(
        update={"model": model, "seasonality": seasonality}),
        outcomes={"knife_sv": strategy.outcomes["knife_sv"]})
    out = its.analyse(plan, measures[measures.area.isin(["Leicester", "Charnwood"])], 1)
    level = next(e for e in out.estimates if e.estimand == "level_change")
    assert 0.7 < level.estimate < 1.1


def test_control_series_enters_the_model(strategy, measures):
    rng = np.random.default_rng(1)
    data = measures.assign(control=rng.poisson(50, len(measures)))
    plan = dataclasses.replace(strategy, time_series=strategy.time_series.model_copy(update={"control": "control"}),
                               outcomes={"knife_sv": strategy.outcomes["knife_sv"]})
    out = its.analyse(plan, data, 1)
    assert "control series 'control'" in out.estimates[0].method


# ----------------------------------------------------------------------------- bad input


def _one(strategy):
    return dataclasses.replace(strategy, outcomes={"knife_sv": strategy.outcomes["knife_sv"]})


def test_interruption_outside_series(strategy, measures):
    for date in ("2030-01-01", "2016-01-01", "2001-05-01"):
        plan = dataclasses.replace(_one(strategy), time_series=strategy.time_series.model_copy(
            update={"interruption": pd.Timestamp(date).date()}))
        with pytest.raises(DataError, match=r"interruption .* is outside the series .*2016-01 to 2023-12"):
            its.analyse(plan, measures, 1)


def test_negative_counts(strategy, measures):
    bad = measures.copy()
    bad.loc[5, "knife_offences"] = -3
    with pytest.raises(DataError, match=r"'knife_offences' .* negative counts: found -3"):
        its.analyse(_one(strategy), bad, 1)


def test_missing_population(strategy, measures):
    bad = measures.copy()
    bad.loc[[3, 4], "population"] = np.nan
    with pytest.raises(DataError, match=r"population column 'population' is missing in 2 row\(s\) \(lines 5, 6"):
        its.analyse(_one(strategy), bad, 1)
    with pytest.raises(DataError, match="values <= 0"):
        its.analyse(_one(strategy), measures.assign(population=0), 1)


def test_too_few_points_after(strategy, measures):
    plan = dataclasses.replace(_one(strategy), time_series=strategy.time_series.model_copy(
        update={"interruption": pd.Timestamp("2023-11-01").date()}))
    with pytest.raises(DataError, match=r"month\(s\) before and 2 from the interruption"):
        its.analyse(plan, measures, 1)


def test_bad_months(strategy, measures):
    with pytest.raises(DataError, match="not dates"):
        its.analyse(_one(strategy), measures.assign(month="soon"), 1)


def test_text_in_a_count_column_is_named_not_dropped(strategy, measures):
    bad = measures.astype({"knife_offences": object}).copy()
    bad.loc[7, "knife_offences"] = "n/a"
    with pytest.raises(DataError, match=r"indicator 'knife_sv' column 'knife_offences' holds values that are "
                                        r"not numbers at line 9 of the data \(counting the header as 1\): 'n/a'"):
        its.analyse(_one(strategy), bad, 1)


def test_events_avoided_are_the_counterfactual_minus_fitted_after_the_interruption(result):
    # by hand from the section's own rows (written by a different code path): every area, every month from
    # the interruption on
    for ind, entry in result.sections["counterfactual"].items():
        ev = entry["events_avoided"]
        rows = [r for r in entry["rows"] if r["area"] != "all" and r["period"] >= entry["interruption"]]
        assert ev["counterfactual"] == pytest.approx(sum(r["counterfactual"] for r in rows), rel=1e-9)
        assert ev["fitted"] == pytest.approx(sum(r["fitted"] for r in rows), rel=1e-9)
        assert ev["estimate"] == pytest.approx(ev["counterfactual"] - ev["fitted"], rel=1e-9)
        assert ev["low"] < ev["estimate"] < ev["high"] and ev["method"] == "monte_carlo"
        assert ev["first_month"] == entry["interruption"] and ev["months"] == len({r["period"] for r in rows})


def test_events_avoided_interval_agrees_with_the_delta_method(result):
    # two methods on the same covariance: the draws' spread and the exact gradient's standard error agree
    # where the sum is close to linear in the coefficients (the knife offences: large counts, a modest change)
    ev = result.sections["counterfactual"]["knife_sv"]["events_avoided"]
    assert ev["std_error_draws"] == pytest.approx(ev["std_error_delta"], rel=0.1)
    half = 1.96 * ev["std_error_delta"]
    assert ev["low"] == pytest.approx(ev["estimate"] - half, abs=0.25 * half)
    assert ev["high"] == pytest.approx(ev["estimate"] + half, abs=0.25 * half)


def test_events_avoided_are_seeded(strategy, measures):
    sub = measures[measures.area.isin(["Leicester", "Charnwood"])]
    a = its.analyse(strategy, sub, 7).sections["counterfactual"]["knife_sv"]["events_avoided"]
    b = its.analyse(strategy, sub, 7).sections["counterfactual"]["knife_sv"]["events_avoided"]
    c = its.analyse(strategy, sub, 8).sections["counterfactual"]["knife_sv"]["events_avoided"]
    assert a == b
    assert c["estimate"] == a["estimate"] and (c["low"], c["high"]) != (a["low"], a["high"])
