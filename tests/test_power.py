"""Sample-size planning (evalkit.estimate.power) against published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.errors import EstimationError
from evalkit.estimate import power


@pytest.mark.parametrize("d, table_n", [(0.5, 64), (0.8, 26)])
def test_two_sample_n_matches_cohen_table(d, table_n):
    # Cohen J (1988) Statistical Power Analysis for the Behavioral Sciences, 2nd ed., Table 2.4.1:
    # n per group for a two-tailed t-test, alpha .05, power .80: d=.50 -> 64, d=.80 -> 26
    assert math.ceil(power.t_test_n(d, alpha=0.05, power=0.8)) == table_n


def test_small_effect_within_one_of_cohen_table():
    # Cohen (1988) Table 2.4.1 gives 393 for d=.20; his tables use a normal approximation with a
    # correction, the exact noncentral t gives 393.4, so 394 after rounding up
    assert abs(math.ceil(power.t_test_n(0.2)) - 393) <= 1


def test_ninety_percent_power_matches_kerry_bland_rule():
    # Kerry SM, Bland JM (1998) Sample size in cluster randomisation. BMJ 316:549: for 5% significance
    # and 90% power, n per group = 21 s^2 / d^2 (normal approximation); the t-test needs about one more
    for d in (0.25, 0.5):
        exact = power.t_test_n(d, alpha=0.05, power=0.9)
        assert 21 / d**2 <= exact <= 21 / d**2 + 1.5


def test_ancova_matches_bonett_statpsych_example():
    # statpsych (Bonett) size.test.ancova2(.05, .9, 1.37, .7, 1, 0, 1) -> 61 per group: error variance
    # 1.37, difference .7, one covariate. Bonett adds one per covariate for its degree of freedom; the
    # t-test on the residual SD gives 59.7, so 60, one below.
    n = power.t_test_n(0.7 / math.sqrt(1.37), alpha=0.05, power=0.9)
    assert math.ceil(n) + 1 == 61


def test_ancova_factor_and_design_effect_formulas():
    # Borm GF, Fransen J, Lemmens WA (2007) J Clin Epidemiol 60:1234: ANCOVA needs (1 - rho^2) of the
    # t-test's sample; Kerry & Bland (1998): design effect D = 1 + (m - 1) rho_I
    assert power.ancova_factor(0.5) == pytest.approx(0.75)
    assert power.ancova_factor(0.0) == 1.0
    assert power.design_effect(0.05, 20) == pytest.approx(1.95)
    assert power.design_effect(0.05, 40) == pytest.approx(2.95)
    assert power.design_effect(0.3, 1) == 1.0
    # with a large n the t-test approaches the normal formula, so the ANCOVA sample is (1 - r^2) of it
    plain = power.t_test_n(0.1)
    adjusted = power.t_test_n(0.1 / math.sqrt(power.ancova_factor(0.6)))
    assert adjusted / plain == pytest.approx(0.64, rel=0.01)


def test_mdes_matches_bloom_multiplier():
    # Bloom HS (1995) Minimum detectable effects. Evaluation Review 19(5):547-556: for large samples
    # MDE = 2.80 * sqrt(1/n_t + 1/n_c) in SD units (two-tailed alpha .05, power .80)
    n = 2000
    assert power.t_test_mdes(n) == pytest.approx(2.80 * math.sqrt(2 / n), rel=0.005)


def test_required_size_composes_every_inflation():
    inputs = power.PlanningInputs(effect_size=0.3, correlation=0.6, retention=0.8, icc=0.05, cluster_size=20)
    size = power.required_size(inputs)
    core = power.t_test_n(0.3 / math.sqrt(0.64))
    assert size.design_effect == pytest.approx(1.95)
    assert size.n_treated_analysed == math.ceil(core * 1.95)
    assert size.n_treated_recruited == math.ceil(size.n_treated_analysed / 0.8)
    assert size.n_comparison_recruited == size.n_treated_recruited
    assert size.clusters_per_arm == math.ceil(size.n_treated_recruited / 20)
    # and the MDES for that many recruits is (just under) the effect it was sized for
    assert power.minimum_detectable_effect(inputs, size.n_treated_recruited) == pytest.approx(0.3, abs=0.01)
    assert power.minimum_detectable_effect(inputs, size.n_treated_recruited) <= 0.3 + 1e-9


def test_matched_comparison_uses_ratio_and_matched_share():
    inputs = power.PlanningInputs(effect_size=0.25, comparison_ratio=2, matched_share=0.8)
    size = power.required_size(inputs, "matched_comparison")
    n1 = power.t_test_n(0.25, ratio=2)
    assert size.n_treated_analysed == math.ceil(n1)
    assert size.n_comparison_analysed == math.ceil(size.n_treated_analysed * 2)
    assert size.n_treated_recruited == math.ceil(size.n_treated_analysed / 0.8)
    trial = power.required_size(inputs, "two_arm_trial")
    assert size.n_treated_analysed < trial.n_treated_analysed  # more comparison units, fewer treated


def test_plan_rows_for_both_designs():
    rows = power.plan(power.PlanningInputs(effect_size=0.4), available_per_arm=50)
    assert [r["design"] for r in rows] == ["two_arm_trial", "matched_comparison"]
    assert rows[0]["mdes_for_available"] == pytest.approx(power.t_test_mdes(50))


def test_icc_anova_on_balanced_hand_example():
    # two clusters of two: means 1 and 3, grand mean 2; MSB = 2*(1+1)/1 = 4, MSW = (0+0+0+0)... use spread
    values = [0.0, 2.0, 2.0, 4.0]
    groups = ["a", "a", "b", "b"]
    # MSB = 2*((1-2)^2 + (3-2)^2) / 1 = 4; MSW = (1+1+1+1)/2 = 2; ICC = (4-2)/(4+(2-1)*2) = 1/3
    icc, k, mean_size = power.icc_anova(values, groups)
    assert icc == pytest.approx(1 / 3)
    assert (k, mean_size) == (2, 2.0)


def test_icc_anova_recovers_a_known_icc():
    rng = np.random.default_rng(7)
    estimates = []
    for _ in range(200):
        sizes = rng.integers(5, 15, 40)
        g = np.repeat(np.arange(40), sizes)
        y = rng.normal(0, math.sqrt(0.1), 40)[g] + rng.normal(0, math.sqrt(0.9), len(g))
        estimates.append(power.icc_anova(y, g)[0])
    assert np.mean(estimates) == pytest.approx(0.1, abs=0.015)


@pytest.mark.parametrize("bad, message", [
    (dict(retention=0.0), "retention"), (dict(icc=1.0, cluster_size=5), "ICC"),
    (dict(correlation=1.0), "correlation"), (dict(matched_share=1.5), "matched share"),
])
def test_bad_planning_inputs_name_the_input(bad, message):
    with pytest.raises(EstimationError, match=message):
        power.required_size(power.PlanningInputs(effect_size=0.3, **bad))


def test_icc_needs_two_clusters():
    with pytest.raises(EstimationError, match="at least 2 clusters"):
        power.icc_anova([1.0, 2.0, 3.0], ["a", "a", "a"])
