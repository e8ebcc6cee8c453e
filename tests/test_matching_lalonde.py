"""Reference: evalkit reproduces MatchIt 4.5.1 (with the upstream #163 fix) on the Lalonde data.

The numbers and pairs were made by ``tests/reference/peers/matchit_lalonde*.R`` (see the README
there). Every number is compared at 1e-6 relative; the pairs must be identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.estimate.matching import effect, match
from evalkit.estimate.matching.effects import wls_cluster
from evalkit.spec.raw import Matching

PEERS = Path(__file__).resolve().parent / "reference" / "peers"
REF = json.loads((PEERS / "matchit_lalonde.json").read_text())
PAIRS = json.loads((PEERS / "matchit_lalonde_pairs.json").read_text())
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
RTOL = 1e-6

# MatchIt's distance = "glm" matches on the probability; link = "linear.logit" on the logit
OPTIONS = {
    "a_nn_noreplace_nocaliper": dict(caliper_scale="probability"),
    "b_nn_noreplace_caliper02": dict(caliper_scale="probability", caliper=0.2),
    "b2_nn_noreplace_caliper02_linearlogit": dict(caliper_scale="logit", caliper=0.2),
    "c_nn_replace_nocaliper": dict(caliper_scale="probability", replace=True),
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(PEERS / "lalonde_matchit.csv")


@pytest.fixture(scope="module", params=list(OPTIONS))
def spec(request, lalonde):
    key = request.param
    res = match(lalonde, treatment="treat", covariates=COVARIATES, options=Matching(**OPTIONS[key]),
                id_column="id")
    return key, REF["specs"][key], res


def _by_matchit_name(res) -> dict:
    # MatchIt names factor levels "raceblack"; evalkit "race:black"
    return {r["term"].replace("race:", "race"): r for r in res.balance["rows"]}


def test_same_pairs(spec):
    key, _ref, res = spec
    long = res.long
    treated = long[long["treated"] == 1].set_index("set")["unit"]
    controls = long[long["treated"] == 0]
    got = sorted(zip(treated.loc[controls["set"]].tolist(), controls["unit"].tolist()))
    expected = sorted((p["treated"], p["control"]) for p in PAIRS[key])
    assert got == expected


def test_sample_sizes(spec):
    _key, ref, res = spec
    assert res.counts["pool"] == {"treated": ref["n_treated"], "comparison": ref["n_control"]}
    assert res.counts["matched"]["treated"] == ref["n_matched_treated"]
    assert res.counts["matched"]["comparison"] == ref["n_unique_controls_used"]
    w = res.unit_weights[~res.treated & (res.unit_weights > 0)]
    assert w.sum() == pytest.approx(ref["n_matched_control_weighted"], rel=RTOL)
    assert res.matching["ess_after"]["comparison"] == pytest.approx(ref["n_matched_control_ess"], rel=RTOL)


def test_caliper(spec):
    _key, ref, res = spec
    if ref["caliper_abs"] is None:
        assert "width" not in res.matching["caliper"]
    else:
        assert res.matching["caliper"]["width"] == pytest.approx(ref["caliper_abs"], rel=RTOL)
    assert res.matching["max_pair_distance"]["matched_scale"] == pytest.approx(ref["max_matched_pair_distance"],
                                                                               rel=RTOL)


@pytest.mark.parametrize("stat,ref_key", [("smd_before", "smd_before"), ("smd_after", "smd_after"),
                                          ("var_ratio_after", "var_ratio_after"),
                                          ("ecdf_max_after", "ecdf_max_after"),
                                          ("mean_treated_after", "matched_means_treated"),
                                          ("mean_comparison_after", "matched_means_control")])
def test_balance(spec, stat, ref_key):
    _key, ref, res = spec
    if ref_key not in ref:
        pytest.skip(f"{ref_key} not recorded for this specification")
    rows = _by_matchit_name(res)
    for term, expected in ref[ref_key].items():
        got = rows[term][stat]
        if expected is None:
            assert got is None, term
        else:
            assert got == pytest.approx(expected, rel=RTOL, abs=1e-12), term


def test_distance_smd(spec):
    _key, ref, res = spec
    assert res.balance["distance"]["smd_before"] == pytest.approx(ref["smd_distance_before"], rel=RTOL)
    assert res.balance["distance"]["smd_after"] == pytest.approx(ref["smd_distance_after"], rel=RTOL)


def test_att_and_cluster_se(spec):
    _key, ref, res = spec
    eff = effect(res, res.pool["re78"].to_numpy())
    assert eff["estimate"] == pytest.approx(ref["att_re78"], rel=RTOL)
    assert eff["std_error"] == pytest.approx(ref["se_primary"], rel=RTOL)
    assert "two-way" in eff["method"] if res.options.replace else "by matched set" in eff["method"]


def test_other_standard_errors(spec):
    """The same sandwich engine gives MatchIt/sandwich's HC1 and one-way cluster SEs too."""
    _key, ref, res = spec
    long = res.long
    y = res.pool["re78"].to_numpy()[long["row"].to_numpy()]
    X = np.column_stack([np.ones(len(long)), long["treated"].to_numpy(float)])
    w = long["weight"].to_numpy()
    if res.options.replace:
        one_way = wls_cluster(y, X, w, [long["set"].to_numpy()])
        assert np.sqrt(one_way.vcov[1, 1]) == pytest.approx(ref["se"]["getmatches_cluster_subclass_HC1"], rel=RTOL)
        # HC1 on match.data: one row per unit with MatchIt's unit weights
        used = res.unit_weights > 0
        Xu = np.column_stack([np.ones(used.sum()), res.treated[used].astype(float)])
        hc1 = wls_cluster(res.pool["re78"].to_numpy()[used], Xu, res.unit_weights[used])
    else:
        hc1 = wls_cluster(y, X, w)
        hc0_cl = wls_cluster(y, X, w, [long["set"].to_numpy()])
        assert np.sqrt(hc0_cl.vcov[1, 1]) == pytest.approx(ref["se"]["cluster_subclass_HC1"], rel=RTOL)
    assert np.sqrt(hc1.vcov[1, 1]) == pytest.approx(ref["se"]["HC1"], rel=RTOL)


