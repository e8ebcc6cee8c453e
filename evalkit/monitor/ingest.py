"""Ingest one extract of a declared source into the store: checked, pseudonymised, all or nothing.

The steps: hash the file (the same file twice is a no-op); read it into a temporary table;
check its columns, types, required values, duplicates and period against the declaration and
the store; then, in one transaction, record the extract, replace the extracts it corrects (only
when asked) and insert the rows with person identifiers replaced by their keyed hash. A
failure at any step, or a killed process, leaves the store as it was: DuckDB makes the
transaction durable only at COMMIT.
"""

from __future__ import annotations

import errno

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.data.load import sha256 as file_sha256
from evalkit.errors import DataError
from evalkit.monitor.config import SQL_TYPES, ColumnType, Monitoring, Source
from evalkit.store.db import Store

MAX_LISTED = 10
from evalkit.data.files import SUFFIXES as READERS  # noqa: E402  (one list of data suffixes for the project)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
# test hook: seconds to wait after writing the rows and before COMMIT, so a test can kill the
# process while the transaction is open (tests/test_monitor_ingest.py)
HOLD_ENV = "EVALKIT_INGEST_HOLD_SECONDS"
# ... or until this file exists, whichever is first (a test that has done its work while the
# transaction is open lets the ingest finish instead of sleeping out the hold)
RELEASE_ENV = "EVALKIT_INGEST_HOLD_RELEASE"


@dataclass
class IngestReport:
    source: str
    file: Path
    sha256: str
    rows: int
    status: str  # ingested | unchanged | replaced
    extract_id: int
    period_start: str
    period_end: str
    replaced: list[int] = field(default_factory=list)
    superseded_by: int | None = None

    def __str__(self) -> str:
        span = self.period_start if self.period_start == self.period_end else f"{self.period_start} to {self.period_end}"
        if self.status == "superseded":
            return (f"{self.file.name}: ingested before as extract {self.extract_id} of {self.source} and since "
                    f"replaced by extract {self.superseded_by} (a correction); nothing changed (use --replace to "
                    "put this file back)")
        if self.status == "unchanged":
            return (f"{self.file.name}: already ingested as extract {self.extract_id} of {self.source} "
                    f"(same SHA-256); nothing changed")
        text = f"{self.file.name}: ingested {self.rows} row(s) into {self.source} for {span} as extract {self.extract_id}"
        if self.replaced:
            text += f", replacing extract(s) {', '.join(map(str, self.replaced))}"
        return text


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _where(line: int, kind: str) -> str:
    return f"line {line}" if kind in ("csv", "xlsx") else f"row {line - 1}"


