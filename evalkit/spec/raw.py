"""Raw YAML types: the two file formats exactly as written, checked for shape only.

These pydantic models reject unknown keys and wrong types. They do not cross-check (does a
link name an existing node? does the data file have the column?): that is the resolve step,
which turns raw models into the frozen objects in :mod:`evalkit.spec.model`. The published
JSON Schema (``evalkit schema``) is generated from these classes.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StringConstraints, model_validator

from evalkit.spec.design_list import design_names

LOGIC_MODEL_SCHEMA_ID = "https://evalkit.dev/schemas/logic_model.schema.json"
EVALUATION_SCHEMA_ID = "https://evalkit.dev/schemas/evaluation.schema.json"

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=80)]
NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=80)]
IndicatorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]
Column = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# baseline, exit, mid, or follow_up_<months>m: the names say when, so follow-up length can be read off
TIMEPOINT_NAMES = ("baseline", "mid", "exit", "follow_up_<months>m")  # as shown to users (e.g. follow_up_12m)
TIMEPOINT_PATTERN = "^(" + "|".join(n.replace("<months>", r"\d+") for n in TIMEPOINT_NAMES) + ")$"
TimepointName = Annotated[str, StringConstraints(pattern=TIMEPOINT_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------------------- logic models


class Prevention(str, Enum):
    primary = "primary"
    secondary = "secondary"
    tertiary = "tertiary"


class IndicatorType(str, Enum):
    count = "count"
    binary = "binary"
    score = "score"
    rate = "rate"
    proportion = "proportion"


class Direction(str, Enum):
    increase = "increase"
    decrease = "decrease"


class Source(str, Enum):
    programme = "programme"
    survey = "survey"
    education = "education"
    police = "police"
    health = "health"
    ambulance = "ambulance"
    council = "council"
    probation = "probation"
    other = "other"


class Horizon(str, Enum):
    short = "short"
    medium = "medium"
    long = "long"


class YefImpact(str, Enum):
    none = "none"
    low = "low"
    moderate = "moderate"
    high = "high"
    harmful = "harmful"


class EifOutcome(str, Enum):
    """The child-outcome categories of the EIF Guidebook ("Nine key outcomes essential for
    children's development", guidebook.eif.org.uk); an indicator in one of them, measuring an
    outcome or impact node, is a child outcome that can carry an evidence level."""

    family_and_home = "family_and_home"
    early_child_development = "early_child_development"
    mental_health_and_wellbeing = "mental_health_and_wellbeing"
    child_maltreatment = "child_maltreatment"
    school_achievement_and_employment = "school_achievement_and_employment"
    crime_violence_and_antisocial_behaviour = "crime_violence_and_antisocial_behaviour"
    substance_misuse = "substance_misuse"
    risky_sexual_behaviour_and_teen_pregnancy = "risky_sexual_behaviour_and_teen_pregnancy"
    obesity_and_physical_health = "obesity_and_physical_health"


class InterventionKind(str, Enum):
    programme = "programme"
    place_based_strategy = "place_based_strategy"


class Population(_Raw):
    description: Text
    age: tuple[Annotated[int, Field(ge=0, le=120)], Annotated[int, Field(ge=0, le=120)]] | None = None
    area: str | None = None


class ExternalEvidence(_Raw):
    """A rating of the approach from an evidence toolkit, kept with the date it was read."""

    source: Text = Field(description="e.g. YEF Toolkit")
    approach: Text
    impact: YefImpact
    evidence_quality: Annotated[int, Field(ge=1, le=5)] | None = Field(
        None, description="YEF evidence quality, 1-5")
    cost: Annotated[int, Field(ge=1, le=3)] | None = Field(None, description="YEF cost, 1-3")
    note: str | None = None
    url: str | None = None
    year: Annotated[int, Field(ge=2000, le=2100)] | None = Field(None, description="the toolkit edition, e.g. 2021")
    stated_in: str | None = Field(None, description="where this statement is made, e.g. the partnership's strategy")
    retrieved: dt.date = Field(description="when the rating was read; toolkit ratings change")


class Node(_Raw):
    id: NodeId
    label: Text


class OutcomeNode(Node):
    horizon: Horizon


class TheoryOfChange(_Raw):
    activities: list[Node] = Field(min_length=1)
    outputs: list[Node] = Field(default_factory=list)
    outcomes: list[OutcomeNode] = Field(min_length=1)
    impact: list[Node] = Field(default_factory=list)
    links: list[tuple[NodeId, NodeId]] = Field(
        default_factory=list, description="cause -> effect pairs, by node id")
    assumptions: list[Text] = Field(default_factory=list)


class ReliabilityKind(str, Enum):
    internal_consistency = "internal_consistency"
    test_retest = "test_retest"
    inter_rater = "inter_rater"


class Instrument(_Raw):
    name: Text
    range: tuple[float, float] | None = Field(None, description="lowest and highest possible score")
    validated: bool = False
    reliability: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="reliability coefficient used for the reliable change index")
    reliability_kind: ReliabilityKind | None = None
    norm_mean: float | None = None
    norm_sd: Annotated[float, Field(gt=0)] | None = None


class Period(str, Enum):
    month = "month"
    quarter = "quarter"
    year = "year"


class Target(_Raw):
    value: float
    per: Period | None = Field(None, description="the period a count target applies to")
    amber: float | None = Field(
        None, description="the value from which status is amber rather than red")


Range = tuple[float, float]


class Indicator(_Raw):
    id: IndicatorId
    label: Text
    measures: NodeId = Field(description="the theory-of-change node this indicator measures")
    type: IndicatorType
    direction: Direction = Field(description="which way is better")
    source: Source
    instrument: Instrument | None = None
    target: Target | None = None
    rate_per: Literal[1000, 100000, 1000000] | None = Field(
        None, description="population denominator for rates, e.g. 100000; homicide uses 1000000")
    eif_outcome: EifOutcome | None = Field(
        None, description="the EIF child-outcome category this indicator measures (outputs, attitudes and "
                          "intermediate measures have none: they are shown but carry no evidence level)")
    child_outcome: bool | None = Field(
        None, description="false: never a child outcome. A child outcome is an indicator of an outcome or impact "
                          "node with an eif_outcome")
    plausible: Range | None = Field(
        None, description="lowest and highest believable value; anything outside is refused as a data error "
                          "(for scores without an instrument range, counts with a known ceiling...)")


# ---------------------------------------------------------------------------- costs (value for money)


class CostCategory(str, Enum):
    staff = "staff"
    training = "training"
    venues = "venues"
    materials = "materials"
    travel = "travel"
    overheads = "overheads"


# strict: "12000" or true is a mistake to report, not a number to guess
Amount = Annotated[float, Field(strict=True, description="pounds, in the price year")]
Count = Annotated[int, Field(strict=True, ge=0)]
OffenceId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]


class CategoryAmounts(_Raw):
    """Amounts by category; a category left out costs nothing."""

    staff: Amount | None = None
    training: Amount | None = None
    venues: Amount | None = None
    materials: Amount | None = None
    travel: Amount | None = None
    overheads: Amount | None = None


class InKindRaw(_Raw):
    category: CostCategory
    amount: Amount = Field(description="what it would have cost to buy, in pounds")
    provided_by: Text = Field(description="who gave it, e.g. 'Schools (rooms for sessions)'")
    one_off: bool = Field(False, description="a set-up contribution rather than a running one")
    note: str | None = None


class CountedFrom(str, Enum):
    data = "data"  # the distinct ids of an evaluation plan's data (rows in the period, optionally filtered)
    store = "store"  # the monitoring store's monthly counts of a count indicator, over the period's months


class ParticipantCountRaw(_Raw):
    """Participants counted, not typed in: from an evaluation plan's data or the monitoring store."""

    from_: CountedFrom = Field(alias="from", description="where the count comes from: data or store")
    evaluation: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=80)] | None = Field(
        None, description="from: data: the evaluation plan whose data holds one row (or more) per participant")
    date: Text | None = Field(None, description="from: data: a date column; only rows dated inside the period count")
    where: dict[Text, str | int | bool] = Field(
        default_factory=dict, description="from: data: column -> value the counted rows must have, e.g. completed: 1")
    indicator: IndicatorId | None = Field(
        None, description="from: store: a count indicator of this logic model, summed over the period's months")
    declared: Count | None = Field(None, description="the programme's own figure, shown beside the count; a "
                                                     "disagreement is said, never silently settled")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        # reached through a plain validator, so the shape check cannot list the keys itself: say them here
        from collections.abc import Mapping

        from pydantic_core import PydanticCustomError

        if isinstance(data, Mapping):
            unknown = [k for k in data if k not in ("from", "evaluation", "date", "where", "indicator", "declared")]
            if unknown:
                raise PydanticCustomError("unknown_count_key", "keys from, evaluation, date, where (from: data), "
                                          "indicator (from: store) and declared; unknown key {key}",
                                          {"key": repr(str(unknown[0]))})
        return data


