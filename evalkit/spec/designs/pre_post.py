"""Pre/post change in one group (evalkit.estimate.pre_post)."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, ReportFacts, ReportSection
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.pre_post, analysis="pre_post",
    # a single-group change: no comparison group to adjust or weight
    options=frozenset({"subgroups", "cluster"}),
    sections=("reliable_change", "attrition", "subgroups", "delivery"),
    evidence_class="pre_post", words="pre/post",
    report=ReportFacts(
        words="before-and-after (pre/post) comparison in one group",
        caveat=("This is a before-and-after comparison without a comparison group, so changes cannot be "
                "attributed to the programme: they may reflect maturation, regression to the mean or other events."),
        analysed_has_both_measures=True),
    report_sections=(ReportSection("reliable_change", "Reliable change", "sec-reliable-change",
                                   "evalkit.report.sections:reliable_change"),),
    evidence=EvidenceFacts())
