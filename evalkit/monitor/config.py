"""The project's monitoring configuration, read from ``monitoring/``.

- ``monitoring/monitor.yml``: store location, reporting period, disclosure threshold, age bands.
- ``monitoring/sources/*.yml``: one declaration per data source (columns and types, the date
  column that fixes an extract's period, keys, identifiers to pseudonymise, breakdown columns).
- ``monitoring/serious_violence.yml``: the versioned local definition of serious violence as an
  offence list, with the knife, domestic-abuse, public-place and night-time economy flags
  (models and checks in :mod:`evalkit.monitor.definitions`).
- ``monitoring/success_measures.yml``: the Home Office success measures (and local-definition
  counts) computed into the store (:mod:`evalkit.monitor.measures`).
- ``monitoring/indicators.yml``: how each logic-model indicator is counted from a source.

Every file is checked for shape (unknown keys rejected) and then cross-checked; all problems
are reported at once with file and line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evalkit.data.load import sha256
from evalkit.errors import Problem, ProjectError, SpecError
from evalkit.monitor.definitions import MappingFile, MeasuresFile, check_mapping, check_measures

MONITORING = "monitoring"
SourceId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]

POPULATION_COLUMN = "population"  # the column of a population source that rates divide by


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnType(str, Enum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"


SQL_TYPES = {ColumnType.string: "VARCHAR", ColumnType.integer: "BIGINT", ColumnType.number: "DOUBLE",
             ColumnType.boolean: "BOOLEAN", ColumnType.date: "DATE", ColumnType.datetime: "TIMESTAMP"}


class ColumnDecl(_Raw):
    type: ColumnType
    required: bool = Field(True, description="a value must be present in every row")
    format: str | None = Field(None, description="strptime format for dates written other than ISO 8601")
    min: float | None = Field(None, description="for numbers: the lowest value accepted (a lower one is refused)")
    max: float | None = Field(None, description="for numbers: the highest value accepted (a higher one is refused)")
    description: str | None = None


class SourceKind(str, Enum):
    """The built-in kinds (each declared in ``evalkit/monitor/kinds/<kind>.yml``)."""

    programme = "programme"
    police = "police"
    health = "health"
    ambulance = "ambulance"
    population = "population"


KindId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
KINDS_DIR = Path(__file__).parent / "kinds"  # the built-in kinds; a project adds its own in monitoring/kinds/


class KindColumn(_Raw):
    type: ColumnType
    required: bool = Field(True, description="the source must declare the column as required")
    description: str | None = None


class KindFile(_Raw):
    """A kind of source: what every source of the kind must declare."""

    kind: KindId
    label: str
    periods: list[Literal["month", "year"]] = Field(description="the periods an extract of this kind may cover")
    identifiers: Literal["optional", "none"] = Field(
        "optional", description="none: the kind holds aggregates, so a source of it may not declare person "
                                "identifiers (pseudonymise)")
    columns: dict[ColumnName, KindColumn] = Field(
        default_factory=dict, description="columns every source of the kind declares, with these types")
    description: str | None = None


class SourceFile(_Raw):
    """One data source: what each extract of it must hold."""

    id: SourceId
    label: str
    kind: KindId = Field(description="a kind declared in evalkit/monitor/kinds/ or the project's monitoring/kinds/")
    period: Literal["month", "year"] = Field("month", description="extracts cover whole months or years")
    date_column: ColumnName = Field(description="the column that places each row in a period")
    expected_by_day: int | None = Field(
        None, ge=1, le=28, description="a month's extract is late after this day of the next month")
    key: list[ColumnName] = Field(default_factory=list, description="columns unique across the source")
    pseudonymise: list[ColumnName] = Field(default_factory=list,
                                           description="person identifiers replaced by a keyed hash on ingest")
    breakdowns: dict[Literal["area", "age", "sex"], ColumnName] = Field(default_factory=dict)
    missing_values: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, description="cell values meaning 'missing' (e.g. n/a, -99); besides empty cells, "
                                          "nothing else is read as missing")
    columns: dict[ColumnName, ColumnDecl]


class IndicatorDef(_Raw):
    intervention: str
    indicator: str
    source: SourceId
    date: ColumnName = Field(description="the date column that places a row in a period")
    where: dict[str, Any] = Field(default_factory=dict, description="row filter: column -> value, list or {not_null: true}")
    success: dict[str, Any] | None = Field(None, description="for binary indicators: which rows count as yes")
    value: ColumnName | None = Field(None, description="for score indicators: the column averaged")
    breakdowns: list[Literal["area", "age_band", "sex"]] | None = None
    allow_absent: bool = Field(
        False, description="a where/success value that never occurs in the source is then a warning, not an error "
                           "(e.g. a programme that has had no referrals yet)")


class IndicatorsFile(_Raw):
    version: int = 1
    indicators: list[IndicatorDef]


class Disclosure(_Raw):
    min_count: int = Field(5, ge=1, description="counts below this are suppressed in anything published")


class MonitorFile(_Raw):
    store: str | None = None
    period: Literal["month", "quarter"] = "month"
    disclosure: Disclosure = Disclosure()
    age_bands: list[int] = Field(default_factory=lambda: [0, 10, 18, 25, 35, 50, 65])
    population_source: SourceId = "populations"
    police_source: SourceId = "police"
    success_measures: str = Field("strategy", description="the logic model whose indicators are the success measures")
    interruption: dt.date | None = Field(None, description="ISO date the success-measure trends are split at")
    step_changes: dict[str, list[dt.date]] = Field(
        default_factory=dict,
        description="SPC charts: 'intervention/indicator' or 'success_measures/<measure id>' -> dates (ISO) where the "
                    "process changed on purpose; the "
                    "XmR limits are recalculated from the period holding each date, and only there")


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    kind: str
    period: str
    date_column: str
    expected_by_day: int | None
    key: tuple[str, ...]
    pseudonymise: tuple[str, ...]
    breakdowns: dict
    columns: dict  # name -> ColumnDecl, in the declared order
    file: Path
    sha256: str
    missing_values: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"src_{self.id}"


@dataclass(frozen=True)
class Monitoring:
    root: Path
    settings: MonitorFile
    sources: dict
    mapping: MappingFile | None
    mapping_sha256: str | None
    indicators: tuple
    indicators_sha256: str
    warnings: tuple = field(default=())
    settings_file: str = "monitoring/monitor.yml"
    settings_lines: dict = field(default_factory=dict, compare=False)  # key path -> line in monitor.yml
    measures: MeasuresFile | None = None  # success_measures.yml
    measures_sha256: str | None = None


def _read(path: Path, root: Path, model, problems: list[Problem]):
    from evalkit.spec.shape import check_shape
    from evalkit.spec.yamlio import read_yaml

    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    doc = read_yaml(path, shown)
    problems += doc.problems
    if doc.data is None and not doc.problems:
        problems.append(Problem(shown, 1, "", "the file is empty", expected=f"a {model.__name__}"))
        return None, doc
    raw, found = check_shape(doc, model)
    problems += found
    return raw, doc


def _check_source(raw: SourceFile, doc, problems: list[Problem], kinds: dict) -> None:
    def bad(path, message, found=None, expected=None):
        problems.append(Problem(doc.file, doc.line_of(path), ".".join(map(str, path)), message, found, expected))

    cols = raw.columns
    names = ", ".join(cols)
    if raw.date_column not in cols:
        bad(("date_column",), "not a declared column", repr(raw.date_column), f"one of {names}")
    else:
        kind = cols[raw.date_column].type
        allowed = {ColumnType.date, ColumnType.datetime} | ({ColumnType.integer} if raw.period == "year" else set())
        if kind not in allowed:
            bad(("date_column",), "the date column must be a date", kind.value,
                "date or datetime" + (" (or integer years)" if raw.period == "year" else ""))
    for i, c in enumerate(raw.key):
        if c not in cols:
            bad(("key", i), "not a declared column", repr(c), f"one of {names}")
    for i, c in enumerate(raw.pseudonymise):
        if c not in cols:
            bad(("pseudonymise", i), "not a declared column", repr(c), f"one of {names}")
        elif cols[c].type is not ColumnType.string:
            bad(("pseudonymise", i), "identifiers to pseudonymise must be string columns", cols[c].type.value, "string")
    for b, c in raw.breakdowns.items():
        if c not in cols:
            bad(("breakdowns", b), "not a declared column", repr(c), f"one of {names}")
    for c, d in cols.items():
        if (d.min is not None or d.max is not None) and d.type not in (ColumnType.integer, ColumnType.number):
            bad(("columns", c, "min" if d.min is not None else "max"), "min and max apply to numbers", d.type.value,
                "type: integer or number")
        if d.min is not None and d.max is not None and d.min > d.max:
            bad(("columns", c, "min"), "min is above max", f"min {d.min:g}, max {d.max:g}", "min <= max")
    kind = kinds.get(raw.kind)
    if kind is None:
        problems.append(_unknown_kind(doc, raw.kind, kinds))
    else:
        if raw.period not in kind.periods:
            bad(("period",), f"a {raw.kind} source covers {' or '.join(kind.periods)}", raw.period,
                " or ".join(kind.periods))
        if kind.identifiers == "none" and raw.pseudonymise:
            bad(("pseudonymise",), f"a {raw.kind} source holds aggregates, not people", ", ".join(raw.pseudonymise),
                "no pseudonymise list (or a person-level kind)")
        for c, want in kind.columns.items():
            have = cols.get(c)
            if have is None:
                bad(("columns",), f"a {raw.kind} source needs a '{c}' column", "none",
                    f"{c}: {{type: {want.type.value}}}")
            elif have.type is not want.type or (want.required and not have.required):
                bad(("columns", c), f"the {raw.kind} kind declares '{c}' as "
                    + ("a required " if want.required else "") + want.type.value,
                    f"type {have.type.value}" + ("" if have.required else ", required: false"),
                    f"type: {want.type.value}" + (", required" if want.required else ""))
    if raw.id.startswith("_") or raw.id in ("extracts", "meta"):
        bad(("id",), "reserved name", raw.id, "another id")
    if not raw.columns:
        bad(("columns",), "no columns declared", "none", "at least one column")


def _unknown_kind(doc, kind: str, kinds: dict) -> Problem:
    return Problem(doc.file, doc.line_of(("kind",)), "kind", "unknown source kind", repr(kind),
                   "one of " + ", ".join(sorted(kinds)) + " (or a kind declared in monitoring/kinds/*.yml)")


def load_kinds(root: Path, problems: list[Problem]) -> dict[str, KindFile]:
    """The built-in kinds of source, then the project's own (``monitoring/kinds/*.yml``); a kind declared twice is
    a problem."""
    kinds: dict[str, KindFile] = {}
    where: dict[str, str] = {}
    paths = sorted(KINDS_DIR.glob("*.yml")) + sorted((root / MONITORING / "kinds").glob("*.y*ml"))
    for path in paths:
        raw, doc = _read(path, root, KindFile, problems)
        if raw is None:
            continue
        if raw.kind in kinds:
            problems.append(Problem(doc.file, doc.line_of(("kind",)), "kind", "kind declared twice",
                                    f"{raw.kind!r} (also in {where[raw.kind]})", "a new kind name"))
            continue
        if path.parent == KINDS_DIR and path.stem != raw.kind:
            problems.append(Problem(doc.file, 1, "kind", "file name and kind differ", raw.kind, path.stem))
        kinds[raw.kind], where[raw.kind] = raw, doc.file
    return kinds


def load_monitoring(root: Path | str) -> Monitoring:
    """Read and cross-check ``monitoring/`` in the project at ``root``; raise SpecError listing every problem."""
    root = Path(root).resolve()
    folder = root / MONITORING
    if not folder.is_dir():
        raise ProjectError(f"{folder}: no monitoring folder; expected '{MONITORING}/' with monitor.yml, "
                           "sources/*.yml, serious_violence.yml and indicators.yml")
    problems: list[Problem] = []
    settings = MonitorFile()
    settings_lines: dict = {}
    if (folder / "monitor.yml").exists():
        raw, sdoc = _read(folder / "monitor.yml", root, MonitorFile, problems)
        settings = raw or settings
        settings_lines = dict(getattr(sdoc, "lines", {}) or {})
    kinds = load_kinds(root, problems)
    sources: dict[str, Source] = {}
    for path in sorted((folder / "sources").glob("*.y*ml")):
        raw, doc = _read(path, root, SourceFile, problems)
        if raw is None:
            kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
            if isinstance(kind, str) and kind not in kinds:  # said beside the file's other problems
                problems.append(_unknown_kind(doc, kind, kinds))
            continue
        before = len(problems)
        _check_source(raw, doc, problems, kinds)
        if raw.id in sources:
            problems.append(Problem(doc.file, doc.line_of(("id",)), "id", "source id used by another file",
                                    repr(raw.id), "a different id in each source file"))
        if len(problems) == before:
            sources[raw.id] = Source(raw.id, raw.label, raw.kind, raw.period, raw.date_column,
                                     raw.expected_by_day, tuple(raw.key), tuple(raw.pseudonymise),
                                     dict(raw.breakdowns), dict(raw.columns), path, sha256(path),
                                     tuple(raw.missing_values))
    mapping, mapping_sha = None, None
    mpath = folder / "serious_violence.yml"
    if mpath.exists():
        raw, doc = _read(mpath, root, MappingFile, problems)
        if raw is not None:
            check_mapping(raw, doc, sources, problems)
            mapping, mapping_sha = raw, sha256(mpath)
    measures, measures_sha = None, None
    spath = folder / "success_measures.yml"
    if spath.exists():
        raw, doc = _read(spath, root, MeasuresFile, problems)
        if raw is not None:
            check_measures(raw, doc, sources, mapping, problems)
            measures, measures_sha = raw, sha256(spath)
    ipath = folder / "indicators.yml"
    indicators: tuple = ()
    isha = ""
    if ipath.exists():
        raw, doc = _read(ipath, root, IndicatorsFile, problems)
        if raw is not None:
            indicators, isha = tuple(raw.indicators), sha256(ipath)
            for i, d in enumerate(raw.indicators):
                if d.source not in sources:
                    problems.append(Problem(doc.file, doc.line_of(("indicators", i, "source")),
                                            f"indicators[{i}].source", "no such source", repr(d.source),
                                            f"one of {', '.join(sources) or '(none declared)'}"))
    if problems:
        raise SpecError(problems)
    return Monitoring(root, settings, sources, mapping, mapping_sha, indicators, isha,
                      settings_lines=settings_lines,
                      measures=measures, measures_sha256=measures_sha)


def source(monitoring: Monitoring, source_id: str) -> Source:
    from evalkit.errors import check_choice

    check_choice("source", source_id, tuple(monitoring.sources))
    return monitoring.sources[source_id]
