"""Matched or weighted comparison (evalkit.estimate.matching), options in the plan's ``matching``."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.matched_comparison, analysis="matching", options_section="matching",
    # SEs are clustered by matched set; survey weights are not built yet
    options=frozenset({"covariates", "subgroups"}),
    sections=("attrition", "balance", "matching", "propensity", "subgroups", "delivery"),
    evidence_class="matched_QED", words="matched comparison", comparative=True, robustness=True)
