"""Value for money of a whole-area strategy: its costs against the events its evaluations count.

A place-based strategy serves a whole area, so it has no cost per participant. What it has is a
number of events its evaluation says the area was spared, with an interval:

- the comparison-area design (``design: comparison_areas``): each outcome's ``events_prevented``
  (the synthetic control's expected events minus those recorded, over the months from the start,
  with the placebo-permutation interval), for all ages and for under-25s;
- the interrupted time series: each outcome's ``events_avoided`` in the ``counterfactual``
  section (the model's counterfactual minus its fitted events over the months from the
  interruption, with a Monte Carlo interval over the coefficients).

Each is put against **what the strategy cost over the same months** (:func:`window_cost`: each
period's running costs spread evenly over its days, as the dashboard does, and set-up costs in a
period's first month; only the months inside the evaluation's window count), and valued with the
unit costs of crime (the logic model's ``costs.outcomes`` or the success measures' defaults) to give
the monetised benefit, net benefit and benefit-cost ratio with their intervals
(:func:`evalkit.vfm.crime_costs.monetise`; costs are treated as known, so the events' interval is
carried through, and the method is named in every result).

The outcomes overlap (a knife admission is usually also a recorded knife offence; a homicide with a
knife is one too; under-25s are part of all ages), so their benefits are never added.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.vfm import results as res
from evalkit.vfm.effects import Effect, EffectScale, GoodWhen
from evalkit.vfm.errors import VfmError

UNDER_25 = "under 25"
DESIGNS = ("comparison_areas", "interrupted_time_series")


@dataclass(frozen=True)
class WindowCost:
    """What the strategy cost over an evaluation's months (analysis-year prices)."""

    first_month: str  # YYYY-MM
    last_month: str
    months: int  # months in the window
    months_costed: int  # of them, months with any declared cost
    running: float  # running costs (cash and in kind) falling in the window
    set_up: float  # set-up costs of periods that start in the window
    cash: float
    in_kind: float
    total: float
    left_out: float  # declared costs falling outside the window (not set against these events)
    analysis_year: str
    note: str


@dataclass(frozen=True)
class AreaEvents:
    """One outcome's events spared in the area, against the strategy's cost over the same months."""

    indicator: str
    label: str
    age_group: str  # "all ages" or "under 25"
    estimand: str  # events_prevented (comparison areas) or events_avoided (time series)
    measure_key: str | None  # the comparison_areas section's measure (its observed total is a ledger count)
    model_based: bool  # True: no observed count enters the events (a time series' counterfactual - fitted)
    how: str  # how the events were estimated, in words
    interval_words: str  # how their interval was made
    cost: WindowCost
    cost_per_outcome: res.CostPerOutcome
    monetised: res.Monetised | None
    sensitivity: res.SensitivityTable
    valuation_note: str
    not_valued: str = ""  # why there is no benefit (no unit cost for the outcome)
    note: str = ""  # a caution about how the events were estimated


def _month(value: str) -> tuple[int, int]:
    text = str(value).strip()[:7]
    year, month = text.split("-")
    return int(year), int(month)


