"""Synthetic monthly extracts for the example project (not real people), and big files for benchmarks.

Everything is vectorised numpy and seeded: the same seed gives the same files. Knife-enabled
serious violence, knife admissions and homicides fall after the interruption (October 2019),
so the success-measure trends have something to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SEED = 20240301
EXTRACTS = Path("monitoring") / "extracts"
INTERRUPTION = pd.Timestamp("2019-10-01")
# community safety partnership areas of Leicester, Leicestershire and Rutland, mid-2020 populations (rounded)
AREAS = {"Leicester": 368_000, "Charnwood": 185_000, "Hinckley and Bosworth": 114_000, "Blaby": 102_000,
         "Harborough": 97_000, "North West Leicestershire": 105_000, "Melton": 52_000,
         "Oadby and Wigston": 58_000, "Rutland": 41_000}
# violence is concentrated in the city
AREA_RISK = {"Leicester": 2.2, "Charnwood": 1.0, "Hinckley and Bosworth": 0.8, "Blaby": 0.7, "Harborough": 0.5,
             "North West Leicestershire": 0.9, "Melton": 0.6, "Oadby and Wigston": 0.7, "Rutland": 0.4}
# offence type -> (share of police records, probability a knife or sharp object is flagged)
OFFENCES = {
    "Robbery of personal property": (0.030, 0.22), "Robbery of business property": (0.006, 0.25),
    "Arson endangering life": (0.002, 0.0), "Attempted murder": (0.001, 0.6),
    "Wounding with intent to do grievous bodily harm": (0.012, 0.35), "Assault with injury": (0.150, 0.06),
    "Assault with intent to cause serious harm": (0.004, 0.30), "Common assault": (0.160, 0.01),
    "Assault without injury on a constable": (0.015, 0.0), "Threats to kill": (0.010, 0.25),
    "Stalking": (0.040, 0.0), "Harassment": (0.060, 0.0), "Malicious communications": (0.040, 0.0),
    "Controlling or coercive behaviour": (0.020, 0.0), "Rape of a female aged 16 and over": (0.012, 0.02),
    "Rape of a male aged 16 and over": (0.001, 0.02), "Sexual assault on a female aged 13 and over": (0.015, 0.01),
    "Sexual assault on a male aged 13 and over": (0.002, 0.01), "Exploitation of prostitution": (0.001, 0.0),
    "Violent disorder": (0.003, 0.10), "Affray": (0.006, 0.08), "Public fear, alarm or distress": (0.060, 0.02),
    "Aggravated burglary in a dwelling": (0.002, 0.30), "Shoplifting": (0.150, 0.005),
    "Theft from the person": (0.040, 0.01), "Burglary - residential": (0.080, 0.01),
    "Criminal damage to a vehicle": (0.060, 0.0), "Possession of controlled drugs": (0.0548, 0.0),
    # not in the mapping: shown as unmapped on the dashboard
    "Possession of article with blade or point": (0.004, 1.0), "Assault w/injury (legacy code 8N)": (0.0002, 0.05),
}
DOMESTIC_SHARE = {"Assault with injury": 0.35, "Common assault": 0.35, "Stalking": 0.4, "Harassment": 0.3,
                  "Controlling or coercive behaviour": 1.0, "Malicious communications": 0.3, "Threats to kill": 0.3}
# hour-of-day weights: violence peaks in the evening and the early morning at weekends
HOURS = np.array([5, 4, 3, 2, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5, 6, 7, 7, 7, 8, 9, 10, 10, 9, 7], dtype=float)
AGE_BANDS = [0, 10, 18, 25, 35, 50, 65]


def _months(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="MS")


def _effect(month_starts: np.ndarray, size: float) -> np.ndarray:
    """Multiplier: 1 before the interruption, falling to 1 - size over the following two years."""
    since = (pd.DatetimeIndex(month_starts) - INTERRUPTION).days.to_numpy() / 365.25
    return 1 - size * np.clip(since, 0, 2) / 2


def _seasonal(month_starts) -> np.ndarray:
    m = pd.DatetimeIndex(month_starts).month.to_numpy()
    return 1 + 0.12 * np.sin((m - 4) / 12 * 2 * np.pi)


def _timestamps(rng, month_of_row: np.ndarray) -> np.ndarray:
    """A time within each row's month, weighted to evenings and weekend nights."""
    starts = pd.DatetimeIndex(month_of_row)
    days = starts.days_in_month.to_numpy()
    day = np.floor(rng.random(len(starts)) * days).astype(int)
    hour = rng.choice(24, size=len(starts), p=HOURS / HOURS.sum())
    minute = rng.integers(0, 60, len(starts))
    ts = starts.to_numpy() + (day * 86400 + hour * 3600 + minute * 60).astype("timedelta64[s]")
    return ts.astype("datetime64[s]")


