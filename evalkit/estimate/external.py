"""External studies: results a published study reports, recorded in the plan, as estimates.

evalkit does not re-estimate anything here; it carries the reported numbers into the same
record shape so the evidence rating can weigh them beside the studies evalkit ran. A standard
error missing from the report is derived from the CI (normal approximation) and said so.
"""

from __future__ import annotations

import math

from evalkit.estimate import Analysis
from evalkit.estimate._stats import Z95
from evalkit.results import EffectSize, Estimate, FlowStage
from evalkit.spec import model as m
from evalkit.spec.raw import Direction, Scale

RATIO_KINDS = ("odds_ratio", "risk_ratio", "rate_ratio")


def analyse(evaluation: m.Evaluation) -> Analysis:
    ext = evaluation.external
    estimates = []
    n = None  # the reported sample, for results that give no n of their own
    if ext.sample.treated is not None and ext.sample.comparison is not None:
        n = ext.sample.treated + ext.sample.comparison
    for res in ext.results:
        ind = evaluation.intervention.indicators[res.indicator]
        es = EffectSize(res.effect_size.kind.value, res.effect_size.value) if res.effect_size else None
        # a ratio's "no effect" is 1, a difference's 0: the verdict and the direction depend on it
        ratio = res.scale is Scale.ratio if res.scale is not None else (
            es is not None and es.kind in RATIO_KINDS and es.value == res.estimate)
        null = 1.0 if ratio else 0.0
        se = res.std_error
        method = "as reported by the study"
        if se is None and res.ci is not None:
            low, high = res.ci
            if not ratio:
                se = (high - low) / (2 * Z95)
                method += "; standard error derived from the reported 95% CI"
            elif low > 0:
                se = (math.log(high) - math.log(low)) / (2 * Z95)
                method += "; standard error (log scale) derived from the reported 95% CI"
        good = None if res.estimate == null else (res.estimate > null) == (ind.direction is Direction.increase)
        estimates.append(Estimate(
            indicator=res.indicator, design=evaluation.design.value, estimand="reported",
            timepoints=("baseline", f"follow_up_{res.follow_up_months or ext.follow_up_months or evaluation.follow_up_months}m"),
            n=res.n if res.n is not None else (n or 0), estimate=res.estimate, std_error=se,
            ci_low=res.ci[0] if res.ci else None, ci_high=res.ci[1] if res.ci else None, p_value=res.p_value,
            method=method, units="ratio" if ratio else "difference, as reported", direction_good=good,
            effect_size=es,
            primary=res.indicator == evaluation.primary_outcome.id, comparison="treated vs comparison",
            n_treated=ext.sample.treated, n_comparison=ext.sample.comparison))
    flow = []
    if ext.sample.treated is not None:
        flow.append(FlowStage("analysed", ext.sample.treated, group="treated"))
    if ext.sample.comparison is not None:
        flow.append(FlowStage("analysed", ext.sample.comparison, group="comparison"))
    section = ext.model_dump(mode="json")
    return Analysis(estimates=tuple(estimates), flow=tuple(flow), sections={"external": section})
