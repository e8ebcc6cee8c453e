"""Difference-in-differences on a panel (evalkit.estimate.did), options in the plan's ``did``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, ReportFacts, ReportSection, RobustnessFacts, SubgroupFacts
from evalkit.spec.raw import Design, DifferenceInDifferences

DESIGN = DesignEntry(
    subgroups=SubgroupFacts(
        "did_att", "HC1", "subgroup_parallel_trends",
        "each subgroup's estimate assumes parallel trends within that subgroup, which the overall pre-trend test "
        "does not check"),
    design=Design.difference_in_differences, analysis="did", options_section="did",
    options_model=DifferenceInDifferences, options_default=DifferenceInDifferences,
    options_ignored="is not difference-in-differences",
    options=frozenset({"covariates", "cluster", "weights", "subgroups"}),
    sections=("event_study", "group_time", "subgroups", "delivery"),
    evidence_class="DiD", words="difference-in-differences", comparative=True, long_form=True,
    # DoWhy's regression on the two-way demeaned panel; its primary estimate is the DiD ATT
    robustness=RobustnessFacts("evalkit.estimate.causal:did_data", estimands=("did_att", "att", "ate", "group_time")),
    report=ReportFacts(
        words="difference-in-differences against a comparison group",
        caveat=("The effect is estimated by comparing changes over time against a comparison "
                "group; it relies on both groups having followed parallel trends.")),
    report_sections=(
        ReportSection("event_study", "Event study", "sec-event-study", "evalkit.report.sections:event_study",
                      also=("honest_did",)),
        ReportSection("group_time", "Effects by cohort and period", "sec-group-time",
                      "evalkit.report.sections:group_time")),
    evidence=EvidenceFacts(pre_trend_check=True))
