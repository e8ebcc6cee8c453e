"""Typed records for the design-specific ``sections`` of a ResultSet, and the results JSON Schema.

Each section key of ``results.json`` (``balance``, ``attrition``, ``robustness`` ...) has one
record type here, declaring the fields a reader may ask for. :meth:`ResultSet.section` returns
the record: asking for a field the record does not declare is an ``AttributeError`` in a test,
not a silent ``None`` in a user's report. A field a design did not write is :data:`ABSENT` (the
file then has no such key; ``None`` is a written ``null``).

The published JSON Schema of ``evalkit.results/v2`` (``schemas/results-v2.json``) is generated
from these records and from the records of :mod:`evalkit.results` (``evalkit.results.results_json_schema``,
using :func:`record_schema` here); ``python -m evalkit.results`` prints it and ``tests/test_results_schema.py`` checks the committed
file is up to date and that every example results file validates against it.

What is typed: every section's top-level fields, and for the sections kept per indicator
(``reliable_change``, ``event_study``, ``group_time``, ``honest_did``, ``counterfactual``,
``subgroups``) the top-level fields of each indicator's entry (:meth:`PerIndicator.entry`). Deeper
levels (table rows, per-group counts) are JSON objects, as written by the design; typing them is
the next step of issue 17.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, Union

RESULTS_SCHEMA_ID = "https://evalkit.dev/schemas/results-v2.json"


class _Absent:
    """The value of a field the design did not write (no key in the file)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()
JSON = Any  # a JSON value as the design wrote it (object, array, number, text, true/false, null)


def _opt():
    return dataclasses.field(default=ABSENT)


