"""Cluster-randomised trial against R (glm + sandwich::vcovCL, lm + vcovCL HC1): issue 15 point 3.

Reference: tests/reference/rct/cluster_trial.json, made by tests/reference/rct/cluster_trial.R
from the simulated trial in cluster_trial.csv (16 schools)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from evalkit.project import load_project
from evalkit.run import run

REF = Path(__file__).parent / "reference" / "rct"

LOGIC_MODEL = textwrap.dedent("""\
    id: demo
    name: Demo programme
    summary: A school programme.
    prevention: primary
    population: {description: Pupils aged 11-16, age: [11, 16]}
    problem: Violence in and around school.
    theory_of_change:
      activities: [{id: sessions, label: Sessions}]
      outcomes: [{id: safety, label: Safety, horizon: short}]
      links: [[sessions, safety]]
    indicators:
      - {id: fight, label: Any fight, measures: safety, type: binary, direction: decrease, source: education}
      - {id: incidents, label: Incidents, measures: safety, type: count, direction: decrease, source: education}
    """)

PLAN = textwrap.dedent("""\
    id: demo-crt
    intervention: demo
    title: A cluster-randomised trial
    stage: test_for_efficacy
    design: rct
    evaluator: {name: University, independent: true}
    data: {path: data/trial.csv, id: pupil, treatment: arm}
    timepoints:
      fight: {follow_up_12m: fight}
      incidents: {follow_up_12m: incidents}
    cluster: school
    primary_outcome: fight
    follow_up_months: 12
    """)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("crt")
    (root / "logic_models").mkdir()
    (root / "evaluations" / "data").mkdir(parents=True)
    (root / "logic_models" / "demo.yml").write_text(LOGIC_MODEL)
    (root / "evaluations" / "crt.yml").write_text(PLAN)
    pd.read_csv(REF / "cluster_trial.csv").to_csv(root / "evaluations" / "data" / "trial.csv", index=False)
    return run(load_project(root).evaluation("demo-crt"))


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "cluster_trial.json").read_text())


def test_cluster_trial_risk_ratio_ci_is_cluster_robust(result, ref):
    est = next(e for e in result.estimates if e.indicator == "fight" and e.estimand == "itt")
    rr = est.effect_size
    assert rr.kind == "risk_ratio"
    assert rr.value == pytest.approx(ref["risk_ratio"], rel=1e-9)
    assert rr.ci_low == pytest.approx(ref["rr_ci"][0], rel=1e-7)
    assert rr.ci_high == pytest.approx(ref["rr_ci"][1], rel=1e-7)
    assert est.details["effect_size_convention"]["convention_id"] == "cr1_glm_z"


def test_cluster_trial_risk_difference_and_rate_ratio_match_r(result, ref):
    rd = next(e for e in result.estimates if e.indicator == "fight" and e.estimand == "itt")
    assert rd.estimate == pytest.approx(ref["risk_difference"], rel=1e-9)
    assert rd.std_error == pytest.approx(ref["rd_se"], rel=1e-8)
    assert (rd.ci_low, rd.ci_high) == pytest.approx(tuple(ref["rd_ci"]), rel=1e-8)
    assert rd.details["reference_distribution"] == "t(G-1) = t(15)"
    irr = next(e for e in result.estimates if e.indicator == "incidents" and e.estimand == "rate_ratio")
    assert irr.estimate == pytest.approx(ref["rate_ratio"], rel=1e-9)
    assert irr.std_error == pytest.approx(ref["log_irr_se"], rel=1e-7)
    assert (irr.ci_low, irr.ci_high) == pytest.approx(tuple(ref["irr_ci"]), rel=1e-7)
    assert math.isclose(math.log(irr.estimate), math.log(ref["rate_ratio"]), rel_tol=1e-9)


def test_cluster_trial_reports_wild_bootstrap_beside_analytic(result):
    """Issue 15 point 7: 16 clusters (< 30): a seeded WCR bootstrap (Rademacher: 16 >= 12 clusters)."""
    rd = next(e for e in result.estimates if e.indicator == "fight" and e.estimand == "itt")
    boot = rd.details["wild_bootstrap"]
    assert boot["clusters"] == 16 and boot["weights"] == "rademacher" and boot["draws"] == 9999
    assert boot["ci_low"] < rd.estimate < boot["ci_high"]
    assert 0 < boot["p_value"] <= 1 and "wild cluster bootstrap" in rd.method
    assert any(w.code == "few_clusters" and "wild cluster bootstrap" in w.message for w in result.warnings)
