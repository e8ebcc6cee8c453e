"""The synthetic demographics helper: derived columns, draws keyed by id, the planted difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import DataError, OptionError
from evalkit.estimate.subgroups import EffectModel, subgroup_effects
from evalkit.synth.demographics import COHORT_PROFILE, PlantedDifference, Profile, add_demographics


def cohort(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"pupil_id": [f"P{i:05d}" for i in rng.permutation(n)], "age": rng.integers(10, 18, n),
                       "female": (rng.random(n) < 0.45).astype(int), "imd_decile": rng.integers(1, 11, n),
                       "reach": rng.integers(0, 2, n)})
    df["susp"] = (rng.random(n) < 0.3).astype(int)
    df["sdq"] = np.clip(np.round(17 + rng.normal(0, 5, n)), 0, 40)
    return df


def test_columns_derived_and_drawn():
    base = cohort()
    out, truth = add_demographics(base, id_column="pupil_id", seed=3)
    assert truth is None and out.index.equals(base.index) and out["pupil_id"].equals(base["pupil_id"])
    assert ((out.sex == "female") == (base.female == 1)).all()
    assert (out.deprivation_quintile == (base.imd_decile + 1) // 2).all()
    assert set(out.age_band) == {"10-13", "14-15", "16-17"}
    assert set(out.ethnicity) <= {"Asian", "Black", "Mixed", "Other", "White"}
    assert 0.05 < out.care_experienced.mean() < 0.11 and 0.2 < out.sen.mean() < 0.3
    shares = out.ethnicity.value_counts(normalize=True)
    assert abs(shares["White"] - COHORT_PROFILE.ethnicity["White"]) < 0.04


def test_draws_keyed_by_id_not_row_order():
    base = cohort()
    a, _ = add_demographics(base, id_column="pupil_id", seed=3)
    b, _ = add_demographics(base.sample(frac=1, random_state=9), id_column="pupil_id", seed=3)
    cols = ["pupil_id", "ethnicity", "care_experienced", "sen", "sex"]
    pd.testing.assert_frame_equal(a[cols].set_index("pupil_id").sort_index(), b[cols].set_index("pupil_id").sort_index())
    c, _ = add_demographics(base, id_column="pupil_id", seed=4)
    assert not c.ethnicity.equals(a.ethnicity)


def test_planted_score_difference():
    base = cohort()
    out, truth = add_demographics(base, id_column="pupil_id", seed=3, planted=PlantedDifference(
        outcome="sdq", shift=-3, treatment="reach", bounds=(0, 40)))
    target = (out.care_experienced == 1) & (out.reach == 1)
    change = out.sdq - base.sdq
    assert (change[~target] == 0).all() and (change[target] <= 0).all()
    assert truth.value == pytest.approx(change[target].mean()) and truth.units_shifted == target.sum()
    assert truth.subgroup == "care_experienced=1" and truth.built_in == -3
    assert truth.as_true_effect("reach-2023-prepost", "sdq_total")["estimand"] == "subgroup_difference"
    res = subgroup_effects(out, EffectModel(design="rct", outcome="sdq", treatment="reach"), ["care_experienced"])
    diff = res.tests[0].differences[0]
    assert diff.ci_low <= truth.value <= diff.ci_high


def test_planted_binary_difference_and_pre_post():
    base = cohort()
    out, truth = add_demographics(base, id_column="pupil_id", seed=5, planted=PlantedDifference(
        outcome="susp", shift=-0.15, column="sex", level="female", treatment="reach"))
    target = (out.sex == "female") & (out.reach == 1)
    assert set(out.susp.unique()) <= {0, 1}
    assert truth.value == pytest.approx((out.susp - base.susp)[target].mean())
    assert -0.2 < truth.value < -0.1
    # pre/post: no treatment column, every unit in the level shifted
    pp, t2 = add_demographics(base, id_column="pupil_id", seed=5, planted=PlantedDifference(
        outcome="sdq", shift=2.0, column="age_band", level="16-17"))
    assert t2.units_shifted == (pp.age_band == "16-17").sum()


def test_bad_input():
    base = cohort(200)
    with pytest.raises(DataError, match="id column 'id' is not in the frame"):
        add_demographics(base, id_column="id", seed=1)
    with pytest.raises(DataError, match="repeats"):
        add_demographics(pd.concat([base, base.head(1)]), id_column="pupil_id", seed=1)
    with pytest.raises(DataError, match="outcome column 'score' is not in the frame"):
        add_demographics(base, id_column="pupil_id", seed=1, planted=PlantedDifference(outcome="score", shift=1))
    with pytest.raises(DataError, match="no unit with ethnicity=Roma"):
        add_demographics(base, id_column="pupil_id", seed=1, planted=PlantedDifference(
            outcome="sdq", shift=1, column="ethnicity", level="Roma"))
    with pytest.raises(OptionError, match="between -1 and 1"):
        add_demographics(base, id_column="pupil_id", seed=1, planted=PlantedDifference(outcome="susp", shift=2))
    with pytest.raises(OptionError, match="must each add up to 1"):
        add_demographics(base, id_column="pupil_id", seed=1, profile=Profile(ethnicity={"White": 0.5}))
