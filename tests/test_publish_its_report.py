"""Issue 12: an evaluation report's own fitted trend (the strategy ITS plan, evaluations/strategy-its.yml)
goes through the same test as the dashboard's (``publish.audit.fixed_by_moments``).

A log-linear count model solves X'y = X'mu: the fitted rates drawn in "Observed and expected without
the programme", with the design a reader rebuilds from the method, give X'y; beside the months shown,
one suppressed month in 48 is then simply known. The series here is built to leak that way.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_report_data import context, manifest, publish_report

from evalkit.results import ResultSet
from evalkit.spec.raw import CountModel, Seasonality

REPO = Path(__file__).resolve().parents[1]
POP = 1_000_000.0


@pytest.fixture(scope="module")
def plan():
    from evalkit.project import load_project

    p = load_project(REPO, check_data=False).evaluation("strategy-its")
    return dataclasses.replace(p, outcomes={"knife_sv": p.outcomes["knife_sv"]})


def _series(months):
    periods = pd.period_range("2016-04", periods=len(months), freq="M")
    return pd.DataFrame({"area": "Leicester", "month": [str(p) for p in periods], "knife_offences": months,
                         "population": POP})


def _report(tmp_path, plan, months, model):
    from evalkit.estimate import its

    plan = dataclasses.replace(plan, time_series=plan.time_series.model_copy(update={
        "model": model, "seasonality": Seasonality.month, "interruption": pd.Timestamp("2019-10-01").date()}))
    out = its.analyse(plan, _series(months), 1)
    result = ResultSet(evaluation="strategy-its", intervention="strategy", title="Strategy ITS",
                       design="interrupted_time_series", estimates=out.estimates, flow=out.flow, warnings=out.warnings,
                       sections=out.sections, manifest=manifest(design="interrupted_time_series"))
    ctx = context()
    ctx["indicators"]["knife_sv"] = {"label": "Knife offences", "measures": "conf", "direction": "decrease"}
    html = publish_report(tmp_path, result, ctx)["html"]
    return out, html


def _traces(html):
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]*",\s*(\[.*?\]),\s*\{', html, re.S):
        for trace in json.loads(m.group(1)):
            yield trace


@pytest.mark.parametrize("model", [CountModel.quasi_poisson, CountModel.negative_binomial])
def test_a_reports_fitted_trend_does_not_give_a_suppressed_month_away(tmp_path, plan, model):
    from evalkit.estimate.its import design_matrix
    from evalkit.publish.scan import scan_html

    rng = random.Random(11)
    months = [rng.randint(20, 40) for _ in range(48)]
    months[30] = 3
    out, html = _report(tmp_path / "leak", plan, months, model)
    # the route is real: the fitted values the results hold, with the 47 shown months, give the 48th back
    rows = [r for r in out.sections["counterfactual"]["knife_sv"]["rows"] if r["area"] == "all"]
    mu = np.array([r["fitted"] for r in rows])
    frame = pd.DataFrame({"area": "all", "month": pd.PeriodIndex([r["period"] for r in rows], freq="M")})
    X = design_matrix(frame, pd.Period("2019-10", "M"), Seasonality.month).to_numpy(float)
    if model is CountModel.negative_binomial:  # its score is weighted by 1 / (1 + alpha mu)
        X = X / (1 + out.estimates[0].details["nb_alpha"] * mu)[:, None]
    known = np.ones(48, bool)
    known[30] = False
    y = np.array(months, float)
    recovered = (X.T @ mu - X[known].T @ y[known]) @ X[~known, :].T[:, 0] / (X[~known, :] ** 2).sum()
    assert round(float(recovered), 3) == 3
    # the report withholds the fitted trend and the counterfactual, and says so
    traces = {t.get("name"): t for t in _traces(html)}
    assert all(v is None for v in traces["fitted"]["y"]) and all(v is None for v in traces["without the programme"]["y"])
    assert traces["observed"]["y"][30] is None
    assert "The fitted trend and the counterfactual are not drawn" in " ".join(html.split())
    assert scan_html(html) == []
    # every month shown: drawn
    months[30] = 30
    _out, html = _report(tmp_path / "all", plan, months, model)
    traces = {t.get("name"): t for t in _traces(html)}
    assert all(isinstance(v, float) for v in traces["fitted"]["y"]) and "are not drawn" not in " ".join(html.split())
