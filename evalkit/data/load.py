"""Read CSV, Parquet and Excel files into pandas, strictly, with errors that name the file.

What counts as missing is only an empty cell (or one holding only spaces) and the tokens a plan
declares under ``data.missing_values``: pandas' own list (``n/a``, ``NA``, ``null``, ``nan``...)
is switched off, so a word in a numeric column is reported, never dropped as missing. Text cells
are trimmed; a text column whose every value is a number in :data:`evalkit.data.files.NUMBER`
form becomes numeric (so `` 12 `` reads as 12, and ``0x10`` stays text). Parquet floats holding
NaN (as opposed to null) are refused; XLSX formula cells without a saved value are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalkit.data.files import (EXPECTED_SUFFIXES, NUMBER, NUMBER_RE, SUFFIXES, check_csv_shape, check_regular,
                                file_kind, looks_like_data, read_reason, xlsx_frame)
from evalkit.errors import DataError

__all__ = ["SUFFIXES", "EXPECTED_SUFFIXES", "file_kind", "read_columns", "read_table", "read_data_files", "sha256",
           "content_sha256"]


def read_columns(path: Path, sheet: str | None = None) -> list[str]:
    """The column names of a data file, reading as little of it as possible."""
    import pandas as pd

    kind = file_kind(path)
    check_regular(path)
    try:
        if kind == "csv":
            names = [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
            if not looks_like_data(names):  # a file without a header is reported as such by the caller
                _check_repeated(path, _raw_header(path, kind, sheet))
            return names
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = [str(c) for c in pq.read_schema(path).names]
        else:
            names = [str(c) for c in pd.read_excel(path, sheet_name=sheet or 0, nrows=0, engine="openpyxl").columns]
            if not looks_like_data(names):
                _check_repeated(path, _raw_header(path, kind, sheet))
        if not looks_like_data(names):
            _check_repeated(path, names)
        return names
    except DataError:
        raise
    except FileNotFoundError as exc:
        raise DataError(f"{path}: data file not found") from exc
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: cannot read the file as {kind}: the file is empty") from None
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise DataError(f"{path}: cannot read the file as {kind}: {read_reason(exc, kind)}") from None


def _raw_header(path: Path, kind: str, sheet: str | None) -> list[str]:
    """The header as written (pandas renames a repeated name to ``a.1``, hiding the repeat)."""
    if kind == "csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [h.strip() for h in next(csv.reader(handle), [])]
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        row = next(ws.iter_rows(max_row=1, values_only=True), ())
        return [str(v).strip() for v in row if v is not None]
    finally:
        wb.close()


def _check_repeated(path: Path, names: list[str]) -> None:
    from evalkit.data.files import plain_names

    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: the header names {len(repeated)} column(s) more than once ({plain_names(repeated)}); "
                        "expected each column name once")


def _tokens(missing_values: Sequence[str]) -> list[str]:
    return [str(t).strip() for t in missing_values if str(t).strip()]


def _tidy(frame, missing: list[str]):
    """Trim text, make empty and declared-missing cells missing, and type all-number text columns."""
    import numpy as np
    import pandas as pd

    for col in frame.columns:
        s = frame[col]
        if s.dtype != object:
            continue
        values = s.to_numpy(object)
        is_text = np.fromiter((isinstance(v, str) for v in values), bool, len(values))
        if not is_text.any():
            continue
        text = pd.Series(values[is_text], dtype=object).str.strip()
        gone = ((text == "") | text.isin(missing)).to_numpy(bool)
        values = values.copy()
        values[np.flatnonzero(is_text)] = np.where(gone, None, text.to_numpy(object))
        s = pd.Series(values, index=s.index, name=col, dtype=object)
        seen = s.dropna()
        # the first value decides most columns (an id, a category) without matching every row
        if (len(seen) and (is_text | s.isna().to_numpy()).all() and NUMBER_RE.fullmatch(seen.iloc[0])
                and seen.str.fullmatch(NUMBER).all()):
            s = pd.to_numeric(s)
        frame[col] = s
    return frame


def _parquet(path: Path, cols, missing: list[str]):
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=cols)
    for name in table.column_names:
        column = table[name]
        if column.type in ("float", "double", "halffloat") or str(column.type) in ("float", "double", "halffloat"):
            nan = pc.fill_null(pc.is_nan(column), False).to_numpy(zero_copy_only=False)
            if nan.any():
                rows = np.flatnonzero(nan)[:3] + 1
                raise DataError(f"{path}: column '{name}' holds NaN (not a number) at row(s) "
                                f"{', '.join(map(str, rows))}; expected numbers, with missing values stored as null")
    frame = table.to_pandas()
    numbers = []
    for t in missing:
        try:
            numbers.append(float(t))
        except ValueError:
            pass
    if missing:
        for col in frame.columns:
            s = frame[col]
            if s.dtype.kind in "if" and numbers:
                frame[col] = s.where(~s.isin(numbers), np.nan)
    return _tidy(frame, missing)


# The tables read last, by the file's content: ``evalkit run`` validates the project (which reads
# each plan's data to check it) and then runs the plans, which would read the same bytes again.
# Keyed by the file's SHA-256, not its size and modification time (a file rewritten within one
# clock tick keeps both); only files up to RECENT_FILE_BYTES, holding at most RECENT_MAX_BYTES.
RECENT_FILE_BYTES = 256 * 2**20
RECENT_MAX_BYTES = 512 * 2**20
_recent: dict[tuple, tuple[object, int]] = {}


def _recent_key(path: Path, kind: str, cols, sheet, tokens) -> tuple | None:
    try:
        if Path(path).stat().st_size > RECENT_FILE_BYTES:
            return None
        digest = sha256(path)
    except OSError:
        return None
    # CSV and XLSX columns come back in file order whatever the order asked for; Parquet's in that order
    wanted = None if cols is None else (frozenset(cols) if kind in ("csv", "xlsx") else tuple(cols))
    return (str(Path(path).resolve()), digest, kind, wanted, sheet, tuple(tokens))


def _remember(key: tuple | None, frame) -> None:
    if key is None:
        return
    size = int(frame.memory_usage(index=True, deep=True).sum())
    if size > RECENT_MAX_BYTES:
        return
    _recent.pop(key, None)
    while _recent and sum(n for _f, n in _recent.values()) + size > RECENT_MAX_BYTES:
        _recent.pop(next(iter(_recent)))  # the oldest first
    _recent[key] = (frame.copy(), size)


def read_table(path: Path, columns: Sequence[str] | None = None, sheet: str | None = None,
               missing_values: Sequence[str] = ()):
    """Read ``path`` (only ``columns`` when given) into a DataFrame; failures are DataErrors.

    The same file content read again in this process is served from memory (a copy)."""
    kind = file_kind(path)
    check_regular(path)
    cols = list(dict.fromkeys(columns)) if columns is not None else None
    key = _recent_key(path, kind, cols, sheet, _tokens(missing_values))
    if key is not None and key in _recent:
        return _recent[key][0].copy()
    frame = _read_table(path, kind, cols, sheet, missing_values)
    _remember(key, frame)
    return frame


def _read_table(path: Path, kind: str, cols, sheet, missing_values):
    import pandas as pd

    if cols is not None:
        present = set(read_columns(path, sheet))
        missing = [c for c in cols if c not in present]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the file has "
                            + ", ".join(sorted(present)))
    tokens = _tokens(missing_values)
    try:
        if kind == "csv":
            check_csv_shape(path)
            frame = pd.read_csv(path, usecols=cols, low_memory=False, keep_default_na=False,
                                na_values=["", *tokens], encoding="utf-8-sig")
            return _tidy(frame, tokens)
        if kind == "parquet":
            return _parquet(path, cols, tokens)
        frame = xlsx_frame(path, sheet, usecols=cols, keep_default_na=False, na_values=["", *tokens])
        return _tidy(frame, tokens)
    except DataError:
        raise
    except FileNotFoundError as exc:
        raise DataError(f"{path}: data file not found") from exc
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: cannot read the file as {kind}: the file is empty") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read the file as {kind}: {read_reason(exc, kind)}") from None


def sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(frame) -> str:
    """SHA-256 of a table's content that does not depend on the order of its rows.

    Each row is hashed (pandas' stable row hash of the values), the row hashes are sorted and
    hashed together with the column names and types: the same rows in any order give the same
    digest, any changed, added or removed value gives another.
    """
    import hashlib

    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
    digest.update(np.sort(rows).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- a plan's data


def read_data_files(spec, columns: Sequence[str] | None = None):
    """A plan's data files as one frame, as read: its file, or a matched comparison's two stacked.

    With ``spec.comparison`` the participants (``spec.path``) and the comparison pool are read
    with :func:`read_table`, each for the same ``columns``, and stacked, participants first, with
    ``spec.treatment`` made: 1 for the participants, 0 for the pool. Each file must hold every
    column read; the error names those missing from each file.
    """
    if spec.comparison is None:
        return read_table(spec.path, columns, spec.sheet, spec.missing_values)
    import pandas as pd

    treatment = spec.treatment
    wanted = None if columns is None else [c for c in dict.fromkeys(columns) if c != treatment]
    frames = []
    for _role, path, _written in spec.files:
        present = read_columns(path, spec.sheet)
        if treatment in present:
            raise DataError(f"{path}: has a column '{treatment}', the 0/1 column evalkit makes from the two "
                            "files; name another in data.treatment, or drop the column")
        frames.append((path, present))
    if wanted is None:  # every column: the two files must agree on them
        wanted = list(frames[0][1])
    gaps = [(path, [c for c in wanted if c not in present]) for path, present in frames]
    if any(missing for _path, missing in gaps):
        raise DataError("the participants' and comparison files do not hold the same columns: "
                        + "; ".join(f"{path} lacks {', '.join(missing)}" for path, missing in gaps if missing))
    parts = [read_table(path, wanted, spec.sheet, spec.missing_values).assign(**{treatment: group})
             for (path, _present), group in zip(frames, (1, 0))]
    return pd.concat(parts, ignore_index=True)
