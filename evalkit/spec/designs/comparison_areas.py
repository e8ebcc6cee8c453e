"""Comparison areas: synthetic control, with area difference-in-differences beside it
(evalkit.estimate.place.design), options in the plan's ``comparison_areas``."""

from evalkit.spec.designs import DesignEntry
from evalkit.spec.raw import Design

DESIGN = DesignEntry(
    design=Design.comparison_areas, analysis="place.design", options_section="comparison_areas",
    # covariates are area characteristics used as extra predictors of the synthetic control; the
    # area DiD clusters by area itself, so no cluster or weights column
    options=frozenset({"covariates"}),
    sections=("comparison_areas",),
    # evidence about a strategy in one place (docs/place-based.md), not a programme rating
    evidence_class="comparison_areas", words="comparison areas (synthetic control)", long_form=True)