def _count_or_counted(value):
    """A number of people, or where to count them ({from: data | store, ...}): one error either way (a plain
    union would report the mapping's mistakes twice, once as 'not a whole number')."""
    from collections.abc import Mapping

    from pydantic_core import PydanticCustomError

    if isinstance(value, Mapping):
        return ParticipantCountRaw.model_validate(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PydanticCustomError("count_or_counted", "a whole number of 0 or more, or {from: data, ...} or "
                                  "{from: store, ...} saying where they are counted")
    return value


ParticipantNumber = Annotated[object, PlainValidator(_count_or_counted,
                                                     json_schema_input_type=Count | ParticipantCountRaw)]


class ParticipantsRaw(_Raw):
    started: ParticipantNumber | None = Field(
        None, description="people who started in this period: a number, or {from: data | store, ...}")
    completed: ParticipantNumber | None = Field(
        None, description="of those, how many completed: a number, or {from: data | store, ...}")


class CostPeriodRaw(_Raw):
    id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="the period's name, e.g. 2023-24 or pilot")
    start: dt.date
    end: dt.date
    price_year: str | int | None = Field(None, description="overrides the block's price_year")
    participants: ParticipantsRaw | None = None
    set_up: CategoryAmounts | None = Field(None, description="one-off costs: recruitment, training, materials")
    running: CategoryAmounts | None = Field(None, description="costs of delivery in the period")
    in_kind: list[InKindRaw] = Field(default_factory=list)
    note: str | None = None


