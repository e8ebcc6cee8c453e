"""XmR charts: the rules on hand-made series, gaps and suppressed values, icons, bad input (one
line each), determinism across processes and row orders, and the figure (suppressed values are
never drawn). The NHSRplotthedots comparison is in test_monitor_spc_reference.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError, EstimationError, EvalkitError, OptionError
from evalkit.monitor.spc import (FRAME_COLUMNS, LIMIT_FACTOR, AssuranceIcon, Improvement, VariationIcon, assurance,
                                 xmr)
from evalkit.monitor.spc_chart import xmr_figure

MONTHS = pd.date_range("2019-01-01", periods=24, freq="MS")
FLAT = [50, 52, 49, 51, 50, 48, 52, 50, 49, 51, 50, 52, 48, 50, 51, 49, 50, 52, 49, 51, 50, 48, 51, 50]


def _chart(values, **kw):
    kw.setdefault("min_points", 12)
    return xmr(MONTHS[:len(values)], values, **kw)


def test_limits_are_the_mean_plus_or_minus_2_66_mean_moving_ranges():
    chart = _chart(FLAT)
    b = chart.baselines[0]
    amr = np.mean(np.abs(np.diff(FLAT)))
    assert b.mean == pytest.approx(np.mean(FLAT))
    assert b.mean_moving_range == pytest.approx(amr)
    assert (b.lower_limit, b.upper_limit) == pytest.approx((np.mean(FLAT) - 2.66 * amr, np.mean(FLAT) + 2.66 * amr))
    assert b.moving_range_limit == pytest.approx(3.267 * amr)
    f = chart.frame
    assert list(f.columns) == FRAME_COLUMNS
    assert f.upper_2sigma.iat[0] == pytest.approx(np.mean(FLAT) + 2 / 3 * LIMIT_FACTOR * amr)
    assert np.isnan(f.moving_range.iat[0]) and f.moving_range.iat[1] == 2
    assert chart.variation is VariationIcon.common_cause and (f.rule == "").all()


def test_a_single_month_below_target_inside_the_limits_is_common_cause():
    values = list(FLAT)
    values[-1] = 45  # the worst month of the series, under the target of 47, but inside the limits
    chart = _chart(values, improvement="increase", target=47)
    assert chart.frame.rule.iat[-1] == "" and chart.variation is VariationIcon.common_cause
    assert chart.assurance is AssuranceIcon.hit_and_miss


def test_each_rule_on_a_hand_made_series():
    up = list(FLAT)
    up[5:12] = [44, 46, 48, 50, 52, 54, 56]  # seven rising points, crossing the mean
    chart = _chart(up, improvement="decrease")
    f = chart.frame
    assert f.trend.iloc[5:12].all() and not f.trend.iloc[12:].any()
    assert set(f.rule.iloc[5:12]) <= {"trend", "beyond_limits"} and (f.side.iloc[5:12] == "high").all()
    assert (f.point_type.iloc[5:12] == "special_cause_concern").all()
    run = [46.0, 54.0] * 12
    run[9:19] = [46, 53, 52, 53, 52, 53, 52, 53, 52, 46]  # eight above the mean, alternating before and after
    f = _chart(run, improvement="increase").frame
    assert f["shift"].iloc[10:18].all() and not f["shift"].iloc[:10].any()
    assert (f.point_type[f.rule == "shift"] == "special_cause_improvement").all()
    spike = list(FLAT)
    spike[20] = 80
    f = _chart(spike, improvement="neutral").frame
    assert f.rule.iat[20] == "beyond_limits" and f.point_type.iat[20] == "special_cause_neutral"
    assert f.icon.iat[20] == "neutral_high"


def test_latest_point_gives_the_variation_icon_and_the_limits_give_assurance():
    low = list(FLAT)
    low[-1] = 30
    chart = _chart(low, improvement="increase", target=40)
    assert chart.variation is VariationIcon.concern_low
    assert chart.assurance is AssuranceIcon.consistent_pass  # the target is below the lower limit
    chart = _chart(low, improvement="decrease", target=70)
    assert chart.variation is VariationIcon.improvement_low and chart.assurance is AssuranceIcon.consistent_pass
    assert assurance(Improvement.decrease, 30, 40, 60) is AssuranceIcon.consistent_fail
    assert assurance(Improvement.increase, 70, 40, 60) is AssuranceIcon.consistent_fail
    assert assurance(Improvement.increase, 60, 40, 60) is AssuranceIcon.hit_and_miss  # on the limit: not beyond
    assert assurance(Improvement.neutral, 70, 40, 60) is None and assurance(Improvement.increase, None, 40, 60) is None


def test_limits_change_only_at_a_declared_step_change():
    values = [60 + (i % 3) for i in range(18)] + [40 + (i % 3) for i in range(18)]
    periods = pd.date_range("2018-01-01", periods=36, freq="MS")
    whole = xmr(periods, values)
    assert len(whole.baselines) == 1  # a visible drop does not re-phase the baseline by itself
    assert (whole.frame.rule != "").sum() > 0
    split = xmr(periods, values, step_changes=["2019-07-01"])
    assert [b.mean for b in split.baselines] == pytest.approx([61, 41])
    assert split.step_changes == (pd.Timestamp("2019-07-01"),)
    assert split.frame.baseline.tolist() == [0] * 18 + [1] * 18
    assert np.isnan(split.frame.moving_range.iat[18])  # no moving range across the step
    fixed = xmr(periods, values, baseline_points=15)
    assert fixed.baselines[0].n_limit_values == 15 and fixed.baselines[0].mean == pytest.approx(61)
    assert fixed.frame.in_baseline.tolist() == [True] * 15 + [False] * 21


def test_suppressed_values_change_nothing_and_are_blanked():
    values = [float(v) for v in FLAT]
    mask = [False] * 24
    mask[7] = mask[15] = True
    a = _chart(values, suppressed=mask, improvement="increase", target=49)
    values[7], values[15] = 3.0, 4000.0
    b = _chart(values, suppressed=mask, improvement="increase", target=49)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.baselines == b.baselines
    assert a.frame.value.isna().sum() == 2 and a.frame.suppressed.sum() == 2
    assert a.frame.loc[7, "rule"] == "" and a.frame.loc[7, "point_type"] == ""
    assert np.isnan(a.frame.moving_range.iat[8])  # no moving range next to a gap
    assert a.baselines[0].n_values == 22


def test_a_gap_breaks_a_run():
    run = [46.0, 54.0] * 12
    run[5:15] = [46, 53, 52, 53, 52, 53, 52, 53, 52, 46]
    whole = _chart(run)
    assert whole.frame["shift"].iloc[6:14].all()
    run[9] = float("nan")  # three above, a missing month, four above: no run of seven
    gapped = _chart(run)
    assert not gapped.frame["shift"].any()


def test_the_latest_shown_point_gives_the_icon_when_the_last_is_suppressed():
    values = list(FLAT)
    values[-2] = 80
    mask = [False] * 23 + [True]
    chart = _chart(values, suppressed=mask, improvement="decrease")
    assert chart.latest_period == MONTHS[22] and chart.variation is VariationIcon.concern_high


@pytest.mark.parametrize("kwargs, error, message", [
    ({"step_changes": ["2030-01-01"]}, OptionError,
     "knife_sv: step change 2030-01-01 is outside the data (2019-01-01 to 2020-12-01); expected a period after the first"),
    ({"step_changes": ["2019-01-01"]}, OptionError, "step change 2019-01-01 is outside the data"),
    ({"step_changes": ["2019-06-15"]}, OptionError,
     "knife_sv: step change 2019-06-15 is not a period of the series; expected one of its periods, e.g. 2019-07-01"),
    ({"step_changes": ["soon"]}, OptionError, "knife_sv: step change 'soon' is not a date"),
    ({"step_changes": ["March"]}, OptionError, "knife_sv: step change 'March' is not a date; expected a period of the "
                                                "series such as 2019-01-01"),
    ({"step_changes": ["2019-07-01", "2019-07-01"]}, OptionError, "a step change is declared twice"),
    ({"step_changes": ["2020-03-01"]}, EstimationError,
     "knife_sv: the baseline from 2019-01-01 to 2020-02-01 has 14 values; an XmR chart's limits need at least 15 "
     "(min_points sets it)"),
    ({"step_changes": ["2020-06-01"]}, EstimationError, "the baseline from 2020-06-01 to 2020-12-01 has 7 values"),
    ({"baseline_points": 20, "step_changes": ["2020-06-01"]}, EstimationError,
     "the baseline from 2020-06-01 to 2020-12-01 has 7 values in its first 20 periods"),
    ({"min_points": 30}, EstimationError, "has 24 values; an XmR chart's limits need at least 30"),
    ({"baseline_points": 10}, OptionError, "baseline_points 10 is not valid; expected a whole number of at least "
                                           "min_points (15)"),
    ({"improvement": "up"}, OptionError,
     "knife_sv: improvement: 'up' is not a valid choice; expected one of 'increase', 'decrease', 'neutral'"),
    ({"target": "ten"}, OptionError, "knife_sv: target 'ten' is not a number"),
])
def test_bad_options_are_one_line(kwargs, error, message):
    with pytest.raises(error) as info:
        xmr(MONTHS, FLAT, name="knife_sv", **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("periods, values, message", [
    (list(MONTHS[:23]) + [MONTHS[0]], FLAT, "knife_sv: period 2019-01-01 appears 2 times; expected one value per period"),
    (MONTHS, FLAT[:-1] + ["n/a"], "knife_sv: value for 2020-12-01 is 'n/a'; expected a finite number or missing"),
    (MONTHS, FLAT[:-1] + [float("inf")], "value for 2020-12-01 is inf"),
    (MONTHS[:23], FLAT, "knife_sv: 23 periods but 24 values"),
    (["2019-01-01", "March"] + list(MONTHS[2:]), FLAT,
     "knife_sv: period 'March' is not a date; expected dates such as 2024-01-01"),
    ([None] + list(MONTHS[1:]), FLAT, "knife_sv: period None is missing; expected a date"),
    (MONTHS, [50.0, float("nan")] * 12, "has no two consecutive values, so no moving range"),
])
def test_bad_series_are_one_line(periods, values, message):
    with pytest.raises(EvalkitError) as info:
        xmr(periods, values, name="knife_sv", min_points=12)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_too_few_points_from_the_cli_path_is_not_a_traceback():
    # the CLI turns every EvalkitError into one line; a short series raises one, not a numpy warning
    with pytest.raises(EstimationError, match="has 5 values"):
        xmr(MONTHS[:5], FLAT[:5], name="x")


SCRIPT = """
import json, sys
import pandas as pd
from evalkit.monitor.spc import xmr
rows = json.loads(sys.argv[1])
chart = xmr([r[0] for r in rows], [r[1] for r in rows], improvement="decrease", target=50,
            step_changes=["2021-01-01"], suppressed=[r[2] for r in rows], min_points=12)