class SectionRecord:
    """Base of the section records: built from the file's mapping, written back to the same mapping."""

    KEY: typing.ClassVar[str] = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]):
        from evalkit.errors import EvalkitError

        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise EvalkitError(f"results section '{cls.KEY}' has field(s) {', '.join(unknown)} that "
                               f"evalkit.results/v2 does not declare; expected only {', '.join(sorted(names))}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in data)
        if missing:
            raise EvalkitError(f"results section '{cls.KEY}' lacks required field(s) {', '.join(missing)}")
        return cls(**dict(data))

    def to_mapping(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not ABSENT}


@dataclasses.dataclass(frozen=True)
class Attrition(SectionRecord):
    """Loss to follow-up: pre/post (per indicator), matched comparison and RCT (per group)."""

    KEY: typing.ClassVar[str] = "attrition"
    definition: str = _opt()
    overall: JSON = _opt()  # a share, or per indicator
    differential: JSON = _opt()  # a number, or per indicator
    overall_indicator: str = _opt()
    primary_outcome: str = _opt()
    by_indicator: dict[str, JSON] = _opt()
    by_timepoint: dict[str, JSON] = _opt()
    groups: dict[str, JSON] = _opt()


@dataclasses.dataclass(frozen=True)
class Balance(SectionRecord):
    """Covariate balance: one row per covariate term (matching: before/after; rct: at randomisation)."""

    KEY: typing.ClassVar[str] = "balance"
    rows: list[dict[str, JSON]]
    formula: str = _opt()
    distance: JSON = _opt()
    max_abs_smd_before: float | None = _opt()
    max_abs_smd_after: float | None = _opt()
    flag_any_smd_ge_0_1: bool = _opt()
    flag_var_ratio_outside: bool = _opt()
    wwc_pass: bool = _opt()
    wwc_rule: str = _opt()
    sample: str = _opt()  # rct: "randomised" (the table at randomisation)
    analysed: dict[str, JSON] = _opt()  # rct: the same table among those analysed for the primary outcome


@dataclasses.dataclass(frozen=True)
class MatchingSummary(SectionRecord):
    """How the matched sample was made: sizes, discards, the caliper in both scales, the options."""

    KEY: typing.ClassVar[str] = "matching"
    method: str
    distance: JSON = _opt()
    estimand: str = _opt()
    ratio: JSON = _opt()
    replace: JSON = _opt()
    caliper: JSON = _opt()
    calipers: JSON = _opt()
    exact: JSON = _opt()
    order: JSON = _opt()
    discard: JSON = _opt()
    missing: JSON = _opt()
    sizes: dict[str, JSON] = _opt()
    discarded: JSON = _opt()
    unmatched_treated: JSON = _opt()
    matched_sets: JSON = _opt()
    max_pair_distance: JSON = _opt()
    ess_after: JSON = _opt()
    constraints_checked: JSON = _opt()
    stabilise: JSON = _opt()
    trim: JSON = _opt()
    weights: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class Propensity(SectionRecord):
    """The propensity score model: formula, coefficients, convergence and overlap."""

    KEY: typing.ClassVar[str] = "propensity"
    model: str
    formula: str = _opt()
    n: JSON = _opt()
    converged: JSON = _opt()
    coefficients: JSON = _opt()
    overlap: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class Rct(SectionRecord):
    """A randomised trial evalkit ran: intention to treat, the assignment column, randomised per arm."""

    KEY: typing.ClassVar[str] = "rct"
    intention_to_treat: bool
    assignment_column: str = _opt()
    cluster: str | None = _opt()
    randomised: dict[str, JSON] = _opt()


@dataclasses.dataclass(frozen=True)
class Robustness(SectionRecord):
    """DoWhy refutations of the matched or DiD estimate, and DoWhy-vs-evalkit agreement."""

    KEY: typing.ClassVar[str] = "robustness"
    status: str = _opt()
    indicator: JSON = _opt()
    library: JSON = _opt()
    seed: JSON = _opt()
    graph: JSON = _opt()
    identification: JSON = _opt()
    estimate_method: JSON = _opt()
    standard_error_used: JSON = _opt()
    agreement: JSON = _opt()
    refutations: JSON = _opt()
    rows: JSON = _opt()
    refutation_sample: JSON = _opt()  # above 10,000 rows the refuters run on a seeded sample (issue 20)
    refuted_rows: JSON = _opt()
    all_passed: JSON = _opt()
    reason: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class Sensitivity(SectionRecord):
    """E-value and Rosenbaum bounds for the primary estimate."""

    KEY: typing.ClassVar[str] = "sensitivity"
    indicator: JSON = _opt()
    e_value: JSON = _opt()
    rosenbaum: JSON = _opt()
    status: JSON = _opt()
    reason: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class FeasibilitySummary(SectionRecord):
    """Progression criteria with RAG ratings, the overall verdict, pathway verdict, sample-size planning."""

    KEY: typing.ClassVar[str] = "feasibility"
    criteria: list[dict[str, JSON]] = _opt()
    verdict: JSON = _opt()
    overall: JSON = _opt()
    pathway: JSON = _opt()
    metrics: JSON = _opt()
    not_computed: JSON = _opt()
    planning: JSON = _opt()
    rule: JSON = _opt()
    rule_text: JSON = _opt()
    thresholds_rule: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class ExternalStudy(SectionRecord):
    """What a published study reports: sample, attrition, baseline equivalence, ITT, follow-up."""

    KEY: typing.ClassVar[str] = "external"
    citation: JSON = _opt()
    url: JSON = _opt()
    sample: JSON = _opt()
    attrition: JSON = _opt()
    baseline_equivalence: JSON = _opt()
    baseline_equivalence_sample: JSON = _opt()
    status: JSON = _opt()
    intention_to_treat: JSON = _opt()
    follow_up_months: JSON = _opt()
    results: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class DeliverySummary(SectionRecord):
    """How it was delivered (evalkit.estimate.delivery_run): fidelity, dosage, engagement by month and
    retention, and the dose-response association of each declared indicator (never causal)."""

    KEY: typing.ClassVar[str] = "delivery"
    plan: dict[str, JSON]
    fidelity: dict[str, JSON]
    dosage: dict[str, JSON]
    engagement: dict[str, JSON]
    sessions_file: str = _opt()
    dose_response: dict[str, JSON] = _opt()


def given(record, name: str):
    """Field ``name`` of a typed record, None where the design did not write it (as a missing key reads);
    a name the record does not declare is an AttributeError."""
    value = getattr(record, name)
    return None if value is ABSENT else value


class PerIndicator(SectionRecord):
    """A section kept per indicator: indicator id -> that indicator's entry (a JSON object), typed by
    ``ENTRY`` where the section declares one."""

    ENTRY: typing.ClassVar[type | None] = None

    def __init__(self, entries: Mapping[str, Mapping[str, Any]]):
        object.__setattr__(self, "entries", dict(entries))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]):
        return cls(data)

    def to_mapping(self) -> dict[str, Any]:
        return dict(self.entries)

    def __getitem__(self, indicator: str):
        return self.entries[indicator]

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, indicator: str):
        """The typed entry of ``indicator`` (its ``ENTRY`` record; the JSON object where none is declared)."""
        data = self.entries[indicator]
        return self.ENTRY.from_mapping(data) if self.ENTRY is not None else data

    def typed_entries(self) -> list[tuple[str, Any]]:
        """(indicator, typed entry) in the file's order, for the entries that are JSON objects."""
        return [(ind, self.entry(ind)) for ind, data in self.entries.items() if isinstance(data, Mapping)]


