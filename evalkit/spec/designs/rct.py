"""Randomised trial: run by evalkit as ITT (evalkit.estimate.rct), or a published one (``external``)."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.rct, analysis="rct",
    options=frozenset({"covariates", "subgroups", "cluster"}),
    sections=("attrition", "balance", "rct", "external", "subgroups", "delivery"),
    evidence_class="RCT", words="randomised controlled trial", comparative=True)
