"""Cost per outcome: every number against a hand calculation, Fieller against brute-force
inversion of its test, interval coverage in simulation, seeded Monte Carlo identical across
processes, and honest results when the effect's interval includes no effect."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from evalkit.vfm import results as vr
from evalkit.vfm.effects import Effect, effect_from_estimate, outcomes_achieved
from evalkit.vfm.errors import VfmError
from evalkit.vfm.ratio import cost_per_outcome, fieller_roots
from evalkit.vfm.results import Status

Z = 1.959963984540054
COST = 422_530.0


def suspension(lo=-0.173, est=-0.114, hi=-0.0553, n=214, **kw):
    return Effect("suspension avoided", est, lo, hi, "difference", "decrease", n=n, **kw)


# ---------------------------------------------------------------------------- outcomes


def test_outcomes_on_the_difference_scale_by_hand():
    o = outcomes_achieved(suspension())
    assert o.central == pytest.approx(0.114 * 214, rel=1e-14)  # 24.396 suspensions avoided
    assert (o.low, o.high) == pytest.approx((0.0553 * 214, 0.173 * 214), rel=1e-14)
    assert o.std_error == pytest.approx((0.173 - 0.0553) / (2 * Z) * 214, rel=1e-12)


def test_outcomes_when_higher_is_better():
    e = Effect("reliable improvement", 0.31, 0.25, 0.37, "difference", "increase", n=120)
    o = outcomes_achieved(e)
    assert (o.central, o.low, o.high) == pytest.approx((37.2, 30.0, 44.4), rel=1e-14)


def test_outcomes_on_the_total_and_ratio_scales_by_hand():
    o = outcomes_achieved(Effect("admission avoided", -9.0, -15.0, -3.0, "total", "decrease"))
    assert (o.central, o.low, o.high) == (9.0, 3.0, 15.0)
    r = outcomes_achieved(Effect("offence avoided", 0.8, 0.64, 1.0, "ratio", "decrease", baseline_events=250))
    assert (r.central, r.low, r.high) == pytest.approx((50.0, 0.0, 90.0), abs=1e-12)
    assert r.std_error == pytest.approx(250 * 0.8 * (math.log(1.0) - math.log(0.64)) / (2 * Z), rel=1e-12)


# ---------------------------------------------------------------------------- methods


def test_fieller_with_known_costs_carries_the_interval_through():
    r = cost_per_outcome(COST, suspension(), analysis_year="2023-24")
    assert r.status is Status.estimable
    assert r.cost_per_outcome == pytest.approx(COST / (0.114 * 214), rel=1e-14)  # £17,320
    assert r.ci_low == pytest.approx(COST / (0.173 * 214), rel=1e-14)  # £11,413
    assert r.ci_high == pytest.approx(COST / (0.0553 * 214), rel=1e-14)  # £35,704
    assert r.method == "fieller" and "carried through" in r.method_text


def _fieller_by_inversion(c, sc, o, so):
    """The set {R : |c - R o| / sqrt(sc^2 + R^2 so^2) <= z}, found by root-finding on its edge."""
    from scipy.optimize import brentq

    def t(r):
        return (c - r * o) ** 2 - Z * Z * (sc * sc + r * r * so * so)

    centre = c / o
    return brentq(t, 1e-9, centre), brentq(t, centre, centre * 1e3)


def test_fieller_with_cost_uncertainty_matches_brute_force_inversion():
    e = suspension()
    o = outcomes_achieved(e)
    r = cost_per_outcome(COST, e, cost_std_error=40_000)
    lo, hi = _fieller_by_inversion(COST, 40_000, o.central, o.std_error)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-9)
    a = o.central ** 2 - Z * Z * o.std_error ** 2  # closed form, written out once more
    disc = COST ** 2 * o.std_error ** 2 + o.central ** 2 * 40_000 ** 2 - Z * Z * 40_000 ** 2 * o.std_error ** 2
    assert r.ci_low == pytest.approx((COST * o.central - Z * math.sqrt(disc)) / a, rel=1e-12)


def test_delta_method_by_hand():
    e = suspension()
    o = outcomes_achieved(e)
    r = cost_per_outcome(COST, e, method="delta", cost_std_error=40_000)
    ratio = COST / o.central
    se = ratio * math.sqrt((40_000 / COST) ** 2 + (o.std_error / o.central) ** 2)
    assert (r.cost_per_outcome, r.ci_low, r.ci_high) == pytest.approx((ratio, ratio - Z * se, ratio + Z * se),
                                                                       rel=1e-12)


def test_monte_carlo_with_fixed_costs_agrees_with_the_carried_interval():
    r = cost_per_outcome(COST, suspension(), method="monte_carlo", seed=11, draws=200_000)
    o = outcomes_achieved(suspension())
    # normal draws of the effect: the interval is C / (O -/+ z se), within Monte Carlo error
    assert r.ci_low == pytest.approx(COST / (o.central + Z * o.std_error), rel=0.01)
    assert r.ci_high == pytest.approx(COST / (o.central - Z * o.std_error), rel=0.02)
    from statistics import NormalDist

    # the share of draws with no improvement is P(O <= 0) = Phi(-O / se), about 7 in 100,000 here
    assert r.share_no_benefit == pytest.approx(NormalDist().cdf(-o.central / o.std_error), abs=5e-5)
    assert r.draws == 200_000 and r.seed == 11


def test_monte_carlo_probability_below_thresholds():
    r = cost_per_outcome(COST, suspension(), method="monte_carlo", seed=3, draws=100_000,
                         thresholds=(COST / (0.114 * 214),))
    # with costs fixed, P(C/O <= C/O_central) = P(O >= O_central) = 0.5 for a normal effect
    assert r.probability_below[0][1] == pytest.approx(0.5, abs=0.01)


def test_monte_carlo_is_identical_in_another_process_and_hash_seed():
    code = ("import json; from evalkit.vfm.effects import Effect; from evalkit.vfm.ratio import cost_per_outcome;"
            "from evalkit.vfm.results import as_plain;"
            "e = Effect('suspension avoided', -0.114, -0.173, -0.0553, 'difference', 'decrease', n=214);"
            "r = cost_per_outcome(422530, e, method='monte_carlo', seed=20240301, cost_low=350000, cost_high=520000,"
            " thresholds=(15000, 20000));"
            "print(json.dumps(as_plain(r), sort_keys=True))")
    outs = []
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        outs.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                   check=True).stdout)
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert data["method"] == "monte_carlo" and data["status"] == "estimable"
    # a different seed gives different draws
    e = suspension()
    other = cost_per_outcome(COST, e, method="monte_carlo", seed=1, cost_low=350000, cost_high=520000)
    assert other.ci_low != data["ci_low"]


@pytest.mark.slow
def test_fieller_interval_covers_the_true_ratio_in_simulation():
    rng = np.random.default_rng(20240301)
    true_c, true_o, sc, so = 400_000.0, 25.0, 40_000.0, 6.0
    hits = 0
    reps = 4000
    for c, o in zip(rng.normal(true_c, sc, reps), rng.normal(true_o, so, reps)):
        lo, hi, bounded = fieller_roots(c, sc * sc, o, so * so, Z)
        hits += bounded and lo <= true_c / true_o <= hi
    assert 0.94 <= hits / reps <= 0.96  # Fieller is exact for known variances: 95%


# ---------------------------------------------------------------------------- honesty


def test_effect_interval_including_no_effect_gives_no_figure():
    e = suspension(lo=-0.09, est=-0.03, hi=0.03)
    r = cost_per_outcome(COST, e)
    assert r.status is Status.no_upper_limit
    assert r.cost_per_outcome is None and r.ci_low is None and r.ci_high is None
    assert r.at_least == pytest.approx(COST / (0.09 * 214), rel=1e-14)
    assert r.note == ("No figure: the effect's 95% interval includes no effect (-6.4 to 19.3 outcomes), so the "
                      "cost per suspension avoided has no upper limit; it is at least £21,938.")


def test_effect_interval_including_no_effect_with_cost_uncertainty_and_monte_carlo():
    e = suspension(lo=-0.09, est=-0.03, hi=0.03)
    fieller = cost_per_outcome(COST, e, cost_std_error=40_000)
    assert fieller.status is Status.no_upper_limit and fieller.cost_per_outcome is None
    mc = cost_per_outcome(COST, e, method="monte_carlo", seed=5)
    assert mc.status is Status.no_upper_limit and mc.cost_per_outcome is None and mc.ci_high is None
    assert 0.1 < mc.share_no_benefit < 0.25  # P(N(0.03, 0.0306) < 0) is about 16%
    delta = cost_per_outcome(COST, e, method="delta")
    assert delta.status is Status.no_upper_limit and delta.at_least is None
    assert delta.note.endswith("The delta method gives no usable interval here.")


def test_central_estimate_in_the_wrong_direction_gives_no_figure_at_all():
    e = suspension(lo=-0.05, est=0.01, hi=0.07)
    for method, extra in (("fieller", {}), ("delta", {}), ("monte_carlo", {"seed": 1})):
        r = cost_per_outcome(COST, e, method=method, **extra)
        assert r.status is Status.no_benefit
        assert (r.cost_per_outcome, r.ci_low, r.ci_high, r.at_least) == (None, None, None, None)
        assert r.note == ("Not defined: the central estimate shows no suspension avoided (outcomes -2.1), so there "
                          "is no cost per suspension avoided to give.")


def test_frame_of_cost_per_outcome_results():
    rows = [cost_per_outcome(COST, suspension()), cost_per_outcome(COST, suspension(lo=-0.09, est=-0.03, hi=0.03))]
    frame = vr.cost_per_outcome_frame(rows)
    assert list(frame["status"]) == ["estimable", "no_upper_limit"]
    assert frame.loc[1, "cost_per_outcome"] is None or math.isnan(frame.loc[1, "cost_per_outcome"])
    assert frame.loc[0, "outcomes_central"] == pytest.approx(24.396)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="bootstrap"), "method: 'bootstrap' is not a valid choice; expected one of 'fieller', 'delta', "
                               "'monte_carlo'"),
    (dict(method="monte_carlo"), "the Monte Carlo method needs a whole-number seed (found None); every random step "
                                 "in evalkit takes one, so results can be reproduced"),
    (dict(cost_low=300_000, cost_high=500_000), "cost_low / cost_high describe a range of costs that only the Monte "
                                                "Carlo method uses; with method 'fieller' give cost_std_error instead"),
    (dict(method="monte_carlo", seed=1, cost_low=500_000, cost_high=600_000),
     "cost range must run from low to high around the total cost: found low 500,000, total 422,530, high 600,000"),
    (dict(cost_std_error=-1), "cost_std_error must be 0 or more (found -1)"),
    (dict(thresholds=(1000,)), "thresholds (the chance the cost per outcome is below an amount) need the Monte Carlo "
                               "method"),
])
def test_bad_requests(kwargs, message):
    with pytest.raises(VfmError) as info:
        cost_per_outcome(COST, suspension(), **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("effect, message", [
    (Effect("x", -0.2, -0.1, 0.1, "difference", "decrease", n=10),
     "effect 'x': the estimate -0.2 is not inside its interval [-0.1, 0.1]"),
    (Effect("x", -0.2, None, None, "difference", "decrease", n=10),
     "effect 'x': no confidence interval and no standard error, so no interval can be put on the cost per outcome; "
     "give ci_low and ci_high (or std_error)"),
    (Effect("x", -0.2, -0.3, -0.1, "difference", "decrease"),
     "effect 'x': a difference per participant needs n, the number of participants it applies to (normally those "
     "who started); found None"),
    (Effect("x", 0.8, 0.6, 1.1, "ratio", "decrease"),
     "effect 'x': a ratio needs baseline_events, the events expected without the programme over the same people and "
     "period, to count the events avoided; found None"),
])
def test_bad_effects(effect, message):
    with pytest.raises(VfmError) as info:
        cost_per_outcome(COST, effect)
    assert str(info.value) == message


def test_bad_scale_lists_the_choices():
    with pytest.raises(VfmError) as info:
        Effect("x", 1, 0, 2, "percent", "decrease")
    assert str(info.value) == ("effect 'x': scale: 'percent' is not a valid choice; expected one of 'difference', "
                               "'total', 'ratio'")


def test_total_cost_must_be_positive():
    with pytest.raises(VfmError) as info:
        cost_per_outcome(0, suspension())
    assert str(info.value) == "total cost must be a positive amount (found 0); a cost per outcome needs what was spent"


def test_effect_from_an_estimate_record():
    from evalkit.results import Estimate

    est = Estimate(indicator="suspended", design="matched_comparison", estimand="att", timepoints=("follow_up_12m",),
                   n=620, estimate=-0.114, std_error=0.030, ci_low=-0.173, ci_high=-0.0553, p_value=0.001,
                   method="WLS", units="proportion", direction_good=True, n_treated=310, n_comparison=310)
    e = effect_from_estimate(est, outcome="suspension avoided", scale="difference", good_when="decrease")
    assert (e.n, e.std_error, e.ci_low, e.source) == (310, 0.030, -0.173, "suspended: att")
    e = effect_from_estimate(est, outcome="suspension avoided", scale="difference", good_when="decrease", n=214)
    assert outcomes_achieved(e).central == pytest.approx(0.114 * 214)
