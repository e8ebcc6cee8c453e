"""Check a plan's data against the plan: columns, ids, treatment, and the declared type of every value.

Problems point at the plan's key that names the column (file and line of the YAML) and say
where in the data file the bad values are, so a user can fix either side. They name lines and
columns and say what kind of value was found; they never quote a cell, since a cell may hold a
person's identifier (an NHS number in the wrong column is still an NHS number).

The rules, one per role a column plays:

- **score**: real numbers, within the instrument's range and the declared plausible range;
- **count**: whole numbers >= 0 (``10.5`` is refused, not rounded; ``0x10`` is text);
- **rate**: numbers >= 0; **proportion**: numbers from 0 to 1;
- **binary** (indicators, the treatment, feasibility flags): 0/1, true/false, or the words a
  plan declares under ``data.binary_labels``; never accepted for the other types;
- every numeric value is finite and at most 2**53 in magnitude; every column may have a
  declared plausible range (``data.plausible`` in the plan, ``plausible`` on the indicator);
- **population**: positive whole numbers on every row.

:func:`check_data` checks a plan's file for ``evalkit validate``; :func:`prepared_frame` runs the
same checks on the rows a run analyses (read from the file or passed in from Python), applies
the binary labels, and puts the rows in canonical order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evalkit.data.files import MAX_ABS, NUMBER_RE, looks_like_data, plain_names
from evalkit.errors import DataError, Problem
from evalkit.spec import model as m
from evalkit.spec.raw import Design, IndicatorType
from evalkit.spec.yamlio import Document, format_path

MAX_ABS_TEXT = "2^53 (9.0e15)"
BOOLEAN_TEXT = ("true", "false")


class _Collector:
    def __init__(self, doc: Document | None, file: str, data_label: str, kind: str):
        self.doc = doc
        self.file = file
        self.data_label = data_label
        self.kind = kind  # csv | parquet | xlsx | frame
        self.problems: list[Problem] = []

    def add(self, path: tuple, message: str, found: str, expected: str, severity: str = "error") -> None:
        line = self.doc.line_of(path) if self.doc is not None else None
        self.problems.append(Problem(self.file, line, format_path(path), message, found=found, expected=expected,
                                     severity=severity))  # type: ignore[arg-type]

    def where(self, positions: Iterable[int]) -> str:
        positions = list(positions)
        # CSV and XLSX users look for the line (row) under a header line: data row i sits on line i + 2
        if self.kind in ("csv", "xlsx"):
            shown, unit = [p + 2 for p in positions[:3]], "line"
        else:
            shown, unit = [p + 1 for p in positions[:3]], "row"
        text = f"{unit}{'s' if len(shown) > 1 else ''} " + ", ".join(str(s) for s in shown)
        if len(positions) > 3:
            text += f" and {len(positions) - 3} more"
        return text

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


# ------------------------------------------------------------------------------ reading numbers


@dataclass
class Numbers:
    """A column read as numbers, with the positions of each kind of value that is not a number."""

    values: object  # float64 Series, NaN where missing or not a number
    text: list[int]  # text that is not a number
    boolean: list[int]  # true/false values
    dates: list[int]  # dates or times
    non_finite: list[int]  # inf / -inf
    huge: list[int]  # beyond MAX_ABS

    @property
    def bad(self) -> list[int]:
        return sorted(set(self.text) | set(self.boolean) | set(self.dates) | set(self.non_finite) | set(self.huge))


def _positions(mask) -> list[int]:
    import numpy as np

    return list(np.flatnonzero(np.asarray(mask, dtype=bool)))


def read_numbers(series, labels: dict[str, int] | None = None, allow_boolean: bool = False) -> Numbers:
    """``series`` as numbers; with ``allow_boolean`` true/false (and ``labels``) are read as 1/0."""
    import numpy as np
    import pandas as pd

    n = len(series)
    none = np.zeros(n, bool)
    if pd.api.types.is_bool_dtype(series):
        if allow_boolean:
            return Numbers(series.astype("float64"), [], [], [], [], [])
        return Numbers(pd.Series(np.nan, index=series.index), [], _positions(series.notna()), [], [], [])
    if pd.api.types.is_datetime64_any_dtype(series) or isinstance(series.dtype, pd.PeriodDtype):
        return Numbers(pd.Series(np.nan, index=series.index), [], [], _positions(series.notna()), [], [])
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype("float64")
        text, boolean, dates = none, none, none
    else:
        raw = series.to_numpy(object)
        out = np.full(n, np.nan)
        text, boolean, dates = none.copy(), none.copy(), none.copy()
        for i, v in enumerate(raw):
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                continue
            if isinstance(v, (bool, np.bool_)):
                if allow_boolean:
                    out[i] = float(v)
                else:
                    boolean[i] = True
            elif isinstance(v, (int, float, np.integer, np.floating)):
                out[i] = float(v)
            elif isinstance(v, str):
                word = v.strip()
                if labels and word.lower() in labels:
                    out[i] = float(labels[word.lower()])
                elif allow_boolean and word.lower() in BOOLEAN_TEXT:
                    out[i] = 1.0 if word.lower() == "true" else 0.0
                elif NUMBER_RE.fullmatch(word):
                    out[i] = float(word)
                elif word.lower() in BOOLEAN_TEXT:
                    boolean[i] = True
                else:
                    text[i] = True
            elif hasattr(v, "year"):  # dates and times (XLSX date cells in a numeric column)
                dates[i] = True
            else:
                text[i] = True
        values = pd.Series(out, index=series.index)
    arr = values.to_numpy(float)
    non_finite = np.isinf(arr)
    huge = np.isfinite(arr) & (np.abs(arr) > MAX_ABS)
    values = values.where(~(non_finite | huge))
    return Numbers(values, _positions(text), _positions(boolean), _positions(dates), _positions(non_finite),
                   _positions(huge))


def _report_numbers(c: _Collector, path: tuple, label: str, nums: Numbers, expected: str, hint: str = "") -> bool:
    """Add a problem per kind of bad value; True when there was none."""
    kinds = [(nums.text, "text that is not a number"), (nums.boolean, "true/false values"),
             (nums.dates, "dates"), (nums.non_finite, "infinite values"),
             (nums.huge, f"values beyond ±{MAX_ABS_TEXT}")]
    ok = True
    for positions, what in kinds:
        if positions:
            ok = False
            extra = hint if what == "text that is not a number" else ""
            c.add(path, f"{label} holds {what} at {c.where(positions)}", f"{len(positions)} such value(s)",
                  expected + extra)
    return ok


def _missing_hint(spec: m.DataSpec) -> str:
    return (" (a word meaning 'missing', such as n/a, must be declared under data.missing_values)"
            if not spec.missing_values else
            f" (declared as missing: {', '.join(spec.missing_values)})")


# ------------------------------------------------------------------------------ one column, one role


def _ranges(ind: m.Indicator | None, column: str, spec: m.DataSpec) -> list[tuple[float, float, str]]:
    out = []
    if ind is not None and ind.type is IndicatorType.score and ind.instrument is not None \
            and ind.instrument.range is not None:
        low, high = ind.instrument.range
        out.append((low, high, f"the instrument's range ({ind.instrument.name})"))
    if ind is not None and ind.plausible is not None:
        out.append((*ind.plausible, f"the plausible range of indicator '{ind.id}'"))
    if column in spec.plausible:
        out.append((*spec.plausible[column], f"the plausible range of '{column}' (data.plausible)"))
    return out


def _check_range(c: _Collector, path: tuple, label: str, values, ranges) -> None:
    for low, high, what in ranges:
        below = values.notna() & (values < low)
        above = values.notna() & (values > high)
        if below.any() or above.any():
            pos = _positions(below | above)
            parts = []
            if below.any():
                parts.append(f"{int(below.sum())} below {low:g}")
            if above.any():
                parts.append(f"{int(above.sum())} above {high:g}")
            c.add(path, f"{label} holds values outside {what} at {c.where(pos)}", " and ".join(parts),
                  f"values from {low:g} to {high:g}")


def check_indicator_column(c: _Collector, frame, column: str, ind: m.Indicator, path: tuple,
                           spec: m.DataSpec, structure: bool = True) -> None:
    label = f"column '{column}' in {c.data_label}"
    kind = ind.type
    binary = kind is IndicatorType.binary
    nums = read_numbers(frame[column], dict(spec.binary_labels) if binary else None, allow_boolean=binary)
    expected = {IndicatorType.binary: f"0 or 1 (or true/false, or data.binary_labels) for binary indicator '{ind.id}'",
                IndicatorType.count: f"whole numbers >= 0 for count indicator '{ind.id}'",
                IndicatorType.score: f"numbers for score indicator '{ind.id}'",
                IndicatorType.rate: f"numbers >= 0 for rate indicator '{ind.id}'",
                IndicatorType.proportion: f"shares from 0 to 1 for proportion indicator '{ind.id}'"}[kind]
    if not _report_numbers(c, path, label, nums, expected, _missing_hint(spec)):
        return
    values = nums.values
    if values.dropna().empty:
        if structure:
            c.add(path, f"{label} has no values", "every value missing",
                  f"at least some values for indicator '{ind.id}'")
        return
    seen = values.notna()
    if binary:
        wrong = seen & ~values.isin([0.0, 1.0])
        if wrong.any():
            c.add(path, f"{label} is not 0/1 at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} value(s) other than 0 and 1", expected)
    elif kind is IndicatorType.count:
        negative = seen & (values < 0)
        fraction = seen & (values != values.round())
        if negative.any() or fraction.any():
            parts = ([f"{int(negative.sum())} negative"] if negative.any() else []) + \
                    ([f"{int(fraction.sum())} with a fraction"] if fraction.any() else [])
            c.add(path, f"{label} holds values that are not counts at {c.where(_positions(negative | fraction))}",
                  " and ".join(parts), expected)
    elif kind is IndicatorType.proportion:
        wrong = seen & ((values < 0) | (values > 1))
        if wrong.any():
            c.add(path, f"{label} holds values outside 0-1 at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} value(s) outside 0-1", expected)
    elif kind is IndicatorType.rate:
        wrong = seen & (values < 0)
        if wrong.any():
            c.add(path, f"{label} holds negative rates at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} negative value(s)", "rates >= 0")
    _check_range(c, path, label, values, _ranges(ind, column, spec))


def _check_flag(c: _Collector, frame, column: str, path: tuple, spec: m.DataSpec, what: str,
                required: bool = False) -> object:
    """A 0/1 column (treatment, feasibility flags): the numbers, or None after adding problems."""
    nums = read_numbers(frame[column], dict(spec.binary_labels), allow_boolean=True)
    label = f"{what} column '{column}'"
    expected = ("1 for treated, 0 for comparison, on every row" if what == "treatment" else "1 for yes, 0 for no") \
        + " (or true/false, or the words in data.binary_labels)"
    if not _report_numbers(c, path, label, nums, expected, _missing_hint(spec)):
        return None
    values = nums.values
    wrong = (values.notna() & ~values.isin([0.0, 1.0])) | (values.isna() if required else False)
    if wrong.any():
        c.add(path, f"{label} is not 0/1 at {c.where(_positions(wrong))}",
              f"{int(wrong.sum())} value(s) other than 0 and 1" + (" or missing" if required else ""), expected)
        return None
    return values


def _check_number_column(c: _Collector, frame, column: str, path: tuple, spec: m.DataSpec, what: str,
                         rule: str | None = None) -> None:
    nums = read_numbers(frame[column])
    label = f"{what} '{column}'"
    expected = {"population": "a positive whole number on every row", "weights": "a number >= 0 on every row",
                "score_column": "probabilities strictly between 0 and 1", "count": "whole numbers >= 0"}.get(
        rule or "", "numbers")
    if not _report_numbers(c, path, label, nums, expected, _missing_hint(spec)):
        return
    values = nums.values
    if rule == "population":
        wrong = values.isna() | (values <= 0) | (values != values.round())
        if wrong.any():
            c.add(path, f"column '{column}' has missing, non-positive or fractional values at "
                        f"{c.where(_positions(wrong))}", f"{int(wrong.sum())} such value(s)", expected)
    elif rule == "weights":
        wrong = values.isna() | (values < 0)
        if wrong.any():
            c.add(path, f"column '{column}' has missing or negative values at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} such value(s)", expected)
    elif rule == "score_column":
        wrong = values.notna() & ((values <= 0) | (values >= 1))
        if wrong.any():
            c.add(path, f"score column '{column}' holds values outside (0, 1) at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} such value(s)", expected)
    elif rule == "count":
        wrong = values.notna() & ((values < 0) | (values != values.round()))
        if wrong.any():
            c.add(path, f"{label} holds values that are not counts at {c.where(_positions(wrong))}",
                  f"{int(wrong.sum())} such value(s)", expected)
    _check_range(c, path, label, values, _ranges(None, column, spec))


def _dates(series):
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    return pd.to_datetime(series.astype("string"), errors="coerce", format="mixed")


# ------------------------------------------------------------------------------ the whole frame


def named_columns(evaluation: m.Evaluation) -> list[tuple[tuple, str]]:
    """Every column the plan names, with the key that names it."""
    spec = evaluation.data
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
    return named


def frame_problems(c: _Collector, evaluation: m.Evaluation, frame, structure: bool = True) -> None:
    """Every problem with the analysed rows ``frame`` (in file order), added to ``c``.

    ``structure=False`` (a run, after validation or on rows passed in from Python) checks only the
    values (types, ranges, labels, line-numbered feasibility rules); the shape of the data (ids,
    groups, empty columns, periods) is then the design's to check, with its own messages.
    """
    import pandas as pd

    spec = evaluation.data
    label = c.data_label
    if frame.empty and structure:
        c.add(("data", "path"), f"{label} has no rows", "a header only", "one row per unit (or per unit and period)")
        return

    # -- identifiers: never quoted (they are who the rows are about)
    ids = frame[spec.id] if spec.id in frame else None
    if ids is None or not structure:
        pass
    elif ids.isna().any():
        c.add(("data", "id"), f"id column '{spec.id}' has missing values at {c.where(_positions(ids.isna()))}",
              "empty ids", "an id on every row")
    key = [spec.id] + ([spec.period] if spec.long_form and spec.period in frame else [])
    dup = frame.duplicated(subset=key, keep=False) & ids.notna() if ids is not None and structure else None
    if dup is not None and dup.any():
        what = f"'{spec.id}'" if len(key) == 1 else f"'{spec.id}' and '{spec.period}'"
        c.add(("data", "id"), f"{what} repeat at {c.where(_positions(dup))}",
              f"{int(dup.sum())} rows sharing a value with another row",
              "one row per " + ("unit" if len(key) == 1 else "unit and period"))

    # -- treatment
    if spec.treatment and spec.treatment in frame:
        values = _check_flag(c, frame, spec.treatment, ("data", "treatment"), spec, "treatment", required=structure)
        if values is not None and structure:
            counts = values.value_counts()
            for group, name in ((1.0, "treated"), (0.0, "comparison")):
                if counts.get(group, 0) == 0:
                    c.add(("data", "treatment"), f"no {name} rows in '{spec.treatment}'",
                          f"only {int(1 - group)}s", "both 1 (treated) and 0 (comparison) rows")

    # -- indicator columns
    for ind_id, tp in evaluation.timepoints.items():
        for name, col in tp.columns.items():
            if col in frame:
                check_indicator_column(c, frame, col, tp.indicator, ("timepoints", ind_id, name), spec, structure)
    for ind_id, (ind, col) in evaluation.outcomes.items():
        if col in frame:
            check_indicator_column(c, frame, col, ind, ("outcomes", ind_id), spec, structure)

    # -- covariates: numbers or categories, not empty; missing values are reported, never dropped silently
    for i, col in enumerate(evaluation.covariates):
        if col not in frame:
            continue
        series = frame[col]
        if series.isna().all():
            if structure:
                c.add(("covariates", i), f"covariate '{col}' is missing on every row", "no values",
                      "a covariate with observed values")
            continue
        nums = read_numbers(series, allow_boolean=True)
        if not nums.text and not nums.dates:  # a numeric covariate: finite, within its declared range
            if _report_numbers(c, ("covariates", i), f"covariate '{col}'", nums, "numbers"):
                _check_range(c, ("covariates", i), f"covariate '{col}'", nums.values, _ranges(None, col, spec))
        if not structure:
            continue
        if series.nunique(dropna=True) < 2:
            c.add(("covariates", i), f"covariate '{col}' takes one value only", "a single value",
                  "a covariate that varies", severity="warning")
        elif series.isna().any():
            n = int(series.isna().sum())
            c.add(("covariates", i), f"covariate '{col}' is missing on {n} of {len(series)} rows",
                  f"{n} missing values", "complete covariates, or a missing-data policy (matching.missing)",
                  severity="warning")

    mt = evaluation.matching
    for path, col, what, rule in (
            [(("matching", "calipers", k), k, "caliper column", None) for k in (mt.calipers if mt else {})]
            + ([(("weights",), evaluation.weights, "weights column", "weights")] if evaluation.weights else [])
            + ([(("data", "population"), spec.population, "population column", "population")]
               if spec.population else [])
            + ([(("matching", "score_column"), mt.score_column, "score column", "score_column")]
               if mt and mt.score_column else [])
            + ([(("time_series", "control"), evaluation.time_series.control, "control series", None)]
               if evaluation.time_series is not None and evaluation.time_series.control else [])):
        if col in frame:
            _check_number_column(c, frame, col, path, spec, what, rule)

    # -- feasibility case columns
    fz = evaluation.feasibility
    if fz is not None:
        _check_cases(c, evaluation, frame)

    # -- periods in long form
    if spec.long_form and spec.period in frame and structure:
        column = frame[spec.period]
        # difference-in-differences may count periods (survey waves 1, 2, 3); a time series needs dates
        numbered = (evaluation.design is Design.difference_in_differences and pd.api.types.is_integer_dtype(column))
        periods = _dates(column)
        bad = periods.isna() & ~numbered
        if bad.any():
            c.add(("data", "period"), f"period column '{spec.period}' has values that are not dates at "
                  f"{c.where(_positions(bad))}", f"{int(bad.sum())} such value(s)",
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


def _check_cases(c: _Collector, evaluation: m.Evaluation, frame) -> None:
    """A feasibility plan's case columns: 0/1 flags, dates, numbers; first contact not before referral."""
    spec = evaluation.data
    cases = evaluation.feasibility.cases
    base = ("feasibility", "cases")
    for key in ("eligible", "consented", "started", "completed"):
        col = getattr(cases, key)
        if col and col in frame:
            _check_flag(c, frame, col, base + (key,), spec, "case flag")
    referral = first = None
    for key in ("referral_date", "first_contact"):
        col = getattr(cases, key)
        if not col or col not in frame:
            continue
        parsed = _dates(frame[col])
        bad = parsed.isna() & frame[col].notna()
        if bad.any():
            c.add(base + (key,), f"column '{col}' has values that are not dates at {c.where(_positions(bad))}",
                  f"{int(bad.sum())} such value(s)", "dates such as 2024-09-30")
            continue
        if key == "referral_date":
            if parsed.isna().any():
                c.add(base + (key,), f"column '{col}' is empty at {c.where(_positions(parsed.isna()))}",
                      "no referral date", "a referral date on every case")
            referral = parsed
        else:
            first = parsed
    if referral is not None and first is not None:
        early = (first < referral).fillna(False)
        if early.any():
            c.add(base + ("first_contact",), f"first contact is dated before referral at {c.where(_positions(early))}",
                  f"{int(early.sum())} case(s)", "contact on or after referral")
    if cases.sessions_planned and cases.sessions_planned in frame:
        _check_number_column(c, frame, cases.sessions_planned, base + ("sessions_planned",), spec,
                             "column", "count")
    if cases.acceptability and cases.acceptability in frame:
        _check_number_column(c, frame, cases.acceptability, base + ("acceptability",), spec, "column")


