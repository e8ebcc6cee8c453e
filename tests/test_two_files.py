"""Matched designs from two files: participants in data.path, the comparison pool in data.comparison."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_logic_models, run_cli

import evalkit
from evalkit.data.load import read_data_files
from evalkit.errors import DataError
from evalkit.project import validate_project

PLAN = textwrap.dedent("""\
    id: reach-two-files
    intervention: reach
    title: Reach against matched pupils, from two files
    stage: test_for_efficacy
    design: matched_comparison
    evaluator: {name: University evaluation partner, independent: true}
    data:
      path: data/participants.csv
      comparison: data/pool.csv
      id: pupil_id
    timepoints:
      suspended: {baseline: susp_pre, follow_up_12m: susp_12m}
    covariates: [age, female, sen, fsm, imd_decile, attend_pre, susp_pre]
    matching: {method: nearest, ratio: 1, caliper: 0.2, exact: [female]}
    primary_outcome: suspended
    follow_up_months: 12
    """)


@pytest.fixture
def two_files(example_project_ro, tmp_path) -> Path:
    """The example project with Reach's combined file split in two, and a plan reading both."""
    root = tmp_path / "p"
    copy_logic_models(example_project_ro / "logic_models", root / "logic_models")
    (root / "evaluations" / "data").mkdir(parents=True)
    combined = pd.read_csv(example_project_ro / "evaluations" / "data" / "reach_with_comparison.csv")
    combined.to_csv(root / "evaluations" / "data" / "combined.csv", index=False)
    data = root / "evaluations" / "data"
    combined[combined.reach == 1].drop(columns="reach").to_csv(data / "participants.csv", index=False)
    combined[combined.reach == 0].drop(columns="reach").to_csv(data / "pool.csv", index=False)
    (root / "evaluations" / "two.yml").write_text(PLAN)
    return root


def _plan(root: Path, text: str) -> None:
    (root / "evaluations" / "two.yml").write_text(text)


def _errors(root: Path) -> list[str]:
    return [str(p) for p in validate_project(root).problems if p.file == "evaluations/two.yml"]


def test_two_files_give_the_same_analysis_as_one_file(two_files):
    assert _errors(two_files) == []
    project = evalkit.load_project(two_files)
    split = evalkit.run(project.evaluation("reach-two-files"))
    # the same rows in one file with a 0/1 column, in another order (rows are put in canonical order)
    data = two_files / "evaluations" / "data"
    stacked = pd.concat([pd.read_csv(data / "pool.csv").assign(treated=0),
                         pd.read_csv(data / "participants.csv").assign(treated=1)], ignore_index=True)
    stacked.sample(frac=1, random_state=7).to_csv(data / "stacked.csv", index=False)
    one = PLAN.replace("id: reach-two-files", "id: reach-one-file").replace(
        "path: data/participants.csv\n  comparison: data/pool.csv", "path: data/stacked.csv\n  treatment: treated")
    (two_files / "evaluations" / "one.yml").write_text(one)
    single = evalkit.run(evalkit.load_project(two_files).evaluation("reach-one-file"))
    assert [(e.estimand, e.estimate, e.std_error, e.n) for e in split.estimates] == \
        [(e.estimand, e.estimate, e.std_error, e.n) for e in single.estimates]
    inputs = {i["role"]: i for i in split.manifest.inputs}
    assert inputs["data"]["path"] == "data/participants.csv" and inputs["data"]["rows"] == 255
    assert inputs["comparison data"]["path"] == "data/pool.csv" and inputs["comparison data"]["rows"] == 6045
    assert split.manifest.options["data"]["treatment"] == "treated"


def test_reader_stacks_participants_then_pool(two_files):
    evaluation = evalkit.load_project(two_files).evaluation("reach-two-files")
    frame = read_data_files(evaluation.data, ["pupil_id", "age"])
    assert list(frame.columns) == ["pupil_id", "age", "treated"]
    assert frame["treated"].tolist() == [1] * 255 + [0] * 6045
    from evalkit.run import read_plan_data  # as analysed: checked, in canonical order, the groups kept

    analysed = read_plan_data(evaluation)
    assert int(analysed["treated"].sum()) == 255 and len(analysed) == 6300