class OutcomeCosting(_Raw):
    """How an indicator's effect is costed: the good outcome in words, and the unit cost of crime
    that values it (for offences, admissions and homicides)."""

    outcome: Text = Field(description="one good outcome in words, e.g. 'suspension avoided'")
    valued_as: OffenceId | None = Field(
        None, description="an offence of the unit-cost table of crime (e.g. violence_with_injury) that values "
                          "each outcome; gives the monetised benefit, net benefit and benefit-cost ratio")


class CostsBlock(_Raw):
    """Costs of one intervention, by period, in one price year (or one per period)."""

    price_year: str | int | None = Field(
        None, description="e.g. 2023-24 (financial year) or 2023 (calendar year); required unless every period has one")
    analysis_year: str | int | None = Field(
        None, description="the year whose prices every figure is reported in (default: the latest price year)")
    currency: Literal["GBP"] = "GBP"
    source: str | None = Field(None, description="where the figures come from")
    illustrative: bool = Field(False, description="true for made-up example figures; every output says so")
    periods: list[CostPeriodRaw] = Field(min_length=1)
    outcomes: dict[IndicatorId, OutcomeCosting] = Field(
        default_factory=dict, description="indicator -> how its effect is costed (cost per outcome, and costs of "
                                          "crime avoided)")
    participants_indicator: IndicatorId | None = Field(
        None, description="a count indicator whose monthly count in the monitoring store is the number of "
                          "participants (e.g. referrals received): the dashboard shows the running cost per "
                          "participant per month with it")


