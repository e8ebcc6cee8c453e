"""The design registry (evalkit/spec/designs/): one entry per design, and the tables read from it."""

from __future__ import annotations

import importlib.util

from evalkit.result_sections import SECTION_TYPES
from evalkit.spec import raw as r
from evalkit.spec.design_list import MODULES
from evalkit.spec.designs import REGISTRY, ROBUSTNESS_SECTIONS, entry


def test_every_design_has_one_entry_in_its_own_module():
    assert set(REGISTRY) == set(r.Design)
    assert [e.design.value for e in REGISTRY.values()] == list(MODULES)  # the module is named as the design
    assert list(r.Design) == list(REGISTRY)  # the plan's choices are the registry's, in its order


def test_each_entry_names_what_exists():
    plan_fields = set(r.EvaluationFile.model_fields)
    for design, e in REGISTRY.items():
        spec = importlib.util.find_spec(e.analysis_module)
        assert spec is not None, design
        assert set(e.sections) <= set(SECTION_TYPES), design
        assert e.options <= {"covariates", "subgroups", "cluster", "weights"}, design
        assert e.options_section is None or e.options_section in plan_fields, design
    assert set(ROBUSTNESS_SECTIONS) <= set(SECTION_TYPES)


def test_the_other_tables_are_the_registrys():
    import evalkit.estimate.causal as causal
    from evalkit.evidence import assess
    from evalkit.spec import model
    from evalkit.spec.options import DESIGN_OPTIONS

    run_module = importlib.import_module("evalkit.run")
    assert run_module.DESIGN_MODULES["matched_comparison"] == "evalkit.estimate.matching"
    assert run_module.ROBUSTNESS_DESIGNS == causal.DESIGNS == ("matched_comparison", "difference_in_differences")
    assert assess.COMPARATIVE == ("matched_comparison", "difference_in_differences", "rct")
    assert {d.value for d in model.COMPARATIVE_DESIGNS} == set(assess.COMPARATIVE)
    assert assess.DESIGNS["difference_in_differences"] == ("DiD", "difference-in-differences")
    assert DESIGN_OPTIONS[r.Design.pre_post] == frozenset({"subgroups", "cluster"})


def test_an_unknown_design_lists_the_known_ones():
    import pytest

    from evalkit.errors import OptionError

    assert entry("rct").evidence_class == "RCT"
    with pytest.raises(OptionError, match="design 'synthetic_control' is not known; expected one of pre_post, "
                                          "matched_comparison"):
        entry("synthetic_control")
