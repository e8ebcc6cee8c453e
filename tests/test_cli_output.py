"""--quiet and --json on every command, and progress bars only when a person is watching."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli

from evalkit.cli import Output, build_parser, progress


def _leaves(parser: argparse.ArgumentParser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaves(sub, path + (name,))


def test_every_command_takes_quiet_and_json():
    leaves = list(_leaves(build_parser()))
    assert len(leaves) >= 15
    for path, parser in leaves:
        options = {o for a in parser._actions for o in a.option_strings}
        assert {"--quiet", "-q", "--json", "--project", "--debug"} <= options, " ".join(path)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A starter project that has been run once (results, store, extracts ingested): every plan but
    the feasibility study, so that `rate` and `compare` still run a plan with no results
    without running all the others again for each of their four calls (issue 20)."""
    root = tmp_path_factory.mktemp("out") / "p"
    assert run_cli("init", str(root), "-q").returncode == 0
    plans = sorted(p.stem for p in (root / "evaluations").glob("*.yml") if p.stem != "mentoring-feasibility")
    assert "mentoring-prepost" in plans and "mentoring-rct" in plans and (root / "evaluations" /
                                                                          "mentoring-feasibility.yml").exists()
    for args in (["run", *plans], ["compare"],
                 ["monitor", "ingest", "referrals", *sorted(str(p) for p in (root / "monitoring" / "extracts" /
                                                                             "referrals").glob("*.csv"))]):
        result = run_cli(*args, "-q", cwd=root)
        assert result.returncode == 0, result.stderr
    return root


COMMANDS = [
    ["validate"], ["validate", "--no-data", "evaluations/mentoring-rct.yml"], ["schema", "--check"],
    ["schema", "--out", "{tmp}/schemas"], ["synth"], ["synth", "--check"], ["summary"],
    ["run", "mentoring-its", "--no-store"], ["rate"], ["compare"], ["report", "mentoring-prepost", "--no-render"],
    ["monitor", "status"], ["monitor", "indicators"], ["monitor", "indicators", "--out", "{tmp}/v.csv"],
    ["monitor", "dashboard", "--no-render"], ["monitor", "demo-data"],
    ["new", "logic-model", "other", "--force"],
    ["new", "evaluation", "other-prepost", "--design", "pre_post", "--intervention", "mentoring", "--force"],
    ["init", "{tmp}/second"],
]


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_KEY_FILE", str(tmp_path.parent / "key" / "pseudonym.key"))


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_json_is_one_document_and_quiet_prints_nothing(project, tmp_path, args, keyed):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    loud = run_cli(*args, "--json", cwd=project)
    assert loud.returncode == 0, loud.stderr
    data = json.loads(loud.stdout)  # the whole of stdout is one JSON document
    assert isinstance(data, dict) and data
    if args[0] == "init":
        shutil.rmtree(tmp_path / "second")
    quiet = run_cli(*args, "--quiet", cwd=project)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    assert "Traceback" not in quiet.stderr
    if args[0] == "new":  # the skeleton's placeholders would fail the other commands on this project
        Path(data["written"]).unlink()


def test_flags_also_go_before_the_command(project):
    result = run_cli("--json", "summary", cwd=project)
    assert json.loads(result.stdout)["interventions"][0]["id"] == "mentoring"
    assert run_cli("-q", "validate", cwd=project).stdout == ""
    assert json.loads(run_cli("--version", "--json").stdout)["version"]


def test_validate_json_lists_the_problems(project, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(project, root, ignore=shutil.ignore_patterns(".evalkit", "reports"))
    plan = root / "evaluations" / "mentoring-prepost.yml"
    plan.write_text(plan.read_text().replace("wellbeing_end", "wellbeing_finish"))
    result = run_cli("validate", "--json", cwd=root)
    assert result.returncode == 1 and result.stderr == ""
    data = json.loads(result.stdout)
    assert not data["ok"] and data["errors"] == 1
    problem = data["problems"][0]
    assert problem["file"] == "evaluations/mentoring-prepost.yml" and problem["path"] == "timepoints.wellbeing.exit"
    assert problem["found"] == "'wellbeing_finish'"
    # --quiet keeps the error (it is why the exit status is 1), drops the summary line
    quiet = run_cli("validate", "--quiet", cwd=root)
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert quiet.stderr.splitlines() == [line for line in run_cli("validate", cwd=root).stderr.splitlines()
                                         if ": error: " in line]


def test_errors_stay_on_stderr_with_json(project):
    result = run_cli("run", "no-such-plan", "--json", cwd=project)
    assert result.returncode == 1 and result.stdout == ""
    assert "no-such-plan: no evaluation plan with this id" in result.stderr


def test_run_json_holds_the_estimates(project):
    data = json.loads(run_cli("run", "mentoring-prepost", "--no-store", "--json", cwd=project).stdout)
    (run,) = data["runs"]
    saved = json.loads((project / ".evalkit" / "results" / "mentoring-prepost" / "results.json").read_text())
    assert run["estimates"] == saved["estimates"] and run["warnings"] == saved["warnings"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_when_watched():
    piped = io.StringIO()
    with progress(Output(stderr=piped), 3, "running") as steps:
        for _ in range(3):
            steps.advance()
    assert piped.getvalue() == ""  # a log or a pipe gets no bar
    terminal = _Terminal()
    with progress(Output(stderr=terminal), 3, "running evaluations") as steps:
        steps.describe("running one")
        steps.advance()
    assert "running one" in terminal.getvalue()
    quiet = _Terminal()
    with progress(Output(quiet=True, stderr=quiet), 3, "running"):
        pass
    assert quiet.getvalue() == ""


def test_demo_stops_at_the_failing_step_and_names_it(tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(Path(__file__).resolve().parents[1] / "logic_models", root / "logic_models")
    (root / "evaluations").mkdir()
    (root / "evaluations" / "bad.yml").write_text("id: bad\nintervention: no-such-intervention\n")
    done = run_cli("demo", "--project", str(root))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("evalkit demo: step ") and "failed with exit status 1" in last, done.stderr
    assert done.stdout.count("\n") <= 2  # quiet: no per-file lines before the failure


def test_demo_summary_says_what_was_made_and_where_to_open_it(tmp_path):
    from evalkit.cli import demo_summary

    for rel in (".evalkit/results/a/results.json", "reports/a/index.html", "reports/a/index.pdf",
                ".evalkit/results/b/results.json",
                "reports/index.html", "reports/monitoring/dashboard.html", ".evalkit/evalkit.duckdb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    check = {"rows": [{"covered": True}, {"covered": False}, {"covered": None}]}
    text = demo_summary(tmp_path, {"true effects against estimates": check}, 12.0)
    assert "2 evaluations run (1 of 2 true effects inside their 95% CIs)" in text
    assert "1 HTML, 1 PDF" in text
    assert str(tmp_path / "reports" / "monitoring" / "dashboard.html") in text
    assert text.splitlines()[-2] == f"open {tmp_path / 'reports' / 'index.html'} in a browser: the portfolio, with a " \
                                    "link to every report"
