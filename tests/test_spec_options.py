"""Every option a plan accepts either works or is refused at validate time (issue 17, point 6).

Each refusal names the plan's file and line, what was found and the valid choices, and comes
from ``evalkit validate`` before any data is read, not from the estimator at run time.
"""

from __future__ import annotations

import pytest

from evalkit.errors import OptionError
from evalkit.spec import raw as r
from evalkit.spec.options import DESIGN_OPTIONS, MATCHING_OPTIONS
from tests.test_spec_validation import EXTERNAL, MATCHED, PREPOST, line_of, make_project, only, problems


def test_ate_for_a_method_that_cannot_estimate_it_is_refused_with_file_line_and_choices(tmp_path):
    text = MATCHED.replace("  caliper: 0.2\n", "  caliper: 0.2\n  estimand: ate\n")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert only(root) == (
        f"evaluations/m.yml:{line_of(text, 'estimand: ate')}: error: matching.estimand: method 'nearest' matches "
        "comparison units to treated ones, which targets the ATT (found 'ate'; expected estimand: att, or "
        "method: exact, ipw for the ATE)")


@pytest.mark.parametrize("method", ["exact", "ipw"])
def test_ate_works_where_the_method_estimates_it(tmp_path, method):
    text = MATCHED.replace("  method: nearest\n  caliper: 0.2\n", f"  method: {method}\n  estimand: ate\n")
    assert problems(make_project(tmp_path, plans={"m.yml": text})) == []


def test_an_interaction_with_a_column_that_is_not_a_covariate_is_refused(tmp_path):
    # it used to be dropped silently: the propensity model had no term to multiply
    text = MATCHED.replace("  caliper: 0.2\n", "  caliper: 0.2\n  interactions: [[age, sdq_pre]]\n")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert only(root) == (
        f"evaluations/m.yml:{line_of(text, 'interactions:')}: error: matching.interactions[0][1]: an interaction "
        "multiplies two of the plan's covariates in the propensity model (found 'sdq_pre'; expected one of the "
        "covariates: age, female)")


def test_an_interaction_of_two_covariates_works(tmp_path):
    text = MATCHED.replace("  caliper: 0.2\n", "  caliper: 0.2\n  interactions: [[age, female]]\n")
    assert problems(make_project(tmp_path, plans={"m.yml": text})) == []


def test_an_option_the_method_does_not_use_is_refused(tmp_path):
    text = MATCHED.replace("  method: nearest\n  caliper: 0.2\n", "  method: ipw\n  caliper: 0.2\n  ratio: 2\n")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert problems(root) == [
        f"evaluations/m.yml:{line_of(text, 'caliper:')}: error: matching.caliper: not used by method 'ipw' "
        "(found caliper: 0.2; expected no caliper with method 'ipw', or method: nearest, optimal)",
        f"evaluations/m.yml:{line_of(text, 'ratio:')}: error: matching.ratio: not used by method 'ipw' "
        "(found ratio: 2; expected no ratio with method 'ipw', or method: nearest, optimal)"]


def test_optimal_with_replacement_is_refused(tmp_path):
    text = MATCHED.replace("method: nearest", "method: optimal\n  replace: true")
    assert "matching.replace: optimal pair matching is without replacement" in only(
        make_project(tmp_path, plans={"m.yml": text}))


def test_covariates_on_a_pre_post_are_refused_not_warned_at_run_time(tmp_path):
    text = PREPOST + "covariates: [age]\n"
    root = make_project(tmp_path, plans={"p.yml": text})
    assert only(root) == (
        f"evaluations/p.yml:{line_of(text, 'covariates:')}: error: covariates: not used by design 'pre_post' "
        "(found age; expected no covariates with this design (it is used by matched_comparison, "
        "difference_in_differences, rct, comparison_areas); this design uses cluster, subgroups)")


def test_weights_on_a_matched_comparison_are_refused(tmp_path):
    text = MATCHED + "weights: age\n"
    root = make_project(tmp_path, plans={"m.yml": text})
    assert only(root) == (
        f"evaluations/m.yml:{line_of(text, 'weights:')}: error: weights: not used by design 'matched_comparison' "
        "(found 'age'; expected no weights with this design (it is used by difference_in_differences); this "
        "design uses covariates, subgroups)")


def test_every_design_and_method_has_its_options_listed():
    # a design or method added without its row here would accept every option silently
    assert set(DESIGN_OPTIONS) == set(r.Design)
    assert set(MATCHING_OPTIONS) == set(r.MatchingMethod)
    assert set().union(*MATCHING_OPTIONS.values()) == set(r.Matching.model_fields)


