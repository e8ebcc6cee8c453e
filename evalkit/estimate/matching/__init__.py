"""Matched comparison: propensity score, matching or weighting, balance, effects.

``analyse(evaluation, frame, seed)`` is the design entry point used by :mod:`evalkit.run`.
The steps are plain functions in their own modules, as in MatchIt: :mod:`.propensity` (score
model), :mod:`.nearest` / :mod:`.optimal` / :mod:`.weighting` (one per method), :func:`.core.match`
(the matched sets and weights), :mod:`.balance` (one engine for the balance table and the
love plot) and :mod:`.effects` (weighted regression with cluster-robust standard errors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.estimate import Analysis, analysed_rows_ready
from evalkit.estimate._stats import hedges_correction
from evalkit.estimate.matching.core import MatchResult, match
from evalkit.estimate.matching.effects import adjusted_design, t_interval, wls_cluster
from evalkit.estimate._stats import good_direction as _good
from evalkit.estimate._stats import holm_family as _holm_family
from evalkit.results import EffectSize, Estimate, FlowStage, RunWarning
from evalkit.spec.raw import IndicatorType, Matching

__all__ = ["analyse", "match", "effect", "matched_data", "MatchResult"]

DESIGN = "matched_comparison"


def _se_method(res: MatchResult, adjusted: bool) -> str:
    what = {"nearest": "matched sample", "optimal": "matched sample", "exact": "exactly matched cells",
            "ipw": "inverse-probability-weighted sample"}[res.options.method.value]
    model = "WLS of the outcome on treatment" + (" and the covariates (centred on the treated, interacted "
                                                  "with treatment; doubly robust)" if adjusted else "")
    if res.clusters == ("set", "unit"):
        se = "SE cluster-robust two-way by matched set and unit (HC1, G/(G-1)(N-1)/(N-K)), as controls are reused"
    elif res.clusters == ("set",):
        kind = "cell" if res.options.method.value == "exact" else "matched set"
        se = f"SE cluster-robust by {kind} (HC1, G/(G-1)(N-1)/(N-K))"
    else:
        se = "SE heteroskedasticity-robust (HC1), weights treated as known"
    return f"{model} on the {what}; {se}"


def effect(res: MatchResult, y: np.ndarray, *, adjust: bool | None = None, level: float = 0.95) -> dict:
    """ATT (or ATE) of outcome ``y`` (one value per pool row, NaN = missing) on the matched sample."""
    adjust = res.options.adjust if adjust is None else adjust
    long = res.long
    rows = long["row"].to_numpy()
    yy = np.asarray(y, float)[rows]
    ok = ~np.isnan(yy)
    lg = long[ok]
    treat = lg["treated"].to_numpy()
    w = lg["weight"].to_numpy(float)
    Z = res.design.model_matrix()[rows[ok]] if (adjust and res.design is not None) else None
    X = adjusted_design(treat, Z, w, res.options.estimand.value)
    clusters = [lg[c].to_numpy() for c in res.clusters]
    fit = wls_cluster(yy[ok], X, w, clusters)
    est, se = float(fit.beta[1]), float(np.sqrt(fit.vcov[1, 1]))
    lo, hi, p = t_interval(est, se, fit.n - fit.k, level)
    units = lg.drop_duplicates("unit")
    out = {"estimate": est, "std_error": se, "ci_low": lo, "ci_high": hi, "p_value": p, "df": fit.n - fit.k,
           "n_rows": fit.n, "clusters": list(fit.clusters), "n": int(len(units)),
           "n_treated": int(units["treated"].sum()), "n_comparison": int((units["treated"] == 0).sum()),
           "missing_outcome": {"treated": int((~ok & (long["treated"] == 1).to_numpy()).sum()),
                               "comparison": int((~ok & (long["treated"] == 0).to_numpy()).sum())},
           "method": _se_method(res, adjust and Z is not None and Z.shape[1] > 0)}
    # weighted group means and SDs, for risk ratios and standardised effects
    yt, wt = yy[ok][treat == 1], w[treat == 1]
    yc, wc = yy[ok][treat == 0], w[treat == 0]
    out["mean_treated"] = float(np.average(yt, weights=wt))
    out["mean_comparison"] = float(np.average(yc, weights=wc))
    out["sd_treated"] = float(np.sqrt(np.average((yt - out["mean_treated"]) ** 2, weights=wt)))
    out["sd_comparison"] = float(np.sqrt(np.average((yc - out["mean_comparison"]) ** 2, weights=wc)))
    # risk ratio from the unadjusted fit: intercept = comparison mean, + slope = treated mean
    base = wls_cluster(yy[ok], X[:, :2], w, clusters)
    b0, b1 = base.beta[0], base.beta[1]
    if b0 > 0 and b0 + b1 > 0:
        g = np.array([1 / (b0 + b1) - 1 / b0, 1 / (b0 + b1)])
        se_log = float(np.sqrt(g @ base.vcov[:2, :2] @ g))
        log_rr = float(np.log((b0 + b1) / b0))
        l_lo, l_hi, p_rr = t_interval(log_rr, se_log, base.n - base.k, level)
        out["risk_ratio"] = {"estimate": float(np.exp(log_rr)), "std_error_log": se_log, "ci_low": float(np.exp(l_lo)),
                             "ci_high": float(np.exp(l_hi)), "p_value": p_rr,
                             "method": "ratio of weighted means (unadjusted), delta method on the log scale "
                                       "with the same cluster-robust covariance"}
    return out


def _outcomes(evaluation) -> list[tuple]:
    """(indicator, timepoint name, follow-up column, baseline column or None) for every outcome."""
    out = []
    for ind_id, tp in evaluation.timepoints.items():
        for name, col in tp.follow_ups:
            out.append((tp.indicator, name, col, tp.baseline))
    for ind_id, (ind, col) in evaluation.outcomes.items():
        if ind_id not in evaluation.timepoints:
            out.append((ind, f"follow_up_{evaluation.follow_up_months}m", col, None))
    return out


def analyse(evaluation, frame: pd.DataFrame, seed: int) -> Analysis:
    opt = evaluation.matching or Matching()
    d = evaluation.data
    outcomes = _outcomes(evaluation)
    res = match(frame, treatment=d.treatment, covariates=list(evaluation.covariates), options=opt,
                id_column=d.id, seed=seed)
    analysed = _analysed_frame(res, evaluation, outcomes)
    # the matched rows exist now: a refutation of this analysis (evalkit.run) can start on them while
    # the estimates below are computed; the column is the primary estimate's (the loop's first of it)
    analysed_rows_ready(analysed, outcome_column=next(
        (col for ind, _tp, col, _base in outcomes if ind.id == evaluation.primary_outcome.id), None))
    estimand = opt.estimand.value
    estimates: list[Estimate] = []
    warnings = [RunWarning(code, msg) for code, msg in res.notes]
    unused = [f"{key} ('{getattr(evaluation, key)}')" for key in ("weights", "cluster") if getattr(evaluation, key)]
    if unused:
        warnings.append(RunWarning("option_ignored", "the matched-comparison design does not use the plan's "
                                   + ", ".join(unused) + " yet: estimates are for the whole matched sample, "
                                   "unweighted by survey weights, with SEs clustered by matched set only"))
    subgroup_frames = []
    flow = [FlowStage("in_data", res.counts["in_data"][g], group=g) for g in ("treated", "comparison")]
    flow += [FlowStage("treated_pool", res.counts["pool"]["treated"], group="treated"),
             FlowStage("comparison_pool", res.counts["pool"]["comparison"], group="comparison")]
    flow += [FlowStage("discarded", res.counts["discarded"][g], group=g,
                       note="outside common support of the score") for g in ("treated", "comparison")]
    flow += [FlowStage("matched", res.counts["matched"][g], group=g,
                       note="distinct units with a positive weight") for g in ("treated", "comparison")]
    primary_done = False
    primary_missing = None
    for ind, tp_name, col, base in outcomes:
        y = res.pool[col].to_numpy(float)
        binary = ind.type is IndicatorType.binary
        units = {IndicatorType.binary: "proportion (risk difference)", IndicatorType.proportion: "proportion",
                 IndicatorType.count: "count", IndicatorType.rate: "rate"}.get(ind.type, "points")
        eff = effect(res, y)
        if evaluation.subgroups:
            subgroup_frames.append(subgroup_frame(res, evaluation, ind.id, tp_name, y))
        is_primary = ind.id == evaluation.primary_outcome.id and not primary_done
        if is_primary:
            primary_missing = eff["missing_outcome"]
        es = None
        if binary and "risk_ratio" in eff:
            rr = eff["risk_ratio"]
            es = EffectSize("risk_ratio", rr["estimate"], rr["ci_low"], rr["ci_high"])
        elif not binary:
            pooled = np.sqrt((eff["sd_treated"] ** 2 + eff["sd_comparison"] ** 2) / 2)
            if pooled > 0:
                n_ = eff["n"]
                j = float(hedges_correction(n_ - 2)) if n_ > 3 else 1.0
                es = EffectSize("hedges_g", j * eff["estimate"] / pooled)
        details = {k: eff[k] for k in ("df", "n_rows", "clusters", "missing_outcome", "mean_treated",
                                       "mean_comparison", "sd_treated", "sd_comparison")}
        details["outcome_column"] = col
        estimates.append(Estimate(
            indicator=ind.id, design=DESIGN, estimand=estimand, timepoints=(tp_name,), n=eff["n"],
            estimate=eff["estimate"], std_error=eff["std_error"], ci_low=eff["ci_low"], ci_high=eff["ci_high"],
            p_value=eff["p_value"], method=eff["method"], units=units,
            direction_good=_good(eff["estimate"], ind), effect_size=es, primary=is_primary,
            comparison="treated vs matched comparison" if opt.method.value != "ipw" else "treated vs weighted comparison",
            n_treated=eff["n_treated"], n_comparison=eff["n_comparison"], details=details))
        primary_done = primary_done or is_primary
        if any(eff["missing_outcome"].values()):
            for g in ("treated", "comparison"):
                flow.append(FlowStage("analysed", eff["n_treated"] if g == "treated" else eff["n_comparison"],
                                      group=g, indicator=ind.id, note=f"with {col} observed"))
        if binary and "risk_ratio" in eff:
            rr = eff["risk_ratio"]
            estimates.append(Estimate(
                indicator=ind.id, design=DESIGN, estimand="risk_ratio", timepoints=(tp_name,), n=eff["n"],
                estimate=rr["estimate"], std_error=rr["std_error_log"], ci_low=rr["ci_low"], ci_high=rr["ci_high"],
                p_value=rr["p_value"], method=rr["method"], units="ratio (SE on the log scale)",
                direction_good=_good(rr["estimate"], ind, 1.0), comparison="treated vs matched comparison",
                n_treated=eff["n_treated"], n_comparison=eff["n_comparison"],
                details={"mean_treated": eff["mean_treated"], "mean_comparison": eff["mean_comparison"]}))
        if base is not None:
            change = y - res.pool[base].to_numpy(float)
            did = effect(res, change)
            estimates.append(Estimate(
                indicator=ind.id, design=DESIGN, estimand="did_att", timepoints=("baseline", tp_name), n=did["n"],
                estimate=did["estimate"], std_error=did["std_error"], ci_low=did["ci_low"], ci_high=did["ci_high"],
                p_value=did["p_value"], method="matched difference-in-differences: " + did["method"].replace(
                    "WLS of the outcome", f"WLS of the change {base} -> {col}"),
                units=units.replace(" (risk difference)", " points"), direction_good=_good(did["estimate"], ind),
                comparison="change among treated vs change among matched comparison",
                n_treated=did["n_treated"], n_comparison=did["n_comparison"],
                details={"df": did["df"], "clusters": did["clusters"], "missing_outcome": did["missing_outcome"],
                         "baseline_column": base, "outcome_column": col}))

    estimates = _holm(estimates, estimand)
    bal = res.balance
    if bal["flag_any_smd_ge_0_1"]:
        worst = [r["term"] for r in bal["rows"] if abs(r["smd_after"]) >= 0.1]
        warnings.append(RunWarning("balance_smd", f"after matching, |SMD| >= 0.1 on {', '.join(worst)}"))
    if bal["flag_var_ratio_outside"]:
        worst = [r["term"] for r in bal["rows"] if r["var_ratio_after"] is not None
                 and not 0.5 <= r["var_ratio_after"] <= 2]
        warnings.append(RunWarning("balance_variance_ratio",
                                   f"after matching, variance ratio outside 0.5-2 on {', '.join(worst)}"))
    if not bal["wwc_pass"]:
        warnings.append(RunWarning("wwc_baseline_equivalence",
                                   "baseline equivalence not shown by WWC's rule: some covariate has |SMD| > 0.25, "
                                   "or 0.05-0.25 without adjustment in the outcome model"))
    if res.counts["unmatched_treated"] > 0 or res.counts["discarded"]["treated"] > 0:
        lost = res.counts["unmatched_treated"] + res.counts["discarded"]["treated"]
        warnings.append(RunWarning.counted(
            "treated_not_matched", "{lost} of {pool} treated units have no match "
            "(caliper, exact columns or common support): the estimate applies to the matched treated only",
            lost=lost, pool=res.counts['pool']['treated']))
    sections = {"balance": bal, "matching": res.matching, "attrition": _attrition(res, primary_missing)}
    if subgroup_frames:
        from evalkit.estimate.design_subgroups import subgroup_section

        sections["subgroups"], caveats = subgroup_section(evaluation, subgroup_frames)
        warnings += caveats
    sections["matching"]["missing"] = res.missing
    if res.propensity is not None:
        sections["propensity"] = res.propensity
    return Analysis(estimates=tuple(estimates), flow=tuple(flow), warnings=tuple(warnings), sections=sections,
                    analysed_data=analysed)


def subgroup_frame(res: MatchResult, evaluation, indicator: str, timepoint: str, y: np.ndarray):
    """The matched (or weighted) sample of one outcome as the subgroup engine reads it: the rows,
    weights and clusters :func:`effect` uses, with the plan's subgroup columns beside them."""
    from evalkit.estimate import subgroups as sg
    from evalkit.estimate.design_subgroups import OutcomeFrame, with_subgroups

    long = res.long
    rows = long["row"].to_numpy()
    yy = np.asarray(y, float)[rows]
    ok = ~np.isnan(yy)
    lg = long[ok].reset_index(drop=True)
    frame = pd.DataFrame({"outcome": yy[ok], "treated": lg["treated"].to_numpy().astype(int),
                          "weight": lg["weight"].to_numpy(float), "matched_set": lg["set"].to_numpy(),
                          "unit": lg["unit"].to_numpy()})
    covariates: list[str] = []
    if res.options.adjust and res.design is not None:
        Z = res.design.model_matrix()[rows[ok]]
        for j in range(Z.shape[1]):
            frame[f"z{j}"] = Z[:, j]
            covariates.append(f"z{j}")
    frame = with_subgroups(frame, evaluation, res.pool, rows[ok])
    ipw = res.options.method.value == "ipw"
    model = sg.EffectModel(
        design=sg.Design.weighting if ipw else sg.Design.matched_comparison, outcome="outcome", treatment="treated",
        weights="weight", clusters=tuple({"set": "matched_set"}.get(c, c) for c in res.clusters), covariates=tuple(covariates), unit="unit",
        covariates_by_treatment=bool(covariates),
        target=sg.Target.treated if res.options.estimand.value == "att" else sg.Target.all)
    return OutcomeFrame(indicator, timepoint, frame, model)


