"""The design registry: one module per design declares what evalkit knows about it.

Each module in this package defines ``DESIGN``, a :class:`DesignEntry`: the plan options the
design reads (its options section, a pydantic model in :mod:`evalkit.spec.raw`, and the top-level
options), its analysis (the module under ``evalkit.estimate`` exposing ``analyse(evaluation,
frame, seed)``), the results sections it writes (records in :mod:`evalkit.result_sections`),
whether it compares groups, reads long-form data or gets the DoWhy robustness sections, and its
evidence class. ``evalkit.run``, ``evalkit.estimate.causal``, ``evalkit.spec`` (validation) and
``evalkit.evidence.assess`` ask :data:`REGISTRY` instead of keeping their own tables.

The registry is data only (no estimator is imported until a design runs), so it lives in the
spec layer, which imports nothing of evalkit but ``errors``: the analysis and the section
records are named, not imported. Adding a design is one module here, its analysis module under
``evalkit/estimate/``, its tests, and one line in :data:`MODULES` (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from evalkit.spec.raw import Design

# one line per design, in the order they are listed to users
MODULES = ("pre_post", "matched_comparison", "difference_in_differences", "interrupted_time_series", "rct",
           "feasibility", "comparison_areas")


@dataclass(frozen=True)
class DesignEntry:
    design: Design
    analysis: str  # module under evalkit.estimate exposing analyse(evaluation, frame, seed)
    options: frozenset[str]  # top-level plan options it reads: covariates, subgroups, cluster, weights
    sections: tuple[str, ...]  # results sections it writes (keys of evalkit.result_sections.SECTION_TYPES);
    # "delivery" is written for any design whose plan has a delivery block (evalkit.estimate.delivery_run)
    evidence_class: str  # the design class of the evidence rules (evalkit/evidence/rules.yml)
    words: str  # the design in an evaluator's words
    options_section: str | None = None  # its own options block in the plan (a model in spec/raw.py)
    comparative: bool = False  # compares treated and comparison units in the data
    long_form: bool = False  # one row per unit per period (data.period)
    robustness: bool = False  # DoWhy refutations and sensitivity sections (evalkit.estimate.causal)
    notes: tuple[str, ...] = field(default=())


def _load() -> dict[Design, DesignEntry]:
    out = {}
    for name in MODULES:
        entry = importlib.import_module(f"{__name__}.{name}").DESIGN
        out[entry.design] = entry
    return out


REGISTRY: dict[Design, DesignEntry] = _load()
ROBUSTNESS_SECTIONS = ("robustness", "sensitivity")


def entry(design: Design | str) -> DesignEntry:
    """The registry entry of ``design`` (an unknown name is an error listing the designs there are)."""
    from evalkit.errors import OptionError

    try:
        return REGISTRY[Design(design)]
    except (ValueError, KeyError):
        raise OptionError(f"design {design!r} is not known; expected one of "
                          f"{', '.join(d.value for d in REGISTRY)}") from None
