"""Cost per outcome, with an interval, by a named method.

The cost per outcome is R = C / O: the total cost C over the good outcomes O the effect implies
(:func:`evalkit.vfm.effects.outcomes_achieved`). Three methods, named in every result:

- ``fieller`` (default): Fieller's theorem for a ratio of two independent, normally distributed
  quantities. When costs are treated as known (no cost standard error) it is exactly the effect's
  interval carried through: [C / O_high, C / O_low]. The interval is bounded only when the effect
  is distinguishable from no effect; otherwise it has no upper limit, and evalkit says so rather
  than print a figure.
- ``delta``: the delta method, R +/- z * R * sqrt(var_C / C^2 + var_O / O^2). Symmetric, and poor
  when O is near zero; given because some funders ask for it.
- ``monte_carlo``: seeded draws of the effect (normal on its scale; log-normal for a ratio) and of
  the cost (fixed, normal with ``cost_std_error``, or triangular between ``cost_low`` and
  ``cost_high``); percentile interval, with draws showing no improvement counted as an unbounded
  cost per outcome. The draws are keyed by the seed and the outcome's name, so the same inputs
  give the same numbers in any process.

A cost per outcome is given only when the effect's central estimate is an improvement; when its
interval includes no effect, the result has status ``no_upper_limit``, no figure and no interval,
only the lowest cost per outcome the interval allows (``at_least``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from enum import Enum

from evalkit.vfm.effects import Effect, EffectScale, log_std_error, outcomes_achieved, to_outcomes, z_value
from evalkit.vfm.errors import VfmError
from evalkit.vfm.results import CostPerOutcome, Status

DEFAULT_DRAWS = 20_000
COST_BASIS = "total cost: cash and in kind, set-up and running"


class Method(str, Enum):
    fieller = "fieller"
    delta = "delta"
    monte_carlo = "monte_carlo"


def parse_method(value) -> Method:
    try:
        return Method(value)
    except ValueError:
        raise VfmError(f"method: {value!r} is not a valid choice; expected one of "
                       f"{', '.join(repr(m.value) for m in Method)}") from None


def stream(seed: int, key: str):
    """A numpy generator keyed by the seed and a name, the same in every process."""
    import numpy as np

    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([int(seed), digest]))


def draw_outcomes(effect: Effect, rng, draws: int):
    """Draws of the good outcomes: the estimate normal on its scale (log-normal for a ratio)."""
    se = log_std_error(effect)
    if effect.scale is EffectScale.ratio:
        import numpy as np

        values = np.exp(rng.normal(math.log(effect.estimate), se, draws))
    else:
        values = rng.normal(effect.estimate, se, draws)
    return to_outcomes(effect, values)


def draw_costs(total: float, rng, draws: int, *, std_error: float | None, low: float | None, high: float | None):
    import numpy as np

    if low is not None:
        return rng.triangular(low, total, high, draws)
    if std_error:
        return rng.normal(total, std_error, draws)
    return np.full(draws, float(total))


def check_cost_inputs(total_cost: float, method: Method, *, cost_std_error, cost_low, cost_high, seed) -> None:
    if not (isinstance(total_cost, (int, float)) and math.isfinite(total_cost) and total_cost > 0):
        raise VfmError(f"total cost must be a positive amount (found {total_cost!r}); a cost per outcome needs "
                       f"what was spent")
    if cost_std_error is not None and not (math.isfinite(cost_std_error) and cost_std_error >= 0):
        raise VfmError(f"cost_std_error must be 0 or more (found {cost_std_error!r})")
    if (cost_low is None) != (cost_high is None):
        raise VfmError("cost_low and cost_high go together (a triangular distribution around the total cost)")
    if cost_low is not None:
        if method is not Method.monte_carlo:
            raise VfmError(f"cost_low / cost_high describe a range of costs that only the Monte Carlo method uses; "
                           f"with method {method.value!r} give cost_std_error instead")
        if cost_std_error is not None:
            raise VfmError("give either cost_std_error or cost_low / cost_high, not both")
        if not 0 <= cost_low <= total_cost <= cost_high or cost_low == cost_high:
            raise VfmError(f"cost range must run from low to high around the total cost: found low {cost_low:,.0f}, "
                           f"total {total_cost:,.0f}, high {cost_high:,.0f}")
    if method is Method.monte_carlo and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise VfmError(f"the Monte Carlo method needs a whole-number seed (found {seed!r}); every random step in "
                       f"evalkit takes one, so results can be reproduced")


def _money(x: float) -> str:
    return f"£{x:,.0f}"


def fieller_roots(c: float, var_c: float, o: float, var_o: float, z: float) -> tuple[float | None, float | None, bool]:
    """Fieller's set for R = c / o: (low, high, bounded). Unbounded: (at_least, None, False) when the
    set's positive part is [at_least, inf), or (None, None, False) when it is the whole line."""
    a = o * o - z * z * var_o
    disc = c * c * var_o + o * o * var_c - z * z * var_c * var_o
    if a > 0:
        root = z * math.sqrt(max(disc, 0.0))
        return (c * o - root) / a, (c * o + root) / a, True
    if a == 0 or disc < 0:
        return None, None, False
    root = z * math.sqrt(disc)
    r1, r2 = sorted(((c * o - root) / a, (c * o + root) / a))
    return (r2 if r2 > 0 else None), None, False


