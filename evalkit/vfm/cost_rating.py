"""The cost rating: a 1-5 rating of what an intervention costs per participant, shown beside
its evidence level, from the bands in ``cost_rules.yml`` (each labelled with who published it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.vfm import deflators as d
from evalkit.vfm.errors import VfmError
from evalkit.vfm.results import CostRating, CostSummary

RULES_SCHEMA = "evalkit.cost-rules/v1"
DEFAULT_RULES = Path(__file__).with_name("cost_rules.yml")
PUBLISHED_BY = ("EIF", "toolkit_default")
STATUSES = ("confirmed", "unconfirmed")
RULE_KEYS = {"value", "published_by", "status", "says", "source"}
REQUIRED = ("cost_rating_scale", "cost_rating_basis", "cost_rating_bands")
BASES = ("per_participant_started", "per_participant_completed")


@dataclass(frozen=True)
class CostRule:
    id: str
    value: Any
    published_by: str
    status: str
    says: str
    source: str


@dataclass(frozen=True)
class Band:
    rating: int
    label: str
    up_to: float | None  # None: no upper limit (the top band)


@dataclass(frozen=True)
class CostRules:
    version: str
    path: str
    rules: Mapping[str, CostRule]
    basis: str
    bands: tuple[Band, ...]
    bands_price_year: d.PriceYear


def load_cost_rules(path: Path | str | None = None) -> CostRules:
    """Read and check a cost rules file (default: the one shipped with evalkit)."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_RULES
    shown = path.name if path == DEFAULT_RULES else str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VfmError(f"{shown}: no such cost rules file") from None
    except yaml.YAMLError as exc:
        raise VfmError(f"{shown}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != RULES_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise VfmError(f"{shown}: schema is {found!r}; expected {RULES_SCHEMA!r}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise VfmError(f"{shown}: version: expected a version string such as \"1.0.0\", found {version!r}")
    raw = data.get("rules")
    if not isinstance(raw, dict):
        raise VfmError(f"{shown}: rules: expected a mapping of rule id -> rule")
    rules: dict[str, CostRule] = {}
    for rid, body in raw.items():
        where = f"{shown}: rules.{rid}"
        if not isinstance(body, dict) or set(body) != RULE_KEYS:
            found = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            raise VfmError(f"{where}: expected exactly the keys {', '.join(sorted(RULE_KEYS))}; found {found}")
        if body["published_by"] not in PUBLISHED_BY:
            raise VfmError(f"{where}.published_by: found {body['published_by']!r}; expected one of "
                           f"{', '.join(repr(p) for p in PUBLISHED_BY)}")
        if body["status"] not in STATUSES:
            raise VfmError(f"{where}.status: found {body['status']!r}; expected one of "
                           f"{', '.join(repr(s) for s in STATUSES)}")
        rules[rid] = CostRule(rid, body["value"], body["published_by"], body["status"],
                              " ".join(str(body["says"]).split()), " ".join(str(body["source"]).split()))
    missing = [r for r in REQUIRED if r not in rules]
    if missing:
        raise VfmError(f"{shown}: rules missing: {', '.join(missing)}")
    if rules["cost_rating_scale"].value != [1, 2, 3, 4, 5]:
        raise VfmError(f"{shown}: rules.cost_rating_scale.value: found {rules['cost_rating_scale'].value!r}; "
                       f"expected [1, 2, 3, 4, 5]")
    basis = rules["cost_rating_basis"].value
    if basis not in BASES:
        raise VfmError(f"{shown}: rules.cost_rating_basis.value: found {basis!r}; expected one of "
                       f"{', '.join(repr(b) for b in BASES)}")
    bands, year = _bands(shown, rules["cost_rating_bands"].value)
    return CostRules(version=version, path=shown, rules=rules, basis=basis, bands=bands, bands_price_year=year)


def _bands(shown: str, value: Any) -> tuple[tuple[Band, ...], d.PriceYear]:
    expected = ("{price_year: '2023-24', bands: [{rating: 1, label: low cost, up_to: 100}, ... "
                "{rating: 5, label: high cost, up_to: null}]}: ratings 1 to 5 in order, rising limits, the last null")

    def bad(why: str):
        raise VfmError(f"{shown}: rules.cost_rating_bands.value: {why}; expected {expected}")

    if not isinstance(value, dict) or set(value) != {"price_year", "bands"}:
        bad("not a mapping of price_year and bands")
    try:
        year = d.parse_price_year(value["price_year"])
    except ValueError as exc:
        bad(f"price_year: {exc}")
    rows = value["bands"]
    if not isinstance(rows, list) or len(rows) != 5:
        bad("bands must list five bands")
    bands = []
    previous = 0.0
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != {"rating", "label", "up_to"} or row["rating"] != i + 1:
            bad(f"band {i + 1} must be {{rating: {i + 1}, label, up_to}}")
        up_to = row["up_to"]
        last = i == len(rows) - 1
        if last and up_to is not None:
            bad("the top band has no upper limit (up_to: null)")
        if not last and (not isinstance(up_to, (int, float)) or isinstance(up_to, bool) or up_to <= previous):
            bad(f"band {i + 1}'s up_to must be a number above the band below ({previous:g}); found {up_to!r}")
        bands.append(Band(i + 1, str(row["label"]), None if up_to is None else float(up_to)))
        previous = up_to if up_to is not None else previous
    return tuple(bands), year


def rate_cost(summary: CostSummary, *, rules: CostRules | None = None,
              series: d.DeflatorSeries | None = None) -> CostRating:
    """The cost rating of one intervention's costs, labelled with who published the bands."""
    rules = rules or load_cost_rules()
    series = series or d.load_deflator_series()
    bands_rule = rules.rules["cost_rating_bands"]
    common = dict(intervention=summary.intervention, basis=rules.basis,
                  bands_price_year=rules.bands_price_year.label, published_by=bands_rule.published_by,
                  status=bands_rule.status, source=bands_rule.source, rules_version=rules.version)
    per = summary.overall.per_started if rules.basis == "per_participant_started" else summary.overall.per_completed
    who = "participant who started" if rules.basis == "per_participant_started" else "participant who completed"
    if per is None:
        return CostRating(**common, rating=None, label="not rated", value=None, band_up_to=None,
                          note=f"not rated: no cost per {who} (participants not recorded)")
    factor = d.uplift(series, d.parse_price_year(summary.analysis_year), rules.bands_price_year).factor
    value = per * factor
    band = next(b for b in rules.bands if b.up_to is None or value <= b.up_to)
    note = f"£{value:,.0f} per {who} in {rules.bands_price_year.label} prices"
    if bands_rule.published_by == "toolkit_default":
        note += "; bands are a toolkit default, not EIF's published bands"
    if summary.illustrative:
        note += "; illustrative costs"
    return CostRating(**common, rating=band.rating, label=band.label, value=value, band_up_to=band.up_to, note=note)
