"""Ingest: declared columns and types, all or nothing, idempotent, explicit corrections, pseudonyms.

The atomicity test runs a real ``evalkit monitor ingest`` process on a large file and kills it
with SIGKILL while its transaction is open; the store must be as before and still usable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import keyed_monitoring_project

from evalkit.errors import DataError, OptionError, SpecError
from evalkit.monitor import synth
from evalkit.monitor.config import load_monitoring
from evalkit.monitor.ingest import HOLD_ENV, ingest
from evalkit.monitor.keys import KEY_ENV, KEY_FILE_ENV, pseudonym
from evalkit.store import open_store

KEY = "k" * 40


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return keyed_monitoring_project(tmp_path / "project", monkeypatch, KEY)


def _police(month: str, n: int = 40, seed: int = 1, prefix: str = "C") -> pd.DataFrame:
    import numpy as np

    return synth.police_records(np.random.default_rng(seed), month, month, per_month=n, prefix=prefix)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")
    return path


def snapshot(store) -> tuple:
    """Everything ingest may change: the extracts, replacements, meta and every source table."""
    con = store.con
    out = [con.execute("SELECT * FROM extracts ORDER BY extract_id").fetchall(),
           con.execute("SELECT * FROM replacements ORDER BY new_extract_id").fetchall(),
           con.execute("SELECT * FROM meta ORDER BY key").fetchall()]
    for table in store.tables():
        if table.startswith("src_"):
            out.append((table, con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {table}").fetchall()))
    return tuple(out), tuple(store.tables())


@pytest.fixture
def loaded(project):
    """A store holding one police month (2024-01)."""
    mon = load_monitoring(project)
    store = open_store(project / ".evalkit" / "evalkit.duckdb")
    path = _csv(_police("2024-01-01"), project / "x" / "police_2024-01.csv")
    ingest(store, mon, "police", path)
    yield project, mon, store, path
    store.close()


def test_ingest_records_provenance_and_pseudonymises(loaded):
    project, mon, store, path = loaded
    frame = pd.read_csv(path, dtype=str)
    rows = store.con.execute("SELECT source, file_name, sha256, rows, period_start, period_end, status FROM extracts"
                             ).fetchall()
    import hashlib

    assert rows == [("police", "police_2024-01.csv", hashlib.sha256(path.read_bytes()).hexdigest(), len(frame),
                     pd.Timestamp("2024-01-01").date(), pd.Timestamp("2024-01-01").date(), "active")]
    stored = store.con.execute("SELECT crime_ref, victim_id, suspect_id, _line FROM src_police ORDER BY _line").df()
    assert len(stored) == len(frame)
    # identifiers are HMAC-SHA256 with the key, never the raw value; missing stays missing
    first = frame.dropna(subset=["victim_id"]).iloc[0]
    got = stored.loc[stored.crime_ref == first.crime_ref, "victim_id"].iat[0]
    assert got == pseudonym(KEY.encode(), first.victim_id) and got != first.victim_id
    assert stored.victim_id.isna().sum() == frame.victim_id.isna().sum()
    assert not set(frame.victim_id.dropna()) & set(stored.victim_id.dropna())
    assert stored._line.tolist() == list(range(2, len(frame) + 2))  # line numbers of the CSV
    # the CSV was streamed through an owner-only Parquet copy beside the store, removed when done
    assert not list((project / ".evalkit").glob(".ingest-*"))


def test_same_file_twice_changes_nothing(loaded):
    project, mon, store, path = loaded
    before = snapshot(store)
    report = ingest(store, mon, "police", path)
    assert report.status == "unchanged" and "nothing changed" in str(report)
    assert snapshot(store) == before


def _assert_refused(store, mon, source, path, pattern, **kw):
    before = snapshot(store)
    with pytest.raises(DataError, match=pattern) as info:
        ingest(store, mon, source, path, **kw)
    assert snapshot(store) == before, "a refused extract changed the store"
    return str(info.value)


def test_wrong_columns(loaded, tmp_path):
    project, mon, store, _ = loaded
    frame = _police("2024-02-01").rename(columns={"victim_age": "age_of_victim"}).drop(columns="knife_flag")
    msg = _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "missing column")
    assert "missing column(s) knife_flag, victim_age" in msg and "unexpected column(s) age_of_victim" in msg
    assert "police.yml" in msg


def test_unparseable_dates_name_the_lines(loaded, tmp_path):
    project, mon, store, _ = loaded
    frame = _police("2024-02-01")
    frame = frame.astype({"occurred_at": str, "knife_flag": object})
    frame.loc[2, "occurred_at"] = "31/02/2024 25:00"
    frame.loc[7, "occurred_at"] = "yesterday"
    frame.loc[9, "knife_flag"] = "perhaps"
    msg = _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "3 value")
    # lines and columns, never the cells themselves (a cell may hold an identifier)
    assert "line 4, column occurred_at: found text that is not a date and time, expected a date and time" in msg
    assert "line 9, column occurred_at: found text that is not a date and time" in msg
    assert "line 11, column knife_flag: found a value that is not true/false, expected true/false" in msg
    assert "yesterday" not in msg and "perhaps" not in msg and "31/02" not in msg


def test_missing_required_value(loaded, tmp_path):
    project, mon, store, _ = loaded
    frame = _police("2024-02-01")
    frame.loc[4, "area"] = None
    msg = _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "do not match")
    assert "line 6, column area: found no value, expected a value" in msg


def test_duplicate_rows(loaded, tmp_path):
    project, mon, store, _ = loaded
    frame = _police("2024-02-01")
    frame = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    msg = _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "duplicate rows")
    assert f"line 5 and line {len(frame) + 1}" in msg


def test_key_already_loaded_from_another_extract(loaded, tmp_path):
    project, mon, store, path = loaded
    feb = _police("2024-02-01", prefix="F")
    feb.loc[0, "crime_ref"] = pd.read_csv(path).crime_ref.iat[0]
    _assert_refused(store, mon, "police", _csv(feb, tmp_path / "p.csv"), "already loaded from another extract")


def test_period_already_loaded(loaded, tmp_path):
    project, mon, store, path = loaded
    other = _police("2024-01-01", seed=2, prefix="Z")
    msg = _assert_refused(store, mon, "police", _csv(other, tmp_path / "jan_again.csv"), "already loaded")
    assert "police for 2024-01 is already loaded: extract 1 (police_2024-01.csv" in msg and "--replace" in msg


@pytest.mark.parametrize("content", ["", "crime_ref,occurred_at,offence_type,knife_flag,domestic_flag,area,victim_id,"
                                         "victim_age,victim_sex,suspect_id,suspect_age\n"])
def test_empty_file(loaded, tmp_path, content):
    project, mon, store, _ = loaded
    path = tmp_path / "empty.csv"
    path.write_text(content)
    msg = _assert_refused(store, mon, "police", path, "empty|no rows")
    assert str(path) in msg


def test_unknown_source_and_file_type(loaded, tmp_path):
    project, mon, store, path = loaded
    with pytest.raises(OptionError, match="'polce' is not a valid choice; expected one of .*'police'"):
        ingest(store, mon, "polce", path)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(DataError, match="expected .csv, .parquet or .xlsx"):
        ingest(store, mon, "police", bad)


def test_correction_replaces_explicitly_and_is_recorded(loaded, tmp_path):
    project, mon, store, path = loaded
    corrected = pd.read_csv(path)
    corrected.loc[:9, "knife_flag"] = True
    corrected = corrected.iloc[:-1]
    new = _csv(corrected, tmp_path / "police_2024-01_v2.csv")
    report = ingest(store, mon, "police", new, replace=True)
    assert report.status == "replaced" and report.replaced == [1]
    assert store.con.execute("SELECT extract_id, status, replaced_by FROM extracts ORDER BY 1").fetchall() == \
        [(1, "replaced", 2), (2, "active", None)]
    rep = store.con.execute("SELECT old_extract_id, new_extract_id, old_rows, new_rows FROM replacements").fetchall()
    assert rep == [(1, 2, len(corrected) + 1, len(corrected))]
    assert store.con.execute("SELECT count(*), count(DISTINCT _extract_id) FROM src_police").fetchone() == \
        (len(corrected), 1)
    assert "replacing extract(s) 1" in str(report)
    # the replaced file again: nothing changes, and it says why
    before = snapshot(store)
    again = ingest(store, mon, "police", path)
    assert again.status == "superseded" and "replaced by extract 2" in str(again)
    assert snapshot(store) == before
    # unless it is put back explicitly
    assert ingest(store, mon, "police", path, replace=True).replaced == [2]


def test_correction_must_cover_what_it_replaces(project, tmp_path):
    mon = load_monitoring(project)
    with open_store(tmp_path / "s.duckdb") as store:
        import numpy as np

        two = synth.police_records(np.random.default_rng(3), "2024-01-01", "2024-02-01", per_month=20)
        ingest(store, mon, "police", _csv(two, tmp_path / "q1.csv"))
        jan = two[two.occurred_at < "2024-02-01"]
        _assert_refused(store, mon, "police", _csv(jan, tmp_path / "jan.csv"), "covering all of it", replace=True)


def test_a_different_key_is_refused(loaded, monkeypatch, tmp_path):
    project, mon, store, _ = loaded
    monkeypatch.setenv(KEY_ENV, "z" * 40)
    _assert_refused(store, mon, "police", _csv(_police("2024-02-01"), tmp_path / "p.csv"), "key differs")


def test_key_file_is_created_outside_the_project(project, monkeypatch, tmp_path, capsys):
    from evalkit.monitor.keys import load_key

    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "k.key"))
    key = load_key(project)
    assert len(key) == 64 and "created a new pseudonymisation key" in capsys.readouterr().err
    assert oct((tmp_path / "keys" / "k.key").stat().st_mode)[-3:] == "600"
    assert load_key(project) == key
    monkeypatch.setenv(KEY_FILE_ENV, str(project / "k.key"))
    with pytest.raises(DataError, match="inside the project"):
        load_key(project)


def test_xlsx_and_parquet_are_read(project, tmp_path):
    import numpy as np

    mon = load_monitoring(project)
    rng = np.random.default_rng(4)
    with open_store(tmp_path / "s.duckdb") as store:
        ae = synth.ae_attendances(rng, "2023-01-01", "2023-02-01")
        path = tmp_path / "ae.xlsx"
        ae.to_excel(path, index=False)
        assert ingest(store, mon, "ae_attendances", path).rows == len(ae)
        adm = synth.hospital_admissions(rng, "2023-01-01", "2023-03-01")
        adm.to_parquet(tmp_path / "adm.parquet", index=False)
        assert ingest(store, mon, "hospital_admissions", tmp_path / "adm.parquet").rows == len(adm)


def test_bad_source_declaration_lists_every_problem(project):
    (project / "monitoring" / "sources" / "bad.yml").write_text(
        "id: bad\nlabel: Bad\nkind: polices\ndate_column: when\ncolumns:\n  a: {type: text}\n")
    with pytest.raises(SpecError) as info:
        load_monitoring(project)
    text = str(info.value)
    assert "monitoring/sources/bad.yml:3: error: kind: unknown source kind (found 'polices'; expected one of " \
        "ambulance, anti_social_behaviour, comparator, education, health, police, population, programme, " \
        "social_care, survey, youth_justice (or a kind declared in monitoring/kinds/*.yml))" in text
    assert "monitoring/sources/bad.yml:6: error: columns.a.type: invalid value (found 'text'" in text


def _wait_for(proc, needle: str, timeout: float = 120) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}; stderr so far:\n{seen}")


@pytest.mark.parametrize("moment", ["checking", "holding the transaction open"])
def test_killed_ingest_leaves_the_store_unchanged_and_usable(loaded, tmp_path, moment):
    project, mon, store, path = loaded
    big = synth.big_police_file(tmp_path / "police_big.csv", rows=300_000, start="2010-01-01")
    before = snapshot(store)
    store.close()  # the ingest process needs the file
    env = dict(os.environ, **{HOLD_ENV: "60", KEY_ENV: KEY})
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "monitor", "ingest", "police", str(big),
                             "--project", str(project)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        _wait_for(proc, moment)
        if moment != "checking":
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)  # a real signal: no handler, no cleanup
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with open_store(project / ".evalkit" / "evalkit.duckdb") as again:
        assert snapshot(again) == before
        # and usable: the same big file now goes in whole
        report = ingest(again, mon, "police", big)
        assert report.rows == again.con.execute(
            "SELECT count(*) FROM src_police WHERE _extract_id = ?", [report.extract_id]).fetchone()[0] > 250_000
    # the killed process's Parquet copy of the CSV (person-level rows) is gone too: removed by the
    # next ingest, since its process no longer runs; the new ingest's own copy is removed when done
    assert not list((project / ".evalkit").glob(".ingest-*"))


def test_the_csv_copy_is_owner_only_while_it_exists(loaded, tmp_path, monkeypatch):
    from evalkit.monitor import ingest as ingest_module

    project, mon, store, _path = loaded
    seen = []
    real = ingest_module._read

    def spy(con, path, kind, scratch=None):
        out = real(con, path, kind, scratch)
        seen.append((scratch, scratch.stat().st_mode & 0o777, scratch.stat().st_size))
        return out

    monkeypatch.setattr(ingest_module, "_read", spy)
    ingest(store, mon, "police", _csv(_police("2024-02-01", prefix="F"), tmp_path / "police_2024-02.csv"))
    (scratch, mode, size), = seen
    assert scratch.parent == project / ".evalkit" and mode == 0o600 and size > 0
    assert not scratch.exists()


def test_parquet_strings_are_trimmed_and_empty_is_missing(project, tmp_path):
    mon = load_monitoring(project)
    frame = _police("2024-03-01", n=30)
    frame.loc[1, "area"] = "  " + frame.loc[1, "area"] + " "
    frame.loc[2, "victim_sex"] = ""
    frame.loc[3, "victim_id"] = " P7 "
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    with open_store(tmp_path / "s.duckdb") as store:
        ingest(store, mon, "police", tmp_path / "p.parquet")
        got = store.con.execute("SELECT area, victim_sex, victim_id FROM src_police ORDER BY _line").fetchall()
    assert got[1][0] == frame.loc[1, "area"].strip() and got[2][1] is None
    assert got[3][2] == pseudonym(KEY.encode(), "P7")


def test_duplicates_are_listed_after_the_hash_precheck(loaded, tmp_path):
    # the hash pre-check only proves there are none; equal hashes fall through to the exact check
    project, mon, store, _ = loaded
    frame = _police("2024-02-01")
    frame = pd.concat([frame, frame.iloc[[0, 5]]], ignore_index=True)
    msg = _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "duplicate rows")
    assert f"line 2 and line {len(frame)}" in msg and f"line 7 and line {len(frame) + 1}" in msg


def test_pseudonyms_of_an_older_store_are_converted(loaded, tmp_path):
    """Stores written before pseudonyms were UUIDs held the 64 hex digits; the next ingest converts them."""
    import hashlib
    import hmac

    project, mon, store, path = loaded
    con = store.con
    before = con.execute("SELECT crime_ref, victim_id FROM src_police ORDER BY _line").fetchall()
    frame = pd.read_csv(path, dtype=str)
    # turn the store back into the old form: VARCHAR with the full HMAC in hex
    hexes = {v: hmac.new(KEY.encode(), v.encode(), hashlib.sha256).hexdigest() for v in
             pd.concat([frame.victim_id, frame.suspect_id]).dropna().unique()}
    for col in ("victim_id", "suspect_id"):
        con.execute(f"ALTER TABLE src_police ALTER COLUMN {col} SET DATA TYPE VARCHAR USING NULL")
        lookup = pd.DataFrame({"crime_ref": frame.crime_ref, "h": frame[col].map(hexes)})
        con.register("lookup", lookup)
        con.execute(f"UPDATE src_police SET {col} = lookup.h FROM lookup WHERE lookup.crime_ref = src_police.crime_ref")
        con.unregister("lookup")
    assert con.execute("SELECT max(length(victim_id)) FROM src_police").fetchone()[0] == 64
    ingest(store, mon, "police", _csv(_police("2024-02-01", prefix="F"), tmp_path / "feb.csv"))
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'src_police'").fetchall())
    assert types["victim_id"] == "UUID" and types["suspect_id"] == "UUID"
    after = con.execute("SELECT crime_ref, victim_id FROM src_police WHERE _extract_id = 1 ORDER BY _line").fetchall()
    assert after == before


def test_a_failed_ingest_leaves_old_pseudonyms_unconverted(loaded, tmp_path):
    project, mon, store, _ = loaded
    con = store.con
    con.execute("ALTER TABLE src_police ALTER COLUMN victim_id SET DATA TYPE VARCHAR USING NULL")
    frame = _police("2024-02-01", prefix="F")
    frame.loc[3, "area"] = None
    _assert_refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"), "required")
    assert dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'src_police'").fetchall())["victim_id"] == "VARCHAR"


def test_a_store_made_before_a_declaration_gained_optional_columns_is_brought_up_to_date(loaded):
    """A store from an older evalkit (police rows without the offence code and location type the
    declaration now lists) is rebuilt with those columns empty for the old rows, the rows kept;
    querying it before gave a BinderException called "the store could not be used"."""
    from evalkit.monitor.ingest import align_source_tables

    project, mon, store, _path = loaded
    src = mon.sources["police"]
    optional = [c for c, d in src.columns.items() if not d.required][:2]
    assert optional, "the police declaration has optional columns"
    before = store.con.execute(f"SELECT count(*) FROM {src.table}").fetchone()[0]
    for c in optional:  # what an older store looks like
        store.con.execute(f'ALTER TABLE {src.table} DROP COLUMN "{c}"')
    changed = align_source_tables(store, mon.sources)
    assert len(changed) == 1 and all(c in changed[0] for c in optional)
    cols = [r[0] for r in store.con.execute(f"DESCRIBE {src.table}").fetchall()]
    assert cols == ["_extract_id", "_line", *src.columns]
    assert store.con.execute(f"SELECT count(*) FROM {src.table}").fetchone()[0] == before
    nulls = store.con.execute(f'SELECT count(*) FROM {src.table} WHERE "{optional[0]}" IS NULL').fetchone()[0]
    assert nulls == before
    assert align_source_tables(store, mon.sources) == []  # once only


def test_a_store_missing_a_required_column_is_left_for_ingest_to_name(loaded):
    from evalkit.monitor.ingest import align_source_tables

    project, mon, store, _path = loaded
    src = mon.sources["police"]
    required = next(c for c, d in src.columns.items() if d.required and c not in src.pseudonymise)
    store.con.execute(f'ALTER TABLE {src.table} DROP COLUMN "{required}"')
    assert align_source_tables(store, mon.sources) == []
