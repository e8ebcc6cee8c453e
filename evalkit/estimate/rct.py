"""Randomised controlled trials that evalkit analyses itself: intention-to-treat effects.

Units are analysed in the arm they were randomised to (``data.treatment`` is the assignment,
not the intervention received), so the estimate is the intention-to-treat (ITT) effect. For
each indicator and follow-up timepoint, on the units with that outcome:

- score, rate, proportion and count indicators: difference in means by OLS of the follow-up
  on the arm, adjusted for the baseline of the same indicator when the plan has one (ANCOVA,
  which is unbiased under randomisation and more precise) and for the plan's covariates;
- binary indicators: risk difference from the same linear model, with the unadjusted risk
  ratio beside it;
- count indicators also get a rate ratio (Poisson model, robust standard errors).

Standard errors are heteroskedasticity-robust (HC2, which for a two-arm difference in means
equals Welch's) or cluster-robust (CR1, t with G - 1 df) when the plan names a ``cluster``, as
cluster-randomised school trials need. Baseline balance (SMD, pooled SD) and attrition by arm
are reported for the evidence rating.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError
from evalkit.estimate import Analysis
from evalkit.estimate import _stats as st
from evalkit.estimate._columns import check_ids as _check_ids
from evalkit.estimate._columns import numeric_column as _numeric_column
from evalkit.estimate._stats import finite_or_none as _f
from evalkit.estimate._stats import good_direction as _good
from evalkit.estimate._stats import holm_family as _holm_family
from evalkit.results import EffectSize, Estimate, FlowStage, RunWarning
from evalkit.spec import model as m
from evalkit.spec.raw import IndicatorType

DESIGN = "rct"
CI_LEVEL = 0.95
FEW_PER_ARM = 20
FEW_CLUSTERS = 30  # as evalkit.estimate.wild_bootstrap.FEW_CLUSTERS: below it the bootstrap is reported too
UNITS = {IndicatorType.score: "points", IndicatorType.rate: "rate", IndicatorType.proportion: "proportion",
         IndicatorType.count: "count per unit", IndicatorType.binary: "proportion (risk difference)"}


def _ols(y: np.ndarray, X: np.ndarray, clusters: np.ndarray | None) -> tuple[float, float, int, str]:
    """Coefficient and robust SE of the arm (column 1 of X), with the df for its t interval."""
    import statsmodels.api as sm

    model = sm.OLS(y, X)
    if clusters is not None:
        codes = pd.factorize(clusters)[0]
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes, "use_correction": True, "df_correction": True})
        groups = int(codes.max()) + 1
        return float(fit.params[1]), float(fit.bse[1]), groups - 1, f"CR1 cluster-robust ({groups} clusters)"
    fit = model.fit(cov_type="HC2")
    return float(fit.params[1]), float(fit.bse[1]), int(len(y) - X.shape[1]), "HC2 robust"


def poisson_robust(y: np.ndarray, X: np.ndarray, clusters: np.ndarray | None) -> tuple[float, float]:
    """Log rate (or risk) ratio of column 1 of X by Poisson regression, with a robust sandwich SE.

    Clustered: CR1 with G/(G-1) only, as R ``sandwich::vcovCL`` on a glm (type HC0) and Stata
    ``glm, vce(cluster)``; otherwise HC0 (R ``sandwich::sandwich``)."""
    import statsmodels.api as sm

    # a tight tolerance: the default (1e-8 on the deviance) leaves the ratio off R's in the 8th digit
    fit = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-13, maxiter=200)
    mu = fit.fittedvalues
    bread = np.linalg.inv(X.T @ (X * mu[:, None]))
    scores = X * (y - mu)[:, None]
    if clusters is not None:
        codes = pd.factorize(pd.Series(clusters), sort=True)[0]
        G = int(codes.max()) + 1
        scores = np.column_stack([np.bincount(codes, weights=scores[:, j], minlength=G) for j in range(X.shape[1])])
        factor = G / (G - 1)
    else:
        factor = 1.0
    V = bread @ (scores.T @ scores) @ bread * factor
    return float(fit.params[1]), float(np.sqrt(V[1, 1]))


def _log_ratio(y: np.ndarray, arm: np.ndarray, clusters: np.ndarray | None) -> tuple[float, float]:
    return poisson_robust(y, np.column_stack([np.ones_like(arm), arm]), clusters)


def ratio_convention(clusters) -> dict:
    if clusters is not None:
        return {"se_convention": "CR1 on the log scale, G/(G-1) (R sandwich::vcovCL on a glm, Stata glm, "
                                 "vce(cluster))", "reference_distribution": "normal", "convention_id": "cr1_glm_z"}
    return {"se_convention": "HC0 on the log scale (R sandwich::sandwich, Zou 2004 modified Poisson)",
            "reference_distribution": "normal", "convention_id": "hc0_z"}


def _itt_convention(clusters, df: int) -> dict:
    if clusters is not None:
        return {"se_convention": "CR1, G/(G-1) x (N-1)/(N-K) (Stata regress, vce(cluster); R sandwich::vcovCL "
                                 "type HC1)", "reference_distribution": f"t(G-1) = t({df})", "convention_id": "cr1_t"}
    return {"se_convention": "HC2 (R sandwich::vcovHC type HC2; Welch for a two-arm difference)",
            "reference_distribution": f"t(N-K) = t({df})", "convention_id": "hc2_t"}


def _bootstrap(y: np.ndarray, X: np.ndarray, clusters: np.ndarray, seed: int) -> dict | None:
    """Wild cluster restricted bootstrap of the arm's coefficient when clusters are few (< 30)."""
    from evalkit.estimate import wild_bootstrap as wb

    G = len(pd.unique(clusters))
    if G >= wb.FEW_CLUSTERS:
        return None
    n, k = X.shape
    return wb.wild_cluster_bootstrap(y, X, clusters, 1, seed=seed, small_sample=G / (G - 1) * (n - 1) / (n - k))


