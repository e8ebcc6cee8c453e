"""The place-based core: panel validation, synthetic control, area difference-in-differences, recovery.

Bad input: each rule of the comparison-area panel has its message asserted. Known truth: the
synthetic panel of evalkit.synth.place plants an effect in the treated area; the estimators must
recover it within their intervals. Determinism: the same numbers in another process, with another
PYTHONHASHSEED and the rows shuffled.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError, EvalkitError, OptionError
from evalkit.estimate.place.area_did import area_did
from evalkit.estimate.place.panel import Measure, PanelError, check_inside_hull, comparison_panel
from evalkit.estimate.place.synthetic_control import synthetic_control
from evalkit.synth.place import TREATED_AREA, place_measures, place_panel

SEED = 20240301
ONE = (Measure("knife_sv_offences", "knife_sv_offences", "population"),)


@pytest.fixture(scope="module")
def example():
    frame, truth = place_panel(np.random.default_rng(SEED))
    return frame, {t.measure: t for t in truth}


@pytest.fixture(scope="module")
def small():
    """19 donors (the minimum) and one measure: fast enough to rerun in a subprocess."""
    frame, truth = place_panel(np.random.default_rng(SEED), n_donors=19)
    return frame, {t.measure: t for t in truth}


def _panel(frame, **kw):
    kw.setdefault("treated_from", "treated_from")
    return comparison_panel(frame, kw.pop("measures", ONE), source="areas.csv", **kw)


# ------------------------------------------------------------------------------ bad input, one line each


def _error(frame, **kw) -> str:
    with pytest.raises(PanelError) as info:
        _panel(frame, **kw)
    text = str(info.value)
    assert "\n" not in text and text.startswith("areas.csv: ")
    assert isinstance(info.value, DataError) and isinstance(info.value, EvalkitError)
    return text


def test_treated_area_missing(small):
    frame, _ = small
    text = _error(frame, treated={"Leicestr": "2019-10"}, treated_from=None)
    assert "treated area 'Leicestr' is not in the panel (did you mean 'Leicester'?); found 20 areas" in text


def test_too_few_donors(small):
    frame, _ = small
    keep = frame[~frame["area"].isin(["Comparison CSP 01", "Comparison CSP 02"])]
    text = _error(keep)
    assert "17 donor area(s); expected at least 19" in text and "cannot be below 1/(J+1) (1/18 = 0.056 here)" in text


def test_too_few_pre_periods(small):
    frame, _ = small
    late = frame[frame["month"] >= "2018-01"]
    text = _error(late)
    assert "Leicester has 21 pre-period month(s) (2018-01 to 2019-09); expected at least 24" in text


def test_gap_in_pre_period(small):
    frame, _ = small
    gap = frame.drop(frame.index[(frame["area"] == "Comparison CSP 05") & frame["month"].isin(["2017-03", "2017-04"])])
    text = _error(gap)
    assert "Comparison CSP 05 has no row for 2 month(s) in the pre-period: 2017-03, 2017-04" in text
    assert "expected one row per area for every month from 2016-01 to 2023-12" in text


def test_duplicate_area_month(small):
    frame, _ = small
    dup = pd.concat([frame, frame.iloc[[10]]], ignore_index=True)
    text = _error(dup)
    assert f"lines 12, {len(frame) + 2}: 2 rows for Leicester 2016-11" in text
    assert "expected one row per area and month" in text


def test_population_not_positive(small):
    frame, _ = small
    bad = frame.copy()
    bad.loc[30, "population"] = 0
    text = _error(bad)
    assert "line 32: population column 'population' holds 0.0; expected a positive population" in text


def test_suppressed_count(small):
    frame, _ = small
    bad = frame.copy()
    bad["knife_sv_offences"] = bad["knife_sv_offences"].astype(object)
    bad.loc[40, "knife_sv_offences"] = None
    text = _error(bad)
    assert "line 42: count column 'knife_sv_offences' is empty (public tables suppress small counts" in text


def test_count_not_whole(small):
    frame, _ = small
    bad = frame.copy()
    bad["knife_sv_offences"] = bad["knife_sv_offences"].astype(float)
    bad.loc[3, "knife_sv_offences"] = 2.5
    assert "holds 2.5; expected whole numbers of events, 0 or more" in _error(bad)


def test_bad_month(small):
    frame, _ = small
    bad = frame.copy()
    bad.loc[5, "month"] = "Oct 19th"
    assert "line 7: column 'month' holds 'Oct 19th'; expected a calendar month such as 2019-10" in _error(bad)


def test_donor_treated_during_window(small):
    frame, _ = small
    bad = frame.copy()
    bad.loc[bad["area"] == "Comparison CSP 03", "treated_from"] = "2021-04"
    text = _error(bad, treated={TREATED_AREA: "2019-10"})
    assert ("donor Comparison CSP 03 was treated from 2021-04, inside the window 2016-01 to 2023-12; expected donors "
            "untreated throughout: leave Comparison CSP 03 out of the donors, or end the window before 2021-04") in text


def test_start_outside_window(small):
    frame, _ = small
    text = _error(frame, treated={TREATED_AREA: "2025-01"}, treated_from=None)
    assert "Leicester starts in 2025-01, outside the panel's months" in text


def test_missing_column(small):
    frame, _ = small
    text = _error(frame.rename(columns={"population": "Population"}))
    assert "no column 'population' (population of knife_sv_offences) (did you mean 'Population'?)" in text


def test_treated_outside_convex_hull(small):
    frame, _ = small
    high = frame.copy()
    rows = high["area"] == TREATED_AREA
    high.loc[rows, "knife_sv_offences"] = high.loc[rows, "knife_sv_offences"] * 4
    panel = _panel(high)
    with pytest.raises(PanelError) as info:
        check_inside_hull(panel, "knife_sv_offences")
    text = str(info.value)
    assert "Leicester's pre-period knife_sv_offences rate (mean" in text and "above every donor's (nearest:" in text
    assert "no weighted average of donors can match it" in text
    with pytest.raises(PanelError):
        synthetic_control(panel, "knife_sv_offences")
    # the augmented estimator extrapolates, so it runs (and says it is the augmented one)
    assert synthetic_control(panel, "knife_sv_offences", method="augmented").method == "augmented"


def test_method_choice_listed(small):
    frame, _ = small
    with pytest.raises(OptionError, match="method: 'lasso' is not a valid choice; expected one of 'synth', 'augmented'"):
        synthetic_control(_panel(frame), "knife_sv_offences", method="lasso")


# ------------------------------------------------------------------------------ the synthetic control


@pytest.fixture(scope="module")
def small_fit(small):
    frame, truth = small
    return synthetic_control(_panel(frame), "knife_sv_offences"), truth["knife_sv_offences"]


def test_exact_rank_p_value_over_donors(small_fit):
    res, _ = small_fit
    J = res.n_donors
    assert J == 19 and len(res.placebos) == J
    ratios = [p.ratio for p in res.placebos]
    rank = 1 + sum(r >= res.rmspe_ratio for r in ratios)
    assert res.rank == rank and res.p_value == rank / (J + 1)
    assert res.p_value in {k / (J + 1) for k in range(1, J + 2)}
    assert res.rmspe_ratio == pytest.approx(res.post_rmspe / res.pre_rmspe)
    assert {p.area for p in res.placebos} == {w.area for w in res.weights}


def test_weights_and_frames(small_fit):
    res, _ = small_fit
    w = np.array([d.weight for d in res.weights])
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0) and np.all(np.diff(w) <= 0)
    months = res.to_frame()
    assert len(months) == 96 and (months["period"] == "pre").sum() == 45
    post = months[months["period"] == "post"]
    assert post["events_prevented"].sum() == pytest.approx(res.events_prevented)
    assert post["cumulative_prevented"].iloc[-1] == pytest.approx(res.events_prevented)
    assert np.allclose(months["gap"], months["observed_rate"] - months["synthetic_rate"])
    assert (months["gap_low"] <= months["gap"]).all() and (months["gap"] <= months["gap_high"]).all()
    # with 19 donors the permutation interval reaches 1 - 2/20 = 90%, and says so
    assert res.events_prevented_interval.level == pytest.approx(0.9)
    assert res.pre_rmspe == pytest.approx(np.sqrt(np.mean(months.loc[months["period"] == "pre", "gap"] ** 2)))
    assert res.placebo_in_time["fake_start"] == "2018-10"
    assert res.convention.startswith("Abadie, Diamond & Hainmueller (2010)")


def test_placebo_in_time_uses_no_post_period_data(small):
    """Changing every month from the real start on cannot change the placebo-in-time result."""
    frame, _ = small
    a = synthetic_control(_panel(frame), "knife_sv_offences")
    later = frame.copy()
    post = later["month"] >= "2019-10"
    later.loc[post, "knife_sv_offences"] = later.loc[post, "knife_sv_offences"] * 3
    b = synthetic_control(_panel(later), "knife_sv_offences")
    assert a.placebo_in_time == b.placebo_in_time
    assert a.weights == b.weights and a.pre_rmspe == b.pre_rmspe


_SUBPROCESS = """
import json, sys
import numpy as np, pandas as pd
from evalkit.synth.place import place_panel
from evalkit.estimate.place.panel import Measure, comparison_panel
from evalkit.estimate.place.synthetic_control import synthetic_control
from evalkit.estimate.place.area_did import area_did
frame, _ = place_panel(np.random.default_rng(20240301), n_donors=19)
frame = frame.sample(frac=1.0, random_state=int(sys.argv[1])).reset_index(drop=True)
panel = comparison_panel(frame, (Measure("knife_sv_offences", "knife_sv_offences", "population"),),
                         treated_from="treated_from")
