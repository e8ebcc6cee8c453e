"""How it was delivered: fidelity, dosage, engagement and dose-response, by hand and against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evalkit.errors import DataError, OptionError
from evalkit.estimate.delivery import (DeliveryPlan, SessionColumns, dosage, dosage_frame, dose_response,
                                       dose_response_frame, doses, engagement, engagement_frame, fidelity,
                                       fidelity_frame, retention_frame)

COLS = SessionColumns(id="case_id", date="session_date", attended="attended", hours="hours", fidelity="fidelity")
PLAN = DeliveryPlan(sessions=4, minimum_dose=3, session_hours=1.0)

# eight participants, four planned weekly sessions; P8 never attended
SESSIONS = pd.DataFrame([
    # case, date, attended, hours, fidelity
    ("P1", "2024-01-08", 1, 1.0, 1), ("P1", "2024-01-15", 1, 1.0, 1), ("P1", "2024-01-22", 1, 0.5, 0),
    ("P1", "2024-01-29", 1, 1.0, 1),
    ("P2", "2024-01-10", 1, 1.0, 1), ("P2", "2024-01-17", 0, 0.0, None), ("P2", "2024-01-24", 1, 1.0, None),
    ("P2", "2024-01-31", 1, 0.75, 1),
    ("P3", "2024-01-25", 1, 1.0, 0), ("P3", "2024-02-01", 1, 1.0, 0), ("P3", "2024-02-08", 0, 0.0, None),
    ("P4", "2024-02-05", 1, 1.0, 1), ("P4", "2024-02-12", 1, 1.0, 1), ("P4", "2024-02-19", 1, 1.0, 1),
    ("P4", "2024-02-26", 1, 1.0, 1),
    ("P5", "2024-02-14", 1, 1.0, 1), ("P5", "2024-02-21", 0, 0.0, None),
    ("P6", "2024-03-04", 1, 1.0, 1), ("P6", "2024-03-11", 1, 1.0, 1), ("P6", "2024-03-18", 1, 1.0, 0),
    ("P7", "2024-03-20", 1, 1.0, 1),
    ("P8", "2024-03-25", 0, 0.0, None),
], columns=["case_id", "session_date", "attended", "hours", "fidelity"])
PEOPLE = [f"P{i}" for i in range(1, 9)]


def test_fidelity_by_hand():
    f = fidelity(SESSIONS, PLAN, COLS, participants=PEOPLE)
    att = SESSIONS[SESSIONS.attended == 1]
    assert (f.sessions_offered, f.sessions_attended, f.participants) == (22, 18, 8)
    rated = att[att.fidelity.notna()]
    assert f.adherence.numerator == rated.fidelity.sum() == 13 and f.adherence.denominator == 17
    assert f.adherence.value == pytest.approx(13 / 17)
    # CR1 cluster-robust interval of a mean: the intercept-only regression clustered by participant
    fit = smf.ols("fidelity ~ 1", rated).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(rated.case_id)[0]})
    g = rated.case_id.nunique()
    q = stats.t.ppf(0.975, g - 1)
    assert f.adherence.clusters == g == 7
    assert f.adherence.ci_low == pytest.approx(max(0, 13 / 17 - q * fit.bse["Intercept"]), rel=1e-10)
    assert f.adherence.ci_high == pytest.approx(min(1, 13 / 17 + q * fit.bse["Intercept"]), rel=1e-10)
    assert f.checked.value == pytest.approx(17 / 18)
    # at least 75% of the planned hour: 0.5 fails, 0.75 passes
    assert (f.duration.numerator, f.duration.denominator) == (17, 18)
    assert f.offered_per_participant == pytest.approx(22 / 8) and f.offered_vs_plan == pytest.approx(22 / 32)
    assert list(fidelity_frame(f).measure) == ["adherence", "checked", "duration"]


def test_fidelity_clusters_by_deliverer_and_components():
    s = SESSIONS.assign(mentor=np.where(SESSIONS.case_id.isin(["P1", "P2", "P3", "P4"]), "M1", "M2"),
                        goals=np.where(SESSIONS.attended == 1, [1, 0] * 11, np.nan))
    plan = DeliveryPlan(sessions=4, components=("goals",))
    f = fidelity(s, plan, SessionColumns(fidelity="fidelity", deliverer="mentor"))
    assert f.adherence.clusters == 2 and f.cluster_by == "mentor"
    comp = f.components[0]
    att = s[s.attended == 1]
    assert comp.name == "goals" and comp.numerator == att.goals.sum() and comp.denominator == len(att)


def test_dosage_by_hand():
    d = dosage(SESSIONS, PEOPLE, PLAN, COLS)
    received = [4, 3, 2, 4, 1, 3, 1, 0]
    assert doses(SESSIONS, PEOPLE, COLS).tolist() == received
    assert d.participants == 8
    assert (d.median, d.q1, d.q3) == (np.quantile(received, 0.5), np.quantile(received, 0.25),
                                      np.quantile(received, 0.75)) == (2.5, 1.0, 3.25)  # R type 7
    assert d.mean == pytest.approx(np.mean(received)) and (d.minimum, d.maximum) == (0, 4)
    lo, hi = proportion_confint(2, 8, method="wilson")
    assert (d.full_dose.numerator, d.full_dose.value) == (2, 0.25)
    assert (d.full_dose.ci_low, d.full_dose.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert (d.minimum_dose.numerator, d.minimum_dose.value) == (4, 0.5)
    assert {c.sessions: c.participants for c in d.distribution} == {0: 1, 1: 2, 2: 1, 3: 2, 4: 2}
    hours = doses(SESSIONS, PEOPLE, COLS, hours=True)
    assert hours["P1"] == 3.5 and d.hours_median == pytest.approx(np.quantile(hours, 0.5))
    assert dosage_frame(d).participants.sum() == 8


def test_small_groups_keep_counts_but_no_shares():
    d = dosage(SESSIONS, PEOPLE[:4], PLAN, COLS)
    assert not d.full_dose.reported and d.full_dose.value is None and d.full_dose.numerator == 2
    assert d.median is None and d.distribution


def test_engagement_by_hand():
    e = engagement(SESSIONS, COLS)
    m = {row.month: row for row in e.months}
    assert list(m) == ["2024-01", "2024-02", "2024-03"] and e.observed_until == "2024-03-25"
    jan = m["2024-01"]
    assert (jan.sessions_offered, jan.sessions_attended, jan.active, jan.starters) == (9, 8, 3, 3)
    assert jan.attendance_rate == pytest.approx(8 / 9)
    # last attended sessions: P1, P2 in January; P3, P4, P5 in February; the last month is never "ended"
    assert (jan.ended, m["2024-02"].ended, m["2024-03"].ended) == (2, 3, 0)
    assert m["2024-03"].starters == 2 and m["2024-03"].sessions_offered == 5
    # retention: programme month 1 is everyone's first month; only starters followed a full month count
    r = {x.programme_month: x for x in e.retention}
    starts = {"P1": "2024-01-08", "P2": "2024-01-10", "P3": "2024-01-25", "P4": "2024-02-05",
              "P5": "2024-02-14", "P6": "2024-03-04", "P7": "2024-03-20"}
    followed = [p for p, d in starts.items() if pd.Timestamp(d) + pd.DateOffset(months=1) - pd.Timedelta(days=1)
                <= pd.Timestamp("2024-03-25")]
    assert r[1].observed == len(followed) == 5 and r[1].attending == 5 and r[1].share == 1.0
    # month 2: P1 (Feb 8 - Mar 7: none), P2 (none), P3 (Feb 25 - Mar 24: none) are followed; P3 attended Feb 1 only
    assert r[2].observed == 3 and r[2].attending == 0
    assert len(engagement_frame(e)) == 3 and list(retention_frame(e).programme_month) == [1, 2]


def test_engagement_follows_retention_for_the_planned_weeks_only():
    e = engagement(SESSIONS, COLS, plan=DeliveryPlan(sessions=4, weeks=4))
    assert [x.programme_month for x in e.retention] == [1]
    with pytest.raises(DataError, match="sessions dated after observed_until 2024-03-01"):
        engagement(SESSIONS, COLS, observed_until="2024-03-01")


def dose_frame(seed=3, n=240):
    rng = np.random.default_rng(seed)
    dose = rng.integers(0, 25, n)
    base = rng.normal(17, 4, n)
    school = rng.integers(0, 24, n)
    y = 0.6 * base - 0.08 * dose + rng.normal(0, 3, n)
    return pd.DataFrame({"dose": dose, "sdq_baseline": base, "sdq_6m": y, "school": school})


def test_dose_response_against_statsmodels():
    df = dose_frame()
    plan = DeliveryPlan(sessions=24)
    r = dose_response(df, outcome="sdq_6m", dose="dose", plan=plan, covariates=["sdq_baseline"])
    fit = smf.ols("sdq_6m ~ dose + sdq_baseline", df).fit(cov_type="HC2", use_t=True)
    assert r.slope.estimate == pytest.approx(fit.params["dose"], rel=1e-10)
    assert r.slope.std_error == pytest.approx(fit.bse["dose"], rel=1e-10)
    assert r.slope.p_value == pytest.approx(fit.pvalues["dose"], rel=1e-8)
    assert r.full_dose_contrast.estimate == pytest.approx(24 * fit.params["dose"])
    assert r.causal is False and "not a causal effect" in r.label
    assert r.warnings[0].code == "dose_response_not_causal"
    # bands of the planned dose: under 25%, 25-50%, 50-75%, 75% or more
    df["band"] = pd.cut(df.dose / 24, [0, 0.25, 0.5, 0.75, 10], right=False, labels=["a", "b", "c", "d"])
    bfit = smf.ols("sdq_6m ~ C(band) + sdq_baseline", df).fit(cov_type="HC2", use_t=True)
    names = {"25-50% of planned": "C(band)[T.b]", "50-75% of planned": "C(band)[T.c]",
             "75% or more of planned": "C(band)[T.d]"}
    assert r.reference_band == "under 25% of planned"
    for term in r.bands:
        assert term.estimate == pytest.approx(bfit.params[names[term.name]], rel=1e-10)
        assert term.std_error == pytest.approx(bfit.bse[names[term.name]], rel=1e-10)
        assert term.n == int((df.band == names[term.name][-2]).sum())
    wt = bfit.wald_test("C(band)[T.b] = 0, C(band)[T.c] = 0, C(band)[T.d] = 0", use_f=True, scalar=True)
    assert r.band_test_statistic / 3 == pytest.approx(float(wt.statistic), rel=1e-9)
    assert r.band_test_p_value == pytest.approx(float(wt.pvalue), rel=1e-8)
    assert len(dose_response_frame(r)) == 5


def test_dose_response_clustered():
    df = dose_frame(seed=8)
    r = dose_response(df, outcome="sdq_6m", dose="dose", plan=DeliveryPlan(sessions=24), covariates=["sdq_baseline"],
                      cluster="school")
    fit = smf.ols("sdq_6m ~ dose + sdq_baseline", df).fit(cov_type="cluster", cov_kwds={"groups": df.school})
    assert r.slope.std_error == pytest.approx(fit.bse["dose"], rel=1e-10)
    assert "CR1 cluster-robust by school (24 clusters)" in r.covariance


def test_dose_band_with_few_participants_is_left_out():
    df = dose_frame(n=200)
    df.loc[df.dose < 6, "dose"] = 7
    df.loc[df.index[:3], "dose"] = 1  # three in the lowest band
    r = dose_response(df, outcome="sdq_6m", dose="dose", plan=DeliveryPlan(sessions=24))
    assert r.reference_band == "25-50% of planned"
    low = next(t for t in r.bands if t.name == "under 25% of planned")
    assert not low.reported and low.n == 3 and low.estimate is None
    assert any(w.code == "dose_band_too_few" for w in r.warnings)


def test_row_order_does_not_change_a_number():
    a = dose_response_frame(dose_response(dose_frame(), outcome="sdq_6m", dose="dose", plan=DeliveryPlan(sessions=24),
                                          covariates=["sdq_baseline"]))
    b = dose_response_frame(dose_response(dose_frame().sample(frac=1, random_state=2), outcome="sdq_6m", dose="dose",
                                          plan=DeliveryPlan(sessions=24), covariates=["sdq_baseline"]))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    f1 = fidelity_frame(fidelity(SESSIONS, PLAN, COLS))
    f2 = fidelity_frame(fidelity(SESSIONS.iloc[::-1], PLAN, COLS))
    pd.testing.assert_frame_equal(f1, f2, check_exact=True)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.assign(attended=s.attended.astype(object).where(s.index != 4, "yes")),
     "column 'attended' is not 0/1 at session row\\(s\\) 5: 'yes'"),
    (lambda s: s.assign(session_date=s.session_date.where(s.index != 2, "next week")),
     "column 'session_date' is not a date at session row\\(s\\) 3: 'next week'"),
    (lambda s: s.assign(fidelity=s.fidelity.where(s.index != 0, 2)), "column 'fidelity' is not 0/1 at session row\\(s\\) 1: 2"),
    (lambda s: s.assign(hours=s.hours.where(s.index != 0, -1)), "column 'hours' holds -1.0"),
    (lambda s: s.drop(columns="attended"), "column 'attended' is not in the frame"),
])
def test_bad_session_records(change, message):
    with pytest.raises(DataError, match=message):
        fidelity(change(SESSIONS), PLAN, COLS)


def test_bad_plans_and_participants():
    with pytest.raises(OptionError, match="plan.sessions: found 0"):
        DeliveryPlan(sessions=0)
    with pytest.raises(OptionError, match="plan.minimum_dose: found 5; expected 1 to 4"):
        DeliveryPlan(sessions=4, minimum_dose=5)
    with pytest.raises(DataError, match="name a participant who is not in the participant list \\(e.g. 'P8'\\)"):
        fidelity(SESSIONS, PLAN, COLS, participants=PEOPLE[:7])
    with pytest.raises(DataError, match="'P1' is listed twice"):
        dosage(SESSIONS, PEOPLE + ["P1"], PLAN, COLS)
    with pytest.raises(OptionError, match="bands: found"):
        dose_response(dose_frame(), outcome="sdq_6m", dose="dose", plan=DeliveryPlan(sessions=24), bands=[0, 0.5])
    assert math.isclose(DeliveryPlan(sessions=4).duration_tolerance, 0.25)