def cost_per_outcome(total_cost: float, effect: Effect, *, method: Method | str = Method.fieller,
                     cost_std_error: float | None = None, cost_low: float | None = None,
                     cost_high: float | None = None, seed: int | None = None, draws: int = DEFAULT_DRAWS,
                     thresholds: Iterable[float] = (), analysis_year: str = "",
                     cost_basis: str = COST_BASIS) -> CostPerOutcome:
    """The cost per good outcome with its interval; ``total_cost`` is in the analysis year's prices
    and must pay for the same people the effect applies to."""
    method = parse_method(method)
    check_cost_inputs(total_cost, method, cost_std_error=cost_std_error, cost_low=cost_low,
                      cost_high=cost_high, seed=seed)
    thresholds = tuple(float(t) for t in thresholds)
    if thresholds and method is not Method.monte_carlo:
        raise VfmError("thresholds (the chance the cost per outcome is below an amount) need the Monte Carlo method")
    outcomes = outcomes_achieved(effect)
    z = z_value(effect.ci_level)
    level = f"{effect.ci_level:.0%}"
    var_c = (cost_std_error or 0.0) ** 2
    var_o = (outcomes.std_error or 0.0) ** 2
    c, o = float(total_cost), outcomes.central
    common = dict(outcome=effect.outcome, method=method.value, total_cost=c, cost_std_error=cost_std_error,
                  cost_basis=cost_basis, outcomes=outcomes, ci_level=effect.ci_level, analysis_year=analysis_year)

    if method is Method.monte_carlo:
        import numpy as np

        rng = stream(seed, f"cost-per-outcome:{effect.outcome}")
        o_draws = draw_outcomes(effect, rng, draws)
        c_draws = draw_costs(c, rng, draws, std_error=cost_std_error, low=cost_low, high=cost_high)
        ratio = np.where(o_draws > 0, c_draws / np.where(o_draws > 0, o_draws, 1.0), np.inf)
        alpha = 1 - effect.ci_level
        lo, hi = (float(q) for q in np.quantile(ratio, [alpha / 2, 1 - alpha / 2], method="inverted_cdf"))
        share = float(np.mean(o_draws <= 0))
        probs = tuple((t, float(np.mean((o_draws > 0) & (c_draws <= t * o_draws)))) for t in thresholds)
        cost_text = ("costs fixed" if cost_low is None and not cost_std_error else
                     f"costs triangular from {_money(cost_low)} to {_money(cost_high)}" if cost_low is not None
                     else f"costs normal with standard error {_money(cost_std_error)}")
        text = (f"Monte Carlo, {draws:,} draws (seed {seed}): effect normal on its "
                f"{'log ' if effect.scale is EffectScale.ratio else ''}scale, {cost_text}; "
                f"{level} percentile interval")
        mc = dict(method_text=text, draws=draws, seed=seed, share_no_benefit=share, probability_below=probs)
        if o <= 0:
            return CostPerOutcome(**common, **mc, status=Status.no_benefit, cost_per_outcome=None, ci_low=None,
                                  ci_high=None, at_least=None, note=_no_benefit_note(effect, outcomes))
        if not math.isfinite(hi):
            return CostPerOutcome(**common, **mc, status=Status.no_upper_limit, cost_per_outcome=None, ci_low=None,
                                  ci_high=None, at_least=lo if math.isfinite(lo) else None,
                                  note=_no_limit_note(effect, outcomes, lo if math.isfinite(lo) else None,
                                                      f"{share:.1%} of draws show no improvement"))
        return CostPerOutcome(**common, **mc, status=Status.estimable, cost_per_outcome=c / o, ci_low=lo,
                              ci_high=hi, at_least=None, note="")

    if method is Method.fieller:
        text = (f"Fieller's theorem, {level} interval; " +
                ("costs treated as known, so the effect's interval is carried through (C / O_high to C / O_low)"
                 if not var_c else f"cost standard error {_money(cost_std_error)}, cost and effect independent"))
    else:
        text = f"delta method, {level} interval (symmetric; unreliable when the effect is near no effect)"
    common["method_text"] = text
    if o <= 0:
        return CostPerOutcome(**common, status=Status.no_benefit, cost_per_outcome=None, ci_low=None, ci_high=None,
                              at_least=None, note=_no_benefit_note(effect, outcomes))

    if method is Method.fieller:
        if not var_c:
            bounded = outcomes.low > 0
            lo = c / outcomes.high
            hi = c / outcomes.low if bounded else None
        else:
            lo, hi, bounded = fieller_roots(c, var_c, o, var_o, z)
        if not bounded:
            return CostPerOutcome(**common, status=Status.no_upper_limit, cost_per_outcome=None, ci_low=None,
                                  ci_high=None, at_least=lo, note=_no_limit_note(effect, outcomes, lo))
        return CostPerOutcome(**common, status=Status.estimable, cost_per_outcome=c / o, ci_low=lo, ci_high=hi,
                              at_least=None, note="")

    if outcomes.low <= 0:
        return CostPerOutcome(**common, status=Status.no_upper_limit, cost_per_outcome=None, ci_low=None,
                              ci_high=None, at_least=None,
                              note=_no_limit_note(effect, outcomes, None) +
                              " The delta method gives no usable interval here.")
    r = c / o
    se = abs(r) * math.sqrt(var_c / (c * c) + var_o / (o * o))
    lo, hi = r - z * se, r + z * se
    note = ("the delta-method interval goes below zero, which a cost per outcome cannot; prefer Fieller or "
            "Monte Carlo" if lo < 0 else "")
    return CostPerOutcome(**common, status=Status.estimable, cost_per_outcome=r, ci_low=lo, ci_high=hi,
                          at_least=None, note=note)


def _no_benefit_note(effect: Effect, outcomes) -> str:
    return (f"Not defined: the central estimate shows no {effect.outcome} (outcomes {outcomes.central:,.1f}), "
            f"so there is no cost per {effect.outcome} to give.")


def _no_limit_note(effect: Effect, outcomes, at_least: float | None, extra: str = "") -> str:
    level = f"{effect.ci_level:.0%}"
    text = (f"No figure: the effect's {level} interval includes no effect ({outcomes.low:,.1f} to "
            f"{outcomes.high:,.1f} outcomes), so the cost per {effect.outcome} has no upper limit")
    if at_least is not None:
        text += f"; it is at least {_money(at_least)}"
    if extra:
        text += f" ({extra})"
    return text + "."
