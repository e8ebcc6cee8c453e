"""Small synthetic extracts of the partnership's other sources (education, social care, youth
justice, anti-social behaviour, the young people's survey, national comparators) for the example
project. Seeded; not real people; each written once as a history file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.monitor.synth_base import AREA_RISK, AREAS, _areas, _days_in, _months, _seasonal, _timestamps

SOURCES = ("school_exclusions", "persistent_absence", "social_care_referrals", "youth_justice", "asb_incidents",
           "survey_waves", "national_comparators")
START, END = "2022-04-01", "2024-03-01"
REASONS = ["Physical assault against a pupil", "Physical assault against an adult", "Verbal abuse or threatening "
           "behaviour", "Persistent disruptive behaviour", "Use or threat of use of an offensive weapon or prohibited "
           "item", "Drug and alcohol related"]


def _people(rng, n: int, prefix: str) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(rng.integers(1, 60_000, n).astype(str), 6))


def _monthly(rng, per_month: float) -> tuple[pd.DatetimeIndex, np.ndarray]:
    months = _months(START, END)
    return months, rng.poisson(per_month * _seasonal(months))


def school_exclusions(rng) -> pd.DataFrame:
    months, n = _monthly(rng, 260)
    # no school in August: no suspensions
    n = np.where(months.month == 8, 0, n)
    rows = []
    for m, k in zip(months, n):
        permanent = rng.random(k) < 0.03
        rows.append(pd.DataFrame({
            "start_date": _days_in(rng, m, k),
            "category": np.where(permanent, "permanent_exclusion", "suspension"),
            "reason": rng.choice(REASONS, k, p=[0.2, 0.12, 0.22, 0.34, 0.04, 0.08]),
            "days": np.where(permanent, np.nan, rng.choice([0.5, 1, 2, 3, 5], k)),
            "age": rng.integers(5, 17, k), "sex": np.where(rng.random(k) < 0.72, "M", "F"),
            "area": _areas(rng, k, AREA_RISK), "school_id": np.char.add("SCH", rng.integers(100, 420, k).astype(str))}))
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "exclusion_id", [f"EXC{i:06d}" for i in range(len(out))])
    out.insert(1, "pupil_id", _people(rng, len(out), "UPN"))
    return out[["exclusion_id", "pupil_id", "school_id", "start_date", "category", "reason", "days", "age", "sex",
                "area"]]


def persistent_absence(rng) -> pd.DataFrame:
    schools = [f"SCH{i}" for i in range(100, 420)]
    area = _areas(rng, len(schools), AREA_RISK)
    rows = []
    for year in (2022, 2023):
        pupils = rng.integers(180, 1600, len(schools))
        rows.append(pd.DataFrame({"school_id": schools, "year_start": pd.Timestamp(f"{year}-09-01").date(),
                                  "pupils": pupils, "persistently_absent": rng.binomial(pupils, 0.21),
                                  "area": area}))
    return pd.concat(rows, ignore_index=True)


def social_care_referrals(rng) -> pd.DataFrame:
    months, n = _monthly(rng, 900)
    month_of_row = np.repeat(months.to_numpy(), n)
    k = len(month_of_row)
    out = pd.DataFrame({"referral_id": [f"SCR{i:06d}" for i in range(k)], "child_id": _people(rng, k, "CH"),
                        "received_on": [_days_in(rng, pd.Timestamp(m), 1)[0] for m in month_of_row],
                        "referral_source": rng.choice(["police", "school", "health", "other"], k, p=[.3, .2, .15, .35]),
                        "extra_familial_harm": rng.random(k) < 0.08, "age": rng.integers(0, 18, k),
                        "sex": np.where(rng.random(k) < 0.52, "M", "F"), "area": _areas(rng, k, AREA_RISK)})
    return out


def youth_justice(rng) -> pd.DataFrame:
    months, n = _monthly(rng, 45)
    month_of_row = np.repeat(months.to_numpy(), n)
    k = len(month_of_row)
    return pd.DataFrame({"outcome_id": [f"YJ{i:05d}" for i in range(k)], "young_person_id": _people(rng, k, "YJ"),
                         "outcome_date": [_days_in(rng, pd.Timestamp(m), 1)[0] for m in month_of_row],
                         "outcome_type": rng.choice(["first_time_entrant", "out_of_court", "court"], k, p=[.3, .45, .25]),
                         "violent_offence": rng.random(k) < 0.35, "age": rng.integers(10, 18, k),
                         "sex": np.where(rng.random(k) < 0.82, "M", "F"), "area": _areas(rng, k, AREA_RISK)})


def asb_incidents(rng) -> pd.DataFrame:
    months, n = _monthly(rng, 1400)
    month_of_row = np.repeat(months.to_numpy(), n)
    k = len(month_of_row)
    return pd.DataFrame({"incident_id": [f"ASB{i:06d}" for i in range(k)],
                         "reported_at": _timestamps(rng, month_of_row),
                         "category": rng.choice(["personal", "nuisance", "environmental"], k, p=[.25, .6, .15]),
                         "area": _areas(rng, k, AREA_RISK)})


def survey_waves(rng) -> pd.DataFrame:
    rows = []
    for year in (2022, 2023):
        k = 2400
        rows.append(pd.DataFrame({"wave": f"{year} autumn", "wave_start": pd.Timestamp(f"{year}-01-01").date(),
                                  "age": rng.integers(11, 19, k), "sex": rng.choice(["M", "F", None], k, p=[.48, .48, .04]),
                                  "area": _areas(rng, k, AREAS),
                                  "feels_safe_in_area": rng.random(k) < (0.71 if year == 2022 else 0.74),
                                  "knows_someone_carrying_knife": rng.random(k) < 0.17}))
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "response_id", [f"YPS{i:05d}" for i in range(len(out))])
    return out


# published figures of this shape (values are illustrative, not the publishers' numbers)
COMPARATORS = [("ONS", "Violence against the person offences per 1,000 population", "per 1,000", 34.0),
               ("DfE", "Suspension rate (suspensions per 100 pupils)", "per 100 pupils", 8.9),
               ("DfE", "Persistent absence (percent of pupils)", "percent", 21.2),
               ("OHID", "Hospital admissions for violence (including sexual violence) per 100,000", "per 100,000", 35.0)]


def national_comparators(rng) -> pd.DataFrame:
    rows = []
    for year in (2022, 2023):
        for publisher, indicator, unit, level in COMPARATORS:
            for area, scale in (("England", 1.0), ("East Midlands", 0.97)):
                rows.append({"publisher": publisher, "indicator": indicator, "area": area,
                             "period_start": pd.Timestamp(f"{year}-01-01").date(),
                             "value": round(level * scale * (1 + 0.03 * (year - 2022)) * (1 + rng.normal(0, .01)), 1),
                             "unit": unit})
    return pd.DataFrame(rows)


def write_partner_extracts(rng, out: Path, write) -> None:
    """Each partner source's history file under ``out/<source>/`` (``write(frame, path)``)."""
    span = "2022-04_to_2024-03"
    write(school_exclusions(rng), out / "school_exclusions" / f"exclusions_{span}.csv")
    write(persistent_absence(rng), out / "persistent_absence" / "persistent_absence_2022-2023.csv")
    write(social_care_referrals(rng), out / "social_care_referrals" / f"referrals_{span}.csv")
    write(youth_justice(rng), out / "youth_justice" / f"youth_justice_{span}.csv")
    write(asb_incidents(rng), out / "asb_incidents" / f"asb_{span}.parquet")
    write(survey_waves(rng), out / "survey_waves" / "survey_2022-2023.csv")
    write(national_comparators(rng), out / "national_comparators" / "comparators_2022-2023.csv")
