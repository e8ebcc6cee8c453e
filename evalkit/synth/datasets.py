"""One generator per example data file.

Each returns the frame and its dictionary entry: what the file is, each column, and the true
effects built in. Distributions follow the real sources in shape (integer SDQ 0-40, attendance
percentages, binary suspensions, monthly counts with seasonality and population), with
selection into treatment that a naive comparison gets wrong, and realistic attrition.

True effects are recorded as the quantity an estimator targets on *this* sample: e.g. the
expected change in the observed (bounded) score, or the mean of p1 - p0 over the treated, so a
test can ask whether a confidence interval covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.synth._util import AREAS, clipped_normal_mean, ids, logistic

AREA_NAMES = [a for a, _ in AREAS]
AREA_WEIGHTS = np.array([p for _, p in AREAS], dtype=float) / sum(p for _, p in AREAS)


@dataclass
class Entry:
    """A data file's dictionary entry."""

    description: str
    columns: dict[str, str]
    true_effects: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _imd(rng, n, skew=0.0):
    # deciles 1 (most deprived) to 10; VRU cohorts over-represent deprived areas
    weights = np.exp(-skew * np.arange(10))
    return rng.choice(np.arange(1, 11), size=n, p=weights / weights.sum())


# ---------------------------------------------------------------------------- Reach pre/post


