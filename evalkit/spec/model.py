"""Resolved, cross-checked, frozen objects: what the rest of evalkit works with.

Built from the raw YAML types by :mod:`evalkit.spec.resolve`. Every reference is already
resolved (an evaluation holds its logic model, an indicator its theory-of-change node), so
estimators never look anything up by name or re-validate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from evalkit.spec.designs import REGISTRY
from evalkit.spec.raw import (
    ComparisonAreas,
    Design,
    DifferenceInDifferences,
    Direction,
    Evaluator,
    External,
    ExternalEvidence,
    EifOutcome,
    Feasibility,
    FollowUpFrom,
    IndicatorType,
    InterventionKind,
    Instrument,
    CostCategory,
    Matching,
    Prevention,
    Source,
    Stage,
    StudyRole,
    Target,
    TimeSeries,
)

NODE_KINDS = ("activity", "output", "outcome", "impact")
# designs that compare a treated group with a comparison group in the data, and those in long form
COMPARATIVE_DESIGNS = frozenset(d for d, e in REGISTRY.items() if e.comparative)
LONG_FORM_DESIGNS = frozenset(d for d, e in REGISTRY.items() if e.long_form)


def frozen_map(items: Mapping) -> Mapping:
    return MappingProxyType(dict(items))


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # one of NODE_KINDS
    horizon: str | None = None


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    measures: Node
    type: IndicatorType
    direction: Direction
    source: Source
    instrument: Instrument | None
    target: Target | None
    rate_per: int | None
    child_outcome: bool  # measures an outcome or impact node in an EIF child-outcome category
    plausible: tuple[float, float] | None = None
    eif_outcome: EifOutcome | None = None

    @property
    def good_when_higher(self) -> bool:
        return self.direction is Direction.increase


# ---------------------------------------------------------------------------- costs (value for money)


@dataclass(frozen=True, order=True)
class PriceYear:
    """A calendar year, or the financial year starting in April of ``year``."""

    year: int
    financial: bool

    @property
    def label(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d}" if self.financial else str(self.year)

    @property
    def kind(self) -> str:
        return "financial year" if self.financial else "calendar year"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class CostItem:
    category: CostCategory
    amount: float  # in the period's price year
    cash: bool  # False: an in-kind contribution
    one_off: bool  # True: set-up
    provided_by: str | None = None


@dataclass(frozen=True)
class ParticipantCount:
    """Where a period's participants are counted (``from: data`` or ``from: store``), and the figure declared."""

    from_: str  # data | store
    evaluation: str | None = None
    date: str | None = None
    where: tuple[tuple[str, object], ...] = ()
    indicator: str | None = None
    declared: int | None = None


@dataclass(frozen=True)
class CostPeriod:
    id: str
    start: dt.date
    end: dt.date
    price_year: PriceYear
    started: int | None  # as declared (a count's `declared`, when it is counted from data or the store)
    completed: int | None
    items: tuple[CostItem, ...]
    note: str | None = None
    started_from: ParticipantCount | None = None  # counted from the plan's data or the store (evalkit.vfm.participants)
    completed_from: ParticipantCount | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def amount(self, *, cash: bool | None = None, one_off: bool | None = None) -> float:
        return sum(i.amount for i in self.items
                   if (cash is None or i.cash is cash) and (one_off is None or i.one_off is one_off))

    @property
    def total(self) -> float:
        return self.amount()


@dataclass(frozen=True)
class OutcomeCosting:
    indicator: str
    outcome: str  # one good outcome in words, e.g. "suspension avoided"
    valued_as: str | None = None  # an offence of the unit-cost table of crime


@dataclass(frozen=True)
class Costs:
    periods: tuple[CostPeriod, ...]
    source: str | None
    illustrative: bool
    currency: str = "GBP"
    analysis_year: PriceYear | None = None  # None: the latest price year of the periods
    outcomes: Mapping[str, OutcomeCosting] = field(default_factory=dict)
    participants_indicator: str | None = None  # its monthly count in the monitoring store: the dashboard's participants

    @property
    def report_year(self) -> PriceYear:
        return self.analysis_year or max(p.price_year for p in self.periods)

    def period(self, period_id: str) -> CostPeriod:
        for p in self.periods:
            if p.id == period_id:
                return p
        from evalkit.errors import EvalkitError

        raise EvalkitError(f"no cost period {period_id!r}; expected one of {', '.join(p.id for p in self.periods)}")


@dataclass(frozen=True)
class LogicModel:
    """One intervention: its theory of change and indicators."""

    id: str
    name: str
    summary: str
    prevention: Prevention
    population_description: str
    age: tuple[int, int] | None
    area: str | None
    problem: str
    evidence: tuple[ExternalEvidence, ...]
    nodes: Mapping[str, Node]
    links: tuple[tuple[str, str], ...]
    assumptions: tuple[str, ...]
    indicators: Mapping[str, Indicator]
    source: Path
    kind: InterventionKind = InterventionKind.programme
    duration_months: float | None = None
    costs: Costs | None = None  # value for money: what it costs, by period

    @property
    def place_based(self) -> bool:
        return self.kind is InterventionKind.place_based_strategy

    def indicator(self, indicator_id: str) -> Indicator:
        return self.indicators[indicator_id]


