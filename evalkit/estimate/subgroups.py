"""Who benefits: the effect in each declared subgroup, an interaction test, Holm across the family.

One engine for every design. A design hands over its *analysis frame* (the rows it analysed, with
the outcome, the treatment or follow-up indicator, its weights, clusters, covariates and fixed
effects) as an :class:`EffectModel`, and the declared subgroup columns (sex, ethnicity,
deprivation quintile, special educational needs, care experience, age band...). For each
subgroup column, one model is fitted in which every term the design uses is interacted with the
subgroup (``Interaction.saturated``, the default: each subgroup's estimate is exactly the design's
estimator run on that subgroup, while the joint model gives the covariance between them), or in
which covariates and fixed effects are shared (``Interaction.common_slopes``, the trial-analysis
convention of Wang et al. 2007, NEJM 357:2189). From it:

- the effect in each subgroup level with its interval (difference scale: mean difference or risk
  difference; ratio scale: risk ratio or rate ratio from a Poisson model with a log link);
- the interaction test: a joint Wald test that the effect is the same in every level, in the
  one model, with the design's covariance convention (CR1 when clustered, else HC2 or HC1;
  see :mod:`evalkit.estimate._robust`), and for each level against the reference the difference
  and the smallest difference the study could detect (80% power, two-sided 5%);
- Holm's step-down adjustment across the family of interaction tests (one per subgroup column)
  and, separately, across the family of subgroup effects.

Honest caveats come back as typed warnings: subgroup analyses are not powered (an interaction
of the same size as the main effect needs about four times the sample, Brookes et al. 2004,
J Clin Epidemiol 57:229) and are exploratory unless pre-registered; a level whose smaller arm
has fewer than ``min_arm`` units gets no estimate at all (only "too few"), but its counts stay
typed for the disclosure layer; levels without an estimate are left out of the interaction
test and of both Holm families.

Rows are put in a canonical order before fitting, so the numbers do not depend on row order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError, OptionError, check_choice
from evalkit.estimate import _robust as rb
from evalkit.estimate._stats import holm, z_crit
from evalkit.results import Estimate, RunWarning
from evalkit.spec.designs import REGISTRY

# toolkit defaults, each configurable per call (and named in the results)
MIN_ARM = 10  # fewer units than this in a level's smaller arm: no estimate, only "too few"
FEW_PER_ARM = 20  # fewer than this: an estimate, flagged as imprecise
FEW_CLUSTERS = 20  # cluster-robust SEs are unreliable below about 20 clusters (Cameron & Miller 2015)
MAX_LEVELS = 12  # more levels than this is a continuous variable: band it first
POWER = 0.80  # for the detectable difference between subgroups


# what the engine knows of each design whose analysis hands it a frame, and of the variants a design
# declares (matched_comparison's "weighting"), from the design registry, in its order
_FACTS = {name: facts for e in REGISTRY.values() if e.subgroups is not None
          for name, facts in ((e.design.value, e.subgroups), *e.subgroups.variants.items())}
Design = Enum("Design", [(name, name) for name in _FACTS], type=str, module=__name__)


class Scale(str, Enum):
    difference = "difference"  # mean difference; risk difference for a 0/1 outcome
    ratio = "ratio"  # risk ratio (0/1 outcome) or rate ratio (counts), Poisson with log link


class Interaction(str, Enum):
    saturated = "saturated"  # every term interacted with the subgroup: separate fits, one covariance
    common_slopes = "common_slopes"  # covariates and fixed effects shared across subgroup levels


class Target(str, Enum):  # where covariates are centred when they are interacted with treatment
    treated = "treated"  # the ATT
    all = "all"  # the ATE


# the estimand each design reports on the difference scale (its Estimate.estimand)
DIFFERENCE_ESTIMAND = {Design(name): f.difference_estimand for name, f in _FACTS.items()}
# the design's own default covariance when no cluster is given
DEFAULT_COVARIANCE = {Design(name): rb.Covariance(f.covariance) for name, f in _FACTS.items()}
# the standard subgroups of a VRU evaluation, in the evaluator's words (the column names are the
# plan's; these are the labels evalkit uses when a plan declares a column by one of these names)
STANDARD_LABELS = {"sex": "sex", "ethnicity": "ethnic group", "deprivation_quintile": "deprivation quintile (IMD)",
                   "sen": "special educational needs", "care_experienced": "care experience", "age_band": "age band"}


@dataclass(frozen=True)
class Subgroup:
    """A declared subgroup column. ``levels`` fixes the order (every value found must be listed);
    ``reference`` is the level others are compared with (default: the largest)."""

    column: str
    label: str | None = None
    levels: tuple[str, ...] | None = None
    reference: str | None = None


@dataclass(frozen=True)
class EffectModel:
    """The design's analysis frame, described: which column plays which part."""

    design: Design
    outcome: str
    treatment: str | None  # 0/1 (treated arm, or the follow-up period); None: the outcome's mean is the effect
    scale: Scale = Scale.difference
    weights: str | None = None
    clusters: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    absorb: tuple[str, ...] = ()  # fixed effects, e.g. (unit, period) for a DiD panel
    unit: str | None = None  # what a "unit" is for counts (rows otherwise); subgroups must be constant within it
    exposure: str | None = None  # ratio scale: person-time or population, entered as log offset
    covariance: rb.Covariance | None = None  # default: CR1 with clusters, else the design's
    interaction: Interaction = Interaction.saturated
    covariates_by_treatment: bool = False  # centre covariates on the target and interact them with treatment
    target: Target = Target.treated
    ci_level: float = 0.95


