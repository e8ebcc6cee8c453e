"""The design registry (evalkit/spec/designs/): one entry per design, and the tables read from it."""

from __future__ import annotations

import importlib.util

from evalkit.result_sections import SECTION_TYPES
from evalkit.spec import raw as r
from evalkit.spec.design_list import MODULES
from evalkit.spec.designs import REGISTRY, ROBUSTNESS_SECTIONS, entry


def _named_in(module, words: set[str]) -> set[str]:
    """Which of ``words`` ``module``'s source names, as a string or an attribute (``Design.pre_post``,
    ``raw.matching``), read with ast."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    texts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return (texts | attributes) & words


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


def test_every_name_an_entry_gives_resolves():
    # the registry names what belongs to the layers above it; a misspelt hook would fail only when a
    # plan of that design is rated or reported, so each one is resolved here
    import typing

    from evalkit.spec.designs import REPORT_PLACES, resolve

    plan_fields = r.EvaluationFile.model_fields
    for design, e in REGISTRY.items():
        for s in e.report_sections:
            assert callable(resolve(s.builder)), (design, s.builder)
            assert s.prepare is None or callable(resolve(s.prepare)), (design, s.prepare)
            assert s.place in REPORT_PLACES, (design, s.place)
            assert s.key in e.sections, (design, s.key)
        if e.evidence.sms_variant:
            assert callable(resolve(e.evidence.sms_variant)), design
        for name in e.records:
            assert resolve(name).KEY in e.sections, (design, name)
        if e.options_section:  # the block's model is the one the plan validates it with
            assert e.options_model in typing.get_args(plan_fields[e.options_section].annotation), design
        if e.checks is not None:  # a design's own validation rules: a function, or its dotted name
            assert callable(resolve(e.checks) if isinstance(e.checks, str) else e.checks), design
        if e.options_default is not None:  # the default block is a block of the design's own model
            assert e.options_section and isinstance(e.options_default(), e.options_model), design


def test_the_report_and_the_rating_read_the_entries():
    from evalkit.evidence import assess
    from evalkit.report import sections

    assert sections.SECTION_HOMES["feasibility"] == "sec-feasibility"  # from the feasibility entry
    assert sections.SECTION_HOMES["honest_did"] == "sec-event-study"  # shown by the event study's section
    assert assess.FACTS["rct"].intention_to_treat_check and not assess.FACTS["pre_post"].intention_to_treat_check
    assert entry("matched_comparison").report_facts.balance_heading == "Balance after matching"


def test_validation_names_no_design():
    # a design's own rules are its entry's checks hook, its block's default and "ignored" warning are
    # on the entry: resolve.py compares no design with a named one and names no design's block
    import evalkit.spec.resolve as resolve_module

    blocks = {e.options_section for e in REGISTRY.values() if e.options_section}
    assert _named_in(resolve_module, {d.value for d in REGISTRY} | blocks) == set()


def test_the_conventions_and_the_subgroup_engine_read_the_entries():
    # the SE convention an estimate gets by default and the subgroup engine's estimand, covariance and
    # caveat are the entries'; neither module names a design (matched_comparison's weighting variant included)
    from evalkit.estimate import conventions
    from evalkit.estimate import subgroups as sg

    assert [d.value for d in sg.Design] == ["pre_post", "matched_comparison", "weighting",
                                            "difference_in_differences", "rct"]
    weighted = entry("matched_comparison").subgroups.variants["weighting"]
    assert sg.DIFFERENCE_ESTIMAND[sg.Design.weighting] == weighted.difference_estimand == "att"
    assert sg.DEFAULT_COVARIANCE[sg.Design.rct].value == entry("rct").subgroups.covariance == "HC2"
    caveat = sg._caveats(sg.EffectModel(design=sg.Design.weighting, outcome="y", treatment="t"), True, None)[-1]
    assert (caveat.code, caveat.message) == (weighted.caveat_code, weighted.caveat)
    assert entry("pre_post").conventions["rate_ratio"] == "gee_sandwich_z"
    for e in REGISTRY.values():  # every convention an entry names is in the table
        assert set(e.conventions.values()) <= set(conventions.BY_ID), e.design
    designs = {d.value for d in REGISTRY} | {"weighting"}
    for module in (conventions, sg):
        assert _named_in(module, designs) == set(), module.__name__


def test_the_dowhy_step_reads_the_entries():
    # how a design is refuted (DoWhy's data, the primary estimand's order, Rosenbaum bounds) is its entry's;
    # neither the causal module nor its worker names a design
    from evalkit import _dowhy_worker
    from evalkit.estimate import causal
    from evalkit.spec.designs import resolve

    did, matched = entry("difference_in_differences").robustness, entry("matched_comparison").robustness
    assert resolve(did.data) is causal.did_data and resolve(matched.data) is causal.matched_data
    assert did.estimands[0] == "did_att" and matched.estimands[0] == "att"
    assert matched.rosenbaum and not did.rosenbaum
    assert entry("rct").robustness is None
    for e in REGISTRY.values():
        if e.robustness is not None:
            assert callable(resolve(e.robustness.data)), e.design
    designs = {d.value for d in REGISTRY}
    for module in (causal, _dowhy_worker):
        assert _named_in(module, designs) == set(), module.__name__


def test_the_built_in_blocks_defaults_and_ignored_warnings_are_the_entries():
    d = r.Design
    assert REGISTRY[d.matched_comparison].options_default is r.Matching
    assert REGISTRY[d.difference_in_differences].options_default is r.DifferenceInDifferences
    assert REGISTRY[d.comparison_areas].options_only_for_design  # its columns are not asked of other designs' data
    assert [e.options_ignored for e in REGISTRY.values() if e.options_section] == [
        "does not match", "is not difference-in-differences", "is not a time series", "is not a feasibility study",
        "does not compare areas"]
    assert [e.design for e in REGISTRY.values() if e.two_files] == [d.matched_comparison]
