"""A cost period's participants counted from the plan's data or the monitoring store (issue 19): the
counts by hand, a declared figure that disagrees said (never silently settled), and every count that
cannot be made one line naming the logic model's file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO

COHORT = """pupil_id,referral_date,completed,sdq_pre,sdq_post,attend_pre,attend_post,susp_pre,susp_post
R1,2023-05-01,1,10,8,90,91,0,0
R2,2023-06-01,0,12,12,85,86,1,0
R3,2023-07-01,1,14,11,80,88,0,0
R3,2023-07-01,1,14,11,80,88,0,0
R4,2024-03-31,1,9,7,95,95,0,0
R5,2024-04-01,1,15,10,70,75,1,1
R6,2023-03-31,1,15,10,70,75,1,1
"""


def _reach(tmp_path: Path, started: str, completed: str = "105") -> Path:
    root = tmp_path / "project"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations" / "data").mkdir(parents=True)
    text = (REPO / "logic_models" / "reach.yml").read_text(encoding="utf-8")
    head, tail = text.split("        started: {from: data", 1)
    tail = tail.split("      running: {staff: 212000", 1)[1]
    text = head + f"        started: {started}\n        completed: {completed}\n      running: {{staff: 212000" + tail
    (root / "logic_models" / "reach.yml").write_text(text, encoding="utf-8")
    shutil.copy(REPO / "evaluations" / "reach-prepost.yml", root / "evaluations" / "reach-prepost.yml")
    (root / "evaluations" / "data" / "reach_cohort.csv").write_text(COHORT, encoding="utf-8")
    return root


def _count(root: Path, intervention: str = "reach"):
    from evalkit.project import load_project
    from evalkit.vfm.participants import count_participants

    project = load_project(root, check_data=False)
    return project, count_participants(project, project.interventions[intervention])


def test_participants_counted_from_the_plans_data_by_hand(tmp_path):
    from evalkit.vfm.assess import assess_costs

    root = _reach(tmp_path, "{from: data, evaluation: reach-2023-prepost, date: referral_date, declared: 150}",
                  "{from: data, evaluation: reach-2023-prepost, date: referral_date, where: {completed: 1}}")
    project, counted = _count(root)
    # 2023-04-01 to 2024-03-31: R1, R2, R3 (twice: one pupil), R4; R5 and R6 fall outside. Completed: R1, R3, R4
    assert counted.by_period["2023-24"] == (4, 3)
    assert counted.by_period["2022-23"] == (64, 41)  # declared, not counted
    (d,) = counted.disagreements
    assert (d.period, d.which, d.declared, d.counted) == ("2023-24", "started", 150, 4)
    assert d.words == "2023-24: 150 started as declared, 4 counted from the plan's data; the count is used"
    a = assess_costs(project.interventions["reach"], project)
    assert a.summary.overall.started == 64 + 4 and a.summary.overall.completed == 41 + 3
    assert a.summary.overall.per_started == pytest.approx(a.summary.overall.total / 68)
    assert a.participant_checks == counted.disagreements
    assert "4 distinct 'pupil_id' in data/reach_cohort.csv" in a.participants_from
    # without the project (the spec layer, `evalkit validate`) the declared figure stands
    assert assess_costs(project.interventions["reach"]).summary.overall.started == 64 + 150


def test_a_count_that_agrees_is_not_flagged_and_no_source_means_no_count(tmp_path):
    root = _reach(tmp_path, "{from: data, evaluation: reach-2023-prepost, date: referral_date, declared: 4}", "3")
    _project, counted = _count(root)
    assert counted.disagreements == () and counted.by_period["2023-24"] == (4, 3)
    root = _reach(tmp_path / "plain", "150")
    assert _count(root)[1] is None


def test_a_column_the_data_does_not_have_is_one_line_with_file_and_line(tmp_path):
    from evalkit.errors import EvalkitError

    root = _reach(tmp_path, "{from: data, evaluation: reach-2023-prepost, date: started_on}")
    with pytest.raises(EvalkitError) as exc:
        _count(root)
    line = (root / "logic_models" / "reach.yml").read_text().splitlines().index(
        "        started: {from: data, evaluation: reach-2023-prepost, date: started_on}") + 1
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"logic_models/reach.yml:{line}: costs.periods[1].participants.started: counting "
                              "participants in data/reach_cohort.csv:"), message
    assert "started_on" in message


def _ete(tmp_path: Path, declared: int | None, months: int = 12) -> Path:
    from evalkit.store.db import open_store, store_path

    root = tmp_path / "ete"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    text = (REPO / "logic_models" / "ete.yml").read_text(encoding="utf-8")
    source = "{from: store, indicator: ete_starts" + (f", declared: {declared}" if declared is not None else "") + "}"
    text = text.replace("participants: {started: 205, completed: 124}",
                        f"participants: {{started: {source}, completed: 124}}")
    assert source in text
    (root / "logic_models" / "ete.yml").write_text(text, encoding="utf-8")
    path = store_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_store(path) as store:
        for k in range(months):  # April 2023 onwards: 17 starts a month
            year, month = (2023, 4 + k) if k < 9 else (2024, k - 8)
            store.con.execute(
                "INSERT INTO indicator_values (intervention, indicator, period_kind, period, breakdown, \"group\", "
                "measure, value, definitions_sha256) VALUES ('ete', 'ete_starts', 'month', ?, 'all', 'all', 'count', "
                "17, 'x')", [f"{year}-{month:02d}-01"])
            # an area breakdown of the same month is not added in again
            store.con.execute(
                "INSERT INTO indicator_values (intervention, indicator, period_kind, period, breakdown, \"group\", "
                "measure, value, definitions_sha256) VALUES ('ete', 'ete_starts', 'month', ?, 'area', 'Blaby', "
                "'count', 5, 'x')", [f"{year}-{month:02d}-01"])
    return root


def test_participants_counted_from_the_monitoring_store_by_hand(tmp_path):
    root = _ete(tmp_path, declared=205)
    _project, counted = _count(root, "ete")
    assert counted.by_period["2023-24"] == (12 * 17, 124)  # April 2023 to March 2024, every area together
    (d,) = counted.disagreements
    assert (d.declared, d.counted, d.counted_from) == (205, 204, "the monitoring store")


def test_a_month_the_store_has_no_count_for_stops_the_count(tmp_path):
    from evalkit.errors import EvalkitError

    root = _ete(tmp_path, declared=None, months=11)
    with pytest.raises(EvalkitError) as exc:
        _count(root, "ete")
    message = str(exc.value)
    assert message.startswith("logic_models/ete.yml:") and "costs.periods[0].participants.started" in message
    assert "no monthly count of 'ete_starts' for 1 of the period's 12 months (2024-03 to 2024-03)" in message


@pytest.mark.parametrize("source, message", [
    ("{from: register}", "started.from: invalid value (found 'register'; expected one of 'data', 'store')"),
    ("{from: data}", "started.evaluation: participants counted from the plan's data need the plan"),
    ("{from: store}", "started.indicator: participants counted from the monitoring store need an indicator"),
    ("{from: store, indicator: completed}", "started.indicator: participants must be counted with a count indicator"),
    ("{from: store, indicator: referrals, date: referral_date}", "started.date: 'date' is for participants counted "
                                                                  "from: data"),
    ("'150'", "started: invalid value (found '150'; expected a whole number of 0 or more"),
    ("{from: data, evaluation: reach-2023-prepost, colour: red}", "unknown key 'colour'"),
])
def test_each_bad_counted_participant_is_one_line_at_validate(tmp_path, source, message):
    from conftest import run_cli

    root = _reach(tmp_path, source)
    proc = run_cli("validate", "--no-data", cwd=root)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines()
             if ln.startswith("logic_models/reach.yml") and ": error:" in ln]
    line = (root / "logic_models" / "reach.yml").read_text().splitlines().index(f"        started: {source}") + 1
    assert any(ln.startswith(f"logic_models/reach.yml:{line}: error: costs.periods[1].participants.") and message in ln
               for ln in lines), lines
    # the mistake itself is said once (a missing count may add the "costs but no participants" line)
    assert sum(message in ln for ln in lines) == 1


def test_a_date_that_is_not_a_date_stops_the_count_and_undated_rows_are_said(tmp_path):
    """A referral date that cannot be read would leave its pupil out of the period silently."""
    from evalkit.errors import EvalkitError

    root = _reach(tmp_path, "{from: data, evaluation: reach-2023-prepost, date: referral_date}", "2")
    cohort = root / "evaluations" / "data" / "reach_cohort.csv"
    cohort.write_text(COHORT.replace("R2,2023-06-01", "R2,") + "R7,2023-13-45,1,15,10,70,75,1,1\n", encoding="utf-8")
    with pytest.raises(EvalkitError) as exc:
        _count(root)
    assert "column 'referral_date' of data/reach_cohort.csv has 1 value(s) that are not dates (first at line 9)" \
        in str(exc.value), str(exc.value)
    cohort.write_text(COHORT.replace("R2,2023-06-01", "R2,"), encoding="utf-8")
    _project, counted = _count(root)
    assert counted.by_period["2023-24"][0] == 3  # R1, R3, R4: R2 has no date
    assert any("1 row(s) with no 'referral_date' left out" in w for w in counted.words), counted.words


@pytest.mark.parametrize("source, message", [
    ("{from: data, evaluation: reach-2024-prepost}", "started.evaluation: participants are counted from an evaluation "
                                                    "plan the project does not have (its reports will stop) (found "
                                                    "'reach-2024-prepost'; expected one of mvp-2023-prepost, "
                                                    "reach-2023-prepost)"),
    ("{from: data, evaluation: mvp-2023-prepost}", "started.evaluation: evaluation 'mvp-2023-prepost' is of mvp, not "
                                                  "reach (its reports will stop)"),
])
def test_a_count_from_a_plan_the_project_lacks_is_said_at_validate(tmp_path, source, message):
    """Across files: `evalkit validate` says it before the first report that counts stops on it. A warning
    (the plans still run: `evalkit run` does not use costs); `--strict` refuses it."""
    from conftest import run_cli

    root = _reach(tmp_path, source)
    shutil.copy(REPO / "logic_models" / "mvp.yml", root / "logic_models" / "mvp.yml")
    shutil.copy(REPO / "evaluations" / "mvp-prepost.yml", root / "evaluations" / "mvp-prepost.yml")
    line = (root / "logic_models" / "reach.yml").read_text().splitlines().index(f"        started: {source}") + 1
    for strict, code in ((False, 0), (True, 1)):
        proc = run_cli("validate", "--no-data", *(["--strict"] if strict else []), cwd=root)
        lines = [ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines() if message in ln]
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert len(lines) == 1 and lines[0].startswith(f"logic_models/reach.yml:{line}: warning: costs.periods[1]."
                                                       "participants."), lines
