"""Comparison areas: synthetic control, with area difference-in-differences beside it
(evalkit.estimate.place.design), options in the plan's ``comparison_areas``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, ReportFacts, ReportSection
from evalkit.spec.raw import ComparisonAreas, Design

DESIGN = DesignEntry(
    design=Design.comparison_areas, analysis="place.design", options_section="comparison_areas",
    options_model=ComparisonAreas,
    # covariates are area characteristics used as extra predictors of the synthetic control; the
    # area DiD clusters by area itself, so no cluster or weights column
    options=frozenset({"covariates"}),
    sections=("comparison_areas",),
    # evidence about a strategy in one place (docs/place-based.md), not a programme rating
    evidence_class="comparison_areas", words="comparison areas (synthetic control)", long_form=True,
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
