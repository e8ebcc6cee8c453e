"""The starter project's tiny data (``evalkit init``): made-up young people, areas and referrals.

One generator per data file, in the shape of :mod:`evalkit.synth.datasets` (frame and
dictionary entry with the true effects built in), so ``evalkit synth`` writes them with their
data dictionary and ``evalkit synth --check`` puts each true effect beside its estimate. Small on
purpose (a few hundred rows; the comparison-area panel, 40 areas by 48 months, the largest): every
design runs in seconds, and a user can read the files.

Also :func:`referral_extracts`, the monthly monitoring extracts ``evalkit init`` writes under
``monitoring/extracts/referrals/``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.synth._util import clipped_normal_mean, ids, logistic
from evalkit.synth.datasets import Entry

WELLBEING = (7, 35)  # the example questionnaire's range
AREAS = {"Northfield": 62_000, "Riverside": 47_000, "Eastgate": 31_000}
SCHOOLS = ["Northfield Academy", "Riverside High", "Eastgate School", "St Anne's"]


def _score(rng, true_score, sd, n):
    low, high = WELLBEING
    return np.clip(np.round(true_score + rng.normal(0, sd, n)), low, high)


def _missing(rng, values, share):
    out = pd.Series(values, dtype="float64")
    out[rng.random(len(out)) < share] = np.nan
    return out


def cohort(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Pre/post: wellbeing and arrests at referral and at exit."""
    n, effect, err = 80, 3.0, 2.2
    need = rng.normal(0, 1, n)
    true = 19.0 - 3.0 * need
    start = _score(rng, true, err, n)
    followed = rng.random(n) > 0.12  # about one in eight leave without an exit survey
    end = _score(rng, true + effect, err, n)
    p_before = logistic(-0.9 + 0.6 * need)
    p_after = logistic(-1.5 + 0.6 * need)
    before = (rng.random(n) < p_before).astype(float)
    after = (rng.random(n) < p_after).astype(float)
    frame = pd.DataFrame({
        "young_person_id": ids("M", n, rng), "school": rng.choice(SCHOOLS, n),
        "age": rng.integers(12, 18, n), "female": (rng.random(n) < 0.4).astype(int),
        "wellbeing_start": start, "wellbeing_end": np.where(followed, end, np.nan),
        "arrested_before": before, "arrested_after": np.where(followed, after, np.nan),
    })
    low, high = WELLBEING
    change = clipped_normal_mean(true + effect, err, low, high) - clipped_normal_mean(true, err, low, high)
    entry = Entry(
        description="Young people referred to mentoring: wellbeing and arrests in the six months before "
                    "referral and at exit (made up, not real people).",
        columns={"young_person_id": "identifier (pseudonymous)", "school": "school attended",
                 "age": "age at referral", "female": "1 = female", "wellbeing_start": "wellbeing score at referral",
                 "wellbeing_end": "wellbeing score at exit (empty: left without an exit survey)",
                 "arrested_before": "1 = arrested in the six months before referral",
                 "arrested_after": "1 = arrested during the six months of mentoring"},
        true_effects=[
            {"evaluation": "mentoring-prepost", "indicator": "wellbeing", "estimand": "mean_change",
             "value": float(np.mean(change[followed])), "description": "expected change of the observed score"},
            {"evaluation": "mentoring-prepost", "indicator": "arrested", "estimand": "change_in_proportion",
             "value": float(np.mean((p_after - p_before)[followed])),
             "description": "expected change in the share arrested"}],
    )
    return frame, entry


