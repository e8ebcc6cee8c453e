"""Matched or weighted comparison (evalkit.estimate.matching), options in the plan's ``matching``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, RobustnessFacts, SubgroupFacts
from evalkit.spec.raw import Design, Matching


def checks(plan: PlanCheck) -> None:
    """Covariates to match on, and matching options that work together (before any data is read)."""
    from evalkit.spec.options import matching_problems  # it reads the registry, which is loading this module

    raw = plan.plan
    if plan.has_data and not raw.covariates:
        plan.err(("covariates",), "a matched comparison needs covariates to match on", "none",
                 "a list of baseline covariate columns")
    if raw.matching is not None:
        for problem in matching_problems(raw.matching, raw.covariates):
            plan.err(*problem)


DESIGN = DesignEntry(
    conventions={None: "hc1_pair_t"},
    subgroups=SubgroupFacts(
        "att", "HC1", "subgroup_balance",
        "matching balanced the groups as a whole, not within each subgroup: a subgroup's comparison may be less "
        "alike than the whole sample's (matching within subgroups, e.g. as an exact column, would ensure it)",
        # matching.method: ipw weights the groups instead of matching them
        variants={"weighting": SubgroupFacts(
            "att", "HC1", "subgroup_balance",
            "the weights balanced the groups as a whole, not within each subgroup: a subgroup's comparison may be "
            "less alike than the whole sample's")}),
    design=Design.matched_comparison, analysis="matching", options_section="matching", options_model=Matching,
    options_default=Matching, options_ignored="does not match", two_files=True, checks=checks,
    # SEs are clustered by matched set; survey weights are not built yet
    options=frozenset({"covariates", "subgroups"}),
    sections=("attrition", "balance", "matching", "propensity", "subgroups", "delivery"),
    evidence_class="matched_QED", words="matched comparison", comparative=True,
    # DoWhy's regression on the matched rows; the sensitivity section adds Rosenbaum bounds for its matched sets
    robustness=RobustnessFacts("evalkit.estimate.causal:matched_data", rosenbaum=True),
    report=ReportFacts(
        words="matched comparison group (propensity score matching)",
        words_when_weighted="weighted comparison group (inverse probability of taking part, from a propensity score)",
        caveat=("Participants were compared with similar non-participants chosen by matching on "
                "recorded characteristics; differences in unrecorded characteristics could still bias the results."),
        balance_heading="Balance after matching"),
    # level 3 on the Maryland scale when the outcome has a baseline (a before/after comparison)
    evidence=EvidenceFacts(sms_variant="evalkit.evidence.assess:sms_with_baseline"))