def _month_list(first: str, last: str) -> list[str]:
    (y, m), end = _month(first), _month(last)
    out = []
    while (y, m) <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def window_cost(costs, first_month: str, last_month: str, *, analysis_year) -> WindowCost:
    """The cost over the months ``first_month`` to ``last_month`` (YYYY-MM, both included).

    Running costs are spread evenly over each period's days (:func:`~evalkit.vfm.costs.monthly_costs`)
    and counted for the months inside the window; a period's set-up costs count when its first month is
    inside. Months of the window with no declared cost are counted and said, never filled in."""
    from evalkit.vfm.costs import monthly_costs

    months = _month_list(first_month, last_month)
    inside = set(months)
    rows = monthly_costs(costs, analysis_year=analysis_year)
    running = set_up = cash = in_kind = left = 0.0
    costed = set()
    set_up_cash = {p.id: p.amount(cash=True, one_off=True) for p in costs.periods}
    set_up_all = {p.id: p.amount(one_off=True) for p in costs.periods}
    for r in rows:
        amount = r.running_cash + r.running_in_kind + r.set_up
        if r.month not in inside:
            left += amount
            continue
        if amount > 0:
            costed.add(r.month)
        running += r.running_cash + r.running_in_kind
        set_up += r.set_up
        cash += r.running_cash
        in_kind += r.running_in_kind
        if r.set_up:
            # the set-up amount is uplifted in monthly_costs; split it cash / in kind in the same proportion
            whole = set_up_all[r.period]
            share = set_up_cash[r.period] / whole if whole else 1.0
            cash += r.set_up * share
            in_kind += r.set_up * (1 - share)
    missing = [m for m in months if m not in costed]
    note = ""
    if missing:
        note = (f"no costs are declared for {len(missing)} of the {len(months)} months ({missing[0]} to {missing[-1]})"
                if len(missing) > 1 else f"no costs are declared for {missing[0]}")
        note += ": the events of those months are counted with no cost against them, so the ratio is too high"
    year = rows[0].analysis_year if rows else str(analysis_year)
    return WindowCost(first_month=months[0], last_month=months[-1], months=len(months),
                      months_costed=len(months) - len(missing), running=running, set_up=set_up, cash=cash,
                      in_kind=in_kind, total=running + set_up, left_out=left, analysis_year=year, note=note)


def _label(ind) -> str:
    return ind.label[:1].lower() + ind.label[1:]


def _valuation(costs, ind_id: str):
    """(offence id or None, valuation words) for an indicator: the costs block's, else the default."""
    from evalkit.vfm.crime_costs import default_valuation

    chosen = costs.outcomes.get(ind_id)
    if chosen is not None and chosen.valued_as:
        return chosen.valued_as, ""
    try:
        default = default_valuation(ind_id)
    except VfmError:
        return None, ""
    return default.offence, f"{default.valuation} (toolkit default)"


def _events(result) -> list[dict]:
    """Each outcome's events spared in the area, from a comparison-area or time-series result."""
    out = []
    if result.design == "comparison_areas":
        for e in result.estimates:
            if e.estimand != "events_prevented" or e.ci_low is None or e.ci_high is None:
                continue
            under = e.subgroup == UNDER_25
            first, last = (str(x) for x in (e.timepoints[0], e.timepoints[-1]))
            out.append(dict(
                indicator=e.indicator, age_group=UNDER_25 if under else "all ages", estimand=e.estimand,
                measure_key=f"{e.indicator}_u25" if under else e.indicator, model_based=False,
                estimate=e.estimate, low=e.ci_low, high=e.ci_high, level=e.ci_level or 0.95, first=first, last=last,
                how=("the synthetic control's expected events minus the events recorded in the area, summed over "
                     f"the months {first} to {last}"),
                interval=(f"{(e.ci_level or 0.95):.0%} placebo-permutation interval of the synthetic control (from "
                          "the comparison areas' own gaps)"), note=""))
    elif result.design == "interrupted_time_series":
        from evalkit.result_sections import section_record

        data = (result.sections or {}).get("counterfactual")
        section = section_record("counterfactual", data) if data else None
        entries = dict(section.typed_entries()) if section is not None else {}
        order = list(dict.fromkeys(e.indicator for e in result.estimates))  # the plan's order (results sort keys)
        for ind_id in sorted(section or (), key=lambda k: (order.index(k) if k in order else len(order), k)):
            entry = entries.get(ind_id)  # the typed entry (evalkit.result_sections.CounterfactualEntry)
            ev = entry.events_avoided if entry is not None else None
            if not isinstance(ev, dict):
                continue
            if ev.get("low") is None or ev.get("high") is None:
                out.append(dict(indicator=ind_id, age_group="all ages", skip=f"the time series' events avoided have "
                                f"no interval ({ev.get('interval') or 'none recorded'})"))
                continue
            cf = float(ev.get("counterfactual") or 0.0)
            share = ev["estimate"] / cf if cf > 0 else None
            out.append(dict(
                indicator=ind_id, age_group="all ages", estimand="events_avoided", measure_key=None, model_based=True,
                estimate=ev["estimate"], low=ev["low"], high=ev["high"], level=ev.get("level", 0.95),
                first=ev["first_month"], last=ev["last_month"],
                how=("the time series' counterfactual (the trend before the interruption carried on) minus its "
                     f"fitted events, summed over every area and the months {ev['first_month']} to {ev['last_month']}"),
                interval=f"{ev.get('level', 0.95):.0%} {ev.get('interval') or 'Monte Carlo interval'}",
                note=("" if share is None else
                      f"the counterfactual carries the trend from before the interruption on for {ev.get('months')} "
                      f"months; the events avoided are {share:.0%} of its {cf:,.1f} events, and rest on that "
                      "extrapolation (the further it runs, the less it can be trusted)"
                      + ("; with more than half the counterfactual's events avoided, the figure is mostly that "
                         "extrapolation: do not quote it without the comparison-area estimate beside it"
                         if share > 0.5 else ""))))
    return out