class LogicModelFile(_Raw):
    """A logic model: one intervention's theory of change and the indicators that measure it."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"$id": LOGIC_MODEL_SCHEMA_ID, "title": "evalkit logic model"})

    id: Slug
    name: Text
    summary: Text
    kind: InterventionKind = Field(
        InterventionKind.programme, description="place_based_strategy: a whole-area strategy, not rated as a programme")
    prevention: Prevention
    duration_months: Annotated[float, Field(gt=0, le=120)] | None = Field(
        None, description="how long the intervention lasts for one participant, start to end: follow-up "
                          "'a year or longer' counts from its end")
    population: Population
    problem: Text
    evidence: list[ExternalEvidence] = Field(default_factory=list)
    theory_of_change: TheoryOfChange
    indicators: list[Indicator] = Field(min_length=1)
    costs: CostsBlock | None = Field(
        None, description="what the intervention costs, by period (value for money; docs/value-for-money.md)")


# ---------------------------------------------------------------------------- evaluation plans


class Stage(str, Enum):
    """The EIF 10-step pathway, in order (names and their sources in evidence/rules.yml: pathway)."""

    confirm_theory_of_change = "confirm_theory_of_change"
    develop_logic_model = "develop_logic_model"
    create_blueprint = "create_blueprint"
    test_feasibility = "test_feasibility"
    pilot_for_outcomes = "pilot_for_outcomes"
    test_for_efficacy = "test_for_efficacy"
    test_for_effectiveness = "test_for_effectiveness"
    refine_and_monitor = "refine_and_monitor"
    adapt_and_transport = "adapt_and_transport"
    take_to_scale = "take_to_scale"


# the designs a plan can name: one per module of the design registry (evalkit/spec/design_list.py),
# so that adding a design adds its choice here without an edit
Design = Enum("Design", [(name, name) for name in design_names()], type=str, module=__name__, qualname="Design")


class Evaluator(_Raw):
    name: Text
    independent: bool


def _quoted_labels(value):
    """YAML 1.1 reads Yes/No/On/Off as booleans: say so rather than match the wrong word."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, bool):
                raise ValueError(f"YAML read a label as {str(item).lower()}; write labels in quotes, e.g. \"Yes\"")
    return value


QuotedLabels = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]],
                         BeforeValidator(_quoted_labels)]


class BinaryLabels(_Raw):
    """Text written in binary columns (binary indicators, the treatment, feasibility flags) for 1 and 0."""

    one: QuotedLabels = Field(alias="1", description="text meaning 1 (yes), e.g. [\"Yes\", \"Y\"]")
    zero: QuotedLabels = Field(alias="0", description="text meaning 0 (no), e.g. [\"No\", \"N\"]")


class DataSource(_Raw):
    path: Text = Field(description="relative to the plan file; .csv, .parquet or .xlsx")
    id: Column = Field(description="the unit (person, school, area) identifier column")
    treatment: Column | None = Field(
        None, description="0/1 column; in long form, 1 in the periods a unit is under the intervention; with "
                          "'comparison', the name of the 0/1 column evalkit makes (default 'treated')")
    # a matched comparison's two files: `path` holds the participants and `comparison` the pool
    comparison: Text | None = Field(
        None, description="matched_comparison only: the comparison pool's file (relative to the plan), with the "
                          "same columns as path, which then holds the participants only")
    period: Column | None = Field(None, description="the time column, for data in long form")
    population: Column | None = Field(
        None, description="population column, for rates and the offset of count models")
    sheet: str | None = Field(None, description="worksheet name, for .xlsx files")
    missing_values: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, description="cell values that mean 'missing', e.g. [\"n/a\", \"-99\"]; besides "
                                          "empty cells, nothing else is read as missing")
    binary_labels: BinaryLabels | None = Field(
        None, description="words used for 1 and 0 in binary columns, besides 0/1 and true/false")
    plausible: dict[Column, Range] = Field(
        default_factory=dict, description="column -> [lowest, highest] believable value; values outside are "
                                          "refused as data errors")


class MatchingMethod(str, Enum):
    nearest = "nearest"
    optimal = "optimal"
    exact = "exact"
    ipw = "ipw"


class Distance(str, Enum):
    logit = "logit"
    probit = "probit"
    column = "column"


class CaliperScale(str, Enum):
    logit = "logit"
    probability = "probability"


class MatchOrder(str, Enum):
    largest = "largest"
    smallest = "smallest"
    random = "random"
    data = "data"


class Discard(str, Enum):
    none = "none"
    treated = "treated"
    control = "control"
    both = "both"


class Estimand(str, Enum):
    att = "att"
    ate = "ate"


class MissingPolicy(str, Enum):
    complete_cases = "complete_cases"
    missing_indicator = "missing_indicator"


