"""The CLI on throw-away copies of the example project: what a user types, what they see."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONTRACT, REPO, run_cli

from evalkit.project import load_project, validate_project


def _extends(contract, mine, where="") -> list[str]:
    """Where ``mine`` drops or changes something of ``contract`` (it may add keys and list items)."""
    if isinstance(contract, dict):
        if not isinstance(mine, dict):
            return [f"{where}: not a mapping"]
        return [p for k, v in contract.items() for p in
                ([f"{where}.{k}: missing"] if k not in mine else _extends(v, mine[k], f"{where}.{k}"))]
    if isinstance(contract, list):
        if not isinstance(mine, list) or len(mine) < len(contract):
            return [f"{where}: list shortened"]
        return [p for i, v in enumerate(contract) for p in _extends(v, mine[i], f"{where}[{i}]")]
    return [] if contract == mine else [f"{where}: {contract!r} became {mine!r}"]


def test_example_project_extends_the_contract_files():
    # the shared examples are a contract for evalkit (they validate and run unchanged, below); the
    # example project may extend its copies (evidence statements, outcome categories), never change them
    import yaml

    for kind in ("logic_models", "evaluations"):
        for contract in (CONTRACT / kind).glob("*.yml"):
            ours = yaml.safe_load((REPO / kind / contract.name).read_text())
            assert _extends(yaml.safe_load(contract.read_text()), ours) == [], contract.name


def test_contract_files_validate_unchanged(tmp_path):
    shutil.copytree(CONTRACT, tmp_path / "p")
    root = tmp_path / "p"
    shape = validate_project(root, check_data=False)
    assert shape.errors == []
    assert sorted(shape.evaluations) == ["mvp-external-trial", "phoenix-2023-did", "reach-2023-matched",
                                        "reach-2023-prepost"]
    # synth writes every data file the contract plans name, with the columns they use
    result = run_cli("synth", "--project", str(root))
    assert result.returncode == 0, result.stderr
    full = validate_project(root)
    assert full.errors == [], [str(p) for p in full.errors]
    assert len(full.evaluations) == 4
    # and they run unchanged
    result = run_cli("run", "--project", str(root))
    assert result.returncode == 0, result.stderr
    assert all((root / ".evalkit" / "results" / e / "results.json").exists() for e in full.evaluations)


def test_example_project_validates(example_project_ro):
    result = run_cli("validate", "--project", str(example_project_ro))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 8 logic model(s), 9 evaluation plan(s) valid")
    project = load_project(example_project_ro)
    assert set(project.interventions) == {"mvp", "reach", "vip", "phoenix", "sport", "ete", "strategy", "partnership"}
    designs = {e.id: e.design.value for e in project.evaluations.values()}
    assert designs["reach-2023-prepost"] == "pre_post"
    assert designs["reach-2023-matched"] == designs["vip-2023-matched"] == "matched_comparison"
    assert designs["phoenix-2023-did"] == "difference_in_differences"
    assert designs["strategy-its"] == "interrupted_time_series"
    assert project.evaluation("mvp-2023-prepost").cluster == "school_id"
    assert [i.id for i in project.intervention("strategy").indicators.values()] == [
        "knife_admissions", "knife_sv", "homicides"]


def test_validate_runs_from_inside_the_project(example_project_ro):
    result = run_cli("validate", cwd=example_project_ro / "evaluations")
    assert result.returncode == 0, result.stderr


def _one_error(result) -> str:
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_malformed_yaml(example_project):
    path = example_project / "logic_models" / "vip.yml"
    path.write_text(path.read_text().replace("prevention: tertiary", "prevention: [tertiary"))
    line = _one_error(run_cli("validate", "logic_models/vip.yml", cwd=example_project))
    assert line.startswith("logic_models/vip.yml:") and "malformed YAML" in line


def test_missing_data_file(example_project):
    (example_project / "evaluations" / "data" / "vip_attenders.csv").unlink()
    line = _one_error(run_cli("validate", "--project", str(example_project)))
    assert line.startswith("evaluations/vip-matched.yml:10: error: data.path: data file not found")
    assert "evalkit synth" in line


def test_missing_column(example_project):
    path = example_project / "evaluations" / "vip-matched.yml"
    path.write_text(path.read_text().replace("night_time,", "nighttime,"))
    line = _one_error(run_cli("validate", "--project", str(example_project)))
    assert line.startswith("evaluations/vip-matched.yml:15: error: covariates[4]: column not found in "
                           "data/vip_attenders.csv (found 'nighttime'; expected one of attender_id")


def test_duplicated_id(example_project):
    path = example_project / "evaluations" / "data" / "reach_cohort.csv"
    lines = path.read_text().splitlines()
    lines.append(lines[1])
    path.write_text("\n".join(lines) + "\n")
    line = _one_error(run_cli("validate", "--project", str(example_project)))
    assert line.startswith("evaluations/reach-prepost.yml:11: error: data.id: 'pupil_id' repeat at lines 2, 362")


def test_unknown_indicator(example_project):
    path = example_project / "evaluations" / "reach-prepost.yml"
    path.write_text(path.read_text().replace("  attendance_pct: {baseline: attend_pre, exit: attend_post}",
                                             "  attendance: {baseline: attend_pre, exit: attend_post}"))
    line = _one_error(run_cli("validate", "--project", str(example_project)))
    assert line == ("evaluations/reach-prepost.yml:14: error: timepoints.attendance: indicator is not in logic model "
                    "'reach' (found 'attendance'; expected one of referrals, completed, sdq_total, attendance_pct, suspended)")


def test_debug_shows_traceback_for_user_errors(example_project):
    result = run_cli("--debug", "run", "no-such-evaluation", "--project", str(example_project))
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = run_cli("run", "no-such-evaluation", "--project", str(example_project))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no-such-evaluation: no evaluation plan with this id or file" in result.stderr


def test_not_a_project(tmp_path):
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "not inside an evalkit project" in result.stderr and "Traceback" not in result.stderr


def test_the_example_validates_with_no_warnings(example_project_ro):
    result = run_cli("validate", "--strict", "--project", str(example_project_ro))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_strict_makes_warnings_fail(example_project):
    # a node no link touches is a warning: an error under --strict
    path = example_project / "logic_models" / "reach.yml"
    path.write_text(path.read_text().replace("    - [family-support, wellbeing]\n", ""))
    assert run_cli("validate", "--project", str(example_project)).returncode == 0
    result = run_cli("validate", "--strict", "--project", str(example_project))
    assert result.returncode == 1 and "warning: theory_of_change.activities[2].id" in result.stderr


def test_summary_lists_interventions_indicators_and_plans(example_project_ro):
    result = run_cli("summary", "--project", str(example_project_ro))
    assert result.returncode == 0, result.stderr
    for text in ("Mentors in Violence Prevention", "knife_sv", "strategy-its", "interrupted_time_series",
                 "120 per quarter"):
        assert text in result.stdout


def test_schema_published_and_current(tmp_path):
    # the committed schemas are what the models generate; the shipped YAML points at them
    result = run_cli("schema", "--check", "--project", str(REPO))
    assert result.returncode == 0, result.stderr
    result = run_cli("schema", "--out", str(tmp_path), "--project", str(REPO))
    assert result.returncode == 0
    schema = json.loads((tmp_path / "evaluation.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert "pre_post" in schema["$defs"]["Design"]["enum"]
    assert "yaml-language-server: $schema=../schemas/logic_model.schema.json" in (REPO / "logic_models" / "vip.yml").read_text()


def test_schema_accepts_the_examples(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schemas = {k: json.loads((REPO / "schemas" / f"{k}.schema.json").read_text()) for k in ("logic_model", "evaluation")}
    for kind, folder in (("logic_model", "logic_models"), ("evaluation", "evaluations")):
        for path in (REPO / folder).glob("*.yml"):
            data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
            jsonschema.validate(data, schemas[kind])


def test_synth_is_deterministic_and_never_overwrites_real_data(tmp_path, example_project_ro):
    root = tmp_path / "p"
    shutil.copytree(example_project_ro / "logic_models", root / "logic_models")
    shutil.copytree(example_project_ro / "evaluations", root / "evaluations",
                    ignore=shutil.ignore_patterns("data"))
    assert run_cli("synth", "--project", str(root)).returncode == 0
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    data = example_project_ro / "evaluations" / "data"
    for path in sorted(p for p in data.rglob("*") if p.is_file()):  # data/areas/ too (issue 18's panel)
        if path.name.startswith("success_measures.csv"):
            continue  # written from the monitoring store by `evalkit monitor export`, not by synth
        rel = path.relative_to(data)
        assert digest(path) == digest(root / "evaluations" / "data" / rel), str(rel)
    real = root / "evaluations" / "data" / "reach_cohort.csv"
    real.write_text("pupil_id,sdq_pre\nreal,1\n")
    result = run_cli("synth", "--project", str(root))
    assert result.returncode == 0 and "kept" in result.stdout and real.read_text().startswith("pupil_id,sdq_pre\nreal")
    assert run_cli("synth", "--force", "--project", str(root)).returncode == 0
    assert digest(real) == digest(example_project_ro / "evaluations" / "data" / "reach_cohort.csv")


def test_data_dictionary_records_true_effects(example_project_ro):
    from evalkit.synth.writer import true_effects

    effects = true_effects(example_project_ro / "evaluations" / "data")
    by_key = {(t["evaluation"], t["indicator"], t["estimand"]): t for t in effects}
    assert by_key[("reach-2023-prepost", "sdq_total", "mean_change")]["value"] == pytest.approx(-2.5, abs=0.1)
    att = by_key[("reach-2023-matched", "suspended", "att")]
    assert att["value"] < 0 and abs(att["naive_difference"] - att["value"]) > 0.03  # naive is badly off
    # the strategy's changes are built into the monitoring demo extracts it is exported from
    monitored = json.loads((example_project_ro / "monitoring" / "extracts" / "true_effects.json").read_text())
    by_key = {(t["evaluation"], t["indicator"], t["estimand"]): t for t in monitored["true_effects"]}
    assert by_key[("strategy-its", "homicides", "level_change")]["value"] == 0.8
    text = (example_project_ro / "evaluations" / "data" / "DICTIONARY.md").read_text()
    assert "## reach_cohort.csv" in text and "True effects built in" in text


def test_example_data_looks_like_the_real_thing(example_project_ro):
    import pandas as pd

    data = example_project_ro / "evaluations" / "data"
    reach = pd.read_csv(data / "reach_cohort.csv")
    sdq = reach[["sdq_pre", "sdq_post"]].stack()
    assert sdq.between(0, 40).all() and (sdq == sdq.round()).all()
    assert 0.1 < reach["sdq_post"].isna().mean() < 0.3  # realistic attrition
    assert reach["attend_pre"].between(0, 100).all()
    assert set(reach["susp_pre"].dropna().unique()) <= {0, 1}
    series = pd.read_csv(data / "success_measures.csv")
    assert series["area"].nunique() == 9 and series["month"].nunique() == 96
    monthly = series.groupby(series["month"].str[5:])["knife_offences"].sum()
    assert monthly.loc[["06", "07", "08"]].mean() > monthly.loc[["12", "01", "02"]].mean()  # summer peak
    panel = pd.read_csv(data / "phoenix_panel.csv")
    assert panel.groupby("person_id")["phoenix_active"].max().mean() == pytest.approx(150 / 600)


def test_python_api_matches_cli(example_project_ro):
    import evalkit

    project = evalkit.load_project(example_project_ro)
    assert "reach-2023-prepost" in project.evaluations
    with pytest.raises(evalkit.EvalkitError):
        evalkit.load_project(example_project_ro / "nowhere")


def test_help_and_import_stay_light():
    code = ("import sys, evalkit.cli; evalkit.cli.build_parser(); "
            "heavy = [m for m in ('pandas', 'scipy', 'statsmodels', 'dowhy', 'plotly', 'linearmodels', 'duckdb') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert run_cli("--help").returncode == 0


def test_synth_check_lines_up_truth_and_estimates(example_project):
    assert run_cli("run", "reach-2023-prepost", "--project", str(example_project)).returncode == 0
    result = run_cli("synth", "--check", "--project", str(example_project))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("reach-2023-prepost")]
    assert len(rows) == 3 and all(row[-2] == "yes" for row in rows)
    not_run = [line for line in result.stdout.splitlines() if line.startswith("vip-2023-matched")]
    assert not_run and not_run[0].split()[4] == "-"  # no results yet: shown as missing, not guessed


def test_run_records_results_in_the_store_once(example_project):
    for _ in range(2):
        result = run_cli("run", "reach-2023-prepost", "--project", str(example_project))
        assert result.returncode == 0, result.stderr
        assert "recorded in" in result.stdout and "(run 1)" in result.stdout
    from evalkit.store import open_store

    with open_store(example_project / ".evalkit" / "evalkit.duckdb", read_only=True) as store:
        runs = store.con.execute("SELECT evaluation, count(*) FROM evaluation_runs GROUP BY 1").fetchall()
        primary = store.con.execute('SELECT indicator FROM evaluation_results WHERE "primary"').fetchall()
    assert runs == [("reach-2023-prepost", 1)] and primary == [("sdq_total",)]
    assert run_cli("run", "reach-2023-prepost", "--no-store", "--project", str(example_project)).returncode == 0


def test_run_reads_only_the_store_setting_of_the_monitoring_folder(example_project):
    shutil.rmtree(example_project / "monitoring", ignore_errors=True)
    (example_project / "monitoring" / "sources").mkdir(parents=True)
    (example_project / "monitoring" / "monitor.yml").write_text("store: elsewhere/results.duckdb\n")
    (example_project / "monitoring" / "sources" / "broken.yml").write_text("id: [unclosed\n")
    result = run_cli("run", "reach-2023-prepost", "--project", str(example_project))
    assert result.returncode == 0, result.stderr
    assert (example_project / "elsewhere" / "results.duckdb").exists()
    assert "95% CI" in result.stdout
