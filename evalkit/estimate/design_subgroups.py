"""The designs' subgroup hook: the plan's ``subgroups`` run through :mod:`evalkit.estimate.subgroups`.

Each design (pre/post, matched comparison and weighting, difference-in-differences, RCT) hands
over, for each outcome it estimated, its *analysis frame* (the rows it analysed, with the
columns its estimator used) and an :class:`~evalkit.estimate.subgroups.EffectModel` saying which
column plays which part. :func:`subgroup_section` fits the subgroup models and returns the
results section ``subgroups`` (one entry per indicator, at its first follow-up: the effect in each
level with its interval, the interaction test, Holm across both families, the caveats) and the
run's cautions.

The section keeps the counts of every level (units per arm, events, clusters) and leaves every
statistic of a level with too few units empty; the report's "Who benefits" section
(:mod:`evalkit.report.subgroup_sections`) decides, through the publishing layer, what is printed.
The run's cautions hold only the two warnings every subgroup analysis carries (not powered;
exploratory unless pre-registered): the data problems stay in the section, beside the numbers
they concern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from evalkit.results import RunWarning

SECTION = "subgroups"
# the caveats that are also the run's cautions (every other one stays in the section)
RUN_CAVEATS = ("subgroups_not_powered", "subgroups_exploratory")


@dataclass(frozen=True)
class OutcomeFrame:
    """One outcome's analysis frame, as its design analysed it."""

    indicator: str
    timepoint: str
    frame: pd.DataFrame
    model: object  # evalkit.estimate.subgroups.EffectModel


def wanted(evaluation) -> bool:
    return bool(getattr(evaluation, "subgroups", ()))


def with_subgroups(part: pd.DataFrame, evaluation, frame: pd.DataFrame, rows) -> pd.DataFrame:
    """``part`` (a design's analysis frame, index 0..n-1) with the plan's subgroup columns of ``frame``
    at positions ``rows`` beside it."""
    from evalkit.errors import DataError, OptionError

    missing = [c for c in evaluation.subgroups if c not in frame.columns]
    if missing:
        raise DataError(f"subgroup column '{missing[0]}' (subgroups) is not in the data; the data has "
                        + ", ".join(map(str, list(frame.columns)[:12])))
    clash = [c for c in evaluation.subgroups if c in part.columns]
    if clash:
        raise OptionError(f"subgroups: column '{clash[0]}' is also a column the {evaluation.design.value} analysis "
                          "uses for another part (outcome, treatment, cluster, weights or a covariate); expected a "
                          "characteristic of the units that is not in the model already")
    values = frame[list(evaluation.subgroups)].iloc[rows].reset_index(drop=True)
    return pd.concat([part.reset_index(drop=True), values], axis=1)


def subgroup_section(evaluation, outcomes: Sequence[OutcomeFrame]) -> tuple[dict, list[RunWarning]]:
    """The ``subgroups`` results section of ``outcomes`` (first follow-up of each indicator) and its cautions."""
    from evalkit.estimate import subgroups as sg
    from evalkit.results import _plain

    section: dict = {}
    run_warnings: list[RunWarning] = []
    for out in outcomes:
        if out.indicator in section:
            continue  # one entry per indicator: its first follow-up, as the attrition section
        analysis = sg.subgroup_effects(out.frame, out.model, list(evaluation.subgroups), indicator=out.indicator,
                                       pre_registered=False)
        effects = sg.subgroup_frame(analysis).drop(columns=["outcome", "indicator", "design", "covariance"],
                                                   errors="ignore")
        tests = sg.interaction_frame(analysis).drop(columns=["outcome", "indicator", "pre_registered"],
                                                    errors="ignore")
        section[out.indicator] = _plain({
            "timepoint": out.timepoint, "design": analysis.design.value, "estimand": analysis.estimand,
            "scale": analysis.scale.value, "interaction": analysis.interaction.value,
            "covariance": analysis.covariance, "pre_registered": analysis.pre_registered,
            "min_arm": analysis.min_arm, "few_per_arm": analysis.few_per_arm, "ci_level": analysis.ci_level,
            "families": dict(analysis.families),
            "effects": [_row(r) for r in effects.to_dict("records")],
            "tests": [_row(r) for r in tests.to_dict("records")],
            "caveats": [{"code": wn.code, "message": wn.message} for wn in analysis.warnings],
        })
        for wn in analysis.warnings:
            if wn.code in RUN_CAVEATS and all(w.code != wn.code for w in run_warnings):
                run_warnings.append(RunWarning(wn.code, wn.message))
    return section, run_warnings


def _row(record: dict) -> dict:
    """A frame row as JSON: missing values as null, numpy scalars as Python ones."""
    import math

    out = {}
    for k, v in record.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out