def check_data(evaluation: m.Evaluation, doc: Document) -> list[Problem]:
    """Every problem with ``evaluation``'s data file, as problems on the plan's lines."""
    spec = evaluation.data
    if spec is None:
        return []
    from evalkit.data.load import file_kind, read_columns, read_table

    label = spec.path_as_written
    try:
        kind = file_kind(spec.path)
    except DataError as exc:
        return [Problem(doc.file, doc.line_of(("data", "path")), "data.path", "unsupported data file type",
                        found=f"'{spec.path.suffix}'", expected=str(exc).split("expected ")[-1])]
    c = _Collector(doc, doc.file, label, kind)
    if not spec.path.exists() and not spec.path.is_symlink():
        c.add(("data", "path"), "data file not found", f"no file at {spec.path}",
              "a CSV, Parquet or XLSX file, relative to the plan (for the example project, `evalkit synth` "
              "writes it; a success-measures time series's file is written by `evalkit monitor export`)")
        return c.problems
    try:
        check_location(spec)
        present = read_columns(spec.path, spec.sheet)
    except DataError as exc:
        c.add(("data", "path"), "data file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file inside the project")
        return c.problems

    named = named_columns(evaluation)
    if evaluation.feasibility is not None:
        c.problems += _check_sessions_file(evaluation, doc)
    missing = [(path, col) for path, col in named if col not in present]
    if missing and looks_like_data(present):
        c.add(("data", "path"), f"the first line of {label} does not look like a header",
              "numbers or dates where column names should be", "a header line naming the columns")
        return c.problems
    shown_columns = plain_names(present)
    for path, col in missing:
        c.add(path, f"column not found in {label}", f"'{col}'", f"one of {shown_columns}")
    columns = [col for _path, col in named if col in present]
    if missing and spec.id not in present:
        return c.problems
    try:
        frame = read_table(spec.path, columns, spec.sheet, spec.missing_values)
    except DataError as exc:
        c.add(("data", "path"), "data file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file")
        return c.problems
    frame_problems(c, evaluation, frame)
    return c.problems


