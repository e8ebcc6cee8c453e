"""Feasibility study with progression criteria (evalkit.estimate.feasibility), options in ``feasibility``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, ReportFacts, ReportSection
from evalkit.spec.raw import Design, Feasibility

DESIGN = DesignEntry(
    design=Design.feasibility, analysis="feasibility", options_section="feasibility", options_model=Feasibility,
    # the cluster column gives the ICC of the sample-size planning
    options=frozenset({"cluster"}),
    sections=("feasibility", "delivery"),
    evidence_class="feasibility", words="feasibility study",
    report=ReportFacts(words="feasibility study", analysed_has_both_measures=True, outcome_flow_column=True,
                       criteria_not_tests=True),
    report_sections=(ReportSection("feasibility", "Feasibility criteria", "sec-feasibility",
                                   "evalkit.report.sections:feasibility", place="before_results"),),
    evidence=EvidenceFacts(
        counts_participants=False, sample_size_not_applicable="a feasibility study: sample size is planned, not tested",
        effects_not_applicable="a feasibility study measures delivery, not effects", pathway_section="feasibility"))
