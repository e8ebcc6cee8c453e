"""The design registry's one list: the module of each design, in the order designs are listed to users.

Adding a design is one line here (and its module). A bare name is a module of
:mod:`evalkit.spec.designs`; a dotted name is a module anywhere on the path (a design kept outside
evalkit, or a test's toy design). The design is named as its module's last part.

This module imports nothing, so that :mod:`evalkit.spec.raw` can build the ``Design`` choices from
it without importing the registry (whose entries import ``raw`` for their options models).
"""

MODULES = ("pre_post", "matched_comparison", "difference_in_differences", "interrupted_time_series", "rct",
           "feasibility", "comparison_areas")


def design_names() -> tuple[str, ...]:
    """The designs a plan can name, in the order of :data:`MODULES`."""
    return tuple(name.rpartition(".")[2] for name in MODULES)