def reach_cohort(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    n = 360
    need = rng.normal(0, 1, n)  # latent need: referral is on need, not on a noisy baseline score
    age = np.clip(np.round(13.5 + 1.6 * rng.normal(0, 1, n)), 10, 17).astype(int)
    female = (rng.random(n) < 0.36).astype(int)
    sen = (rng.random(n) < logistic(-0.9 + 0.5 * need)).astype(int)
    fsm = (rng.random(n) < logistic(-0.2 + 0.4 * need)).astype(int)
    imd = _imd(rng, n, skew=0.18)
    area = rng.choice(AREA_NAMES, size=n, p=AREA_WEIGHTS)
    referral = pd.Timestamp("2023-09-01") + pd.to_timedelta(rng.integers(0, 240, n), unit="D")

    # SDQ self-report total difficulties: true score T, reliability about 0.8 (error SD 2.4)
    sdq_effect, sdq_err = -2.5, 2.4
    true_sdq = 17.0 + 4.6 * need
    sdq_pre = np.clip(np.round(true_sdq + rng.normal(0, sdq_err, n)), 0, 40)
    sdq_post = np.clip(np.round(true_sdq + sdq_effect + rng.normal(0, sdq_err, n)), 0, 40)
    exp_sdq_change = (clipped_normal_mean(true_sdq + sdq_effect, sdq_err, 0, 40)
                      - clipped_normal_mean(true_sdq, sdq_err, 0, 40))

    # attendance (% of sessions): persistent absence is common in this group
    att_effect, att_err = 3.0, 4.0
    true_att = 84.0 - 5.0 * need + rng.normal(0, 4.0, n)
    attend_pre = np.round(np.clip(true_att + rng.normal(0, att_err, n), 0, 100), 1)
    attend_post = np.round(np.clip(true_att + att_effect + rng.normal(0, att_err, n), 0, 100), 1)
    exp_att_change = (clipped_normal_mean(true_att + att_effect, att_err, 0, 100)
                      - clipped_normal_mean(true_att, att_err, 0, 100))

    # suspended at least once in the term; the programme lowers the log-odds by 0.6
    lin = -0.35 + 0.9 * need
    p_pre, p_post = logistic(lin), logistic(lin - 0.6)
    susp_pre = (rng.random(n) < p_pre).astype(float)
    susp_post = (rng.random(n) < p_post).astype(float)

    completed = (rng.random(n) < logistic(1.1 - 0.5 * need)).astype(int)
    # lost to follow-up: more likely for those who did not complete and with higher need
    lost = rng.random(n) < logistic(-2.6 + 1.5 * (1 - completed) + 0.35 * need)
    for col in (sdq_post, attend_post, susp_post):
        col[lost] = np.nan
    sdq_pre[rng.random(n) < 0.02] = np.nan  # a few baseline questionnaires not returned
    sdq_post[(~lost) & (rng.random(n) < 0.03)] = np.nan

    frame = pd.DataFrame({
        "pupil_id": ids("R", n, rng), "age": age, "female": female, "sen": sen, "fsm": fsm,
        "imd_decile": imd, "area": area, "referral_date": referral.strftime("%Y-%m-%d"),
        "sdq_pre": sdq_pre, "sdq_post": sdq_post, "attend_pre": attend_pre, "attend_post": attend_post,
        "susp_pre": susp_pre, "susp_post": susp_post, "completed": completed,
    })
    entry = Entry(
        description="Reach 2023/24 cohort: one row per referred pupil, measured at referral and at exit "
                    "(six months).",
        columns={
            "pupil_id": "pupil identifier (pseudonymous)", "age": "age in years at referral",
            "female": "1 = female", "sen": "1 = special educational needs", "fsm": "1 = free school meals",
            "imd_decile": "IMD decile of home postcode (1 = most deprived)", "area": "community safety partnership area",
            "referral_date": "date of referral", "sdq_pre": "SDQ self-report total difficulties (0-40) at referral",
            "sdq_post": "SDQ total difficulties at exit; missing if lost to follow-up",
            "attend_pre": "school attendance (% of sessions), term before referral",
            "attend_post": "school attendance (%), term after exit", "susp_pre": "1 = suspended in the term before referral",
            "susp_post": "1 = suspended in the term after exit", "completed": "1 = completed six months of mentoring",
        },
        true_effects=[
            {"evaluation": "reach-2023-prepost", "indicator": "sdq_total", "estimand": "mean_change",
             "value": float(np.mean(exp_sdq_change)), "built_in": sdq_effect,
             "description": "expected change in observed SDQ (exit minus referral), points"},
            {"evaluation": "reach-2023-prepost", "indicator": "attendance_pct", "estimand": "mean_change",
             "value": float(np.mean(exp_att_change)), "built_in": att_effect,
             "description": "expected change in attendance, percentage points (after bounding at 0-100)"},
            {"evaluation": "reach-2023-prepost", "indicator": "suspended", "estimand": "change_in_proportion",
             "value": float(np.mean(p_post - p_pre)), "built_in": -0.6,
             "description": "expected change in the share suspended; built in as -0.6 on the log-odds scale"},
        ],
        notes=["Referral depends on latent need, not on the baseline measurement, so there is no "
               "regression to the mean built in; change is homogeneous, so complete cases are unbiased.",
               "About 20% are lost to follow-up, more among non-completers and those with higher need."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- Reach matched


def reach_with_comparison(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    n = 6300
    age = rng.integers(10, 18, n)
    female = (rng.random(n) < 0.49).astype(int)
    fsm = (rng.random(n) < 0.24).astype(int)
    sen = (rng.random(n) < 0.15 + 0.1 * fsm).astype(int)
    imd = _imd(rng, n, skew=0.08)
    risk = rng.normal(0, 1, n) + 0.4 * fsm + 0.4 * sen - 0.05 * imd
    attend_pre = np.round(np.clip(93 - 4.5 * risk + rng.normal(0, 4, n), 30, 100), 1)
    susp_pre = (rng.random(n) < logistic(-2.4 + 1.1 * risk)).astype(int)
    area = rng.choice(AREA_NAMES, size=n, p=AREA_WEIGHTS)

    # referral to Reach: schools refer pupils with poor attendance and prior suspensions
    sel = -3.6 + 1.2 * susp_pre + 0.07 * (92 - attend_pre) + 0.45 * fsm + 0.35 * sen - 0.05 * imd + 0.08 * (age - 13)
    reach = (rng.random(n) < logistic(sel)).astype(int)

    # suspension in the 12 months after referral (or an equivalent date for the pool)
    lin = -2.3 + 1.2 * susp_pre + 0.05 * (92 - attend_pre) + 0.3 * fsm + 0.3 * sen + 0.1 * (age - 13) + 0.15 * female * 0
    p0, p1 = logistic(lin), logistic(lin - 0.6)
    susp_12m = np.where(reach == 1, rng.random(n) < p1, rng.random(n) < p0).astype(int)
    att_effect, att_err = 3.0, 5.0
    mean_att = 0.75 * attend_pre + 21.0 - 1.0 * susp_pre
    attend_12m = np.round(np.clip(mean_att + att_effect * reach + rng.normal(0, att_err, n), 0, 100), 1)
    treated = reach == 1
    att_susp = float(np.mean(p1[treated] - p0[treated]))
    att_att = float(np.mean(clipped_normal_mean(mean_att[treated] + att_effect, att_err, 0, 100)
                            - clipped_normal_mean(mean_att[treated], att_err, 0, 100)))
    naive = float(susp_12m[treated].mean() - susp_12m[~treated].mean())

    frame = pd.DataFrame({
        "pupil_id": ids("P", n, rng), "reach": reach, "age": age, "female": female, "sen": sen, "fsm": fsm,
        "imd_decile": imd, "area": area, "attend_pre": attend_pre, "susp_pre": susp_pre,
        "attend_12m": attend_12m, "susp_12m": susp_12m,
    })
    entry = Entry(
        description="Reach participants (reach = 1) and the pupils of the same schools who were not referred "
                    "(reach = 0), with outcomes 12 months after referral.",
        columns={
            "pupil_id": "pupil identifier (pseudonymous)", "reach": "1 = referred to and started Reach",
            "age": "age in years", "female": "1 = female", "sen": "1 = special educational needs",
            "fsm": "1 = free school meals", "imd_decile": "IMD decile (1 = most deprived)",
            "area": "community safety partnership area", "attend_pre": "attendance (%) in the year before",
            "susp_pre": "1 = suspended in the year before", "attend_12m": "attendance (%) in the 12 months after",
            "susp_12m": "1 = suspended in the 12 months after",
        },
        true_effects=[
            {"evaluation": "reach-2023-matched", "indicator": "suspended", "estimand": "att",
             "value": att_susp, "built_in": -0.6, "naive_difference": naive,
             "description": "mean of p1 - p0 over the treated (risk difference); built in as -0.6 log-odds"},
            {"evaluation": "reach-2023-matched", "indicator": "attendance_pct", "estimand": "att",
             "value": att_att, "built_in": att_effect,
             "description": "expected gain in attendance among the treated, percentage points"},
        ],
        notes=["Selection into Reach depends on prior suspension, attendance, FSM, SEN, deprivation and age; "
               "the outcome depends on the same, so the naive difference in suspension understates the "
               "true benefit several times over."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- VIP matched


def vip_attenders(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    n = 8500
    site = np.where(rng.random(n) < 0.7, "ED", "custody")
    age = np.clip(np.round(19 + 3.5 * rng.normal(0, 1, n)), 11, 25).astype(int)
    male = (rng.random(n) < 0.78).astype(int)
    frailty = rng.normal(0, 1, n)
    prior = rng.poisson(np.exp(-0.6 + 0.6 * frailty)).clip(0, 12)
    injury_sharp = (rng.random(n) < logistic(-1.6 + 0.4 * male + 0.3 * frailty)).astype(int)
    night_time = (rng.random(n) < 0.45).astype(int)
    imd = _imd(rng, n, skew=0.15)
    sel = -3.3 - 0.09 * (age - 18) + 0.6 * injury_sharp + 0.25 * prior + 0.5 * (site == "ED") + 0.3 * night_time
    navigator = (rng.random(n) < logistic(sel)).astype(int)
    lin = -2.1 + 0.32 * prior + 0.55 * injury_sharp + 0.35 * male - 0.05 * (age - 18) - 0.04 * imd + 0.2 * night_time
    p0, p1 = logistic(lin), logistic(lin - 0.55)
    reattend = np.where(navigator == 1, rng.random(n) < p1, rng.random(n) < p0).astype(int)
    treated = navigator == 1
    frame = pd.DataFrame({
        "attender_id": ids("A", n, rng), "navigator": navigator, "site": site, "age": age, "male": male,
        "prior_ae_12m": prior, "injury_sharp": injury_sharp, "night_time": night_time, "imd_decile": imd,
        "reattend_12m": reattend,
    })
    entry = Entry(
        description="Young people aged 11-25 seen in the Emergency Department or custody for violence; "
                    "navigator = 1 for those who took up VIP support.",
        columns={
            "attender_id": "attender identifier (pseudonymous)", "navigator": "1 = took up navigator support",
            "site": "ED (Emergency Department) or custody", "age": "age in years", "male": "1 = male",
            "prior_ae_12m": "A&E attendances in the previous 12 months", "injury_sharp": "1 = injury by knife or sharp object",
            "night_time": "1 = attended between 20:00 and 04:00", "imd_decile": "IMD decile (1 = most deprived)",
            "reattend_12m": "1 = returned to A&E with a violent injury within 12 months",
        },
        true_effects=[
            {"evaluation": "vip-2023-matched", "indicator": "reattend_violence", "estimand": "att",
             "value": float(np.mean(p1[treated] - p0[treated])), "built_in": -0.55,
             "naive_difference": float(reattend[treated].mean() - reattend[~treated].mean()),
             "description": "mean of p1 - p0 over the treated (risk difference); built in as -0.55 log-odds"},
        ],
        notes=["Navigators see younger people with sharp-object injuries and more prior attendances, who are "
               "at higher risk of returning, so the naive comparison understates the benefit."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- MVP survey


def mvp_survey(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    schools = 24
    sizes = rng.integers(30, 71, schools)
    school = np.repeat([f"S{100 + i}" for i in range(schools)], sizes)
    n = len(school)
    school_effect = np.repeat(rng.normal(0, 0.18, schools), sizes)
    year_group = rng.choice([7, 8, 9], size=n, p=[0.4, 0.35, 0.25])
    female = (rng.random(n) < 0.5).astype(int)
    conf_effect, acc_effect, err = 0.25, -0.15, 0.45
    true_conf = 3.1 + school_effect + 0.1 * female + rng.normal(0, 0.55, n)
    true_acc = 2.2 - 0.5 * school_effect - 0.2 * female + rng.normal(0, 0.5, n)

    def scale(x):  # mean of five items scored 1-5: multiples of 0.2 between 1 and 5
        return np.round(np.clip(x, 1, 5) * 5) / 5

    conf_pre = scale(true_conf + rng.normal(0, err, n))
    conf_post = scale(true_conf + conf_effect + rng.normal(0, err, n))
    accept_pre = scale(true_acc + rng.normal(0, err, n))
    accept_post = scale(true_acc + acc_effect + rng.normal(0, err, n))
    absent = rng.random(n) < 0.12  # away on the day of the second survey
    conf_post[absent] = np.nan
    accept_post[absent] = np.nan
    exp_conf = clipped_normal_mean(true_conf + conf_effect, err, 1, 5) - clipped_normal_mean(true_conf, err, 1, 5)
    exp_acc = clipped_normal_mean(true_acc + acc_effect, err, 1, 5) - clipped_normal_mean(true_acc, err, 1, 5)
    frame = pd.DataFrame({
        "pupil_id": ids("M", n, rng), "school_id": school, "year_group": year_group, "female": female,
        "conf_pre": conf_pre, "conf_post": conf_post, "accept_pre": accept_pre, "accept_post": accept_post,
    })
    entry = Entry(
        description="MVP pupil survey before and after the mentor-led sessions; pupils clustered in 24 schools.",
        columns={
            "pupil_id": "pupil identifier (pseudonymous)", "school_id": "school identifier",
            "year_group": "year group (7-9)", "female": "1 = female",
            "conf_pre": "bystander confidence scale (mean of 5 items, 1-5) before",
            "conf_post": "bystander confidence after; missing if absent on the day",
            "accept_pre": "acceptance of violence scale (1-5) before", "accept_post": "acceptance of violence after",
        },
        true_effects=[
            {"evaluation": "mvp-2023-prepost", "indicator": "intervene_confidence", "estimand": "mean_change",
             "value": float(np.mean(exp_conf)), "built_in": conf_effect,
             "description": "expected change in the observed scale score (bounded 1-5)"},
            {"evaluation": "mvp-2023-prepost", "indicator": "violence_acceptance", "estimand": "mean_change",
             "value": float(np.mean(exp_acc)), "built_in": acc_effect,
             "description": "expected change in the observed scale score (bounded 1-5)"},
        ],
        notes=["A school-level random effect (SD 0.18) gives an intra-cluster correlation of about 0.05-0.1 "
               "in the scores; absence on the day of the second survey is unrelated to the scores."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- Phoenix panel


def phoenix_panel(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    months = pd.period_range("2021-01", "2023-12", freq="M")
    T = len(months)
    cohorts = {"2022-01": 50, "2022-07": 50, "2023-01": 50}
    n_never = 450
    n = sum(cohorts.values()) + n_never
    start = np.concatenate([[months.get_loc(pd.Period(c, "M"))] * k for c, k in cohorts.items()]
                           + [[T + 1] * n_never]).astype(int)
    cohort_label = np.concatenate([[c] * k for c, k in cohorts.items()] + [["never"] * n_never])
    treated_unit = start <= T
    # people brought into Phoenix have higher offending rates; unit fixed effects absorb it
    alpha = rng.normal(np.log(0.10), 0.6, n) + 0.5 * treated_unit
    t = np.arange(T)
    season = 0.15 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)  # summer peak
    trend = 0.006 * t
    mu0 = np.exp(alpha[:, None] + season[None, :] + trend[None, :])
    active = (t[None, :] >= start[:, None]).astype(int)
    rate_ratio = 0.67
    mu = mu0 * np.where(active == 1, rate_ratio, 1.0)
    y = rng.poisson(mu)
    person = ids("X", n, rng)
    age = np.clip(np.round(24 + 7 * rng.normal(0, 1, n) - 2 * treated_unit), 10, 65).astype(int)
    area = rng.choice(AREA_NAMES, size=n, p=AREA_WEIGHTS)
    frame = pd.DataFrame({
        "person_id": np.repeat(person, T), "month": np.tile(months.strftime("%Y-%m"), n),
        "phoenix_active": active.ravel(), "sv_offences": y.ravel(),
        "cohort": np.repeat(cohort_label, T), "age_at_start": np.repeat(age, T), "area": np.repeat(area, T),
    })
    on = active == 1
    entry = Entry(
        description="Phoenix participants and people with similar offending histories: one row per person per "
                    "month, January 2021 to December 2023. Three cohorts start in January 2022, July 2022 and "
                    "January 2023 (staggered adoption); 450 people are never treated.",
        columns={
            "person_id": "person identifier (pseudonymous)", "month": "calendar month (YYYY-MM)",
            "phoenix_active": "1 in the months a person is under Phoenix (from their cohort's start onwards)",
            "sv_offences": "serious violence offences recorded against the person in the month",
            "cohort": "month the person's cohort started, or 'never'", "age_at_start": "age in January 2022",
            "area": "community safety partnership area",
        },
        true_effects=[
            {"evaluation": "phoenix-2023-did", "indicator": "sv_offences", "estimand": "att",
             "value": float(np.mean(mu[on] - mu0[on])), "built_in": rate_ratio,
             "description": "mean of E[Y(1)] - E[Y(0)] over treated person-months (offences per person-month); "
                            "built in as a rate ratio of 0.67 (the YEF Toolkit's 33% reduction)"},
            {"evaluation": "phoenix-2023-did", "indicator": "sv_offences", "estimand": "rate_ratio",
             "value": rate_ratio, "description": "multiplicative effect on the monthly offence rate"},
        ],
        notes=["Offending follows a common trend and a summer peak; treated people start from higher rates, "
               "which the unit fixed effects remove. The effect is constant in time, so two-way fixed effects "
               "and group-time estimators target the same quantity up to weighting."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- success measures


def success_measures(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Area-month success-measure series with a known level and slope change (for the ITS tests).

    Not written for the example project: its strategy plan reads the monitoring store's
    success measures (``evalkit monitor export``), so the dashboard and the report agree.
    """
    months = pd.period_range("2016-01", "2023-12", freq="M")
    T = len(months)
    start = months.get_loc(pd.Period("2019-10", "M"))
    t = np.arange(T)
    post = (t >= start).astype(float)
    since = np.where(t >= start, t - start, 0).astype(float)
    season = 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    # (indicator, column, baseline monthly rate per 100,000 in the county, city multiplier,
    #  pre-trend per year, level rate ratio, slope change per year (rate ratio), NB alpha)
    specs = [
        ("knife_sv", "knife_offences", 5.5, 2.2, 0.04, 0.88, 0.95, 0.04),
        ("knife_admissions", "knife_admissions", 0.28, 2.0, 0.03, 0.85, 0.96, 0.05),
        ("homicides", "homicides", 0.09, 1.8, 0.0, 0.90, 1.0, 0.0),
    ]
    rows = []
    truth = []
    for a, (area, pop2019) in enumerate(AREAS):
        growth = 1 + 0.008 * (t - 45) / 12  # about 0.8% a year, anchored at mid-2019
        population = np.round(pop2019 * growth).astype(int)
        row = {"area": np.repeat(area, T), "month": months.strftime("%Y-%m"), "population": population}
        for ind, col, base, city, pre, level, slope, alpha in specs:
            mult = city if area == "Leicester" else rng.uniform(0.6, 1.1)
            log_rate = (np.log(base * mult / 1e5) + np.log(1 + pre) * t / 12 + season
                        + np.log(level) * post + np.log(slope) * since / 12)
            mu = population * np.exp(log_rate)
            if alpha > 0:  # negative binomial: gamma-Poisson mixture with variance mu + alpha mu^2
                mu = mu * rng.gamma(1 / alpha, alpha, T)
            row[col] = rng.poisson(mu)
        rows.append(pd.DataFrame(row))
    for ind, col, base, city, pre, level, slope, alpha in specs:
        truth.append({"evaluation": "strategy-its", "indicator": ind, "estimand": "level_change",
                      "value": level, "description": "rate ratio at the interruption (October 2019)"})
        truth.append({"evaluation": "strategy-its", "indicator": ind, "estimand": "slope_change",
                      "value": slope, "description": "change in the yearly trend after the interruption, as a rate ratio per 12 months"})
    frame = pd.concat(rows, ignore_index=True)
    entry = Entry(
        description="Monthly success measures by community safety partnership area, January 2016 to December 2023; "
                    "the Violence Reduction Network began in October 2019.",
        columns={
            "area": "community safety partnership area", "month": "calendar month (YYYY-MM)",
            "population": "resident population (interpolated from mid-year estimates)",
            "knife_admissions": "hospital admissions for assault with a knife or sharp object (HES X99)",
            "knife_offences": "police-recorded knife or sharp object enabled serious violence",
            "homicides": "homicides recorded in the month",
        },
        true_effects=truth,
        notes=["Counts are negative binomial (gamma-Poisson) around a log-linear rate with a pre-existing trend, a "
               "summer peak, and a level and slope change at October 2019; homicides are Poisson and rare."],
    )
    return frame, entry


# ---------------------------------------------------------------------------- Reach feasibility


def _reach_feasibility(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Case and session records of a six-month Reach feasibility study, drawn together.

    One stream makes both files, so the sessions always belong to the cases (see COMPANIONS).
    """
    n = 104  # referrals in the six-month window, against a target of 120
    start = pd.Timestamp("2024-09-02")
    referral = start + pd.to_timedelta(np.sort(rng.integers(0, 180, n)), unit="D")
    schools = np.array([f"S{k:02d}" for k in range(1, 13)])
    school = rng.choice(schools, size=n, p=rng.dirichlet(np.full(12, 4.0)))
    school_effect = dict(zip(schools, rng.normal(0, 1.1, 12)))
    need = rng.normal(0, 1, n)
    source = rng.choice(["school", "police", "social care", "youth offending"], size=n, p=[0.55, 0.2, 0.15, 0.1])

    eligible = rng.random(n) < 0.86
    consented = eligible & (rng.random(n) < 0.78)
    started = consented & (rng.random(n) < 0.92)
    completed = started & (rng.random(n) < logistic(0.95 - 0.5 * need))
    contact_days = np.round(rng.gamma(1.4, 1.7, n)).astype(int)  # triage contact, most within two days
    reached = rng.random(n) > 0.03
    first_contact = (referral + pd.to_timedelta(contact_days, unit="D")).where(reached)

    # sessions: weekly for 24 weeks from a week after first contact; non-completers stop early
    planned = 24
    stop = np.where(completed, planned, rng.integers(2, 17, n))
    stop = np.where(started, stop, 0)
    case_idx = np.repeat(np.arange(n), stop)
    week = np.arange(len(case_idx)) - np.repeat(np.cumsum(stop) - stop, stop)  # 0, 1, ... within each case
    first_session = referral + pd.to_timedelta(contact_days + rng.integers(3, 11, n), unit="D")
    dates = (first_session[case_idx] + pd.to_timedelta(7 * week + rng.integers(0, 3, len(week)), unit="D"))
    p_attend = np.where(completed[case_idx], 0.86, 0.68)
    p_attend = np.where(week == 0, 1.0, p_attend)  # the first session is the start
    attended = rng.random(len(week)) < p_attend
    hours = np.where(attended, rng.choice([0.75, 1.0, 1.0, 1.0, 1.5], size=len(week)), 0.0)
    fidelity = np.where(attended, (rng.random(len(week)) < 0.84).astype(float), np.nan)

    # SDQ self-report at referral (consented only) and six months; attendance from school records
    true_sdq = 17.0 + 4.6 * need + pd.Series(school).map(school_effect).to_numpy()
    sdq_base = np.clip(np.round(true_sdq + rng.normal(0, 2.4, n)), 0, 40)
    sdq_6m = np.clip(np.round(true_sdq - 1.5 * completed + rng.normal(0, 3.0, n) + rng.normal(0, 2.4, n)), 0, 40)
    p_follow = np.where(completed, 0.88, np.where(started, 0.45, 0.30))
    followed = consented & (rng.random(n) < p_follow)
    sdq_base = np.where(consented & (rng.random(n) > 0.04), sdq_base, np.nan)
    sdq_6m = np.where(followed, sdq_6m, np.nan)
    true_att = 84.0 - 5.0 * need + rng.normal(0, 4.0, n)
    att_base = np.where(consented & (rng.random(n) > 0.03), np.round(np.clip(true_att + rng.normal(0, 4, n), 0, 100), 1), np.nan)
    att_6m = np.where(consented & (rng.random(n) < np.where(completed, 0.92, 0.7)),
                      np.round(np.clip(true_att + 1.5 * completed + rng.normal(0, 4, n), 0, 100), 1), np.nan)
    answered = started & (rng.random(n) < np.where(completed, 0.85, 0.3))
    satisfaction = np.where(answered, np.clip(np.round(4.1 + 0.8 * rng.normal(0, 1, n) - 0.5 * (~completed)), 1, 5), np.nan)

    case_ids = ids("F", n, rng)
    nan_unless = lambda flag, base: np.where(base, flag.astype(float), np.nan)  # noqa: E731
    cases = pd.DataFrame({
        "case_id": case_ids, "school": school, "referral_source": source,
        "referral_date": referral.strftime("%Y-%m-%d"),
        "first_contact_date": first_contact.strftime("%Y-%m-%d").where(reached),
        "eligible": eligible.astype(int), "consented": nan_unless(consented, eligible),
        "started": nan_unless(started, consented), "completed": nan_unless(completed, started),
        "sdq_baseline": sdq_base, "sdq_6m": sdq_6m, "attend_baseline": att_base, "attend_6m": att_6m,
        "satisfaction": satisfaction,
    })
    sessions = pd.DataFrame({
        "case_id": case_ids[case_idx], "session_date": dates.strftime("%Y-%m-%d"),
        "attended": attended.astype(int), "hours": hours, "fidelity": fidelity,
    }).sort_values(["session_date", "case_id"], kind="stable").reset_index(drop=True)
    return cases, sessions


def reach_feasibility_cases(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    cases, _sessions = _reach_feasibility(rng)
    entry = Entry(
        description="Reach feasibility study 2024/25: one row per referral in the six-month recruitment "
                    "window, with the stage each case reached and outcome measures for consented cases.",
        columns={
            "case_id": "case identifier (pseudonymous)", "school": "referring school (12 schools)",
            "referral_source": "school, police, social care or youth offending",
            "referral_date": "date of referral", "first_contact_date": "date of first contact (triage); empty if never reached",
            "eligible": "1 = eligible after triage", "consented": "1 = consented (empty if not eligible)",
            "started": "1 = attended a first session (empty if not consented)",
            "completed": "1 = completed 24 weeks (empty if not started)",
            "sdq_baseline": "SDQ self-report total difficulties at referral (consented only)",
            "sdq_6m": "SDQ total difficulties at six months; empty if not collected",
            "attend_baseline": "school attendance (%) in the term before referral",
            "attend_6m": "school attendance (%) in the term after six months",
            "satisfaction": "exit survey: 'I would recommend Reach to a friend', 1-5 (5 = strongly agree)",
        },
        notes=["About 86% eligible, 78% of those consent, 92% start and about two thirds of starters complete; "
               "follow-up collection is much better among completers.",
               "SDQ varies a little between schools (ICC about 0.04), for the cluster planning step.",
               "Session records are in reach_feasibility_sessions.csv, drawn from the same stream."],
    )
    return cases, entry


def reach_feasibility_sessions(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    _cases, sessions = _reach_feasibility(rng)
    entry = Entry(
        description="Reach feasibility study: one row per planned weekly session for each young person who "
                    "started, until they completed 24 weeks or stopped coming.",
        columns={"case_id": "case identifier, as in reach_feasibility_cases.csv", "session_date": "date of the session",
                 "attended": "1 = the young person attended", "hours": "contact hours (0 if not attended)",
                 "fidelity": "1 = delivered as the blueprint says (mentor's checklist); empty if not attended"},
        notes=["Drawn with the case file's random stream so that every session belongs to a case."],
    )
    return sessions, entry


# ---------------------------------------------------------------------------- demographics


def reach_with_comparison_demographics(frame: pd.DataFrame, entry: Entry, seed: int) -> tuple[pd.DataFrame, Entry]:
    """The standard subgroup columns for the matched example, from their own seeded streams (every
    column the generator wrote stays as it was), with a larger attendance gain planted among
    care-experienced Reach pupils (evalkit.synth.demographics.PlantedByGain)."""
    from evalkit.synth.demographics import PlantedByGain, add_demographics, plant_by_gain

    att_err = 5.0  # as reach_with_comparison draws attendance
    out, _ = add_demographics(frame, id_column="pupil_id", seed=seed)
    expected_untreated = clipped_normal_mean(0.75 * frame["attend_pre"].to_numpy(float) + 21.0
                                             - 1.0 * frame["susp_pre"].to_numpy(float), att_err, 0, 100)
    gain = frame["attend_12m"].to_numpy(float) - expected_untreated
    out, truth = plant_by_gain(out, id_column="pupil_id", treatment="reach", gain=gain, seed=seed,
                               planted=PlantedByGain(), outcome="attend_12m")
    columns = {**entry.columns,
               "sex": "female or male (from female)", "ethnicity": "broad ethnic group (five Census groups; synthetic)",
               "deprivation_quintile": "IMD quintile, 1 = most deprived 20% (from imd_decile)",
               "care_experienced": "1 = care experienced (synthetic; more common among Reach pupils)",
               "age_band": "age band 10-13, 14-15, 16-17 (from age)"}
    true_effects = [*entry.true_effects, truth.as_true_effect("reach-2023-matched", "attendance_pct")]
    notes = [*entry.notes, "The demographic columns are drawn from their own seeded streams, keyed by pupil id; "
             "among Reach pupils, care experience is more likely the larger a pupil's attendance gain, so the "
             "programme's effect on attendance is larger for care-experienced pupils (the planted subgroup "
             "difference)."]
    return out, Entry(description=entry.description, columns=columns, true_effects=true_effects, notes=notes)


def reach_sessions(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Routine delivery of Reach 2023/24: one row per weekly session offered to each referred pupil,
    drawn after the cohort from the cohort's own stream (so every session belongs to a pupil and the
    cohort file is unchanged). Completers attend most of their 24 sessions; the others stop coming."""
    cohort, _entry = reach_cohort(rng)
    weeks, mentors = 24, [f"M{i:02d}" for i in range(1, 13)]
    rows = []
    for pid, ref, done in zip(cohort["pupil_id"], pd.to_datetime(cohort["referral_date"]), cohort["completed"]):
        start = ref + pd.Timedelta(days=int(rng.integers(3, 15)))
        mentor = mentors[int(rng.integers(0, len(mentors)))]
        last = weeks if done == 1 else int(rng.integers(2, weeks))  # non-completers stop after a few weeks
        p_attend = 0.86 if done == 1 else 0.62
        for k in range(last):
            attended = bool(rng.random() < p_attend)
            hours = float(rng.choice([0.75, 1.0, 1.0, 1.0, 1.25])) if attended else 0.0
            fid = (float(rng.random() < (0.88 if mentor not in ("M03", "M09") else 0.7)) if attended
                   and rng.random() < 0.9 else np.nan)
            rows.append((pid, (start + pd.Timedelta(weeks=k)).strftime("%Y-%m-%d"), int(attended), hours, fid,
                         mentor))
    frame = pd.DataFrame(rows, columns=["pupil_id", "session_date", "attended", "hours", "fidelity", "mentor"])
    frame = frame.sort_values(["session_date", "pupil_id"], kind="stable").reset_index(drop=True)
    entry = Entry(
        description="Reach 2023/24 routine delivery: one row per weekly mentoring session offered to a referred "
                    "pupil, until they completed 24 weeks or stopped coming.",
        columns={"pupil_id": "pupil identifier, as in reach_cohort.csv", "session_date": "date of the session",
                 "attended": "1 = the pupil attended", "hours": "contact hours (0 if not attended)",
                 "fidelity": "1 = delivered as the blueprint says (mentor's checklist); empty if not attended or "
                             "not checked", "mentor": "the mentor (12 mentors)"},
        notes=["Drawn after the cohort, from the cohort's random stream: reach_cohort.csv is unchanged.",
               "Two mentors (M03, M09) follow the blueprint less often than the others."])
    return frame, entry


# file -> the step that adds its demographic columns (run after the generator, with its own streams)
DEMOGRAPHICS = {"reach_with_comparison.csv": reach_with_comparison_demographics}

GENERATORS = {
    "reach_cohort.csv": reach_cohort,
    "reach_with_comparison.csv": reach_with_comparison,
    "vip_attenders.csv": vip_attenders,
    "mvp_survey.csv": mvp_survey,
    "phoenix_panel.csv": phoenix_panel,
    "reach_feasibility_cases.csv": reach_feasibility_cases,
    "reach_feasibility_sessions.csv": reach_feasibility_sessions,
    "reach_sessions.csv": reach_sessions,
}


def _area_panel(rng):  # issue 18: its own stream and folder (data/areas/), so no other file changed
    from evalkit.synth.place import area_panel

    return area_panel(rng, Entry)


GENERATORS["area_panel.csv"] = _area_panel
# file -> the file whose random stream it is drawn from (records that must agree with each other)
COMPANIONS = {"reach_feasibility_sessions.csv": "reach_feasibility_cases.csv", "reach_sessions.csv": "reach_cohort.csv"}
