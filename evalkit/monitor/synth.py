"""Synthetic monthly extracts for the example project (not real people), and big files for benchmarks.

Everything is vectorised numpy and seeded: the same seed gives the same files. Knife-enabled
serious violence, knife admissions and homicides fall after the interruption (October 2019),
so the success-measure trends have something to show.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# the shared helpers, imported here too because callers (and tests) reach them as synth.<name>
from evalkit.monitor.synth_base import AREA_RISK, AREAS, HOURS, _areas, _days_in, _months, _seasonal, _timestamps  # noqa: F401

DEFAULT_SEED = 20240301
EXTRACTS = Path("monitoring") / "extracts"
INTERRUPTION = pd.Timestamp("2019-10-01")
# offence description -> (Home Office code, share of police records, probability a knife or sharp
# object is flagged). Descriptions are as a force might record them: some in older wording
# (matched by description when the code is missing), two types no list knows (shown as unmapped).
OFFENCES = {
    "Robbery of personal property": ("34B", 0.030, 0.22), "Robbery of business property": ("34A", 0.006, 0.25),
    "Arson endangering life": ("56A", 0.002, 0.0), "Arson not endangering life": ("56B", 0.010, 0.0),
    "Attempted murder": ("2", 0.001, 0.6), "Assault with intent to cause serious harm": ("5D", 0.008, 0.35),
    "Wounding with intent to do grievous bodily harm": ("5D", 0.004, 0.35), "Endangering life": ("5E", 0.001, 0.2),
    "Assault with injury": ("8N", 0.140, 0.06), "Racially or religiously aggravated assault with injury": ("8P", 0.004, 0.03),
    "Causing or allowing death of child or vulnerable person": ("4/7", 0.0002, 0.0),
    "Common assault": ("105A", 0.150, 0.01), "Assault without injury on a constable": ("104", 0.015, 0.0),
    "Threats to kill": ("3B", 0.010, 0.25), "Kidnapping": ("36", 0.002, 0.1), "Modern slavery": ("106", 0.001, 0.0),
    "Stalking": ("8Q", 0.040, 0.0), "Harassment": ("8L", 0.060, 0.0), "Malicious communications": ("8R", 0.040, 0.0),
    "Racially or religiously aggravated harassment": ("8M", 0.003, 0.0),
    "Controlling or coercive behaviour": ("", 0.020, 0.0), "Rape of a female aged 16 and over": ("19C", 0.010, 0.02),
    "Rape of a female child under 16": ("19D", 0.002, 0.01), "Rape of a male aged 16 and over": ("19F", 0.001, 0.02),
    "Sexual assault on a female aged 13 and over": ("20A", 0.012, 0.01),
    "Sexual assault on a female child under 13": ("20B", 0.002, 0.0), "Sexual assault on a male aged 13 and over": ("17A", 0.002, 0.01),
    "Sexual activity involving child under 16": ("22B", 0.002, 0.0), "Exposure and voyeurism": ("88E", 0.003, 0.0),
    "Exploitation of prostitution": ("24", 0.001, 0.0), "Violent disorder": ("62A", 0.003, 0.10),
    "Affray": ("66", 0.006, 0.08), "Public fear, alarm or distress": ("9A", 0.060, 0.02),
    "Aggravated Burglary Residential (Home)": ("29A", 0.002, 0.30), "Aggravated Burglary Business and Community": ("31A", 0.0005, 0.30),
    "Burglary Residential": ("28E", 0.080, 0.01), "Shoplifting": ("46", 0.150, 0.005),
    "Theft from the person": ("39", 0.040, 0.01), "Criminal damage to a vehicle": ("58C", 0.060, 0.0),
    "Possession of controlled drugs (excl. Cannabis)": ("92D", 0.0533, 0.0),
    # on no list: shown as unmapped on the dashboard
    "Possession of article with blade or point": ("10D", 0.004, 1.0), "Weapon-related incident (local category)": ("", 0.0002, 0.5),
}
DOMESTIC_SHARE = {"Assault with injury": 0.35, "Common assault": 0.35, "Stalking": 0.4, "Harassment": 0.3,
                  "Controlling or coercive behaviour": 1.0, "Malicious communications": 0.3, "Threats to kill": 0.3}
# where offences happen: domestic abuse mostly at home; public places for the rest
LOCATIONS = ["dwelling", "street or highway", "licensed premises", "shop or retail", "public transport",
             "park or open space", "other public place", "other private place"]
LOCATION_P = {True: [0.88, 0.05, 0.01, 0.0, 0.0, 0.01, 0.02, 0.03], False: [0.22, 0.33, 0.13, 0.11, 0.04, 0.06, 0.06, 0.05]}
AGE_BANDS = [0, 10, 18, 25, 35, 50, 65]
# the success measures' built-in change at the interruption, as a segmented model on the log scale:
# rate x level (a step) x slope ** (months since, / 12): the interrupted time series should find them
TRUE_CHANGE = {"knife_offences": {"level_change": 0.85, "slope_change": 0.92},
               "knife_admissions": {"level_change": 0.85, "slope_change": 0.95},
               "homicides": {"level_change": 0.80, "slope_change": 1.0}}
OUTSIDE = "Outside the partnership area"


def _effect(month_starts: np.ndarray, measure: str) -> np.ndarray:
    """Multiplier of the measure's rate: 1 before the interruption; level x slope^(months since / 12) after."""
    change = TRUE_CHANGE[measure]
    # months since the interruption, worked out once per distinct month (rows share a few dozen)
    distinct, row_month = np.unique(np.asarray(month_starts, dtype="datetime64[ns]"), return_inverse=True)
    months = pd.DatetimeIndex(distinct)
    since = ((months.year - INTERRUPTION.year) * 12 + (months.month - INTERRUPTION.month)).to_numpy(float)
    since = since[row_month.reshape(-1)]
    post = since >= 0
    return np.where(post, change["level_change"] * change["slope_change"] ** (np.maximum(since, 0) / 12), 1.0)