@dataclasses.dataclass(frozen=True)
class ReliableChangeEntry(SectionRecord):
    """One indicator's reliable change (evalkit.estimate.pre_post): the method, threshold and reliability
    with their sources, one row per follow-up and subgroup, and the first follow-up's counts for everyone."""

    KEY: typing.ClassVar[str] = "reliable_change"
    method: str = _opt()
    threshold_points: JSON = _opt()
    reliability: JSON = _opt()
    reliability_source: JSON = _opt()
    sd: JSON = _opt()
    sd_source: JSON = _opt()
    direction_good: JSON = _opt()
    rows: list[dict[str, JSON]] = _opt()
    timepoint: str = _opt()
    n: JSON = _opt()
    improved: JSON = _opt()
    no_reliable_change: JSON = _opt()
    deteriorated: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class EventStudyEntry(SectionRecord):
    """One indicator's event study (evalkit.estimate.did.event_study): leads and lags, the pre-trend test."""

    KEY: typing.ClassVar[str] = "event_study"
    reference_period: JSON = _opt()
    window: dict[str, JSON] = _opt()
    left_out: JSON = _opt()
    rows: list[dict[str, JSON]] = _opt()
    pre_trend_test: JSON = _opt()
    covariance: JSON = _opt()
    convention: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class GroupTimeEntry(SectionRecord):
    """One indicator's group-time effects (evalkit.estimate.did.group_time): cells, aggregations, cohorts."""

    KEY: typing.ClassVar[str] = "group_time"
    comparison: JSON = _opt()
    comparison_chosen_by: JSON = _opt()
    base_period: JSON = _opt()
    base_period_note: JSON = _opt()
    base_period_source: JSON = _opt()
    estimator: JSON = _opt()
    cohorts: JSON = _opt()
    never_treated_units: JSON = _opt()
    units: JSON = _opt()
    cells: list[dict[str, JSON]] = _opt()
    overall: JSON = _opt()
    aggregations: JSON = _opt()
    by_event_time: JSON = _opt()
    event_time_covariance: JSON = _opt()
    by_cohort: list[dict[str, JSON]] = _opt()
    few_units_threshold: JSON = _opt()
    few_units_threshold_source: JSON = _opt()
    cells_with_few_units: JSON = _opt()
    convention: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class HonestDidEntry(SectionRecord):
    """One indicator's Rambachan-Roth sensitivity (evalkit.estimate.honest_did), run when the pre-trend
    test failed."""

    KEY: typing.ClassVar[str] = "honest_did"
    event_times: JSON = _opt()
    num_pre_periods: JSON = _opt()
    num_post_periods: JSON = _opt()
    first_post_period: JSON = _opt()
    average_post_effect: JSON = _opt()
    relative_magnitudes: JSON = _opt()
    source: JSON = _opt()


@dataclasses.dataclass(frozen=True)
class CounterfactualEntry(SectionRecord):
    """One indicator's interrupted time series (evalkit.estimate.its): rows per area and month, events avoided."""

    KEY: typing.ClassVar[str] = "counterfactual"
    rate_per: JSON = _opt()
    rates_are: JSON = _opt()
    interruption: JSON = _opt()
    rows: list[dict[str, JSON]] = _opt()
    events_avoided: JSON = _opt()


class ReliableChange(PerIndicator):
    """Per indicator: threshold, reliability and its source, improved / no reliable change / deteriorated."""

    KEY = "reliable_change"
    ENTRY = ReliableChangeEntry


class EventStudy(PerIndicator):
    """Per indicator: leads and lags with the pre-trend test."""

    KEY = "event_study"
    ENTRY = EventStudyEntry


class GroupTime(PerIndicator):
    """Per indicator: ATT(g, t) cells with their unit counts."""

    KEY = "group_time"
    ENTRY = GroupTimeEntry


class HonestDid(PerIndicator):
    """Per indicator: Rambachan-Roth smoothness (and relative-magnitude) bounds of the event study."""

    KEY = "honest_did"
    ENTRY = HonestDidEntry


class Counterfactual(PerIndicator):
    """Per indicator and area: period, observed, fitted, counterfactual, rates per population."""

    KEY = "counterfactual"
    ENTRY = CounterfactualEntry