def _read(con, path: Path, kind: str, scratch: Path | None = None) -> tuple[str, int]:
    """Make ``_raw`` (the file with a ``_line`` column): a view over Parquet; for CSV a view over a
    Parquet copy at ``scratch`` (or a table when no scratch file is given); a table for XLSX."""
    import duckdb

    from evalkit.data.files import check_regular, read_reason, xlsx_frame

    check_regular(path, "extract")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a header line and at least one row")
    try:
        if kind == "parquet":
            # streamed from the file at each step: nothing the size of the extract is held twice
            con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT * EXCLUDE (file_row_number), "
                        f"(file_row_number + 2)::BIGINT AS _line FROM read_parquet({_lit(str(path))}, "
                        "file_row_number = true)")
        else:
            csv = (f"read_csv({_lit(str(path))}, all_varchar = true, header = true, delim = ',', quote = '\"', "
                   "escape = '\"', strict_mode = true)")
            if kind == "csv" and scratch is not None:
                # CSV as evaluation data read it: commas, double quotes; a malformed row is an error.
                # DuckDB streams the text into a Parquet copy (row groups, in file order), and every
                # later pass reads that copy as it reads a Parquet extract: the extract is never
                # held in memory whole (a table of its text was the peak of a 3-million-row ingest)
                # DuckDB writes the copy anew: the umask keeps it owner-only (in an owner-only folder)
                mask = os.umask(0o077)
                try:
                    con.execute(f"COPY (SELECT * FROM {csv}) TO {_lit(str(scratch))} (FORMAT parquet)")
                finally:
                    os.umask(mask)
                os.chmod(scratch, 0o600)
                con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT * EXCLUDE (file_row_number), "
                            f"(file_row_number + 2)::BIGINT AS _line FROM read_parquet({_lit(str(scratch))}, "
                            "file_row_number = true)")
                n = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
                return kind, int(n)
            if kind == "csv":
                con.execute(f"CREATE OR REPLACE TEMP TABLE _raw0 AS SELECT * FROM {csv}")
            else:
                # the shared XLSX reader refuses formula cells without a saved value (never read as empty)
                frame = xlsx_frame(path, dtype=str, keep_default_na=False, na_values=[""])
                con.execute("SELECT 1").fetchall()  # no unfinished result may be pending when registering
                con.register("_xlsx", frame)
                con.execute("CREATE OR REPLACE TEMP TABLE _raw0 AS SELECT * FROM _xlsx")
                con.unregister("_xlsx")
            # insertion order is file order, so rowid + 2 is the line (after the header line); a view,
            # not a copy: the file's text is held once (a copy doubled a CSV's peak memory)
            con.execute("CREATE OR REPLACE TEMP VIEW _raw AS SELECT *, (rowid + 2)::BIGINT AS _line FROM _raw0")
        n = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
    except DataError:
        raise
    except (duckdb.Error, ValueError, OSError, KeyError, MemoryError) as exc:
        if "no space left" in str(exc).lower() or getattr(exc, "errno", None) == errno.ENOSPC:
            raise  # the Parquet copy beside the store filled the disk: not a fault of the file (said as such)
        # the library's message quotes the offending line: keep only what went wrong and where
        raise DataError(f"{path}: cannot be read as {kind.upper()} ({read_reason(exc, kind)}); expected a "
                        f"{kind.upper()} file with a header line") from None
    except Exception as exc:  # openpyxl and zipfile raise their own types for a damaged workbook
        raise DataError(f"{path}: cannot be read as {kind.upper()} ({read_reason(exc, kind)}); expected a "
                        f"{kind.upper()} file with a header line") from None
    return kind, int(n)


TEMP_OBJECTS = ("_typed", "_raw", "_raw0")  # views before the table they read


def _quietly(con, sql: str) -> None:
    """Run clean-up SQL whose own failure must not hide the error being reported."""
    try:
        con.execute(sql)
    except Exception:  # noqa: BLE001
        pass


def _drop_temp(con, extra: list[str] = ()) -> None:
    for name in (*TEMP_OBJECTS, *extra):
        for what in ("VIEW", "TABLE"):
            _quietly(con, f"DROP {what} IF EXISTS {name}")  # one of the two is the wrong kind


def _native_types(con) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute("DESCRIBE _raw").fetchall()}


_NUMERIC_NATIVE = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT",
                   "UTINYINT")
_FLOAT_NATIVE = ("DOUBLE", "FLOAT", "REAL")


