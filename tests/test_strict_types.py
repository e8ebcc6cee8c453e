"""Each indicator type accepts only its values; nothing is coerced, rounded or silently missing.

The known cases of lenient reading (issue 13), each a test: booleans read as 0/1 for a score,
``n/a`` read as missing, a value of 1e308 giving a mean change of 3e305, XLSX formula cells
without a saved value read as missing, a population of 0 or a fraction. And what the plan may
declare instead: ``data.missing_values``, ``data.binary_labels``, ``data.plausible`` and an
indicator's ``plausible`` range.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from test_spec_validation import CSV, LOGIC_MODEL, MATCHED, PREPOST, SERIES, LONG, make_project, problems

from evalkit.errors import DataError
from evalkit.project import load_project
from evalkit.run import run


def only_errors(root) -> str:
    found = problems(root)
    assert found, "expected the data to be refused"
    return "\n".join(found)


def _frame() -> pd.DataFrame:
    return pd.read_csv(pd.io.common.StringIO(CSV))


def _write(root, frame: pd.DataFrame, name: str) -> None:
    path = root / "evaluations" / "data" / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _plan(root, text: str = PREPOST, name: str = "demo-prepost.yml") -> None:
    (root / "evaluations" / name).write_text(text)


# ------------------------------------------------------------------ booleans are not scores


def test_a_parquet_boolean_column_is_refused_for_a_score(tmp_path):
    root = make_project(tmp_path)
    frame = _frame()
    frame["sdq_pre"] = frame["sdq_pre"] > 15  # a boolean column where a score belongs
    _write(root, frame, "cohort.parquet")
    _plan(root, PREPOST.replace("cohort.csv", "cohort.parquet"))
    msg = only_errors(root)
    assert "timepoints.sdq_total.baseline: column 'sdq_pre' in data/cohort.parquet holds true/false values at rows " \
           "1, 2, 3 and 3 more" in msg and "expected numbers for score indicator 'sdq_total'" in msg


def test_true_false_text_is_refused_for_a_score_and_a_count(tmp_path):
    text = CSV.replace("a1,1,12,0,20,15", "a1,1,12,0,TRUE,15").replace("a2,1,13,1,18,,0,0,0,0",
                                                                        "a2,1,13,1,18,,0,0,FALSE,0")
    root = make_project(tmp_path, csv=text)
    msg = only_errors(root)
    assert "column 'sdq_pre' in data/cohort.csv holds true/false values at line 2" in msg
    assert "column 'off_pre' in data/cohort.csv holds true/false values at line 3" in msg


def test_true_false_is_a_binary_value(tmp_path):
    text = CSV.replace("a1,1,12,0,20,15,1,0", "a1,1,12,0,20,15,TRUE,FALSE")
    assert problems(make_project(tmp_path, csv=text)) == []


def test_run_refuses_booleans_for_a_score_in_a_frame_passed_in(tmp_path):
    root = make_project(tmp_path)
    evaluation = load_project(root).evaluation("demo-prepost")
    frame = _frame()
    frame["sdq_post"] = frame["sdq_post"].notna()
    with pytest.raises(DataError, match="column 'sdq_post' in the data passed in holds true/false values at rows 1, 2"):
        run(evaluation, frame)


# ------------------------------------------------------------------ counts are whole numbers, written in decimal


@pytest.mark.parametrize("value, found", [("10.5", "1 with a fraction"), ("0x10", "1 such value"),
                                          ("1_000", "1 such value"), ("-1", "1 negative")])
def test_count_values_are_never_rounded_or_converted(tmp_path, value, found):
    root = make_project(tmp_path, csv=CSV.replace("a3,0,14,0,25,22,1,1,3,2", f"a3,0,14,0,25,22,1,1,{value},2"))
    msg = only_errors(root)
    assert "timepoints.offences.baseline: column 'off_pre' in data/cohort.csv" in msg and "line 4" in msg
    assert found in msg and value not in msg


# ------------------------------------------------------------------ non-finite and absurd values


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e308", "nan", "NaN"])
def test_non_finite_and_absurd_values_are_refused_with_their_line(tmp_path, value):
    root = make_project(tmp_path, csv=CSV.replace("a4,0,15,1,12,11,0,0,0,0", f"a4,0,15,1,12,{value},0,0,0,0"))
    msg = only_errors(root)
    assert "timepoints.sdq_total.exit: column 'sdq_post' in data/cohort.csv holds" in msg and "line 5" in msg


def test_a_huge_value_in_a_score_without_a_range_is_refused_by_the_command(tmp_path):
    """The known case: 1e308 in one row gave a published mean change of 3e305 and exit 0."""
    lm = LOGIC_MODEL.replace("    instrument:\n      name: SDQ\n      range: [0, 40]\n      validated: true\n", "")
    assert "range" not in lm
    root = make_project(tmp_path, logic_model=lm,
                        csv=CSV.replace("a4,0,15,1,12,11,0,0,0,0", "a4,0,15,1,12,1e308,0,0,0,0"))
    done = run_cli("run", "--no-store", "--project", str(root))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "column 'sdq_post' in data/cohort.csv holds values beyond ±2^53 (9.0e15) at line 5" in done.stderr
    assert not (root / "reports").exists()


def test_plausible_ranges_from_the_plan_and_the_logic_model(tmp_path):
    lm = LOGIC_MODEL.replace("    type: count\n", "    type: count\n    plausible: [0, 50]\n")
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  plausible: {sdq_post: [5, 40]}\n")
    root = make_project(tmp_path, logic_model=lm, plans={"p.yml": text},
                        csv=CSV.replace("a6,0,16,0,9,10,0,1,0,1", "a6,0,16,0,9,4,0,1,0,99"))
    msg = only_errors(root)
    assert "timepoints.sdq_total.exit: column 'sdq_post' in data/cohort.csv holds values outside the plausible range " \
           "of 'sdq_post' (data.plausible) at line 7 (found 1 below 5; expected values from 5 to 40)" in msg
    assert "timepoints.offences.exit: column 'off_post' in data/cohort.csv holds values outside the plausible range " \
           "of indicator 'offences' at line 7 (found 1 above 50; expected values from 0 to 50)" in msg


def test_a_reversed_plausible_range_is_a_spec_error(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  plausible: {sdq_post: [40, 5]}\n")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "data.plausible.sdq_post: plausible range is empty or reversed (found [40, 5]" in only_errors(root)


# ------------------------------------------------------------------ missing values are empty cells, or declared


def test_n_a_is_not_silently_missing(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a3,0,14,0,25,22", "a3,0,14,0,25,n/a"))
    msg = only_errors(root)
    assert "column 'sdq_post' in data/cohort.csv holds text that is not a number at line 4" in msg
    assert "data.missing_values" in msg


def test_declared_missing_values_are_missing_and_counted(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  missing_values: [\"n/a\", \"-99\"]\n")
    csv = CSV.replace("a3,0,14,0,25,22", "a3,0,14,0,25, n/a ").replace("a4,0,15,1,12,11", "a4,0,15,1,-99,11")
    root = make_project(tmp_path, plans={"p.yml": text}, csv=csv)
    assert problems(root) == []
    result = run(load_project(root).evaluation("demo-prepost"))
    sdq = next(e for e in result.estimates if e.indicator == "sdq_total")
    assert sdq.n == 3  # 6 pupils: one missing at exit already, one n/a at exit, one -99 at baseline
    stages = {(s.stage, s.indicator): s.n for s in result.flow}
    assert stages[("with_baseline", "sdq_total")] == 5 and stages[("analysed", "sdq_total")] == 3


def test_binary_labels_are_declared_or_refused(tmp_path):
    csv = CSV.replace("a1,1,12,0,20,15,1,0", "a1,1,12,0,20,15,Yes,No")
    root = make_project(tmp_path, csv=csv)
    assert "column 'susp_pre' in data/cohort.csv holds text that is not a number at line 2" in only_errors(root)
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  binary_labels: {1: [\"Yes\"], 0: [\"No\"]}\n")
    root2 = make_project(tmp_path / "b", plans={"p.yml": text}, csv=csv)
    assert problems(root2) == []
    result = run(load_project(root2).evaluation("demo-prepost"))
    plain = run(load_project(make_project(tmp_path / "c")).evaluation("demo-prepost"))
    got = [e.estimate for e in result.estimates if e.indicator == "suspended"]
    assert got == [e.estimate for e in plain.estimates if e.indicator == "suspended"]


def test_unquoted_yes_in_binary_labels_is_explained(tmp_path):
    text = PREPOST.replace("  id: pupil_id\n", "  id: pupil_id\n  binary_labels: {1: [Yes], 0: [No]}\n")
    msg = only_errors(make_project(tmp_path, plans={"p.yml": text}))
    assert "data.binary_labels" in msg and "write labels in quotes" in msg


def test_binary_labels_apply_to_the_treatment(tmp_path):
    text = MATCHED.replace("  treatment: treated\n",
                           "  treatment: treated\n  binary_labels: {1: [\"took part\"], 0: [\"comparison\"]}\n")
    csv = "\n".join(line if i == 0 else line.replace(",1,", ",took part,", 1) if line.split(",")[1] == "1"
                    else line.replace(",0,", ",comparison,", 1) for i, line in enumerate(CSV.splitlines())) + "\n"
    root = make_project(tmp_path, plans={"m.yml": text}, csv=csv)
    assert [p for p in problems(root) if "treatment" in p] == []


# ------------------------------------------------------------------ XLSX formulas without a saved value


def test_xlsx_formula_cells_without_a_saved_value_are_refused_by_cell(tmp_path):
    import openpyxl

    root = make_project(tmp_path)
    frame = _frame()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([None if isinstance(v, float) and np.isnan(v) else v for v in row])
    ws["F3"] = "=E3-3"  # sdq_post of a2: a formula openpyxl writes without a result
    ws["F5"] = "=E5-1"
    wb.save(root / "evaluations" / "data" / "cohort.xlsx")
    _plan(root, PREPOST.replace("cohort.csv", "cohort.xlsx"))
    msg = only_errors(root)
    assert "2 cell(s) hold a formula without a saved result (F3, F5)" in msg
    done = run_cli("run", "--no-store", "--project", str(root))
    assert done.returncode == 1 and "F3, F5" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ populations


@pytest.mark.parametrize("value", ["0", "-100", "100.5", ""])
def test_population_is_a_positive_whole_number(tmp_path, value):
    root = make_project(tmp_path, plans={"i.yml": LONG})
    (root / "evaluations" / "data" / "series.csv").write_text(SERIES.replace("A,2020-02,100", f"A,2020-02,{value}"))
    assert "data.population: column 'pop' has missing, non-positive or fractional values at line 3" in \
        only_errors(root)


def test_messages_never_quote_an_identifier(tmp_path):
    csv = CSV.replace("a1,", "NHS-943-476-5919,").replace("a4,", "NHS-943-476-5919,")
    root = make_project(tmp_path, csv=csv.replace("a3,0,14,0,25,22", "a3,0,14,0,25,NHS-111"))
    msg = only_errors(root)
    assert "repeat at lines 2, 5" in msg and "NHS" not in msg


def test_a_headerless_file_is_named_not_echoed(tmp_path):
    root = make_project(tmp_path, csv="\n".join(CSV.splitlines()[1:]) + "\n")
    msg = only_errors(root)
    assert "the first line of data/cohort.csv does not look like a header" in msg
    assert "a1" not in msg.replace("data/", "")