def _ages(rng, n: int, centre: float, missing: float) -> pd.array:
    ages = np.clip(np.round(10 + rng.gamma(2.2, (centre - 10) / 2.2, n)), 10, 90).astype("int64")
    out = pd.array(ages, dtype="Int64")
    out[rng.random(n) < missing] = pd.NA
    return out


def _areas(rng, n: int, weights: dict) -> np.ndarray:
    names = np.array(list(AREAS))
    w = np.array([AREAS[a] * weights.get(a, 1.0) for a in names])
    return names[rng.choice(len(names), n, p=w / w.sum())]


def _age_sex_area(rng, n: int, age_centre: float, male_share: float) -> dict:
    """The people columns the health extracts share: age (none missing), sex and area."""
    return {"age": _ages(rng, n, age_centre, 0.0).astype("int64"),
            "sex": np.where(rng.random(n) < male_share, "M", "F"),
            "area": _areas(rng, n, AREA_RISK)}


def _days_in(rng, month: pd.Timestamp, n: int) -> np.ndarray:
    """``n`` dates spread over the days of ``month``."""
    return (month + pd.to_timedelta(rng.integers(0, month.days_in_month, n), unit="D")).date


def police_records(rng, start: str, end: str, per_month: float = 3000, prefix: str = "C") -> pd.DataFrame:
    months = _months(start, end)
    n_month = rng.poisson(per_month * _seasonal(months))
    month_of_row = np.repeat(months.to_numpy(), n_month)
    n = len(month_of_row)
    names = np.array(list(OFFENCES))
    share = np.array([s for s, _ in OFFENCES.values()])
    offence_idx = rng.choice(len(names), n, p=share / share.sum())
    knife_p = np.array([k for _, k in OFFENCES.values()])[offence_idx] * _effect(month_of_row, 0.3)
    dom_p = np.array([DOMESTIC_SHARE.get(o, 0.02) for o in names])[offence_idx]
    offence = names[offence_idx]
    # homicides are rare: about 1.2 a month, falling by a quarter after the interruption
    n_hom = rng.poisson(1.2 * _effect(months.to_numpy(), 0.25))
    hom_month = np.repeat(months.to_numpy(), n_hom)
    offence = np.concatenate([offence, rng.choice(["Murder", "Manslaughter"], len(hom_month), p=[0.8, 0.2])])
    knife_p = np.concatenate([knife_p, np.full(len(hom_month), 0.4)])
    dom_p = np.concatenate([dom_p, np.full(len(hom_month), 0.2)])
    month_of_row = np.concatenate([month_of_row, hom_month])
    n = len(month_of_row)
    order = np.argsort(month_of_row, kind="stable")
    offence, knife_p, dom_p, month_of_row = offence[order], knife_p[order], dom_p[order], month_of_row[order]
    victim_known = rng.random(n) < 0.85
    suspect_known = rng.random(n) < 0.6
    frame = pd.DataFrame({
        "crime_ref": [f"{prefix}{i:09d}" for i in range(n)] if n < 2_000_000 else
        np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), 9)),
        "occurred_at": _timestamps(rng, month_of_row),
        "offence_type": offence,
        "knife_flag": rng.random(n) < knife_p,
        "domestic_flag": rng.random(n) < dom_p,
        "area": _areas(rng, n, AREA_RISK),
        "victim_id": np.where(victim_known, np.char.add("P", rng.integers(1, 400_000, n).astype(str)), None),
        "victim_age": _ages(rng, n, 30, 0.15),
        "victim_sex": np.where(rng.random(n) < 0.58, "M", "F"),
        "suspect_id": np.where(suspect_known, np.char.add("P", rng.integers(1, 400_000, n).astype(str)), None),
        "suspect_age": _ages(rng, n, 26, 0.45),
    })
    frame.loc[~victim_known, "victim_age"] = pd.NA
    return frame.sort_values("occurred_at", kind="stable", ignore_index=True)


