"""Small hand-made studies for the evidence tests: ResultSets and contexts, no data needed."""

from __future__ import annotations

from evalkit.evidence.assess import IndicatorFacts, StudyContext
from evalkit.results import Estimate, FlowStage, Manifest, ResultSet

ESTIMAND = {"pre_post": "mean_change", "matched_comparison": "att", "difference_in_differences": "did_att",
            "interrupted_time_series": "level_change", "rct": "ate"}
INDICATORS = {
    "wellbeing": IndicatorFacts("wellbeing", "Wellbeing score", child_outcome=True, source="survey",
                                instrument="SDQ", validated=True),
    "suspended": IndicatorFacts("suspended", "Suspended", child_outcome=True, source="education"),
    "adult_offending": IndicatorFacts("adult_offending", "Offences by parents", child_outcome=False, source="police"),
}
# a balance table where every covariate is within 0.05 SD after matching
CLEAN_BALANCE = {"rows": [{"covariate": "age", "smd_after": 0.02, "adjusted": False},
                          {"covariate": "attend_pre", "smd_after": -0.04, "adjusted": False}],
                 "wwc_pass": True}


def manifest() -> Manifest:
    return Manifest(evalkit_version="test", python_version="3", dependencies={}, seed=1, inputs=(), options={})


def estimate(indicator="wellbeing", design="pre_post", *, est=0.4, p=0.001, n=100, good=True,
             timepoints=("baseline", "exit"), n_treated=None, n_comparison=None, ci=None, primary=True,
             estimand=None, units="points", p_holm=None) -> Estimate:
    comparative = design in ("matched_comparison", "difference_in_differences", "rct")
    if comparative and n_treated is None:
        n_treated = n_comparison = n // 2
    return Estimate(indicator=indicator, design=design, estimand=estimand or ESTIMAND[design],
                    timepoints=tuple(timepoints), n=n, estimate=est, std_error=0.1,
                    ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None, p_value=p, method="test",
                    units=units, direction_good=good, primary=primary, n_treated=n_treated,
                    n_comparison=n_comparison, p_value_holm=p_holm)


def study(evaluation, design="pre_post", *, intervention="prog", estimates=None, sections=None, flow=(),
          follow_up=6, independent=True, **est_kwargs):
    """A (ResultSet, StudyContext) pair; extra keywords go to the one default estimate."""
    if estimates is None:
        estimates = [estimate(design=design, **est_kwargs)]
    if sections is None:
        sections = {"balance": CLEAN_BALANCE} if design == "matched_comparison" else {}
    result = ResultSet(evaluation=evaluation, intervention=intervention, title=f"study {evaluation}",
                       design=design, estimates=tuple(estimates), flow=tuple(flow), warnings=(),
                       sections=sections, manifest=manifest())
    context = StudyContext(evaluation=evaluation, intervention=intervention, design=design, title=evaluation,
                           stage={"pre_post": "pilot_for_outcomes", "feasibility": "test_feasibility"}.get(
                               design, "test_for_efficacy"),
                           evaluator="Evaluator", independent=independent, follow_up_months=follow_up,
                           primary_outcome=estimates[0].indicator if estimates else None, indicators=INDICATORS)
    return result, context


def external_section(**over):
    base = {"citation": "A trial", "url": None, "sample": {"treated": 300, "comparison": 290, "clusters": 20},
            "attrition": {"overall": 0.1, "differential": 0.02}, "baseline_equivalence": True,
            "intention_to_treat": True, "follow_up_months": 12,
            "results": [{"indicator": "wellbeing", "estimate": 0.2, "ci": [0.05, 0.35], "p_value": 0.01,
                         "std_error": None, "n": None, "effect_size": None, "follow_up_months": None}]}
    base.update(over)
    return base


__all__ = ["estimate", "study", "clean_pair", "external_section", "FlowStage", "CLEAN_BALANCE", "INDICATORS"]


def clean_pair(evaluation, intervention="prog", *, follow_up=12, p=0.001, sections=None, **kw):
    """A clean matched study (Level-3 quality) of ``intervention``."""
    return study(evaluation, "matched_comparison", intervention=intervention, follow_up=follow_up, p=p, n=200,
                 timepoints=("baseline", f"follow_up_{follow_up}m"), sections=sections, **kw)