def check_location(spec: m.DataSpec) -> None:
    """The plan's data file resolves inside the project or a data root, and is a regular file."""
    from evalkit.data.files import check_inside, check_regular

    if spec.roots:
        check_inside(spec.path, spec.roots, spec.path_as_written)
    check_regular(spec.path)


def _check_sessions_file(evaluation: m.Evaluation, doc: Document) -> list[Problem]:
    """A feasibility plan's session records: the file is there and has the columns the plan names."""
    from evalkit.data.files import check_inside, check_regular
    from evalkit.data.load import read_columns

    spec = evaluation.feasibility.sessions
    if spec is None:
        return []
    c = _Collector(doc, doc.file, spec.path, "csv" if spec.path.lower().endswith(".csv") else "other")
    path = (evaluation.source.parent / spec.path).resolve()
    if not path.exists():
        c.add(("feasibility", "sessions", "path"), "session file not found", f"no file at {path}",
              "a CSV, Parquet or XLSX file, relative to the plan (for the example project, `evalkit synth` writes it)")
        return c.problems
    try:
        if evaluation.data.roots:
            check_inside(path, evaluation.data.roots, spec.path)
        check_regular(path, "session file")
        present = read_columns(path, spec.sheet)
    except DataError as exc:
        c.add(("feasibility", "sessions", "path"), "session file cannot be read", str(exc).split(": ", 1)[-1],
              "a readable CSV, Parquet or XLSX file inside the project")
        return c.problems
    for key in ("id", "date", "attended", "hours", "fidelity"):
        col = getattr(spec, key)
        if col and col not in present:
            c.add(("feasibility", "sessions", key), f"column not found in {spec.path}", f"'{col}'",
                  "one of " + ", ".join(present[:12]))
    return c.problems