def hospital_admissions(rng, start: str, end: str, prefix: str = "H") -> pd.DataFrame:
    months = _months(start, end)
    n_month = rng.poisson(45 * _seasonal(months))
    month_of_row = np.repeat(months.to_numpy(), n_month)
    n = len(month_of_row)
    knife_p = 0.2 * _effect(month_of_row, 0.3)
    cause = np.where(rng.random(n) < knife_p, "X99", rng.choice(["Y00", "Y04", "X95", "Y08"], n))
    return pd.DataFrame({
        "admission_id": [f"{prefix}{i:07d}" for i in range(n)],
        "patient_id": np.char.add("NHS", rng.integers(10**6, 10**7, n).astype(str)),
        "admitted_on": pd.DatetimeIndex(_timestamps(rng, month_of_row)).normalize().date,
        "cause_code": cause,
        **_age_sex_area(rng, n, 27, 0.85),
    })


def ae_attendances(rng, start: str, end: str, prefix: str = "A") -> pd.DataFrame:
    months = _months(start, end)
    month_of_row = np.repeat(months.to_numpy(), rng.poisson(150 * _seasonal(months)))
    n = len(month_of_row)
    return pd.DataFrame({
        "attendance_id": [f"{prefix}{i:07d}" for i in range(n)],
        "patient_id": np.char.add("NHS", rng.integers(10**6, 10**7, n).astype(str)),
        "arrived_at": _timestamps(rng, month_of_row),
        "weapon": rng.choice(["body", "blunt", "knife", "other", ""], n, p=[0.55, 0.15, 0.1, 0.1, 0.1]),
        "location_type": rng.choice(["street", "home", "licensed premises", "other"], n, p=[0.4, 0.3, 0.2, 0.1]),
        **_age_sex_area(rng, n, 28, 0.75),
    })


def ambulance_callouts(rng, start: str, end: str, prefix: str = "AMB") -> pd.DataFrame:
    months = _months(start, end)
    month_of_row = np.repeat(months.to_numpy(), rng.poisson(120 * _seasonal(months)))
    n = len(month_of_row)
    return pd.DataFrame({
        "incident_id": [f"{prefix}{i:07d}" for i in range(n)],
        "call_at": _timestamps(rng, month_of_row),
        "category": rng.choice(["assault", "stabbing", "gunshot"], n, p=[0.9, 0.09, 0.01]),
        "area": _areas(rng, n, AREA_RISK),
    })


# programme -> (referrals a month, share engaged)
# referrals a month and the share engaged; volumes keep every month publishable (at least 5) on the demo
PROGRAMMES = {"reach": (42, 0.8), "vip": (27, 0.62), "ete": (20, 0.8), "phoenix": (20, 0.7)}


def programme_referrals(rng, month: pd.Timestamp, prefix: str) -> pd.DataFrame:
    frames = []
    for name, (rate, engaged) in PROGRAMMES.items():
        n = rng.poisson(rate)
        age_lo, age_hi = {"reach": (10, 17), "vip": (14, 25), "ete": (16, 25), "phoenix": (16, 30)}[name]
        frames.append(pd.DataFrame({
            "programme": name,
            "referral_date": _days_in(rng, month, n),
            "referral_source": rng.choice(["school", "police", "A&E", "youth justice", "self"], n),
            "engaged": rng.random(n) < engaged,
            "area": _areas(rng, n, AREA_RISK),
            "age": rng.integers(age_lo, age_hi + 1, n),
            "sex": np.where(rng.random(n) < 0.7, "M", "F"),
        }))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "referral_id", [f"{prefix}-{i:04d}" for i in range(len(out))])
    out.insert(1, "person_id", np.char.add("YP", rng.integers(1, 20_000, len(out)).astype(str)))
    return out


def programme_sessions(rng, month: pd.Timestamp, prefix: str) -> pd.DataFrame:
    n = rng.poisson(440)
    return pd.DataFrame({
        "session_id": [f"{prefix}-{i:05d}" for i in range(n)],
        "person_id": np.char.add("YP", rng.integers(1, 20_000, n).astype(str)),
        "programme": "sport",
        "session_date": _days_in(rng, month, n),
        "attended": rng.random(n) < 0.86,
        "hours": np.round(rng.choice([1.0, 1.5, 2.0], n), 1),
        "area": _areas(rng, n, AREA_RISK),
    })


