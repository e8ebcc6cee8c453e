"""`evalkit init` and `evalkit new`: a project from nothing, as a new user builds one.

The starter project must validate with no warning and run every command end to end; each
skeleton `evalkit new` writes must validate and run once its placeholders are written, for
every design (the list comes from the format's enum, so a new design fails here until it has
a skeleton that works).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

from evalkit.project import placeholders, validate_project
from evalkit.spec.raw import Design
from evalkit.spec.yamlio import read_yaml


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    """One starter project, written once for the module (tests copy it before changing it)."""
    root = tmp_path_factory.mktemp("starter") / "my-vru"
    result = run_cli("init", str(root))
    assert result.returncode == 0, result.stderr
    return root


def _copy(starter: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(starter, dest, ignore=shutil.ignore_patterns(".evalkit", "reports"))
    (dest / "reports").mkdir()
    return dest


# ---------------------------------------------------------------------------- evalkit init


def test_init_writes_the_whole_project(starter):
    for path in ("README.md", "_quarto.yml", ".gitignore", ".vscode/settings.json", "schemas/evaluation.schema.json",
                 "schemas/logic_model.schema.json", "logic_models/mentoring.yml", "monitoring/monitor.yml",
                 "monitoring/sources/referrals.yml", "monitoring/indicators.yml", "reports/README.md",
                 "evaluations/data/DICTIONARY.md"):
        assert (starter / path).is_file(), path
    designs = {read_yaml(p).data["design"] for p in (starter / "evaluations").glob("*.yml")}
    assert designs == {d.value for d in Design}  # a plan for each design
    assert sorted((starter / "monitoring" / "extracts" / "referrals").glob("*.csv"))
    settings = json.loads((starter / ".vscode" / "settings.json").read_text())
    assert set(settings["yaml.schemas"]) == {"./schemas/logic_model.schema.json", "./schemas/evaluation.schema.json"}
    # the schemas beside the project are the current ones
    assert run_cli("schema", "--check", "--project", str(starter)).returncode == 0
    readme = (starter / "README.md").read_text()
    assert "evalkit new evaluation" in readme and "follow_up_<months>m" in readme


def test_init_project_runs_the_whole_path(starter, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_KEY_FILE", str(tmp_path / "keys" / "pseudonym.key"))
    root = _copy(starter, tmp_path / "p")
    checked = _json(run_cli("validate", "--strict", "--json", cwd=root))
    assert checked["ok"] and checked["problems"] == [] and len(checked["evaluations"]) == len(Design)

    runs = _json(run_cli("run", "--json", cwd=root))["runs"]
    assert sorted(r["evaluation"] for r in runs) == sorted(checked["evaluations"])
    for r in runs:
        assert (root / ".evalkit" / "results" / r["evaluation"] / "results.json").exists()
        assert r["estimates"], r["evaluation"]

    # the data's true effects are all covered by their 95% CIs
    rows = _json(run_cli("synth", "--check", "--json", cwd=root))["rows"]
    assert len(rows) == 10 and all(row["covered"] for row in rows), rows

    ratings = _json(run_cli("rate", "--json", cwd=root))["ratings"]
    assert [r["intervention"] for r in ratings] == ["mentoring"]
    studies = {s["evaluation"]: s for s in ratings[0]["studies"]}
    assert set(studies) == set(checked["evaluations"])
    # a trial evalkit analysed is rated on its intention-to-treat estimate
    assert studies["mentoring-rct"]["effect"] == "positive" and studies["mentoring-rct"]["supports"] == "3"

    assert run_cli("compare", "-q", cwd=root).returncode == 0
    built = _json(run_cli("report", "--json", cwd=root))
    assert all(b["html"] and not b["problems"] for b in built["reports"]), built
    assert Path(built["index"]).exists()
    for b in built["reports"]:  # every design's report words its estimates (an RCT's ITT too)
        if b["evaluation"] != "index":
            assert "The run produced no estimates" not in Path(b["html"]).read_text(), b["evaluation"]

    extracts = sorted(str(p) for p in (root / "monitoring" / "extracts" / "referrals").glob("*.csv"))
    ingested = _json(run_cli("monitor", "ingest", "referrals", *extracts, "--json", cwd=root))["ingested"]
    assert [i["status"] for i in ingested] == ["ingested"] * len(extracts)
    status = _json(run_cli("monitor", "status", "--json", cwd=root))
    assert status["sources"][0]["missing"] == [] and status["sources"][0]["extracts"] == len(extracts)
    written = _json(run_cli("monitor", "dashboard", "--json", cwd=root))["written"]
    assert Path(written["html"]).exists()
    values = _json(run_cli("monitor", "indicators", "--json", cwd=root))["indicators"]
    assert {v["indicator"] for v in values} == {"referrals", "engaged"}
    # demo-data has no extracts for this project's own sources: it says so and ingests what is there
    demo = run_cli("monitor", "demo-data", "--ingest", cwd=root)
    assert demo.returncode == 0 and "none are written" in demo.stderr
    assert not (root / "monitoring" / "extracts" / "police").exists()


def test_init_is_deterministic_across_processes(tmp_path):
    def digest(root: Path) -> dict:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    digests = []
    for seed in ("1", "2"):
        root = tmp_path / seed / "p"  # the same folder name: the README and site title come from it
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "evalkit", "init", str(root), "-q"], check=True, env=env)
        digests.append(digest(root))
    assert digests[0] == digests[1]


def test_init_never_replaces_a_file(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "README.md").write_text("mine\n")
    result = run_cli("init", str(root))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "would replace 1 file(s) already there" in result.stderr and "README.md" in result.stderr
    assert sorted(p.name for p in root.iterdir()) == ["README.md"]  # nothing half-written
    assert (root / "README.md").read_text() == "mine\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_init_refuses_an_existing_project(starter):
    result = run_cli("init", str(starter))
    assert result.returncode == 1 and "already an evalkit project" in result.stderr


def test_init_into_a_folder_with_other_files(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "notes.txt").write_text("kept\n")
    assert run_cli("init", "-q", cwd=root).returncode == 0  # DIR defaults to the current folder
    assert (root / "notes.txt").read_text() == "kept\n" and (root / "logic_models" / "mentoring.yml").exists()


# ---------------------------------------------------------------------------- evalkit new

# what a user writes in place of each placeholder (by key path), from the starter's own data
FILL = {
    Design.pre_post: ("wellbeing", {
        "data.path": "data/mentoring_cohort.csv", "data.id": "young_person_id",
        "timepoints.wellbeing.baseline": "wellbeing_start", "timepoints.wellbeing.exit": "wellbeing_end"}),
    Design.matched_comparison: ("arrested", {
        "data.path": "data/mentoring_participants.csv", "data.comparison": "data/mentoring_comparison_pool.csv",
        "data.id": "young_person_id", "timepoints.arrested.follow_up_12m": "arrested_12m",
        "covariates[0]": "age", "covariates[1]": "prior_arrests"}),
    Design.difference_in_differences: ("offences", {
        "data.path": "data/mentoring_panel.csv", "data.id": "person_id", "data.period": "month",
        "data.treatment": "mentored", "outcomes.offences": "offences"}),
    Design.interrupted_time_series: ("violent_offences", {
        "data.path": "data/mentoring_area_offences.csv", "data.id": "area", "data.period": "month",
        "data.population": "population", "outcomes.violent_offences": "violent_offences",
        "time_series.interruption": "2023-01-01"}),
    Design.rct: ("wellbeing", {
        "data.path": "data/mentoring_trial.csv", "data.id": "young_person_id", "data.treatment": "arm",
        "timepoints.wellbeing.follow_up_12m": "wellbeing_6m"}),
    Design.feasibility: ("wellbeing", {
        "data.path": "data/mentoring_referrals.csv", "data.id": "case_id",
        "timepoints.wellbeing.baseline": "wellbeing_baseline", "timepoints.wellbeing.follow_up_6m": "wellbeing_6m",
        "feasibility.cases.referral_date": "referral_date", "feasibility.targets.referrals": "48"}),
    Design.comparison_areas: ("violent_offences", {
        "data.path": "data/mentoring_comparison_areas.csv", "data.id": "area", "data.period": "month",
        "data.population": "population", "outcomes.violent_offences": "violent_offences",
        "comparison_areas.treated_from": "treated_from"}),
}
# the same in every plan
COMMON = {"title": "A study written from a skeleton", "evaluator.name": "The evaluation team",
          "follow_up_months": "6"}


def fill(path: Path, values: dict[str, str]) -> list[str]:
    """Write ``values`` in place of the file's placeholders, line by line as a person would; returns
    the placeholders it found (each must have a value: a KeyError names one the test forgot)."""
    doc = read_yaml(path, path.name)
    lines = path.read_text(encoding="utf-8").splitlines()
    found = placeholders(doc)
    for problem in found:
        old = ast.literal_eval(problem.found)
        lines[problem.line - 1] = lines[problem.line - 1].replace(old, values[problem.path], 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [p.path for p in found]


def test_every_design_has_a_filled_in_skeleton_here():
    assert set(FILL) == set(Design)
    from evalkit.scaffold.commands import DESIGNS

    assert DESIGNS == tuple(d.value for d in Design)  # the CLI's --design choices (kept import-light)


@pytest.mark.parametrize("design", list(Design), ids=lambda d: d.value)
def test_new_evaluation_validates_and_runs_once_filled_in(starter, tmp_path, design):
    root = _copy(starter, tmp_path / "p")
    outcome, values = FILL[design]
    result = run_cli("new", "evaluation", "my-study", "--design", design.value, "--intervention", "mentoring",
                     "--outcomes", outcome, cwd=root)
    assert result.returncode == 0, result.stderr
    plan = root / "evaluations" / "my-study.yml"
    text = plan.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/evaluation.schema.json\n")
    # the valid choices are in the comments, read off the format's enums
    assert "# " + " | ".join(d.value for d in Design) in text
    assert "baseline | mid | exit | follow_up_<months>m" in text or design in (
        Design.difference_in_differences, Design.interrupted_time_series, Design.comparison_areas)

    # as written, validate names each placeholder on its line, and nothing else of this file
    before = [p for p in validate_project(root).problems if p.file == "evaluations/my-study.yml"]
    assert before and all(p.message.startswith("placeholder") and p.line for p in before), before
    filled = fill(plan, {**COMMON, **values})
    assert set(filled) == {p.path for p in before}
    after = validate_project(root)
    assert [str(p) for p in after.problems] == [], "the filled-in skeleton must validate cleanly"
    run = _json(run_cli("run", "my-study", "--no-store", "--json", cwd=root))
    assert run["runs"][0]["estimates"]


def test_new_logic_model_then_a_plan_on_it(starter, tmp_path):
    root = _copy(starter, tmp_path / "p")
    assert run_cli("new", "logic-model", "knife-crime", cwd=root).returncode == 0
    path = root / "logic_models" / "knife-crime.yml"
    text = path.read_text()
    assert "# primary | secondary | tertiary" in text and "# count | binary | score | rate | proportion" in text
    found = [p for p in validate_project(root).problems if p.file == "logic_models/knife-crime.yml"]
    assert found and all(p.message.startswith("placeholder") for p in found)
    words = {p.path: "Written by the user" for p in found}
    fill(path, words)
    assert [str(p) for p in validate_project(root).problems] == []  # no warning either: every node is linked
    # a plan on the new logic model picks its indicator
    assert run_cli("new", "evaluation", "knife-crime-prepost", "--design", "pre_post", "--intervention",
                   "knife-crime", cwd=root).returncode == 0
    plan = root / "evaluations" / "knife-crime-prepost.yml"
    assert "indicator_1:" in plan.read_text()
    fill(plan, {**COMMON, "data.path": "data/mentoring_cohort.csv", "data.id": "young_person_id",
                "timepoints.indicator_1.baseline": "wellbeing_start", "timepoints.indicator_1.exit": "wellbeing_end"})
    assert [str(p) for p in validate_project(root).problems] == []
    assert run_cli("run", "knife-crime-prepost", "--no-store", "-q", cwd=root).returncode == 0


def test_new_plan_before_its_logic_model_has_placeholder_indicators(starter, tmp_path):
    root = _copy(starter, tmp_path / "p")
    result = run_cli("new", "evaluation", "later-study", "--design", "rct", "--intervention", "not-yet", cwd=root)
    assert result.returncode == 0 and "no valid logic model 'not-yet'" in result.stderr
    text = (root / "evaluations" / "later-study.yml").read_text()
    assert "<indicator id>:" in text and "primary_outcome: <indicator id>" in text
    keys = {p.path for p in validate_project(root).problems if p.file == "evaluations/later-study.yml"}
    assert "timepoints.<indicator id>" in keys  # a placeholder key is named too


@pytest.mark.parametrize("args, message", [
    (["new", "logic-model", "Knife Crime"], "'Knife Crime': not a valid logic model id; expected lowercase"),
    (["new", "logic-model", "mentoring"], "logic_models/mentoring.yml: already exists; expected a new file "
                                          "(--force replaces it)"),
    (["new", "evaluation", "x", "--design", "rct", "--intervention", "mentoring", "--outcomes", "nope"],
     "--outcomes: 'nope' is not an indicator of logic model 'mentoring'; expected one of referrals, engaged"),
])
def test_new_mistakes_are_one_line(starter, args, message):
    result = run_cli(*args, cwd=starter)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr


def test_new_design_choices_are_listed(starter):
    result = run_cli("new", "evaluation", "x", "--design", "cohort", "--intervention", "mentoring", cwd=starter)
    assert result.returncode == 2
    assert "invalid choice: 'cohort' (choose from 'pre_post', 'matched_comparison'" in result.stderr


def test_new_outside_a_project_points_at_init(tmp_path):
    result = run_cli("new", "logic-model", "knife-crime", cwd=tmp_path)
    assert result.returncode == 1 and "not inside an evalkit project" in result.stderr
    assert "`evalkit init DIR` to start one" in result.stderr
