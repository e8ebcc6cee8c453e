"""Reading a design's columns from the analysed frame: numbers, ids, and the lines a message names.

Shared by every design module that reads wide or long plan data (pre/post, RCT, ITS, DiD,
feasibility). Each problem is a :class:`~evalkit.errors.DataError` naming the column, the
indicator and the rows or file lines, never a cell's content for an id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.errors import DataError
from evalkit.spec import model as m
from evalkit.spec.raw import IndicatorType


def data_rows(mask: np.ndarray) -> str:
    pos = np.flatnonzero(mask)
    shown = ", ".join(str(p + 1) for p in pos[:3])
    more = f" and {pos.size - 3} more" if pos.size > 3 else ""
    return f"data row{'s' if pos.size > 1 else ''} {shown}{more}"


def file_lines(mask) -> str:
    """The first three file line numbers of ``mask``'s rows, counting the header as line 1."""
    return ", ".join(str(i + 2) for i in np.flatnonzero(np.asarray(mask, dtype=bool))[:3])


def numbers(frame: pd.DataFrame, column: str, role: str) -> pd.Series:
    """The column as numbers (missing stays missing); text that is not a number is an error naming its
    lines, never a silent gap."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (frame[column].notna() & values.isna()).to_numpy()
    if bad.any():
        sample = ", ".join(repr(v) for v in frame[column][bad].unique()[:3].tolist())
        where = f"line{'s' if bad.sum() > 1 else ''} {file_lines(bad)}" + (" and more" if bad.sum() > 3 else "")
        raise DataError(f"{role} column '{column}' holds values that are not numbers at {where} of the data "
                        f"(counting the header as 1): {sample}; expected numbers (or empty for missing)")
    return values


def numeric_column(frame: pd.DataFrame, column: str, ind: m.Indicator, timepoint: str) -> np.ndarray:
    where = f"column '{column}' ({ind.id}, {timepoint})"
    if column not in frame.columns:
        raise DataError(f"{where} is not in the data; the data has " + ", ".join(map(str, frame.columns)))
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        values = series.astype("float64").to_numpy()
    else:
        converted = pd.to_numeric(series, errors="coerce")
        bad = (series.notna() & converted.isna()).to_numpy()
        if bad.any():
            sample = ", ".join(repr(v) for v in series[bad].unique()[:3].tolist())
            raise DataError(f"{where} holds non-numeric values at {data_rows(bad)}: {sample}; "
                            f"expected numbers for a {ind.type.value} indicator")
        values = converted.to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(f"{where} holds infinite values at {data_rows(infinite)}; expected finite numbers")
    seen = ~np.isnan(values)
    if ind.type is IndicatorType.binary:
        wrong = seen & (values != 0) & (values != 1)
        if wrong.any():
            sample = ", ".join(f"{v:g}" for v in np.unique(values[wrong])[:5])
            raise DataError(f"{where} is not 0/1 at {data_rows(wrong)}: {sample}; expected 0 or 1 for a binary indicator")
    elif ind.type is IndicatorType.count:
        wrong = seen & ((values < 0) | (values != np.round(values)))
        if wrong.any():
            sample = ", ".join(f"{v:g}" for v in np.unique(values[wrong])[:3])
            raise DataError(f"{where} holds values that are not counts at {data_rows(wrong)}: {sample}; "
                            "expected whole numbers >= 0")
    elif ind.type is IndicatorType.proportion:
        wrong = seen & ((values < 0) | (values > 1))
        if wrong.any():
            raise DataError(f"{where} holds values outside 0-1 at {data_rows(wrong)}; expected shares for a proportion")
    rng = indicator_range(ind)
    if rng is not None:
        low, high = rng
        wrong = seen & ((values < low) | (values > high))
        if wrong.any():
            sample = ", ".join(f"{v:g}" for v in np.unique(values[wrong])[:3])
            raise DataError(f"{where} holds scores outside the instrument's range at {data_rows(wrong)}: {sample}; "
                            f"expected {low:g} to {high:g} ({ind.instrument.name})")
    return values


def indicator_range(ind: m.Indicator) -> tuple[float, float] | None:
    inst = ind.instrument
    if inst is not None and inst.range is not None:
        return tuple(inst.range)
    return (0.0, 1.0) if ind.type is IndicatorType.proportion else None


def check_ids(evaluation: m.Evaluation, frame: pd.DataFrame) -> None:
    if frame is None or len(frame) == 0:
        raise DataError(f"{evaluation.id}: the data has no rows; expected one row per participant")
    id_col = evaluation.data.id if evaluation.data is not None else None
    if id_col is None:
        return
    if id_col not in frame.columns:
        raise DataError(f"{evaluation.id}: id column '{id_col}' is not in the data")
    ids = frame[id_col]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise DataError(f"id column '{id_col}' is empty at {data_rows(missing)}; expected an id on every row")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        # the rows, never the id itself: it is a person's identifier
        raise DataError(f"id column '{id_col}' repeats at {data_rows(dup)}; a pre/post "
                        "analysis needs one row per participant with each timepoint in its own column")