def test_the_estimator_refuses_the_same_combinations_from_python():
    import pandas as pd

    from evalkit.estimate.matching.core import match

    frame = pd.DataFrame({"t": [1, 1, 0, 0, 0], "age": [12, 13, 12, 14, 15]})
    with pytest.raises(OptionError, match=r"matching.interactions\[0\]\[1\]: .*found 'x'; expected one of the "
                                          r"covariates: age"):
        match(frame, treatment="t", covariates=["age"], options=r.Matching(interactions=[("age", "x")]))


# ---------------------------------------------------------------- options that act only through another one
# each of these was accepted and dropped without a word before (issue 17, point 6)


def test_a_score_column_without_distance_column_is_refused(tmp_path):
    text = MATCHED.replace("  caliper: 0.2\n", "  caliper: 0.2\n  score_column: age\n")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert only(root) == (
        f"evaluations/m.yml:{line_of(text, 'score_column:')}: error: matching.score_column: not used with distance "
        "'logit' (the score is fitted from the covariates) (found score_column: age; expected distance: column to "
        "match on this score, or no score_column)")


def test_std_caliper_without_covariate_calipers_is_refused(tmp_path):
    text = MATCHED.replace("  caliper: 0.2\n", "  caliper: 0.2\n  std_caliper: true\n")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert only(root) == (
        f"evaluations/m.yml:{line_of(text, 'std_caliper:')}: error: matching.std_caliper: not used without covariate "
        "calipers (it says their unit) (found std_caliper: true; expected matching.calipers: {column: width}, or no "
        "std_caliper)")
    with_calipers = text.replace("  std_caliper: true\n", "  std_caliper: true\n  calipers: {age: 1}\n")
    assert problems(make_project(tmp_path / "b", plans={"m.yml": with_calipers})) == []


def test_the_estimator_notes_a_score_column_it_does_not_read_from_python():
    import pandas as pd

    from evalkit.estimate.matching.core import match

    frame = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0, 0], "age": [12, 13, 15, 12, 14, 15, 13, 16],
                          "s": [0.5] * 8})
    result = match(frame, treatment="t", covariates=["age"], options=r.Matching(score_column="s"))
    assert ("option_ignored", "matching.score_column is ignored: not used with distance 'logit' (the score is "
            "fitted from the covariates)") in result.notes


