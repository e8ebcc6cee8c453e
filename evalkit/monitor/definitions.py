"""What counts: the local serious violence definition and the success measures, as data.

Two files of ``monitoring/``, both versioned so every output can name what it counted:

- ``serious_violence.yml``: the partnership's definition of serious violence as an offence
  list (categories of offences, each keyed by Home Office offence classification code and by
  recorded description), the offences it leaves out, and the flags (knife, domestic abuse,
  public place, night-time economy) the profile and the measures use.
- ``success_measures.yml``: the Home Office success measures (and the local-definition counts
  kept beside them): which source, which rows, which victims (all, under 25, non-domestic),
  the rate denominator.

Both are read by :func:`evalkit.monitor.config.load_monitoring`; the checks here report every
problem with its file and line. Offence keys are compared after :func:`norm_code` and
:func:`norm_description`, the same in Python and in the store's SQL
(:func:`evalkit.monitor.indicators.classify_police`).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evalkit.errors import Problem

ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Text = Annotated[str, StringConstraints(min_length=1)]
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# columns the classification adds to police rows, usable in measures' and indicators' filters
CLASSIFIED_COLUMNS = ("sv_category", "sv_offence", "serious_violence", "mapped", "knife", "domestic",
                      "public_place", "night_time_economy")
UNDER_25 = 25  # the success measures' young-victim variant: aged under 25
DASHES = ("\u2013", "\u2014", "\u2012", "\u2212")


def norm_code(code: str) -> str:
    """A Home Office offence code as compared: upper case, no spaces, '/' for the open-data '.'."""
    return re.sub(r"\s+", "", str(code)).upper().replace(".", "/")


def norm_description(text: str) -> str:
    """An offence description as compared: lower case, single spaces, every dash a hyphen."""
    out = str(text)
    for d in DASHES:
        out = out.replace(d, "-")
    return re.sub(r"\s+", " ", out).strip().lower()


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offence(_Raw):
    name: Text = Field(description="the offence in the definition's own wording (also matched as a description)")
    codes: list[Annotated[str, StringConstraints(min_length=1, max_length=12)]] = Field(
        default_factory=list, description="Home Office offence classification codes, e.g. 8N or 4/1")
    descriptions: list[Text] = Field(default_factory=list, description="other recorded descriptions of it")

    def keys(self) -> list[tuple[str, str]]:
        """(kind, normalised key) pairs: every code and every description, the name included."""
        out = [("code", norm_code(c)) for c in self.codes]
        out += [("description", norm_description(d)) for d in [self.name, *self.descriptions]]
        return list(dict.fromkeys(out))


class Category(_Raw):
    id: Slug
    name: Text
    offences: list[Offence] = Field(min_length=1)


class PublicPlace(_Raw):
    column: ColumnName = Field(description="the police source's location-type column")
    values: list[Text] = Field(min_length=1, description="location types that are public places")


class NightTimeEconomy(_Raw):
    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(description="hours of the day counted as night")
    evenings: list[Literal[DAYS]] = Field(  # type: ignore[valid-type]
        description="the evenings counted, an early-morning hour belonging to the evening before")


class Flags(_Raw):
    knife: ColumnName = Field(description="boolean column of the police source: knife or sharp object")
    domestic: ColumnName = Field(description="boolean column of the police source: domestic abuse")
    public_place: PublicPlace | None = None
    night_time_economy: NightTimeEconomy


class MappingFile(_Raw):
    """``serious_violence.yml``: the local definition of serious violence as an offence list."""

    version: Text
    title: str | None = None
    definition: Text
    agreed_by: str | None = None
    source: Slug = Field("police", description="the police source the definition classifies")
    offence_column: ColumnName = "offence_type"
    code_column: ColumnName | None = Field(None, description="column holding the Home Office offence code, if any")
    categories: list[Category] = Field(min_length=1)
    not_serious_violence: list[Offence] = Field(default_factory=list)
    flags: Flags

    def offences(self):
        """(category, offence) in the file's order."""
        return [(c, o) for c in self.categories for o in c.offences]


class Variant(str, Enum):
    all = "all"
    under_25 = "under_25"
    non_domestic = "non_domestic"


class MeasureDef(_Raw):
    """One success measure: which rows of which source count, by month and area."""

    id: Slug
    indicator: Slug | None = Field(None, description="the success-measures logic model's indicator it gives")
    label: Text
    definition: Text
    cited: list[str] = Field(default_factory=list, description="keys of the file's sources (its header, or sources:)")
    local_definition: bool = Field(False, description="counts the local definition, not a Home Office measure")
    source: Slug
    date: ColumnName
    offences: list[Offence] | None = Field(None, description="police only: the offence list counted")
    where: dict[str, Any] = Field(default_factory=dict, description="row filter, as in indicators.yml")
    age: ColumnName | None = Field(None, description="the victim's age column (for under_25)")
    area: ColumnName
    rate_per: Literal[1000, 100000, 1000000]
    variants: list[Variant] = Field(default_factory=lambda: [Variant.all])


