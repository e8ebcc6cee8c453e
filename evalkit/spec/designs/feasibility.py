"""Feasibility study with progression criteria (evalkit.estimate.feasibility), options in ``feasibility``."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.feasibility, analysis="feasibility", options_section="feasibility",
    # the cluster column gives the ICC of the sample-size planning
    options=frozenset({"cluster"}),
    sections=("feasibility", "delivery"),
    evidence_class="feasibility", words="feasibility study")
