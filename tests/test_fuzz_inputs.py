"""A seeded corpus of broken data files and extracts, made at random from clean ones.

For every broken file evalkit either refuses it (exit 1, messages without a traceback and
without any identifier from the file) or accepts it with exactly the numbers of the clean file
(the damage was only formatting, or in a column the analysis does not use). Never exit 0 with
another number; never a memory blow-up (the process runs under an address-space limit).

The mutations are general (text, words, non-finite and absurd numbers, other identifiers,
truncation, bytes that are not UTF-8, ragged rows, unbalanced quotes, a missing header...), not
the known cases, so the test holds evalkit to files nobody wrote a rule for.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, copy_monitoring_project

from evalkit.cli import main

CASES = 70
INGEST_CASES = 45
ID_PATTERN = re.compile(r"IDX\d{7}")

JUNK = ["abc", "n/a", "NA", "NULL", "null", "-", "?", "#N/A", "#DIV/0!", "inf", "-inf", "Infinity", "nan", "NaN",
        "1e308", "-1e308", "1e400", "0x1F", "0b101", "1_000", "12abc", "1,5", "--1", "+", ".", "1e",
        "9" * 30, "\u0661\u0662", "１２", "3 4", "<script>", "=1+1", "12%", "$5", "1/2"]
# formatting that does not change a value (the answer must not change either)
NEUTRAL = ["pad", "crlf", "bom", "quote", "extra_column", "reorder_columns", "shuffle_rows"]
BROKEN = ["junk_cell", "other_id_in_cell", "empty_id", "duplicate_id", "drop_header", "truncate", "latin1",
          "nul_byte", "ragged_row", "unbalanced_quote", "empty_file", "header_only", "binary_garbage",
          "duplicate_header"]


def _with_ids(frame: pd.DataFrame, column: str, rng) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = [f"IDX{v:07d}" for v in rng.choice(10**7, len(frame), replace=False)]
    return frame


def _rows_of(text: str) -> tuple[list[str], list[list[str]]]:
    import csv

    rows = list(csv.reader(text.splitlines()))
    return rows[0], [r for r in rows[1:] if r]


def _csv_text(header: list[str], rows: list[list[str]], quote_all: bool = False, end: str = "\n") -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator=end, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _mutate(text: str, kind: str, rng, id_column: int, numeric_columns: list[int]) -> bytes:
    header, cells = _rows_of(text)
    pick = int(rng.integers(len(cells)))
    col = int(rng.choice(numeric_columns))
    if kind == "pad":
        cells[pick][col] = f"  {cells[pick][col]} "
    elif kind == "crlf":
        return _csv_text(header, cells, end="\r\n").encode()
    elif kind == "bom":
        return ("\ufeff" + _csv_text(header, cells)).encode()
    elif kind == "quote":
        return _csv_text(header, cells, quote_all=True).encode()
    elif kind == "extra_column":
        header = header + ["notes"]
        cells = [c + [str(rng.choice(["x", "", "n/a", "inf"]))] for c in cells]
    elif kind == "reorder_columns":
        order = list(rng.permutation(len(header)))
        header = [header[i] for i in order]
        cells = [[c[i] for i in order] for c in cells]
    elif kind == "shuffle_rows":
        cells = [cells[i] for i in rng.permutation(len(cells))]
    elif kind == "junk_cell":
        cells[pick][col] = str(rng.choice(JUNK))
    elif kind == "other_id_in_cell":
        cells[pick][col] = cells[(pick + 1) % len(cells)][id_column]
    elif kind == "empty_id":
        cells[pick][id_column] = ""
    elif kind == "duplicate_id":
        cells[pick][id_column] = cells[(pick + 3) % len(cells)][id_column]
    elif kind == "drop_header":
        header, cells = cells[0], cells[1:]
    elif kind == "truncate":
        body = _csv_text(header, cells).rstrip("\n").encode()
        return body[: int(len(body) * rng.uniform(0.3, 0.9))]
    elif kind == "latin1":
        cells[pick][id_column] = cells[pick][id_column] + "é"
        return _csv_text(header, cells).encode("latin-1", errors="replace")
    elif kind == "nul_byte":
        cells[pick][col] = cells[pick][col] + "\x00"
    elif kind == "ragged_row":
        lines = _csv_text(header, cells).split("\n")
        lines[pick + 1] += ",7"
        return "\n".join(lines).encode()
    elif kind == "unbalanced_quote":
        lines = _csv_text(header, cells).split("\n")
        lines[pick + 1] = '"' + lines[pick + 1]
        return "\n".join(lines).encode()
    elif kind == "empty_file":
        return b""
    elif kind == "header_only":
        return _csv_text(header, []).encode()
    elif kind == "binary_garbage":
        return bytes(rng.integers(0, 256, 4000, dtype=np.uint8))
    elif kind == "duplicate_header":
        header = list(header)
        header[col] = header[(col + 1) % len(header)]
    return _csv_text(header, cells).encode()


def _check_messages(out: str, err: str, ids: set[str], kind: str) -> None:
    assert "Traceback" not in err, f"{kind}: traceback\n{err}"
    for text in (out, err):
        leaked = set(ID_PATTERN.findall(text)) & ids
        assert not leaked, f"{kind}: an identifier in a message: {text}"


# ------------------------------------------------------------------ evaluation data


@pytest.fixture(scope="module")
def prepost(tmp_path_factory, example_project_ro):
    """Reach pre/post on its own (one logic model, one plan), ids like IDX0001234."""
    root = tmp_path_factory.mktemp("fuzz") / "clean"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations" / "data").mkdir(parents=True)
    shutil.copy(REPO / "logic_models" / "reach.yml", root / "logic_models")
    shutil.copy(REPO / "evaluations" / "reach-prepost.yml", root / "evaluations")
    frame = pd.read_csv(example_project_ro / "evaluations" / "data" / "reach_cohort.csv", dtype=str,
                        keep_default_na=False)
    renamed = _with_ids(frame, "pupil_id", np.random.default_rng(1))
    # the plan's session records (its delivery block) follow the pupils to their new ids
    new_id = dict(zip(frame["pupil_id"], renamed["pupil_id"]))
    frame = renamed
    sessions = pd.read_csv(example_project_ro / "evaluations" / "data" / "reach_sessions.csv", dtype=str,
                           keep_default_na=False)
    sessions["pupil_id"] = sessions["pupil_id"].map(new_id)
    assert sessions["pupil_id"].notna().all()
    (root / "evaluations" / "data" / "reach_sessions.csv").write_text(sessions.to_csv(index=False, lineterminator="\n"))
    text = frame.to_csv(index=False, lineterminator="\n")
    (root / "evaluations" / "data" / "reach_cohort.csv").write_text(text)
    assert main(["run", "--no-store", "--project", str(root)]) == 0
    clean = json.loads((root / ".evalkit" / "results" / "reach-2023-prepost" / "results.json").read_text())
    names = list(frame.columns)
    numeric = [names.index(c) for c in ("sdq_pre", "sdq_post", "attend_pre", "attend_post", "susp_pre", "susp_post")]
    return root, text, clean, set(frame["pupil_id"]), names.index("pupil_id"), numeric


def _numbers(result: dict) -> list:
    return [(e["indicator"], e["estimand"], e["n"], e["estimate"], e["ci_low"], e["ci_high"], e["p_value"])
            for e in result["estimates"]]


def test_broken_evaluation_data_is_refused_or_gives_the_clean_numbers(prepost, tmp_path, capsys):
    root, text, clean, ids, id_col, numeric = prepost
    rng = np.random.default_rng(20240301)
    kinds = NEUTRAL + BROKEN
    seen = {"refused": 0, "same": 0}
    for case in range(CASES):
        kind = kinds[case % len(kinds)] if case < len(kinds) else str(rng.choice(kinds))
        work = tmp_path / f"case{case}"
        shutil.copytree(root, work, ignore=shutil.ignore_patterns("reports"))
        (work / "evaluations" / "data" / "reach_cohort.csv").write_bytes(_mutate(text, kind, rng, id_col, numeric))
        capsys.readouterr()
        rc = main(["run", "--no-store", "--project", str(work)])
        out, err = capsys.readouterr()
        assert rc in (0, 1), f"{kind}: exit {rc}"
        _check_messages(out, err, ids, kind)
        if rc == 0:
            got = json.loads((work / ".evalkit" / "results" / "reach-2023-prepost" / "results.json").read_text())
            assert _numbers(got) == _numbers(clean), f"{kind}: exit 0 with other numbers"
            seen["same"] += 1
        else:
            assert err.strip(), f"{kind}: exit 1 without a message"
            assert kind not in NEUTRAL, f"{kind}: a formatting change was refused:\n{err}"
            seen["refused"] += 1
        shutil.rmtree(work)
    assert seen["refused"] >= 25 and seen["same"] >= len(NEUTRAL)


def test_broken_xlsx_cells_are_refused_or_give_the_clean_numbers(prepost, tmp_path, capsys):
    import openpyxl

    root, text, clean, ids, id_col, numeric = prepost
    frame = pd.read_csv(root / "evaluations" / "data" / "reach_cohort.csv")
    rng = np.random.default_rng(7)
    # (openpyxl cannot write inf or NaN: it writes an empty cell, so the text "inf" stands for them)
    for case, value in enumerate(["=A2", "#DIV/0!", "#N/A", "abc", True, False,
                                  pd.Timestamp("2024-01-01").to_pydatetime(), 1e308, "inf", "padded", "IDX1234567"]):
        work = tmp_path / f"x{case}"
        shutil.copytree(root, work, ignore=shutil.ignore_patterns("reports"))
        path = work / "evaluations" / "data" / "reach_cohort.xlsx"
        frame.to_excel(path, index=False)
        wb = openpyxl.load_workbook(path)
        # true/false is a valid binary value: put booleans in score columns only
        columns = numeric[:4] if isinstance(value, bool) else numeric
        row, col = int(rng.integers(2, len(frame) + 2)), int(rng.choice(columns)) + 1
        cell = wb.active.cell(row=row, column=col)
        # "padded": the same number as text with spaces around it (must read as that number)
        cell.value = f"  {cell.value:g} " if value == "padded" and cell.value is not None else value
        wb.save(path)
        plan = work / "evaluations" / "reach-prepost.yml"
        plan.write_text(plan.read_text().replace("reach_cohort.csv", "reach_cohort.xlsx"))
        capsys.readouterr()
        rc = main(["run", "--no-store", "--project", str(work)])
        out, err = capsys.readouterr()
        _check_messages(out, err, ids | {"IDX1234567"}, repr(value))
        if rc == 0:
            got = json.loads((work / ".evalkit" / "results" / "reach-2023-prepost" / "results.json").read_text())
            assert _numbers(got) == _numbers(clean), f"{value!r}: exit 0 with other numbers"
        else:
            assert rc == 1 and err.strip()


# ------------------------------------------------------------------ monitoring extracts


@pytest.fixture
def monitored(tmp_path, monkeypatch):
    from evalkit.monitor import synth
    from evalkit.monitor.keys import KEY_ENV

    monkeypatch.setenv(KEY_ENV, "z" * 40)
    monkeypatch.delenv("EVALKIT_STORE", raising=False)
    root = copy_monitoring_project(tmp_path / "project")
    rng = np.random.default_rng(11)
    jan = synth.police_records(rng, "2024-01-01", "2024-01-01", per_month=60, prefix="J")
    feb = synth.police_records(rng, "2024-02-01", "2024-02-01", per_month=60, prefix="F")
    for frame in (jan, feb):
        for c in ("victim_id", "suspect_id"):
            known = frame[c].notna()
            frame.loc[known, c] = [f"IDX{v:07d}" for v in rng.integers(0, 10**7, int(known.sum()))]
    files = tmp_path / "in"
    files.mkdir()
    jan.to_csv(files / "jan.csv", index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")
    feb_text = feb.to_csv(index=False, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S")
    (files / "feb.csv").write_text(feb_text)
    assert main(["monitor", "ingest", "police", str(files / "jan.csv"), "--project", str(root)]) == 0
    store = root / ".evalkit" / "evalkit.duckdb"
    shutil.copy(store, tmp_path / "jan.duckdb")
    assert main(["monitor", "ingest", "police", str(files / "feb.csv"), "--project", str(root)]) == 0
    clean = _feb_rows(store)
    ids = set(pd.concat([jan.victim_id, jan.suspect_id, feb.victim_id, feb.suspect_id]).dropna())
    ids |= set(jan.crime_ref) | set(feb.crime_ref)
    names = list(feb.columns)
    typed = [names.index(c) for c in ("occurred_at", "knife_flag", "domestic_flag", "victim_age", "suspect_age")]
    return root, tmp_path / "jan.duckdb", feb_text, clean, ids, names.index("victim_id"), typed


def _feb_rows(store: Path) -> list:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        rows = con.execute("SELECT * EXCLUDE (_extract_id, _line) FROM src_police WHERE crime_ref LIKE 'F%' "
                           "ORDER BY crime_ref").fetchall()
        extracts = con.execute("SELECT count(*) FROM extracts").fetchone()[0]
    finally:
        con.close()
    return [extracts, rows]


def _crime_ref_pattern(ids: set[str]) -> re.Pattern:
    return re.compile("|".join(re.escape(i) for i in sorted(i for i in ids if not i.startswith("IDX"))[:200]))


def test_broken_extracts_are_refused_or_stored_exactly(monitored, tmp_path, capsys):
    root, jan_store, feb_text, clean, ids, id_col, typed = monitored
    store = root / ".evalkit" / "evalkit.duckdb"
    refs = _crime_ref_pattern(ids)
    rng = np.random.default_rng(99)
    # an empty or repeated victim id is legitimate in police data; an extra column is refused by declaration
    kinds = [k for k in NEUTRAL + BROKEN if k not in ("empty_id", "duplicate_id", "extra_column")]
    kinds += ["junk_cell"] * 6
    before_jan = _feb_rows(jan_store)
    for case in range(INGEST_CASES):
        kind = kinds[case % len(kinds)] if case < len(kinds) else str(rng.choice(kinds))
        shutil.copy(jan_store, store)
        path = tmp_path / f"feb_{case}.csv"
        path.write_bytes(_mutate(feb_text, kind, rng, id_col, typed))
        capsys.readouterr()
        rc = main(["monitor", "ingest", "police", str(path), "--project", str(root)])
        out, err = capsys.readouterr()
        assert rc in (0, 1), f"{kind}: exit {rc}"
        _check_messages(out, err, ids, kind)
        assert not refs.search(out + err), f"{kind}: a record reference in a message:\n{err}"
        if rc == 0:
            assert _feb_rows(store) == clean, f"{kind}: accepted, but the stored rows differ from the clean file"
        else:
            assert kind not in NEUTRAL, f"{kind}: a formatting change was refused:\n{err}"
            assert _feb_rows(store) == before_jan, f"{kind}: a refused extract changed the store"


def test_broken_parquet_columns_are_refused_or_give_the_clean_numbers(prepost, tmp_path, capsys):
    root, text, clean, ids, id_col, numeric = prepost
    frame = pd.read_csv(root / "evaluations" / "data" / "reach_cohort.csv")
    rng = np.random.default_rng(3)
    score_columns = ["sdq_pre", "sdq_post", "attend_pre", "attend_post"]

    def damaged(kind: str) -> pd.DataFrame:
        f = frame.copy()
        col = str(rng.choice(score_columns))
        row = int(rng.integers(len(f)))
        if kind == "booleans":
            f[col] = f[col] > f[col].median()
        elif kind in ("nan", "inf", "huge"):
            f[col] = f[col].astype(float)
            f.loc[row, col] = {"nan": np.nan, "inf": np.inf, "huge": 2.0 ** 60}[kind]
        elif kind in ("text", "same_as_text"):  # a text column of numbers: the same numbers, unless one is junk
            f[col] = f[col].map(lambda v: "" if pd.isna(v) else f"{v:g}").astype(object)
            if kind == "text":
                f.loc[row, col] = str(rng.choice(["n/a", "abc", "IDX7654321"]))
        elif kind == "dates":
            f[col] = pd.Timestamp("2024-01-01") + pd.to_timedelta(f[col].fillna(0), unit="D")
        elif kind == "int64_huge":
            f[col] = f[col].fillna(0).round().astype("int64")
            f.loc[row, col] = 2**62
        elif kind == "same_as_floats":  # integers stored as floats: the same numbers
            f[col] = f[col].astype("float64")
        return f

    for kind in ("booleans", "nan", "inf", "huge", "text", "dates", "int64_huge", "same_as_floats", "same_as_text"):
        work = tmp_path / kind
        shutil.copytree(root, work, ignore=shutil.ignore_patterns("reports"))
        target = work / "evaluations" / "data" / "reach_cohort.parquet"
        if kind == "nan":  # pandas writes NaN as null (missing); a real NaN needs pyarrow told not to
            import pyarrow as pa
            import pyarrow.parquet as pq

            f = damaged(kind)
            pq.write_table(pa.table({c: pa.array(f[c].to_numpy(), from_pandas=c not in score_columns)
                                     for c in f.columns}), target)
        else:
            damaged(kind).to_parquet(target, index=False)
        plan = work / "evaluations" / "reach-prepost.yml"
        plan.write_text(plan.read_text().replace("reach_cohort.csv", "reach_cohort.parquet"))
        capsys.readouterr()
        rc = main(["run", "--no-store", "--project", str(work)])
        out, err = capsys.readouterr()
        _check_messages(out, err, ids | {"IDX7654321"}, kind)
        if rc == 0:
            got = json.loads((work / ".evalkit" / "results" / "reach-2023-prepost" / "results.json").read_text())
            assert _numbers(got) == _numbers(clean), f"{kind}: exit 0 with other numbers"
        else:
            assert rc == 1 and err.strip() and not kind.startswith("same_as"), (kind, err)