def _design_matrix(arm, baseline, covariates):
    parts = [np.ones_like(arm), arm]
    if baseline is not None:
        parts.append(baseline)
    if covariates is not None and covariates.shape[1]:
        parts.append(covariates)
    return np.column_stack(parts)


def _covariate_matrix(evaluation: m.Evaluation, frame: pd.DataFrame,
                      warnings: list[RunWarning]) -> tuple[np.ndarray | None, list[str]]:
    if not evaluation.covariates:
        return None, []
    cols = []
    for col in evaluation.covariates:
        series = frame[col]
        if series.isna().any():
            raise DataError(f"covariate '{col}' is missing for {int(series.isna().sum())} unit(s); an ITT analysis "
                            "adjusts only for complete baseline covariates (remove it from the plan or impute it)")
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            cols.append(series.astype(float).rename(col))
        else:  # categories: indicator columns, first level as reference
            dummies = pd.get_dummies(series.astype(str), prefix=col, drop_first=True, dtype=float)
            cols += [dummies[c] for c in dummies.columns]
    matrix = pd.concat(cols, axis=1)
    constant = [c for c in matrix.columns if matrix[c].nunique() < 2]
    if constant:
        # a covariate that does not vary cannot be adjusted for; say so rather than fail
        warnings.append(RunWarning("option_ignored", "not adjusted for (no variation in the data): "
                                   + ", ".join(constant)))
        matrix = matrix.drop(columns=constant)
    if matrix.shape[1] == 0:
        return None, []
    return matrix.to_numpy(dtype=float), list(matrix.columns)


def _balance_rows(evaluation, frame, arm) -> list[dict]:
    rows = []
    baselines = [tp.baseline for tp in evaluation.timepoints.values() if tp.baseline]
    adjusted = set(evaluation.covariates) | set(baselines)
    for col in dict.fromkeys(list(evaluation.covariates) + baselines):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float) \
            if pd.api.types.is_numeric_dtype(frame[col]) else None
        if values is None:
            continue
        seen = ~np.isnan(values)
        smd = st.smd(values[seen & (arm == 1)], values[seen & (arm == 0)])
        rows.append({"covariate": col, "smd": _f(smd), "mean_treated": _f(np.nanmean(values[arm == 1])),
                     "mean_comparison": _f(np.nanmean(values[arm == 0])),
                     "adjusted": col in adjusted})
    return rows