@dataclass(frozen=True)
class SubgroupEffect:
    """The effect in one level of one subgroup column. Estimates are None when ``reported`` is False."""

    column: str
    level: str
    label: str  # "column=level", as Estimate.subgroup
    reported: bool
    reason: str | None  # why not reported ("too few": smaller arm below min_arm)
    n: int  # units in the level
    n_rows: int
    n_treated: int | None
    n_comparison: int | None
    smallest_arm: int
    events_treated: int | None  # 0/1 outcomes: units with the outcome, per arm (for disclosure control)
    events_comparison: int | None
    clusters: int | None  # clusters with rows in the level
    estimate: float | None
    std_error: float | None  # on the log scale for ratios
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_value_holm: float | None
    df: int | None
    mean_treated: float | None
    mean_comparison: float | None
    is_reference: bool
    imprecise: bool  # reported, but an arm has fewer than few_per_arm units


@dataclass(frozen=True)
class LevelDifference:
    """One level's effect against the reference level's: a difference (or ratio of ratios)."""

    level: str
    reference: str
    estimate: float
    std_error: float  # log scale for ratios
    ci_low: float
    ci_high: float
    p_value: float
    detectable: float  # the difference detectable with 80% power at two-sided 5% (ratio of ratios on the ratio scale)


@dataclass(frozen=True)
class InteractionTest:
    """Does the effect differ between the levels of one subgroup column?"""

    column: str
    label: str
    levels: tuple[str, ...]  # the levels tested (those with an estimate)
    reference: str
    statistic: float | None  # Wald W
    df_num: int | None
    df_den: int | None
    p_value: float | None
    p_value_holm: float | None
    reference_distribution: str
    differences: tuple[LevelDifference, ...]
    note: str = ""


@dataclass(frozen=True)
class SubgroupAnalysis:
    """Everything the subgroup analysis of one outcome found, as data."""

    outcome: str
    indicator: str | None
    design: Design
    estimand: str
    scale: Scale
    interaction: Interaction
    covariance: str  # the convention in words, e.g. "CR1 cluster-robust by school (24 clusters) ..."
    pre_registered: bool
    min_arm: int
    few_per_arm: int
    ci_level: float
    effects: tuple[SubgroupEffect, ...]
    tests: tuple[InteractionTest, ...]
    warnings: tuple[RunWarning, ...]
    families: Mapping[str, str] = field(default_factory=dict)  # what each Holm family holds


# --------------------------------------------------------------------------------------- inputs


def level_label(value) -> str:
    """A subgroup value as text: whole numbers without '.0', everything else as written."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def labels_of(series: pd.Series) -> np.ndarray:
    """Each value's :func:`level_label` (None where missing), computed once per distinct value."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = np.array([level_label(u) for u in uniques] + [None], dtype=object)
    return table[codes]


def _rows(mask: np.ndarray) -> str:
    pos = np.flatnonzero(mask)
    shown = ", ".join(str(p + 1) for p in pos[:3])
    return f"row{'s' if pos.size > 1 else ''} {shown}" + (f" and {pos.size - 3} more" if pos.size > 3 else "")


def _numeric(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{role} column '{column}' holds true/false values; expected numbers (0/1 written as numbers)")
    values = pd.to_numeric(series, errors="coerce")
    bad = (series.notna() & values.isna()).to_numpy()
    if bad.any():
        sample = ", ".join(repr(v) for v in series[bad].unique()[:3].tolist())
        raise DataError(f"{role} column '{column}' holds values that are not numbers at {_rows(bad)} of the analysis "
                        f"frame: {sample}; expected numbers")
    out = values.to_numpy(dtype=float, na_value=np.nan)
    missing = ~np.isfinite(out)
    if missing.any():
        raise DataError(f"{role} column '{column}' is missing or infinite at {_rows(missing)} of the analysis frame; "
                        "expected the design's analysed rows, complete on every column the model uses")
    return out


def _covariate_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric covariates as they are; text covariates as indicator columns (first level left out)."""
    parts, names = [], []
    for col in columns:
        series = frame[col]
        if series.isna().any():
            raise DataError(f"covariate column '{col}' is missing at {_rows(series.isna().to_numpy())} of the analysis "
                            "frame; expected complete covariates (the design adjusts only for complete ones)")
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            parts.append(_numeric(frame, col, "covariate")[:, None])
            names.append(col)
        else:
            labels = pd.Series(labels_of(series), index=series.index)
            levels = sorted(labels.unique())
            for lv in levels[1:]:
                parts.append((labels == lv).to_numpy(dtype=float)[:, None])
                names.append(f"{col}={lv}")
    if not parts:
        return np.zeros((len(frame), 0)), []
    return np.hstack(parts), names


def canonical_order(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The positions that put the rows in one order whatever order they came in.

    Rows are ordered by a hash of their values in ``columns`` (pandas' row hash, which has a fixed
    key, so the order is the same in every process). Rows with the same hash are interchangeable
    when they agree on every column; should two different rows ever share a hash, the order falls
    back to sorting by every column, so no input order can leak through.
    """
    cols = list(dict.fromkeys(columns))
    if not cols or len(frame) == 0:
        return np.arange(len(frame))
    h = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    order = np.argsort(h, kind="stable")
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])
    if same.size:
        a = frame[cols].iloc[order[same]].reset_index(drop=True)
        b = frame[cols].iloc[order[same + 1]].reset_index(drop=True)
        equal = (a == b) | (a.isna() & b.isna())
        if not bool(equal.to_numpy().all()):
            return _sorted_order(frame, cols)
    return order