class MeasuresFile(_Raw):
    """``success_measures.yml``."""

    version: Text
    sources: dict[str, Text] = Field(default_factory=dict, description="the sources the measures cite: key -> "
                                     "citation (published beside each measure)")
    measures: list[MeasureDef] = Field(min_length=1)


# ---------------------------------------------------------------------------- checks


def _bad(problems: list[Problem], doc, path: tuple, message: str, found=None, expected=None) -> None:
    problems.append(Problem(doc.file, doc.line_of(path), ".".join(map(str, path)), message, found, expected))


def check_mapping(raw: MappingFile, doc, sources: dict, problems: list[Problem]) -> None:
    """Each code and description once; the flag and key columns declared in the police source."""
    seen: dict[tuple[str, str], str] = {}
    cat_ids: set[str] = set()
    groups = [(("categories", i, "offences"), c.name, c.offences) for i, c in enumerate(raw.categories)]
    groups.append((("not_serious_violence",), "not serious violence", raw.not_serious_violence))
    for i, c in enumerate(raw.categories):
        if c.id in cat_ids:
            _bad(problems, doc, ("categories", i, "id"), "category id used twice", repr(c.id), "each id once")
        cat_ids.add(c.id)
    for path, where, offences in groups:
        for j, off in enumerate(offences):
            for kind, key in off.keys():
                if (kind, key) in seen and seen[(kind, key)] != f"{where}: {off.name}":
                    _bad(problems, doc, path + (j,), f"offence {kind} listed twice", f"{key!r} (also under "
                         f"{seen[(kind, key)]})", f"each {kind} under one offence")
                seen.setdefault((kind, key), f"{where}: {off.name}")
    src = sources.get(raw.source)
    if src is None:
        _bad(problems, doc, ("source",), "no such source", repr(raw.source), f"one of {', '.join(sources) or '(none)'}")
        return
    cols = src.columns
    names = ", ".join(cols)

    def column(path, name, kind=None):
        if name not in cols:
            _bad(problems, doc, path, f"not a column of source {src.id}", repr(name), f"one of {names}")
        elif kind is not None and cols[name].type.value != kind:
            _bad(problems, doc, path, f"must be a {kind} column", cols[name].type.value, kind)

    column(("offence_column",), raw.offence_column, "string")
    if raw.code_column is not None:
        column(("code_column",), raw.code_column, "string")
    column(("flags", "knife"), raw.flags.knife, "boolean")
    column(("flags", "domestic"), raw.flags.domestic, "boolean")
    if raw.flags.public_place is not None:
        column(("flags", "public_place", "column"), raw.flags.public_place.column, "string")


def check_measures(raw: MeasuresFile, doc, sources: dict, mapping: MappingFile | None, problems: list[Problem]) -> None:
    """Sources, columns and variants that exist; an offence list only on the mapped police source."""
    ids: set[str] = set()
    for i, m in enumerate(raw.measures):
        base = ("measures", i)
        if m.id in ids:
            _bad(problems, doc, base + ("id",), "measure id used twice", repr(m.id), "each id once")
        ids.add(m.id)
        src = sources.get(m.source)
        if src is None:
            _bad(problems, doc, base + ("source",), "no such source", repr(m.source),
                 f"one of {', '.join(sources) or '(none)'}")
            continue
        classified = mapping is not None and mapping.source == m.source
        cols = set(src.columns) | (set(CLASSIFIED_COLUMNS) if classified else set())
        names = ", ".join(sorted(cols))
        for key in ("date", "area", "age"):
            value = getattr(m, key)
            if value is not None and value not in src.columns:
                _bad(problems, doc, base + (key,), f"not a column of source {src.id}", repr(value), f"one of {names}")
        for col in m.where:
            if col not in cols:
                _bad(problems, doc, base + ("where", col), f"not a column of source {src.id}", repr(col),
                     f"one of {names}")
        if m.offences is not None and not classified:
            _bad(problems, doc, base + ("offences",), "an offence list needs the source serious_violence.yml "
                 "classifies", repr(m.source), repr(mapping.source) if mapping else "a serious_violence.yml")
        if m.local_definition and not classified:
            _bad(problems, doc, base + ("local_definition",), "the local definition classifies another source",
                 repr(m.source), repr(mapping.source) if mapping else "a serious_violence.yml")
        if Variant.under_25 in m.variants and m.age is None:
            _bad(problems, doc, base + ("variants",), "under_25 needs the victim's age column", "no age",
                 "age: <column>")
        if Variant.non_domestic in m.variants and not classified:
            _bad(problems, doc, base + ("variants",), "non_domestic needs the domestic-abuse flag of the police "
                 "source", repr(m.source), repr(mapping.source) if mapping else "a serious_violence.yml")
        for j, key in enumerate(m.cited):
            if raw.sources and key not in raw.sources:
                _bad(problems, doc, base + ("cited", j), "not a key of sources", repr(key),
                     f"one of {', '.join(sorted(raw.sources))}")
        if len(set(m.variants)) != len(m.variants):
            _bad(problems, doc, base + ("variants",), "a variant is listed twice", "duplicates", "each once")