def _ages(rng, n: int, centre: float, missing: float) -> pd.array:
    ages = np.clip(np.round(10 + rng.gamma(2.2, (centre - 10) / 2.2, n)), 10, 90).astype("int64")
    out = pd.array(ages, dtype="Int64")
    out[rng.random(n) < missing] = pd.NA
    return out


def _age_sex_area(rng, n: int, age_centre: float, male_share: float) -> dict:
    """The people columns the health extracts share: age (none missing), sex and area."""
    return {"age": _ages(rng, n, age_centre, 0.0).astype("int64"),
            "sex": np.where(rng.random(n) < male_share, "M", "F"),
            "area": _areas(rng, n, AREA_RISK)}


def _residence(rng, area: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Where a person lives: mostly the area of the offence, some elsewhere, a few outside the partnership."""
    other = _areas(rng, len(area), AREA_RISK)
    u = rng.random(len(area))
    out = np.where(u < 0.75, area, np.where(u < 0.97, other, OUTSIDE)).astype(object)
    out[~known] = None
    return out


def _person_ids(rng, n: int) -> np.ndarray:
    """Person identifiers as a force writes them (fixed width), from a pool small enough that people recur."""
    return np.char.add("P", np.char.zfill(rng.integers(1, 150_000, n).astype(str), 7))


def _growth(month_starts) -> np.ndarray:
    """Population growth as in :func:`populations` (0.8% a year from 2020): counts grow with it, rates do not."""
    return 1 + 0.008 * (pd.DatetimeIndex(month_starts).year.to_numpy() - 2020)


def police_records(rng, start: str, end: str, per_month: float = 3000, prefix: str = "C") -> pd.DataFrame:
    months = _months(start, end)
    n_month = rng.poisson(per_month * _seasonal(months) * _growth(months))
    month_of_row = np.repeat(months.to_numpy(), n_month)
    n = len(month_of_row)
    names = np.array(list(OFFENCES))
    codes = np.array([c for c, _s, _k in OFFENCES.values()], dtype=object)
    share = np.array([s for _c, s, _k in OFFENCES.values()])
    offence_idx = rng.choice(len(names), n, p=share / share.sum())
    knife_p = np.array([k for *_x, k in OFFENCES.values()])[offence_idx] * _effect(month_of_row, "knife_offences")
    dom_p = np.array([DOMESTIC_SHARE.get(o, 0.02) for o in names])[offence_idx]
    offence, code = names[offence_idx], codes[offence_idx]
    # homicides are rare: about 1.2 a month, falling after the interruption
    n_hom = rng.poisson(1.2 * _effect(months.to_numpy(), "homicides") * _growth(months))
    hom_month = np.repeat(months.to_numpy(), n_hom)
    hom = rng.choice(["Murder", "Manslaughter"], len(hom_month), p=[0.8, 0.2])
    offence = np.concatenate([offence, hom])
    code = np.concatenate([code, np.where(hom == "Murder", "1", "4/1").astype(object)])
    knife_p = np.concatenate([knife_p, np.full(len(hom_month), 0.4)])
    dom_p = np.concatenate([dom_p, np.full(len(hom_month), 0.2)])
    month_of_row = np.concatenate([month_of_row, hom_month])
    n = len(month_of_row)
    order = np.argsort(month_of_row, kind="stable")
    offence, code, knife_p, dom_p, month_of_row = (offence[order], code[order], knife_p[order], dom_p[order],
                                                   month_of_row[order])
    # some forces' extracts miss the code on a few rows: those are matched by description
    code = np.where(rng.random(n) < 0.1, "", code).astype(object)
    code[code == ""] = None
    domestic = rng.random(n) < dom_p
    location = np.empty(n, dtype=object)
    for flag in (True, False):
        idx = np.flatnonzero(domestic == flag)
        location[idx] = np.array(LOCATIONS, dtype=object)[rng.choice(len(LOCATIONS), len(idx), p=LOCATION_P[flag])]
    location[rng.random(n) < 0.03] = None
    victim_known = rng.random(n) < 0.85
    suspect_known = rng.random(n) < 0.6
    area = _areas(rng, n, AREA_RISK)
    frame = pd.DataFrame({
        "crime_ref": [f"{prefix}{i:09d}" for i in range(n)] if n < 2_000_000 else
        np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), 9)),
        "occurred_at": _timestamps(rng, month_of_row),
        "offence_code": code,
        "offence_type": offence,
        "knife_flag": rng.random(n) < knife_p,
        "domestic_flag": domestic,
        "location_type": location,
        "area": area,
        # people appear more than once (repeat victims and offenders): ids from a smaller pool
        "victim_id": np.where(victim_known, _person_ids(rng, n), None),
        "victim_age": _ages(rng, n, 30, 0.15),
        "victim_sex": np.where(rng.random(n) < 0.58, "M", "F"),
        "victim_residence": _residence(rng, area, victim_known),
        "suspect_id": np.where(suspect_known, _person_ids(rng, n), None),
        "suspect_age": _ages(rng, n, 26, 0.45),
        "suspect_sex": np.where(suspect_known, np.where(rng.random(n) < 0.86, "M", "F"), None),
        "suspect_residence": _residence(rng, area, suspect_known),
    })
    frame.loc[~victim_known, ["victim_age", "victim_sex"]] = pd.NA
    return frame.sort_values("occurred_at", kind="stable", ignore_index=True)


def hospital_admissions(rng, start: str, end: str, prefix: str = "H") -> pd.DataFrame:
    months = _months(start, end)
    n_month = rng.poisson(45 * _seasonal(months) * _growth(months))
    month_of_row = np.repeat(months.to_numpy(), n_month)
    n = len(month_of_row)
    knife_p = 0.2 * _effect(month_of_row, "knife_admissions")
    cause = np.where(rng.random(n) < knife_p, "X99", rng.choice(["Y00", "Y04", "X95", "Y08"], n, p=[0.3, 0.5, 0.05, 0.15]))
    # the fourth character is the place of occurrence (0 home, 4 street and highway, 5 trade and service, 9 unspecified)
    place = rng.choice(["0", "4", "5", "8", "9"], n, p=[0.32, 0.4, 0.12, 0.06, 0.1])
    cause = np.char.add(np.char.add(cause.astype(str), "."), place)
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
        "location_type": rng.choice(["home", "street", "licensed premises", "other"], n, p=[0.35, 0.4, 0.15, 0.1]),
        "age": _ages(rng, n, 28, 0.1),
        "sex": pd.array(np.where(rng.random(n) < 0.7, "M", "F"), dtype="string"),
        "area": _areas(rng, n, AREA_RISK),
    })


# programme -> (referrals a month, share engaged)
# referrals a month and the share engaged; volumes keep every month publishable (at least 5) on the demo
# monthly referrals and the share engaged: enough that every month of the example clears the
# disclosure threshold in total (its XmR charts need every point publishable)
PROGRAMMES = {"reach": (42, 0.8), "vip": (32, 0.62), "ete": (24, 0.8), "phoenix": (26, 0.7)}


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


def _to_file(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> None:
    """Parquet, XLSX or CSV by suffix; CSV with Unix line ends and seconds-precision times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=row_group_size)
    elif path.suffix == ".xlsx":
        from evalkit.publish.export import fixed_xlsx

        buf = io.BytesIO()
        frame.to_excel(buf, index=False)
        path.write_bytes(fixed_xlsx(buf.getvalue()))  # same rows, same bytes (no save time inside)
    else:
        frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")


