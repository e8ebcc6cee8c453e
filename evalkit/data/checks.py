"""Check a plan's data file against the plan: columns, ids, treatment, and indicator types.

Problems point at the plan's key that names the column (file and line of the YAML) and say
where in the data file the bad values are, so a user can fix either side.
"""

from __future__ import annotations

from collections.abc import Iterable

from evalkit.errors import DataError, Problem
from evalkit.spec import model as m
from evalkit.spec.raw import IndicatorType
from evalkit.spec.yamlio import Document, format_path

# A column holding only these (plus missing values) is binary.
_BINARY = {0, 1}


class _Collector:
    def __init__(self, doc: Document, data_label: str, is_csv: bool):
        self.doc = doc
        self.data_label = data_label
        self.is_csv = is_csv
        self.problems: list[Problem] = []

    def add(self, path: tuple, message: str, found: str, expected: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.doc.file, self.doc.line_of(path), format_path(path),
                                     message, found=found, expected=expected, severity=severity))  # type: ignore[arg-type]

    def where(self, positions: Iterable[int]) -> str:
        positions = list(positions)
        # CSV users look for the line in a text editor: data row i sits on line i + 2
        shown = [(p + 2) if self.is_csv else (p + 1) for p in positions[:3]]
        unit = "line" if self.is_csv else "row"
        text = f"{unit}{'s' if len(shown) > 1 else ''} " + ", ".join(str(s) for s in shown)
        if len(positions) > 3:
            text += f" and {len(positions) - 3} more"
        return text


def _numeric(series):
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64"), []
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & converted.isna()
    return converted, list(bad.to_numpy().nonzero()[0])


def _check_indicator_column(c: _Collector, frame, column: str, ind: m.Indicator, path: tuple) -> None:
    series = frame[column]
    label = f"column '{column}' in {c.data_label}"
    values, bad = _numeric(series)
    if bad:
        sample = ", ".join(repr(v) for v in series.iloc[bad[:3]].tolist())
        c.add(path, f"{label} holds non-numeric values at {c.where(bad)}", sample,
              f"numbers for a {ind.type.value} indicator ('{ind.id}')")
        return
    observed = values.dropna()
    if observed.empty:
        c.add(path, f"{label} has no values", "every value missing",
              f"at least some values for indicator '{ind.id}'")
        return
    kind = ind.type
    if kind is IndicatorType.binary:
        wrong = values.notna() & ~values.isin(list(_BINARY))
        if wrong.any():
            pos = list(wrong.to_numpy().nonzero()[0])
            c.add(path, f"{label} is not 0/1 at {c.where(pos)}",
                  ", ".join(repr(v) for v in sorted(set(values[wrong].tolist()))[:5]),
                  f"0 or 1 for binary indicator '{ind.id}'")
    elif kind is IndicatorType.count:
        wrong = values.notna() & ((values < 0) | (values != values.round()))
        if wrong.any():
            pos = list(wrong.to_numpy().nonzero()[0])
            c.add(path, f"{label} holds values that are not counts at {c.where(pos)}",
                  ", ".join(repr(v) for v in values[wrong].tolist()[:3]),
                  f"whole numbers >= 0 for count indicator '{ind.id}'")
    elif kind is IndicatorType.proportion:
        wrong = values.notna() & ((values < 0) | (values > 1))
        if wrong.any():
            pos = list(wrong.to_numpy().nonzero()[0])
            c.add(path, f"{label} holds values outside 0-1 at {c.where(pos)}",
                  ", ".join(repr(v) for v in values[wrong].tolist()[:3]),
                  f"shares between 0 and 1 for proportion indicator '{ind.id}'")
    elif kind is IndicatorType.rate:
        wrong = values.notna() & (values < 0)
        if wrong.any():
            pos = list(wrong.to_numpy().nonzero()[0])
            c.add(path, f"{label} holds negative rates at {c.where(pos)}",
                  ", ".join(repr(v) for v in values[wrong].tolist()[:3]), "rates >= 0")
    elif kind is IndicatorType.score and ind.instrument is not None and ind.instrument.range is not None:
        low, high = ind.instrument.range
        wrong = values.notna() & ((values < low) | (values > high))
        if wrong.any():
            pos = list(wrong.to_numpy().nonzero()[0])
            c.add(path, f"{label} holds scores outside the instrument's range at {c.where(pos)}",
                  ", ".join(repr(v) for v in values[wrong].tolist()[:3]),
                  f"scores from {low:g} to {high:g} ({ind.instrument.name})")