class Matching(_Raw):
    method: MatchingMethod = MatchingMethod.nearest
    distance: Distance = Field(Distance.logit, description="propensity score model, or a score column")
    score_column: Column | None = Field(None, description="a user-supplied score, with distance: column")
    ratio: Annotated[int, Field(ge=1, le=20)] = 1
    caliper: Annotated[float, Field(gt=0)] | None = Field(
        None, description="in SDs of the distance (the logit of the score unless caliper_scale says otherwise)")
    caliper_scale: CaliperScale = CaliperScale.logit
    calipers: dict[Column, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="per-covariate calipers, in the covariate's units (in its SDs with "
        "std_caliper: true)")
    std_caliper: bool = Field(
        False, description="covariate calipers in SDs of the covariate over the units not discarded, as "
        "MatchIt's std.caliper = TRUE (the propensity caliper is always in SDs)")
    replace: bool = False
    exact: list[Column] = Field(default_factory=list)
    order: MatchOrder = MatchOrder.largest
    discard: Discard = Discard.none
    estimand: Estimand = Estimand.att
    interactions: list[tuple[Column, Column]] = Field(default_factory=list)
    missing: MissingPolicy = MissingPolicy.complete_cases
    stabilise: bool = False
    trim: Annotated[float, Field(gt=0, lt=0.5)] | None = Field(
        None, description="trim weights at this quantile and 1 minus it")
    adjust: bool = Field(False, description="also adjust the outcome model for the covariates (doubly robust)")


class CountModel(str, Enum):
    poisson = "poisson"
    quasi_poisson = "quasi_poisson"
    negative_binomial = "negative_binomial"


class Seasonality(str, Enum):
    none = "none"
    month = "month"
    fourier = "fourier"


class ImpactModel(str, Enum):
    level_and_slope = "level_and_slope"
    level = "level"


class TimeSeries(_Raw):
    interruption: dt.date = Field(description="the first period under the intervention")
    model: CountModel = CountModel.negative_binomial
    seasonality: Seasonality = Seasonality.month
    control: Column | None = Field(None, description="a control series column in the same rows")
    impact: ImpactModel = Field(
        ImpactModel.level_and_slope, description="level_and_slope: a step and a change of trend at the "
        "interruption; level: a step only, the trend unchanged (Bernal, Cummins & Gasparrini 2017's main model)")


class DidComparison(str, Enum):
    never_treated = "never_treated"
    not_yet_treated = "not_yet_treated"


class DidBasePeriod(str, Enum):
    universal = "universal"
    varying = "varying"


class EventWindow(_Raw):
    """Event times beyond these are binned into the window's end points."""

    leads: Annotated[int, Field(ge=2, le=120)] = Field(
        12, description="periods before the first treated one (event time -1 is the reference, so at least 2)")
    lags: Annotated[int, Field(ge=0, le=120)] = Field(12, description="periods from the first treated one on")


class DifferenceInDifferences(_Raw):
    """Options of a difference-in-differences analysis (design: difference_in_differences)."""

    comparison: DidComparison | None = Field(
        None, description="comparison units of the group-time effects (default: never_treated when some "
                          "units are never treated, else not_yet_treated)")
    event_window: EventWindow = Field(default_factory=EventWindow, description="leads and lags of the event study")
    min_cell_units: Annotated[int, Field(ge=1, le=10000)] = Field(
        10, description="warn when a group-time cell rests on fewer treated or comparison units than this")
    base_period: DidBasePeriod = Field(
        DidBasePeriod.universal, description="base of the group-time effects before treatment: universal (g-1 "
        "for every cell, as event-study plots and HonestDiD expect) or varying (the period before each, R did's "
        "default)")


class SyntheticMethod(str, Enum):
    synth = "synth"  # Abadie, Diamond & Hainmueller (2010), nested V as R Synth
    augmented = "augmented"  # ridge augmented synthetic control (Ben-Michael, Feller & Rothstein 2021)


class AreaEstimate(str, Enum):
    area_did = "area_did"  # comparison-area difference-in-differences on rates beside the synthetic control
    none = "none"


class AreaWeighting(str, Enum):
    none = "none"  # each area counts equally (fixest/Stata default)
    population = "population"  # each resident counts equally


class UnderTwentyFive(_Raw):
    """The under-25s' counts and population, for the events prevented among them."""

    population: Column = Field(description="column of residents aged under 25")
    outcomes: dict[IndicatorId, Column] = Field(
        min_length=1, description="indicator -> column of events among under-25s (indicators of the plan's outcomes)")


