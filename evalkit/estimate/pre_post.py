"""Pre/post (before-after, single group) change: the design feasibility and pilot studies report.

For each indicator and each follow-up timepoint, on complete baseline/follow-up pairs:

- score, rate and proportion indicators: mean change with a t-based CI and paired t-test
  (cluster-robust CR1 with t(G-1) when the plan names a ``cluster``), Wilcoxon signed-rank as
  a robustness check, d_z, d_av and Hedges' g_av, and the baseline/follow-up correlation;
- binary indicators: change in proportion with Newcombe's (1998) method-10 CI for paired
  data and McNemar's test (exact below 25 discordant pairs); clustered: CR1 on the paired
  differences;
- count indicators: mean change as for scores, plus a rate ratio (ratio of totals) with a
  robust CI.

Reliable change (Jacobson & Truax) is added for indicators whose instrument gives a
reliability. Warnings record what a careful reader must know; a pre/post design never
supports a causal claim, and the results always say so.
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
from evalkit.estimate._columns import data_rows as _rows
from evalkit.estimate._columns import indicator_range as _range
from evalkit.estimate._columns import numeric_column as _numeric_column
from evalkit.estimate._stats import finite_or_none as _f
from evalkit.estimate._stats import good_direction as _good
from evalkit.estimate._stats import holm_family as _holm_family
from evalkit.results import EffectSize, Estimate, FlowStage, RunWarning
from evalkit.spec import model as m
from evalkit.spec.raw import Direction, IndicatorType, Prevention

DESIGN = "pre_post"
CI_LEVEL = 0.95
MAIN_ESTIMANDS = ("mean_change", "change_in_proportion")

# Honesty thresholds (each a convention a reader can look up):
FEW_PAIRS = 20  # the rule: fewer than 20 complete pairs gives unstable estimates
HIGH_ATTRITION = 0.20  # WWC/EIF-style concern above 20% overall attrition
DIFFERENTIAL_ATTRITION = 0.10  # attrition differing by >10 points between subgroup levels
DROPOUT_SMD = 0.25  # WWC: baseline differences >0.25 SD cannot be adjusted away
FLOOR_CEILING_SHARE = 0.15  # Terwee et al. (2007): >15% at the lowest/highest score
FEW_CLUSTERS = 20  # cluster-robust SEs are unreliable with few clusters (Cameron & Miller 2015)
RTM_NORM_SD = 0.5  # baseline >= 0.5 norm SD on the bad side of the norm: selection on need
MAX_SUBGROUP_LEVELS = 12  # more levels than this is a continuous variable, not a subgroup
ALPHA = 0.05  # only to flag when the t-test and its rank-based robustness check disagree

SCORE_LIKE = (IndicatorType.score, IndicatorType.rate, IndicatorType.proportion)
UNITS = {IndicatorType.score: "points", IndicatorType.rate: "rate", IndicatorType.proportion: "proportion",
         IndicatorType.count: "count per participant", IndicatorType.binary: "proportion"}


# ---------------------------------------------------------------------------------------------
# input checks: every problem names the column, the indicator and the rows


def _level_label(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer, np.bool_)):
        return str(int(value))
    return str(value)


def _subgroups(evaluation: m.Evaluation, frame: pd.DataFrame, warnings: list[RunWarning]):
    """[(column, label, mask)] for every level of every subgroup column, in a stable order."""
    out = []
    for col in evaluation.subgroups:
        if col not in frame.columns:
            raise DataError(f"subgroup column '{col}' is not in the data")
        series = frame[col]
        missing = series.isna().to_numpy()
        levels = sorted(series.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
        if len(levels) > MAX_SUBGROUP_LEVELS:
            warnings.append(RunWarning("subgroup_too_many_levels",
                                       f"subgroup '{col}' has {len(levels)} distinct values (more than "
                                       f"{MAX_SUBGROUP_LEVELS}); it looks continuous, so no subgroup estimates "
                                       "were made; band it first (e.g. age bands)"))
            continue
        if missing.any():
            warnings.append(RunWarning.counted(
                "subgroup_missing", f"subgroup '{col}' is missing for {{missing}} participant(s); they are in the "
                "overall estimates but in no subgroup estimate", missing=int(missing.sum())))
        values = series.to_numpy()
        for level in levels:
            out.append((col, f"{col}={_level_label(level)}", (values == level) & ~missing))
    return out


# ---------------------------------------------------------------------------------------------
# estimators for one comparison (indicator x follow-up timepoint x subgroup)


def _score(ind, pre, post, clusters, base) -> tuple[list[Estimate], list[RunWarning]]:
    d = post - pre
    n = d.size
    warns: list[RunWarning] = []
    t = st.paired_mean(d, CI_LEVEL)
    mean = float(t["mean"])
    sd_pre = float(pre.std(ddof=1)) if n > 1 else math.nan
    sd_post = float(post.std(ddof=1)) if n > 1 else math.nan
    sd_d = float(t["sd"])
    d_z = mean / sd_d if math.isfinite(float(t["se"])) else math.nan
    sd_av = (sd_pre + sd_post) / 2
    d_av = mean / sd_av if n > 1 and sd_av > 0 else math.nan
    j = float(st.hedges_correction(n - 1)) if n > 1 else math.nan
    g_av = d_av * j
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(np.corrcoef(pre, post)[0, 1]) if n > 2 and sd_pre > 0 and sd_post > 0 else math.nan
    wil = st.wilcoxon_signed_rank(d) if n > 0 else None
    details = {
        **base["details"], "mean_baseline": float(pre.mean()), "mean_follow_up": float(post.mean()),
        "sd_baseline": _f(sd_pre), "sd_follow_up": _f(sd_post), "sd_change": _f(sd_d),
        "correlation_baseline_follow_up": _f(r),
        "paired_t": {"t": _f(t["t"]), "df": t["df"], "p_value": _f(t["p"]), "std_error": _f(t["se"]),
                     "ci_low": _f(t["ci_low"]), "ci_high": _f(t["ci_high"])},
        "wilcoxon_signed_rank": wil,
        "effect_sizes": {"d_z": _f(d_z), "d_av": _f(d_av), "hedges_g_av": _f(g_av), "hedges_correction": _f(j),
                         "formulas": "d_z = mean change / SD of change; d_av = mean change / mean of baseline and "
                                     "follow-up SDs; g_av = d_av * (1 - 3/(4(n-1) - 1)) (Lakens 2013)"},
    }
    method = "mean of paired differences (follow-up - baseline); t-based CI and paired t-test"
    se, lo, hi, p = t["se"], t["ci_low"], t["ci_high"], t["p"]
    if clusters is not None:
        cr = st.cluster_mean(d, clusters, CI_LEVEL)
        se, lo, hi, p = cr["se"], cr["ci_low"], cr["ci_high"], cr["p"]
        method = (f"mean of paired differences (follow-up - baseline); cluster-robust (CR1) standard error by "
                  f"'{base['cluster']}' ({cr['clusters']} clusters), t with {cr['df']} df; the paired t and "
                  "Wilcoxon tests in details ignore clustering")
        details["clusters"] = cr["clusters"]
    if n < 2 or not math.isfinite(float(se)):
        warns.append(RunWarning("no_inference", f"{ind.id} ({base['label']}): "
                                + ("only one complete pair" if n < 2
                                   else "every participant changed by the same amount")
                                + "; no standard error, CI or p-value", ind.id))
    if wil is not None and wil["p_value"] is not None and math.isfinite(float(p)) \
            and (float(p) < ALPHA) != (wil["p_value"] < ALPHA):
        warns.append(RunWarning("tests_disagree", f"{ind.id} ({base['label']}): the "
                                f"{'cluster-robust' if clusters is not None else 'paired'} t-test (p = {float(p):.3g}) "
                                f"and the Wilcoxon signed-rank test (p = {wil['p_value']:.3g}) disagree at the "
                                f"{ALPHA:g} level; the change may rest on a few large or skewed differences",
                                ind.id))
    est = Estimate(
        indicator=ind.id, design=DESIGN, estimand="mean_change", timepoints=base["timepoints"], n=n,
        estimate=mean, std_error=_f(se), ci_low=_f(lo), ci_high=_f(hi), p_value=_f(p), method=method,
        units=UNITS[ind.type], direction_good=_good(mean, ind),
        effect_size=EffectSize("hedges_g_av", _f(g_av)) if math.isfinite(g_av) else None,
        subgroup=base["subgroup"], comparison=base["comparison"], ci_level=CI_LEVEL, details=details)
    return [est], warns


def _binary(ind, pre, post, clusters, base) -> tuple[list[Estimate], list[RunWarning]]:
    n = pre.size
    pre1, post1 = pre == 1, post == 1
    a = int(np.sum(pre1 & post1))
    b = int(np.sum(pre1 & ~post1))
    c = int(np.sum(~pre1 & post1))
    dd = n - a - b - c
    diff, lo, hi = (float(v) for v in st.newcombe_paired(a, b, c, dd, CI_LEVEL))
    se = float(st.paired_proportion_se(b, c, n))
    mc = st.mcnemar(b, c)
    rr, rr_lo, rr_hi = st.paired_risk_ratio(a, b, c, CI_LEVEL)
    details = {
        **base["details"], "table": {"both": a, "baseline_only": b, "follow_up_only": c, "neither": dd},
        "proportion_baseline": (a + b) / n, "proportion_follow_up": (a + c) / n, "mcnemar": mc,
        "ci_method": "Newcombe (1998) method 10: Wilson score limits of each proportion combined with the "
                     "phi correlation of the paired table",
        "std_error_method": "Wald SE for paired proportions, sqrt((b + c) - (c - b)^2/n)/n",
        "risk_ratio": {"value": _f(rr), "ci_low": _f(rr_lo), "ci_high": _f(rr_hi),
                       "method": "p_follow_up / p_baseline, var(log RR) = (b + c)/((a + b)(a + c))"},
    }
    p = mc["p_value"]
    method = ("change in proportion (follow-up - baseline) on paired data; Newcombe (1998, method 10) CI; "
              + mc["method"])
    if clusters is not None:
        lo_nc, hi_nc, se_nc = lo, hi, se
        cr = st.cluster_mean(post - pre, clusters, CI_LEVEL)
        se, lo, hi, p = cr["se"], cr["ci_low"], cr["ci_high"], cr["p"]
        method = (f"change in proportion (follow-up - baseline); cluster-robust (CR1) standard error by "
                  f"'{base['cluster']}' ({cr['clusters']} clusters), t with {cr['df']} df; McNemar's test and the "
                  "Newcombe CI in details ignore clustering")
        details["unclustered"] = {"ci_low": _f(lo_nc), "ci_high": _f(hi_nc), "std_error": _f(se_nc),
                                  "p_value": mc["p_value"]}
        details["clusters"] = cr["clusters"]
    est = Estimate(
        indicator=ind.id, design=DESIGN, estimand="change_in_proportion", timepoints=base["timepoints"], n=n,
        estimate=diff, std_error=_f(se), ci_low=_f(lo), ci_high=_f(hi), p_value=_f(p), method=method,
        units="proportion", direction_good=_good(diff, ind),
        effect_size=EffectSize("risk_ratio", float(rr), _f(rr_lo), _f(rr_hi)) if math.isfinite(rr) else None,
        subgroup=base["subgroup"], comparison=base["comparison"], ci_level=CI_LEVEL, details=details)
    warns = []
    if b + c == 0:
        warns.append(RunWarning("no_discordant_pairs", f"{ind.id} ({base['label']}): nobody changed status between "
                                "baseline and follow-up; the CI reflects no observed change, not certainty", ind.id))
    return [est], warns


def _count(ind, pre, post, clusters, base) -> tuple[list[Estimate], list[RunWarning]]:
    estimates, warns = _score(ind, pre, post, clusters, base)
    rr = st.ratio_of_totals(pre, post, clusters, CI_LEVEL)
    if not math.isfinite(rr["ratio"]):
        warns.append(RunWarning("no_rate_ratio", f"{ind.id} ({base['label']}): no rate ratio, because the total "
                                "count is zero at baseline or follow-up (or there is one pair)", ind.id))
        return estimates, warns
    by = f"'{base['cluster']}'" if clusters is not None else "participant"
    estimates.append(Estimate(
        indicator=ind.id, design=DESIGN, estimand="rate_ratio", timepoints=base["timepoints"], n=pre.size,
        estimate=rr["ratio"], std_error=_f(rr["se_log"]), ci_low=_f(rr["ci_low"]), ci_high=_f(rr["ci_high"]),
        p_value=_f(rr["p"]), units="ratio", direction_good=_good(rr["ratio"], ind, 1.0),
        method=("ratio of total counts (follow-up / baseline), equal periods assumed; robust (sandwich) standard "
                f"error of log ratio clustered by {by}, normal CI; std_error is on the log scale"),
        effect_size=EffectSize("rate_ratio", rr["ratio"], _f(rr["ci_low"]), _f(rr["ci_high"])),
        subgroup=base["subgroup"], comparison=base["comparison"], ci_level=CI_LEVEL,
        details={**base["details"], "total_baseline": float(pre.sum()), "total_follow_up": float(post.sum())}))
    return estimates, warns


ESTIMATORS = {IndicatorType.binary: _binary, IndicatorType.count: _count}


# ---------------------------------------------------------------------------------------------
# reliable change


def _reliability(ind: m.Indicator, pre_all: np.ndarray):
    """(reliability, its source, sd, sd source) or None when the instrument gives no reliability."""
    inst = ind.instrument
    if inst is None or inst.reliability is None:
        return None
    kind = inst.reliability_kind.value if inst.reliability_kind is not None else "unspecified kind"
    source = f"instrument '{inst.name}' in the logic model ({kind})"
    if inst.norm_sd is not None:
        return inst.reliability, source, float(inst.norm_sd), "norm SD from the logic model's instrument"
    base = pre_all[~np.isnan(pre_all)]
    if base.size < 2:
        return None
    return inst.reliability, source, float(base.std(ddof=1)), "SD of this sample's baseline scores (no norm SD given)"


def _reliable_change_counts(d: np.ndarray, threshold: float, ind: m.Indicator) -> dict:
    up = int(np.sum(d > threshold))
    down = int(np.sum(d < -threshold))
    improved, deteriorated = (up, down) if ind.direction is Direction.increase else (down, up)
    n = int(d.size)
    return {"n": n, "improved": improved, "no_reliable_change": n - up - down, "deteriorated": deteriorated,
            "share_improved": improved / n if n else None, "share_deteriorated": deteriorated / n if n else None}


# ---------------------------------------------------------------------------------------------
# the design


def analyse(evaluation: m.Evaluation, frame: pd.DataFrame, seed: int) -> Analysis:
    """Pre/post change for every indicator in the plan's ``timepoints``; ``seed`` is unused (no randomness)."""
    _check_ids(evaluation, frame)
    frame = frame.reset_index(drop=True)
    n_in = len(frame)
    if n_in < 2:
        raise EstimationError(f"{evaluation.id}: the data hold one participant; a pre/post analysis needs at "
                              "least two complete baseline/follow-up pairs")
    warnings: list[RunWarning] = []
    clusters_all = None
    if evaluation.cluster:
        if evaluation.cluster not in frame.columns:
            raise DataError(f"cluster column '{evaluation.cluster}' is not in the data")
        cl = frame[evaluation.cluster]
        if cl.isna().any():
            raise DataError(f"cluster column '{evaluation.cluster}' is empty at {_rows(cl.isna().to_numpy())}; "
                            "expected a cluster id on every row")
        clusters_all = st._factorize(cl)[0]
    subgroups = _subgroups(evaluation, frame, warnings)
    # options a single-group change analysis cannot use: say so rather than drop them silently
    if evaluation.covariates:
        warnings.append(RunWarning("option_ignored", "covariates (" + ", ".join(evaluation.covariates) + ") are not "
                                   "used by a pre/post analysis: the change is unadjusted"))
    if evaluation.weights:
        warnings.append(RunWarning("option_ignored", f"weights ('{evaluation.weights}') are not used by a pre/post "
                                   "analysis: every complete pair counts once"))

    estimates: list[Estimate] = []
    flow: list[FlowStage] = [FlowStage("in_data", n_in, note="rows in the data file")]
    attrition: dict = {"definition": "share of participants in the data without a complete baseline/follow-up pair "
                                     "(overall); share of those with a baseline who have no follow-up "
                                     "(lost_after_baseline)", "by_indicator": {}}
    reliable: dict = {}
    rtm_selected: list[str] = []  # indicators at risk because participants were selected on need
    ordered = [i.id for i in evaluation.indicators if i.id in evaluation.timepoints]
    subgroup_frames = []
    primary_key = None
    for ind_id in ordered:
        tp = evaluation.timepoints[ind_id]
        ind = tp.indicator
        if tp.baseline is None:
            warnings.append(RunWarning("no_baseline", f"{ind.id}: the plan gives no baseline column, so no pre/post "
                                       "change can be estimated for it", ind.id))
            continue
        pre_all = _numeric_column(frame, tp.baseline, ind, "baseline")
        has_pre = ~np.isnan(pre_all)
        flow.append(FlowStage("with_baseline", int(has_pre.sum()), indicator=ind.id))
        estimator = ESTIMATORS.get(ind.type, _score)
        rel = _reliability(ind, pre_all) if ind.type in SCORE_LIKE else None
        attr_ind: dict = {}
        for tp_name, col in tp.follow_ups:
            post_all = _numeric_column(frame, col, ind, tp_name)
            has_post = ~np.isnan(post_all)
            pair = has_pre & has_post
            n_pairs = int(pair.sum())
            flow.append(FlowStage("with_follow_up", int(has_post.sum()), indicator=ind.id, note=tp_name))
            flow.append(FlowStage("analysed", n_pairs, indicator=ind.id,
                                  note=f"{tp_name}: complete baseline and {tp_name} pairs"))
            comparison = f"{tp_name} vs baseline"
            if primary_key is None and ind.id == evaluation.primary_outcome.id:
                primary_key = (ind.id, tp_name)
            # -- attrition and who dropped out
            attr = _attrition(n_in, has_pre, pair, pre_all)
            attr_ind[tp_name] = attr
            _attrition_warnings(ind, tp_name, attr, warnings)
            if n_pairs == 0:
                warnings.append(RunWarning("no_complete_pairs", f"{ind.id}: no participant has both a baseline "
                                           f"('{tp.baseline}') and a value at {tp_name} ('{col}'); nothing to estimate",
                                           ind.id))
                continue
            if ind.type in SCORE_LIKE:
                _floor_ceiling(ind, tp_name, pre_all[pair], post_all[pair], warnings)
            # -- overall and subgroup estimates
            groups = [("all", "all", np.ones(n_in, dtype=bool))] + subgroups
            for col_name, label, mask in groups:
                sel = pair & mask
                n_sel = int(sel.sum())
                what = comparison if label == "all" else f"{comparison}, {label}"
                if n_sel == 0:
                    warnings.append(RunWarning("no_complete_pairs", f"{ind.id} ({what}): no complete pairs; no "
                                               "estimate", ind.id))
                    continue
                base = {"timepoints": ("baseline", tp_name), "subgroup": label, "comparison": comparison,
                        "label": what, "cluster": evaluation.cluster,
                        "details": {"n_with_baseline": int((has_pre & mask).sum()),
                                    "n_dropped_no_follow_up": int((has_pre & ~has_post & mask).sum()),
                                    "n_dropped_no_baseline": int((~has_pre & has_post & mask).sum())}}
                cl = clusters_all[sel] if clusters_all is not None else None
                new, warns = estimator(ind, pre_all[sel], post_all[sel], cl, base)
                estimates += new
                warnings += warns
                if n_sel < FEW_PAIRS:
                    warnings.append(RunWarning.counted(
                        "few_pairs", f"{ind.id} ({what}): only {{pairs}} complete pairs (fewer than {FEW_PAIRS}); the "
                        "estimate is imprecise and tests have little power", ind.id, pairs=n_sel))
                if label == "all" and cl is not None:
                    g = int(np.unique(cl).size)
                    if g < FEW_CLUSTERS:
                        warnings.append(RunWarning("few_clusters", f"{ind.id} ({what}): only {g} clusters of "
                                                   f"'{evaluation.cluster}'; cluster-robust standard errors are "
                                                   f"unreliable with fewer than {FEW_CLUSTERS}", ind.id))
                if rel is not None:
                    _add_reliable_change(reliable, ind, rel, tp_name, label, pre_all[sel], post_all[sel])
                if label == "all":
                    _regression_to_mean(evaluation, ind, pre_all[sel], post_all[sel], warnings, rtm_selected)
            if evaluation.subgroups and n_pairs >= 2:
                subgroup_frames.append(_subgroup_frame(evaluation, frame, ind.id, tp_name, pre_all, post_all, pair))
            by_sub = _subgroup_attrition(ind, comparison, pair, subgroups, warnings)
            if by_sub:
                attr["by_subgroup"] = by_sub
        attrition["by_indicator"][ind.id] = attr_ind

    if not estimates:
        reasons = "; ".join(w.message for w in warnings if w.code in ("no_complete_pairs", "no_baseline"))
        raise EstimationError(f"{evaluation.id}: no estimate could be made: "
                              f"{reasons or 'no indicators with timepoints'}")

    estimates = _mark_primary_and_holm(estimates, primary_key)
    if primary_key is not None:
        attrition["overall"] = attrition["by_indicator"][primary_key[0]][primary_key[1]]["overall"]
        attrition["overall_indicator"] = primary_key[0]
    if rtm_selected:
        warnings.append(RunWarning(
            "regression_to_mean", f"participants were selected because of a problem "
            f"({evaluation.intervention.prevention.value} prevention): if selection followed a high-need baseline on "
            f"{', '.join(rtm_selected)}, part of the change is regression to the mean, expected to be about (1 - r) "
            "times the distance of the baseline mean from the population mean (r: test-retest reliability)"))
    warnings.append(RunWarning("no_causal_claim", "Pre/post change in a single group is not an estimate of the "
                               "programme's effect: without a comparison group, change from maturation, "
                               "regression to the mean, other services or measurement cannot be separated "
                               "from the programme's own contribution (EIF Level 2 evidence at most)."))
    sections = {"attrition": attrition}
    if reliable:
        sections["reliable_change"] = reliable
    if subgroup_frames:
        from evalkit.estimate.design_subgroups import subgroup_section

        sections["subgroups"], caveats = subgroup_section(evaluation, subgroup_frames)
        warnings += caveats
    analysed_cols = [c for c in [evaluation.data.id if evaluation.data else None] if c]
    return Analysis(estimates=tuple(estimates), flow=tuple(flow), warnings=tuple(_dedupe(warnings)),
                    sections=sections, analysed_data=frame[analysed_cols + _plan_columns(evaluation, frame)]
                    if analysed_cols else None)


