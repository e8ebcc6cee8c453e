"""One data-file layer for evaluation data and monitoring extracts.

Both read CSV, Parquet and XLSX files that users bring, so both go through the same rules here:

- which suffixes are data files (:func:`file_kind`), and that the path is a regular file (a FIFO
  named ``*.csv`` would block a reader forever; a folder or device is not data);
- that a path written in a project file resolves, symlinks followed, inside the project or
  under a root the project's configuration lists (:func:`check_inside`);
- the grammar of a number and of a whole number: decimal digits only, no hexadecimal, binary,
  digit separators or words such as ``inf`` and ``nan`` (:data:`NUMBER`, :data:`INTEGER`),
  used by the pandas reader of evaluation data and by the SQL of the monitoring ingest;
- the largest magnitude a value may have (:data:`MAX_ABS`): beyond 2**53 a double no longer
  holds every whole number, and nothing an evaluation measures is that large;
- XLSX cells holding a formula without a cached value are refused by cell name, never read as
  empty (:func:`check_xlsx_formulas`);
- errors from the parsing libraries are reduced to what went wrong and where, never the file's
  contents (:func:`read_reason`): a message may name lines and columns, not quote them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from evalkit.errors import DataError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
EXPECTED_SUFFIXES = ", ".join(sorted(SUFFIXES))

# the text of a number: optional sign, decimal digits with an optional fraction, optional exponent
NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# a whole number may carry a zero fraction ("34.0", as pandas and spreadsheets write integers beside blanks)
INTEGER = r"[+-]?[0-9]+(?:\.0*)?"
NUMBER_RE = re.compile(NUMBER)
INTEGER_RE = re.compile(INTEGER)
# largest magnitude accepted in a numeric column: 2**53, where doubles stop holding every integer
MAX_ABS = float(2**53)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


def file_kind(path: Path) -> str:
    kind = SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{Path(path).suffix}'; expected one of {EXPECTED_SUFFIXES}")
    return kind


def check_regular(path: Path, what: str = "data file") -> None:
    """Raise DataError unless ``path`` (symlinks followed) is an existing regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot open the {what} ({exc.strerror or type(exc).__name__}); "
                        "expected a readable file") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise DataError(f"{path}: the {what} is {kind}; expected a regular file")


def check_inside(path: Path, roots: Sequence[Path], shown: str | None = None) -> Path:
    """``path`` resolved (symlinks followed); DataError unless it lies under one of ``roots``."""
    real = Path(os.path.realpath(path))
    resolved_roots = [Path(os.path.realpath(r)) for r in roots]
    if any(real == r or real.is_relative_to(r) for r in resolved_roots):
        return real
    where = "the project" if len(resolved_roots) == 1 else "the project or its data roots"
    raise DataError(f"{shown or path}: the data file resolves to {real}, outside {where}; expected a file inside "
                    f"{', '.join(str(r) for r in resolved_roots)} (list other folders under data_roots in evalkit.yml)")


def read_reason(exc: BaseException, kind: str) -> str:
    """What went wrong reading a file, in words that never quote the file's contents.

    Parsing libraries put the offending text into their messages (DuckDB prints the whole line,
    pandas the token); only the kind of problem and a line number are kept.
    """
    text = str(exc)
    line = re.search(r"\bline (\d+)", text, re.IGNORECASE)
    at = f" near line {line.group(1)}" if line else ""
    lowered = text.lower()
    if isinstance(exc, UnicodeDecodeError) or "invalid unicode" in lowered or "invalid utf-8" in lowered \
            or "not valid utf-8" in lowered or "codec can't decode" in lowered:
        return "it is not UTF-8 text" + at
    if "sniffing" in lowered or "dialect" in lowered:
        return "its rows do not follow the CSV rules (commas, double quotes, one value per column)" + at
    if "expected" in lowered and "fields" in lowered or "too many columns" in lowered or "column count" in lowered:
        return f"a row has a different number of fields than the header{at}"
    if "quote" in lowered:
        return f"a quoted field is not closed{at}"
    if isinstance(exc, MemoryError):
        return "it is too large to read into memory"
    if kind == "parquet":
        return "it is not a valid Parquet file"
    if kind == "xlsx":
        return "it is not a valid XLSX workbook (or the sheet is missing)"
    return f"it is not a valid CSV file{at}"


