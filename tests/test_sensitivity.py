"""E-values against VanderWeele & Ding (2017)'s worked examples; Rosenbaum bounds against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.errors import EstimationError, OptionError
from evalkit.estimate import sensitivity as s


def test_evalue_smoking_and_lung_cancer():
    """VanderWeele & Ding (2017), Hammond & Horn's smoking and lung cancer: RR 10.73 (95% CI
    8.02-14.36) -> E-value 20.95 for the estimate and 15.52 for the lower limit (also the R
    package EValue's vignette: evalues.RR(10.73, 8.02, 14.36) = 20.94777, 15.52336)."""
    out = s.evalue_rr(10.73, 8.02, 14.36)
    assert out["point"] == pytest.approx(20.94777, abs=1e-4)
    assert out["ci_bound"] == pytest.approx(15.52336, abs=1e-4)


def test_evalue_breastfeeding_example():
    """VanderWeele & Ding (2017), formula-fed infants' risk of death from respiratory infection
    (Victora et al.): RR 3.9 (1.8-8.7) -> E-value 7.2 (7.26), CI limit 3.0."""
    out = s.evalue_rr(3.9, 1.8, 8.7)
    assert out["point"] == pytest.approx(7.263, abs=1e-3)
    assert out["ci_bound"] == pytest.approx(3.0, abs=1e-9)


def test_protective_effects_use_the_reciprocal_and_the_upper_limit():
    out = s.evalue_rr(1 / 3.9, 1 / 8.7, 1 / 1.8)
    assert out["point"] == pytest.approx(7.263, abs=1e-3) and out["ci_bound"] == pytest.approx(3.0)
    assert s.evalue_rr(0.8, 0.6, 1.1)["ci_bound"] == 1.0  # CI includes the null
    assert s.evalue_rr(1.0)["point"] == 1.0


def test_conversions_follow_the_paper():
    # common outcome: OR -> sqrt(OR); HR -> (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)); SMD d -> exp(0.91 d)
    assert s.to_risk_ratio(4.0, "odds_ratio", common_outcome=True) == pytest.approx(2.0)
    assert s.to_risk_ratio(4.0, "odds_ratio") == 4.0
    hr = s.to_risk_ratio(2.0, "hazard_ratio", common_outcome=True)
    assert hr == pytest.approx((1 - 0.5 ** math.sqrt(2)) / (1 - 0.5 ** math.sqrt(0.5)))
    d = s.evalue(0.5, scale="smd", std_error=0.1)
    rr = math.exp(0.91 * 0.5)
    assert d["point"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    lo = math.exp(0.91 * 0.5 - 1.78 * 0.1)
    assert d["ci_bound"] == pytest.approx(lo + math.sqrt(lo * (lo - 1)))
    with pytest.raises(OptionError, match="risk_ratio"):
        s.evalue(1.2, scale="percent")
    with pytest.raises(EstimationError, match="positive"):
        s.evalue_rr(-1.0)


def test_rosenbaum_gamma_one_is_the_wilcoxon_test():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(11)
    diffs = rng.normal(0.4, 1, 60)
    ref = wilcoxon(diffs, alternative="greater", method="approx", correction=False).pvalue
    assert s.rosenbaum_p(diffs, 1.0)["p_upper"] == pytest.approx(ref, rel=1e-10)
    assert s.rosenbaum_p(diffs, 1.0)["p_lower"] == pytest.approx(ref, rel=1e-10)


def test_rosenbaum_gamma_critical():
    rng = np.random.default_rng(12)
    weak, strong = rng.normal(0.3, 1, 100), rng.normal(1.0, 1, 100)
    bw, bs = s.rosenbaum_bounds(weak), s.rosenbaum_bounds(strong)
    assert 1.0 < bw["gamma_critical"] < bs["gamma_critical"]
    # at Γ* the upper-bound p-value is alpha
    assert s.rosenbaum_p(strong, bs["gamma_critical"])["p_upper"] == pytest.approx(0.05, abs=1e-6)
    ps = [row["p_upper"] for row in bs["table"]]
    assert ps == sorted(ps)  # more hidden bias allowed, weaker evidence
    # a harmful-looking difference tested for a decrease: not significant even at Γ = 1
    assert s.rosenbaum_bounds(strong, increase=False)["gamma_critical"] == 1.0
    assert s.rosenbaum_bounds(-strong, increase=False)["gamma_critical"] == pytest.approx(bs["gamma_critical"])
    with pytest.raises(EstimationError, match="matched pairs"):
        s.rosenbaum_bounds([1.0])


def test_pair_outcomes_give_the_same_bounds():
    rng = np.random.default_rng(13)
    treated, control = rng.normal(1, 1, 50), rng.normal(0.3, 1, 50)
    d = s.pair_differences(treated, control)
    assert s.rosenbaum_bounds(d)["gamma_critical"] == s.rosenbaum_bounds(treated - control)["gamma_critical"]
    with pytest.raises(EstimationError, match="one of each"):
        s.pair_differences([1, 2], [1])


def test_rosenbaum_reading_when_not_significant_even_at_gamma_one():
    """Issue 15 point 4: a test not significant at Gamma = 1 has no Gamma* to quote."""
    from evalkit.estimate.causal import rosenbaum_reading

    rng = np.random.default_rng(4)
    out = s.rosenbaum_bounds(rng.normal(0.0, 1.0, 40))
    assert out["p_value_gamma_1"] >= 0.05 and out["gamma_critical"] == 1.0
    text = rosenbaum_reading(out, "signed-rank test", "change the odds of treatment within a pair")
    assert "not significant at 5% even without hidden bias" in text and "stays significant" not in text
    sig = s.rosenbaum_bounds(rng.normal(0.8, 1.0, 40))
    text = rosenbaum_reading(sig, "signed-rank test", "change the odds of treatment within a pair")
    assert text.startswith("the one-sided signed-rank test stays significant at 5% until") and \
        f"{sig['gamma_critical']:.2f}" in text


def test_report_does_not_say_stays_significant_when_gamma_one_is_not_significant(tmp_path):
    from dataclasses import replace

    from test_publish_routes import _text
    from test_report_data import context, publish_report
    from test_report_verdict import matched_result

    result = matched_result()
    rb = {"status": "computed", "gamma_critical": 1.0, "p_value_gamma_1": 0.31, "alpha": 0.05}
    result = replace(result, sections={**result.sections, "sensitivity": {"rosenbaum": rb}})
    text = _text(publish_report(tmp_path, result, context())["html"])
    assert "not significant even before any hidden bias" in text and "stays significant" not in text
