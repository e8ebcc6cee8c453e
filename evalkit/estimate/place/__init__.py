"""Place-based designs: treated areas against comparison areas, month by month.

The statistical core, and the design a plan runs (``design: comparison_areas``, :mod:`.design`):

- :mod:`.panel`: :func:`comparison_panel` checks an area-by-month frame (counts, populations,
  start months) into a frozen :class:`ComparisonPanel`, with one-line :class:`PanelError`s;
- :mod:`.synthetic_control`: :func:`synthetic_control` (ADH nested-V synthetic control as R
  Synth, or ridge augmented), placebo-in-space rank p-value, placebo-in-time, monthly gap band
  and events prevented with a permutation interval, as a frozen :class:`SyntheticControlResult`
  with a tidy monthly frame;
- :mod:`.area_did`: :func:`area_did`, two-way fixed effects on rates with cluster-robust,
  wild-bootstrap (hook) and permutation inference.

- :mod:`.design`: ``analyse(evaluation, frame, seed)`` for ``evalkit run``: both estimators for each
  outcome (all ages and under-25s), the estimates and the ``comparison_areas`` results section.

See docs/place-based.md.
"""

from evalkit.estimate.place.area_did import AreaDidResult, BootstrapResult, WildClusterBootstrap, area_did  # noqa: F401
from evalkit.estimate.place.panel import (  # noqa: F401
    MIN_DONORS, MIN_PRE_PERIODS, ComparisonPanel, Measure, PanelError, TreatedArea, check_inside_hull,
    comparison_panel,
)
from evalkit.estimate.place.synthetic_control import (  # noqa: F401
    Method, SyntheticControlResult, SynthError, fit_synth, ridge_augment, simplex_weights, synthetic_control,
)