def programme_exits(rng, month: pd.Timestamp, prefix: str) -> pd.DataFrame:
    frames = []
    for name, rate, p_complete in (("reach", 38, 0.68), ("ete", 30, 0.7), ("vip", 24, 0.6)):
        n = rng.poisson(rate)
        done = rng.random(n) < p_complete
        frames.append(pd.DataFrame({
            "programme": name,
            "exit_date": _days_in(rng, month, n),
            "exit_reason": np.where(done, "completed", rng.choice(["disengaged", "moved_away", "other"], n)),
            "in_ete": pd.array(np.where(rng.random(n) < 0.55, True, False), dtype="boolean")
            if name == "ete" else pd.array([pd.NA] * n, dtype="boolean"),
            "area": _areas(rng, n, AREA_RISK),
            "age": rng.integers(12, 25, n),
            "sex": np.where(rng.random(n) < 0.7, "M", "F"),
        }))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "referral_id", [f"{prefix}-X{i:04d}" for i in range(len(out))])
    out.insert(1, "person_id", np.char.add("YP", rng.integers(1, 20_000, len(out)).astype(str)))
    return out


def populations(first_year: int, last_year: int, bands: list[int] = AGE_BANDS) -> pd.DataFrame:
    """Population by year, area, age band and sex: the areas' totals split by a fixed age profile."""
    from evalkit.monitor.indicators import age_band_labels

    labels = age_band_labels(bands)
    edges = sorted(bands) + [90]
    widths = np.array([hi - lo for lo, hi in zip(edges, edges[1:])], dtype=float)
    profile = widths * np.linspace(1.1, 0.7, len(widths))
    profile /= profile.sum()
    rows = []
    for year in range(first_year, last_year + 1):
        growth = 1 + 0.008 * (year - 2020)
        for area, total in AREAS.items():
            for label, share in zip(labels, profile):
                for sex, s in (("F", 0.505), ("M", 0.495)):
                    rows.append((year, area, label, sex, int(round(total * growth * share * s))))
    return pd.DataFrame(rows, columns=["year", "area", "age_band", "sex", "population"])


@dataclass
class DemoReport:
    written: list[Path] = field(default_factory=list)
    new: list[Path] = field(default_factory=list)  # written this time (the others were there already)
    corrections: list[tuple[str, Path]] = field(default_factory=list)  # (source, file) to ingest with --replace


def _write(frame: pd.DataFrame, path: Path, report: DemoReport) -> None:
    """Write once: an extract already there is kept (re-running gives the same files, same hashes)."""
    report.written.append(path)
    if path.exists():
        return
    report.new.append(path)
    _to_file(frame, path)