def _subgroup_frame(evaluation: m.Evaluation, frame: pd.DataFrame, indicator: str, timepoint: str, pre, post, pair):
    """The complete pairs of one indicator as the subgroup engine reads them: the change score
    (follow-up minus baseline; for a 0/1 indicator its mean is the change in proportion), the
    plan's cluster and subgroup columns."""
    from evalkit.estimate import subgroups as sg
    from evalkit.estimate.design_subgroups import OutcomeFrame, with_subgroups

    rows = np.flatnonzero(pair)
    part = pd.DataFrame({"change": post[rows] - pre[rows]})
    if evaluation.cluster:
        part[evaluation.cluster] = frame[evaluation.cluster].to_numpy()[rows]
    part = with_subgroups(part, evaluation, frame, rows)
    model = sg.EffectModel(design=sg.Design.pre_post, outcome="change", treatment=None,
                           clusters=(evaluation.cluster,) if evaluation.cluster else ())
    return OutcomeFrame(indicator, timepoint, part, model)


def _plan_columns(evaluation: m.Evaluation, frame: pd.DataFrame) -> list[str]:
    cols = [c for tp in evaluation.timepoints.values() for c in tp.columns.values()]
    cols += list(evaluation.subgroups) + ([evaluation.cluster] if evaluation.cluster else [])
    return [c for c in dict.fromkeys(cols) if c in frame.columns]


