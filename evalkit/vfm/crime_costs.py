"""Costs of crime avoided: a versioned, cited table of unit costs, and the benefit it puts on an
effect on offences, hospital admissions or homicides.

The shipped table is the Home Office's *The economic and social costs of crime* (second edition,
Heeks et al. 2018, 2015/16 prices; ``data/crime_costs_home_office_2018.yml``), with each figure's
confirmation status. A partnership can supply its own table in the same format
(``schema: evalkit.crime-costs/v1``); it is validated like every evalkit file (file, line, key).

For an effect counted in events (offences, admissions, homicides avoided; the place-based
design's events prevented; a time series' observed-minus-counterfactual), :func:`monetise`
gives the monetised benefit, the net benefit (benefit - cost) and the benefit-cost ratio, each
with an interval, in the analysis year's prices, and lists which costs are counted and which are
not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evalkit.errors import SpecError
from evalkit.vfm import deflators as d
from evalkit.vfm.effects import Effect, outcomes_achieved, z_value
from evalkit.vfm.errors import VfmError
from evalkit.vfm.ratio import Method, check_cost_inputs, parse_method, draw_costs, draw_outcomes, fieller_roots, stream
from evalkit.vfm.results import Monetised

TABLE_SCHEMA = "evalkit.crime-costs/v1"
DEFAULT_TABLE = d.DATA / "crime_costs_home_office_2018.yml"
OUTCOMES_FILE = d.DATA / "crime_outcomes.yml"
COMPONENTS = ("anticipation", "consequence", "response")
# statuses a unit cost may carry; a figure that is not confirmed has no value and cannot be used
USABLE = ("published", "secondary", "rounded_secondary")
STATUSES = USABLE + ("not_confirmed",)
NOT_COUNTED_ALWAYS = (
    "benefits other than the crime valued (wellbeing, education, health and work outcomes)",
    "crime displaced to other places, times or people, or crime prevented beyond the evaluation's follow-up",
)

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OffenceRaw(_Raw):
    label: Text
    unit_cost: Annotated[float, Field(strict=True)] | None = Field(description="pounds per crime, in the table's price year")
    status: Literal["published", "secondary", "rounded_secondary", "not_confirmed"]
    components: list[Literal["anticipation", "consequence", "response"]] = Field(min_length=1)
    known_parts: dict[Key, Annotated[float, Field(strict=True, ge=0)]] = Field(default_factory=dict)
    note: str | None = None


class CrimeCostTableRaw(_Raw):
    schema_: Literal["evalkit.crime-costs/v1"] = Field(alias="schema")
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=80)]
    version: Text
    title: Text
    source: Text
    url: str | None = None
    price_year: str | int
    per: str | None = None
    components: dict[Literal["anticipation", "consequence", "response"], Text]
    not_included: list[Text] = Field(default_factory=list)
    offences: dict[Key, OffenceRaw] = Field(min_length=1)


@dataclass(frozen=True)
class Offence:
    id: str
    label: str
    unit_cost: float | None
    status: str
    components: tuple[str, ...]
    known_parts: Mapping[str, float]
    note: str


@dataclass(frozen=True)
class CrimeCostTable:
    id: str
    version: str
    title: str
    source: str
    url: str | None
    price_year: d.PriceYear
    components: Mapping[str, str]
    not_included: tuple[str, ...]
    offences: Mapping[str, Offence]
    file: str

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"

    def offence(self, offence_id: str) -> Offence:
        if offence_id not in self.offences:
            raise VfmError(f"crime costs table {self.label}: no offence {offence_id!r}; expected one of "
                           f"{', '.join(self.offences)}")
        found = self.offences[offence_id]
        if found.unit_cost is None:
            raise VfmError(f"crime costs table {self.label}: {found.label} has no confirmed unit cost (status "
                           f"{found.status}), so evalkit will not value it; supply your own table with the figure "
                           f"(same format, see docs/value-for-money.md)")
        return found


def load_crime_costs(path: Path | str | None = None) -> CrimeCostTable:
    """Read and check a unit-cost table (default: the Home Office 2018 table shipped with evalkit);
    every problem is reported at once, with its line and key path."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    return _load(path.resolve(), path.resolve() == DEFAULT_TABLE.resolve(), d.file_stamp(path))


