"""Randomised trial: run by evalkit as ITT (evalkit.estimate.rct), or a published one (``external``)."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, ReportFacts, ReportSection, SubgroupFacts
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    subgroups=SubgroupFacts(
        "itt", "HC2", "subgroup_baseline",
        "randomisation holds within subgroups only when they are defined by characteristics measured before "
        "randomisation"),
    design=Design.rct, analysis="rct",
    options=frozenset({"covariates", "subgroups", "cluster"}),
    sections=("attrition", "balance", "rct", "external", "subgroups", "delivery"),
    evidence_class="RCT", words="randomised controlled trial", comparative=True,
    report=ReportFacts(
        words="randomised controlled trial",
        caveat="Participants were allocated at random, which supports a causal interpretation if the trial was well run."),
    report_sections=(ReportSection("external", "The study", "sec-external", "evalkit.report.sections:external",
                                   place="after_methods"),),
    # a trial's balance table describes the randomised sample unless it says otherwise
    evidence=EvidenceFacts(balance_describes="randomised", intention_to_treat_check=True))
