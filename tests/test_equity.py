"""Equity in monitoring: breakdowns, relative rate index, stage disproportionality and reach,
each number against a hand calculation (and Wilson against statsmodels)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evalkit.errors import DataError, OptionError
from evalkit.monitor.equity import (Counted, Disparity, breakdown, breakdown_frame, disproportionality_frame, reach,
                                    reach_frame, relative_rate_index, stage_disproportionality)

Z = 1.959963984540054

REFERRALS = pd.DataFrame({"ethnicity": ["White", "Asian", "Black", "Mixed", "Other", "Not known"],
                          "count": [120, 90, 30, 12, 3, 15]})
POPULATION = pd.DataFrame({"ethnicity": ["Asian", "Black", "Mixed", "Other", "White"],
                           "population": [18_000, 3_000, 2_500, 1_500, 40_000]})


def rows(result):
    return {r.group: r for r in result.rows}


def test_rri_people_katz_log_method_by_hand():
    res = relative_rate_index(REFERRALS, POPULATION, "ethnicity")
    r = rows(res)
    assert res.reference == "White" and [g.group for g in res.rows][0] == "White"
    a, n1, b, n0 = 90, 18_000, 120, 40_000
    rri = (a / n1) / (b / n0)
    se = math.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n0)
    assert r["Asian"].rri == pytest.approx(rri, rel=1e-12) == pytest.approx(5 / 3)
    assert r["Asian"].se_log_rri == pytest.approx(se, rel=1e-12)
    assert r["Asian"].rri_low == pytest.approx(rri * math.exp(-Z * se), rel=1e-12)
    assert r["Asian"].rri_high == pytest.approx(rri * math.exp(Z * se), rel=1e-12)
    assert r["Asian"].disparity is Disparity.higher  # about 1.27 to 2.18
    black = (30 / 3_000) / (120 / 40_000)
    assert r["Black"].rri == pytest.approx(black) and r["Black"].disparity is Disparity.higher
    # rate per 1,000 residents with the Wilson interval of a proportion
    lo, hi = proportion_confint(90, 18_000, method="wilson")
    assert (r["Asian"].rate, r["Asian"].rate_low, r["Asian"].rate_high) == (
        pytest.approx(5.0), pytest.approx(1000 * lo, rel=1e-10), pytest.approx(1000 * hi, rel=1e-10))
    # shares and representation (YJB's share in the system against share of the population)
    total_counted, total_pop = 120 + 90 + 30 + 12 + 3, 65_000
    assert r["Asian"].share_of_count == pytest.approx(90 / total_counted)
    assert r["Asian"].representation == pytest.approx((90 / total_counted) / (18_000 / total_pop))
    # the reference row
    assert r["White"].rri == 1.0 and r["White"].disparity is Disparity.reference and r["White"].se_log_rri is None
    assert "Katz" in res.method


def test_rri_events_poisson_by_hand():
    res = relative_rate_index(REFERRALS, POPULATION, "ethnicity", counted="events", per=100_000)
    r = rows(res)["Mixed"]
    rri = (12 / 2_500) / (120 / 40_000)
    se = math.sqrt(1 / 12 + 1 / 120)
    assert (r.rri, r.se_log_rri) == (pytest.approx(rri), pytest.approx(se))
    assert r.rri_low == pytest.approx(rri * math.exp(-Z * se))
    # exact Poisson (Garwood) interval for the rate
    low = stats.chi2.ppf(0.025, 24) / 2 / 2_500 * 100_000
    high = stats.chi2.ppf(0.975, 26) / 2 / 2_500 * 100_000
    assert (r.rate_low, r.rate_high) == (pytest.approx(low), pytest.approx(high))
    assert r.disparity is Disparity.higher if r.rri_low > 1 else Disparity.no_clear_difference


def test_small_counts_are_not_reported_and_unknown_left_out():
    res = relative_rate_index(REFERRALS, POPULATION, "ethnicity")
    other = rows(res)["Other"]
    assert other.count == 3 and not other.reported
    assert (other.rate, other.rri, other.rri_low, other.share_of_count, other.representation) == (None,) * 5
    assert other.disparity is Disparity.not_reported and other.reason == "fewer than 5 counted"
    assert "Not known" not in rows(res)
    assert res.warnings == ()  # 15 of 270 unknown: under 10%
    many = REFERRALS.assign(count=[120, 90, 30, 12, 3, 60])
    assert "not recorded for 19% of referrals" in relative_rate_index(many, POPULATION, "ethnicity").warnings[0]
    # a small reference group: no index for anyone
    small_ref = REFERRALS.assign(count=[4, 90, 30, 12, 3, 15])
    r = rows(relative_rate_index(small_ref, POPULATION, "ethnicity"))
    assert r["Asian"].rri is None and "reference group 'White'" in r["Asian"].reason and r["Asian"].rate == 5.0
    frame = disproportionality_frame(res)
    assert frame.loc[frame.group == "Other", "rri"].isna().all() and frame.loc[frame.group == "Other", "count"].item() == 3


def test_reference_is_configurable():
    detailed = pd.DataFrame({"ethnicity": ["White British", "White other", "Pakistani"], "count": [50, 10, 20]})
    pop = pd.DataFrame({"ethnicity": ["White British", "White other", "Pakistani"], "population": [10_000, 2_000, 2_500]})
    res = relative_rate_index(detailed, pop, "ethnicity", reference="White British")
    assert rows(res)["Pakistani"].rri == pytest.approx((20 / 2_500) / (50 / 10_000))
    with pytest.raises(DataError, match="the reference group 'White' is not among the groups counted"):
        relative_rate_index(detailed, pop, "ethnicity")


def test_stage_disproportionality_each_stage_against_the_one_before():
    flow = pd.DataFrame({"ethnicity": ["White", "Asian", "Black"], "referred": [200, 120, 60],
                         "engaged": [160, 84, 36], "completed": [120, 60, 18], "improved": [80, 40, 10]})
    pop = pd.DataFrame({"ethnicity": ["White", "Asian", "Black"], "population": [40_000, 18_000, 3_000]})
    out = stage_disproportionality(flow, pop, "ethnicity")
    assert [d.stage for d in out] == ["referred", "engaged", "completed", "improved"]
    assert out[0].denominator == "resident population" and out[0].per == 1000
    eng = rows(out[1])["Black"]
    assert out[1].denominator == "referred" and out[1].per == 100
    assert eng.rri == pytest.approx((36 / 60) / (160 / 200))
    assert eng.se_log_rri == pytest.approx(math.sqrt(1 / 36 - 1 / 60 + 1 / 160 - 1 / 200))
    comp = rows(out[2])["Black"]
    assert comp.rri == pytest.approx((18 / 36) / (120 / 160)) and comp.disparity is Disparity.lower
    everyone = stage_disproportionality(flow, pop, "ethnicity", against="population")
    assert rows(everyone[2])["Black"].rri == pytest.approx((18 / 3_000) / (120 / 40_000))
    frame = disproportionality_frame(out)
    assert len(frame) == 12 and set(frame.stage) == {"referred", "engaged", "completed", "improved"}


def test_reach_by_hand():
    reached = pd.DataFrame({"sex": ["female", "male"], "count": [45, 130]})
    eligible = pd.DataFrame({"sex": ["female", "male"], "eligible": [400, 600]})
    res = reach(reached, eligible, "sex", reference="male")
    r = {x.group: x for x in res.rows}
    lo, hi = proportion_confint(45, 400, method="wilson")
    assert (r["female"].share, r["female"].share_low, r["female"].share_high) == (
        pytest.approx(45 / 400), pytest.approx(lo), pytest.approx(hi))
    lo, hi = proportion_confint(175, 1000, method="wilson")
    assert (r["all"].reached, r["all"].eligible, r["all"].share_low) == (175, 1000, pytest.approx(lo))
    rel = rows(res.disproportionality)["female"]
    assert rel.rri == pytest.approx((45 / 400) / (130 / 600)) and rel.disparity is Disparity.lower
    assert list(reach_frame(res).group) == ["male", "female", "all"]


def test_breakdown_shares_wilson():
    counts = pd.DataFrame({"sex": ["female", "male", None, "unknown"], "count": [40, 70, 5, 3]})
    res = breakdown(counts, "sex", measure="referrals")
    assert res.unknown == 8 and res.unknown_share == pytest.approx(8 / 118)
    g = {x.group: x for x in res.groups}
    lo, hi = proportion_confint(40, 110, method="wilson")
    assert (g["female"].share, g["female"].share_low, g["female"].share_high) == (
        pytest.approx(40 / 110), pytest.approx(lo), pytest.approx(hi))
    small = breakdown(pd.DataFrame({"sen": [0, 1], "count": [60, 4]}), "sen")
    assert {x.group: x.reported for x in small.groups} == {"0": True, "1": False}
    assert breakdown_frame(small).loc[1, "share"] is None or pd.isna(breakdown_frame(small).loc[1, "share"])


@pytest.mark.parametrize("counts, pop, kwargs, error, message", [
    (REFERRALS.assign(count=[120, 90, 30, 12, -3, 15]), POPULATION, {}, DataError,
     "'count' for group 'Other' is -3; expected a whole number >= 0"),
    (pd.concat([REFERRALS, REFERRALS.head(1)]), POPULATION, {}, DataError, "group 'White' appears on 2 rows"),
    (REFERRALS, POPULATION[POPULATION.ethnicity != "Black"], {}, DataError, "group 'Black' has no resident population"),
    (REFERRALS.assign(count=[120, 90, 3_001, 12, 3, 15]), POPULATION, {}, DataError,
     "group 'Black' counts 3001 people out of 3000"),
    (REFERRALS, POPULATION.assign(population=[18_000, 0, 2_500, 1_500, 40_000]), {}, DataError,
     "group 'Black' has a resident population of 0"),
    (REFERRALS, POPULATION, {"counted": "persons"}, OptionError, "expected one of 'people', 'events'"),
    (REFERRALS, POPULATION, {"per": 0}, OptionError, "expected a positive number"),
    (REFERRALS.rename(columns={"count": "n"}), POPULATION, {}, DataError, "column 'count' is not in the frame"),
])
def test_bad_input(counts, pop, kwargs, error, message):
    with pytest.raises(error, match=message):
        relative_rate_index(counts, pop, "ethnicity", **kwargs)


def test_stage_flow_that_grows_is_refused():
    flow = pd.DataFrame({"ethnicity": ["White", "Asian"], "referred": [100, 50], "engaged": [90, 55]})
    with pytest.raises(DataError, match="group 'Asian' has more engaged than referred"):
        stage_disproportionality(flow, POPULATION, "ethnicity", stages=("referred", "engaged"))
    with pytest.raises(OptionError, match="against: 'area'"):
        stage_disproportionality(flow, POPULATION, "ethnicity", against="area")


def test_order_of_rows_does_not_matter():
    a = disproportionality_frame(relative_rate_index(REFERRALS, POPULATION, "ethnicity"))
    b = disproportionality_frame(relative_rate_index(REFERRALS.iloc[::-1], POPULATION.iloc[::-1], "ethnicity"))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert Counted("people") is Counted.people
