"""Pre/post change in one group (evalkit.estimate.pre_post)."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.pre_post, analysis="pre_post",
    # a single-group change: no comparison group to adjust or weight
    options=frozenset({"subgroups", "cluster"}),
    sections=("reliable_change", "attrition", "subgroups", "delivery"),
    evidence_class="pre_post", words="pre/post")