@dataclass(frozen=True)
class DataSpec:
    path: Path  # absolute
    path_as_written: str
    id: str
    treatment: str | None
    period: str | None
    population: str | None
    sheet: str | None
    missing_values: tuple[str, ...] = ()
    binary_labels: Mapping[str, int] = field(default_factory=dict)  # lower-cased text -> 0/1
    plausible: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # column -> (low, high)
    roots: tuple[Path, ...] = ()  # the project and its data roots: the file must resolve under one
    # two files (matched comparison): `path` holds the participants, `comparison` the pool;
    # `treatment` is then the 0/1 column evalkit makes when it reads them (data.load.read_plan_data)
    comparison: Path | None = None  # absolute
    comparison_as_written: str | None = None

    @property
    def long_form(self) -> bool:
        return self.period is not None

    @property
    def files(self) -> tuple[tuple[str, Path, str], ...]:
        """(role, absolute path, path as written) of each data file: one, or participants and pool."""
        if self.comparison is None:
            return (("data", self.path, self.path_as_written),)
        return (("data", self.path, self.path_as_written),
                ("comparison data", self.comparison, self.comparison_as_written or str(self.comparison)))


@dataclass(frozen=True)
class Timepoints:
    """One indicator's columns in wide data: baseline (if any) and later timepoints in order."""

    indicator: Indicator
    columns: Mapping[str, str]  # timepoint name -> column, in the order written

    @property
    def baseline(self) -> str | None:
        return self.columns.get("baseline")

    @property
    def follow_ups(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, col) for name, col in self.columns.items() if name != "baseline")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation study of one intervention, with every reference resolved."""

    id: str
    title: str
    intervention: LogicModel
    stage: Stage
    design: Design
    evaluator: Evaluator
    data: DataSpec | None
    timepoints: Mapping[str, Timepoints]
    outcomes: Mapping[str, tuple[Indicator, str]]  # long form: indicator id -> (indicator, column)
    covariates: tuple[str, ...]
    subgroups: tuple[str, ...]
    matching: Matching | None
    time_series: TimeSeries | None
    cluster: str | None
    weights: str | None
    external: External | None
    primary_outcome: Indicator
    follow_up_months: int
    seed: int
    source: Path
    feasibility: Feasibility | None = None  # design: feasibility
    did: DifferenceInDifferences | None = None  # design: difference_in_differences (defaults filled in)
    study: str | None = None  # declared study (sample) id
    study_role: StudyRole = StudyRole.main
    follow_up_from: FollowUpFrom = FollowUpFrom.start
    comparison_areas: ComparisonAreas | None = None  # design: comparison_areas
    delivery: object = None  # evalkit.spec.raw.Delivery: session records for "How it was delivered"
    # the options block of a design whose block is not a field above (one added by its registry module
    # alone, evalkit.spec.designs.plan_model): section name -> the validated pydantic model
    design_options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_external(self) -> bool:
        return self.external is not None

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator this study reports on, primary first."""
        ids = list(self.timepoints) + [i for i in self.outcomes if i not in self.timepoints]
        if self.external is not None:
            ids += [r.indicator for r in self.external.results if r.indicator not in ids]
        ordered = [self.primary_outcome.id] + [i for i in ids if i != self.primary_outcome.id]
        return tuple(self.intervention.indicators[i] for i in ordered)

    @property
    def data_columns(self) -> tuple[str, ...]:
        """Every column of the data file the plan names, each once, in the order written.

        The one list of a plan's columns: what ``run`` reads, what ``validate`` checks in both
        files of a matched comparison, and what the results manifest records.
        """
        d = self.data
        if d is None:
            return ()
        cols = [d.id, d.treatment, d.period, d.population]
        for tp in self.timepoints.values():
            cols += list(tp.columns.values())
        cols += [col for _i, col in self.outcomes.values()]
        cols += list(self.covariates) + list(self.subgroups) + [self.cluster, self.weights]
        mt = self.matching
        if mt is not None:
            cols += list(mt.exact) + list(mt.calipers) + [mt.score_column]
            cols += [c for pair in mt.interactions for c in pair]
        if self.time_series is not None:
            cols.append(self.time_series.control)
        ca = self.comparison_areas
        if ca is not None:
            cols.append(ca.treated_from)
            if ca.under_25 is not None:
                cols += [ca.under_25.population] + list(ca.under_25.outcomes.values())
        if self.feasibility is not None:  # case-record columns; session records are read by the design
            cols += [c for c in self.feasibility.cases.model_dump().values() if c]
        return tuple(dict.fromkeys(c for c in cols if c))


@dataclass(frozen=True)
class Project:
    """A folder holding ``logic_models/`` and ``evaluations/``, validated and resolved."""

    root: Path
    interventions: Mapping[str, LogicModel]
    evaluations: Mapping[str, Evaluation]
    warnings: tuple = field(default=())

    def evaluation(self, evaluation_id: str) -> Evaluation:
        """The plan with this id; an unknown id is a ProjectError listing the ids there are."""
        return _lookup(self.evaluations, evaluation_id, "evaluation plan", self.root)

    def intervention(self, intervention_id: str) -> LogicModel:
        """The logic model with this id; an unknown id is a ProjectError listing the ids there are."""
        return _lookup(self.interventions, intervention_id, "logic model", self.root)

    def __repr__(self) -> str:
        return (f"Project({str(self.root)!r}: {len(self.interventions)} logic model(s) "
                f"[{', '.join(self.interventions)}], {len(self.evaluations)} evaluation plan(s) "
                f"[{', '.join(self.evaluations)}])")


def _lookup(items: Mapping, key: str, kind: str, root: Path):
    from evalkit.errors import ProjectError

    try:
        return items[key]
    except (KeyError, TypeError):
        raise ProjectError(f"{key!r}: no {kind} with this id in {root}; expected one of "
                           + (", ".join(items) or f"(no valid {kind}s)")) from None