def _typed_sql(col: str, decl, native: str, missing: tuple[str, ...] = ()) -> tuple[str, str, bool]:
    """(typed value, 'value present', whether a present value can fail its type) SQL for one column of _raw.

    Text is read by the grammar shared with evaluation data (evalkit.data.files): a whole number is
    decimal digits (``10.5``, ``1e3``, ``0x10``, ``1_000`` are refused, not rounded or converted), a
    number has no ``inf``/``nan`` and stays within 2**53; native Parquet values obey the same limits.
    """
    from evalkit.data.files import INTEGER, MAX_ABS, NUMBER

    c = _q(col)
    want = SQL_TYPES[decl.type]
    up = native.upper()
    numbers = [t for t in missing if _is_number(t)]
    if decl.type in (ColumnType.integer, ColumnType.number) and (up in _NUMERIC_NATIVE or up in _FLOAT_NATIVE):
        value = f"(CASE WHEN {c} IN ({', '.join(numbers)}) THEN NULL ELSE {c} END)" if numbers else c
        if up in _NUMERIC_NATIVE:
            typed = f"CASE WHEN abs({value}::DOUBLE) <= {MAX_ABS!r} THEN {value}::{want} END"
        elif decl.type is ColumnType.integer:  # floats holding whole numbers (pandas writes int+missing so)
            typed = (f"CASE WHEN isfinite({value}) AND {value} = round({value}) AND abs({value}) <= {MAX_ABS!r} "
                     f"THEN {value}::BIGINT END")
        else:
            typed = f"CASE WHEN isfinite({value}) AND abs({value}) <= {MAX_ABS!r} THEN {value}::DOUBLE END"
        return typed, f"{value} IS NOT NULL", True
    if decl.type is not ColumnType.string and up.startswith(want) and not missing:
        return f"{c}::{want}", f"{c} IS NOT NULL", False
    trimmed = f"trim({c}::VARCHAR)"
    gone = ", ".join(map(_lit, ("", *missing)))
    text = f"(CASE WHEN {trimmed} IN ({gone}) THEN NULL ELSE {trimmed} END)" if missing else f"NULLIF({trimmed}, '')"
    if decl.type is ColumnType.string:
        return text, f"{text} IS NOT NULL", False
    if decl.type is ColumnType.boolean:
        t = ", ".join(map(_lit, TRUE_WORDS))
        f = ", ".join(map(_lit, FALSE_WORDS))
        typed = f"CASE WHEN lower({text}) IN ({t}) THEN true WHEN lower({text}) IN ({f}) THEN false END"
    elif decl.type is ColumnType.integer:
        typed = f"CASE WHEN regexp_full_match({text}, {_lit(INTEGER)}) THEN TRY_CAST({text} AS BIGINT) END"
        typed = f"CASE WHEN abs(({typed})::DOUBLE) <= {MAX_ABS!r} THEN {typed} END"
    elif decl.type is ColumnType.number:
        number = f"CASE WHEN regexp_full_match({text}, {_lit(NUMBER)}) THEN TRY_CAST({text} AS DOUBLE) END"
        typed = f"CASE WHEN abs({number}) <= {MAX_ABS!r} THEN {number} END"
    elif decl.type in (ColumnType.date, ColumnType.datetime) and decl.format:
        typed = f"try_strptime({text}, {_lit(decl.format)})::{want}"
    else:
        typed = f"TRY_CAST({text} AS {want})"
    return typed, f"{text} IS NOT NULL", True


def _is_number(text: str) -> bool:
    from evalkit.data.files import NUMBER_RE

    return bool(NUMBER_RE.fullmatch(text.strip()))


def _what_was_found(value, decl) -> str:
    """The kind of a value that failed its type, without the value (it may be an identifier)."""
    import re

    from evalkit.data.files import INTEGER_RE, MAX_ABS, NUMBER_RE

    text = str(value).strip()
    lowered = text.lower()
    if decl.type in (ColumnType.integer, ColumnType.number):
        if lowered in ("inf", "-inf", "+inf", "infinity", "-infinity", "nan", "-nan"):
            return "a value that is not a finite number"
        if re.fullmatch(r"[+-]?0[xXbBoO][0-9a-fA-F_]+", text):
            return "a hexadecimal, binary or octal number"
        if "_" in text and re.fullmatch(r"[+-]?[0-9_.]+", text):
            return "a number with digit separators"
        if NUMBER_RE.fullmatch(text) or INTEGER_RE.fullmatch(text):
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and (number != number or abs(number) > MAX_ABS):
                return "a number beyond ±2^53" if number == number else "a value that is not a finite number"
            if decl.type is ColumnType.integer:
                return "a number that is not whole (with a fraction or an exponent)"
        if lowered in ("true", "false"):
            return "true/false"
        return "text that is not a number"
    return {ColumnType.boolean: "a value that is not true/false", ColumnType.date: "text that is not a date",
            ColumnType.datetime: "text that is not a date and time"}.get(decl.type, "a value of another type")


EXPECTED_TEXT = {
    ColumnType.integer: "a whole number",
    ColumnType.number: "a number",
    ColumnType.boolean: "true/false (or yes/no, 1/0)",
    ColumnType.date: "a date (ISO 8601, e.g. 2024-01-31)",
    ColumnType.datetime: "a date and time (ISO 8601, e.g. 2024-01-31 14:05)",
}


def _check_columns(path: Path, src: Source, found: list[str]) -> None:
    from evalkit.data.files import looks_like_data, plain_names

    declared = list(src.columns)
    missing = [c for c in declared if c not in found]
    extra = [c for c in found if c not in declared]
    if missing and looks_like_data(found):
        raise DataError(f"{path}: the first line does not look like a header (numbers or dates where column names "
                        f"should be); expected a header line with the columns declared in {src.file.name}")
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {plain_names(extra)}")
        raise DataError(f"{path}: {'; '.join(parts)}; expected the columns declared in "
                        f"{src.file.name}: {', '.join(declared)}")


