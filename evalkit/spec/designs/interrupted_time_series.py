"""Interrupted time series of counts (evalkit.estimate.its), options in the plan's ``time_series``."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.interrupted_time_series, analysis="its", options_section="time_series",
    # counts against the population at risk, one series per area: no unit-level options
    options=frozenset(),
    sections=("counterfactual", "delivery"),
    evidence_class="ITS", words="interrupted time series", long_form=True)