@lru_cache(maxsize=8)
def _load(path: Path, shipped: bool, stamp=None) -> CrimeCostTable:
    from evalkit.errors import Problem
    from evalkit.spec.yamlio import format_path, read_yaml
    from evalkit.vfm.costs import check_file_shape

    doc = read_yaml(path, shown_as=path.name if shipped else str(path))
    problems = list(doc.problems)
    raw = None
    if doc.data is not None:
        raw, shape = check_file_shape(doc, CrimeCostTableRaw)
        problems += shape

    def err(key_path: tuple, message: str, found: str, expected: str) -> None:
        problems.append(Problem(doc.file, doc.line_of(key_path), format_path(key_path), message, found, expected))

    if raw is not None:
        try:
            price_year = d.parse_price_year(raw.price_year)
        except ValueError as exc:
            err(("price_year",), "price year is not a year", str(exc), d.PRICE_YEAR_EXPECTED)
        for key, off in raw.offences.items():
            where = ("offences", key)
            if off.status == "not_confirmed" and off.unit_cost is not None:
                err(where + ("unit_cost",), "a figure marked not_confirmed cannot have a value",
                    f"{off.unit_cost:,.0f}", "unit_cost: null, or a status saying how the figure was confirmed")
            if off.status != "not_confirmed" and off.unit_cost is None:
                err(where + ("unit_cost",), "unit cost is missing", "null",
                    f"the cost per crime in pounds (or status: not_confirmed)")
            if off.unit_cost is not None and off.unit_cost < 0:
                err(where + ("unit_cost",), "a unit cost cannot be negative", f"{off.unit_cost:,.0f}",
                    "pounds per crime, 0 or more")
            missing = [c for c in off.components if c not in raw.components]
            if missing:
                err(where + ("components",), "component not described in the table's components",
                    ", ".join(missing), "components described under the top-level 'components' key")
    if any(p.severity == "error" for p in problems) or raw is None:
        raise SpecError(problems)
    offences = {k: Offence(k, o.label, None if o.unit_cost is None else float(o.unit_cost), o.status,
                           tuple(o.components), dict(o.known_parts), " ".join((o.note or "").split()))
                for k, o in raw.offences.items()}
    return CrimeCostTable(id=raw.id, version=raw.version, title=raw.title, source=" ".join(raw.source.split()),
                          url=raw.url, price_year=price_year, components=dict(raw.components),
                          not_included=tuple(raw.not_included), offences=offences, file=doc.file)


@dataclass(frozen=True)
class MeasureValuation:
    measure: str
    offence: str
    valuation: str
    published_by: str


def default_valuation(measure: str) -> MeasureValuation:
    """How evalkit values a success measure (knife_admissions, knife_sv, homicides) by default."""
    import yaml

    data = yaml.safe_load(OUTCOMES_FILE.read_text(encoding="utf-8"))
    measures = data["measures"]
    if measure not in measures:
        raise VfmError(f"no default valuation for {measure!r}; expected one of {', '.join(measures)}, or name the "
                       f"offence to value it with")
    m = measures[measure]
    return MeasureValuation(measure, m["offence"], " ".join(m["valuation"].split()), m["published_by"])


def _money(x: float) -> str:
    return f"-£{-x:,.0f}" if x < 0 else f"£{x:,.0f}"