sys.stdout.write(chart.frame.to_csv(index=False, float_format="%.17g"))
"""


def test_same_result_in_another_process_with_rows_in_any_order():
    rng = np.random.default_rng(5)
    periods = pd.date_range("2019-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    values = rng.poisson(50, 36).astype(float)
    rows = [[p, v, bool(i == 20)] for i, (p, v) in enumerate(zip(periods, values))]
    outs = []
    for seed, order in (("1", rows), ("2", rows[::-1]), ("3", [rows[i] for i in rng.permutation(36)])):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(order)], capture_output=True, text=True,
                              env=env, check=True)
        outs.append(done.stdout)
    assert outs[0] == outs[1] == outs[2] and len(outs[0].splitlines()) == 37


# ---------------------------------------------------------------- the figure


def _figure_json(fig) -> dict:
    return json.loads(fig.to_json())


def test_the_figure_draws_no_suppressed_value():
    values = [float(v) for v in FLAT]
    values[7] = 4.375  # a value that appears nowhere else
    mask = [False] * 24
    mask[7] = True
    chart = _chart(values, suppressed=mask, improvement="increase", target=49)
    fig = xmr_figure(chart.frame, title="t", counts=True, min_count=5, moving_range=True)
    data = _figure_json(fig)
    points = data["data"][0]
    assert points["meta"] == "ek-counts" and isinstance(points["y"], list)
    assert points["y"][7] is None and points["customdata"][7] == "suppressed"
    assert "4.375" not in fig.to_json()
    mr = next(t for t in data["data"] if t.get("name") == "moving range")
    assert mr["y"][7] is None and mr["y"][8] is None
    notes = " ".join(a["text"].replace("<br>", " ") for a in data["layout"]["annotations"])
    assert "1 period suppressed (counts from 1 to 4)" in notes
    assert len(data["layout"]["shapes"]) == 2  # the shaded period, on both rows


def test_a_mask_over_values_the_limits_used_is_refused():
    chart = _chart(FLAT)
    mask = [False] * 24
    mask[3] = True
    with pytest.raises(DataError, match="computed from the value for 2019-04-01, which is to be suppressed"):
        xmr_figure(chart.frame, suppressed=mask)
    # the same mask given to xmr() first: accepted, and drawn as a gap
    fig = xmr_figure(_chart(FLAT, suppressed=mask).frame, suppressed=mask)
    assert _figure_json(fig)["data"][0]["y"][3] is None


def test_the_figure_shows_icons_limits_per_baseline_and_the_target():
    values = [60 + (i % 3) for i in range(18)] + [40 + (i % 3) for i in range(18)]
    periods = pd.date_range("2018-01-01", periods=36, freq="MS")
    chart = xmr(periods, values, improvement="decrease", target=45, step_changes=["2019-07-01"])
    data = _figure_json(xmr_figure(chart.frame, title="Knife crime"))
    mean = next(t for t in data["data"] if t.get("name") == "mean")
    assert mean["y"] == [61.0, 61.0, None, 41.0, 41.0]
    target = next(t for t in data["data"] if t.get("name") == "target")
    assert target["y"] == [45.0, 45.0]
    texts = [a["text"].replace("<br>", " ") for a in data["layout"]["annotations"]]  # wrapped to fit
    assert any(t.startswith("<b>Variation</b> (Dec 2020): Common cause") for t in texts)
    assert any("Assurance</b>: The process will consistently meet the target" in t for t in texts)
    assert any("Limits recalculated from Jul 2019 (step change)" in t for t in texts)
