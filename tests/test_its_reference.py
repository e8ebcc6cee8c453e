"""Step-only interrupted time series against R's glm (issue 15 point 9).

Reference: tests/reference/its/step_only.json, made by tests/reference/its/step_only.R from the
simulated two-area series in step_only.csv."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from evalkit.estimate import its
from evalkit.spec.raw import CountModel, ImpactModel, Seasonality, TimeSeries

REF = Path(__file__).parent / "reference" / "its"


@pytest.fixture(scope="module")
def strategy(example_project_ro):
    from evalkit.project import load_project

    return load_project(example_project_ro).evaluation("strategy-its")


def _plan(strategy, model: CountModel, impact=ImpactModel.level):
    ind = strategy.primary_outcome
    spec = dataclasses.replace(strategy.data, id="area", period="month", population="population")
    ts = TimeSeries(interruption=dt.date(2019, 10, 1), model=model, seasonality=Seasonality.month, impact=impact)
    return dataclasses.replace(strategy, data=spec, outcomes={ind.id: (ind, "count")}, time_series=ts)


@pytest.mark.parametrize("model", [CountModel.poisson, CountModel.quasi_poisson])
def test_step_only_level_change_matches_r_glm(strategy, model):
    ref = json.loads((REF / "step_only.json").read_text())[model.value]
    frame = pd.read_csv(REF / "step_only.csv")
    out = its.analyse(_plan(strategy, model), frame, 1)
    assert [e.estimand for e in out.estimates] == ["level_change"]
    level = out.estimates[0]
    assert math.log(level.estimate) == pytest.approx(ref["log_level"], rel=1e-7)
    assert level.std_error == pytest.approx(ref["se"], rel=1e-6)
    assert math.log(level.ci_low) == pytest.approx(ref["ci"][0], rel=1e-6)
    assert math.log(level.ci_high) == pytest.approx(ref["ci"][1], rel=1e-6)
    assert level.details["impact"] == "level" and "level change only" in level.method
    if model is CountModel.quasi_poisson:
        assert level.details["reference_distribution"] == f"t(N-K) = t({ref['df']})"
    else:
        assert level.details["reference_distribution"] == "normal"


def test_level_and_slope_stays_the_default(strategy):
    frame = pd.read_csv(REF / "step_only.csv")
    plan = _plan(strategy, CountModel.poisson, ImpactModel.level_and_slope)
    assert [e.estimand for e in its.analyse(plan, frame, 1).estimates] == ["level_change", "slope_change"]
    assert TimeSeries(interruption=dt.date(2019, 10, 1)).impact is ImpactModel.level_and_slope
