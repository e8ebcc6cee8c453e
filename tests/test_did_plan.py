"""The plan's `did:` section: comparison units, event-study window, few-units threshold.

Each option is checked twice: that validate reads it (with file:line, key path, found and
expected for a bad value) and that the estimator uses it and records the choice in the results.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evalkit.errors import EstimationError
from evalkit.estimate import did
from evalkit.project import load_project
from evalkit.spec import raw as r
from test_did import _plan, _staggered
from test_spec_validation import line_of, make_project, only, problems

DID_PLAN = """\
id: demo-did
intervention: demo
title: Offences per term, schools in the programme against the rest
stage: test_for_efficacy
design: difference_in_differences
evaluator: {name: University, independent: true}
data: {path: data/panel.csv, id: school, period: term, treatment: active}
outcomes: {offences: offences}
primary_outcome: offences
follow_up_months: 12
"""
PANEL = "school,term,active,offences\n" + "".join(
    f"{s},2024-0{t},{int(s in 'ab' and t >= 3)},{(3 * t + ord(s)) % 5}\n" for s in "abcd" for t in (1, 2, 3, 4))


def _project(tmp_path, plan: str):
    root = make_project(tmp_path, plans={"d.yml": plan})
    (root / "evaluations" / "data" / "panel.csv").write_text(PANEL)
    return root


# ----------------------------------------------------------------------------- validate


def test_plan_without_did_section_gets_the_defaults(tmp_path):
    root = _project(tmp_path, DID_PLAN)
    assert problems(root) == [] and problems(root, "warning") == []
    ev = load_project(root).evaluation("demo-did")
    assert ev.did == r.DifferenceInDifferences()
    assert ev.did.comparison is None  # chosen from the data: never-treated units when there are any
    assert (ev.did.event_window.leads, ev.did.event_window.lags, ev.did.min_cell_units) == (12, 12, 10)
    assert (did.MAX_LEADS, did.MAX_LAGS, did.FEW_UNITS) == (12, 12, 10)  # the estimator's defaults are the plan's


def test_every_did_option_is_read(tmp_path):
    text = DID_PLAN + ("did:\n  comparison: not_yet_treated\n  event_window: {leads: 4, lags: 3}\n"
                       "  min_cell_units: 25\n")
    root = _project(tmp_path, text)
    assert problems(root) == [] and problems(root, "warning") == []
    ev = load_project(root).evaluation("demo-did")
    assert ev.did.comparison is r.DidComparison.not_yet_treated
    assert (ev.did.event_window.leads, ev.did.event_window.lags, ev.did.min_cell_units) == (4, 3, 25)


def test_bad_comparison_names_file_line_path_and_choices(tmp_path):
    text = DID_PLAN + "did:\n  comparison: last_treated\n"
    msg = only(_project(tmp_path, text))
    assert msg.startswith(f"evaluations/d.yml:{line_of(text, 'last_treated')}: error: did.comparison: invalid value")
    assert "found 'last_treated'" in msg and "expected one of 'never_treated', 'not_yet_treated'" in msg


def test_bad_event_window_and_threshold(tmp_path):
    text = DID_PLAN + "did:\n  event_window:\n    leads: 1\n  min_cell_units: 0\n"
    found = problems(_project(tmp_path, text))
    assert len(found) == 2, found
    leads = next(p for p in found if "did.event_window.leads" in p)
    assert leads.startswith(f"evaluations/d.yml:{line_of(text, 'leads: 1')}: error: did.event_window.leads:")
    assert "found 1; expected greater than or equal to 2" in leads
    units = next(p for p in found if "did.min_cell_units" in p)
    assert units.startswith(f"evaluations/d.yml:{line_of(text, 'min_cell_units')}: error: did.min_cell_units:")
    assert "found 0; expected greater than or equal to 1" in units


def test_unknown_did_key_lists_the_valid_ones(tmp_path):
    text = DID_PLAN + "did:\n  control_group: never\n"
    msg = only(_project(tmp_path, text))
    assert msg.startswith(f"evaluations/d.yml:{line_of(text, 'control_group')}: error: did.control_group: unknown key")
    assert "expected one of comparison, event_window, min_cell_units" in msg


def test_did_section_on_another_design_is_a_warning(tmp_path):
    from test_spec_validation import PREPOST

    text = PREPOST + "did: {comparison: never_treated}\n"
    root = make_project(tmp_path, plans={"p.yml": text})
    assert problems(root) == []
    msg = only(root, "warning")
    assert msg.startswith(f"evaluations/p.yml:{line_of(text, 'did:')}: warning: did: ignored: design 'pre_post' "
                          "is not difference-in-differences")
    assert "expected did only with design: difference_in_differences" in msg


def test_phoenix_contract_plan_has_no_did_section_and_keeps_the_defaults(example_project_ro):
    text = (example_project_ro / "evaluations" / "phoenix-did.yml").read_text()
    assert "\ndid:" not in text
    assert load_project(example_project_ro).evaluation("phoenix-2023-did").did == r.DifferenceInDifferences()


# ----------------------------------------------------------------------------- the estimator


def _with(plan, **options):
    return dataclasses.replace(plan, did=r.DifferenceInDifferences(**options))


@pytest.fixture(scope="module")
def phoenix(example_project_ro):
    return load_project(example_project_ro).evaluation("phoenix-2023-did")


@pytest.fixture(scope="module")
def staggered(phoenix):
    frame, _ = _staggered(np.random.default_rng(11), n_per=30, n_never=60)
    return frame, _plan(phoenix, id="unit", period="period", treatment="treated")


def _gt(result, plan):
    return result.sections["group_time"][plan.primary_outcome.id]


def _overall(result):
    return next(e for e in result.estimates if e.estimand == "group_time")


def test_comparison_default_and_from_the_plan(staggered):
    frame, plan = staggered
    default = did.analyse(plan, frame, seed=1)
    gt = _gt(default, plan)
    assert gt["comparison"] == "never_treated" and gt["comparison_chosen_by"] == "default: some units are never treated"
    assert "never-treated comparison (default: some units are never treated)" in _overall(default).method
    assert {c["n_comparison"] for c in gt["cells"]} == {60}

    nyt = did.analyse(_with(plan, comparison="not_yet_treated"), frame, seed=1)
    gt = _gt(nyt, plan)
    assert gt["comparison"] == "not_yet_treated" and gt["comparison_chosen_by"] == "plan: did.comparison"
    assert "not-yet-treated comparison (plan: did.comparison)" in _overall(nyt).method
    cells = {(c["cohort_label"], c["period_label"]): c for c in gt["cells"]}
    # the early cohort (first treated in period 5) at period 6: never-treated plus the later cohort
    # (first treated in period 9), which is still untreated; at period 10 only the never-treated
    assert cells[("5", "6")]["n_comparison"] == 90 and cells[("5", "10")]["n_comparison"] == 60
    assert _overall(nyt).estimate != _overall(default).estimate

    # the plan saying never_treated is the same as the default here, but recorded as chosen
    nt = did.analyse(_with(plan, comparison="never_treated"), frame, seed=1)
    assert _overall(nt).estimate == _overall(default).estimate
    assert _gt(nt, plan)["comparison_chosen_by"] == "plan: did.comparison"
    # the Python argument still overrides the plan
    arg = did.analyse(_with(plan, comparison="never_treated"), frame, seed=1, comparison="not_yet_treated")
    assert _overall(arg).estimate == _overall(nyt).estimate
    assert _gt(arg, plan)["comparison_chosen_by"].startswith("caller:")


def test_plan_asking_for_never_treated_when_there_are_none_says_how_to_fix(phoenix):
    frame, _ = _staggered(np.random.default_rng(3), n_never=0)
    plan = _with(_plan(phoenix, id="unit", period="period", treatment="treated"), comparison="never_treated")
    with pytest.raises(EstimationError, match=r"no unit is never treated.*did: \{comparison: not_yet_treated\}"):
        did.analyse(plan, frame, seed=1)


def test_event_window_from_the_plan(staggered):
    frame, plan = staggered
    result = did.analyse(_with(plan, event_window=r.EventWindow(leads=3, lags=2)), frame, seed=1)
    es = result.sections["event_study"][plan.primary_outcome.id]
    assert (es["window"]["leads"], es["window"]["lags"], es["window"]["source"]) == (3, 2, "plan: did.event_window")
    assert [row["event_time"] for row in es["rows"]] == [-3, -2, -1, 0, 1, 2]
    assert [row["binned"] for row in es["rows"] if row["event_time"] in (-3, 2)] == [True, True]
    assert es["pre_trend_test"]["leads"] == 2
    rows = [e for e in result.estimates if e.estimand == "event_time"]
    assert {e.timepoints[0] for e in rows} == {"e=-3", "e=-2", "e=0", "e=1", "e=2"}
    assert all("binned at -3 and +2" in e.method for e in rows)
    # binned ends hold every unit beyond them: e=2 pools event times 2..7 of the early cohort
    assert next(r for r in es["rows"] if r["event_time"] == 2)["n_treated_units"] == 60

    default = did.analyse(plan, frame, seed=1)
    es = default.sections["event_study"][plan.primary_outcome.id]
    assert es["window"]["source"] == "default" and min(r["event_time"] for r in es["rows"]) == -8
    assert all("binned at -12 and +12" in e.method for e in default.estimates if e.estimand == "event_time")


def test_min_cell_units_from_the_plan(staggered):
    frame, plan = staggered
    default = did.analyse(plan, frame, seed=1)
    assert not [w for w in default.warnings if w.code == "few_units"]
    assert _gt(default, plan)["few_units_threshold"] == 10
    assert _gt(default, plan)["few_units_threshold_source"] == "default"

    strict = did.analyse(_with(plan, min_cell_units=31), frame, seed=1)  # cohorts have 30 units each
    gt = _gt(strict, plan)
    assert gt["few_units_threshold"] == 31 and gt["few_units_threshold_source"] == "plan: did.min_cell_units"
    flagged = [c for c in gt["cells"] if c["estimate"] is not None]
    assert len(gt["cells_with_few_units"]) == len(flagged)
    warning = next(w for w in strict.warnings if w.code == "few_units")
    assert f"{len(flagged)} group-time cell(s) rest on fewer than 31" in warning.message
    assert "fewer than 31 units on either side flagged" in _overall(strict).method
    # the threshold changes warnings only, never an estimate
    assert _overall(strict).estimate == _overall(default).estimate


def test_published_schema_takes_the_did_section():
    import json
    from pathlib import Path

    import yaml

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "evaluation.schema.json").read_text())
    good = yaml.safe_load(DID_PLAN + "did: {comparison: not_yet_treated, event_window: {leads: 6, lags: 0}, "
                          "min_cell_units: 5}\n")
    jsonschema.validate(good, schema)
    for bad in ("did: {comparison: last_treated}\n", "did: {event_window: {leads: 1}}\n",
                "did: {min_cell_units: 0}\n", "did: {window: 3}\n"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(yaml.safe_load(DID_PLAN + bad), schema)