def _check_values(con, path: Path, src: Source, kind: str, native: dict[str, str]) -> dict[str, str]:
    typed = {c: _typed_sql(c, d, native[c], src.missing_values) for c, d in src.columns.items()}
    # one pass over the file; a check that cannot fail (a present value of a column already of the
    # declared type, a missing value where none is required) is not computed
    checks = []
    for c, d in src.columns.items():
        value, present, can_fail = typed[c]
        checks.append(f"count_if(({present}) AND ({value}) IS NULL)" if can_fail else "0")
        checks.append(f"count_if(NOT ({present}))" if d.required else "0")
    # string columns already held as text: does any value need trimming (or is empty)? If none
    # does, later steps use the column as it is instead of trimming every value again
    as_is = [c for c, d in src.columns.items() if d.type is ColumnType.string and native[c].upper() == "VARCHAR"]
    checks += [f"count_if({typed[c][0]} IS DISTINCT FROM {_q(c)})" for c in as_is]
    counts = con.execute(f"SELECT {', '.join(checks)} FROM _raw").fetchone()
    untrimmed = dict(zip(as_is, counts[2 * len(src.columns):]))
    problems, total = [], 0
    for i, (c, d) in enumerate(src.columns.items()):
        value, present, _ = typed[c]
        bad_type, missing = counts[2 * i], counts[2 * i + 1]
        total += bad_type + missing
        if bad_type and len(problems) < MAX_LISTED:
            rows = con.execute(f"SELECT _line, {_q(c)}::VARCHAR FROM _raw WHERE ({present}) AND ({value}) IS NULL "
                               f"ORDER BY _line LIMIT {MAX_LISTED}").fetchall()
            problems += [f"{_where(line, kind)}, column {c}: found {_what_was_found(v, d)}, expected "
                         f"{EXPECTED_TEXT[d.type]}" for line, v in rows]
        if missing and len(problems) < MAX_LISTED:
            rows = con.execute(f"SELECT _line FROM _raw WHERE NOT ({present}) ORDER BY _line LIMIT {MAX_LISTED}"
                               ).fetchall()
            problems += [f"{_where(line, kind)}, column {c}: found no value, expected a value (the column is required)"
                         for (line,) in rows]
    if not total:
        total, problems = _check_ranges(con, src, kind, typed)
    if total:
        shown = problems[:MAX_LISTED]
        more = f"\n  ... and {total - len(shown)} more" if total > len(shown) else ""
        raise DataError(f"{path}: {total} value(s) do not match {src.file.name}; nothing was ingested:\n  "
                        + "\n  ".join(shown) + more)
    return {c: _q(c) if untrimmed.get(c) == 0 else v for c, (v, _, _) in typed.items()}


def limits(src: Source) -> dict[str, tuple[float | None, float | None]]:
    """Column -> (lowest, highest) accepted: declared min/max, and a population of at least 1."""
    from evalkit.monitor.config import POPULATION_COLUMN

    out = {c: (d.min, d.max) for c, d in src.columns.items() if d.min is not None or d.max is not None}
    if src.kind == "population" and POPULATION_COLUMN in src.columns:
        low, high = out.get(POPULATION_COLUMN, (None, None))
        out[POPULATION_COLUMN] = (max(low, 1.0) if low is not None else 1.0, high)
    return out


def _check_ranges(con, src: Source, kind: str, typed: dict) -> tuple[int, list[str]]:
    bounds = limits(src)
    if not bounds:
        return 0, []
    conds = {}
    for c, (low, high) in bounds.items():
        v = typed[c][0]
        parts = ([f"({v}) < {low!r}"] if low is not None else []) + ([f"({v}) > {high!r}"] if high is not None else [])
        conds[c] = " OR ".join(parts)
    counts = con.execute("SELECT " + ", ".join(f"count_if({w})" for w in conds.values()) + " FROM _raw").fetchone()
    total, problems = 0, []
    for (c, where), n in zip(conds.items(), counts):
        total += n
        if n and len(problems) < MAX_LISTED:
            low, high = bounds[c]
            rows = con.execute(f"SELECT _line, ({typed[c][0]})::DOUBLE FROM _raw WHERE {where} ORDER BY _line "
                               f"LIMIT {MAX_LISTED}").fetchall()
            want = (f"from {low:g} to {high:g}" if low is not None and high is not None
                    else f"{low:g} or more" if low is not None else f"{high:g} or less")
            why = " (rates divide by the population)" if src.kind == "population" and c == "population" else ""
            problems += [f"{_where(line, kind)}, column {c}: found a value "
                         f"{'below' if low is not None and x < low else 'above'} the accepted range, expected {want}{why}"
                         for line, x in rows]
    return total, problems


