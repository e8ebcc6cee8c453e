"""Small hand-made studies for the evidence tests: ResultSets and contexts, no data needed."""

from __future__ import annotations

from evalkit.evidence.assess import IndicatorFacts, StudyContext
from evalkit.results import Estimate, FlowStage, Manifest, ResultSet

ESTIMAND = {"pre_post": "mean_change", "matched_comparison": "att", "difference_in_differences": "did_att",
            "interrupted_time_series": "level_change", "rct": "ate"}
INDICATORS = {
    "wellbeing": IndicatorFacts("wellbeing", "Wellbeing score", child_outcome=True, source="survey",
                                instrument="SDQ", validated=True, node_kind="outcome",
                                eif_outcome="mental_health_and_wellbeing"),
    "suspended": IndicatorFacts("suspended", "Suspended", child_outcome=True, source="education", node_kind="outcome",
                                eif_outcome="school_achievement_and_employment"),
    "adult_offending": IndicatorFacts("adult_offending", "Offences by parents", child_outcome=False, source="police",
                                      node_kind="outcome"),
    "referrals": IndicatorFacts("referrals", "Referrals", child_outcome=False, source="programme", node_kind="output"),
    "attitude": IndicatorFacts("attitude", "Acceptance of violence", child_outcome=False, source="survey",
                               instrument="Attitude scale", validated=True, node_kind="outcome"),
}
# a balance table where every covariate is within 0.05 SD after matching
CLEAN_BALANCE = {"rows": [{"covariate": "age", "smd_after": 0.02, "adjusted": False},
                          {"covariate": "attend_pre", "smd_after": -0.04, "adjusted": False}],
                 "wwc_pass": True}


def manifest(data_sha256=None, units_sha256=None) -> Manifest:
    inputs = ()
    if data_sha256 or units_sha256:
        inputs = ({"path": "data.csv", "role": "data", "sha256": data_sha256, "units_sha256": units_sha256},)
    return Manifest(evalkit_version="test", python_version="3", dependencies={}, seed=1, inputs=inputs, options={})


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
          follow_up=6, independent=True, duration=0, follow_up_from="start", data_sha256=None, units_sha256=None,
          study_id=None, study_role="main", record_status=None, **est_kwargs):
    """A (ResultSet, StudyContext) pair; extra keywords go to the one default estimate.

    ``duration``: the intervention's length in months (0: follow-up from the start is follow-up
    after its end); ``data_sha256`` / ``units_sha256`` / ``study_id``: the sample's identity.
    """
    if estimates is None:
        estimates = [estimate(design=design, **est_kwargs)]
    if sections is None:
        sections = {"balance": CLEAN_BALANCE} if design == "matched_comparison" else {}
    result = ResultSet(evaluation=evaluation, intervention=intervention, title=f"study {evaluation}",
                       design=design, estimates=tuple(estimates), flow=tuple(flow), warnings=(),
                       sections=sections, manifest=manifest(data_sha256, units_sha256))
    ext = sections.get("external") if isinstance(sections, dict) else None
    context = StudyContext(evaluation=evaluation, intervention=intervention, design=design, title=evaluation,
                           stage={"pre_post": "pilot_for_outcomes", "feasibility": "test_feasibility"}.get(
                               design, "test_for_efficacy"),
                           evaluator="Evaluator", independent=independent, follow_up_months=follow_up,
                           primary_outcome=estimates[0].indicator if estimates else None, indicators=INDICATORS,
                           external=ext is not None, duration_months=duration, follow_up_from=follow_up_from,
                           study=study_id, study_role=study_role,
                           record_status=record_status or ((ext or {}).get("status", "reported") if ext else None),
                           citation=(ext or {}).get("citation") if ext else None)
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