def _holm(estimates: list[Estimate], estimand: str) -> list[Estimate]:
    """Holm across the main estimate (ATT/ATE) of each indicator and follow-up; risk ratios and
    matched DiD repeat those comparisons and stay out of the family."""
    idx = [i for i, e in enumerate(estimates) if e.estimand == estimand]
    out = list(estimates)
    _holm_family(out, idx, f"{len(idx)} main estimates (one per indicator and follow-up)")
    return out


def _attrition(res: MatchResult, primary_missing: dict | None) -> dict:
    c = res.counts
    groups = {}
    for g in ("treated", "comparison"):
        lost = primary_missing[g] if primary_missing else 0
        matched = c["matched"][g]
        groups[g] = {"in_data": c["in_data"][g], "missing_covariates": c["in_data"][g] - c["pool"][g],
                     "discarded": c["discarded"][g], "matched": matched, "missing_outcome": lost,
                     "analysed": matched - lost, "lost_share": lost / matched if matched else None}
    groups["treated"]["unmatched"] = c["unmatched_treated"]
    lost = sum(groups[g]["missing_outcome"] for g in groups)
    total = sum(groups[g]["matched"] for g in groups)
    overall = lost / total if total else None
    diff = (groups["treated"]["lost_share"] - groups["comparison"]["lost_share"]
            if None not in (groups["treated"]["lost_share"], groups["comparison"]["lost_share"]) else None)
    return {"overall": overall, "differential": diff, "groups": groups,
            "definition": "share of matched units without the primary outcome (the analytic sample's attrition); "
                          "units left out for missing covariates, outside common support or without a match "
                          "are counted apart and change whom the estimate describes, not its bias from attrition"}