def _period_sql(src: Source) -> str:
    c = _q(src.date_column)
    if src.period == "year":
        decl = src.columns[src.date_column]
        return f"make_date({c}::BIGINT, 1, 1)" if decl.type is ColumnType.integer else f"date_trunc('year', {c})::DATE"
    return f"date_trunc('month', {c})::DATE"


def _table_columns(store: Store, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "ORDER BY ordinal_position", [table]).fetchall()]


def _stored_type(src: Source, column: str) -> str:
    from evalkit.monitor.keys import PSEUDONYM_TYPE

    return PSEUDONYM_TYPE if column in src.pseudonymise else SQL_TYPES[src.columns[column].type]


def align_source_tables(store: Store, sources) -> list[str]:
    """Bring stored tables up to their declarations when a declaration has only gained optional
    columns since the store was made (e.g. the offence code and location type of police records):
    the table is rebuilt in declared order, and rows stored before have no value in the new
    columns (their extracts did not carry them). Any other difference is left for ingest to name.
    Returns a line per table changed."""
    changed = []
    for src in sources.values():
        have = _table_columns(store, src.table)
        want = [("_extract_id", "INTEGER"), ("_line", "BIGINT")] + [(c, _stored_type(src, c)) for c in src.columns]
        if not have or have == want:
            continue
        stored, declared = dict(have), dict(want)
        missing = [c for c in declared if c not in stored]
        if (not missing or any(c not in declared for c in stored) or any(stored[c] != declared[c] for c in stored)
                or any(src.columns[c].required for c in missing)):
            continue
        select = ", ".join(_q(c) if c in stored else f"NULL::{declared[c]} AS {_q(c)}" for c in declared)
        new = f"{src.table}__aligned"
        with store.transaction():
            store.con.execute(f"CREATE TABLE {_q(new)} AS SELECT {select} FROM {_q(src.table)}")
            store.con.execute(f"DROP TABLE {_q(src.table)}")
            store.con.execute(f"ALTER TABLE {_q(new)} RENAME TO {_q(src.table)}")
        changed.append(f"{src.id}: stored rows kept; new optional column(s) {', '.join(missing)} added (no value for "
                       "rows ingested before)")
    return changed


def _ensure_table(store: Store, src: Source) -> None:
    from evalkit.monitor.keys import PSEUDONYM_TYPE, old_to_new_sql

    want = [("_extract_id", "INTEGER"), ("_line", "BIGINT")] + [(c, _stored_type(src, c)) for c in src.columns]
    have = _table_columns(store, src.table)
    old = [c for (c, t), (_, w) in zip(have, want) if t == "VARCHAR" and w == PSEUDONYM_TYPE]
    if old and [c for c, _ in have] == [c for c, _ in want]:
        # a store from before pseudonyms were kept as UUIDs: convert them in place (in the
        # caller's transaction, so a failed ingest leaves them as they were)
        for c in old:
            store.con.execute(f"ALTER TABLE {_q(src.table)} ALTER COLUMN {_q(c)} SET DATA TYPE {PSEUDONYM_TYPE} "
                              f"USING {old_to_new_sql(_q(c))}")
        have = _table_columns(store, src.table)
    if not have:
        cols = ", ".join(f"{_q(c)} {t}" for c, t in want)
        store.con.execute(f"CREATE TABLE {_q(src.table)} ({cols})")
    elif have != want:
        n = store.con.execute(f"SELECT count(*) FROM {_q(src.table)}").fetchone()[0]
        if n:
            raise DataError(f"{src.file}: the declared columns differ from those already stored for source "
                            f"{src.id} (found {', '.join(c for c, _ in have[2:])}; declared "
                            f"{', '.join(c for c, _ in want[2:])}); expected the same columns, or a new source id")
        store.con.execute(f"DROP TABLE {_q(src.table)}")
        _ensure_table(store, src)


