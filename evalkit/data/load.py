"""Read CSV, Parquet and Excel files into pandas, with errors that name the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalkit.errors import DataError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}


def file_kind(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; expected one of "
                        + ", ".join(sorted(SUFFIXES)))
    return kind


def read_columns(path: Path, sheet: str | None = None) -> list[str]:
    """The column names of a data file, reading as little of it as possible."""
    import pandas as pd

    kind = file_kind(path)
    try:
        if kind == "csv":
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        if kind == "parquet":
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(path).names]
        return [str(c) for c in pd.read_excel(path, sheet_name=sheet or 0, nrows=0).columns]
    except FileNotFoundError as exc:
        raise DataError(f"{path}: data file not found") from exc
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise DataError(f"{path}: cannot read the file as {kind}: {exc}") from exc


def read_table(path: Path, columns: Sequence[str] | None = None, sheet: str | None = None):
    """Read ``path`` (only ``columns`` when given) into a DataFrame; failures are DataErrors."""
    import pandas as pd

    kind = file_kind(path)
    cols = list(dict.fromkeys(columns)) if columns is not None else None
    if cols is not None:
        present = set(read_columns(path, sheet))
        missing = [c for c in cols if c not in present]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the file has "
                            + ", ".join(sorted(present)))
    try:
        if kind == "csv":
            return pd.read_csv(path, usecols=cols, low_memory=False)
        if kind == "parquet":
            return pd.read_parquet(path, columns=cols)
        return pd.read_excel(path, sheet_name=sheet or 0, usecols=cols)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: data file not found") from exc
    except Exception as exc:
        raise DataError(f"{path}: cannot read the file as {kind}: {exc}") from exc


def sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