def _matched(rng: np.random.Generator):
    n_t, n_c, effect = 80, 400, -0.7  # effect on the log odds of arrest
    treated = np.r_[np.ones(n_t), np.zeros(n_c)].astype(int)
    n = n_t + n_c
    risk = rng.normal(0, 1, n) + 0.7 * treated  # referral picks out young people at higher risk
    age = np.clip(np.round(14.5 + 1.3 * rng.normal(0, 1, n) + 0.3 * treated), 12, 17).astype(int)
    female = (rng.random(n) < logistic(-0.3 - 0.3 * treated)).astype(int)
    prior = np.minimum(rng.poisson(np.exp(-0.6 + 0.5 * risk)), 6)
    excluded = (rng.random(n) < logistic(-1.6 + 0.7 * risk)).astype(int)
    imd = np.clip(np.round(4.5 - 1.2 * risk + rng.normal(0, 2, n)), 1, 10).astype(int)
    base = -1.6 + 0.35 * prior + 0.5 * excluded - 0.06 * imd + 0.1 * (age - 14)
    p0, p1 = logistic(base), logistic(base + effect)
    arrested = (rng.random(n) < np.where(treated == 1, p1, p0)).astype(int)
    frame = pd.DataFrame({"young_person_id": ids("Y", n, rng), "age": age, "female": female,
                          "prior_arrests": prior, "excluded": excluded, "imd_decile": imd,
                          "arrested_12m": arrested})
    att = float(np.mean((p1 - p0)[treated == 1]))
    naive = float(arrested[treated == 1].mean() - arrested[treated == 0].mean())
    return frame, treated, att, naive


COLUMNS_MATCHED = {"young_person_id": "identifier (pseudonymous)", "age": "age at referral (or at the same date)",
                   "female": "1 = female", "prior_arrests": "arrests in the two years before",
                   "excluded": "1 = ever excluded from school", "imd_decile": "deprivation decile of home (1 = most)",
                   "arrested_12m": "1 = arrested within 12 months"}