class ComparisonAreas(_Raw):
    """Options of a comparison-area design (design: comparison_areas): synthetic control, and area DiD beside it."""

    treated_from: Column = Field(
        description="column holding the first month under the intervention (YYYY-MM) on every row of a treated "
                    "area, empty for comparison areas; an area whose month falls inside the window cannot be a donor")
    treated_area: Text | None = Field(
        None, description="the treated area to analyse (as in the data.id column); default: the only one")
    exclude: list[Text] = Field(
        default_factory=list, description="areas left out of the donors (e.g. other areas with a Violence Reduction "
                                          "Unit or a comparable programme during the window)")
    method: SyntheticMethod = Field(SyntheticMethod.synth, description="synth (ADH 2010) or augmented (ridge ASCM)")
    second_estimate: AreaEstimate = Field(
        AreaEstimate.area_did, description="area_did: comparison-area difference-in-differences beside it; none")
    did_weighting: AreaWeighting = Field(AreaWeighting.none, description="weighting of the area DiD")
    under_25: UnderTwentyFive | None = Field(None, description="events and residents aged under 25")
    level: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        0.95, description="interval level asked for (the permutation reaches 1 - 2m/(J+1), reported)")
    placebo_in_time_months: Annotated[int, Field(ge=0, le=60)] = Field(
        12, description="months the placebo-in-time start is moved earlier (0: no placebo in time)")
    min_donors: Annotated[int, Field(ge=2, le=1000)] = Field(
        19, description="fewest comparison areas accepted (19: the rank p-value can reach 0.05)")
    min_pre_periods: Annotated[int, Field(ge=2, le=600)] = Field(
        24, description="fewest months before the start accepted (24: the seasonal cycle twice)")


class StudyRole(str, Enum):
    main = "main"
    sensitivity = "sensitivity"


class FollowUpFrom(str, Enum):
    start = "start"
    programme_end = "programme_end"


class RecordStatus(str, Enum):
    reported = "reported"
    unverified = "unverified"
    illustrative = "illustrative"


class EquivalenceSample(str, Enum):
    randomised = "randomised"
    analysed = "analysed"


class ExternalSample(_Raw):
    treated: Annotated[int, Field(ge=0)] | None = None
    comparison: Annotated[int, Field(ge=0)] | None = None
    clusters: Annotated[int, Field(ge=0)] | None = None


class ExternalAttrition(_Raw):
    overall: Annotated[float, Field(ge=0, le=1)] | None = None
    differential: Annotated[float, Field(ge=-1, le=1)] | None = None


class EffectSizeKind(str, Enum):
    hedges_g = "hedges_g"
    cohens_d = "cohens_d"
    d_z = "d_z"
    odds_ratio = "odds_ratio"
    risk_ratio = "risk_ratio"
    risk_difference = "risk_difference"
    rate_ratio = "rate_ratio"
    cox_index = "cox_index"


class EffectSize(_Raw):
    kind: EffectSizeKind
    value: float


class Scale(str, Enum):
    difference = "difference"
    ratio = "ratio"


class ExternalResult(_Raw):
    indicator: IndicatorId
    estimate: float
    scale: Scale | None = Field(
        None, description="whether the estimate is a difference (no effect = 0) or a ratio (no effect = 1); "
                          "default: ratio when effect_size is a ratio of the same value, else difference")
    ci: tuple[float, float] | None = None
    std_error: Annotated[float, Field(gt=0)] | None = None
    p_value: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=0)] | None = None
    effect_size: EffectSize | None = None
    follow_up_months: Annotated[int, Field(ge=0)] | None = None


class External(_Raw):
    """A study evalkit did not run, recorded from its report."""

    citation: Text
    url: str | None = None
    status: RecordStatus = Field(
        RecordStatus.reported, description="reported: taken from the study's published report; unverified or "
                                           "illustrative records are shown but never carry a published rating")
    sample: ExternalSample
    attrition: ExternalAttrition | None = None
    baseline_equivalence: bool | None = None
    baseline_equivalence_sample: EquivalenceSample | None = Field(
        None, description="which sample baseline_equivalence describes; with high attrition only the analysed "
                          "sample's equivalence counts (WWC)")
    intention_to_treat: bool | None = None
    follow_up_months: Annotated[int, Field(ge=0)] | None = None
    results: list[ExternalResult] = Field(min_length=1)


