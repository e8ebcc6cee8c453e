"""Price years and the GDP deflator that moves money between them.

A price year is a calendar year (``2023``) or a UK financial year, April to March (``2023-24``).
Costs are declared in one price year and reported in the *analysis year's* prices, as the HM
Treasury Green Book asks for real (constant-price) values, using a GDP deflator at market prices.

A deflator series is a data file shipped with its source and vintage (``data/*.csv``: ``#
key: value`` header lines, then ``period,index`` rows). Periods are calendar years (``2015``),
quarters (``2015 Q2``) or financial years (``2015-16``). A financial year with no row of its own
is the mean of its four quarters (April-June to January-March), and the uplift says so: that
is evalkit's derivation, close to but not identical with the Treasury's own financial-year
figures (ONS L8GG), which weight quarters by GDP and are not rounded to one decimal.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from evalkit.vfm.errors import VfmError
from evalkit.vfm.results import Uplift

SERIES_SCHEMA = "evalkit.deflator-series/v1"
DATA = Path(__file__).with_name("data")
DEFAULT_SERIES = DATA / "deflators_ons_ybgb_2025-06.csv"
REQUIRED_META = ("schema", "id", "name", "vintage", "source")

_FY = re.compile(r"^(\d{4})-(\d{2})$")
_CY = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4}) Q([1-4])$")


from evalkit.spec.costs import PRICE_YEAR_EXPECTED, parse_price_year  # noqa: E402  (one home: the spec)
from evalkit.spec.model import PriceYear  # noqa: E402


def as_price_year(value: "PriceYear | object", what: str = "analysis year") -> PriceYear:
    """A :class:`PriceYear` from a year as a user writes it; a bad one is a :class:`VfmError`."""
    if isinstance(value, PriceYear):
        return value
    try:
        return parse_price_year(value)
    except ValueError as exc:
        raise VfmError(f"{what}: {exc}; expected {PRICE_YEAR_EXPECTED}") from None


@dataclass(frozen=True)
class DeflatorSeries:
    id: str
    name: str
    vintage: str
    source: str
    meta: Mapping[str, str]
    calendar: Mapping[int, float]
    quarters: Mapping[tuple[int, int], float]
    financial: Mapping[int, float]  # keyed by the financial year's first year

    @property
    def label(self) -> str:
        return f"{self.name}, {self.vintage}"

    def coverage(self) -> str:
        parts = []
        if self.calendar:
            parts.append(f"calendar years {min(self.calendar)} to {max(self.calendar)}")
        if self.quarters:
            first, last = min(self.quarters), max(self.quarters)
            parts.append(f"quarters {first[0]} Q{first[1]} to {last[0]} Q{last[1]}")
        if self.financial:
            parts.append(f"financial years {PriceYear(min(self.financial), True)} to "
                         f"{PriceYear(max(self.financial), True)}")
        return "; ".join(parts) or "no periods"

    def index(self, year: PriceYear) -> tuple[float, str]:
        """The deflator for a price year, and how it was read (a row, or a mean of quarters)."""
        if year.financial:
            if year.year in self.financial:
                return self.financial[year.year], f"financial year {year.label}: row {year.label}"
            keys = [(year.year, 2), (year.year, 3), (year.year, 4), (year.year + 1, 1)]
            if all(k in self.quarters for k in keys):
                value = sum(self.quarters[k] for k in keys) / 4
                return value, (f"financial year {year.label}: mean of {year.year} Q2 to {year.year + 1} Q1 "
                               f"(evalkit's derivation from the quarterly series)")
        else:
            if year.year in self.calendar:
                return self.calendar[year.year], f"calendar year {year.label}: row {year.label}"
            keys = [(year.year, q) for q in (1, 2, 3, 4)]
            if all(k in self.quarters for k in keys):
                return (sum(self.quarters[k] for k in keys) / 4,
                        f"calendar year {year.label}: mean of its four quarters")
        raise VfmError(f"deflator series {self.id} ({self.vintage}) has no value for the {year.kind} "
                       f"{year.label}: it covers {self.coverage()}; use a year inside it or supply a later "
                       f"series (same format, see docs/value-for-money.md)")


def load_deflator_series(path: Path | str | None = None) -> DeflatorSeries:
    """Read and check a deflator series file (default: the one shipped with evalkit)."""
    path = Path(path) if path is not None else DEFAULT_SERIES
    return _load(path.resolve(), file_stamp(path))


def file_stamp(path: Path) -> tuple[int, int] | None:
    """Cache key part: a file edited in the same process is read again."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int] | None = None) -> DeflatorSeries:
    shown = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VfmError(f"{shown}: no such deflator series file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VfmError(f"{shown}: cannot read the deflator series ({exc})") from None
    meta: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() and " " not in key.strip():
                meta[key.strip()] = value.strip()
            continue
        if line.strip():
            body.append((number, line))
    missing = [k for k in REQUIRED_META if not meta.get(k)]
    if missing:
        raise VfmError(f"{shown}: header is missing {', '.join(missing)} (lines such as '# source: ...'); "
                       f"a deflator series must say what it is and where it came from")
    if meta["schema"] != SERIES_SCHEMA:
        raise VfmError(f"{shown}: schema is {meta['schema']!r}; expected {SERIES_SCHEMA!r}")
    if not body or [c.strip() for c in next(csv.reader([body[0][1]]))] != ["period", "index"]:
        raise VfmError(f"{shown}: the first row after the header must be 'period,index'")
    calendar: dict[int, float] = {}
    quarters: dict[tuple[int, int], float] = {}
    financial: dict[int, float] = {}
    for number, line in body[1:]:
        cells = [c.strip() for c in next(csv.reader([line]))]
        if len(cells) != 2:
            raise VfmError(f"{shown}:{number}: expected two values, period and index; found {len(cells)}")
        period, raw_value = cells
        try:
            value = float(raw_value)
        except ValueError:
            raise VfmError(f"{shown}:{number}: index {raw_value!r} is not a number") from None
        if not value > 0 or value != value or value == float("inf"):
            raise VfmError(f"{shown}:{number}: index {raw_value!r} must be a positive number")
        m = _QUARTER.match(period)
        if m:
            target, key = quarters, (int(m.group(1)), int(m.group(2)))
        else:
            try:
                year = parse_price_year(period)
            except ValueError:
                raise VfmError(f"{shown}:{number}: period {period!r} is not a year (2015), a quarter (2015 Q2) "
                               f"or a financial year (2015-16)") from None
            target, key = (financial if year.financial else calendar), year.year
        if key in target:
            raise VfmError(f"{shown}:{number}: period {period!r} appears twice")
        target[key] = value
    return DeflatorSeries(id=meta["id"], name=meta["name"], vintage=meta["vintage"], source=meta["source"],
                          meta=MappingProxyType(meta), calendar=MappingProxyType(calendar),
                          quarters=MappingProxyType(quarters), financial=MappingProxyType(financial))


def uplift(series: DeflatorSeries, from_year: PriceYear, to_year: PriceYear) -> Uplift:
    """The factor that turns ``from_year`` prices into ``to_year`` prices: D(to) / D(from)."""
    from_index, from_how = series.index(from_year)
    to_index, to_how = series.index(to_year)
    return Uplift(from_year=from_year.label, to_year=to_year.label, factor=to_index / from_index,
                  from_index=from_index, to_index=to_index, series=series.label,
                  from_how=from_how, to_how=to_how)
