"""The design registry: one module per design declares everything evalkit knows about it.

Each module listed in :data:`evalkit.spec.design_list.MODULES` defines ``DESIGN``, a
:class:`DesignEntry`: the plan options the design reads (its own options block, a pydantic model
validated with the plan, and the top-level options), its analysis (a module exposing
``analyse(evaluation, frame, seed)``), the results sections it writes and their typed records, its
report sections (:class:`ReportSection`), what its report says about it (:class:`ReportFacts`),
how the evidence rating treats it (:class:`EvidenceFacts`), the SE conventions of its estimates and
how the subgroup engine treats it (:class:`SubgroupFacts`) and how its analysis is refuted with DoWhy
(:class:`RobustnessFacts`). ``evalkit.run``,
``evalkit.estimate.causal`` (and its DoWhy worker), ``evalkit.estimate.conventions``, ``evalkit.estimate.subgroups``,
``evalkit.spec`` (validation), ``evalkit.results``,
``evalkit.evidence`` and ``evalkit.report`` ask :data:`REGISTRY` instead of keeping their own
tables or branching on design names. A design's own validation rules are its entry's ``checks``
hook (:class:`PlanCheck`), so ``evalkit.spec.resolve`` names no design either.

The registry lives in the spec layer, which imports nothing of evalkit but ``errors`` (so
``validate`` can use it without importing an estimator): whatever belongs to a layer above
(the analysis, section records, report builders, evidence hooks) is *named* by a dotted string,
``"package.module"`` or ``"package.module:attribute"``, and resolved by the layer that uses it
(:func:`resolve`). Adding a design is one module and one line in ``MODULES`` (see
docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.spec import design_list
from evalkit.spec.raw import Design

ROBUSTNESS_SECTIONS = ("robustness", "sensitivity")
# where a report section goes on the page (evalkit.report.sections.build_report)
REPORT_PLACES = ("after_methods", "before_results", "after_results")


@dataclass(frozen=True)
class ReportSection:
    """A section of the report page, shown when the results hold section ``key``."""

    key: str  # the results section that puts it on the page
    heading: str
    anchor: str  # the page anchor, e.g. "sec-feasibility"
    builder: str  # "module:function", called with the report being built (evalkit.report.sections.Report)
    place: str = "after_results"  # one of REPORT_PLACES: after methods, before or after the results table
    also: tuple[str, ...] = ()  # other results sections this one shows (they have their home here)
    prepare: str | None = None  # "module:function" called before the summary (to declare its counts first)


@dataclass(frozen=True)
class ReportFacts:
    """What the report page says about the design and how it draws its flow and results."""

    words: str  # the design in the report's "Design:" sentence
    caveat: str = ""  # what the design can and cannot show, after that sentence
    words_when_weighted: str | None = None  # the words when the matching section says the groups were weighted
    balance_heading: str = "Baseline balance"  # "matching" in it reads "weighting" when the groups were weighted
    analysed_has_both_measures: bool = False  # its flow's "analysed" is those with a baseline and a follow-up
    outcome_flow_column: bool = False  # the primary outcome's measurements get a flow column of their own
    area_months: bool = False  # its flow counts area-months, not people
    criteria_not_tests: bool = False  # estimates other than the main ones are criteria judged against thresholds


@dataclass(frozen=True)
class EvidenceFacts:
    """How the evidence rating (evalkit.evidence.assess) treats the design, where it is not the default."""

    counts_participants: bool = True  # False: a population series or delivery records, no analysed arms
    sample_size_not_applicable: str | None = None  # why the sample-size check does not apply
    baseline_not_applicable: str | None = None  # why baseline equivalence does not apply (comparative designs)
    balance_describes: str = "analysed"  # the sample a balance table without "sample" describes
    pre_trend_check: bool = False  # the parallel pre-trends check applies
    intention_to_treat_check: bool = False  # the intention-to-treat check applies
    robustness_not_applicable: str | None = None  # why the DoWhy refutation check does not apply
    effects_not_applicable: str | None = None  # why no effect is judged (a feasibility study)
    pathway_section: str | None = None  # the results section holding the EIF pathway verdict
    sms_variant: str | None = None  # "module:function(result) -> str": the Maryland SMS key, e.g. "<design>_with_baseline"
    sms: int | None = None  # the Maryland SMS level when the rules file has none for the design


@dataclass(frozen=True)
class SubgroupFacts:
    """How the subgroup engine (evalkit.estimate.subgroups) treats an analysis frame of the design."""

    difference_estimand: str  # the estimand its subgroup effects report on the difference scale
    covariance: str  # the default covariance without clusters, "HC1" or "HC2" (evalkit.estimate._robust.Covariance)
    caveat_code: str  # the warning that says what a subgroup estimate of this design cannot show
    caveat: str
    # frames of other kinds the design's analysis hands over, by name (matched_comparison's
    # "weighting": the groups weighted instead of matched); each is a design to the subgroup engine
    variants: Mapping[str, SubgroupFacts] = field(default_factory=dict, hash=False)


# the estimand of the primary estimate the sensitivity section reads: the first one found, in this order
PRIMARY_ESTIMANDS = ("att", "ate", "did_att")


@dataclass(frozen=True)
class RobustnessFacts:
    """How evalkit.estimate.causal refutes the design's analysis with DoWhy (its ``robustness`` and
    ``sensitivity`` sections)."""

    # "module:function(evaluation, frame, analysis, primary)": the data DoWhy's regression is given and
    # their roles in its graph, (data, treatment, outcome, common causes, mediators, (same method, why))
    data: str
    estimands: tuple[str, ...] = PRIMARY_ESTIMANDS  # the primary estimate: the first estimand found, in this order
    rosenbaum: bool = False  # Rosenbaum bounds apply: the analysis hands over matched sets (analysed_data)


@dataclass(frozen=True)
class PlanCheck:
    """What a design's ``checks`` hook is given: the plan as written and what resolve made of it.

    The hook runs for every plan of its design (a published study's too: ``external``), after
    resolve's own checks, and reports through ``err``/``warn``, which put the plan's file and the
    line of the key path on the problem, like every other validate message.
    """

    plan: Any  # evalkit.spec.raw.EvaluationFile, as validated
    err: Callable[[tuple, str, str, str], None]  # (key path, message, found, expected): an error at the key's line
    warn: Callable[[tuple, str, str, str], None]  # the same, a warning
    timepoints: Mapping[str, Any]  # indicator id -> evalkit.spec.model.Timepoints, of the indicators the model has

    @property
    def external(self) -> bool:
        """The plan records a published study: evalkit reads no data for it."""
        return self.plan.external is not None

    @property
    def has_data(self) -> bool:
        """evalkit analyses the plan's data (not an external study, and a data block to read)."""
        return self.plan.external is None and self.plan.data is not None

    @property
    def long_form(self) -> bool:
        return self.plan.data is not None and self.plan.data.period is not None


@dataclass(frozen=True)
class DesignEntry:
    design: Design
    analysis: str  # the module exposing analyse(evaluation, frame, seed): under evalkit.estimate, or dotted
    options: frozenset[str]  # top-level plan options it reads: covariates, subgroups, cluster, weights
    sections: tuple[str, ...]  # results sections it writes (keys of evalkit.result_sections.section_types());
    # "delivery" is written for any design whose plan has a delivery block (evalkit.estimate.delivery_run)
    evidence_class: str  # the design class of the evidence rules (evalkit/evidence/rules.yml)
    words: str  # the design in an evaluator's words
    options_section: str | None = None  # its own options block in the plan
    options_model: Any = None  # the pydantic model of that block (a class of evalkit.spec.raw, or its own)
    options_default: Callable[[], Any] | None = None  # the block a plan of this design gets when it has none
    # a block set under another design is dropped from the resolved plan (its columns would be asked
    # of data that need not have them), not kept as written
    options_only_for_design: bool = False
    # the "ignored" warning for the block set under another design: "ignored: design 'rct' <this>"
    options_ignored: str = "does not read it"
    # a published study of this design keeps its block too (an external study ignores the other blocks)
    options_external: bool = False
    two_files: bool = False  # reads participants and the comparison pool from two files (data.comparison)
    # its own validation rules: called with a PlanCheck for each plan of this design; a function, or
    # its "module:function" (a hook in a layer the spec layer may not import)
    checks: Callable[[PlanCheck], None] | str | None = None
    comparative: bool = False  # compares treated and comparison units in the data (reads data.treatment)
    population: bool = False  # reads data.population (the denominator of its rates); other designs ignore it
    long_form: bool = False  # one row per unit per period (data.period)
    robustness: RobustnessFacts | None = None  # DoWhy refutations and sensitivity sections; None: not refuted
    records: tuple[str, ...] = ()  # "module:Class" of section records evalkit.result_sections does not hold
    report: ReportFacts | None = None
    report_sections: tuple[ReportSection, ...] = ()  # the page sections of the results sections it owns
    evidence: EvidenceFacts = field(default_factory=EvidenceFacts)
    # the SE convention (an id of evalkit.estimate.conventions) of an estimate whose module records none,
    # by estimand; the key None: any other estimand of the design
    conventions: Mapping[str | None, str] = field(default_factory=dict, hash=False)
    clustered_convention: str | None = None  # the convention instead, when the estimate's method is CR1
    subgroups: SubgroupFacts | None = None  # its analysis hands subgroup effects to evalkit.estimate.subgroups
    notes: tuple[str, ...] = field(default=())

    @property
    def analysis_module(self) -> str:
        """The analysis as an importable module name: ``analysis`` under ``evalkit.estimate`` when that
        exists (``did``, ``place.design``), else ``analysis`` itself (a design kept outside evalkit)."""
        import importlib.util

        inside = f"evalkit.estimate.{self.analysis}"
        first = f"evalkit.estimate.{self.analysis.partition('.')[0]}"
        return inside if importlib.util.find_spec(first) is not None else self.analysis

    @property
    def report_facts(self) -> ReportFacts:
        return self.report or ReportFacts(words=self.words)

    def check(self, plan: PlanCheck) -> None:
        """Run the design's own validation rules on a plan of this design (none declared: nothing to do)."""
        hook = resolve(self.checks) if isinstance(self.checks, str) else self.checks
        if hook is not None:
            hook(plan)

    def options_block(self, plan: Any) -> Any:
        """The design's options block as the resolved plan keeps it: as written, the entry's default for a
        plan of this design without one, nothing when set under another design that drops it."""
        block = getattr(plan, self.options_section, None) if self.options_section else None
        if plan.design is not self.design:
            return None if self.options_only_for_design else block
        return block if block is not None or self.options_default is None else self.options_default()


def resolve(name: str) -> Any:
    """The object a dotted name points at: ``"package.module:attribute"``, or a module."""
    module, _, attribute = name.partition(":")
    found = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        found = getattr(found, part)
    return found


def _module_name(name: str) -> str:
    return name if "." in name else f"{__name__}.{name}"


def _load() -> dict[Design, DesignEntry]:
    out = {}
    for name in design_list.MODULES:
        found = importlib.import_module(_module_name(name)).DESIGN
        member = Design(found.design)  # a design outside evalkit names itself as text
        out[member] = found if found.design is member else replace(found, design=member)
    return out


REGISTRY: dict[Design, DesignEntry] = _load()


def entry(design: Design | str) -> DesignEntry:
    """The registry entry of ``design`` (an unknown name is an error listing the designs there are)."""
    from evalkit.errors import OptionError

    try:
        return REGISTRY[Design(design)]
    except (ValueError, KeyError):
        raise OptionError(f"design {design!r} is not known; expected one of "
                          f"{', '.join(d.value for d in REGISTRY)}") from None


def report_sections() -> tuple[ReportSection, ...]:
    """Every design's report sections, in registry order (a page shows those whose key it holds)."""
    return tuple(s for e in REGISTRY.values() for s in e.report_sections)


def plan_model():
    """The pydantic model of an evaluation plan: :class:`evalkit.spec.raw.EvaluationFile`, with the options
    block of any design whose block it does not already declare (a design added by its module alone)."""
    from evalkit.spec.raw import EvaluationFile

    extra = {e.options_section: (e.options_model | None, None) for e in REGISTRY.values()
             if e.options_section and e.options_section not in EvaluationFile.model_fields}
    if not extra:
        return EvaluationFile
    global _PLAN_MODEL
    if _PLAN_MODEL is None:
        from pydantic import create_model

        _PLAN_MODEL = create_model("EvaluationFile", __base__=EvaluationFile, __module__=EvaluationFile.__module__,
                                   **extra)
    return _PLAN_MODEL


_PLAN_MODEL = None
