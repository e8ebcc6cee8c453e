"""A simple sensitivity table: low / central / high costs against low / central / high effects.

Effects are the ends of the effect's confidence interval and its central estimate, as numbers of
good outcomes (low = the least favourable end). Costs are the total cost times a low and a high
factor. The default factors, 0.8 and 1.2, are a toolkit default: a plain +/- 20% to show how much
the answer leans on the costs. Where a cost estimate is early, HM Treasury's Green Book asks for an
optimism-bias uplift instead; pass ``cost_high_factor`` (e.g. 1.0 + the uplift) and name its source.
"""

from __future__ import annotations

from evalkit.vfm.effects import Effect, outcomes_achieved
from evalkit.vfm.errors import VfmError
from evalkit.vfm.results import SensitivityCell, SensitivityTable

DEFAULT_LOW, DEFAULT_HIGH = 0.8, 1.2
DEFAULT_SOURCE = "toolkit default: costs 20% lower and 20% higher than declared"
CASES = ("low", "central", "high")


def sensitivity_table(total_cost: float, effect: Effect, *, cost_low_factor: float = DEFAULT_LOW,
                      cost_high_factor: float = DEFAULT_HIGH, factors_source: str | None = None,
                      unit_value: float | None = None, analysis_year: str = "") -> SensitivityTable:
    """Nine cells: cost per outcome (and, with ``unit_value``, the value of one outcome in the
    analysis year's prices, net benefit and benefit-cost ratio) for each pair of cases."""
    if not (isinstance(total_cost, (int, float)) and not isinstance(total_cost, bool) and total_cost > 0):
        raise VfmError(f"total cost must be a positive amount (found {total_cost!r})")
    if not 0 < cost_low_factor <= 1 <= cost_high_factor or cost_low_factor == cost_high_factor:
        raise VfmError(f"cost factors must run from low (up to 1) to high (1 or more): found low {cost_low_factor!r}, "
                       f"high {cost_high_factor!r}")
    if unit_value is not None and not unit_value >= 0:
        raise VfmError(f"unit_value must be 0 or more (found {unit_value!r})")
    if (cost_low_factor, cost_high_factor) != (DEFAULT_LOW, DEFAULT_HIGH) and not factors_source:
        raise VfmError("say where non-default cost factors come from (factors_source), e.g. 'Green Book optimism "
                       "bias, 40% upper bound'")
    outcomes = outcomes_achieved(effect)
    costs = dict(zip(CASES, (total_cost * cost_low_factor, total_cost, total_cost * cost_high_factor)))
    effects = dict(zip(CASES, (outcomes.low, outcomes.central, outcomes.high)))
    cells = []
    for cost_case, cost in costs.items():
        for effect_case, count in effects.items():
            note = "" if count > 0 else f"no {effect.outcome} at this end: no cost per outcome"
            benefit = None if unit_value is None else count * unit_value
            cells.append(SensitivityCell(
                cost_case=cost_case, effect_case=effect_case, cost=cost, outcomes=count,
                cost_per_outcome=cost / count if count > 0 else None,
                net_benefit=None if benefit is None else benefit - cost,
                bcr=None if benefit is None else benefit / cost, note=note))
    level = f"{effect.ci_level:.0%}"
    return SensitivityTable(
        outcome=effect.outcome, cost_low_factor=cost_low_factor, cost_high_factor=cost_high_factor,
        cost_factors_source=factors_source or DEFAULT_SOURCE,
        effect_cases=(f"low and high are the ends of the effect's {level} confidence interval "
                      f"(low: fewer outcomes); central is the estimate"),
        unit_value=unit_value, analysis_year=analysis_year, cells=tuple(cells))
