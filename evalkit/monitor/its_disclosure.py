"""Whether a success measure's fitted trend (ITS) may be published beside its months.

Its own module so that the page builder (:mod:`evalkit.monitor.charts`) and the model and export
(:mod:`evalkit.monitor.dashboard`) ask the same question without importing each other.
"""

from __future__ import annotations


def its_published(item: dict, success: dict) -> dict | None:
    """A success measure's fitted trend as published, or None when it would give a hidden month away.

    The fit's fitted values tell a reader ``X'y`` (see :func:`evalkit.publish.audit.fixed_by_moments`):
    with the months shown and the year-ending totals shown, a few hidden months can then be worked
    out exactly. Decided after disclosure control (it reads the values' status), like the XmR chart."""
    from evalkit.publish.audit import fixed_by_moments

    its = (success or {}).get("its")
    if not its:
        return None
    shown = {k: v for k, v in its.items() if not k.startswith("_")}
    design = its.get("_design")
    if design is None:
        return shown
    periods = list(its["period"])
    at = {p: i for i, p in enumerate(periods)}
    counts = dict(zip(item["series"]["period"], item["series"]["count"]))
    known = [counts.get(p) is not None and not counts[p].hidden and counts[p].shown_value is not None for p in periods]
    sums = []
    roll = (success or {}).get("rolling") or {}
    for t, r in enumerate(roll.get("count") or []):
        if r is None or r.hidden or r.shown_value is None or t < 11:
            continue
        row = [0.0] * len(periods)
        for p in roll["period"][t - 11:t + 1]:
            if p in at:
                row[at[p]] = 1.0
        sums.append(row)
    if fixed_by_moments(design, known, sums):
        return None
    return shown


def fitted_series_published(rows, observed, estimates) -> bool:
    """Whether an evaluation report's fitted trend and counterfactual (the ITS plan's own fit, every
    month of the whole series) may be drawn beside its observed months, after disclosure control.

    ``rows``: the results' counterfactual rows of the whole series (period, fitted, population);
    ``observed``: their published values (hidden ones are suppressed months); ``estimates``: the
    plan's estimates of this indicator (their method and details say the model a reader can rebuild).

    A log-linear count model's fitted values tell a reader ``X'y`` for every column of its design
    (:func:`evalkit.publish.audit.fixed_by_moments`); the month, level, slope and season columns are the
    same for every area, so summed over areas they are facts about the whole series' months. For the
    negative binomial the score is weighted (``1 / (1 + alpha mu)``): with one area those weights are
    known from the fit and tested too; the Poisson-limit equations are tested always. A design this
    cannot rebuild (a control series) is not drawn when any month is hidden."""
    import numpy as np
    import pandas as pd

    from evalkit.estimate.its import design_matrix
    from evalkit.publish.audit import fixed_by_moments
    from evalkit.spec.raw import ImpactModel, Seasonality

    known = [not (v.hidden or v.plot() is None) for v in observed]
    if all(known):
        return True
    est = next((e for e in estimates if getattr(e, "estimand", None) == "level_change"), None)
    method = str(getattr(est, "method", "") or "")
    details = dict(getattr(est, "details", None) or {})
    if est is None or "control series" in method:
        return False
    seasonality = (Seasonality.month if "month-of-year seasonality" in method else
                   Seasonality.fourier if "fourier seasonality" in method else Seasonality.none)
    impact = ImpactModel(details.get("impact") or ImpactModel.level_and_slope.value)
    interruption = getattr(est, "timepoints", (None, None, None))[1]
    if interruption is None:
        return False
    frame = pd.DataFrame({"area": "all", "month": pd.PeriodIndex([str(r["period"]) for r in rows], freq="M")})
    X = design_matrix(frame, pd.Period(str(interruption), "M"), seasonality, impact=impact).to_numpy(float)
    if fixed_by_moments(X, known):
        return False
    alpha = details.get("nb_alpha")
    if alpha and int(details.get("areas") or 1) == 1:
        mu = np.array([float(r["fitted"]) for r in rows])
        if fixed_by_moments(X / (1.0 + float(alpha) * mu)[:, None], known):
            return False
    return True
