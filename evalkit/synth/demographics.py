"""Demographic columns for a synthetic cohort, with a difference planted in one subgroup.

:func:`add_demographics` adds the declared subgroup columns of a VRU evaluation to a cohort frame
(sex, ethnic group, deprivation quintile, special educational needs, care experience, age band),
deriving them from columns the frame already has (``female``, ``imd_decile``, ``sen``, ``age``)
and drawing the rest from an illustrative profile. It can then plant an effect difference in one
subgroup: the outcome of the treated units (every unit, for a pre/post change) in that level is
shifted, and the realised shift on *this* sample is returned as the true subgroup difference, so
``evalkit synth --check`` can put the recovered interaction beside it.

Draws are keyed by the seed and the units' ids (the frame is put in id order first), so the same
units get the same values whatever order the rows come in. The shares in :data:`COHORT_PROFILE`
are illustrative, not estimates of any real cohort.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.errors import DataError, OptionError

ETHNIC_GROUPS = ("Asian", "Black", "Mixed", "Other", "White")  # the five broad Census groups


@dataclass(frozen=True)
class Profile:
    """Shares used where the frame has no column to derive a characteristic from."""

    female: float = 0.40
    ethnicity: Mapping[str, float] = field(default_factory=lambda: {
        "White": 0.62, "Asian": 0.20, "Black": 0.07, "Mixed": 0.07, "Other": 0.04})
    sen: float = 0.25
    care_experienced: float = 0.08
    deprivation_quintile: tuple[float, ...] = (0.36, 0.24, 0.17, 0.13, 0.10)  # quintile 1 = most deprived
    age_edges: tuple[int, ...] = (10, 14, 16, 18)  # bands 10-13, 14-15, 16-17


COHORT_PROFILE = Profile()


@dataclass(frozen=True)
class PlantedDifference:
    """An extra effect in one subgroup level: ``shift`` added to ``outcome`` for its treated units."""

    outcome: str
    shift: float  # points for a score; a change in probability for a 0/1 outcome
    column: str = "care_experienced"
    level: str = "1"
    treatment: str | None = None  # 0/1 column; None: every unit (a pre/post follow-up score)
    bounds: tuple[float, float] | None = None  # a bounded score is clipped back into range


@dataclass(frozen=True)
class PlantedTruth:
    """What was planted, as a dictionary entry's true effect."""

    outcome: str
    subgroup: str  # "column=level"
    built_in: float  # the shift asked for
    value: float  # the realised mean change in the outcome of the units shifted (the true interaction)
    units_shifted: int
    description: str

    def as_true_effect(self, evaluation: str | None, indicator: str) -> dict:
        return {"evaluation": evaluation, "indicator": indicator, "estimand": "subgroup_difference",
                "subgroup": self.subgroup, "value": self.value, "built_in": self.built_in,
                "description": self.description}


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


def add_demographics(frame: pd.DataFrame, *, id_column: str, seed: int, profile: Profile = COHORT_PROFILE,
                     planted: PlantedDifference | None = None) -> tuple[pd.DataFrame, PlantedTruth | None]:
    """The frame with ``sex``, ``ethnicity``, ``deprivation_quintile``, ``sen``, ``care_experienced``
    and (when it has ``age``) ``age_band`` added, and the planted difference applied."""
    from evalkit.estimate.subgroups import age_band, deprivation_quintile

    if id_column not in frame.columns:
        raise DataError(f"id column '{id_column}' is not in the frame; it has " + ", ".join(map(str, frame.columns)))
    if frame[id_column].duplicated().any():
        raise DataError(f"id column '{id_column}' repeats; expected one row per unit")
    if abs(sum(profile.ethnicity.values()) - 1) > 1e-9 or abs(sum(profile.deprivation_quintile) - 1) > 1e-9:
        raise OptionError("profile: ethnicity and deprivation shares must each add up to 1")
    order = np.argsort(frame[id_column].astype(str).to_numpy(), kind="stable")
    work = frame.iloc[order].reset_index(drop=True).copy()
    n = len(work)
    draw = {name: _rng(seed, f"demographics/{name}") for name in
            ("sex", "ethnicity", "deprivation", "sen", "care", "planted")}
    if "female" in work.columns:
        work["sex"] = np.where(pd.to_numeric(work["female"]) == 1, "female", "male")
    else:
        work["sex"] = np.where(draw["sex"].random(n) < profile.female, "female", "male")
    groups = sorted(profile.ethnicity)
    work["ethnicity"] = draw["ethnicity"].choice(groups, size=n, p=[profile.ethnicity[g] for g in groups])
    if "imd_decile" in work.columns:
        work["deprivation_quintile"] = deprivation_quintile(work["imd_decile"]).to_numpy()
    else:
        work["deprivation_quintile"] = draw["deprivation"].choice(np.arange(1, 6), size=n,
                                                                  p=list(profile.deprivation_quintile))
    if "sen" not in work.columns:
        work["sen"] = (draw["sen"].random(n) < profile.sen).astype(int)
    work["care_experienced"] = (draw["care"].random(n) < profile.care_experienced).astype(int)
    if "age" in work.columns:
        work["age_band"] = age_band(work["age"], profile.age_edges).to_numpy()

    truth = None
    if planted is not None:
        work, truth = _plant(work, planted, draw["planted"])
    back = np.empty(n, dtype=np.intp)
    back[order] = np.arange(n)
    out = work.iloc[back].set_index(frame.index)
    return out, truth


