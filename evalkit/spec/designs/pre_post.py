"""Pre/post change in one group (evalkit.estimate.pre_post)."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, ReportSection, SubgroupFacts
from evalkit.spec.raw import Design


def checks(plan: PlanCheck) -> None:
    """Each indicator's change from its own baseline column: wide data, and a baseline for every indicator."""
    raw = plan.plan
    if plan.has_data and plan.long_form:
        plan.err(("data", "period"), "pre_post reads each timepoint from its own column (wide form)",
                 f"period '{raw.data.period}'", "no data.period; list timepoints instead")
    for ind_id in plan.timepoints:
        columns = raw.timepoints[ind_id]
        if "baseline" not in columns:
            plan.err(("timepoints", ind_id), "pre/post change needs a baseline", ", ".join(columns) or "nothing",
                     "a 'baseline' timepoint")


DESIGN = DesignEntry(
    conventions={"mean_change": "paired_t", "change_in_proportion": "newcombe_mcnemar", "rate_ratio": "gee_sandwich_z"},
    clustered_convention="cr1_t",
    subgroups=SubgroupFacts(
        "mean_change", "HC2", "no_causal_claim",
        "pre/post change in a subgroup is not an effect: without a comparison group, differences between "
        "subgroups may reflect regression to the mean or different trajectories"),
    design=Design.pre_post, analysis="pre_post", checks=checks,
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