# ---------------------------------------------------------------------------- feasibility studies


class FeasibilityMetric(str, Enum):
    """What a progression criterion measures (definitions in evalkit.estimate.feasibility)."""

    referrals_vs_target = "referrals_vs_target"
    eligibility_rate = "eligibility_rate"
    consent_rate = "consent_rate"
    start_rate = "start_rate"
    starts_vs_target = "starts_vs_target"
    retention_rate = "retention_rate"
    completion_rate = "completion_rate"
    dose_sessions = "dose_sessions"
    dose_hours = "dose_hours"
    fidelity = "fidelity"
    median_days_to_first_contact = "median_days_to_first_contact"
    contact_within_target = "contact_within_target"
    baseline_completeness = "baseline_completeness"
    follow_up_completeness = "follow_up_completeness"
    acceptability = "acceptability"


class Better(str, Enum):
    higher = "higher"
    lower = "lower"


class ProgressionRule(str, Enum):
    all_green = "all_green"
    any_red_stops = "any_red_stops"


class ProgressionCriterion(_Raw):
    metric: FeasibilityMetric
    green: float = Field(description="the value from which the criterion is green")
    amber: float = Field(description="the value from which it is amber rather than red")
    better: Better | None = Field(None, description="which way is better (default: the metric's own direction)")
    indicator: IndicatorId | None = Field(
        None, description="for baseline/follow_up_completeness: the outcome measure (default: the primary outcome)")
    label: str | None = None


class CaseColumns(_Raw):
    """Columns of the case file (``data.path``, one row per referral)."""

    referral_date: Column
    eligible: Column | None = Field(None, description="0/1")
    consented: Column | None = Field(None, description="0/1")
    started: Column | None = Field(None, description="0/1: attended a first session")
    completed: Column | None = Field(None, description="0/1: completed the planned programme")
    first_contact: Column | None = Field(
        None, description="date of first contact (default: the first session in the session records)")
    sessions_planned: Column | None = Field(None, description="planned sessions for this case, if it varies")
    acceptability: Column | None = Field(None, description="a survey item: 0/1, or a score with acceptable_from")


class SessionRecords(_Raw):
    """A file of session records, one row per planned or delivered session."""

    path: Text = Field(description="relative to the plan file; .csv, .parquet or .xlsx")
    id: Column = Field(description="the case id, as in the case file")
    date: Column
    attended: Column | None = Field(None, description="0/1 (default: every row is a session attended)")
    hours: Column | None = Field(None, description="contact hours of the session")
    fidelity: Column | None = Field(None, description="0/1: delivered as the blueprint says")
    sheet: str | None = None


class FeasibilityTargets(_Raw):
    referrals: Annotated[int, Field(gt=0)] | None = Field(None, description="planned referrals in the recruitment window")
    starts: Annotated[int, Field(gt=0)] | None = Field(None, description="planned starts in the recruitment window")
    sessions: Annotated[float, Field(gt=0)] | None = Field(None, description="planned sessions per participant")
    contact_hours: Annotated[float, Field(gt=0)] | None = Field(None, description="planned contact hours per participant")
    days_to_first_contact: Annotated[float, Field(ge=0)] | None = None


class RecruitmentWindow(_Raw):
    start: dt.date
    end: dt.date


class SampleSizePlanning(_Raw):
    """The efficacy study to plan from what the feasibility study observed."""

    effect_size: Annotated[float, Field(gt=0)] | None = Field(None, description="standardised (Cohen's d)")
    difference: Annotated[float, Field(gt=0)] | None = Field(None, description="in the outcome's units")
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    power: Annotated[float, Field(gt=0.5, lt=1)] = 0.8
    available_per_arm: Annotated[int, Field(gt=1)] | None = Field(
        None, description="recruits per arm the next study could get, for the minimum detectable effect")
    icc: Annotated[float, Field(ge=0, lt=1)] | None = Field(
        None, description="intra-cluster correlation (default: estimated from the plan's cluster column)")
    cluster_size: Annotated[float, Field(ge=1)] | None = Field(None, description="recruits per school or area")
    comparison_ratio: Annotated[float, Field(gt=0, le=20)] = Field(
        1.0, description="comparison units per treated unit, for the matched comparison")
    matched_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.9, description="share of treated units expected to find a match")


