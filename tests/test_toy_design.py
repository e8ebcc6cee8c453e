"""Adding a design is one module and one registry line (issue 17, point 1; docs/architecture.md).

The toy design of ``tests/toy_designs/gain_score.py`` declares its options model and their default, its
own validation rule (its ``checks`` hook), analysis, section record, report section and evidence facts
in its own module. Here it is added to evalkit by one line,
the registry's ``MODULES`` plus its module name, in a fresh process (the registry is read at import),
and a plan of that design goes through validate, run, rate and report with no other edit anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_logic_models

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

# the one registry line, then the CLI's own main for each verb (exit status and output as a user sees them)
DRIVER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from evalkit.spec import design_list
    design_list.MODULES = (*design_list.MODULES, "toy_designs.gain_score")
    from evalkit.cli import main
    codes = [main([*verb.split(), "--project", {root!r}]) for verb in {verbs!r}]
    print(json.dumps(codes))
""")

PLAN = """\
id: toy-gain
intervention: reach
title: Reach, gain scores (a toy design)
stage: pilot_for_outcomes
design: gain_score
evaluator: {{name: Test team, independent: false}}
data:
  path: data/toy.csv
  id: pupil_id
timepoints:
  sdq_total: {timepoints}
{options}primary_outcome: sdq_total
follow_up_months: 6
seed: 1
"""


def _project(root: Path, summary: str | None, timepoints: str = "{baseline: sdq_pre, exit: sdq_post}") -> Path:
    (root / "logic_models").mkdir(parents=True)
    copy_logic_models(REPO / "logic_models", root / "logic_models", ("reach.yml",))
    (root / "evaluations" / "data").mkdir(parents=True)
    rng = np.random.default_rng(7)
    pre = rng.integers(8, 30, 60)
    post = np.clip(pre - 2 + rng.integers(-4, 4, 60), 0, 40)
    lines = ["pupil_id,sdq_pre,sdq_post"] + [f"P{i:03d},{a},{b}" for i, (a, b) in enumerate(zip(pre, post))]
    (root / "evaluations" / "data" / "toy.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = f"gain_score:\n  summary: {summary}\n" if summary is not None else ""
    (root / "evaluations" / "toy.yml").write_text(PLAN.format(timepoints=timepoints, options=options),
                                                  encoding="utf-8")
    return root


def _drive(root: Path, verbs: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    script = DRIVER.format(tests=str(HERE), root=str(root), verbs=verbs)
    return subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_a_design_added_by_one_module_runs_end_to_end(tmp_path):
    root = _project(tmp_path / "project", "median")
    done = _drive(root, ["validate --strict", "run", "rate", "report --no-index"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 0, 0, 0], done.stdout + done.stderr

    results = json.loads((root / ".evalkit" / "results" / "toy-gain" / "results.json").read_text(encoding="utf-8"))
    assert results["design"] == "gain_score"
    assert results["manifest"]["options"]["gain_score"] == {"summary": "median"}  # the block, as validated
    assert set(results["sections"]) == {"gain_score"}
    (estimate,) = results["estimates"]
    assert estimate["method"] == "median gain, normal approximation"
    assert "toy gain-score summary" not in done.stdout  # the report's words are for the report
    page = next((root / "reports").rglob("index.html")).read_text(encoding="utf-8")
    assert 'id="sec-gain-score"' in page and "Gain scores" in page  # its own report section, by the registry
    assert "The median gain of sdq_total" in page  # read from the typed record, result.section("gain_score")
    assert "toy gain-score summary in one group" in page  # its words in the methods
    assert "gain score (toy)" in done.stdout  # the rating names it in the entry's words


@pytest.mark.slow
def test_its_options_are_checked_at_validate_time_with_the_line_and_the_choices(tmp_path):
    root = _project(tmp_path / "project", "mode")
    done = _drive(root, ["validate"])
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1], done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "toy.yml:13" in said and "mean" in said and "median" in said, said
    assert "Traceback" not in said


@pytest.mark.slow
def test_its_own_check_refuses_a_plan_without_a_baseline_and_its_default_block_runs(tmp_path):
    # the rule is the toy module's checks hook (evalkit names no design in validation): file, line, expected
    root = _project(tmp_path / "bare", None, timepoints="{exit: sdq_post}")
    done = _drive(root, ["validate"])
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1], done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert ("evaluations/toy.yml:11: error: timepoints.sdq_total: a gain score needs a baseline (found exit; "
            "expected a 'baseline' timepoint (the gain is follow-up minus baseline))") in said, said
    assert "Traceback" not in said

    # with its baseline and no gain_score block, the plan runs with the entry's default block
    root = _project(tmp_path / "default", None)
    done = _drive(root, ["validate --strict", "run"])
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 0], done.stdout + done.stderr
    results = json.loads((root / ".evalkit" / "results" / "toy-gain" / "results.json").read_text(encoding="utf-8"))
    assert results["manifest"]["options"]["gain_score"] == {"summary": "mean"}
    assert results["estimates"][0]["method"] == "mean gain, normal approximation"