def _to_file(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> None:
    """Parquet, XLSX or CSV by suffix; CSV with Unix line ends and seconds-precision times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=row_group_size)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")


# the example project's sources (monitoring/sources/*.yml), one folder of extracts each
SOURCES = ("populations", "police", "hospital_admissions", "ae_attendances", "ambulance_callouts",
           "programme_referrals", "programme_sessions", "programme_exits", "school_exclusions", "persistent_absence",
           "social_care_referrals", "youth_justice", "asb_incidents", "survey_waves", "national_comparators")


def write_demo_extracts(root: Path | str, seed: int = DEFAULT_SEED) -> DemoReport:
    """The example project's extracts under monitoring/extracts/<source>/: history files plus monthly files.

    Built in: a missing ambulance month (2023-12), a late hospital extract (2024-03 not yet
    sent), a corrected police extract for 2024-01, and two offence types not in the mapping.
    """
    root = Path(root)
    out = root / EXTRACTS
    rng = np.random.default_rng(seed)
    report = DemoReport()
    recent = _months("2023-10-01", "2024-03-01")
    _write(populations(2016, 2024), out / "populations" / "populations_2016-2024.csv", report)
    _write(police_records(rng, "2016-04-01", "2023-09-01", prefix="H"), out / "police" /
           "police_2016-04_to_2023-09.parquet", report)
    for m in recent:
        frame = police_records(rng, m.strftime("%Y-%m-%d"), m.strftime("%Y-%m-%d"), prefix=f"M{m:%y%m}-")
        _write(frame, out / "police" / f"police_{m:%Y-%m}.csv", report)
        if m == pd.Timestamp("2024-01-01"):
            corrected = frame.copy()
            corrected.loc[corrected.index[:25], "knife_flag"] = True  # late-flagged knife crimes
            path = out / "police" / "corrections" / f"police_{m:%Y-%m}_corrected.csv"
            _write(corrected, path, report)
            report.written.pop()
            report.corrections.append(("police", path))
    _write(hospital_admissions(rng, "2016-04-01", "2023-09-01", prefix="HH"), out / "hospital_admissions" /
           "admissions_2016-04_to_2023-09.parquet", report)
    for m in recent[:-1]:  # the March 2024 extract is late
        _write(hospital_admissions(rng, m.strftime("%Y-%m-%d"), m.strftime("%Y-%m-%d"), prefix=f"H{m:%y%m}-"),
               out / "hospital_admissions" / f"admissions_{m:%Y-%m}.csv", report)
    _write(ae_attendances(rng, "2022-04-01", "2023-09-01", prefix="AH"), out / "ae_attendances" /
           "ae_2022-04_to_2023-09.xlsx", report)
    for m in recent:
        _write(ae_attendances(rng, m.strftime("%Y-%m-%d"), m.strftime("%Y-%m-%d"), prefix=f"A{m:%y%m}-"),
               out / "ae_attendances" / f"ae_{m:%Y-%m}.csv", report)
    # two years of monthly files: every indicator has at least 20 points for its XmR chart
    _write(ambulance_callouts(rng, "2022-04-01", "2023-03-01", prefix="AMH"), out / "ambulance_callouts" /
           "ambulance_2022-04_to_2023-03.csv", report)
    for m in _months("2022-04-01", "2024-03-01"):
        if m >= pd.Timestamp("2023-04-01") and m != pd.Timestamp("2023-12-01"):  # 2023-12 never sent
            _write(ambulance_callouts(rng, m.strftime("%Y-%m-%d"), m.strftime("%Y-%m-%d"), prefix=f"AM{m:%y%m}-"),
                   out / "ambulance_callouts" / f"ambulance_{m:%Y-%m}.csv", report)
        _write(programme_referrals(rng, m, f"REF{m:%y%m}"), out / "programme_referrals" / f"referrals_{m:%Y-%m}.csv",
               report)
        _write(programme_sessions(rng, m, f"SES{m:%y%m}"), out / "programme_sessions" / f"sessions_{m:%Y-%m}.csv",
               report)
        _write(programme_exits(rng, m, f"EXT{m:%y%m}"), out / "programme_exits" / f"exits_{m:%Y-%m}.csv", report)
    from evalkit.monitor.synth_partners import write_partner_extracts

    # the partnership's other sources, from a stream of their own (the files above do not change)
    write_partner_extracts(np.random.default_rng(seed + 1), out, lambda frame, path: _write(frame, path, report))
    return report


def ingest_demo_extracts(store, monitoring, root: Path | str, report: DemoReport):
    """Ingest every demo extract (population sources first, so rates can be computed), then the
    corrections with ``replace``; yields each :class:`~evalkit.monitor.ingest.IngestReport`."""
    from evalkit.monitor.ingest import ingest

    root = Path(root)
    for source in sorted(monitoring.sources, key=lambda s: (monitoring.sources[s].kind != "population", s)):
        for path in sorted(p for p in (root / EXTRACTS / source).glob("*.*") if p.is_file()):
            yield ingest(store, monitoring, source, path)
    for source, path in report.corrections:
        yield ingest(store, monitoring, source, path, replace=True)


def big_police_file(path: Path | str, rows: int, seed: int = DEFAULT_SEED, start: str = "2015-01-01") -> Path:
    """A police extract of about ``rows`` records (CSV or Parquet by suffix), for benchmarks and kill tests."""
    rng = np.random.default_rng(seed)
    months = 120
    end = (pd.Timestamp(start) + pd.DateOffset(months=months - 1)).strftime("%Y-%m-%d")
    frame = police_records(rng, start, end, per_month=rows / months, prefix="B")
    path = Path(path)
    _to_file(frame, path, row_group_size=1_000_000)
    return path