def _dedupe(warnings: list[RunWarning]) -> list[RunWarning]:
    seen, out = set(), []
    for w in warnings:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _attrition(n_in: int, has_pre: np.ndarray, pair: np.ndarray, pre_all: np.ndarray) -> dict:
    n_pre = int(has_pre.sum())
    n_pair = int(pair.sum())
    completers = pre_all[pair]
    dropouts = pre_all[has_pre & ~pair]
    smd = st.smd(completers, dropouts)
    return {"in_data": n_in, "with_baseline": n_pre, "analysed": n_pair, "overall": 1 - n_pair / n_in,
            "lost_after_baseline": (1 - n_pair / n_pre) if n_pre else None,
            "baseline_smd_completers_vs_dropouts": _f(smd),
            "baseline_mean_completers": _f(completers.mean()) if completers.size else None,
            "baseline_mean_dropouts": _f(dropouts.mean()) if dropouts.size else None}


def _subgroup_attrition(ind, comparison, pair, subgroups, warnings) -> dict:
    """Attrition per subgroup level, and a warning where it differs between levels."""
    by_sub: dict = {}
    for col_name, label, mask in subgroups:
        n_sub = int(mask.sum())
        lost = 1 - int((pair & mask).sum()) / n_sub if n_sub else None
        by_sub.setdefault(col_name, {"levels": {}})["levels"][label] = {"in_data": n_sub, "overall": lost}
    for col_name, info in by_sub.items():
        shares = [v["overall"] for v in info["levels"].values() if v["overall"] is not None]
        info["differential"] = (max(shares) - min(shares)) if len(shares) > 1 else None
        if info["differential"] is not None and info["differential"] > DIFFERENTIAL_ATTRITION:
            parts = ", ".join(f"{k} {v['overall']:.0%}" for k, v in info["levels"].items() if v["overall"] is not None)
            warnings.append(RunWarning("differential_attrition", f"{ind.id} ({comparison}): attrition differs by "
                                       f"subgroup '{col_name}' ({parts}); the complete pairs may not represent "
                                       "each subgroup alike", ind.id))
    return by_sub