# ------------------------------------------------------------------------------ the rows a run analyses


def binary_columns(evaluation: m.Evaluation) -> list[str]:
    """Columns read as 0/1: binary indicators, the treatment, feasibility flags."""
    cols = [col for tp in evaluation.timepoints.values() if tp.indicator.type is IndicatorType.binary
            for col in tp.columns.values()]
    cols += [col for ind, col in evaluation.outcomes.values() if ind.type is IndicatorType.binary]
    if evaluation.data.treatment:
        cols.append(evaluation.data.treatment)
    if evaluation.feasibility is not None:
        cols += [c for c in (evaluation.feasibility.cases.eligible, evaluation.feasibility.cases.consented,
                             evaluation.feasibility.cases.started, evaluation.feasibility.cases.completed) if c]
    return list(dict.fromkeys(cols))


def prepared_frame(evaluation: m.Evaluation, frame, kind: str = "frame"):
    """The rows to analyse: checked (a SpecError lists every problem), binary words as 0/1, canonical order.

    ``frame`` is in file order (``kind`` csv/xlsx/parquet gives line numbers in messages) or passed
    in from Python (rows numbered from 1). The canonical order (see :func:`canonical_order`) makes
    the results independent of the order of the rows in the file.
    """
    import pandas as pd

    from evalkit.spec.yamlio import read_yaml

    spec = evaluation.data
    doc = read_yaml(evaluation.source)
    c = _Collector(doc, evaluation.source.name, spec.path_as_written if kind != "frame" else "the data passed in",
                   kind)
    frame_problems(c, evaluation, frame, structure=False)
    if c.errors:
        raise DataError("\n".join(str(p) for p in c.errors))
    frame = frame.copy()
    for col in binary_columns(evaluation):
        if col not in frame:
            continue
        s = frame[col]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            frame[col] = read_numbers(s, dict(spec.binary_labels), allow_boolean=True).values
    return canonical_order(frame, evaluation)


def canonical_order(frame, evaluation: m.Evaluation):
    """The rows sorted by the plan's id column, then its period column, then every other column.

    Everything order-dependent downstream (sums, matching ties, resampling) then sees the same
    rows in the same order whatever the order of the file. Ids and periods are unique together
    (checked), so the remaining columns only matter for data passed in unchecked.
    """
    from evalkit.data.order import sort_canonically

    d = evaluation.data
    keys = [d.id] + ([d.period] if d.period else [])
    return sort_canonically(frame, keys)
