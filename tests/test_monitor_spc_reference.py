"""XmR charts against NHSRplotthedots, the NHS-R community's implementation of NHS England's
"Making Data Count" rules: every point's mean, limits, rule and point type, and every chart's
variation and assurance icons, for the 34 cases in tests/reference/spc/ (made by
make_reference.R beside them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.monitor.spc import xmr

REF = Path(__file__).parent / "reference" / "spc"
CASES = pd.read_csv(REF / "cases.csv", keep_default_na=False)
OPTIONS = pd.read_csv(REF / "options.csv", keep_default_na=False).set_index("case")
EXPECTED = pd.read_csv(REF / "expected.csv", keep_default_na=False)
SUMMARY = pd.read_csv(REF / "summary.csv", keep_default_na=False).set_index("case")

# NHSRplotthedots' special_cause_type -> evalkit's (rule, side)
RULES = {"Common Cause": ("", ""), "Above UCL": ("beyond_limits", "high"), "Below LCL": ("beyond_limits", "low"),
         "7 Point Trend (Increasing)": ("trend", "high"), "7 Point Trend (Decreasing)": ("trend", "low"),
         "2 in 3 Above CL": ("two_of_three", "high"), "2 in 3 Below CL": ("two_of_three", "low"),
         "7 Points Above CL": ("shift", "high"), "7 Points Below CL": ("shift", "low")}
POINT_TYPES = {"common_cause": "common_cause", "special_cause_improvement": "special_cause_improvement",
               "special_cause_concern": "special_cause_concern", "special_cause_neutral_high": "special_cause_neutral",
               "special_cause_neutral_low": "special_cause_neutral"}
ASSURANCE = {"": None, "consistent_pass": "consistent_pass", "consistent_fail": "consistent_fail",
             "inconsistent": "hit_and_miss"}


def _chart(case: str):
    rows = CASES[CASES.case == case]
    o = OPTIONS.loc[case]
    return xmr(rows.period.tolist(), rows.value.astype(float).tolist(), name=case, improvement=o.improvement,
               target=float(o.target) if o.target != "" else None,
               step_changes=o.rebase.split(";") if o.rebase else (),
               baseline_points=int(o.fix_after) if o.fix_after != "" else None,
               screen_outliers=str(o.screen_outliers).lower() == "true", min_points=12)


@pytest.mark.parametrize("case", list(OPTIONS.index))
def test_every_point_matches_nhsrplotthedots(case):
    chart = _chart(case)
    got = chart.frame
    want = EXPECTED[EXPECTED.case == case].reset_index(drop=True)
    assert got.period.dt.strftime("%Y-%m-%d").tolist() == want.period.tolist()
    assert got.baseline.tolist() == want.rebase_group.astype(int).tolist()
    for ours, theirs in (("mean", "mean"), ("lower_limit", "lpl"), ("upper_limit", "upl")):
        np.testing.assert_allclose(got[ours].to_numpy(), want[theirs].astype(float).to_numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=f"{case}: {ours}")
    assert got.beyond_limits.tolist() == want.outside_limits.astype(str).str.lower().eq("true").tolist()
    assert [(r, s) for r, s in zip(got.rule, got.side)] == [RULES[t] for t in want.special_cause_type]
    assert got.point_type.tolist() == [POINT_TYPES[t] for t in want.point_type]


@pytest.mark.parametrize("case", list(OPTIONS.index))
def test_icons_match_nhsrplotthedots(case):
    chart = _chart(case)
    want = SUMMARY.loc[case]
    last_type = POINT_TYPES[want.variation_type]
    assert chart.frame.point_type.iat[-1] == last_type
    expected_icon = "common_cause" if last_type == "common_cause" else None
    if expected_icon is None:  # NHSRplotthedots' icon file: improvement_high when increase is better, ...
        side = chart.frame.side.iat[-1]
        expected_icon = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                         "special_cause_neutral": "neutral"}[last_type] + f"_{side}"
    assert chart.variation.value == expected_icon
    assert (chart.assurance.value if chart.assurance else None) == ASSURANCE[want.assurance_type]


def test_the_package_snapshot_and_the_vignette_numbers():
    """Numbers NHSRplotthedots publishes: its test snapshot (rnorm(20), seed 123, outliers screened) and the
    "deviations from Excel" vignette, where the Excel tool's limits (no screening) are 6.95 / 1.94 / -3.06."""
    snap = _chart("rnorm20_screened").baselines[0]
    assert (round(snap.mean, 7), round(snap.lower_limit, 5), round(snap.upper_limit, 6)) == (0.1416238, -3.01138,
                                                                                             3.294627)
    excel = _chart("vignette_outlier_excel").baselines[0]
    assert (round(excel.upper_limit, 2), round(excel.mean, 2), round(excel.lower_limit, 2)) == (6.95, 1.94, -3.06)
    screened = _chart("vignette_outlier_screened").baselines[0]
    assert (round(screened.upper_limit, 1), round(screened.mean, 2), round(screened.lower_limit, 2)) == (4.6, 1.94,
                                                                                                         -0.72)


def test_every_rule_and_icon_is_exercised_by_the_reference():
    rules = {RULES[t] for t in EXPECTED.special_cause_type}
    assert rules == set(RULES.values())
    assert set(SUMMARY.assurance_type) == set(ASSURANCE)
    assert {"special_cause_concern", "special_cause_improvement", "special_cause_neutral_high",
            "common_cause"} <= set(SUMMARY.variation_type)
