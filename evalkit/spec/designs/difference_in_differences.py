"""Difference-in-differences on a panel (evalkit.estimate.did), options in the plan's ``did``."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.difference_in_differences, analysis="did", options_section="did",
    options=frozenset({"covariates", "cluster", "weights", "subgroups"}),
    sections=("event_study", "group_time", "subgroups", "delivery"),
    evidence_class="DiD", words="difference-in-differences", comparative=True, long_form=True, robustness=True)
