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


# ---------------------------------------------------------------------------- a plan's data


def read_plan_data(spec, columns: Sequence[str] | None = None):
    """A plan's data as one frame: its file, or a matched comparison's two files stacked.

    With ``spec.comparison`` the participants (``spec.path``) and the comparison pool are read
    with :func:`read_table`, each for the same ``columns``, and stacked, participants first, with
    ``spec.treatment`` made: 1 for the participants, 0 for the pool. Each file must hold every
    column read; the error names those missing from each file.
    """
    if spec.comparison is None:
        return read_table(spec.path, columns, spec.sheet)
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
    parts = [read_table(path, wanted, spec.sheet).assign(**{treatment: group})
             for (path, _present), group in zip(frames, (1, 0))]
    return pd.concat(parts, ignore_index=True)
