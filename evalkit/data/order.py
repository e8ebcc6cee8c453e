"""One canonical order for the rows of a table, whatever the order of the file they came from.

Sums, matching ties and anything else that depends on the order of rows then give the same
answer for the same data in any order (see docs/architecture.md, "Determinism").
"""

from __future__ import annotations

from collections.abc import Sequence


def _sort_key(series):
    """(missing flag, values) that sort every value of ``series`` in one total order."""
    import numpy as np
    import pandas as pd

    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.astype("float64").to_numpy()
        return missing, np.where(missing, 0.0, values)
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy("datetime64[ns]").astype("int64")
        return missing, np.where(missing, 0, values)
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):  # text only: the fast, common case
        return missing, series.astype(object).where(~missing, "").to_numpy(str)
    # mixed objects: by type name, then text, so 1 and "1" still have a fixed order
    text = series.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else f"{type(v).__name__}:{v}")
    return missing, text.to_numpy(str)


def sort_canonically(frame, keys: Sequence[str]):
    """``frame`` sorted by ``keys``, then (only where those tie) by every other column; index reset."""
    import numpy as np
    import pandas as pd

    keys = [k for k in dict.fromkeys(keys) if k in frame.columns]
    if len(keys) == 1:  # already in order (synthetic and exported data often are): nothing to do
        key = frame[keys[0]]
        if key.notna().all() and key.is_unique and key.is_monotonic_increasing and \
                pd.api.types.infer_dtype(key, skipna=True) in ("string", "integer", "floating", "mixed-integer-float"):
            return frame.reset_index(drop=True)
    columns = list(keys)
    if not keys or frame.duplicated(subset=keys).any():
        columns += [c for c in frame.columns if c not in keys]
    parts = []
    for col in reversed(columns):  # np.lexsort sorts by its last key first
        missing, values = _sort_key(frame[col])
        parts += [values, missing]
    order = np.lexsort(parts) if parts else np.arange(len(frame))
    if (order == np.arange(len(frame))).all():
        return frame.reset_index(drop=True)
    return frame.iloc[order].reset_index(drop=True)