def _attrition_warnings(ind: m.Indicator, tp_name: str, attr: dict, warnings: list[RunWarning]) -> None:
    if attr["overall"] > HIGH_ATTRITION:
        warnings.append(RunWarning.counted(
            "high_attrition", f"{ind.id} ({tp_name} vs baseline): {{lost:pct_of:in_data}} of the {{in_data}} participants "
            f"have no complete pair (more than {HIGH_ATTRITION:.0%}); complete pairs may not represent everyone who "
            "started", ind.id, lost=attr["in_data"] - attr["analysed"], in_data=attr["in_data"]))
    smd = attr["baseline_smd_completers_vs_dropouts"]
    if smd is not None and abs(smd) > DROPOUT_SMD:
        warnings.append(RunWarning("dropout_baseline_difference", f"{ind.id} ({tp_name} vs baseline): participants "
                                   f"lost to follow-up differed at baseline from those analysed by {abs(smd):.2f} SD "
                                   f"(more than {DROPOUT_SMD}); the change in those analysed may not hold for all",
                                   ind.id))


def _floor_ceiling(ind, tp_name, pre, post, warnings) -> None:
    rng = _range(ind)
    if rng is None:
        return
    low, high = rng
    for code, bound, word in (("floor_effect", low, "lowest"), ("ceiling_effect", high, "highest")):
        for when, values in (("baseline", pre), (tp_name, post)):
            share = float(np.mean(values == bound))
            if share > FLOOR_CEILING_SHARE:
                warnings.append(RunWarning(code, f"{ind.id}: {share:.0%} of those analysed have the {word} possible "
                                           f"score ({bound:g}) at {when} (more than {FLOOR_CEILING_SHARE:.0%}); change "
                                           "beyond the end of the scale cannot be seen", ind.id))


