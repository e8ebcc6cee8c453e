"""Subgroup effects against R (glm/lm + sandwich) on committed data: tests/reference/subgroups/.

The data come from make_data.py and the numbers from reference.R (both committed beside them);
statsmodels is the reference elsewhere (tests/test_subgroups.py), but its GLM "HC1" applies no
n/(n-K) factor and its GLM HC2 differs from sandwich's, so the ratio models are checked here.
"""

from pathlib import Path

import pandas as pd
import pytest

from evalkit.estimate.subgroups import EffectModel, Scale, subgroup_effects

HERE = Path(__file__).resolve().parent / "reference" / "subgroups"
DATA = pd.read_csv(HERE / "subgroups_data.csv")
R = pd.read_csv(HERE / "r_reference.csv")

CASES = {
    # model name in r_reference.csv: (outcome, subgroup, scale, weights, clusters, covariance)
    "poisson_yb_eth_HC2": ("yb", "eth", Scale.ratio, None, (), "HC2"),
    "poisson_yb_eth_HC1": ("yb", "eth", Scale.ratio, None, (), "HC1"),
    "poisson_yb_eth_CR1": ("yb", "eth", Scale.ratio, None, ("school",), "CR1"),
    "poisson_yc_sex_w_HC2": ("yc", "sex", Scale.ratio, "w", (), "HC2"),
    "linear_y_sex_w_HC2": ("y", "sex", Scale.difference, "w", (), "HC2"),
    "linear_y_sex_w_CR1": ("y", "sex", Scale.difference, "w", ("school",), "CR1"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_r_sandwich(name):
    outcome, column, scale, weights, clusters, cov = CASES[name]
    model = EffectModel(design="rct", outcome=outcome, treatment="t", scale=scale, weights=weights,
                        clusters=clusters, covariates=("x",), covariance=cov)
    res = subgroup_effects(DATA, model, [column], min_arm=1, few_per_arm=1)
    ref = R[R.model == name]
    assert len(ref) == len(res.effects)
    for e in res.effects:
        row = ref[ref.term == f"{column}{e.level}:t"].iloc[0]
        got = e.estimate if scale is Scale.difference else __import__("math").log(e.estimate)
        assert got == pytest.approx(row.estimate, rel=1e-8, abs=1e-10)
        assert e.std_error == pytest.approx(row.std_error, rel=1e-8)