def participants(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    frame, treated, att, naive = _matched(rng)
    entry = Entry(
        description="Mentoring participants (the comparison pool is in mentoring_comparison_pool.csv, with the "
                    "same columns). Referral picks out young people with more prior arrests and exclusions.",
        columns=COLUMNS_MATCHED,
        true_effects=[{"evaluation": "mentoring-matched", "indicator": "arrested", "estimand": "att",
                       "value": att, "naive_difference": naive,
                       "description": "mean over participants of P(arrest | mentored) - P(arrest | not)"}])
    return frame[treated == 1].reset_index(drop=True), entry


def comparison_pool(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    frame, treated, _att, _naive = _matched(rng)
    entry = Entry(description="Young people not referred to mentoring: the pool the matched comparison draws from.",
                  columns=COLUMNS_MATCHED)
    return frame[treated == 0].reset_index(drop=True), entry


def panel(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Difference-in-differences: offences per young person per month, 2023-2024."""
    months = pd.period_range("2023-01", "2024-12", freq="M")
    n_t, n_c, ratio = 30, 30, 0.6
    n, t = n_t + n_c, np.arange(len(months))
    treated = np.r_[np.ones(n_t), np.zeros(n_c)].astype(bool)
    alpha = rng.normal(np.log(0.35), 0.4, n) + 0.4 * treated  # those mentored start from higher rates
    mu0 = np.exp(alpha[:, None] + 0.01 * t[None, :] + 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12))
    active = (treated[:, None] & (t[None, :] >= months.get_loc(pd.Period("2024-01", "M")))).astype(int)
    mu = mu0 * np.where(active == 1, ratio, 1.0)
    frame = pd.DataFrame({"person_id": np.repeat(ids("P", n, rng), len(months)),
                          "month": np.tile(months.strftime("%Y-%m"), n), "mentored": active.ravel(),
                          "offences": rng.poisson(mu).ravel()})
    on = active == 1
    entry = Entry(
        description="Young people followed month by month, January 2023 to December 2024: 30 mentored from "
                    "January 2024, 30 never mentored.",
        columns={"person_id": "identifier (pseudonymous)", "month": "calendar month (YYYY-MM)",
                 "mentored": "1 in the months a young person is mentored", "offences": "offences recorded in the month"},
        true_effects=[
            {"evaluation": "mentoring-did", "indicator": "offences", "estimand": "att",
             "value": float(np.mean(mu[on] - mu0[on])), "description": "offences per person-month"},
            {"evaluation": "mentoring-did", "indicator": "offences", "estimand": "rate_ratio", "value": ratio,
             "description": "multiplicative effect on the monthly offence rate"}])
    return frame, entry


def area_offences(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Interrupted time series: violence against the person per area per month, 2021-2024."""
    months = pd.period_range("2021-01", "2024-12", freq="M")
    level = 0.85
    after = (months >= pd.Period("2023-01", "M")).astype(float)
    season = 1 + 0.1 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    rows = []
    for area, population in AREAS.items():
        rate = 95 / 100_000 * population  # about 95 a month per 100,000
        mu = rate * season * (1 + 0.002 * np.arange(len(months))) * np.where(after == 1, level, 1.0)
        counts = rng.negative_binomial(40, 40 / (40 + mu))
        rows.append(pd.DataFrame({"area": area, "month": months.strftime("%Y-%m"), "population": population,
                                  "violent_offences": counts}))
    entry = Entry(
        description="Police-recorded violence against the person in the three areas served, per month, 2021 to "
                    "2024; the programme began in January 2023.",
        columns={"area": "area", "month": "calendar month (YYYY-MM)", "population": "resident population",
                 "violent_offences": "offences recorded in the month"},
        true_effects=[{"evaluation": "mentoring-its", "indicator": "violent_offences", "estimand": "level_change",
                       "value": level, "description": "rate ratio at the interruption"},
                      {"evaluation": "mentoring-its", "indicator": "violent_offences", "estimand": "slope_change",
                       "value": 1.0, "description": "no change of trend (rate ratio per 12 months)"}])
    return pd.concat(rows, ignore_index=True), entry


COMPARISON_DONORS = 39  # comparison areas: 40 areas in all, so the permutation interval reaches 95% (1 - 2/40)


def comparison_areas(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """Comparison areas (synthetic control): the three areas served, as one, against 39 others, 2021-2024.

    Drawn from the stream of ``mentoring_area_offences.csv`` (see ``COMPANIONS``): that file is drawn
    again first, so the treated area's counts are exactly its three areas' added up (the two files
    agree), and the comparison areas come after it from the same stream. Each comparison area's rate
    has its own level and loadings on two slow latent factors (so no single area tracks the areas
    served and a weighted comparison is needed); counts are negative binomial as in that file.
    """
    its, _entry = area_offences(rng)
    months = pd.period_range("2021-01", "2024-12", freq="M")
    t = np.arange(len(months))
    level = 0.85  # the same planted effect as the time series: rates x 0.85 from January 2023
    after = months >= pd.Period("2023-01", "M")
    season = 1 + 0.1 * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    trend = 1 + 0.002 * t
    served = its.groupby("month", sort=True)["violent_offences"].sum().to_numpy()
    population = sum(AREAS.values())
    mu0 = 95 / 100_000 * population * season * trend  # expected count without the programme
    f1 = np.sin(2 * np.pi * t / 36.0)
    f2 = np.clip((t - 6) / 30.0, 0, 1) - 0.5
    names = [f"Comparison area {i:02d}" for i in range(1, COMPARISON_DONORS + 1)]
    pops = np.round(rng.uniform(60_000, 300_000, COMPARISON_DONORS), -3).astype(int)
    levels = rng.normal(0.0, 0.2, COMPARISON_DONORS)
    load1 = rng.normal(0.0, 0.1, COMPARISON_DONORS)
    load2 = rng.normal(0.0, 0.1, COMPARISON_DONORS)
    rows = [pd.DataFrame({"area": "Areas served", "month": months.strftime("%Y-%m"), "population": population,
                          "treated_from": "2023-01", "violent_offences": served})]
    for j, name in enumerate(names):
        mu = (95 / 100_000 * pops[j] * season * trend
              * np.exp(levels[j] + load1[j] * f1 + load2[j] * f2))
        rows.append(pd.DataFrame({"area": name, "month": months.strftime("%Y-%m"), "population": pops[j],
                                  "treated_from": "", "violent_offences": rng.negative_binomial(40, 40 / (40 + mu))}))
    entry = Entry(
        description="Comparison-area panel: the three areas served as one (\"Areas served\", the sum of "
                    "mentoring_area_offences.csv) and 39 comparison areas, per month, 2021 to 2024; the programme "
                    "began in January 2023.",
        columns={"area": "\"Areas served\" (treated) or an invented comparison area", "month": "calendar month (YYYY-MM)",
                 "population": "resident population",
                 "treated_from": "first month under the programme (2023-01) on the treated rows; empty for comparison "
                                 "areas",
                 "violent_offences": "offences recorded in the month"},
        true_effects=[{"evaluation": "mentoring-areas", "indicator": "violent_offences", "estimand": "events_prevented",
                       "subgroup": "all", "value": float(np.sum(mu0[after] * (1 - level))), "rate_ratio": level,
                       "description": "expected offences without the programme minus with it in the areas served, "
                                      f"2023-01 to 2024-12 (built in as a rate ratio of {level:g})"}],
        notes=["Drawn with the stream of mentoring_area_offences.csv, so the treated rows are that file's three areas "
               "added up. The comparison areas are invented: not real places."])
    return pd.concat(rows, ignore_index=True), entry


def trial(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    """RCT: wellbeing and arrests six months after randomisation (1:1, 120 young people)."""
    n, effect, err = 120, 2.5, 2.2
    arm = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n - n // 2)]).astype(int)
    need = rng.normal(0, 1, n)
    true = 19.0 - 3.0 * need
    baseline = _score(rng, true, err, n)
    follow = _score(rng, true + effect * arm, err, n)
    seen = rng.random(n) > 0.1
    p0 = logistic(-1.2 + 0.6 * need)
    p1 = logistic(-1.2 + 0.6 * need - 0.6)
    arrested = (rng.random(n) < np.where(arm == 1, p1, p0)).astype(float)
    low, high = WELLBEING
    itt = clipped_normal_mean(true + effect, err, low, high) - clipped_normal_mean(true, err, low, high)
    frame = pd.DataFrame({"young_person_id": ids("R", n, rng), "arm": arm, "wellbeing_baseline": baseline,
                          "wellbeing_6m": np.where(seen, follow, np.nan), "arrested_6m": np.where(seen, arrested, np.nan)})
    entry = Entry(
        description="Young people on the waiting list, randomised 1:1 to mentoring now (1) or in six months (0).",
        columns={"young_person_id": "identifier (pseudonymous)", "arm": "randomised arm: 1 mentoring now, 0 later",
                 "wellbeing_baseline": "wellbeing score at randomisation",
                 "wellbeing_6m": "wellbeing score six months later (empty: not seen)",
                 "arrested_6m": "1 = arrested within six months (empty: not seen)"},
        true_effects=[{"evaluation": "mentoring-rct", "indicator": "wellbeing", "estimand": "itt",
                       "value": float(np.mean(itt)), "description": "expected difference of the observed score"},
                      {"evaluation": "mentoring-rct", "indicator": "arrested", "estimand": "itt",
                       "value": float(np.mean(p1 - p0)), "description": "risk difference"}])
    return frame, entry


def _feasibility(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 46
    referral = pd.Timestamp("2024-09-01") + pd.to_timedelta(np.sort(rng.integers(0, 180, n)), unit="D")
    eligible = (rng.random(n) < 0.9).astype(int)
    consented = eligible * (rng.random(n) < 0.78)
    started = consented * (rng.random(n) < 0.9)
    completed = started * (rng.random(n) < 0.7)
    contact = referral + pd.to_timedelta(rng.integers(3, 20, n), unit="D")
    sessions = []
    for i in np.nonzero(started)[0]:
        planned = 12
        dates = contact[i] + pd.to_timedelta(7 * np.arange(planned), unit="D")
        attended = (rng.random(planned) < (0.85 if completed[i] else 0.45)).astype(int)
        fidelity = np.where(attended == 1, (rng.random(planned) < 0.88).astype(float), np.nan)
        sessions.append(pd.DataFrame({"case": i, "session_date": dates.strftime("%Y-%m-%d"), "attended": attended,
                                      "fidelity": fidelity}))
    true = 19.0 + 3.0 * rng.normal(0, 1, n)
    base_seen = consented.astype(bool) & (rng.random(n) < 0.95)
    follow_seen = started.astype(bool) & (rng.random(n) < 0.85)
    case_id = ids("F", n, rng)
    cases = pd.DataFrame({
        "case_id": case_id, "referral_date": referral.strftime("%Y-%m-%d"),
        "first_contact_date": np.where(consented == 1, contact.strftime("%Y-%m-%d"), None),
        "eligible": eligible, "consented": consented.astype(int), "started": started.astype(int),
        "completed": completed.astype(int),
        "satisfaction": np.where(started == 1, np.clip(np.round(rng.normal(4.1, 0.8, n)), 1, 5), np.nan),
        "wellbeing_baseline": np.where(base_seen, _score(rng, true, 2.2, n), np.nan),
        "wellbeing_6m": np.where(follow_seen, _score(rng, true + 2.5, 2.2, n), np.nan),
    })
    sessions = pd.concat(sessions, ignore_index=True)
    sessions.insert(0, "case_id", case_id[sessions.pop("case").to_numpy()])
    return cases, sessions


def referrals(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    cases, _sessions = _feasibility(rng)
    entry = Entry(
        description="Referrals to the mentoring feasibility study, September 2024 to February 2025.",
        columns={"case_id": "case identifier", "referral_date": "date referred",
                 "first_contact_date": "date of first contact (empty: not consented)",
                 "eligible": "1 = eligible", "consented": "1 = consented", "started": "1 = attended a first session",
                 "completed": "1 = completed six months", "satisfaction": "agreement 1-5 that mentoring helped",
                 "wellbeing_baseline": "wellbeing at the start", "wellbeing_6m": "wellbeing six months later"})
    return cases, entry


def sessions(rng: np.random.Generator) -> tuple[pd.DataFrame, Entry]:
    _cases, frame = _feasibility(rng)
    entry = Entry(
        description="Planned mentoring sessions of the feasibility study: twelve weekly sessions per starter.",
        columns={"case_id": "case identifier", "session_date": "planned date", "attended": "1 = attended",
                 "fidelity": "1 = delivered as planned (empty if not attended)"},
        notes=["Drawn with the referral file's random stream so that every session belongs to a case."])
    return frame, entry


GENERATORS = {
    "mentoring_cohort.csv": cohort,
    "mentoring_participants.csv": participants,
    "mentoring_comparison_pool.csv": comparison_pool,
    "mentoring_panel.csv": panel,
    "mentoring_area_offences.csv": area_offences,
    "mentoring_comparison_areas.csv": comparison_areas,
    "mentoring_trial.csv": trial,
    "mentoring_referrals.csv": referrals,
    "mentoring_sessions.csv": sessions,
}
# file -> the file whose random stream it shares (records that must agree with each other)
COMPANIONS = {"mentoring_comparison_pool.csv": "mentoring_participants.csv",
              "mentoring_comparison_areas.csv": "mentoring_area_offences.csv",
              "mentoring_sessions.csv": "mentoring_referrals.csv"}


def referral_extracts(rng: np.random.Generator, months: list[str]) -> dict[str, pd.DataFrame]:
    """Monthly referral extracts for monitoring (file name -> rows), about 20 referrals a month."""
    out = {}
    for month in months:
        start = pd.Timestamp(f"{month}-01")
        n = int(rng.poisson(21))
        days = np.sort(rng.integers(0, start.days_in_month, n))
        out[f"referrals_{month}.csv"] = pd.DataFrame({
            "referral_id": [f"R{start:%y%m}-{i:03d}" for i in range(n)],
            "person_id": ids("YP", n, rng),
            "programme": "mentoring",
            "referral_date": (start + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
            "referral_source": rng.choice(["school", "police", "youth service", "self"], n, p=[0.45, 0.3, 0.2, 0.05]),
            "engaged": np.where(rng.random(n) < 0.74, "true", "false"),
            "area": rng.choice(list(AREAS), n, p=np.array(list(AREAS.values())) / sum(AREAS.values())),
            "age": rng.integers(12, 18, n),
            "sex": np.where(rng.random(n) < 0.62, "M", "F"),
        })
    return out