def _regression_to_mean(evaluation, ind, pre, post, warnings, rtm_selected: list[str]) -> None:
    inst = ind.instrument
    sign = 1 if ind.direction is Direction.decrease else -1  # +1: high baseline is the bad side
    if inst is not None and inst.norm_mean is not None and inst.norm_sd is not None and pre.size:
        gap = (float(pre.mean()) - inst.norm_mean) * sign / inst.norm_sd
        if gap >= RTM_NORM_SD:
            r = inst.reliability
            with np.errstate(invalid="ignore"):
                r = r if r is not None else (float(np.corrcoef(pre, post)[0, 1]) if pre.size > 2 else None)
            size = ""
            if r is not None and math.isfinite(r):
                size = (f"; with r = {r:.2f}, up to {(1 - r) * abs(pre.mean() - inst.norm_mean):.2f} points of "
                        "change toward the norm could appear without any programme effect")
            warnings.append(RunWarning("regression_to_mean", f"{ind.id}: the baseline mean ({pre.mean():.2f}) is "
                                       f"{gap:.2f} norm SDs worse than the norm ({inst.norm_mean:g}){size}", ind.id))
            return
    if evaluation.intervention.prevention in (Prevention.secondary, Prevention.tertiary) and ind.id not in rtm_selected:
        rtm_selected.append(ind.id)


