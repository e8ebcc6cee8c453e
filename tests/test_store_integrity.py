"""The store holds exactly the rows of each accepted extract: no row lost, none repeated, none changed.

For every kind of source (programme, police, health, ambulance, population), with people who
appear many times, with no, one and several pseudonymised columns, in CSV, Parquet and XLSX,
and through corrections (``--replace``): per extract, the stored row count and a content hash
of the stored rows equal those computed here, independently of the ingest code, from the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import keyed_monitoring_project

from evalkit.monitor import synth
from evalkit.monitor.config import ColumnType, load_monitoring
from evalkit.monitor.ingest import ingest
from evalkit.monitor.keys import pseudonym
from evalkit.store import open_store

KEY = "integrity-key-" + "q" * 30


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return keyed_monitoring_project(tmp_path / "project", monkeypatch, KEY)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")
    return path


def _repeat_people(frame: pd.DataFrame, columns: list[str], people: int, rng) -> pd.DataFrame:
    """Identifiers drawn from a few people, so each appears many times (and in several columns)."""
    frame = frame.copy()
    pool = np.array([f"PERSON-{i:03d}" for i in range(people)])
    for c in columns:
        known = frame[c].notna().to_numpy()
        values = pool[rng.integers(0, people, len(frame))]
        frame[c] = np.where(known, values, None)
    return frame


# ------------------------------------------------------------------ the independent reading of a file


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _expected_value(text: str | None, decl, pseudonymised: bool):
    if text is None:
        return None
    if pseudonymised:
        return str(pseudonym(KEY.encode(), text))
    t = decl.type
    if t is ColumnType.string:
        return text
    if t is ColumnType.integer:
        return str(int(float(text))) if text.endswith(".0") else str(int(text))
    if t is ColumnType.number:
        return repr(float(text))
    if t is ColumnType.boolean:
        return {"true": "True", "false": "False", "1": "True", "0": "False"}[text.lower()]
    if t is ColumnType.date:
        return dt.date.fromisoformat(text[:10]).isoformat()
    return dt.datetime.fromisoformat(text).isoformat()


def _expected_rows(path: Path, src) -> list[tuple]:
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif path.suffix == ".xlsx":
        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
    else:
        frame = pd.read_parquet(path).astype(object)
    rows = []
    for line, record in enumerate(frame.itertuples(index=False), start=2):
        values = dict(zip(frame.columns, record))
        rows.append((line, *(_expected_value(_text(values[c]), d, c in src.pseudonymise)
                             for c, d in src.columns.items())))
    return rows


def _stored_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _stored_rows(store, src, extract_id: int) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in src.columns)
    rows = store.con.execute(f"SELECT _line, {cols} FROM {src.table} WHERE _extract_id = ? ORDER BY _line",
                             [extract_id]).fetchall()
    return [(line, *(_stored_value(v) for v in rest)) for line, *rest in rows]


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()


def _assert_extract_stored_exactly(store, src, extract_id: int, path: Path) -> None:
    expected = _expected_rows(path, src)
    stored = _stored_rows(store, src, extract_id)
    assert len(stored) == len(expected), (f"{src.id} extract {extract_id} ({path.name}): {len(stored)} rows stored, "
                                          f"{len(expected)} in the file")
    assert _digest(stored) == _digest(expected), f"{src.id} extract {extract_id}: stored rows differ from the file"


def _active(store, source: str) -> list[tuple[int, str]]:
    return store.con.execute("SELECT extract_id, file_name FROM extracts WHERE source = ? AND status = 'active' "
                             "ORDER BY extract_id", [source]).fetchall()


def _whole_source_matches(store, src, files: dict[str, Path]) -> None:
    """Every active extract exactly as its file, and nothing else in the source's table."""
    active = _active(store, src.id)
    total = 0
    for extract_id, name in active:
        _assert_extract_stored_exactly(store, src, extract_id, files[name])
        total += len(_expected_rows(files[name], src))
    in_table = store.con.execute(f"SELECT count(*) FROM {src.table}").fetchone()[0]
    assert in_table == total, f"{src.id}: {in_table} rows in the table, {total} in its active extracts"


# ------------------------------------------------------------------ the cases


def _extracts(rng) -> dict[str, list[pd.DataFrame]]:
    """Two monthly extracts per source, people repeated many times."""
    months = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    out = {}
    out["programme_referrals"] = [_repeat_people(synth.programme_referrals(rng, m, f"R{i}"), ["person_id"], 7, rng)
                                  for i, m in enumerate(months)]
    out["programme_sessions"] = [_repeat_people(synth.programme_sessions(rng, m, f"S{i}"), ["person_id"], 5, rng)
                                 for i, m in enumerate(months)]
    out["programme_exits"] = [_repeat_people(synth.programme_exits(rng, m, f"X{i}"), ["person_id"], 4, rng)
                              for i, m in enumerate(months)]
    out["police"] = [_repeat_people(synth.police_records(rng, str(m.date()), str(m.date()), per_month=120,
                                                        prefix=f"C{i}"), ["victim_id", "suspect_id"], 9, rng)
                     for i, m in enumerate(months)]
    out["hospital_admissions"] = [_repeat_people(synth.hospital_admissions(rng, str(m.date()), str(m.date()),
                                                                           prefix=f"H{i}"), ["patient_id"], 3, rng)
                                  for i, m in enumerate(months)]
    out["ae_attendances"] = [_repeat_people(synth.ae_attendances(rng, str(m.date()), str(m.date()), prefix=f"A{i}"),
                                            ["patient_id"], 6, rng) for i, m in enumerate(months)]
    out["ambulance_callouts"] = [synth.ambulance_callouts(rng, str(m.date()), str(m.date()), prefix=f"M{i}")
                                 for i, m in enumerate(months)]
    out["populations"] = [synth.populations(2023, 2023), synth.populations(2024, 2024)]
    return out


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_every_source_kind_holds_exactly_its_extracts(project, tmp_path, suffix):
    mon = load_monitoring(project)
    rng = np.random.default_rng(13)
    extracts = _extracts(rng)
    assert {mon.sources[s].kind for s in extracts} == {"programme", "police", "health", "ambulance", "population"}
    files: dict[str, Path] = {}
    with open_store(tmp_path / "s.duckdb") as store:
        for source, frames in extracts.items():
            src = mon.sources[source]
            for i, frame in enumerate(frames):
                path = _write(frame, tmp_path / "in" / f"{source}_{i}{suffix}")
                files[path.name] = path
                report = ingest(store, mon, source, path)
                assert report.rows == len(frame)
            _whole_source_matches(store, src, files)
            # the same file again stores nothing more
            assert ingest(store, mon, source, files[f"{source}_0{suffix}"]).status == "unchanged"
            _whole_source_matches(store, src, files)