def test_columns_that_differ_are_named(two_files):
    pool = two_files / "evaluations" / "data" / "pool.csv"
    pd.read_csv(pool).rename(columns={"imd_decile": "imd", "attend_pre": "attendance_pre"}).to_csv(pool, index=False)
    found = _errors(two_files)
    assert ("evaluations/two.yml:9: error: data.comparison: the participants' and comparison files do not have the "
            "same columns (found only in data/participants.csv: imd_decile, attend_pre; only in data/pool.csv: imd, "
            "attendance_pre; expected the same columns in both files (at least every column the plan names))") in found
    # and each missing column on the line that names it
    assert any(line.startswith("evaluations/two.yml:13: error: covariates[4]: column not found in data/pool.csv "
                               "(found 'imd_decile'") for line in found), found
    # the runner says the same, naming both files
    evaluation = evalkit.load_project(two_files, check_data=False).evaluation("reach-two-files")
    with pytest.raises(DataError, match=r"do not hold the same columns: .*pool.csv lacks imd_decile, attend_pre"):
        read_data_files(evaluation.data, ["pupil_id", "imd_decile", "attend_pre"])


def test_a_unit_in_both_files(two_files):
    data = two_files / "evaluations" / "data"
    part = pd.read_csv(data / "participants.csv")
    pool = pd.read_csv(data / "pool.csv")
    pd.concat([pool, part.iloc[[3, 7]]]).to_csv(data / "pool.csv", index=False)
    found = _errors(two_files)
    assert ("evaluations/two.yml:9: error: data.comparison: 2 unit(s) of data/participants.csv are also in the "
            "comparison pool (found the 'pupil_id' of lines 5, 9 of data/participants.csv in data/pool.csv; "
            "expected each unit in one file only: participants or comparison pool)") in found
    assert not any(str(v) in " ".join(found) for v in part.pupil_id.iloc[[3, 7]])  # ids never in messages


def test_text_in_one_file_numbers_in_the_other(two_files):
    pool = two_files / "evaluations" / "data" / "pool.csv"
    frame = pd.read_csv(pool)
    frame["female"] = frame["female"].map({0: "no", 1: "yes"})
    frame.to_csv(pool, index=False)
    assert ("evaluations/two.yml:9: error: data.comparison: column 'female' holds numbers in one file and text in "
            "the other (found text in data/pool.csv; expected the same kind of values in both files)") in _errors(two_files)


def test_group_column_name_taken(two_files):
    part = two_files / "evaluations" / "data" / "participants.csv"
    pd.read_csv(part).assign(treated=1).to_csv(part, index=False)
    found = _errors(two_files)
    assert any("data.comparison: data/participants.csv has a column named like the group column evalkit makes "
               "(found 'treated'" in line for line in found), found
    _plan(two_files, PLAN.replace("  id: pupil_id\n", "  id: pupil_id\n  treatment: took_part\n"))
    assert _errors(two_files) == []


def test_missing_comparison_file(two_files):
    (two_files / "evaluations" / "data" / "pool.csv").unlink()
    assert _errors(two_files) == [
        f"evaluations/two.yml:9: error: data.comparison: data file not found (found no file at "
        f"{two_files / 'evaluations' / 'data' / 'pool.csv'}; expected a CSV, Parquet or XLSX file, relative to the "
        "plan (for the example project, `evalkit synth` writes it; a success-measures time series's file is written "
        "by `evalkit monitor export`))"]


@pytest.mark.parametrize("change, message", [
    (("design: matched_comparison", "design: rct"),
     "data.comparison: a separate comparison file is read for a matched comparison only (found design 'rct'"),
    (("comparison: data/pool.csv", "comparison: data/participants.csv"),
     "data.comparison: the comparison pool is the participants' file"),
])
def test_two_files_mistakes(two_files, change, message):
    _plan(two_files, PLAN.replace(*change))
    assert any(message in line for line in _errors(two_files)), _errors(two_files)


def test_cli_runs_two_files(two_files):
    result = run_cli("run", "reach-two-files", "--no-store", "--json", cwd=two_files)
    assert result.returncode == 0, result.stderr
    saved = json.loads((two_files / ".evalkit" / "results" / "reach-two-files" / "results.json").read_text())
    assert [i["role"] for i in saved["manifest"]["inputs"]] == ["evaluation plan", "logic model", "data",
                                                               "comparison data"]
