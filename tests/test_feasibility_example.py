"""The example project's feasibility plan: synth writes both record files, the run gives a verdict."""

from __future__ import annotations

import pytest

from evalkit.project import load_project
from evalkit.run import run

from conftest import run_cli


@pytest.fixture(scope="module")
def example_result(example_project_ro):
    evaluation = load_project(example_project_ro).evaluation("reach-2024-feasibility")
    return evaluation, run(evaluation)


def test_synth_writes_cases_and_sessions_that_agree(example_project_ro):
    import pandas as pd

    data = example_project_ro / "evaluations" / "data"
    cases = pd.read_csv(data / "reach_feasibility_cases.csv")
    sessions = pd.read_csv(data / "reach_feasibility_sessions.csv")
    assert set(sessions["case_id"]) <= set(cases.loc[cases["started"] == 1, "case_id"])
    merged = sessions.merge(cases[["case_id", "referral_date"]], on="case_id")
    assert (pd.to_datetime(merged["session_date"]) >= pd.to_datetime(merged["referral_date"])).all()


def test_example_verdict_and_planning(example_result):
    _evaluation, result = example_result
    section = result.sections["feasibility"]
    assert result.design == "feasibility"
    assert len(section["criteria"]) == 8
    assert section["overall"] in {"green", "amber", "red"}
    assert section["pathway"]["next_stage"] == "pilot_for_outcomes"
    assert section["pathway"]["verdict"].endswith(("piloting", "piloting, with changes"))
    planning = section["planning"]
    assert planning["outcome"] == "sdq_total" and planning["icc"] == 0.05
    assert [d["design"] for d in planning["designs"]] == ["two_arm_trial", "matched_comparison"]
    for row in planning["designs"]:
        assert row["n_treated_recruited"] >= row["n_treated_analysed"] > 0
        assert 0 < row["mdes_for_available"] < 2
    assert planning["designs_with_sd_upper_80"][0]["n_treated_recruited"] >= planning["designs"][0]["n_treated_recruited"]


def test_example_is_reproducible(example_result):
    evaluation, result = example_result
    assert run(evaluation).to_json() == result.to_json()


def test_cli_runs_the_feasibility_plan(example_project_ro, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("--project", str(example_project_ro), "run", "reach-2024-feasibility", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "results.json").exists()
    assert "consent_rate" in proc.stdout
