"""The comparison-area panel: areas by month, counts and populations, checked before estimation.

A place-based design compares one or more treated areas (a partnership's community safety
partnership areas, or a Violence Reduction Unit's police force area) with many untreated areas
over the same months. :func:`comparison_panel` turns a tidy frame (one row per area and month)
into a frozen :class:`ComparisonPanel`, or raises :class:`PanelError` with one line naming what
was found and what is needed. Nothing is dropped, filled or coerced silently.

How many donors and pre-periods, and why (the defaults, both can be changed):

- ``MIN_DONORS = 19``: the placebo-in-space p-value is a rank among the treated area and its J
  donors, so the smallest p-value the design can give is 1/(J+1) (Abadie, Diamond &
  Hainmueller 2010, section 2.4: California ranks first of 39, p = 1/39 = 0.026). With fewer than
  19 donors no result could reach p <= 0.05, whatever the effect; the interval of the events
  prevented, built from the same placebos, could not reach 95% either.
- ``MIN_PRE_PERIODS = 24`` months: the bias bound of the synthetic control shrinks as the number
  of pre-intervention periods grows relative to the size of the month-to-month noise (ADH 2010,
  section 2.3; Abadie 2021, J Econ Lit 59(2), section 6: "the credibility of a synthetic control
  depends on its ability to track the trajectory of the outcome for an extended period of time
  before the intervention"). Two years is the least that covers the seasonal cycle of violence
  twice, so a summer peak cannot be fitted as chance, and it still leaves twelve months to fit
  when the placebo-in-time test moves the start twelve months earlier.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.errors import DataError

MIN_DONORS = 19
MIN_PRE_PERIODS = 24
MIN_POST_PERIODS = 1
# the rate per population that each kind of measure is published in (Home Office and ONS
# convention): per 100,000 residents, homicides per 1,000,000
PER_100K = 100_000
PER_MILLION = 1_000_000


class PanelError(DataError):
    """The comparison-area panel cannot support a place-based estimate as given."""


@dataclass(frozen=True)
class Measure:
    """One outcome of the panel: a count column, its population column and its rate base."""

    name: str  # e.g. "knife_admissions" or "knife_admissions_u25"
    count: str  # column holding the monthly count
    population: str  # column holding the population the count is out of
    rate_per: int = PER_100K
    label: str = ""
    age_group: str = "all ages"  # "all ages" or "under 25"

    def rate_label(self) -> str:
        return "per 1,000,000" if self.rate_per == PER_MILLION else f"per {self.rate_per:,}"


@dataclass(frozen=True)
class TreatedArea:
    area: str
    start: str  # first month under the intervention, YYYY-MM
    start_index: int  # position of ``start`` in the panel's months


@dataclass(frozen=True, eq=False)
class ComparisonPanel:
    """A checked, balanced panel: every area has every month from the first to the last.

    Arrays are (areas x months) in the order of ``areas`` (sorted) and ``months`` (in time
    order), read-only, so a panel gives the same numbers whatever the order of the input rows.
    """

    source: str
    areas: tuple[str, ...]
    months: tuple[str, ...]
    treated: tuple[TreatedArea, ...]
    donors: tuple[str, ...]
    measures: tuple[Measure, ...]
    counts: Mapping[str, np.ndarray] = field(repr=False)
    populations: Mapping[str, np.ndarray] = field(repr=False)
    # area characteristics by month (e.g. deprivation, share aged 15-24) used as predictors
    covariates: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def measure(self, name: str) -> Measure:
        for m in self.measures:
            if m.name == name:
                return m
        raise PanelError(f"{self.source}: measure '{name}' is not in the panel; expected one of "
                         + ", ".join(m.name for m in self.measures))

    def index(self, area: str) -> int:
        return self.areas.index(area)

    def treated_area(self, area: str | None = None) -> TreatedArea:
        if area is None:
            if len(self.treated) != 1:
                raise PanelError(f"{self.source}: the panel has {len(self.treated)} treated areas "
                                 f"({', '.join(t.area for t in self.treated)}); name the one to analyse")
            return self.treated[0]
        for t in self.treated:
            if t.area == area:
                return t
        raise PanelError(f"{self.source}: '{area}' is not a treated area of the panel; expected one of "
                         + ", ".join(t.area for t in self.treated))

    def rate(self, measure: str) -> np.ndarray:
        """Events per ``rate_per`` population in each area and month."""
        m = self.measure(measure)
        return self.counts[m.count] / self.populations[m.population] * m.rate_per

    def donor_index(self) -> np.ndarray:
        return np.array([self.areas.index(a) for a in self.donors])

    def to_frame(self) -> pd.DataFrame:
        """The tidy panel: one row per area, month and measure, with count, population and rate."""
        rows = []
        treated = {t.area: t for t in self.treated}
        for m in self.measures:
            counts, pops = self.counts[m.count], self.populations[m.population]
            for i, area in enumerate(self.areas):
                t = treated.get(area)
                rows.append(pd.DataFrame({
                    "area": area, "month": self.months, "measure": m.name, "age_group": m.age_group,
                    "count": counts[i], "population": pops[i], "rate": counts[i] / pops[i] * m.rate_per,
                    "rate_per": m.rate_per, "role": "treated" if t else "donor",
                    "post": (np.arange(len(self.months)) >= t.start_index) if t else False,
                }))
        return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------ building it


def _lines(frame: pd.DataFrame, mask: np.ndarray, k: int = 4) -> str:
    """Line numbers of a CSV read with a header (data row i is line i + 2), listed briefly.

    A frame no longer in file order (``evalkit run`` sorts the rows canonically) carries
    ``attrs["row_labels"] = (area column, month column)``: its rows are then named by area and month.
    """
    labels = frame.attrs.get("row_labels")
    if labels:
        area, month = labels
        pos = np.flatnonzero(mask)
        names = [f"{frame[area].iloc[i]} {frame[month].iloc[i]}" for i in pos[:k]]
        return ("the row for " if len(pos) == 1 else "the rows for ") + ", ".join(names) + (
            f" and {len(pos) - k} more" if len(pos) > k else "")
    pos = np.flatnonzero(mask) + 2
    text = ", ".join(str(p) for p in pos[:k])
    return ("line " if len(pos) == 1 else "lines ") + text + (f" and {len(pos) - k} more" if len(pos) > k else "")


def _listed(values: Iterable[object], k: int = 4) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:k])
    return text + (f" and {len(values) - k} more" if len(values) > k else "")


def _months(values: pd.Series, column: str, source: str, frame: pd.DataFrame) -> pd.PeriodIndex:
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m", errors="coerce")
    loose = pd.to_datetime(text[parsed.isna()], errors="coerce", format="mixed")
    parsed[parsed.isna()] = loose
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise PanelError(f"{source}: {_lines(frame, bad)}: column '{column}' holds "
                         f"{_listed(repr(v) for v in text[bad].unique())}; expected a calendar month such as 2019-10")
    return pd.PeriodIndex(parsed, freq="M")


def _month(value: object, what: str, source: str) -> pd.Period:
    try:
        return pd.Period(str(value).strip(), freq="M")
    except (ValueError, TypeError):
        raise PanelError(f"{source}: {what} is {value!r}; expected a calendar month such as 2019-10") from None


def _numbers(frame: pd.DataFrame, column: str, source: str, what: str) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    missing = raw.isna().to_numpy()
    if missing.any():
        hint = (" (public tables suppress small counts: ask the data owner for unsuppressed counts, or "
                "combine small areas)" if what == "count" else "")
        raise PanelError(f"{source}: {_lines(frame, missing)}: {what} column '{column}' is empty{hint}; "
                         f"expected a number in every row")
    text = values.isna().to_numpy()
    if text.any():
        raise PanelError(f"{source}: {_lines(frame, text)}: {what} column '{column}' holds "
                         f"{_listed(repr(v) for v in raw[text].astype(str).unique())}; expected numbers")
    return values.to_numpy(dtype=float)


def comparison_panel(
    frame: pd.DataFrame,
    measures: Iterable[Measure],
    treated: Mapping[str, str] | None = None,
    *,
    area: str = "area",
    month: str = "month",
    treated_from: str | None = None,
    donors: Iterable[str] | None = None,
    min_donors: int = MIN_DONORS,
    min_pre_periods: int = MIN_PRE_PERIODS,
    covariates: Iterable[str] = (),
    source: str = "panel",
) -> ComparisonPanel:
    """Check a tidy area-by-month frame and freeze it into a :class:`ComparisonPanel`.

    ``treated`` maps each treated area to its first month under the intervention; or name a
    ``treated_from`` column holding that month for treated areas (blank for the others). Every
    other area is a donor unless ``donors`` lists them. A donor must be untreated throughout the
    window: an area whose ``treated_from`` month falls inside it cannot be one.
    """
    measures = tuple(measures)
    if not measures:
        raise PanelError(f"{source}: no measures given; expected at least one count column with its population")
    needed = [(area, "area"), (month, "month")]
    needed += [(m.count, f"count of {m.name}") for m in measures]
    needed += [(m.population, f"population of {m.name}") for m in measures]
    if treated_from is not None:
        needed.append((treated_from, "treated_from"))
    covariates = tuple(covariates)
    needed += [(c, "covariate") for c in covariates]
    for col, role in needed:
        if col not in frame.columns:
            close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PanelError(f"{source}: no column '{col}' ({role}){hint}; found columns {_listed(frame.columns, 10)}")
    frame = frame.reset_index(drop=True)
    names = frame[area]
    if names.isna().any():
        raise PanelError(f"{source}: {_lines(frame, names.isna().to_numpy())}: column '{area}' is empty; "
                         "expected an area name in every row")
    names = names.astype(str).str.strip()
    periods = _months(frame[month], month, source, frame)

    # one row per area and month
    key = pd.DataFrame({"area": names, "month": periods})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first = key[dup].iloc[0]
        same = ((key["area"] == first["area"]) & (key["month"] == first["month"])).to_numpy()
        raise PanelError(f"{source}: {_lines(frame, same)}: {same.sum()} rows for {first['area']} {first['month']} "
                         f"({dup.sum()} duplicated rows in all); expected one row per area and month")

    # treated areas and their start months
    area_list = sorted(names.unique())
    starts: dict[str, pd.Period] = {}
    if treated_from is not None:
        col = frame[treated_from]
        has = col.notna() & (col.astype(str).str.strip() != "")
        for a in area_list:
            rows = (names == a).to_numpy()
            vals = col[rows & has.to_numpy()].astype(str).str.strip().unique()
            if len(vals) > 1:
                raise PanelError(f"{source}: column '{treated_from}' has {len(vals)} different months for {a} "
                                 f"({_listed(vals)}); expected one start month per area, the same in each of its rows")
            if len(vals) == 1:
                if has[rows].sum() != rows.sum():
                    raise PanelError(f"{source}: {_lines(frame, rows & ~has.to_numpy())}: column '{treated_from}' is "
                                     f"empty for some of {a}'s rows but {vals[0]} in others; expected the same "
                                     "start month in every row of a treated area")
                starts[a] = _month(vals[0], f"{treated_from} of {a}", source)
    # with no mapping, the areas marked in the column are the treated ones (an area starting after
    # the window's last month is untreated throughout it, so it can be a donor)
    focus = {a: s for a, s in starts.items() if s <= periods.max()} if treated is None else {}
    for a, s in (treated or {}).items():
        if a not in area_list:
            close = difflib.get_close_matches(a, area_list, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PanelError(f"{source}: treated area '{a}' is not in the panel{hint}; found {len(area_list)} areas: "
                             f"{_listed(area_list, 6)}; expected its name spelt as in column '{area}'")
        start = _month(s, f"the start month of {a}", source)
        if a in starts and starts[a] != start:
            raise PanelError(f"{source}: the start month of {a} is {start} but column '{treated_from}' says "
                             f"{starts[a]}; expected one start month")
        focus[a] = start
    if not focus:
        raise PanelError(f"{source}: no treated area; expected at least one area with its first month under the "
                         "intervention (treated=... or a treated_from column)")

    first, last = periods.min(), periods.max()
    window = f"{first} to {last}"
    # a balanced panel: every area has every month of the window
    all_months = pd.period_range(first, last, freq="M")
    for a in area_list:
        have = set(periods[(names == a).to_numpy()])
        gaps = [p for p in all_months if p not in have]
        if gaps:
            start = focus.get(a) or min(focus.values())
            pre = [p for p in gaps if p < start]
            where = "in the pre-period" if pre and len(pre) == len(gaps) else (
                "partly in the pre-period" if pre else "after the start")
            raise PanelError(f"{source}: {a} has no row for {len(gaps)} month(s) {where}: {_listed(gaps)}; expected "
                             f"one row per area for every month from {window} (a gap cannot be filled or skipped "
                             "without changing the comparison)")

    # treated windows: enough months before, at least one after
    T = len(all_months)
    treated_areas = []
    for a in sorted(focus):
        s = focus[a]
        if s <= first or s > last:
            raise PanelError(f"{source}: {a} starts in {s}, outside the panel's months after {first} (window "
                             f"{window}); expected a start month with pre-period months before it and at least "
                             "one month from it")
        k = int((s - first).n)
        if k < min_pre_periods:
            raise PanelError(f"{source}: {a} has {k} pre-period month(s) ({first} to {s - 1}); expected at least "
                             f"{min_pre_periods}: two years of months, so the fit covers the seasonal cycle twice "
                             "(extend the panel back in time)")
        treated_areas.append(TreatedArea(area=a, start=str(s), start_index=k))

    # donors: untreated throughout the window
    if donors is None:
        donor_list = [a for a in area_list if a not in focus]
    else:
        donor_list = sorted({str(d) for d in donors})
        for d in donor_list:
            if d not in area_list:
                raise PanelError(f"{source}: donor '{d}' is not in the panel; found {_listed(area_list, 6)}")
            if d in focus:
                raise PanelError(f"{source}: {d} is both a treated area and a donor; expected each area in one role")
    for d in donor_list:
        if d in starts and starts[d] <= last:
            raise PanelError(f"{source}: donor {d} was treated from {starts[d]}, inside the window {window}; "
                             f"expected donors untreated throughout: leave {d} out of the donors, or end the "
                             f"window before {starts[d]}")
    if len(donor_list) < min_donors:
        raise PanelError(f"{source}: {len(donor_list)} donor area(s); expected at least {min_donors}: the placebo "
                         f"p-value is a rank among the treated area and its donors, so with J donors it cannot be "
                         f"below 1/(J+1) (1/{len(donor_list) + 1} = {1 / (len(donor_list) + 1):.3f} here); add "
                         "comparable untreated areas")

    # counts and populations, placed by (area, month) so the input's row order cannot matter
    idx_area = names.map({a: i for i, a in enumerate(area_list)}).to_numpy()
    idx_month = np.asarray((periods - first).map(lambda d: d.n), dtype=int)
    used = set(donor_list) | set(focus)  # areas in neither role (e.g. listed donors only) are left out
    counts: dict[str, np.ndarray] = {}
    pops: dict[str, np.ndarray] = {}
    for m in measures:
        c = _numbers(frame, m.count, source, "count")
        bad = (c < 0) | (c != np.round(c))
        if bad.any():
            raise PanelError(f"{source}: {_lines(frame, bad)}: count column '{m.count}' holds "
                             f"{_listed(np.unique(c[bad]))}; expected whole numbers of events, 0 or more")
        p = _numbers(frame, m.population, source, "population")
        bad = p <= 0
        if bad.any():
            raise PanelError(f"{source}: {_lines(frame, bad)}: population column '{m.population}' holds "
                             f"{_listed(np.unique(p[bad]))}; expected a positive population in every row (ONS "
                             "mid-year estimates, interpolated by month)")
        bad = c > p
        if bad.any():
            raise PanelError(f"{source}: {_lines(frame, bad)}: {m.count} is larger than {m.population}; expected "
                             "events out of the population at risk (is the population in thousands?)")
        for col, values, store in ((m.count, c, counts), (m.population, p, pops)):
            if col not in store:
                arr = np.full((len(area_list), T), np.nan)
                arr[idx_area, idx_month] = values
                store[col] = arr
    covs: dict[str, np.ndarray] = {}
    for col in covariates:
        arr = np.full((len(area_list), T), np.nan)
        arr[idx_area, idx_month] = _numbers(frame, col, source, "covariate")
        covs[col] = arr
    sel = [i for i, a in enumerate(area_list) if a in used]
    areas = tuple(area_list[i] for i in sel)
    for store in (counts, pops, covs):
        for col in list(store):
            arr = np.ascontiguousarray(store[col][sel])
            arr.setflags(write=False)
            store[col] = arr
    return ComparisonPanel(
        source=source, areas=areas, months=tuple(str(p) for p in all_months), treated=tuple(treated_areas),
        donors=tuple(donor_list), measures=measures, counts=counts, populations=pops, covariates=covs)


def check_inside_hull(panel: ComparisonPanel, measure: str, area: str | None = None) -> None:
    """Raise when no weighted average of donors can match the treated area's pre-period level.

    Synthetic control weights are non-negative and sum to one, so the synthetic area's mean rate
    over the pre-period is a weighted mean of the donors' means: if the treated area's mean is
    above (or below) every donor's, a close pre-period fit is impossible and the gap after the
    start would carry that misfit.
    """
    t = panel.treated_area(area)
    m = panel.measure(measure)
    rate = panel.rate(measure)[:, : t.start_index]
    treated_mean = float(rate[panel.index(t.area)].mean())
    donor_means = rate[panel.donor_index()].mean(axis=1)
    lo, hi = float(donor_means.min()), float(donor_means.max())
    if lo <= treated_mean <= hi:
        return
    side, bound = ("above", hi) if treated_mean > hi else ("below", lo)
    which = panel.donors[int(np.argmax(donor_means) if treated_mean > hi else np.argmin(donor_means))]
    raise PanelError(
        f"{panel.source}: {t.area}'s pre-period {m.name} rate (mean {treated_mean:.3g} {m.rate_label()} a month) is "
        f"{side} every donor's (nearest: {which}, {bound:.3g}): no weighted average of donors can match it, so a "
        "synthetic control cannot fit; expected the treated area inside the donors' range: add donors like it, use "
        "the augmented (bias-corrected) synthetic control, or compare changes with difference-in-differences")