def area_events(logic_model, result, *, analysis_year) -> tuple[tuple[AreaEvents, ...], tuple[tuple[str, str], ...]]:
    """(each outcome's events spared against the cost over its months, (indicator, reason) not costed)."""
    from evalkit.vfm.crime_costs import monetise
    from evalkit.vfm.ratio import cost_per_outcome
    from evalkit.vfm.sensitivity import sensitivity_table

    costs = logic_model.costs
    found, skipped = [], []
    for ev in _events(result):
        ind = logic_model.indicators.get(ev["indicator"])
        if ind is None:
            continue
        who = " (under 25)" if ev["age_group"] == UNDER_25 else ""
        if "skip" in ev:
            skipped.append((ev["indicator"] + who, ev["skip"]))
            continue
        chosen = costs.outcomes.get(ev["indicator"])
        outcome = (chosen.outcome if chosen else f"{_label(ind)}: one event prevented") + who
        cost = window_cost(costs, ev["first"], ev["last"], analysis_year=analysis_year)
        if cost.total <= 0:
            skipped.append((ev["indicator"] + who, f"no costs are declared for {cost.first_month} to "
                                                    f"{cost.last_month}, the months its events are counted over"))
            continue
        effect = Effect(outcome, float(ev["estimate"]), float(ev["low"]), float(ev["high"]), EffectScale.total,
                        GoodWhen.increase, ci_level=float(ev["level"]),
                        source=f"{result.evaluation}: {ev['indicator']} {ev['estimand']}{who}")
        try:
            cpo = cost_per_outcome(cost.total, effect, method="fieller", analysis_year=str(analysis_year),
                                   cost_basis=f"the strategy's cost over {cost.first_month} to {cost.last_month}")
        except VfmError as exc:
            skipped.append((ev["indicator"] + who, str(exc)))
            continue
        offence, valuation = _valuation(costs, ev["indicator"])
        money, why = None, ""
        if offence is None:
            why = "no unit cost of crime values this outcome"
        else:
            try:
                money = monetise(effect, offence=offence, total_cost=cost.total, analysis_year=analysis_year,
                                 method="fieller", valuation=valuation or None)
            except VfmError as exc:
                why = str(exc)
        table = sensitivity_table(cost.total, effect, unit_value=money.unit_cost if money else None,
                                  analysis_year=str(analysis_year))
        found.append(AreaEvents(
            indicator=ev["indicator"], label=ind.label, age_group=ev["age_group"], estimand=ev["estimand"],
            measure_key=ev["measure_key"], model_based=ev["model_based"], how=ev["how"],
            interval_words=ev["interval"], cost=cost, cost_per_outcome=cpo, monetised=money, sensitivity=table,
            valuation_note=valuation, not_valued=why, note=ev["note"]))
    return tuple(found), tuple(skipped)


def covers(result) -> bool:
    """Does this result count events over a whole area (a design :func:`area_events` costs)?"""
    return getattr(result, "design", None) in DESIGNS
