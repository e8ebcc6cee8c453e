"""Sample-size planning for the efficacy study that follows a feasibility study.

The next study compares a treated and a comparison group on a continuous outcome, analysed by
ANCOVA on the baseline score. What the feasibility study observed sets the inputs: the
outcome's SD (to turn a difference in points into a standardised effect), the
baseline-follow-up correlation r (ANCOVA needs (1 - r^2) times the sample of a t-test: Borm,
Fransen and Lemmens 2007), retention to follow-up (recruit n / retention), and the
intra-cluster correlation for school- or area-clustered designs (design effect
1 + (m - 1) ICC: Kerry and Bland 1998). The t-test core is :class:`statsmodels.stats.power.TTestIndPower`.

A matched comparison is planned like a two-arm trial with ``comparison_ratio`` comparison
units per treated unit, then inflated for the treated units that will not find a match
(``matched_share``). That is a planning approximation, stated as such in the output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from evalkit.errors import EstimationError


def design_effect(icc: float, cluster_size: float) -> float:
    """1 + (m - 1) ICC: how many times more people a clustered design needs."""
    if not 0 <= icc < 1:
        raise EstimationError(f"ICC {icc!r} is outside [0, 1)")
    if cluster_size < 1:
        raise EstimationError(f"cluster size {cluster_size!r} is below 1")
    return 1.0 + (cluster_size - 1.0) * icc


def ancova_factor(correlation: float) -> float:
    """1 - r^2: the share of a t-test's sample that ANCOVA on the baseline needs."""
    if not -1 < correlation < 1:
        raise EstimationError(f"baseline-follow-up correlation {correlation!r} is outside (-1, 1)")
    return 1.0 - correlation ** 2