class Delivery(_Raw):
    """How the programme was delivered in routine practice: the session records and the blueprint
    (fidelity, dosage, engagement over time, dose-response; evalkit.estimate.delivery)."""

    sessions: SessionRecords
    planned_sessions: Annotated[int, Field(ge=1)] = Field(description="sessions each participant should receive")
    minimum_dose: Annotated[int, Field(ge=1)] | None = Field(None, description="the programme's own 'received enough'")
    session_hours: Annotated[float, Field(gt=0)] | None = Field(None, description="planned length of one session")
    weeks: Annotated[int, Field(ge=1)] | None = Field(None, description="planned length: retention is followed this long")
    deliverer: Column | None = Field(None, description="session column naming the mentor or worker (fidelity "
                                                       "intervals cluster by it)")
    dose_response: list[IndicatorId] = Field(default_factory=list, description="indicators whose change is "
                                             "related to the sessions received (an association, never an effect)")


class Feasibility(_Raw):
    cases: CaseColumns
    sessions: SessionRecords | None = None
    recruitment: RecruitmentWindow | None = Field(None, description="referrals counted in this window")
    targets: FeasibilityTargets = Field(default_factory=FeasibilityTargets)
    acceptable_from: float | None = Field(None, description="the lowest acceptability score that counts as acceptable")
    criteria: list[ProgressionCriterion] = Field(min_length=1)
    rule: ProgressionRule = ProgressionRule.any_red_stops
    planning: SampleSizePlanning | None = None


class EvaluationFile(_Raw):
    """An evaluation plan: one study of one intervention."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"$id": EVALUATION_SCHEMA_ID, "title": "evalkit evaluation plan"})

    id: Slug
    intervention: Slug = Field(description="a logic model id")
    title: Text
    stage: Stage
    design: Design
    evaluator: Evaluator
    data: DataSource | None = None
    timepoints: dict[IndicatorId, dict[TimepointName, Column]] = Field(
        default_factory=dict, description="indicator -> {timepoint: column}, for data in wide form; timepoint "
                                          "names: " + ", ".join(TIMEPOINT_NAMES) + " (e.g. follow_up_12m)")
    outcomes: dict[IndicatorId, Column] = Field(
        default_factory=dict, description="indicator -> column, for data in long form")
    covariates: list[Column] = Field(default_factory=list)
    subgroups: list[Column] = Field(default_factory=list)
    matching: Matching | None = None
    time_series: TimeSeries | None = None
    did: DifferenceInDifferences | None = None
    comparison_areas: ComparisonAreas | None = None
    cluster: Column | None = Field(None, description="standard errors clustered by this column")
    weights: Column | None = Field(None, description="column of analysis weights")
    external: External | None = None
    feasibility: Feasibility | None = None
    delivery: Delivery | None = Field(None, description="session records and blueprint: the report's 'How it was "
                                                         "delivered' section (any design)")
    primary_outcome: IndicatorId
    follow_up_months: Annotated[int, Field(ge=0, le=600)]
    follow_up_from: FollowUpFrom = Field(
        FollowUpFrom.start, description="what follow_up_months and follow_up_<n>m timepoints count from: the "
                                        "start (baseline) or the end of the programme")
    study: Slug | None = Field(
        None, description="the study (sample) this analysis belongs to: plans that analyse the same sample are "
                          "one study (default: plans with the same data are one study)")
    study_role: StudyRole = Field(
        StudyRole.main, description="sensitivity: a re-analysis of the study's sample (another specification)")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 20240301


# ---------------------------------------------------------------------------- project settings


class ProjectFile(_Raw):
    """``evalkit.yml`` at the project's top (optional): settings for the whole project."""

    data_roots: list[Text] = Field(
        default_factory=list, description="folders outside the project that plans may read data from "
                                          "(absolute, or relative to the project); data files must resolve "
                                          "inside the project or under one of these, symlinks included")
    # the disclosure block has one reader (evalkit.publish.policy), which checks it key by key with
    # its own messages; here it is only allowed to be there
    disclosure: dict | None = Field(
        None, description="how every published output protects small counts: policy (suppress | round), "
                          "threshold, round_to (docs/publishing.md)")