def _stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per extract: adding or changing one extract leaves the others as they were."""
    import zlib

    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


# the example project's sources (monitoring/sources/*.yml), one folder of extracts each
SOURCES = ("populations", "police", "hospital_admissions", "ae_attendances", "ambulance_callouts",
           "programme_referrals", "programme_sessions", "programme_exits", "school_exclusions", "persistent_absence",
           "social_care_referrals", "youth_justice", "asb_incidents", "survey_waves", "national_comparators")


def write_demo_extracts(root: Path | str, seed: int = DEFAULT_SEED) -> DemoReport:
    """The example project's extracts under monitoring/extracts/<source>/: history files plus monthly files.

    Built in: a missing ambulance month (2023-12), a late hospital extract (2024-03 not yet
    sent), a corrected police extract for 2024-01, two offence types no list knows, and a
    change in the success measures at the interruption (:data:`TRUE_CHANGE`, recorded in
    ``monitoring/extracts/true_effects.json`` for ``evalkit synth --check``).
    """
    from evalkit._parallel import fork_map

    root = Path(root)
    out = root / EXTRACTS
    write_true_effects(out)
    # each extract is drawn from its own stream, so the extracts are independent: each is a job
    # (drawn and written only when missing), the jobs shared over both cores by fork_map; what each
    # wrote comes back in the serial order, as the report the serial loop would make
    jobs = _demo_jobs(out, seed)
    report = DemoReport()
    for events in fork_map(lambda job: job(), jobs, queue=True):
        for kind, path, new in events:
            if new:
                report.new.append(path)
            if kind == "correction":
                report.corrections.append(("police", path))
            else:
                report.written.append(path)
    return report


def _job(build, path: Path, then=None):
    """A job writing ``build()`` to ``path`` if missing (then ``then(frame)`` for the files made from it)."""
    def job() -> list[tuple[str, Path, bool]]:
        new = not path.exists()
        frame = build() if new or then is not None else None
        if new:
            _to_file(frame, path)
        return [("written", path, new)] + (then(frame) if then is not None else [])
    return job


def _write_events(frame: pd.DataFrame, path: Path, kind: str = "written") -> list[tuple[str, Path, bool]]:
    new = not path.exists()
    if new:
        _to_file(frame, path)
    return [(kind, path, new)]


def _demo_jobs(out: Path, seed: int) -> list:
    recent = _months("2023-10-01", "2024-03-01")
    jobs = [_job(lambda: populations(2016, 2024), out / "populations" / "populations_2016-2024.csv"),
            _job(lambda: police_records(_stream(seed, "police history"), "2016-04-01", "2023-09-01", prefix="H"),
                 out / "police" / "police_2016-04_to_2023-09.parquet")]

    def correction(frame: pd.DataFrame):
        corrected = frame.copy()
        corrected.loc[corrected.index[:25], "knife_flag"] = True  # late-flagged knife crimes
        return _write_events(corrected, out / "police" / "corrections" / "police_2024-01_corrected.csv", "correction")

    for m in recent:
        jobs.append(_job(lambda m=m: police_records(_stream(seed, f"police {m:%Y-%m}"), m.strftime("%Y-%m-%d"),
                                                    m.strftime("%Y-%m-%d"), prefix=f"M{m:%y%m}-"),
                         out / "police" / f"police_{m:%Y-%m}.csv",
                         correction if m == pd.Timestamp("2024-01-01") else None))
    jobs.append(_job(lambda: hospital_admissions(_stream(seed, "hospital history"), "2016-04-01", "2023-09-01",
                                                 prefix="HH"),
                     out / "hospital_admissions" / "admissions_2016-04_to_2023-09.parquet"))
    for m in recent[:-1]:  # the March 2024 extract is late
        jobs.append(_job(lambda m=m: hospital_admissions(_stream(seed, f"hospital {m:%Y-%m}"), m.strftime("%Y-%m-%d"),
                                                         m.strftime("%Y-%m-%d"), prefix=f"H{m:%y%m}-"),
                         out / "hospital_admissions" / f"admissions_{m:%Y-%m}.csv"))
    jobs.append(_job(lambda: ae_attendances(_stream(seed, "ae history"), "2022-04-01", "2023-09-01", prefix="AH"),
                     out / "ae_attendances" / "ae_2022-04_to_2023-09.xlsx"))
    for m in recent:
        jobs.append(_job(lambda m=m: ae_attendances(_stream(seed, f"ae {m:%Y-%m}"), m.strftime("%Y-%m-%d"),
                                                    m.strftime("%Y-%m-%d"), prefix=f"A{m:%y%m}-"),
                         out / "ae_attendances" / f"ae_{m:%Y-%m}.csv"))
    # two years of monthly files: every indicator has at least 20 points for its XmR chart
    jobs.append(_job(lambda: ambulance_callouts(_stream(seed, "ambulance history"), "2022-04-01", "2023-03-01",
                                                prefix="AMH"),
                     out / "ambulance_callouts" / "ambulance_2022-04_to_2023-03.csv"))
    for m in _months("2022-04-01", "2024-03-01"):
        if m >= pd.Timestamp("2023-04-01") and m != pd.Timestamp("2023-12-01"):  # 2023-12 never sent
            jobs.append(_job(lambda m=m: ambulance_callouts(_stream(seed, f"ambulance {m:%Y-%m}"), m.strftime("%Y-%m-%d"),
                                                            m.strftime("%Y-%m-%d"), prefix=f"AM{m:%y%m}-"),
                             out / "ambulance_callouts" / f"ambulance_{m:%Y-%m}.csv"))
        jobs.append(_job(lambda m=m: programme_referrals(_stream(seed, f"referrals {m:%Y-%m}"), m, f"REF{m:%y%m}"),
                         out / "programme_referrals" / f"referrals_{m:%Y-%m}.csv"))
        jobs.append(_job(lambda m=m: programme_sessions(_stream(seed, f"sessions {m:%Y-%m}"), m, f"SES{m:%y%m}"),
                         out / "programme_sessions" / f"sessions_{m:%Y-%m}.csv"))
        jobs.append(_job(lambda m=m: programme_exits(_stream(seed, f"exits {m:%Y-%m}"), m, f"EXT{m:%y%m}"),
                         out / "programme_exits" / f"exits_{m:%Y-%m}.csv"))

    def partners() -> list[tuple[str, Path, bool]]:
        from evalkit.monitor.synth_partners import write_partner_extracts

        # the partnership's other sources, from one stream of their own (the files above do not change)
        events: list[tuple[str, Path, bool]] = []
        write_partner_extracts(_stream(seed, "partners"), out, lambda frame, path: events.extend(
            _write_events(frame, path)))
        return events
    jobs.append(partners)
    return jobs


TRUE_EFFECTS = "true_effects.json"
# the strategy plan's indicator for each success measure with a built-in change
TRUE_INDICATORS = {"knife_offences": "knife_sv", "knife_admissions": "knife_admissions", "homicides": "homicides"}


def write_true_effects(folder: Path) -> Path:
    """The built-in changes, as true effects the strategy's time series should recover."""
    import json

    effects = []
    for measure, change in TRUE_CHANGE.items():
        for estimand, value in change.items():
            effects.append({"evaluation": "strategy-its", "indicator": TRUE_INDICATORS[measure], "estimand": estimand,
                            "value": value, "description": f"{measure}: rate ratio "
                            + ("at the interruption" if estimand == "level_change" else "per 12 months after it")})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TRUE_EFFECTS
    path.write_text(json.dumps({"schema": "evalkit.true_effects/v1", "generator": "evalkit monitor demo-data",
                                "true_effects": effects}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


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