def t_test_n(effect_size: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> float:
    """Units in the first (treated) arm for a two-sided two-sample t-test (not rounded)."""
    from statsmodels.stats.power import TTestIndPower

    return float(TTestIndPower().solve_power(effect_size=effect_size, nobs1=None, alpha=alpha, power=power,
                                             ratio=ratio, alternative="two-sided"))


def t_test_mdes(n_treated: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> float:
    """The smallest standardised effect a two-sided two-sample t-test detects with ``n_treated``."""
    from statsmodels.stats.power import TTestIndPower

    if n_treated * min(1.0, ratio) < 2:
        raise EstimationError(f"{n_treated:.1f} units per arm is too few to detect any effect")
    return float(TTestIndPower().solve_power(effect_size=None, nobs1=n_treated, alpha=alpha, power=power,
                                             ratio=ratio, alternative="two-sided"))


@dataclass(frozen=True)
class PlanningInputs:
    effect_size: float  # standardised, on the outcome's SD
    alpha: float = 0.05
    power: float = 0.8
    correlation: float = 0.0  # baseline-follow-up; 0 = no baseline adjustment
    retention: float = 1.0  # share of recruits with the outcome at follow-up
    icc: float = 0.0
    cluster_size: float = 1.0
    comparison_ratio: float = 1.0
    matched_share: float = 1.0


@dataclass(frozen=True)
class StudySize:
    design: str  # two_arm_trial | matched_comparison
    effect_size: float
    adjusted_effect_size: float  # effect / sqrt(1 - r^2): what the t-test core is asked to detect
    ancova_factor: float
    design_effect: float
    n_treated_individual: float  # t-test alone, before ANCOVA gain or clustering
    n_treated_analysed: int
    n_comparison_analysed: int
    n_treated_recruited: int
    n_comparison_recruited: int
    total_recruited: int
    clusters_per_arm: int | None


def _check(inputs: PlanningInputs) -> None:
    if not 0 < inputs.retention <= 1:
        raise EstimationError(f"retention {inputs.retention!r} must be above 0 and at most 1")
    if not 0 < inputs.matched_share <= 1:
        raise EstimationError(f"matched share {inputs.matched_share!r} must be above 0 and at most 1")
    if inputs.effect_size <= 0:
        raise EstimationError(f"effect size {inputs.effect_size!r} must be positive")


def required_size(inputs: PlanningInputs, design: str = "two_arm_trial") -> StudySize:
    """Recruits needed to detect ``inputs.effect_size``; every inflation shown separately."""
    _check(inputs)
    matched = design == "matched_comparison"
    ratio = inputs.comparison_ratio if matched else 1.0
    factor = ancova_factor(inputs.correlation)
    deff = design_effect(inputs.icc, inputs.cluster_size)
    adjusted = inputs.effect_size / math.sqrt(factor)
    n_plain = t_test_n(inputs.effect_size, inputs.alpha, inputs.power, ratio)
    n_treated = math.ceil(t_test_n(adjusted, inputs.alpha, inputs.power, ratio) * deff - 1e-9)
    n_comparison = math.ceil(n_treated * ratio - 1e-9)
    share = inputs.retention * (inputs.matched_share if matched else 1.0)
    recruit_t = math.ceil(n_treated / share - 1e-9)
    recruit_c = math.ceil(n_comparison / inputs.retention - 1e-9)
    clusters = math.ceil(recruit_t / inputs.cluster_size - 1e-9) if inputs.icc > 0 else None
    return StudySize(design=design, effect_size=inputs.effect_size, adjusted_effect_size=adjusted,
                     ancova_factor=factor, design_effect=deff, n_treated_individual=n_plain,
                     n_treated_analysed=n_treated, n_comparison_analysed=n_comparison,
                     n_treated_recruited=recruit_t, n_comparison_recruited=recruit_c,
                     total_recruited=recruit_t + recruit_c, clusters_per_arm=clusters)


def minimum_detectable_effect(inputs: PlanningInputs, treated_recruited: int,
                              design: str = "two_arm_trial") -> float:
    """The smallest standardised effect detectable with ``treated_recruited`` recruits in the treated arm."""
    _check(inputs)
    matched = design == "matched_comparison"
    ratio = inputs.comparison_ratio if matched else 1.0
    share = inputs.retention * (inputs.matched_share if matched else 1.0)
    effective = treated_recruited * share / design_effect(inputs.icc, inputs.cluster_size)
    return t_test_mdes(effective, inputs.alpha, inputs.power, ratio) * math.sqrt(ancova_factor(inputs.correlation))


def plan(inputs: PlanningInputs, available_per_arm: int | None = None) -> list[dict]:
    """Both designs, as plain rows for a results section."""
    rows = []
    for design in ("two_arm_trial", "matched_comparison"):
        row = asdict(required_size(inputs, design))
        if available_per_arm is not None:
            row["available_treated"] = int(available_per_arm)
            row["mdes_for_available"] = minimum_detectable_effect(inputs, available_per_arm, design)
        row["comparison_ratio"] = inputs.comparison_ratio if design == "matched_comparison" else 1.0
        row["matched_share"] = inputs.matched_share if design == "matched_comparison" else None
        rows.append(row)
    return rows


def icc_anova(values, groups) -> tuple[float, int, float]:
    """One-way ANOVA estimate of the ICC (truncated at 0), clusters, and mean cluster size.

    Unequal cluster sizes use Donner's n0 = (N - sum n_i^2 / N) / (k - 1).
    """
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"y": values, "g": groups}).dropna()
    sizes = frame.groupby("g")["y"].size()
    k, total = len(sizes), len(frame)
    if k < 2 or total <= k:
        raise EstimationError(f"cannot estimate an ICC from {k} cluster(s) and {total} value(s); "
                              "expected at least 2 clusters with more people than clusters")
    means = frame.groupby("g")["y"].transform("mean")
    msb = float(((frame.groupby("g")["y"].mean() - frame["y"].mean()) ** 2 * sizes).sum() / (k - 1))
    msw = float(((frame["y"] - means) ** 2).sum() / (total - k))
    n0 = (total - float((sizes ** 2).sum()) / total) / (k - 1)
    denom = msb + (n0 - 1) * msw
    icc = 0.0 if denom <= 0 else max(0.0, (msb - msw) / denom)
    return float(icc), int(k), float(np.mean(sizes))
