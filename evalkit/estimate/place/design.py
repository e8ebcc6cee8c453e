"""The comparison-area design as ``evalkit run`` runs it (design: comparison_areas).

A plan points at an area panel (one row per area and month: counts, populations, and a column
holding each treated area's first month under the intervention) and names its outcomes. For
each outcome, for all ages and (with ``comparison_areas.under_25``) for under-25s, this module
fits the synthetic control of :mod:`.synthetic_control` for the treated area, with its placebos
in space and in time, and the comparison-area difference-in-differences of :mod:`.area_did`
beside it, and writes:

- estimates ``events_prevented`` (counterfactual minus observed events over the post-period,
  with the permutation interval and the exact rank p-value over the donors), ``rate_gap`` (the
  mean monthly gap in the rate, treated minus synthetic) and ``did_att`` (the area DiD on rates:
  with one treated area its interval and p-value are the permutation over donors, and the
  CR1 and wild cluster bootstrap answers are kept in its details);
- the ``comparison_areas`` results section: per outcome and age group the monthly paths
  (observed, synthetic, gap and band), every placebo's gap path, the donor weights, the
  placebo-in-time check, events and rates per 100,000 (per 1,000,000 for homicides).

Every user mistake in the panel is a :class:`~evalkit.estimate.place.panel.PanelError`, one line.
"""

from __future__ import annotations

import numpy as np

from evalkit.estimate import Analysis
from evalkit.estimate.conventions import tag
from evalkit.estimate.place.panel import Measure, PanelError, comparison_panel
from evalkit.results import Estimate, FlowStage, RunWarning

DESIGN = "comparison_areas"
UNDER_25 = "under 25"


def _measures(evaluation) -> list[tuple[str, Measure]]:
    """(indicator id, measure) for each outcome, all ages first, then the under-25s' where given."""
    ca, d = evaluation.comparison_areas, evaluation.data
    out = []
    for ind_id, (ind, column) in evaluation.outcomes.items():
        per = int(ind.rate_per or 100_000)
        out.append((ind_id, Measure(name=ind_id, count=column, population=d.population, rate_per=per,
                                    label=ind.label, age_group="all ages")))
    if ca.under_25 is not None:
        for ind_id, column in ca.under_25.outcomes.items():
            ind = evaluation.outcomes[ind_id][0]
            per = int(ind.rate_per or 100_000)
            out.append((ind_id, Measure(name=f"{ind_id}_u25", count=column, population=ca.under_25.population,
                                        rate_per=per, label=ind.label, age_group=UNDER_25)))
    return out


def _treated_area(frame, evaluation, source: str) -> tuple[str, str]:
    """The treated area and its start month, from the plan and the treated_from column."""
    import pandas as pd

    ca, d = evaluation.comparison_areas, evaluation.data
    col = frame[ca.treated_from]
    has = col.notna() & (col.astype(str).str.strip() != "")
    areas = frame[d.id].astype(str).str.strip()
    months = pd.PeriodIndex(pd.to_datetime(frame[d.period].astype(str).str.strip(), format="mixed", errors="coerce"),
                            freq="M")
    last = months.max()
    marked = {}
    for a, s in zip(areas[has], col[has].astype(str).str.strip()):
        marked.setdefault(a, s)
    if ca.treated_area is not None:
        name = ca.treated_area.strip()
        if name in set(areas) and name not in marked:
            raise PanelError(f"{source}: {name} has no month in column '{ca.treated_from}'; expected its first month "
                             "under the intervention (YYYY-MM) on each of its rows")
        return name, marked.get(name, "")
    inside = sorted(a for a, s in marked.items() if _before_end(s, last))
    if len(inside) == 1:
        return inside[0], marked[inside[0]]
    if not inside:
        raise PanelError(f"{source}: no area has a month in column '{ca.treated_from}' inside the window; expected "
                         "the treated area's first month under the intervention on its rows")
    raise PanelError(f"{source}: {len(inside)} areas have a start month in '{ca.treated_from}' "
                     f"({', '.join(inside[:6])}); expected one treated area: name it in comparison_areas.treated_area "
                     "and list the others in comparison_areas.exclude (they cannot be donors)")


