"""Monitoring extracts are read by the same strict rules as evaluation data.

Whole numbers are decimal digits (DuckDB alone would round ``10.5`` to 11 and read ``0x10`` as
16, ``1_000`` as 1000 and ``1e3`` as 1000); numbers are finite and within 2**53; a population is
a positive whole number; XLSX formula cells without a saved value are refused by cell; only the
declared ``missing_values`` and empty cells are missing; messages never quote a cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_monitor_ingest import KEY, _csv, _police, project, snapshot  # noqa: F401  (project: a fixture)

from evalkit.errors import DataError, SpecError
from evalkit.monitor import synth
from evalkit.monitor.config import load_monitoring
from evalkit.monitor.ingest import ingest
from evalkit.store import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "s.duckdb") as s:
        yield s


def _refused(store, mon, source, path, **kw) -> str:
    before = snapshot(store)
    with pytest.raises(DataError) as info:
        ingest(store, mon, source, path, **kw)
    assert snapshot(store) == before, "a refused extract changed the store"
    return str(info.value)


def _with_text(frame: pd.DataFrame, column: str, row: int, text: str) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = text
    return frame


@pytest.mark.parametrize("text, found", [
    ("10.5", "a number that is not whole"), ("0x10", "a hexadecimal, binary or octal number"),
    ("0b11", "a hexadecimal, binary or octal number"), ("1_000", "a number with digit separators"),
    ("1e3", "a number that is not whole"), ("9" * 20, "a number beyond ±2^53"), ("seventeen", "text that is not a number"),
])
def test_whole_numbers_are_never_rounded_or_converted(project, store, tmp_path, text, found):
    mon = load_monitoring(project)
    frame = _with_text(_police("2024-02-01"), "victim_age", 3, text)
    msg = _refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"))
    assert "line 5, column victim_age: found " in msg and found in msg and "expected a whole number" in msg
    assert text not in msg


def test_a_whole_number_written_with_a_zero_fraction_is_whole(project, store, tmp_path):
    mon = load_monitoring(project)
    frame = _with_text(_police("2024-02-01"), "victim_age", 3, "34.0")
    ingest(store, mon, "police", _csv(frame, tmp_path / "p.csv"))
    assert store.con.execute("SELECT victim_age FROM src_police WHERE _line = 5").fetchone() == (34,)


@pytest.mark.parametrize("text", ["inf", "-Infinity", "nan", "1e400", "1e300"])
def test_numbers_are_finite_and_not_absurd(project, store, tmp_path, text):
    mon = load_monitoring(project)
    rng = np.random.default_rng(1)
    frame = _with_text(synth.programme_sessions(rng, pd.Timestamp("2024-02-01"), "S"), "hours", 2, text)
    msg = _refused(store, mon, "programme_sessions", _csv(frame, tmp_path / "s.csv"))
    assert "line 4, column hours: found" in msg and "expected a number" in msg and text not in msg


def test_parquet_values_obey_the_same_limits(project, store, tmp_path):
    mon = load_monitoring(project)
    rng = np.random.default_rng(2)
    frame = synth.programme_sessions(rng, pd.Timestamp("2024-02-01"), "S")
    frame.loc[1, "hours"] = np.inf
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    assert "row 2, column hours: found" in _refused(store, mon, "programme_sessions", tmp_path / "s.parquet")
    police = _police("2024-02-01")
    police["victim_age"] = police["victim_age"].astype("float64")
    police.loc[2, "victim_age"] = 30.5  # a double column where whole numbers are declared
    police.to_parquet(tmp_path / "p.parquet", index=False)
    msg = _refused(store, mon, "police", tmp_path / "p.parquet")
    assert "row 3, column victim_age: found" in msg and "expected a whole number" in msg


@pytest.mark.parametrize("value, found", [("0", "below"), ("-250", "below"), ("1200.5", "a number that is not whole")])
def test_a_population_is_a_positive_whole_number(project, store, tmp_path, value, found):
    mon = load_monitoring(project)
    frame = _with_text(synth.populations(2023, 2023), "population", 5, value)
    msg = _refused(store, mon, "populations", _csv(frame, tmp_path / "pop.csv"))
    assert "line 7, column population: found" in msg and found in msg


def test_a_population_source_must_declare_whole_numbers(project):
    path = project / "monitoring" / "sources" / "populations.yml"
    path.write_text(path.read_text().replace("population: {type: integer}", "population: {type: number}"))
    with pytest.raises(SpecError, match="columns.population: the population kind declares .population. as a required integer"):
        load_monitoring(project)


def test_declared_limits_and_missing_values(project, store, tmp_path):
    path = project / "monitoring" / "sources" / "police.yml"
    text = path.read_text().replace("victim_age: {type: integer, required: false}",
                                    "victim_age: {type: integer, required: false, min: 0, max: 110}")
    path.write_text(text.replace("columns:\n", "missing_values: [\"n/k\"]\ncolumns:\n", 1))
    mon = load_monitoring(project)
    frame = _with_text(_police("2024-02-01"), "victim_age", 3, "n/k")
    ingest(store, mon, "police", _csv(frame, tmp_path / "a.csv"))
    assert store.con.execute("SELECT victim_age FROM src_police WHERE _line = 5").fetchone() == (None,)
    frame = _with_text(_police("2024-03-01", prefix="M"), "victim_age", 3, "230")
    msg = _refused(store, mon, "police", _csv(frame, tmp_path / "b.csv"))
    assert "line 5, column victim_age: found a value above the accepted range, expected from 0 to 110" in msg


def test_an_undeclared_missing_word_is_refused(project, store, tmp_path):
    mon = load_monitoring(project)
    frame = _with_text(_police("2024-02-01"), "victim_age", 3, "n/a")
    assert "line 5, column victim_age: found text that is not a number" in \
        _refused(store, mon, "police", _csv(frame, tmp_path / "p.csv"))


def test_xlsx_formula_cells_without_a_saved_value_are_refused(project, store, tmp_path):
    import openpyxl

    mon = load_monitoring(project)
    frame = synth.ambulance_callouts(np.random.default_rng(3), "2024-01-01", "2024-01-01")
    path = tmp_path / "amb.xlsx"
    frame.to_excel(path, index=False)
    wb = openpyxl.load_workbook(path)
    wb.active["D4"] = '=UPPER("x")'
    wb.save(path)
    msg = _refused(store, mon, "ambulance_callouts", path)
    assert "1 cell(s) hold a formula without a saved result (D4)" in msg


def test_a_library_error_never_quotes_the_file(project, store, tmp_path):
    mon = load_monitoring(project)
    path = _csv(_police("2024-02-01"), tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[4] = lines[4] + ',"SECRET-PERSON-77,extra'
    path.write_text("\n".join(lines) + "\n")
    msg = _refused(store, mon, "police", path)
    assert "SECRET" not in msg and "cannot be read as CSV" in msg