def _add_reliable_change(reliable: dict, ind, rel, tp_name, label, pre, post) -> None:
    r_xx, r_source, sd, sd_source = rel
    threshold = st.reliable_change_threshold(sd, r_xx)
    entry = reliable.setdefault(ind.id, {
        "method": "Jacobson & Truax (1991): RCI = (follow-up - baseline) / S_diff, S_diff = sqrt(2) * SD * "
                  "sqrt(1 - reliability); |RCI| > 1.96 is reliable change, classified by the indicator's good "
                  "direction",
        "threshold_points": threshold, "reliability": r_xx, "reliability_source": r_source,
        "sd": sd, "sd_source": sd_source, "direction_good": ind.direction.value, "rows": []})
    row = {"timepoint": tp_name, "subgroup": label, **_reliable_change_counts(post - pre, threshold, ind)}
    entry["rows"].append(row)
    if label == "all" and "improved" not in entry:
        entry.update({k: row[k] for k in ("n", "improved", "no_reliable_change", "deteriorated")})
        entry["timepoint"] = tp_name


def _mark_primary_and_holm(estimates: list[Estimate], primary_key) -> list[Estimate]:
    """Holm across the main estimate of each indicator and follow-up, within each subgroup.

    The rate ratio of a count indicator repeats its mean change, so it is left out of the
    family. Exactly one estimate is primary: the primary outcome's first follow-up, everyone.
    """
    out = list(estimates)
    families: dict[str, list[int]] = {}
    for i, e in enumerate(out):
        if e.estimand in MAIN_ESTIMANDS:
            families.setdefault(e.subgroup, []).append(i)
    for subgroup, idx in families.items():
        size = sum(out[i].p_value is not None for i in idx)
        _holm_family(out, idx, f"{size} main estimates (one per indicator and follow-up) in subgroup '{subgroup}'")
    if primary_key is not None:
        for i, e in enumerate(out):
            if (e.indicator, e.timepoints[-1]) == primary_key and e.subgroup == "all" and e.estimand in MAIN_ESTIMANDS:
                out[i] = replace(e, primary=True)
                break
    return out