def analyse(evaluation: m.Evaluation, frame: pd.DataFrame, seed: int) -> Analysis:
    import statsmodels.api as sm
    from scipy import stats

    _check_ids(evaluation, frame)
    treat_col = evaluation.data.treatment
    for role, col in (("data.treatment", treat_col), ("cluster", evaluation.cluster),
                      *(("covariates", c) for c in evaluation.covariates)):
        if col is not None and col not in frame.columns:
            raise DataError(f"{evaluation.id}: column '{col}' ({role}) is not in the data; the data has "
                            + ", ".join(map(str, frame.columns)))
    arm_raw = pd.to_numeric(frame[treat_col], errors="coerce")
    if arm_raw.isna().any() or not arm_raw.isin([0, 1]).all():
        raise DataError(f"treatment column '{treat_col}' must be 0/1 on every row (the randomised arm)")
    arm = arm_raw.to_numpy(dtype=float)
    n_arm = {1: int((arm == 1).sum()), 0: int((arm == 0).sum())}
    if min(n_arm.values()) < 2:
        raise EstimationError(f"{evaluation.id}: {n_arm[1]} unit(s) in the treated arm and {n_arm[0]} in the "
                              "comparison arm; a trial needs at least two in each")
    clusters = frame[evaluation.cluster].to_numpy() if evaluation.cluster else None
    if clusters is not None and pd.isna(clusters).any():
        raise DataError(f"cluster column '{evaluation.cluster}' is empty for some units; expected a cluster on every row")
    warnings = [RunWarning("intention_to_treat", "units are analysed in the arm they were randomised to "
                           f"('{treat_col}'), whatever they received: these are intention-to-treat effects")]
    Z, z_names = _covariate_matrix(evaluation, frame, warnings)
    if min(n_arm.values()) < FEW_PER_ARM:
        warnings.append(RunWarning.counted("few_per_arm", "only {smaller} units in the smaller arm "
                                           f"(fewer than {FEW_PER_ARM}): estimates are imprecise",
                                           smaller=min(n_arm.values())))
    if clusters is not None and len(pd.unique(clusters)) < FEW_CLUSTERS:
        G = len(pd.unique(clusters))
        warnings.append(RunWarning("few_clusters", f"{G} clusters: cluster-robust standard errors are unreliable "
                                   f"below about {FEW_CLUSTERS}; the wild cluster bootstrap p-value and CI are "
                                   "reported beside them" + ("; with fewer than 10 clusters even the bootstrap is "
                                                             "fragile" if G < 10 else "")))
    flow = [FlowStage("randomised", n_arm[1], group="treated"), FlowStage("randomised", n_arm[0], group="comparison")]
    estimates: list[Estimate] = []
    attrition_overall, attrition_diff, attrition_by_timepoint = {}, {}, {}
    subgroup_frames = []
    analysed_keep = {}  # indicator -> rows analysed at its first follow-up (for the analysed sample's balance)
    for ind_id, tp in evaluation.timepoints.items():
        ind = tp.indicator
        baseline = _numeric_column(frame, tp.baseline, ind, "baseline") if tp.baseline else None
        for tp_name, column in tp.follow_ups:
            y = _numeric_column(frame, column, ind, tp_name)
            keep = ~np.isnan(y) & (np.ones_like(y, bool) if baseline is None else ~np.isnan(baseline))
            lost = {g: 1 - keep[arm == g].mean() for g in (1, 0)}
            # the first follow-up is the one the primary estimate uses; later ones are kept by timepoint
            attrition_overall.setdefault(ind_id, float(1 - keep.mean()))
            analysed_keep.setdefault(ind_id, keep)
            attrition_diff.setdefault(ind_id, float(lost[1] - lost[0]))
            attrition_by_timepoint[f"{ind_id}@{tp_name}"] = {"overall": float(1 - keep.mean()),
                                                             "differential": float(lost[1] - lost[0])}
            for g, name in ((1, "treated"), (0, "comparison")):
                flow.append(FlowStage("analysed", int((keep & (arm == g)).sum()), group=name, indicator=ind_id))
            if min((keep & (arm == 1)).sum(), (keep & (arm == 0)).sum()) < 2:
                warnings.append(RunWarning("no_estimate", f"{ind_id} at {tp_name}: fewer than two units with the "
                                                         "outcome in an arm, so no effect was estimated", ind_id))
                continue
            a, yy = arm[keep], y[keep]
            if evaluation.subgroups:
                subgroup_frames.append(_subgroup_frame(evaluation, frame, ind_id, tp_name, keep, yy, a,
                                                       baseline, Z, z_names, clusters))
            X = _design_matrix(a, baseline[keep] if baseline is not None else None, Z[keep] if Z is not None else None)
            cl = clusters[keep] if clusters is not None else None
            est, se, df, se_kind = _ols(yy, X, cl)
            boot = _bootstrap(yy, X, cl, seed) if cl is not None and se > 0 else None
            crit = float(st.t_crit(df, CI_LEVEL))
            if not (math.isfinite(se) and se > 0):  # e.g. no variation in the outcome: no inference
                warnings.append(RunWarning("no_inference", f"{ind_id} at {tp_name}: the standard error is zero or "
                                           "undefined (no variation?), so no CI or p-value is given", ind_id))
            p = float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else None
            adjusted = ["baseline"] if baseline is not None else []
            adjusted += z_names
            method = ("OLS of follow-up on arm" + (f", adjusted for {', '.join(adjusted)}" if adjusted else "")
                      + f"; {se_kind} standard errors, t({df}) interval"
                      + ("; wild cluster bootstrap beside it" if boot else ""))
            sd_pooled = math.sqrt((yy[a == 1].var(ddof=1) + yy[a == 0].var(ddof=1)) / 2)
            es = None
            if ind.type is IndicatorType.binary:
                p1, p0 = yy[a == 1].mean(), yy[a == 0].mean()
                if p1 > 0 and p0 > 0:
                    # unadjusted risk ratio: log-link Poisson of the outcome on the arm with a robust
                    # sandwich (Zou 2004), clustered by the plan's cluster where there is one (Zou &
                    # Donner 2013); without clusters this is the usual delta-method log-RR SE
                    log_rr, log_se = _log_ratio(yy, a, cl)
                    z = st.z_crit(CI_LEVEL)
                    es = EffectSize("risk_ratio", math.exp(log_rr), math.exp(log_rr - z * log_se),
                                    math.exp(log_rr + z * log_se))
            elif sd_pooled > 0:
                g = est / sd_pooled * st.hedges_correction(len(yy) - 2)
                es = EffectSize("hedges_g", g)
            base = dict(indicator=ind_id, design=DESIGN, timepoints=("baseline" if tp.baseline else "randomisation", tp_name),
                        n=int(keep.sum()), units=UNITS[ind.type], comparison=f"treated vs comparison arm at {tp_name}",
                        ci_level=CI_LEVEL, n_treated=int((a == 1).sum()), n_comparison=int((a == 0).sum()),
                        subgroup="all")
            estimates.append(Estimate(
                estimand="itt", estimate=est, std_error=_f(se) if se > 0 else None,
                ci_low=est - crit * se if se > 0 else None, ci_high=est + crit * se if se > 0 else None,
                p_value=p, method=method, direction_good=_good(est, ind), effect_size=es,
                details={"mean_treated": _f(yy[a == 1].mean()), "mean_comparison": _f(yy[a == 0].mean()),
                         "df": df, **_itt_convention(cl, df), **({"wild_bootstrap": boot} if boot else {}),
                         **({"effect_size_convention": ratio_convention(cl)} if es is not None
                            and es.kind == "risk_ratio" else {})}, **base))
            if ind.type is IndicatorType.count and yy[a == 0].sum() > 0 and yy[a == 1].sum() > 0:
                b, s = poisson_robust(yy, X, cl)
                z = st.z_crit(CI_LEVEL)
                estimates.append(Estimate(
                    estimand="rate_ratio", estimate=math.exp(b), std_error=s, ci_low=math.exp(b - z * s),
                    ci_high=math.exp(b + z * s), p_value=float(2 * stats.norm.sf(abs(b / s))),
                    method="Poisson regression of follow-up on arm" + (f", adjusted for {', '.join(adjusted)}" if adjusted else "")
                    + f"; {'CR1 cluster-robust' if cl is not None else 'HC0 robust'} standard errors (SE on the "
                    "log scale), normal", details=ratio_convention(cl),
                    direction_good=_good(math.exp(b), ind, null=1.0), **{**base, "units": "ratio"}))
    if not estimates:
        raise EstimationError(f"{evaluation.id}: no indicator has outcomes in both arms; nothing to estimate")
    # Holm across the main (itt) estimates; the primary outcome is marked
    main = [i for i, e in enumerate(estimates) if e.estimand == "itt"]
    _holm_family(estimates, main)
    first_primary = next((i for i in main if estimates[i].indicator == evaluation.primary_outcome.id), None)
    if first_primary is not None:
        estimates[first_primary] = replace(estimates[first_primary], primary=True)
    primary = evaluation.primary_outcome.id
    balance = {"rows": _balance_rows(evaluation, frame, arm), "sample": "randomised",
               "formula": "(mean treated - mean comparison) / sqrt((sd_treated^2 + sd_comparison^2) / 2), at randomisation"}
    if primary in analysed_keep:
        # with high attrition, WWC asks for baseline equivalence of the sample actually analysed
        keep = analysed_keep[primary]
        balance["analysed"] = {"rows": _balance_rows(evaluation, frame[keep].reset_index(drop=True), arm[keep]),
                               "sample": "analysed", "indicator": primary,
                               "formula": "as above, among the units analysed for the primary outcome"}
    sections = {
        "rct": {"intention_to_treat": True, "assignment_column": treat_col, "randomised": {"treated": n_arm[1],
                                                                                          "comparison": n_arm[0]},
                "cluster": evaluation.cluster},
        "balance": balance,
        "attrition": {"overall": attrition_overall, "differential": attrition_diff, "primary_outcome": primary,
                      "by_timepoint": attrition_by_timepoint,
                      "definition": "share randomised without the outcome (and baseline, where adjusted), at each "
                                    "indicator's first follow-up (later ones under by_timepoint); "
                                    "differential = treated minus comparison"},
    }
    if subgroup_frames:
        from evalkit.estimate.design_subgroups import subgroup_section

        sections["subgroups"], caveats = subgroup_section(evaluation, subgroup_frames)
        warnings += caveats
    return Analysis(estimates=tuple(estimates), flow=tuple(flow), warnings=tuple(warnings), sections=sections)


def _subgroup_frame(evaluation, frame, indicator, timepoint, keep, y, arm, baseline, Z, z_names, clusters):
    """The ITT analysis of one outcome as the subgroup engine reads it: follow-up, randomised arm,
    the baseline and covariates it adjusts for (as the ITT model enters them), the plan's cluster."""
    from evalkit.estimate import subgroups as sg
    from evalkit.estimate.design_subgroups import OutcomeFrame, with_subgroups

    rows = np.flatnonzero(keep)
    part = pd.DataFrame({"outcome": y, "arm": arm.astype(int)})
    covariates = []
    if baseline is not None:
        part["baseline"] = baseline[rows]
        covariates.append("baseline")
    if Z is not None:
        for j, name in enumerate(z_names):
            part[f"z{j}"] = Z[rows, j]
            covariates.append(f"z{j}")
    if clusters is not None:
        part[evaluation.cluster] = clusters[rows]
    part = with_subgroups(part, evaluation, frame, rows)
    model = sg.EffectModel(design=sg.Design.rct, outcome="outcome", treatment="arm", covariates=tuple(covariates),
                           clusters=(evaluation.cluster,) if clusters is not None else ())
    return OutcomeFrame(indicator, timepoint, part, model)
