"""Comparison areas: synthetic control, with area difference-in-differences beside it
(evalkit.estimate.place.design), options in the plan's ``comparison_areas``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, ReportSection
from evalkit.spec.raw import AreaEstimate, ComparisonAreas, Design, SyntheticMethod


def checks(plan: PlanCheck) -> None:
    """What a comparison-area plan needs before any data is read (the panel's own rules run on the data)."""
    raw = plan.plan
    if not plan.has_data:
        return
    err, ca = plan.err, raw.comparison_areas
    if raw.data.population is None:
        err(("data",), "a comparison-area design compares rates per population", "no data.population",
            "data.population: the residents column (ONS mid-year estimates by month)")
    if ca is None:
        err(("comparison_areas",), "required key is missing", "nothing",
            "comparison_areas: {treated_from: <column of start months>, method: synth}")
        return
    if raw.data.treatment is not None:
        err(("data", "treatment"), "areas are treated from a month, named by comparison_areas.treated_from",
            f"'{raw.data.treatment}'", "no data.treatment with design: comparison_areas")
    if raw.covariates and ca.method is SyntheticMethod.augmented:
        # the ridge augmented fit weights donors on the pre-period outcomes alone, and the area DiD has no covariates
        err(("covariates",), "not used by method 'augmented' (the ridge augmented synthetic control fits the "
            "pre-period outcomes only)", ", ".join(raw.covariates), "no covariates with method: augmented, or "
            "method: synth (covariates are predictors of its fit)")
    if "did_weighting" in ca.model_fields_set and ca.second_estimate is not AreaEstimate.area_did:
        err(("comparison_areas", "did_weighting"), f"not used with second_estimate '{ca.second_estimate.value}' "
            "(it weights the area difference-in-differences)", f"did_weighting: {ca.did_weighting.value}",
            "no did_weighting, or second_estimate: area_did")
    for ind, column in (ca.under_25.outcomes.items() if ca.under_25 is not None else ()):
        if ind not in raw.outcomes:
            err(("comparison_areas", "under_25", "outcomes", ind), "an under-25s' count needs its all-ages outcome",
                f"'{ind}'", "one of the plan's outcomes: " + (", ".join(raw.outcomes) or "(none listed)"))
        if column in raw.outcomes.values():
            err(("comparison_areas", "under_25", "outcomes", ind), "the under-25s' count is an all-ages outcome column",
                f"'{column}'", "the column of events among under-25s")


DESIGN = DesignEntry(
    design=Design.comparison_areas, analysis="place.design", options_section="comparison_areas",
    options_model=ComparisonAreas, options_only_for_design=True, options_ignored="does not compare areas",
    checks=checks,
    # covariates are area characteristics used as extra predictors of the synthetic control; the
    # area DiD clusters by area itself, so no cluster or weights column
    options=frozenset({"covariates"}),
    sections=("comparison_areas",),
    # evidence about a strategy in one place (docs/place-based.md), not a programme rating
    evidence_class="comparison_areas", words="comparison areas (synthetic control)", long_form=True, population=True,
    report=ReportFacts(
        words="synthetic control against comparison areas, with area difference-in-differences",
        caveat=("The effect is the gap between the area and a weighted average of comparison areas that "
                "tracked it before the start; anything else that changed only in this area at the same "
                "time could explain the gap.")),
    # issue 18: its own report module, evalkit/report/place.py; its monthly counts are declared
    # before any estimate that reveals their total is shown
    report_sections=(ReportSection("comparison_areas", "Against comparison areas", "sec-comparison-areas",
                                   "evalkit.report.sections:comparison_areas",
                                   prepare="evalkit.report.sections:declare_comparison_areas"),),
    evidence=EvidenceFacts(
        counts_participants=False, sample_size_not_applicable="a population series: participants are not counted",
        baseline_not_applicable=("comparison areas weighted to track the treated area before the start (the "
                                 "pre-period fit is in the results)"),
        robustness_not_applicable=("placebos in space and in time instead (in the report); no DoWhy refutations "
                                   "for area panels")))