def monetise(effect: Effect, *, offence: str, total_cost: float, analysis_year: d.PriceYear | str,
             table: CrimeCostTable | None = None, series: d.DeflatorSeries | None = None,
             method: Method | str = Method.fieller, cost_std_error: float | None = None,
             cost_low: float | None = None, cost_high: float | None = None, seed: int | None = None,
             draws: int = 20_000, valuation: str | None = None) -> Monetised:
    """The value of the crimes avoided, net of the cost, and the benefit-cost ratio.

    ``effect`` counts events (its outcomes are events avoided); ``total_cost`` is what the
    programme cost in the analysis year's prices, for the same people, places and period.
    With costs treated as known the intervals carry the effect's interval through (benefit and
    net benefit are linear in it); a cost standard error uses Fieller's theorem for the ratio and
    a normal interval for the net benefit; ``monte_carlo`` draws both.
    """
    method = parse_method(method)
    if method is Method.delta:
        raise VfmError("method 'delta' is not offered for benefit-cost ratios; expected 'fieller' or 'monte_carlo'")
    check_cost_inputs(total_cost, method, cost_std_error=cost_std_error, cost_low=cost_low, cost_high=cost_high,
                      seed=seed)
    analysis_year = d.as_price_year(analysis_year)
    table = table or load_crime_costs()
    series = series or d.load_deflator_series()
    off = table.offence(offence)
    up = d.uplift(series, table.price_year, analysis_year)
    unit = off.unit_cost * up.factor
    events = outcomes_achieved(effect)
    c = float(total_cost)
    level = f"{effect.ci_level:.0%}"
    b = events.central * unit
    b_lo, b_hi = events.low * unit, events.high * unit
    extra = {}
    if method is Method.monte_carlo:
        import numpy as np

        rng = stream(seed, f"benefit:{effect.outcome}:{offence}")
        o_draws = draw_outcomes(effect, rng, draws)
        c_draws = draw_costs(c, rng, draws, std_error=cost_std_error, low=cost_low, high=cost_high)
        alpha = 1 - effect.ci_level
        qs = [alpha / 2, 1 - alpha / 2]
        benefit_d = o_draws * unit
        b_lo, b_hi = (float(q) for q in np.quantile(benefit_d, qs, method="inverted_cdf"))
        nb_lo, nb_hi = (float(q) for q in np.quantile(benefit_d - c_draws, qs, method="inverted_cdf"))
        r_lo, r_hi = (float(q) for q in np.quantile(benefit_d / c_draws, qs, method="inverted_cdf"))
        text = (f"Monte Carlo, {draws:,} draws (seed {seed}); {level} percentile intervals; unit cost treated as known")
        extra = dict(draws=draws, seed=seed)
    elif not cost_std_error:
        nb_lo, nb_hi = b_lo - c, b_hi - c
        r_lo, r_hi = b_lo / c, b_hi / c
        text = (f"costs and unit cost treated as known, so the effect's {level} interval is carried through "
                f"(benefit and net benefit are linear in it)")
    else:
        z = z_value(effect.ci_level)
        var_b = (events.std_error * unit) ** 2
        var_c = cost_std_error ** 2
        half = z * math.sqrt(var_b + var_c)
        nb_lo, nb_hi = b - c - half, b - c + half
        r_lo, r_hi, bounded = fieller_roots(b, var_b, c, var_c, z)
        if not bounded:
            raise VfmError(f"the cost standard error ({_money(cost_std_error)}) is so large against the cost "
                           f"({_money(c)}) that the benefit-cost ratio has no bounded interval")
        text = (f"benefit's {level} interval from the effect's; net benefit normal "
                f"(benefit and cost independent); ratio by Fieller's theorem with cost standard error {_money(cost_std_error)}")
    counted = tuple(f"{k}: {table.components[k]}" for k in off.components)
    not_counted = tuple(f"{k}: {table.components[k]}" for k in table.components if k not in off.components)
    not_counted += table.not_included + NOT_COUNTED_ALWAYS
    notes = []
    if b_lo <= 0:
        notes.append(f"the benefit's {level} interval includes no benefit, so the programme may not have paid for itself")
    elif r_lo < 1 < r_hi:
        notes.append(f"the ratio's {level} interval includes 1: the benefits may be less than the costs")
    if off.status != "published":
        notes.append(f"unit cost status '{off.status}': {off.note}")
    return Monetised(
        outcome=effect.outcome, offence=off.id, offence_label=off.label, table=table.label,
        unit_cost_price_year=off.unit_cost, table_price_year=table.price_year.label, unit_cost=unit,
        uplift_factor=up.factor, events=events, benefit=b, benefit_low=b_lo, benefit_high=b_hi, total_cost=c,
        net_benefit=b - c, net_benefit_low=nb_lo, net_benefit_high=nb_hi, bcr=b / c, bcr_low=r_lo, bcr_high=r_hi,
        method=method.value, method_text=text, ci_level=effect.ci_level, analysis_year=analysis_year.label,
        counted=counted, not_counted=not_counted,
        valuation=valuation or f"each {effect.outcome} valued as one {off.label.lower()} ({table.label})",
        note="; ".join(notes), **extra)


def table_frame(table: CrimeCostTable):
    """The unit-cost table as a tidy frame: one row per offence, with its status and components."""
    import pandas as pd

    rows = [{"table": table.label, "offence": o.id, "label": o.label, "unit_cost": o.unit_cost,
             "price_year": table.price_year.label, "status": o.status, "components": ", ".join(o.components),
             "note": o.note} for o in table.offences.values()]
    return pd.DataFrame(rows, columns=["table", "offence", "label", "unit_cost", "price_year", "status",
                                       "components", "note"])