def cell_name(row: int, column: int) -> str:
    """1-based row and column to an A1 reference."""
    letters = ""
    while column:
        column, rem = divmod(column - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


def xlsx_uncached_formulas(path: Path, sheet: str | None = None, columns: Iterable[str] | None = None,
                           errors: list[str] | None = None, booleans: dict | None = None) -> list[str]:
    """Cells (A1 names) of the sheet that hold a formula but no cached value (read as empty otherwise).

    A workbook written by a program rather than saved by Excel has formulas without results;
    pandas and openpyxl then read those cells as empty, silently shrinking n. Cells holding an
    error value (#DIV/0!, #N/A, #VALUE!...), which pandas also reads as empty, are added to
    ``errors`` when a list is given.
    """
    import openpyxl

    wanted = set(columns) if columns is not None else None
    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        ws = formulas[sheet] if sheet else formulas.worksheets[0]
        header: list = []
        found: list[tuple[int, int]] = []
        for r, row in enumerate(ws.iter_rows(), start=1):
            if r == 1:
                header = [None if cell.value is None else str(cell.value) for cell in row]
                continue
            for c, cell in enumerate(row, start=1):
                kind = getattr(cell, "data_type", None)
                if kind not in ("f", "e", "b"):
                    continue
                name = header[c - 1] if c - 1 < len(header) else None
                if wanted is not None and name not in wanted:
                    continue
                if kind == "f":
                    found.append((r, c))
                elif kind == "e" and errors is not None:
                    errors.append(cell_name(r, c))
                elif kind == "b" and booleans is not None:
                    booleans.setdefault(name, []).append((r, bool(cell.value)))
    finally:
        formulas.close()
    if not found:
        return []
    values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = values[sheet] if sheet else values.worksheets[0]
        targets = set(found)
        missing = []
        for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
            for c, value in enumerate(row, start=1):
                if (r, c) in targets and value is None:
                    missing.append(cell_name(r, c))
    finally:
        values.close()
    return missing


def check_xlsx_formulas(path: Path, sheet: str | None = None, columns: Iterable[str] | None = None,
                        booleans: dict | None = None) -> None:
    """Refuse formula cells without a saved result and cells holding an error value, naming them;
    ``booleans`` collects the TRUE/FALSE cells per column (pandas turns them into 1/0 among numbers)."""
    errors: list[str] = []
    cells = xlsx_uncached_formulas(path, sheet, columns, errors, booleans)

    def shown(names: list[str]) -> str:
        return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")

    if cells:
        raise DataError(f"{path}: {len(cells)} cell(s) hold a formula without a saved result ({shown(cells)}); "
                        "expected values: open the workbook in Excel or LibreOffice and save it, or export it as CSV")
    if errors:
        raise DataError(f"{path}: {len(errors)} cell(s) hold a spreadsheet error such as #DIV/0! or #N/A "
                        f"({shown(errors)}); expected a value, or an empty cell for a missing one")


def xlsx_frame(path: Path, sheet: str | None = None, usecols=None, **kwargs):
    """A sheet read by pandas after the formula check; the first sheet when ``sheet`` is None."""
    import pandas as pd

    booleans: dict = {}
    check_xlsx_formulas(path, sheet, usecols, booleans)
    frame = pd.read_excel(path, sheet_name=sheet or 0, usecols=usecols, engine="openpyxl", **kwargs)
    for name, cells in booleans.items():
        # TRUE/FALSE cells among numbers: pandas made them 1/0; put the booleans back, so a score
        # column refuses them instead of averaging them (a column of booleans only stays boolean)
        if name in frame.columns and not pd.api.types.is_bool_dtype(frame[name]) and frame[name].dtype != object:
            column = frame[name].astype(object)
            for row, value in cells:
                if 0 <= row - 2 < len(column):
                    column.iat[row - 2] = value
            frame[name] = column
    return frame


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()%/-]{0,59}")


def looks_like_data(names: Sequence[str]) -> bool:
    """Whether a header line holds numbers, true/false or dates: a file without a header, whose
    first row (perhaps identifiers) must not be echoed as column names."""
    import pandas as pd

    for name in names:
        text = str(name).strip()
        if NUMBER_RE.fullmatch(text) or text.lower() in ("true", "false"):
            return True
        if any(ch.isdigit() for ch in text) and "-" in text or "/" in text:
            try:
                if not pd.isna(pd.to_datetime(text, errors="coerce", format="mixed")):
                    return True
            except (ValueError, OverflowError):
                pass
    return False


def plain_names(names: Sequence[str], limit: int = 12) -> str:
    """Column names for a message: plain names listed, anything else (cell text read as a header) counted."""
    # identifiers (NHS numbers, UPNs, crime references) carry runs of digits; column names rarely do
    plain = [str(n) for n in names if _NAME_RE.fullmatch(str(n)) and not re.search(r"[0-9]{3}", str(n))]
    other = len(names) - len(plain)
    shown = ", ".join(plain[:limit]) + (f" and {len(plain) - limit} more" if len(plain) > limit else "")
    if other:
        shown += (", and " if shown else "") + f"{other} column(s) whose names are not plain names (not shown)"
    return shown


def check_csv_shape(path: Path) -> None:
    """Every row of a CSV has as many fields as its header, and the header names each column once.

    pandas fills a short row (a truncated file, a lost comma) with missing values without a word,
    and renames a repeated column name; both would change the numbers silently.
    """
    import csv

    import numpy as np

    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return
    try:
        text_head = data[: data.find(b"\n") if b"\n" in data else len(data)].decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: cannot read the file as csv: it is not UTF-8 text near line 1") from None
    header = next(csv.reader([text_head.rstrip("\r")]))
    names = [h.strip() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: the header names {len(repeated)} column(s) more than once "
                        f"({plain_names(repeated)}); expected each column name once")
    width = len(header)
    if b'"' not in data:
        # no quoting: fields are the commas of each line plus one, counted in numpy
        arr = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(arr == 10)
        if ends.size == 0 or ends[-1] != arr.size - 1:
            ends = np.append(ends, arr.size)
        starts = np.concatenate(([0], ends[:-1] + 1))
        commas = np.concatenate(([0], np.cumsum(arr == 44)))
        fields = commas[ends] - commas[starts] + 1
        lengths = ends - starts
        blank = (lengths == 0) | ((lengths == 1) & (arr[np.minimum(starts, arr.size - 1)] == 13))
        bad = np.flatnonzero((fields != width) & ~blank)
        lines = (bad + 1).tolist()
    else:
        lines = []
        reader = csv.reader(data.decode("utf-8", errors="replace").splitlines())
        for number, row in enumerate(reader, start=1):
            if row and len(row) != width:
                lines.append(number)
                if len(lines) > 3:
                    break
    if lines:
        shown = ", ".join(map(str, lines[:3])) + (" and more" if len(lines) > 3 else "")
        raise DataError(f"{path}: line(s) {shown} have a different number of fields than the header ({width}); "
                        "expected every row to have one value (or an empty cell) per column")