def _plant(work: pd.DataFrame, p: PlantedDifference, rng: np.random.Generator):
    for role, col in (("outcome", p.outcome), ("subgroup", p.column), ("treatment", p.treatment)):
        if col is not None and col not in work.columns:
            raise DataError(f"planted difference: {role} column '{col}' is not in the frame")
    labels = work[p.column].map(lambda v: str(int(v)) if isinstance(v, (int, np.integer, float)) and float(v).is_integer()
                                else str(v))
    target = (labels == str(p.level)).to_numpy()
    if p.treatment is not None:
        target &= pd.to_numeric(work[p.treatment]).to_numpy() == 1
    y = pd.to_numeric(work[p.outcome], errors="coerce").to_numpy(dtype=float)
    seen = target & ~np.isnan(y)
    if not seen.any():
        raise DataError(f"planted difference: no unit with {p.column}={p.level}"
                        + (f" and {p.treatment}=1" if p.treatment else "") + f" has '{p.outcome}' observed")
    u = rng.random(len(y))  # one draw per unit, in id order, used only for 0/1 outcomes
    new = y.copy()
    binary = bool(np.isin(y[~np.isnan(y)], (0.0, 1.0)).all())
    if binary:
        if not -1 < p.shift < 1:
            raise OptionError(f"planted shift for a 0/1 outcome: found {p.shift}; expected a change in probability "
                              "between -1 and 1")
        base = float(y[seen].mean())
        if p.shift < 0:  # some of the 1s become 0s
            q = min(1.0, -p.shift / base) if base > 0 else 0.0
            new[seen & (y == 1) & (u < q)] = 0.0
        else:
            q = min(1.0, p.shift / (1 - base)) if base < 1 else 0.0
            new[seen & (y == 0) & (u < q)] = 1.0
        what = "change in the probability of the outcome"
    else:
        new[seen] = y[seen] + p.shift
        if p.bounds is not None:
            new[seen] = np.clip(new[seen], *p.bounds)
        what = "points added to the outcome"
    work = work.copy()
    work[p.outcome] = np.where(np.isnan(y), np.nan, new) if work[p.outcome].dtype.kind == "f" or np.isnan(y).any() \
        else new.astype(work[p.outcome].dtype)
    value = float(np.mean(new[seen] - y[seen]))
    who = f"{p.column}={p.level}" + (f" and {p.treatment}=1" if p.treatment else "")
    truth = PlantedTruth(outcome=p.outcome, subgroup=f"{p.column}={p.level}", built_in=float(p.shift), value=value,
                         units_shifted=int(seen.sum()),
                         description=f"{what} for units with {who}: the effect in that subgroup minus the effect "
                                     f"elsewhere (built in {p.shift:+g}; realised on this sample {value:+.4f})")
    return work, truth


@dataclass(frozen=True)
class PlantedByGain:
    """A difference in effect planted without changing any outcome: among the treated units, the
    level ``column=1`` is drawn with odds that rise with each unit's *gain* (its outcome less its
    expected outcome without the programme), so the programme's effect in that level is larger by
    the realised difference below. Among comparison units the level is drawn at ``share_comparison``,
    independently of everything. Each unit's untreated outcome is a draw independent of its treated
    one, so who is in the level says nothing about the untreated outcome: the difference is a true
    difference in the effect (effect modification), not confounding.

    Used where the example data's existing columns must stay byte-identical (their numbers are
    pinned elsewhere): the planted difference lives in the new column, not in the outcome."""

    column: str = "care_experienced"
    share_treated: float = 0.20  # about this share of the treated are in the level
    share_comparison: float = 0.06
    strength: float = 1.6  # log-odds per SD of gain


def plant_by_gain(frame: pd.DataFrame, *, id_column: str, treatment: str, gain: np.ndarray, seed: int,
                  planted: PlantedByGain, outcome: str) -> tuple[pd.DataFrame, PlantedTruth]:
    """``frame`` with ``planted.column`` (0/1) drawn as :class:`PlantedByGain` says, and the truth:
    the mean gain of the treated in the level less that of the other treated."""
    from scipy.optimize import brentq
    from scipy.special import expit

    order = np.argsort(frame[id_column].astype(str).to_numpy(), kind="stable")
    t = pd.to_numeric(frame[treatment]).to_numpy()[order] == 1
    g = np.asarray(gain, dtype=float)[order]
    u = _rng(seed, f"demographics/{planted.column}/by_gain").random(len(frame))
    z = np.zeros(len(frame))
    sd = float(np.std(g[t])) or 1.0
    z[t] = (g[t] - float(np.mean(g[t]))) / sd
    # the intercept that gives the asked share among the treated
    a = brentq(lambda c: float(np.mean(expit(c + planted.strength * z[t]))) - planted.share_treated, -20, 20)
    p = np.where(t, expit(a + planted.strength * z), planted.share_comparison)
    flag = (u < p).astype(int)
    value = float(np.mean(g[t & (flag == 1)]) - np.mean(g[t & (flag == 0)]))
    back = np.empty(len(frame), dtype=np.intp)
    back[order] = np.arange(len(frame))
    out = frame.copy()
    out[planted.column] = flag[back]
    truth = PlantedTruth(
        outcome=outcome, subgroup=f"{planted.column}=1", built_in=float(planted.strength), value=value,
        units_shifted=int((t & (flag == 1)).sum()),
        description=f"the effect on {outcome} among treated units with {planted.column}=1 minus that among the "
                    f"other treated units: the level is drawn, among the treated, with odds rising with each "
                    f"unit's gain (log-odds {planted.strength:g} per SD); realised on this sample {value:+.4f}")
    return out, truth