def test_a_treatment_column_on_a_design_without_comparison_group_is_warned(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  treatment: treated\n")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert problems(root) == []
    assert only(root, "warning") == (
        f"evaluations/p.yml:{line_of(text, 'treatment:')}: warning: data.treatment: ignored: design 'pre_post' has no "
        "comparison group (found 'treated'; expected data.treatment only with design: matched_comparison, "
        "difference_in_differences, rct)")


def test_a_population_column_on_a_design_that_rates_nothing_is_warned(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  population: age\n")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert problems(root) == []
    assert only(root, "warning") == (
        f"evaluations/p.yml:{line_of(text, 'population:')}: warning: data.population: ignored: design 'pre_post' does "
        "not rate counts by population (found 'age'; expected data.population only with design: "
        "interrupted_time_series, comparison_areas)")


@pytest.mark.parametrize("design", ["rct", "matched_comparison"])
def test_a_period_column_on_a_wide_form_design_is_refused(tmp_path, design):
    # it used to validate (as long form, with outcomes) and the design then read no timepoints
    text = MATCHED.replace("design: matched_comparison", f"design: {design}").replace(
        "  treatment: treated\n", "  treatment: treated\n  period: sdq_pre\n").replace(
        "timepoints:\n  suspended: {baseline: susp_pre, follow_up_12m: susp_post}", "outcomes: {suspended: susp_post}")
    root = make_project(tmp_path, plans={"m.yml": text})
    from evalkit.project import validate_project

    assert [str(p) for p in validate_project(root, check_data=False).errors] == [
        f"evaluations/m.yml:{line_of(text, 'period:')}: error: data.period: design '{design}' reads one row per "
        "unit (wide form) (found period 'sdq_pre'; expected no data.period, and timepoints: {indicator: {baseline: "
        "column, exit: column}}; data in long form with design: difference_in_differences, interrupted_time_series, "
        "comparison_areas)"]


def test_analysis_options_on_an_external_study_are_warned(tmp_path):
    # a published study is rated from what it reports: evalkit runs no subgroup model, clusters no
    # standard error and reads no session records for it
    text = EXTERNAL + ("subgroups: [female]\ncluster: school\nweights: w\n"
                       "delivery: {sessions: {path: data/s.csv, id: pupil_id, date: d}, planned_sessions: 8}\n")
    root = make_project(tmp_path, plans={"e.yml": text})
    assert problems(root) == []
    assert problems(root, "warning") == [
        f"evaluations/e.yml:{line_of(text, key + ':')}: warning: {key}: ignored: an external study is rated from "
        f"what it reports (found '{key}'; expected no analysis options on an external study)"
        for key in ("subgroups", "cluster", "weights", "delivery")]


def test_what_the_rating_of_an_external_study_cannot_use_is_warned(tmp_path):
    # the equivalence's sample without the equivalence, and intention to treat outside a trial, were
    # accepted and never read by the evidence rating
    text = EXTERNAL.replace("design: rct", "design: matched_comparison").replace(
        "  sample: {treated: 100, comparison: 100}\n",
        "  sample: {treated: 100, comparison: 100}\n  baseline_equivalence_sample: analysed\n"
        "  intention_to_treat: true\n")
    root = make_project(tmp_path, plans={"e.yml": text})
    assert problems(root) == []
    assert problems(root, "warning") == [
        f"evaluations/e.yml:{line_of(text, 'baseline_equivalence_sample:')}: warning: "
        "external.baseline_equivalence_sample: ignored: no baseline_equivalence to describe (found "
        "baseline_equivalence_sample: analysed; expected external.baseline_equivalence: true or false beside it, "
        "or no baseline_equivalence_sample)",
        f"evaluations/e.yml:{line_of(text, 'intention_to_treat:')}: warning: external.intention_to_treat: ignored: "
        "the evidence rating of design 'matched_comparison' has no intention-to-treat check (found "
        "intention_to_treat: true; expected intention_to_treat only with design: rct)"]
    trial = EXTERNAL.replace("  sample: {treated: 100, comparison: 100}\n", "  sample: {treated: 100, comparison: "
                             "100}\n  baseline_equivalence: true\n  baseline_equivalence_sample: analysed\n"
                             "  intention_to_treat: true\n")
    assert problems(make_project(tmp_path / "b", plans={"e.yml": trial}), "warning") == []

def test_did_weighting_without_the_area_did_is_refused(tmp_path):
    import shutil

    from evalkit.project import validate_project
    from tests.test_place_design import PLAN, REPO

    root = tmp_path / "p"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    shutil.copy(REPO / "logic_models" / "strategy.yml", root / "logic_models" / "strategy.yml")
    text = PLAN.format(extra="  second_estimate: none\n  did_weighting: population\n")
    (root / "evaluations" / "areas.yml").write_text(text)
    found = [str(p) for p in validate_project(root, check_data=False).problems]
    assert found == [
        f"evaluations/areas.yml:{line_of(text, 'did_weighting:')}: error: comparison_areas.did_weighting: not used "
        "with second_estimate 'none' (it weights the area difference-in-differences) (found did_weighting: "
        "population; expected no did_weighting, or second_estimate: area_did)"]
    (root / "evaluations" / "areas.yml").write_text(PLAN.format(extra="  did_weighting: population\n"))
    assert [str(p) for p in validate_project(root, check_data=False).problems] == []


def test_covariates_with_the_augmented_synthetic_control_are_refused(tmp_path):
    import shutil

    from evalkit.project import validate_project
    from tests.test_place_design import PLAN, REPO

    root = tmp_path / "p"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    shutil.copy(REPO / "logic_models" / "strategy.yml", root / "logic_models" / "strategy.yml")
    text = PLAN.format(extra="  method: augmented\n").replace("primary_outcome:", "covariates: [imd]\nprimary_outcome:")
    (root / "evaluations" / "areas.yml").write_text(text)
    assert [str(p) for p in validate_project(root, check_data=False).problems] == [
        f"evaluations/areas.yml:{line_of(text, 'covariates:')}: error: covariates: not used by method 'augmented' "
        "(the ridge augmented synthetic control fits the pre-period outcomes only) (found imd; expected no "
        "covariates with method: augmented, or method: synth (covariates are predictors of its fit))"]
    (root / "evaluations" / "areas.yml").write_text(text.replace("  method: augmented\n", ""))
    assert [str(p) for p in validate_project(root, check_data=False).problems] == []

def test_a_cluster_column_on_a_feasibility_study_without_planning_is_refused(tmp_path):
    from evalkit.project import validate_project
    from tests.test_feasibility import make_project as feasibility_project

    root = feasibility_project(tmp_path / "a", top="cluster: school\n")
    text = (root / "evaluations" / "tiny.yml").read_text()
    assert [str(p) for p in validate_project(root).errors] == [
        f"evaluations/tiny.yml:{line_of(text, 'cluster:')}: error: cluster: not used without feasibility.planning "
        "(the cluster column gives the ICC of the efficacy study's sample size) (found 'school'; expected "
        "feasibility.planning, or no cluster)"]
    planned = feasibility_project(tmp_path / "b", top="cluster: school\n",
                                  extra="  planning: {effect_size: 0.3, cluster_size: 10}\n")
    assert list(validate_project(planned).errors) == []


def _warnings_without_data(root) -> list[str]:
    from evalkit.project import validate_project

    found = validate_project(root, check_data=False).problems
    assert [p for p in found if p.severity == "error"] == []
    return [str(p) for p in found]


def test_a_planned_session_length_without_recorded_hours_is_warned(tmp_path):
    # delivery.session_hours is compared with each session's recorded hours, and with nothing else
    text = PREPOST + "delivery: {sessions: {path: data/s.csv, id: pupil_id, date: d}, planned_sessions: 8, " \
                     "session_hours: 1.5}\n"
    root = make_project(tmp_path, plans={"p.yml": text})
    assert _warnings_without_data(root) == [
        f"evaluations/p.yml:{line_of(text, 'session_hours:')}: warning: delivery.session_hours: ignored: no hours "
        "column in the session records (found session_hours: 1.5; expected delivery.sessions.hours: the sessions' "
        "contact hours column, or no session_hours)"]
    timed = text.replace("date: d}", "date: d, hours: h}")
    assert _warnings_without_data(make_project(tmp_path / "b", plans={"p.yml": timed})) == []


def test_a_worksheet_of_a_csv_file_is_warned(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  sheet: Cohort\n")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert _warnings_without_data(root) == [
        f"evaluations/p.yml:{line_of(text, 'sheet:')}: warning: data.sheet: ignored: only an .xlsx workbook has "
        "worksheets (found sheet 'Cohort' of 'data/cohort.csv'; expected no sheet, or an .xlsx file)"]
    workbook = text.replace("data/cohort.csv", "data/cohort.xlsx")
    assert _warnings_without_data(make_project(tmp_path / "b", plans={"p.yml": workbook})) == []


def test_a_worksheet_of_a_feasibility_study_s_csv_session_records_is_warned(tmp_path):
    from evalkit.project import validate_project
    from tests.test_feasibility import make_project as feasibility_project

    root = feasibility_project(tmp_path)
    plan = root / "evaluations" / "tiny.yml"
    text = plan.read_text().replace("fidelity: fidelity}", "fidelity: fidelity, sheet: Sessions}")
    plan.write_text(text)
    assert [str(p) for p in validate_project(root, check_data=False).problems] == [
        f"evaluations/tiny.yml:{line_of(text, 'sheet:')}: warning: feasibility.sessions.sheet: ignored: only an "
        ".xlsx workbook has worksheets (found sheet 'Sessions' of 'data/sessions.csv'; expected no sheet, or an "
        ".xlsx file)"]


# ---------------------------------------------------------------- the property, for every field


def _plan_models() -> list[type]:
    """Every pydantic model a plan's YAML can hold, from the plan file down."""
    import typing

    from pydantic import BaseModel

    def types(annotation):
        yield annotation
        for arg in typing.get_args(annotation):
            yield from types(arg)

    seen: list[type] = []
    todo: list[type] = [r.EvaluationFile]
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.append(model)
            for f in model.model_fields.values():
                todo += [t for t in types(f.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return seen


def test_every_field_a_plan_accepts_is_read_outside_the_checks():
    # a field no reader names cannot shape anything: it would be accepted and dropped. The readers
    # are every module outside evalkit/spec, and resolve.py, which turns the raw plan into the
    # resolved one; the checks (options.py, designs/) do not count, as refusing is not reading.
    # The source is read with ast (attributes and whole strings, so a docstring mentioning
    # "did.comparison" does not count), nothing imported.
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "evalkit"
    readers = [p for p in root.rglob("*.py") if "spec" not in p.relative_to(root).parts]
    readers.append(root / "spec" / "resolve.py")
    named: set[str] = set()
    for path in readers:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Attribute):
                named.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.add(node.value)
    unread = [f"{model.__name__}.{name}" for model in _plan_models() for name in model.model_fields
              if name not in named]
    assert unread == []
    assert {r.Matching, r.DifferenceInDifferences, r.Feasibility, r.External} <= set(_plan_models())