def _sorted_order(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    keys = []
    for col in reversed(cols):
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            codes, _ = pd.factorize(s, sort=True)
        else:  # mixed or text values: rank the distinct values by type and text, missing first
            raw, uniques = pd.factorize(s, use_na_sentinel=True)
            rank = np.argsort(np.argsort([f"{type(u).__name__}:{u}" for u in uniques], kind="stable"))
            codes = np.append(rank, -1)[raw]
        keys.append(codes)
    return np.lexsort(keys)


def _check_columns(frame: pd.DataFrame, model: EffectModel, subgroups: Sequence[Subgroup]) -> None:
    roles = [("outcome", model.outcome), ("treatment", model.treatment), ("weights", model.weights),
             ("unit", model.unit), ("exposure", model.exposure)]
    roles += [("cluster", c) for c in model.clusters] + [("covariate", c) for c in model.covariates]
    roles += [("fixed effect", c) for c in model.absorb] + [("subgroup", s.column) for s in subgroups]
    for role, col in roles:
        if col is not None and col not in frame.columns:
            listed = ", ".join(map(str, frame.columns[:12])) + (" ..." if frame.shape[1] > 12 else "")
            raise DataError(f"{role} column '{col}' is not in the analysis frame; it has {listed}")


def _subgroup(spec: Subgroup | str) -> Subgroup:
    return spec if isinstance(spec, Subgroup) else Subgroup(column=str(spec))


# --------------------------------------------------------------------------------------- engine


@dataclass
class _Level:
    value: str
    mask: np.ndarray
    n: int
    n_rows: int
    n_treated: int | None
    n_comparison: int | None
    events: tuple[int | None, int | None]
    clusters: int | None

    @property
    def smallest(self) -> int:
        return self.n if self.n_treated is None else min(self.n_treated, self.n_comparison)


def _units(unit: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    return unit[mask] if unit is not None else np.flatnonzero(mask)


def _level_counts(value, mask, t, y, unit, cluster0, binary) -> _Level:
    ids = _units(unit, mask)
    n = int(pd.unique(ids).size)
    n_t = n_c = None
    ev = (None, None)
    if t is not None:
        frame = pd.DataFrame({"id": ids, "t": t[mask]})
        ever = frame.groupby("id", sort=True)["t"].max()
        n_t, n_c = int((ever == 1).sum()), int((ever == 0).sum())
        if binary:
            ev = (int(y[mask & (t == 1)].sum()), int(y[mask & (t == 0)].sum()))
    elif binary:
        ev = (int(y[mask].sum()), None)
    clusters = int(pd.unique(cluster0[mask]).size) if cluster0 is not None else None
    return _Level(value, mask, n, int(mask.sum()), n_t, n_c, ev, clusters)


def _levels(spec: Subgroup, labels: pd.Series) -> list[str]:
    found = sorted(labels.dropna().unique().tolist(), key=_natural)
    if spec.levels is None:
        return found
    declared = [str(v) for v in spec.levels]
    extra = [v for v in found if v not in declared]
    if extra:
        raise DataError(f"subgroup column '{spec.column}' holds {', '.join(map(repr, extra[:3]))}, which "
                        f"{'is' if len(extra) == 1 else 'are'} not among its declared levels; expected one of "
                        + ", ".join(map(repr, declared)))
    return [v for v in declared if v in found]


def _natural(v: str):
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def _weighted_mean(y, w, mask) -> float | None:
    if not mask.any():
        return None
    return float(np.average(y[mask], weights=w[mask]))


def subgroup_effects(frame: pd.DataFrame, model: EffectModel, subgroups: Sequence[Subgroup | str], *,
                     indicator: str | None = None, pre_registered: bool = False, min_arm: int = MIN_ARM,
                     few_per_arm: int = FEW_PER_ARM, estimand: str | None = None) -> SubgroupAnalysis:
    """The effect of ``model`` in each level of each declared subgroup, with interaction tests and Holm."""
    model = replace(model, design=Design(model.design), scale=Scale(model.scale),
                    interaction=Interaction(model.interaction), target=Target(model.target))
    if model.covariance is not None:
        check_choice("covariance", getattr(model.covariance, "value", model.covariance),
                     [c.value for c in rb.Covariance])
    if int(min_arm) < 1 or int(few_per_arm) < int(min_arm):
        raise OptionError(f"min_arm and few_per_arm: found {min_arm} and {few_per_arm}; expected 1 <= min_arm <= "
                          "few_per_arm")
    if not 0 < model.ci_level < 1:
        raise OptionError(f"ci_level: found {model.ci_level}; expected a level between 0 and 1, e.g. 0.95")
    specs = [_subgroup(s) for s in subgroups]
    if not specs:
        raise OptionError("subgroups: none declared; expected at least one subgroup column")
    if len({s.column for s in specs}) < len(specs):
        raise OptionError("subgroups: a column is declared twice; expected each subgroup column once")
    if model.treatment is None and (model.covariates or model.absorb or model.covariates_by_treatment):
        raise OptionError("covariates and fixed effects need a treatment column: without one the effect is the "
                          "outcome's mean (a change score) in each subgroup, which nothing adjusts")
    if model.treatment is None and model.scale is Scale.ratio:
        raise OptionError("scale 'ratio' needs a treatment column (the arm, or the follow-up period in long data); "
                          "without one there is nothing to divide by")
    if model.exposure is not None and model.scale is not Scale.ratio:
        raise OptionError("exposure is an offset of the ratio (Poisson) model; expected scale 'ratio' with exposure")
    _check_columns(frame, model, specs)
    # every check on the rows as they came (so messages name the user's rows), then one canonical order
    y = _numeric(frame, model.outcome, "outcome")
    t = _numeric(frame, model.treatment, "treatment") if model.treatment else None
    if t is not None and not np.isin(t, (0.0, 1.0)).all():
        raise DataError(f"treatment column '{model.treatment}' holds values other than 0 and 1 at "
                        f"{_rows(~np.isin(t, (0.0, 1.0)))} of the analysis frame; expected 0/1")
    w = _numeric(frame, model.weights, "weights") if model.weights else np.ones(len(frame))
    if model.weights and (w <= 0).any():
        raise DataError(f"weights column '{model.weights}' is zero or negative at {_rows(w <= 0)}; expected the "
                        "analysed rows only, each with a positive weight")
    exposure = _numeric(frame, model.exposure, "exposure") if model.exposure else None
    if exposure is not None and (exposure <= 0).any():
        raise DataError(f"exposure column '{model.exposure}' is zero or negative at {_rows(exposure <= 0)}; "
                        "expected person-time or a population above 0")
    if model.scale is Scale.ratio and (y < 0).any():
        raise DataError(f"outcome column '{model.outcome}' is negative at {_rows(y < 0)}; a ratio needs 0/1 "
                        "outcomes or counts")
    for col in (*model.clusters, *model.absorb, *([model.unit] if model.unit else [])):
        if frame[col].isna().any():
            raise DataError(f"column '{col}' is empty at {_rows(frame[col].isna().to_numpy())} of the analysis "
                            "frame; expected a value on every row")
    Z, z_names = _covariate_matrix(frame, model.covariates)
    used = [model.outcome, model.treatment, model.weights, model.unit, model.exposure, *model.clusters,
            *model.covariates, *model.absorb, *(s.column for s in specs)]
    order = canonical_order(frame, [c for c in used if c is not None])
    data = frame.iloc[order].reset_index(drop=True)
    y, w, Z = y[order], w[order], Z[order]
    t = t[order] if t is not None else None
    exposure = exposure[order] if exposure is not None else None
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    unit = data[model.unit].to_numpy() if model.unit else None
    unit_ids = None
    if unit is not None:
        # the units as integer codes in the order of their sorted ids (the counts below group by unit
        # many times; grouping text ids sorts the text each time, grouping the codes does not)
        unit, unit_ids = pd.factorize(unit, sort=True)
    cluster0 = data[model.clusters[0]].to_numpy() if model.clusters else None
    covariance = rb.Covariance(model.covariance) if model.covariance is not None else (
        rb.Covariance.cr1 if model.clusters else DEFAULT_COVARIANCE[model.design])
    if covariance is rb.Covariance.hc2 and model.absorb:
        covariance = rb.Covariance.hc1 if model.covariance is None else covariance
    if estimand is None:
        estimand = DIFFERENCE_ESTIMAND[model.design] if model.scale is Scale.difference else (
            "risk_ratio" if binary else "rate_ratio")

    warnings: list[RunWarning] = []
    effects: list[SubgroupEffect] = []
    tests: list[InteractionTest] = []
    convention = ""
    for spec in specs:
        label = spec.label or STANDARD_LABELS.get(spec.column, spec.column)
        labels = pd.Series(labels_of(data[spec.column]), dtype=object)
        missing = labels.isna().to_numpy()
        if missing.all():
            warnings.append(RunWarning("subgroup_missing", f"subgroup '{spec.column}' is missing on every row: no "
                                       "subgroup estimates", indicator))
            continue
        if unit is not None:
            codes = pd.factorize(labels, use_na_sentinel=False)[0]  # missing counts as a value of its own
            per_unit = pd.DataFrame({"u": unit, "s": codes}).groupby("u", sort=True)["s"].nunique()
            if (per_unit > 1).any():
                example = unit_ids[per_unit.index[per_unit.to_numpy() > 1][0]]
                example = example.item() if hasattr(example, "item") else example
                raise DataError(f"subgroup column '{spec.column}' changes within a unit (e.g. {model.unit} "
                                f"{example!r}); expected a characteristic fixed at baseline, one value per unit")
        values = _levels(spec, labels)
        if len(values) > MAX_LEVELS:
            warnings.append(RunWarning("subgroup_too_many_levels", f"subgroup '{spec.column}' has {len(values)} "
                                       f"distinct values (more than {MAX_LEVELS}); it looks continuous, so no "
                                       "subgroup estimates were made; band it first (e.g. age bands)", indicator))
            continue
        if missing.any():
            warnings.append(RunWarning("subgroup_missing", f"subgroup '{spec.column}' is missing for "
                                       f"{_count_units(unit, missing)} unit(s); they are in the overall estimate but "
                                       "in no subgroup estimate", indicator))
        lab = labels.to_numpy(dtype=object)
        levels = [_level_counts(v, (lab == v) & ~missing, t, y, unit, cluster0, binary) for v in values]
        ok = [lv for lv in levels if lv.smallest >= min_arm]
        reference = _reference(spec, levels, ok)
        too_few = [lv.value for lv in levels if lv.smallest < min_arm]
        if too_few:
            warnings.append(RunWarning("subgroup_too_few", f"subgroup '{spec.column}': no estimate for "
                                       f"{', '.join(too_few)} (fewer than {min_arm} units in an arm); their counts are "
                                       "kept for the tables, which apply disclosure control", indicator))
        fitted: dict[str, tuple] = {}
        test = None
        if ok:
            fit, coef_names, skipped = _fit_column(y, t, w, exposure, Z, z_names, data, model, covariance, ok, spec)
            convention = fit.convention
            if skipped:
                warnings.append(RunWarning("subgroup_covariate_constant", f"subgroup '{spec.column}': not adjusted for "
                                           + "; ".join(skipped) + " (no variation there)", indicator))
            for lv in ok:
                idx = fit.index(coef_names[lv.value])
                est, se = float(fit.params[idx]), float(math.sqrt(max(fit.vcov[idx, idx], 0.0)))
                lo, hi, p = rb.interval(fit, est, se, model.ci_level)
                fitted[lv.value] = (est, se, lo, hi, p, fit.df)
            test = _interaction(fit, coef_names, ok, reference, spec, label, model)
        if test is not None:
            if test.reference != reference:
                warnings.append(RunWarning("subgroup_reference_too_few", f"subgroup '{spec.column}': the reference "
                                           f"level {reference!r} has too few units for an estimate, so the others are "
                                           f"compared with the largest level, {test.reference!r}", indicator))
                reference = test.reference
            tests.append(test)
        if len(ok) < 2:
            warnings.append(RunWarning("subgroup_no_test", f"subgroup '{spec.column}': fewer than two levels with "
                                       f"{min_arm} or more units in each arm, so the effect cannot be compared "
                                       "between them", indicator))
        for lv in levels:
            effects.append(_effect_record(spec, lv, fitted.get(lv.value), model, y, t, w, reference, min_arm,
                                          few_per_arm))
        few = [lv.value for lv in ok if lv.smallest < few_per_arm]
        if few:
            warnings.append(RunWarning("subgroup_imprecise", f"subgroup '{spec.column}': fewer than {few_per_arm} "
                                       f"units in an arm for {', '.join(few)}: those estimates are imprecise", indicator))
        if cluster0 is not None:
            thin = [f"{lv.value} ({lv.clusters})" for lv in ok if lv.clusters is not None and lv.clusters < FEW_CLUSTERS]
            if thin:
                warnings.append(RunWarning("subgroup_few_clusters", f"subgroup '{spec.column}': few clusters with "
                                           f"units in {', '.join(thin)}; cluster-robust intervals are unreliable below "
                                           f"about {FEW_CLUSTERS}", indicator))

    tests, effects = _holm_families(tests, effects)
    warnings = _caveats(model, pre_registered, indicator) + warnings
    if not convention:
        convention = f"{covariance.value} (no subgroup had enough units to fit)"
    families = {"interaction_tests": f"Holm across the {len(tests)} interaction test(s) of '{model.outcome}', one per "
                                     "subgroup column",
                "subgroup_effects": f"Holm across the {sum(e.reported for e in effects)} subgroup effect(s) of "
                                    f"'{model.outcome}' with an estimate (every level of every subgroup column)"}
    return SubgroupAnalysis(outcome=model.outcome, indicator=indicator, design=model.design, estimand=estimand,
                            scale=model.scale, interaction=model.interaction, covariance=convention,
                            pre_registered=bool(pre_registered), min_arm=int(min_arm), few_per_arm=int(few_per_arm),
                            ci_level=model.ci_level, effects=tuple(effects), tests=tuple(tests),
                            warnings=tuple(warnings), families=families)


def _count_units(unit, mask) -> int:
    return int(pd.unique(unit[mask]).size) if unit is not None else int(mask.sum())


def _reference(spec: Subgroup, levels: list[_Level], ok: list[_Level]) -> str | None:
    if spec.reference is not None:
        ref = level_label(spec.reference) if not isinstance(spec.reference, str) else spec.reference
        if ref not in [lv.value for lv in levels]:
            raise DataError(f"subgroup '{spec.column}': reference level {ref!r} is not in the data; found "
                            + ", ".join(repr(lv.value) for lv in levels))
        return ref
    pool = ok or levels
    return max(pool, key=lambda lv: (lv.n, -levels.index(lv))).value if pool else None


def _fit_column(y, t, w, exposure, Z, z_names, data, model: EffectModel, covariance, ok: list[_Level], spec):
    """One model for one subgroup column, on the rows of the levels with an estimate."""
    rows = np.zeros(y.size, dtype=bool)
    for lv in ok:
        rows |= lv.mask
    yy, ww = y[rows], w[rows]
    tt = t[rows] if t is not None else None
    ZZ = Z[rows]
    D = {lv.value: lv.mask[rows].astype(float) for lv in ok}
    ref = ok[0].value
    cols, names, coef, skipped = [], [], {}, []
    saturated = model.interaction is Interaction.saturated
    fe_values = [data[c].to_numpy()[rows] for c in model.absorb]
    level_of_row = np.empty(rows.sum(), dtype=object)
    for lv in ok:
        level_of_row[D[lv.value] == 1] = lv.value
    if saturated:
        absorb = [pd.MultiIndex.from_arrays([fe, level_of_row]).to_flat_index() for fe in fe_values]
    else:
        absorb = fe_values
    # does the subgroup vary within the fixed effects? If not, they absorb its main effect
    level_absorbed = bool(absorb) and (saturated or any(_is_nested_in(fe, level_of_row) for fe in fe_values))

    def add(name, column):
        cols.append(column)
        names.append(name)

    if tt is None:
        for lv in ok:
            add(f"level[{lv.value}]", D[lv.value])
            coef[lv.value] = f"level[{lv.value}]"
    else:
        if not saturated and not level_absorbed and not absorb:
            add("constant", np.ones(yy.size))
        for lv in ok:
            d = D[lv.value]
            if not level_absorbed and (saturated or lv.value != ref):
                add(f"level[{lv.value}]", d)
            add(f"treated x level[{lv.value}]", tt * d)
            coef[lv.value] = f"treated x level[{lv.value}]"
        for j, zname in enumerate(z_names):
            z = ZZ[:, j]
            if saturated:
                for lv in ok:
                    d = D[lv.value] == 1
                    if np.ptp(z[d]) == 0:  # no variation within the level: nothing to adjust for there
                        skipped.append(f"{zname} in {lv.value}")
                        continue
                    centre = _centre(z, ww, d, tt, model.target)
                    add(f"{zname} x level[{lv.value}]", (z - centre) * d)
                    if model.covariates_by_treatment:
                        add(f"treated x {zname} x level[{lv.value}]", (z - centre) * d * tt)
            else:
                if np.ptp(z) == 0:
                    skipped.append(zname)
                    continue
                centre = _centre(z, ww, np.ones(z.size, bool), tt, model.target)
                add(zname, z - centre)
                if model.covariates_by_treatment:
                    add(f"treated x {zname}", (z - centre) * tt)
    X = np.column_stack(cols)
    clusters = [data[c].to_numpy()[rows] for c in model.clusters]
    try:
        if model.scale is Scale.ratio:
            fit = rb.fit_poisson(yy, X, names, weights=ww, offset=None if exposure is None else np.log(exposure[rows]),
                                 clusters=clusters, cluster_names=model.clusters, absorb=absorb, covariance=covariance)
        else:
            fit = rb.fit_linear(yy, X, names, weights=ww, clusters=clusters, cluster_names=model.clusters,
                                absorb=absorb, covariance=covariance)
    except EstimationError as exc:
        raise EstimationError(f"subgroup '{spec.column}' ({model.outcome}): {exc}") from None
    return fit, coef, skipped


def _is_nested_in(fe: np.ndarray, level_of_row: np.ndarray) -> bool:
    pairs = pd.DataFrame({"fe": fe, "lv": level_of_row}).drop_duplicates()
    return bool(pairs["fe"].is_unique)


def _centre(z, w, in_level, t, target: Target) -> float:
    pick = in_level & (t == 1) if target is Target.treated else in_level
    if not pick.any():
        pick = in_level
    return float(np.average(z[pick], weights=w[pick]))


def _interaction(fit: rb.Fit, coef: dict, ok: list[_Level], reference: str | None, spec: Subgroup, label: str,
                 model: EffectModel) -> InteractionTest | None:
    values = [lv.value for lv in ok]
    if len(values) < 2:
        return None
    ref = reference if reference in values else max(ok, key=lambda lv: lv.n).value
    k = len(fit.names)
    R, diffs = [], []
    zq = z_crit(0.95) + float(_norm_ppf(POWER))
    for v in values:
        if v == ref:
            continue
        c = np.zeros(k)
        c[fit.index(coef[v])] = 1.0
        c[fit.index(coef[ref])] = -1.0
        R.append(c)
        est, se = rb.contrast(fit, c)
        lo, hi, p = rb.interval(fit, est, se, model.ci_level)
        if model.scale is Scale.ratio:
            diffs.append(LevelDifference(v, ref, math.exp(est), se, math.exp(lo), math.exp(hi), p,
                                         math.exp(zq * se)))
        else:
            diffs.append(LevelDifference(v, ref, est, se, lo, hi, p, zq * se))
    wt = rb.wald(fit, np.array(R))
    scale = "ratio of ratios (log scale)" if model.scale is Scale.ratio else "difference in effects"
    note = (f"joint Wald test that the effect is the same in every level ({scale}), "
            f"{wt.reference} reference; {fit.convention}")
    return InteractionTest(column=spec.column, label=label, levels=tuple(values), reference=ref,
                           statistic=_f(wt.statistic), df_num=wt.q, df_den=wt.df_den, p_value=_f(wt.p_value),
                           p_value_holm=None, reference_distribution=wt.reference, differences=tuple(diffs), note=note)


def _norm_ppf(p: float) -> float:
    from evalkit.estimate._dist import norm_ppf

    return float(norm_ppf(p))


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _effect_record(spec: Subgroup, lv: _Level, fitted, model: EffectModel, y, t, w, reference, min_arm, few_per_arm):
    base = dict(column=spec.column, level=lv.value, label=f"{spec.column}={lv.value}", n=lv.n, n_rows=lv.n_rows,
                n_treated=lv.n_treated, n_comparison=lv.n_comparison, smallest_arm=lv.smallest,
                events_treated=lv.events[0], events_comparison=lv.events[1], clusters=lv.clusters,
                is_reference=lv.value == reference)
    if fitted is None:
        return SubgroupEffect(reported=False, reason=f"too few: fewer than {min_arm} units in an arm",
                              estimate=None, std_error=None, ci_low=None, ci_high=None, p_value=None,
                              p_value_holm=None, df=None, mean_treated=None, mean_comparison=None, imprecise=False,
                              **base)
    est, se, lo, hi, p, df = fitted
    if model.scale is Scale.ratio:
        est, lo, hi = math.exp(est), math.exp(lo) if math.isfinite(lo) else lo, math.exp(hi) if math.isfinite(hi) else hi
    if t is not None:
        mt, mc = _weighted_mean(y, w, lv.mask & (t == 1)), _weighted_mean(y, w, lv.mask & (t == 0))
    else:
        mt, mc = _weighted_mean(y, w, lv.mask), None
    return SubgroupEffect(reported=True, reason=None, estimate=_f(est), std_error=_f(se), ci_low=_f(lo),
                          ci_high=_f(hi), p_value=_f(p), p_value_holm=None, df=df, mean_treated=mt,
                          mean_comparison=mc, imprecise=lv.smallest < few_per_arm, **base)


def _holm_families(tests: list[InteractionTest], effects: list[SubgroupEffect]):
    adj = holm([tt.p_value for tt in tests])
    tests = [replace(tt, p_value_holm=a) for tt, a in zip(tests, adj)]
    idx = [i for i, e in enumerate(effects) if e.reported]
    adj = holm([effects[i].p_value for i in idx])
    effects = list(effects)
    for i, a in zip(idx, adj):
        effects[i] = replace(effects[i], p_value_holm=a)
    return tests, effects


def _caveats(model: EffectModel, pre_registered: bool, indicator) -> list[RunWarning]:
    out = [RunWarning("subgroups_not_powered",
                      "the study was sized for the overall effect, not for subgroups: to detect a difference between "
                      "subgroups as large as the overall effect needs about four times the sample (Brookes et al. "
                      "2004), so 'no evidence of a difference' is not evidence of no difference", indicator)]
    if not pre_registered:
        out.append(RunWarning("subgroups_exploratory",
                              "these subgroup analyses were not pre-registered: read them as exploratory "
                              "(hypothesis-generating), and an apparent difference as a question for the next study, "
                              "not a finding", indicator))
    facts = _FACTS[model.design.value]
    out.append(RunWarning(facts.caveat_code, facts.caveat, indicator))
    if model.scale is Scale.ratio:
        out.append(RunWarning("subgroup_scale", "the interaction is tested on the ratio scale: effects can differ "
                              "between subgroups on one scale (ratio or difference) and not on the other", indicator))
    return out


# --------------------------------------------------------------------------------------- outputs


def subgroup_frame(analysis: SubgroupAnalysis):
    """The tidy table behind every subgroup table and forest plot: one row per subgroup level.

    Levels without an estimate have empty estimate columns and ``reported`` False; their counts
    are there for the disclosure layer, which decides what may be printed."""
    tests = {tt.column: tt for tt in analysis.tests}
    rows = []
    for e in analysis.effects:
        tt = tests.get(e.column)
        diff = next((d for d in tt.differences if d.level == e.level), None) if tt else None
        rows.append({
            "outcome": analysis.outcome, "indicator": analysis.indicator, "design": analysis.design.value,
            "estimand": analysis.estimand, "scale": analysis.scale.value, "subgroup": e.column, "level": e.level,
            "label": e.label, "reported": e.reported, "reason": e.reason, "is_reference": e.is_reference,
            "n": e.n, "n_treated": e.n_treated, "n_comparison": e.n_comparison, "smallest_arm": e.smallest_arm,
            "events_treated": e.events_treated, "events_comparison": e.events_comparison, "clusters": e.clusters,
            "estimate": e.estimate, "std_error": e.std_error, "ci_low": e.ci_low, "ci_high": e.ci_high,
            "ci_level": analysis.ci_level, "p_value": e.p_value, "p_value_holm": e.p_value_holm,
            "imprecise": e.imprecise, "mean_treated": e.mean_treated, "mean_comparison": e.mean_comparison,
            "difference_vs_reference": diff.estimate if diff else None,
            "difference_ci_low": diff.ci_low if diff else None, "difference_ci_high": diff.ci_high if diff else None,
            "difference_p_value": diff.p_value if diff else None,
            "detectable_difference": diff.detectable if diff else None,
            "interaction_p_value": tt.p_value if tt else None,
            "interaction_p_value_holm": tt.p_value_holm if tt else None,
            "covariance": analysis.covariance,
        })
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["outcome", "subgroup", "level", "reported"])


def interaction_frame(analysis: SubgroupAnalysis):
    """One row per subgroup column: the interaction test and its Holm-adjusted p-value."""
    rows = [{"outcome": analysis.outcome, "indicator": analysis.indicator, "subgroup": tt.column, "label": tt.label,
             "levels": len(tt.levels), "reference": tt.reference, "statistic": tt.statistic, "df_num": tt.df_num,
             "df_den": tt.df_den, "reference_distribution": tt.reference_distribution, "p_value": tt.p_value,
             "p_value_holm": tt.p_value_holm, "pre_registered": analysis.pre_registered, "note": tt.note}
            for tt in analysis.tests]
    return pd.DataFrame(rows, columns=["outcome", "indicator", "subgroup", "label", "levels", "reference", "statistic",
                                       "df_num", "df_den", "reference_distribution", "p_value", "p_value_holm",
                                       "pre_registered", "note"])


def as_estimates(analysis: SubgroupAnalysis, *, design: str, timepoints: tuple[str, ...], units: str,
                 comparison: str, increase_is_good: bool | None) -> tuple[Estimate, ...]:
    """The reported subgroup effects as the :class:`~evalkit.results.Estimate` records every design
    returns (``subgroup = "column=level"``); levels without an estimate give no record."""
    tests = {tt.column: tt for tt in analysis.tests}
    null = 1.0 if analysis.scale is Scale.ratio else 0.0
    out = []
    for e in analysis.effects:
        if not e.reported:
            continue
        tt = tests.get(e.column)
        good = None
        if increase_is_good is not None and e.estimate is not None and e.estimate != null:
            good = (e.estimate > null) == increase_is_good
        out.append(Estimate(
            indicator=analysis.indicator or analysis.outcome, design=design, estimand=analysis.estimand,
            timepoints=timepoints, n=e.n, estimate=e.estimate, std_error=e.std_error, ci_low=e.ci_low,
            ci_high=e.ci_high, p_value=e.p_value, method=f"subgroup model ({analysis.interaction.value} "
            f"interaction); {analysis.covariance}", units=units if analysis.scale is Scale.difference else
            "ratio (SE on the log scale)", direction_good=good, subgroup=e.label, comparison=comparison,
            ci_level=analysis.ci_level, p_value_holm=e.p_value_holm, n_treated=e.n_treated,
            n_comparison=e.n_comparison,
            details={"df": e.df, "interaction_p_value": tt.p_value if tt else None,
                     "interaction_p_value_holm": tt.p_value_holm if tt else None,
                     "pre_registered": analysis.pre_registered, "imprecise": e.imprecise,
                     "holm_family": analysis.families.get("subgroup_effects")}))
    return tuple(out)


# --------------------------------------------------------------------------------------- declaring


def age_band(age, edges: Sequence[int] = (10, 14, 16, 18)) -> pd.Series:
    """Ages as bands ``10-13``, ``14-15``, ``16-17`` (edges are each band's first age; the last edge
    closes the last band); ages outside the edges are a DataError, missing stays missing."""
    edges = sorted(int(e) for e in edges)
    if len(edges) < 2:
        raise OptionError("age band edges: expected at least two, e.g. [10, 14, 16, 18]")
    a = pd.to_numeric(pd.Series(age), errors="coerce")
    outside = a.notna() & ((a < edges[0]) | (a >= edges[-1]))
    if outside.any():
        raise DataError(f"age outside the bands {edges[0]}-{edges[-1] - 1} at {_rows(outside.to_numpy())}: "
                        f"{a[outside].iloc[0]:g}; expected ages in the bands declared")
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])]
    return pd.Series(pd.cut(a, bins=edges, right=False, labels=labels).astype(object).where(a.notna()),
                     index=pd.Series(age).index, name="age_band")


def deprivation_quintile(imd_decile) -> pd.Series:
    """IMD decile (1 = most deprived 10%) to quintile (1 = most deprived 20%): deciles 1-2 -> 1, ..."""
    d = pd.to_numeric(pd.Series(imd_decile), errors="coerce")
    bad = d.notna() & (~d.isin(range(1, 11)))
    if bad.any():
        raise DataError(f"IMD decile outside 1-10 at {_rows(bad.to_numpy())}: {d[bad].iloc[0]:g}; expected whole "
                        "numbers 1 (most deprived) to 10")
    return ((d + 1) // 2).astype("Int64").rename("deprivation_quintile")