def test_unmatched_difference_is_the_raw_difference(lalonde):
    raw = lalonde.loc[lalonde.treat == 1, "re78"].mean() - lalonde.loc[lalonde.treat == 0, "re78"].mean()
    assert raw == pytest.approx(REF["raw_difference_in_means_re78"], rel=1e-9)


def test_std_caliper_is_in_sds_of_the_covariate_over_units_not_discarded(lalonde):
    """Issue 15 point 9: covariate calipers in SD units, as MatchIt's std.caliper = TRUE
    (R/input_processing.R, process.caliper: caliper * sd(data[[x]][!discarded]))."""
    base = dict(caliper_scale="probability", caliper=0.2, discard="both")
    sd_units = match(lalonde, treatment="treat", covariates=COVARIATES,
                     options=Matching(**base, calipers={"age": 0.5, "re75": 0.25}, std_caliper=True), id_column="id")
    kept = ~sd_units.discarded
    widths = {c: f * float(np.std(sd_units.pool[c].to_numpy(float)[kept], ddof=1))
              for c, f in (("age", 0.5), ("re75", 0.25))}
    assert sd_units.matching["caliper"]["covariate_widths"] == pytest.approx(widths, rel=1e-12)
    own_units = match(lalonde, treatment="treat", covariates=COVARIATES,
                      options=Matching(**base, calipers=widths), id_column="id")
    assert sd_units.long.equals(own_units.long) and len(sd_units.long) > 0
    # and in the covariates' own units the same numbers mean something else entirely
    plain = match(lalonde, treatment="treat", covariates=COVARIATES,
                  options=Matching(**base, calipers={"age": 0.5, "re75": 0.25}), id_column="id")
    assert not plain.long.equals(sd_units.long)