def ingest(store: Store, monitoring: Monitoring, source_id: str, path: Path | str, *, replace: bool = False,
           key: bytes | None = None, progress: Callable[[str], None] | None = None) -> IngestReport:
    """Ingest ``path`` as an extract of ``source_id``; see the module docstring for the rules.

    A CSV extract is first streamed into a Parquet copy beside the store (owner-only, like the
    store: it holds the person-level rows until they are pseudonymised), removed when done."""
    scratch = _scratch_file(store)
    try:
        return _ingest(store, monitoring, source_id, path, replace=replace, key=key, progress=progress,
                       scratch=scratch)
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)


SCRATCH_PREFIX = ".ingest-"


def _scratch_file(store: Store) -> Path | None:
    """A fresh owner-only file name beside the store for this ingest's Parquet copy of a CSV (and
    the copies a killed ingest left behind removed), or None when the store has no folder."""
    folder = Path(store.path).parent
    if not folder.is_dir():
        return None
    for old in folder.glob(f"{SCRATCH_PREFIX}*.parquet"):
        pid = old.name[len(SCRATCH_PREFIX):].split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            old.unlink(missing_ok=True)
    import uuid

    path = folder / f"{SCRATCH_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.parquet"
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner-only before a byte is written
    except OSError:
        return None
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _ingest(store: Store, monitoring: Monitoring, source_id: str, path: Path | str, *, replace: bool,
            key: bytes | None, progress: Callable[[str], None] | None, scratch: Path | None) -> IngestReport:
    from evalkit.monitor.config import source as get_source
    from evalkit.monitor.keys import PSEUDONYM_TYPE, fingerprint, hmac_sql, load_key, pseudonym_sql

    say = progress or (lambda message: None)
    src = get_source(monitoring, source_id)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; expected an extract of {src.id} ({', '.join(sorted(set(READERS)))})")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; expected .csv, .parquet or .xlsx")
    from evalkit.data.files import check_regular

    check_regular(path, "extract")  # before hashing: a FIFO would block the reader for ever
    con = store.con
    sha = file_sha256(path)
    same = con.execute("SELECT extract_id, status FROM extracts WHERE source = ? AND sha256 = ? ORDER BY extract_id DESC",
                       [src.id, sha]).fetchone()
    if same and (same[1] == "active" or not replace):
        # the same file again changes nothing, also when a correction has since replaced it
        row = con.execute("SELECT rows, period_start, period_end, replaced_by FROM extracts WHERE extract_id = ?",
                          [same[0]]).fetchone()
        status = "unchanged" if same[1] == "active" else "superseded"
        return IngestReport(src.id, path, sha, row[0], status, same[0], str(row[1]), str(row[2]),
                            superseded_by=row[3])

    if src.pseudonymise:
        key = key if key is not None else load_key(monitoring.root)
        stored = store.meta("key_fingerprint")
        if stored and stored != fingerprint(key):
            raise DataError(f"{path}: the pseudonymisation key differs from the one used for this store "
                            f"(fingerprint {fingerprint(key)}, expected {stored}); people would not link "
                            "across extracts. Use the original key file or $EVALKIT_PSEUDONYM_KEY")

    say(f"reading {path.name}")
    try:
        kind, n = _read(con, path, kind, scratch)
        if n == 0:
            raise DataError(f"{path}: no rows under the header; expected at least one row of {src.id}")
        native = _native_types(con)
        _check_columns(path, src, [c for c in native if c != "_line"])
        say(f"checking {n} row(s)")
        typed = _check_values(con, path, src, kind, native)
        selects = ", ".join(f"{typed[c]} AS {_q(c)}" for c in src.columns)
        con.execute(f"CREATE OR REPLACE TEMP VIEW _typed AS SELECT _line, {selects} FROM _raw")
        _check_duplicates(con, path, src, kind)
        period = _period_sql(src)
        start, end, periods = con.execute(
            f"SELECT min({period}), max({period}), count(DISTINCT {period}) FROM _typed").fetchone()
        stored_columns = _table_columns(store, src.table)
        overlapping = con.execute(
            "SELECT extract_id, file_name, period_start, period_end, rows, sha256 FROM extracts "
            "WHERE source = ? AND status = 'active' AND period_start <= ? AND period_end >= ? ORDER BY extract_id",
            [src.id, end, start]).fetchall()
        span = f"{start:%Y-%m}" + ("" if start == end else f" to {end:%Y-%m}")
        if overlapping and not replace:
            listed = "; ".join(f"extract {e} ({f}, {s:%Y-%m} to {t:%Y-%m}, {r} rows)" for e, f, s, t, r, _ in overlapping)
            raise DataError(f"{path}: {src.id} for {span} is already loaded: {listed}. If this is a corrected "
                            "extract, ingest it with --replace; expected an extract for periods not yet loaded")
        for e, f, s, t, r, _ in overlapping:
            if s < start or t > end:
                raise DataError(f"{path}: a correction covering {span} cannot replace extract {e} ({f}), which covers "
                                f"{s:%Y-%m} to {t:%Y-%m}; expected a corrected extract covering all of it")
        if src.key and stored_columns:
            stored_types = dict(stored_columns)

            def new_side(k: str) -> str:
                if k not in src.pseudonymise:
                    return f"n.{_q(k)}"
                if stored_types.get(k) == PSEUDONYM_TYPE:
                    return pseudonym_sql(key, f"n.{_q(k)}")
                return hmac_sql(key, f"n.{_q(k)}")  # an older store, converted at insert

            keys = " AND ".join(f"s.{_q(k)} IS NOT DISTINCT FROM {new_side(k)}" for k in src.key)
            skip = [e for e, *_ in overlapping]
            not_replaced = f"AND s._extract_id NOT IN ({', '.join(map(str, skip))})" if skip else ""
            clash = con.execute(f"SELECT n._line, s._extract_id FROM _typed n JOIN {_q(src.table)} s ON {keys} "
                                f"{not_replaced} ORDER BY n._line LIMIT {MAX_LISTED}").fetchall()
            if clash:
                listed = "; ".join(f"{_where(line, kind)} (already in extract {e})" for line, e in clash)
                raise DataError(f"{path}: rows with a {'+'.join(src.key)} already loaded from another extract: "
                                f"{listed}; expected {'+'.join(src.key)} unique across the source")
        # pseudonyms: HMAC once per distinct identifier (not once per row), in one table for all
        # the pseudonymised columns (the pseudonym does not depend on the column), joined on at
        # insert; the distinct identifiers of 10 million rows are a few hundred thousand
        columns, joins, pid_tables = [], [], []
        pids = [c for c in src.columns if c in src.pseudonymise]
        if pids:
            pid_tables.append("_pid")
            # DISTINCT: one row per identifier whatever the number of columns (a UNION of one SELECT
            # does not deduplicate, and a repeated identifier would multiply the rows it joins to)
            values = " UNION ".join(f"SELECT {_q(c)} AS __v FROM _typed WHERE {_q(c)} IS NOT NULL" for c in pids)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _pid AS SELECT __v, {pseudonym_sql(key, '__v')} AS __h "
                        f"FROM (SELECT DISTINCT __v FROM ({values}))")
        for i, c in enumerate(src.columns):
            if c in src.pseudonymise:
                alias = f"_p{i}"
                joins.append(f"LEFT JOIN _pid {alias} ON {alias}.__v = t.{_q(c)}")
                columns.append(f"{alias}.__h")
            else:
                columns.append(f"t.{_q(c)}")
    except BaseException:
        _drop_temp(con, ["_pid"])
        raise

    say(f"writing {n} row(s)")
    replaced = [e for e, *_ in overlapping]
    try:
        with store.transaction():
            _ensure_table(store, src)
            extract_id = con.execute("SELECT nextval('extract_ids')").fetchone()[0]
            for e, f, s, t, r, old_sha in overlapping:
                con.execute("UPDATE extracts SET status = 'replaced', replaced_by = ? WHERE extract_id = ?", [extract_id, e])
                con.execute(f"DELETE FROM {_q(src.table)} WHERE _extract_id = ?", [e])
                con.execute("INSERT INTO replacements VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                            [e, extract_id, src.id, old_sha, sha, r, n])
            con.execute("INSERT INTO extracts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, 'active', NULL)",
                        [extract_id, src.id, path.name, sha, n, start, end, periods, src.sha256])
            # rows carry their _line, so the store need not keep file order: parallel insert is faster.
            # Each thread flushes every row group it fills instead of buffering five (DuckDB's default):
            # the buffered row groups were a third of the peak memory of a 10-million-row ingest
            for setting in INSERT_SETTINGS:
                con.execute(f"SET {setting}")
            try:
                con.execute(f"INSERT INTO {_q(src.table)} SELECT {extract_id}, t._line, {', '.join(columns)} "
                            f"FROM _typed t {' '.join(joins)}")
            except BaseException:
                _quietly(con, "ROLLBACK")  # the failed INSERT (a full disk) is the error to report
                _reset_insert_settings(con)
                raise
            _reset_insert_settings(con)
            # the store holds exactly the extract's rows: a join that lost or repeated rows is a bug,
            # and the transaction is rolled back rather than publishing wrong counts. The file's rows
            # are lines 2 to n + 1: n rows setting n distinct bits of a bitmap of that range are
            # exactly those lines (a bitmap of n bits, where count(DISTINCT) held a hash table of
            # the n lines: the peak memory of a 10-million-row ingest)
            stored = con.execute(f"SELECT count(*), bit_count(bitstring_agg(_line, 2, {n + 1}) FILTER "
                                 f"(WHERE _line BETWEEN 2 AND {n + 1})) FROM {_q(src.table)} WHERE _extract_id = ?",
                                 [extract_id]).fetchone()
            if tuple(stored) != (n, n):
                raise DataError(f"{path}: internal check failed: {stored[0]} row(s) would be stored for the file's {n} "
                                "(a bug in evalkit, please report it); nothing was ingested")
            if src.pseudonymise and not store.meta("key_fingerprint"):
                store.set_meta("key_fingerprint", fingerprint(key))
            hold = float(os.environ.get(HOLD_ENV) or 0)
            if hold:
                say("holding the transaction open")
                release = os.environ.get(RELEASE_ENV)
                deadline = time.monotonic() + hold
                while time.monotonic() < deadline and not (release and os.path.exists(release)):
                    time.sleep(0.05)
    finally:
        _drop_temp(con, pid_tables)
    fmt = "%Y" if src.period == "year" else "%Y-%m"
    return IngestReport(src.id, path, sha, n, "replaced" if replaced else "ingested", int(extract_id),
                        f"{start:{fmt}}", f"{end:{fmt}}", replaced)


INSERT_SETTINGS = ("preserve_insertion_order = false", "write_buffer_row_group_count = 1")


def _reset_insert_settings(con) -> None:
    for setting in INSERT_SETTINGS:
        _quietly(con, f"RESET {setting.split()[0]}")


def _check_duplicates(con, path: Path, src: Source, kind: str) -> None:
    cols = list(src.key) or list(src.columns)
    group = ", ".join(_q(c) for c in cols)
    # fast proof that there are none: as many distinct 64-bit hashes of the key as rows (distinct
    # hashes imply distinct keys); only when some hashes coincide are the keys compared exactly
    if con.execute(f"SELECT count(DISTINCT hash({group})) = count(*) FROM _typed").fetchone()[0]:
        return
    # find duplicated values first (cheap), then only their lines
    dups = f"SELECT {group} FROM _typed GROUP BY {group} HAVING count(*) > 1 LIMIT {MAX_LISTED}"
    if not con.execute(f"SELECT count(*) FROM ({dups})").fetchone()[0]:
        return
    on = " AND ".join(f"t.{_q(c)} IS NOT DISTINCT FROM d.{_q(c)}" for c in cols)
    rows = con.execute(f"SELECT list(t._line ORDER BY t._line) FROM _typed t JOIN ({dups}) d ON {on} "
                       f"GROUP BY {', '.join(f'd.{_q(c)}' for c in cols)} ORDER BY min(t._line)").fetchall()
    what = f"the same {'+'.join(src.key)}" if src.key else "identical rows"
    listed = "; ".join(" and ".join(_where(line, kind) for line in lines[:4]) for (lines,) in rows)
    raise DataError(f"{path}: duplicate rows ({what}): {listed}; expected each row once; nothing was ingested")