def _before_end(month: str, last) -> bool:
    import pandas as pd

    try:
        return pd.Period(month, freq="M") <= last
    except (ValueError, TypeError):
        return True  # not a month: the panel's own check names it


def _interval(iv) -> dict:
    return {"low": float(iv.low), "high": float(iv.high), "level": float(iv.level)}


def _per(value: float, population: float, per: int) -> float:
    return float(value / population * per)


def analyse(evaluation, frame, seed: int) -> Analysis:
    from evalkit.estimate.place.area_did import area_did
    from evalkit.estimate.place.synthetic_control import synthetic_control
    from evalkit.estimate.wild_bootstrap import area_did_hook

    ca, d = evaluation.comparison_areas, evaluation.data
    source = d.path_as_written
    frame = frame.copy()
    frame.attrs["row_labels"] = (d.id, d.period)  # rows are in canonical order, not file order
    measures = _measures(evaluation)
    area, start = _treated_area(frame, evaluation, source)
    all_areas = sorted(frame[d.id].astype(str).str.strip().unique())
    for x in ca.exclude:
        if x not in all_areas:
            raise PanelError(f"{source}: comparison_areas.exclude names '{x}', which is not in the panel; expected one "
                             f"of the {len(all_areas)} areas in column '{d.id}'")
    donors = [a for a in all_areas if a != area and a not in set(ca.exclude)]
    panel = comparison_panel(
        frame, [m for _i, m in measures], {area: start} if start else {area: ""}, area=d.id, month=d.period,
        treated_from=ca.treated_from, donors=donors, min_donors=ca.min_donors, min_pre_periods=ca.min_pre_periods,
        covariates=evaluation.covariates, source=source)
    t = panel.treated_area(area)
    J = len(panel.donors)
    T = len(panel.months)
    post_months = T - t.start_index
    estimates, warnings, entries = [], [], {}
    primary = evaluation.primary_outcome.id
    for ind_id, m in measures:
        ind = evaluation.outcomes[ind_id][0]
        good_down = ind.direction.value == "decrease"
        subgroup = "all" if m.age_group == "all ages" else UNDER_25
        sc = synthetic_control(panel, m.name, area, method=ca.method.value, level=ca.level,
                               placebo_in_time_months=ca.placebo_in_time_months, covariates=tuple(evaluation.covariates))
        pops = panel.populations[m.population][panel.index(area)]
        post_pop = float(pops[t.start_index:].mean())
        per = m.rate_per
        ev = sc.events_prevented_interval
        months = sc.months
        sc_entry = {
            "method": sc.method, "convention": sc.convention, "n_donors": sc.n_donors,
            "pre_rmspe": sc.pre_rmspe, "post_rmspe": sc.post_rmspe, "rmspe_ratio": sc.rmspe_ratio,
            "rank": sc.rank, "p_value": sc.p_value, "p_value_floor": 1 / (J + 1),
            "mean_gap": sc.mean_gap, "mean_gap_interval": _interval(sc.mean_gap_interval),
            "events_observed": sc.events_observed, "events_counterfactual": sc.events_counterfactual,
            "events_prevented": sc.events_prevented, "events_prevented_interval": _interval(ev),
            # over the whole post-period, per rate_per residents (the mean post-period population)
            "prevented_per_population": {"value": _per(sc.events_prevented, post_pop, per),
                                         "low": _per(ev.low, post_pop, per), "high": _per(ev.high, post_pop, per),
                                         "level": float(ev.level)},
            "observed_rate_post": float(months["observed_rate"][t.start_index:].mean()),
            "synthetic_rate_post": float(months["synthetic_rate"][t.start_index:].mean()),
            "post_population": post_pop,
            "weights": [{"area": w.area, "weight": w.weight} for w in sc.weights],
            "predictor_weights": [{"predictor": n, "weight": v} for n, v in sc.predictor_weights],
            "placebos": [{"area": p.area, "pre_rmspe": p.pre_rmspe, "post_rmspe": p.post_rmspe, "ratio": p.ratio}
                         for p in sc.placebos],
            "placebo_in_time": dict(sc.placebo_in_time),
            "penalty": sc.penalty,
            "months": [{"month": r.month, "period": r.period, "observed_rate": float(r.observed_rate),
                        "synthetic_rate": float(r.synthetic_rate), "gap": float(r.gap), "gap_low": float(r.gap_low),
                        "gap_high": float(r.gap_high), "band_level": float(r.band_level),
                        "observed_events": int(r.observed_events), "counterfactual_events": float(r.counterfactual_events),
                        "population": int(r.population)}
                       for r in months.itertuples(index=False)],
            "placebo_gaps": {p.area: [float(x) for x in sc.placebo_gaps[j]] for j, p in enumerate(sc.placebos)},
        }
        entry = {"indicator": ind_id, "age_group": m.age_group, "rate_per": per, "count_column": m.count,
                 "population_column": m.population, "synthetic_control": sc_entry}
        common = dict(indicator=ind_id, design=DESIGN, timepoints=(t.start, panel.months[-1]), n=J + 1,
                      subgroup=subgroup)
        # the headline is the events prevented; the rate gap and the area DiD are the same finding another way
        lead = ind_id == primary and subgroup == "all"
        what = (f"synthetic control ({'ADH 2010, nested V as R Synth' if sc.method == 'synth' else 'ridge augmented'}) "
                f"of the rate {m.rate_label()}; placebo in space over {J} donor areas: exact rank p-value, "
                "permutation interval")
        sc_details = {**tag("placebo_permutation", f"rank among {J + 1} areas (p >= 1/{J + 1})"),
                      "rank": sc.rank, "n_donors": J, "pre_rmspe": sc.pre_rmspe, "rmspe_ratio": sc.rmspe_ratio,
                      "rate_per": per, "age_group": m.age_group}
        estimates.append(Estimate(
            estimand="events_prevented", estimate=sc.events_prevented, std_error=None, ci_low=ev.low, ci_high=ev.high,
            p_value=sc.p_value, method=what, units="events", ci_level=ev.level,
            direction_good=(sc.events_prevented > 0) == good_down if sc.events_prevented != 0 else None,
            comparison=f"{area} against its synthetic control, {t.start} to {panel.months[-1]}", primary=lead,
            details={**sc_details, "prevented_per_population": sc_entry["prevented_per_population"]}, **common))
        gi = sc.mean_gap_interval
        estimates.append(Estimate(
            estimand="rate_gap", estimate=sc.mean_gap, std_error=None, ci_low=gi.low, ci_high=gi.high,
            p_value=sc.p_value, method=what, units=f"{m.rate_label()} a month", ci_level=gi.level,
            direction_good=(sc.mean_gap < 0) == good_down if sc.mean_gap != 0 else None,
            comparison=f"{area} minus its synthetic control, mean of {post_months} months",
            details=sc_details, **common))
        if ca.second_estimate.value == "area_did":
            did = area_did(panel, m.name, weighting=ca.did_weighting.value, level=ca.level, seed=seed,
                           bootstrap=area_did_hook)
            boot = did.bootstrap
            did_entry = {"estimate": did.estimate, "std_error": did.std_error, "cr1_ci_low": did.ci_low,
                         "cr1_ci_high": did.ci_high, "cr1_p_value": did.p_value, "ci_level": did.ci_level,
                         "convention": did.convention, "n_clusters": did.n_clusters, "n_obs": did.n_obs,
                         "weighting": did.weighting, "permutation_p_value": did.permutation_p_value,
                         "permutation_interval": None if did.permutation_interval is None else dict(
                             zip(("low", "high", "level"), did.permutation_interval)),
                         "wild_bootstrap": None if boot is None else {
                             "p_value": boot.p_value, "ci_low": boot.ci_low, "ci_high": boot.ci_high,
                             "draws": boot.draws, "method": boot.method},
                         "events_prevented": did.events_prevented,
                         "events_prevented_interval": None if did.events_prevented_interval is None else dict(
                             zip(("low", "high", "level"), did.events_prevented_interval)),
                         "warnings": list(did.warnings)}
            entry["area_did"] = did_entry
            lo, hi, lvl = did.permutation_interval
            estimates.append(Estimate(
                estimand="did_att", estimate=did.estimate, std_error=did.std_error, ci_low=lo, ci_high=hi,
                p_value=did.permutation_p_value, units=f"{m.rate_label()} a month", ci_level=lvl,
                method=(f"comparison-area difference-in-differences on rates {m.rate_label()} (area and month fixed "
                        f"effects); permutation over {J} donor areas (Conley & Taber 2011); CR1 and wild cluster "
                        "bootstrap in the details"),
                direction_good=(did.estimate < 0) == good_down if did.estimate != 0 else None,
                comparison=f"{area} against {J} comparison areas, change from before {t.start}",
                details={**tag("placebo_permutation", f"|estimate| ranked among {J + 1} areas"),
                         "cr1": {"ci_low": did.ci_low, "ci_high": did.ci_high, "p_value": did.p_value,
                                 **tag("cr1_fixest_t", f"t(G-1) = t({did.n_clusters - 1})")},
                         "wild_bootstrap": did_entry["wild_bootstrap"], "events_prevented": did.events_prevented,
                         "events_prevented_interval": did_entry["events_prevented_interval"],
                         "rate_per": per, "age_group": m.age_group},
                **common))
        key = m.name
        entries[key] = entry
        # is the treated area fitted worse than most donors are by theirs? (small counts are noisy for every
        # area alike, so the fit is judged against the placebos', not against the rate)
        worse = int(np.sum(np.array([p.pre_rmspe for p in sc.placebos]) < sc.pre_rmspe))
        if sc.placebo_in_time.get("fake_start") and abs(sc.placebo_in_time.get("mean_gap", 0.0)) > 2 * sc.pre_rmspe:
            warnings.append(RunWarning(
                "placebo_in_time_gap", f"{m.name}: moving the start {ca.placebo_in_time_months} months earlier gives a "
                "mean gap more than twice the pre-period RMSPE before the real start: the synthetic control may not "
                "track the area", ind_id))
        if worse > 0.75 * J:
            warnings.append(RunWarning(
                "poor_pre_period_fit", f"{m.name}: the synthetic control tracks {area} before the start less closely "
                f"than {worse} of the {J} donors' placebo synthetic controls track theirs: read the gap with care",
                ind_id))
    if J + 1 < 1 / 0.05:
        warnings.append(RunWarning("p_value_floor", f"with {J} donor areas the rank p-value cannot be below "
                                   f"1/{J + 1}"))
    warnings.append(RunWarning(
        "place_based_not_attributable", "a place-based estimate compares the whole area with comparison areas: "
        "it cannot attribute the gap to one intervention, nor rate a programme"))
    section = {
        "treated_area": area, "start": t.start, "first_month": panel.months[0], "last_month": panel.months[-1],
        "pre_months": t.start_index, "post_months": post_months, "n_donors": J, "donors": list(panel.donors),
        "excluded": sorted(ca.exclude), "method": ca.method.value, "level": ca.level,
        "second_estimate": ca.second_estimate.value, "measures": entries,
    }
    flow = (FlowStage("analysed", len(panel.areas) * T, note=f"{len(panel.areas)} area(s) x {T} months"),)
    return Analysis(estimates=tuple(estimates), flow=flow, warnings=tuple(warnings),
                    sections={"comparison_areas": section})