def check_data(evaluation: m.Evaluation, doc: Document) -> list[Problem]:
    """Every problem with ``evaluation``'s data file, as problems on the plan's lines."""
    spec = evaluation.data
    if spec is None:
        return []
    from evalkit.data.load import file_kind, read_columns, read_table

    label = spec.path_as_written
    try:
        is_csv = file_kind(spec.path) == "csv"
    except DataError as exc:
        return [Problem(doc.file, doc.line_of(("data", "path")), "data.path", "unsupported data file type",
                        found=f"'{spec.path.suffix}'", expected=str(exc).split("expected ")[-1])]
    c = _Collector(doc, label, is_csv)
    if not spec.path.exists():
        c.add(("data", "path"), "data file not found", f"no file at {spec.path}",
              "a CSV, Parquet or XLSX file, relative to the plan "
              "(for the example project, `evalkit synth` writes it)")
        return c.problems
    try:
        present = read_columns(spec.path, spec.sheet)
    except DataError as exc:
        c.add(("data", "path"), "data file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file")
        return c.problems

    # every column the plan names, with the key that names it
    named: list[tuple[tuple, str]] = [(("data", "id"), spec.id)]
    for key in ("treatment", "period", "population"):
        if getattr(spec, key):
            named.append((("data", key), getattr(spec, key)))
    for ind_id, tp in evaluation.timepoints.items():
        for name, col in tp.columns.items():
            named.append((("timepoints", ind_id, name), col))
    for ind_id, (_ind, col) in evaluation.outcomes.items():
        named.append((("outcomes", ind_id), col))
    named += [(("covariates", i), col) for i, col in enumerate(evaluation.covariates)]
    named += [(("subgroups", i), col) for i, col in enumerate(evaluation.subgroups)]
    for key in ("cluster", "weights"):
        if getattr(evaluation, key):
            named.append(((key,), getattr(evaluation, key)))
    mt = evaluation.matching
    if mt is not None:
        named += [(("matching", "exact", i), col) for i, col in enumerate(mt.exact)]
        named += [(("matching", "calipers", col), col) for col in mt.calipers]
        if mt.score_column:
            named.append((("matching", "score_column"), mt.score_column))
        for i, pair in enumerate(mt.interactions):
            named += [(("matching", "interactions", i, j), col) for j, col in enumerate(pair)]
    if evaluation.time_series is not None and evaluation.time_series.control:
        named.append((("time_series", "control"), evaluation.time_series.control))
    fz = evaluation.feasibility
    if fz is not None:
        named += [(("feasibility", "cases", k), col) for k, col in fz.cases.model_dump().items() if col]
        c.problems += _check_sessions_file(evaluation, doc)

    missing = [(path, col) for path, col in named if col not in present]
    shown_columns = ", ".join(present[:12]) + (f" and {len(present) - 12} more" if len(present) > 12 else "")
    for path, col in missing:
        c.add(path, f"column not found in {label}", f"'{col}'", f"one of {shown_columns}")
    columns = [col for _path, col in named if col in present]
    if missing and spec.id not in present:
        return c.problems
    try:
        frame = read_table(spec.path, columns, spec.sheet)
    except DataError as exc:
        c.add(("data", "path"), "data file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file")
        return c.problems
    if frame.empty:
        c.add(("data", "path"), f"{label} has no rows", "a header only", "one row per unit (or per unit and period)")
        return c.problems

    # -- identifiers
    ids = frame[spec.id]
    if ids.isna().any():
        pos = list(ids.isna().to_numpy().nonzero()[0])
        c.add(("data", "id"), f"id column '{spec.id}' has missing values at {c.where(pos)}", "empty ids",
              "an id on every row")
    key = [spec.id] + ([spec.period] if spec.long_form and spec.period in frame else [])
    dup = frame.duplicated(subset=key, keep=False) & ids.notna()
    if dup.any():
        pos = list(dup.to_numpy().nonzero()[0])
        what = f"'{spec.id}'" if len(key) == 1 else f"'{spec.id}' and '{spec.period}'"
        first = frame.loc[dup, key].iloc[0].tolist()
        c.add(("data", "id"), f"{what} repeat at {c.where(pos)}",
              f"{int(dup.sum())} rows sharing a value, e.g. {first[0]!r}" + (f" in period {first[1]!r}" if len(first) > 1 else ""),
              "one row per " + ("unit" if len(key) == 1 else "unit and period"))

    # -- treatment
    if spec.treatment and spec.treatment in frame:
        values, bad = _numeric(frame[spec.treatment])
        wrong = (values.notna() & ~values.isin([0, 1])) | frame[spec.treatment].isna()
        if bad or wrong.any():
            pos = sorted(set(bad) | set(wrong.to_numpy().nonzero()[0]))
            sample = sorted({repr(v) for v in frame[spec.treatment].iloc[pos[:5]].tolist()})
            c.add(("data", "treatment"), f"treatment column '{spec.treatment}' is not 0/1 at {c.where(pos)}",
                  ", ".join(sample), "1 for treated, 0 for comparison, on every row")
        else:
            counts = values.value_counts()
            for group, name in ((1, "treated"), (0, "comparison")):
                if counts.get(group, 0) == 0:
                    c.add(("data", "treatment"), f"no {name} rows in '{spec.treatment}'",
                          f"only {int(1 - group)}s", "both 1 (treated) and 0 (comparison) rows")

    # -- indicator columns
    for ind_id, tp in evaluation.timepoints.items():
        for name, col in tp.columns.items():
            if col in frame:
                _check_indicator_column(c, frame, col, tp.indicator, ("timepoints", ind_id, name))
    for ind_id, (ind, col) in evaluation.outcomes.items():
        if col in frame:
            _check_indicator_column(c, frame, col, ind, ("outcomes", ind_id))

    # -- covariates: any type, but not empty; missing values are reported, never dropped silently
    for i, col in enumerate(evaluation.covariates):
        if col not in frame:
            continue
        series = frame[col]
        if series.isna().all():
            c.add(("covariates", i), f"covariate '{col}' is missing on every row", "no values",
                  "a covariate with observed values")
        elif series.nunique(dropna=True) < 2:
            c.add(("covariates", i), f"covariate '{col}' takes one value only", repr(series.dropna().iloc[0]),
                  "a covariate that varies", severity="warning")
        elif series.isna().any():
            n = int(series.isna().sum())
            c.add(("covariates", i), f"covariate '{col}' is missing on {n} of {len(series)} rows",
                  f"{n} missing values", "complete covariates, or a missing-data policy (matching.missing)",
                  severity="warning")
    for path, col in ([(("matching", "calipers", k), k) for k in (mt.calipers if mt else {})]
                      + ([(("weights",), evaluation.weights)] if evaluation.weights else [])
                      + ([(("data", "population"), spec.population)] if spec.population else [])
                      + ([(("matching", "score_column"), mt.score_column)] if mt and mt.score_column else [])):
        if col not in frame:
            continue
        values, bad = _numeric(frame[col])
        if bad:
            c.add(path, f"column '{col}' holds non-numeric values at {c.where(bad)}",
                  ", ".join(repr(v) for v in frame[col].iloc[bad[:3]].tolist()), "numbers")
        elif path[0] in ("weights",) or path[-1] == "population":
            wrong = values.isna() | (values <= 0 if path[-1] == "population" else values < 0)
            if wrong.any():
                pos = list(wrong.to_numpy().nonzero()[0])
                c.add(path, f"column '{col}' has missing or non-positive values at {c.where(pos)}",
                      ", ".join(repr(v) for v in frame[col].iloc[pos[:3]].tolist()),
                      "a positive number on every row")
        elif path[-1] == "score_column":
            wrong = values.notna() & ((values <= 0) | (values >= 1))
            if wrong.any():
                pos = list(wrong.to_numpy().nonzero()[0])
                c.add(path, f"score column '{col}' holds values outside (0, 1) at {c.where(pos)}",
                      ", ".join(repr(v) for v in values[wrong].tolist()[:3]), "probabilities strictly between 0 and 1")

    # -- periods in long form
    if spec.long_form and spec.period in frame:
        import pandas as pd

        from evalkit.spec.raw import Design

        column = frame[spec.period]
        # difference-in-differences may count periods (survey waves 1, 2, 3); a time series needs dates
        numbered = (evaluation.design is Design.difference_in_differences and pd.api.types.is_integer_dtype(column))
        periods = pd.to_datetime(column.astype("string"), errors="coerce", format="mixed")
        bad = periods.isna() & ~numbered
        if bad.any():
            pos = list(bad.to_numpy().nonzero()[0])
            c.add(("data", "period"), f"period column '{spec.period}' has values that are not dates at {c.where(pos)}",
                  ", ".join(repr(v) for v in frame[spec.period].iloc[pos[:3]].tolist()),
                  "dates such as 2023-04 or 2023-04-01" + (
                      " (or whole-number period counts, for difference-in-differences)"
                      if evaluation.design is Design.difference_in_differences else ""))
        elif evaluation.time_series is not None:
            start = pd.Timestamp(evaluation.time_series.interruption)
            first, last = periods.min(), periods.max()
            if not first < start <= last:
                c.add(("time_series", "interruption"), "the interruption is not inside the series",
                      f"{start.date()} for a series from {first.date()} to {last.date()}",
                      "a date after the first period and no later than the last")
    return c.problems


def _check_sessions_file(evaluation: m.Evaluation, doc: Document) -> list[Problem]:
    """A feasibility plan's session records: the file is there and has the columns the plan names."""
    from evalkit.data.load import read_columns

    spec = evaluation.feasibility.sessions
    if spec is None:
        return []
    c = _Collector(doc, spec.path, spec.path.lower().endswith(".csv"))
    path = (evaluation.source.parent / spec.path).resolve()
    if not path.exists():
        c.add(("feasibility", "sessions", "path"), "session file not found", f"no file at {path}",
              "a CSV, Parquet or XLSX file, relative to the plan (for the example project, `evalkit synth` writes it)")
        return c.problems
    try:
        present = read_columns(path, spec.sheet)
    except DataError as exc:
        c.add(("feasibility", "sessions", "path"), "session file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file")
        return c.problems
    for key in ("id", "date", "attended", "hours", "fidelity"):
        col = getattr(spec, key)
        if col and col not in present:
            c.add(("feasibility", "sessions", key), f"column not found in {spec.path}", f"'{col}'",
                  "one of " + ", ".join(present[:12]))
    return c.problems