@pytest.mark.parametrize("source", ["programme_referrals", "police", "ambulance_callouts", "populations"])
def test_corrections_replace_exactly_the_rows_they_correct(project, tmp_path, source):
    mon = load_monitoring(project)
    src = mon.sources[source]
    rng = np.random.default_rng(29)
    first, second = _extracts(rng)[source]
    files: dict[str, Path] = {}
    with open_store(tmp_path / "s.duckdb") as store:
        for name, frame in (("a.csv", first), ("b.csv", second)):
            files[name] = _write(frame, tmp_path / name)
            ingest(store, mon, source, files[name])
        # a correction of the first extract: a row fewer, a row more (a repeated person), a changed value
        corrected = first.iloc[1:].copy()
        extra = corrected.iloc[[0]].copy()
        key = src.key[0]
        extra[key] = extra[key].astype(str) + "-late" if src.columns[key].type is ColumnType.string else extra[key]
        if source == "populations":
            extra["sex"] = "X"
        corrected = pd.concat([corrected, extra], ignore_index=True)
        if source == "populations":
            corrected.loc[0, "population"] = int(corrected.loc[0, "population"]) + 17
        else:
            corrected.loc[0, "area"] = "Rutland"
        files["a_corrected.csv"] = _write(corrected, tmp_path / "a_corrected.csv")
        report = ingest(store, mon, source, files["a_corrected.csv"], replace=True)
        assert report.status == "replaced" and report.rows == len(corrected)
        _whole_source_matches(store, src, files)
        # and the original put back, replacing the correction
        ingest(store, mon, source, files["a.csv"], replace=True)
        _whole_source_matches(store, src, files)


def test_one_pseudonymised_column_with_repeated_people_is_not_multiplied(project, tmp_path):
    """The known case: with exactly one pseudonymised column, a person seen k times was stored k times per row."""
    mon = load_monitoring(project)
    rng = np.random.default_rng(3)
    frame = synth.programme_referrals(rng, pd.Timestamp("2024-03-01"), "R")
    frame["person_id"] = "YP1"  # one person referred to every programme
    path = _write(frame, tmp_path / "referrals.csv")
    with open_store(tmp_path / "s.duckdb") as store:
        ingest(store, mon, "programme_referrals", path)
        stored = store.con.execute("SELECT count(*), count(DISTINCT referral_id) FROM src_programme_referrals"
                                   ).fetchone()
    assert stored == (len(frame), len(frame))


def test_a_store_written_before_the_fix_is_repaired_on_opening(project, tmp_path):
    """Stores of evalkit < schema 2 hold repeated rows; migration 2 keeps one of each (extract, line)."""
    import duckdb

    from evalkit.store.db import SCHEMA_VERSION

    mon = load_monitoring(project)
    rng = np.random.default_rng(5)
    frame = _repeat_people(synth.programme_referrals(rng, pd.Timestamp("2024-03-01"), "R"), ["person_id"], 3, rng)
    path = _write(frame, tmp_path / "referrals.csv")
    store_file = tmp_path / "old.duckdb"
    with open_store(store_file) as store:
        ingest(store, mon, "programme_referrals", path)
        expected = _stored_rows(store, mon.sources["programme_referrals"], 1)
    con = duckdb.connect(str(store_file))  # as the old code left it: some rows stored three times
    con.execute("INSERT INTO src_programme_referrals SELECT * FROM src_programme_referrals WHERE _line % 4 = 0")
    con.execute("INSERT INTO src_programme_referrals SELECT * FROM src_programme_referrals WHERE _line % 8 = 0")
    con.execute("DELETE FROM schema_version WHERE version > 1")
    # and without what later versions added (migration 3: the offence lists and success measures;
    # migration 4: the needs profile)
    con.execute("DROP TABLE needs_profile; DROP TABLE offence_keys; DROP TABLE success_measures; "
                "ALTER TABLE indicator_values DROP COLUMN sv_definition; "
                "CREATE TABLE sv_mapping (version VARCHAR NOT NULL, offence_type VARCHAR NOT NULL, category VARCHAR, "
                "serious_violence BOOLEAN NOT NULL)")
    assert con.execute("SELECT count(*) FROM src_programme_referrals").fetchone()[0] > len(frame)
    con.close()
    with open_store(store_file) as store:
        assert store.version == SCHEMA_VERSION
        _assert_extract_stored_exactly(store, mon.sources["programme_referrals"], 1, path)
        assert _stored_rows(store, mon.sources["programme_referrals"], 1) == expected
