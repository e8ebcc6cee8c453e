"""Every option a plan accepts either works or is refused at validate time (issue 17, point 6).

Each refusal names the plan's file and line, what was found and the valid choices, and comes
from ``evalkit validate`` before any data is read, not from the estimator at run time.
"""

from __future__ import annotations

import pytest

from evalkit.errors import OptionError
from evalkit.spec import raw as r
from evalkit.spec.options import DESIGN_OPTIONS, MATCHING_OPTIONS
from tests.test_spec_validation import MATCHED, PREPOST, line_of, make_project, only, problems


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