def _analysed_frame(res: MatchResult, evaluation, outcomes) -> pd.DataFrame:
    d = evaluation.data
    long = res.long
    rows = long["row"].to_numpy()
    out = pd.DataFrame({d.id: res.ids[rows], d.treatment: long["treated"].to_numpy(),
                        "matched_set": long["set"].to_numpy(), "weight": long["weight"].to_numpy(),
                        "unit_weight": res.unit_weights[rows]})
    if res.model is not None:
        out["score"] = res.model.score[rows]
        out["distance"] = res.distance[rows]
    cols = list(dict.fromkeys(list(evaluation.covariates) + [c for _i, _n, c, b in outcomes]
                              + [b for _i, _n, _c, b in outcomes if b]))
    for c in cols:
        if c not in out:
            out[c] = res.pool[c].to_numpy()[rows]
    return out


def matched_data(evaluation, frame: pd.DataFrame | None = None, seed: int | None = None) -> pd.DataFrame:
    """The analysed rows (one per unit per matched set) with weights, matched-set id and score.

    They hold person identifiers: keep them out of anything published."""
    from evalkit.data.checks import check_location, prepared_frame

    if frame is None:
        from evalkit.data.load import file_kind, read_data_files

        mt = evaluation.matching or Matching()
        cols = [evaluation.data.id, evaluation.data.treatment, *evaluation.covariates, *evaluation.subgroups,
                *mt.exact, *mt.calipers, mt.score_column] + [c for _i, _n, col, base in _outcomes(evaluation) for c in (col, base)]
        check_location(evaluation.data)
        frame = read_data_files(evaluation.data, list(dict.fromkeys(c for c in cols if c)))
        # one file: its lines in messages; two (participants, pool) stacked: rows of the frame
        kind = file_kind(evaluation.data.path) if evaluation.data.comparison is None else "frame"
        frame = prepared_frame(evaluation, frame, kind)
    else:
        frame = prepared_frame(evaluation, frame)  # checked and in canonical order, as evalkit.run does
    return analyse(evaluation, frame, evaluation.seed if seed is None else seed).analysed_data