out = {}
for method in ("synth", "augmented"):
    r = synthetic_control(panel, "knife_sv_offences", method=method)
    out[method] = [[w.area, w.weight] for w in r.weights] + [r.p_value, r.events_prevented,
        r.events_prevented_interval.low, r.events_prevented_interval.high, r.to_frame().to_json()]
d = area_did(panel, "knife_sv_offences", seed=5)
out["did"] = [d.estimate, d.std_error, d.permutation_p_value, d.bootstrap.p_value]
print(json.dumps(out))
"""


def test_deterministic_across_processes_and_row_order():
    runs = []
    for order, hashseed in ((1, "0"), (2, "12345")):
        env = {"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
        import os

        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "HOME"):
            if k in os.environ:
                env[k] = os.environ[k]
        out = subprocess.run([sys.executable, "-c", _SUBPROCESS, str(order)], capture_output=True, text=True,
                             env=env, check=True)
        runs.append(out.stdout)
    assert runs[0] == runs[1]
    assert json.loads(runs[0])["synth"][0][0]  # a donor name came back


@pytest.mark.parametrize("method", ["synth", "augmented"])
def test_placebo_fits_shared_over_two_processes_give_the_serial_result(small, monkeypatch, method):
    # issue 20: the placebo-in-space fits run in two forked processes (evalkit._parallel.fork_map);
    # every number, bit for bit, as when one process fits them all
    from evalkit import _parallel

    frame, _ = small
    calls = []
    real = _parallel.fork_map
    monkeypatch.setattr(_parallel, "fork_map",
                        lambda fn, items, **kw: calls.append((len(items), _parallel.processes())) or real(fn, items, **kw))
    two = synthetic_control(_panel(frame), "knife_sv_offences", method=method)
    monkeypatch.setenv(_parallel.PROCESSES_ENV, "1")
    one = synthetic_control(_panel(frame), "knife_sv_offences", method=method)
    assert calls == [(19, 2), (19, 1)]  # the 19 donors' placebo fits: two processes, then one
    assert two.months.to_csv() == one.months.to_csv()
    assert two.placebo_gaps.tobytes() == one.placebo_gaps.tobytes()
    assert [(r.area, r.pre_rmspe.hex(), r.post_rmspe.hex()) for r in two.placebos] == \
        [(r.area, r.pre_rmspe.hex(), r.post_rmspe.hex()) for r in one.placebos]
    assert (two.p_value, two.events_prevented, two.events_prevented_interval) == \
        (one.p_value, one.events_prevented, one.events_prevented_interval)


# ------------------------------------------------------------------------------ recovery of the planted effect


@pytest.mark.parametrize("measure", ["knife_sv_offences", "knife_sv_offences_u25"])
@pytest.mark.parametrize("method", ["synth", "augmented"])
def test_recovers_planted_effect_within_interval(example, measure, method):
    frame, truth = example
    panel = comparison_panel(frame, place_measures(), treated_from="treated_from", source="place.csv")
    res = synthetic_control(panel, measure, method=method)
    t = truth[measure]
    iv = res.events_prevented_interval
    assert res.n_donors == 39 and iv.level == pytest.approx(0.95)
    assert iv.low <= t.events_prevented <= iv.high, (res.events_prevented, iv, t.events_prevented)
    assert res.mean_gap_interval.low <= t.mean_rate_gap <= res.mean_gap_interval.high
    assert res.events_prevented > 0  # the right direction: fewer events than the counterfactual
    assert res.age_group == ("under 25" if measure.endswith("_u25") else "all ages")


def test_homicides_are_per_million(example):
    frame, _ = example
    panel = comparison_panel(frame, place_measures(), treated_from="treated_from")
    m = panel.measure("homicides")
    assert m.rate_per == 1_000_000 and m.rate_label() == "per 1,000,000"
    rate = panel.rate("homicides")
    i = panel.index(TREATED_AREA)
    assert rate[i, 0] == pytest.approx(panel.counts["homicides"][i, 0] / panel.populations["population"][i, 0] * 1e6)


# ------------------------------------------------------------------------------ area difference-in-differences


def test_area_did_matches_statsmodels_and_recovers_effect(example):
    import statsmodels.formula.api as smf

    frame, truth = example
    panel = comparison_panel(frame, place_measures(), treated_from="treated_from")
    res = area_did(panel, "knife_sv_offences", seed=3)
    tidy = panel.to_frame()
    tidy = tidy[tidy["measure"] == "knife_sv_offences"].copy()
    tidy["d"] = ((tidy["role"] == "treated") & tidy["post"]).astype(float)
    groups = pd.factorize(tidy["area"])[0]
    ols = smf.ols("rate ~ d + C(area) + C(month)", tidy).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert res.estimate == pytest.approx(ols.params["d"], rel=1e-10)
    # statsmodels counts every dummy in K; Stata xtreg / fixest do not count fixed effects nested in clusters
    N, K = len(tidy), len(ols.params)
    assert res.std_error == pytest.approx(ols.bse["d"] * np.sqrt((N - K) / (N - 1)), rel=1e-8)
    assert res.n_clusters == 40 and res.n_obs == 40 * 96
    t = truth["knife_sv_offences"]
    assert res.permutation_interval[0] <= t.mean_rate_gap <= res.permutation_interval[1]
    lo, hi, level = res.events_prevented_interval
    assert lo <= t.events_prevented <= hi and level == pytest.approx(0.95)
    assert res.permutation_p_value in {k / 40 for k in range(1, 41)}
    assert any("one treated area" in w for w in res.warnings)
    assert 0 < res.bootstrap.p_value <= 1 and "Rademacher" in res.bootstrap.method

    weighted = area_did(panel, "knife_sv_offences", weighting="population", bootstrap=None, permutation=False)
    wls = smf.wls("rate ~ d + C(area) + C(month)", tidy, weights=tidy["population"]).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    assert weighted.estimate == pytest.approx(wls.params["d"], rel=1e-8)
    assert weighted.std_error == pytest.approx(wls.bse["d"] * np.sqrt((N - K) / (N - 1)), rel=1e-6)


def test_area_did_calls_the_bootstrap_hook(small):
    frame, _ = small
    seen = {}

    def hook(y, X, clusters, *, coefficient, seed, level, weights):
        from evalkit.estimate.place.area_did import BootstrapResult

        seen.update(n=len(y), k=X.shape[1], G=len(np.unique(clusters)), seed=seed, level=level, weights=weights)
        return BootstrapResult(p_value=0.5, ci_low=-1.0, ci_high=1.0, draws=9, method="stand-in")

    res = area_did(_panel(frame), "knife_sv_offences", seed=11, bootstrap=hook, permutation=False)
    assert seen == {"n": 20 * 96, "k": 1, "G": 20, "seed": 11, "level": 0.95, "weights": None}
    assert res.bootstrap.method == "stand-in"
    # the demeaned regressors the hook gets give back the estimate (Frisch-Waugh-Lovell)
    assert res.permutation_p_value is None