@dataclasses.dataclass(frozen=True)
class ComparisonAreasSection(SectionRecord):
    """Comparison areas (synthetic control, area DiD): the treated area, window and donors; per measure
    (outcome and age group) the synthetic control's paths, weights, placebos and events prevented."""

    KEY: typing.ClassVar[str] = "comparison_areas"
    treated_area: str
    start: str
    measures: dict[str, JSON]
    first_month: str = _opt()
    last_month: str = _opt()
    pre_months: int = _opt()
    post_months: int = _opt()
    n_donors: int = _opt()
    donors: list[str] = _opt()
    excluded: list[str] = _opt()
    method: str = _opt()
    level: float = _opt()
    second_estimate: str = _opt()


@dataclasses.dataclass(frozen=True)
class SubgroupEntry:
    """One indicator's subgroup analysis: rows of evalkit.estimate.subgroups.subgroup_frame (effects) and
    interaction_frame (tests); a level with too few units has its counts and no statistic."""

    timepoint: str
    design: str
    estimand: str
    scale: str
    interaction: str
    covariance: str
    pre_registered: bool
    min_arm: int
    few_per_arm: int
    ci_level: float
    families: dict[str, str]
    effects: list[dict[str, JSON]]
    tests: list[dict[str, JSON]]
    caveats: list[dict[str, str]]


class Subgroups(PerIndicator):
    """Per indicator (first follow-up): the effect in each subgroup level with its interval, the interaction
    test per subgroup column, Holm across both families, the caveats (evalkit.estimate.design_subgroups)."""

    KEY = "subgroups"
    ENTRY = SubgroupEntry

    def entry(self, indicator: str) -> SubgroupEntry:
        """The typed entry of ``indicator``."""
        return SubgroupEntry(**self.entries[indicator])


SECTION_TYPES: dict[str, type[SectionRecord]] = {
    t.KEY: t for t in (Attrition, Balance, MatchingSummary, Propensity, Rct, Robustness, Sensitivity,
                       FeasibilitySummary, ExternalStudy, ReliableChange, EventStudy, GroupTime, HonestDid,
                       Counterfactual,
                       Subgroups, DeliverySummary, ComparisonAreasSection)
}


_ALL_TYPES: dict[str, type[SectionRecord]] | None = None


def section_types() -> dict[str, type[SectionRecord]]:
    """Every section record: those above and the ones design registry entries name (``records``, for a
    design added by its module alone). Read when first asked, because a design module that holds its
    own record imports this module while the registry loads."""
    global _ALL_TYPES
    if _ALL_TYPES is None:
        from evalkit.spec.designs import REGISTRY, resolve

        extra = {}
        for e in REGISTRY.values():
            for name in e.records:
                kind = resolve(name)
                extra[kind.KEY] = kind
        _ALL_TYPES = {**SECTION_TYPES, **extra}
    return _ALL_TYPES


def section_record(key: str, data: Mapping[str, Any]) -> SectionRecord:
    """The typed record of section ``key`` (an unknown key is an error naming the known ones)."""
    from evalkit.errors import EvalkitError

    kinds = section_types()
    kind = kinds.get(key)
    if kind is None:
        raise EvalkitError(f"results section '{key}' is not part of evalkit.results/v2; expected one of "
                           f"{', '.join(sorted(kinds))}")
    return kind.from_mapping(data)


# ---------------------------------------------------------------------------- the JSON Schema


def type_schema(hint, defs: dict) -> dict:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return {}
    if hint is type(None):
        return {"type": "null"}
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        return {"anyOf": [type_schema(a, defs) for a in args]}
    if origin in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": type_schema(item, defs)}
    if origin in (dict, Mapping) or hint in (dict, Mapping) or origin is typing.get_origin(Mapping[str, Any]):
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": type_schema(value, defs)}
    if dataclasses.is_dataclass(hint):
        name = hint.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = record_schema(hint, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {hint!r}")  # pragma: no cover - a new field type


# fields whose JSON form differs from their Python type
_JSON_FORM = {("RunWarning", "counts"): {"type": "object", "additionalProperties": {"type": "integer"}}}


def record_schema(cls, defs: dict) -> dict:
    hints = typing.get_type_hints(cls, vars(__import__(cls.__module__, fromlist=["_"])))
    props, required = {}, []
    for f in dataclasses.fields(cls):
        schema = _JSON_FORM.get((cls.__name__, f.name)) or type_schema(hints[f.name], defs)
        if f.metadata.get("doc"):
            schema = {**schema, "description": f.metadata["doc"]}
        props[f.name] = schema
        optional = f.default is ABSENT or (cls.__name__ == "RunWarning" and f.name in ("template", "counts"))
        if not optional:
            required.append(f.name)
    out = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out
