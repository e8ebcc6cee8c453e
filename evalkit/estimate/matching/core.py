"""The matching step: rows, missing-data policy, score, matched sets, weights, balance.

:func:`match` is the one entry point for every method (nearest, optimal, exact, ipw) and returns
a :class:`MatchResult` whose long table (one row per unit per matched set) feeds both the
balance section and the effect estimates, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError, OptionError
from evalkit.estimate._order import keyed_order
from evalkit.estimate.matching import balance as bal
from evalkit.estimate.matching import propensity as ps
from evalkit.estimate.matching.nearest import NNProblem, match_nearest
from evalkit.estimate.matching.optimal import match_optimal
from evalkit.estimate.matching.weighting import ess, ipw_weights
from evalkit.spec.options import MATCHING_OPTIONS, matching_problems
from evalkit.spec.raw import Matching
from evalkit.spec.yamlio import format_path


@dataclass
class MatchResult:
    options: Matching
    pool: pd.DataFrame  # rows analysed for matching (after the missing-data policy), index reset
    treated: np.ndarray  # bool, per pool row
    ids: np.ndarray
    design: ps.Design | None
    model: ps.ScoreModel | None
    distance: np.ndarray | None  # the scale matched on
    discarded: np.ndarray
    long: pd.DataFrame  # row (pool position), set, treated, weight: one row per unit per set
    unit_weights: np.ndarray  # MatchIt's match.data weights per pool row (0 = not used)
    clusters: tuple[str, ...]  # long-table columns to cluster the SE by
    balance: dict
    matching: dict
    propensity: dict | None
    missing: dict
    counts: dict
    notes: list[tuple[str, str]] = field(default_factory=list)  # (code, message)


def _treatment(frame: pd.DataFrame, column: str) -> np.ndarray:
    s = frame[column]
    values = pd.to_numeric(s.astype("float64") if pd.api.types.is_bool_dtype(s) else s, errors="coerce")
    bad = values.isna() | ~values.isin([0, 1])
    if bad.any():
        shown = ", ".join(sorted({repr(v) for v in s[bad].tolist()})[:5])
        raise DataError(f"treatment column '{column}' is not 0/1 on {int(bad.sum())} rows (found {shown}; "
                        "expected 1 for treated and 0 for comparison on every row)")
    return values.to_numpy() == 1


def _check_groups(n_t: int, n_c: int, where: str) -> None:
    if n_t < 2:
        raise EstimationError(
            f"{where}: found {n_t} treated unit{'s' if n_t != 1 else ''} (expected at least 2): a "
            "propensity model, balance statistics and a standard error need more than one treated unit")
    if n_c < 2:
        raise EstimationError(
            f"{where}: found {n_c} comparison unit{'s' if n_c != 1 else ''} (expected at least 2) to match against")


def match(frame: pd.DataFrame, *, treatment: str, covariates: list[str], options: Matching | None = None,
          id_column: str | None = None, seed: int = 0) -> MatchResult:
    """Match (or weight) ``frame``'s treated rows to its comparison rows as ``options`` say."""
    opt = options or Matching()
    method, estimand = opt.method.value, opt.estimand.value
    # the static checks are the spec layer's (validate refuses these in a plan); here for Python callers.
    # An option the method (or the options beside it) does not use is a note, as a plan could never
    # have carried it this far.
    found_problems = matching_problems(opt, list(covariates))
    unused = [p for p in found_problems if p[1].startswith("not used")]
    problems = [p for p in found_problems if p not in unused]
    if problems:
        path, message, found, expected = problems[0]
        raise OptionError(f"{format_path(path)}: {message} (found {found}; expected {expected})")
    notes: list[tuple[str, str]] = [("option_ignored", m) for m in _ignored_options(opt)]
    notes += [("option_ignored", f"{format_path(path)} is ignored: {message}")
              for path, message, *_ in unused if not message.startswith("not used by method")]
    treated_all = _treatment(frame, treatment)
    for col in opt.calipers:
        if ps.is_categorical(frame[col]):
            raise DataError(f"matching.calipers: column '{col}' holds text (found e.g. "
                            f"{frame[col].dropna().iloc[0]!r}; expected numbers, as a caliper is a distance "
                            "in the column's units); match exactly on it instead")
    n_in = {"treated": int(treated_all.sum()), "comparison": int((~treated_all).sum())}
    _check_groups(n_in["treated"], n_in["comparison"], f"column '{treatment}'")

    # -- missing values: report per column and group, then apply the plan's policy
    checked = list(dict.fromkeys(list(covariates) + list(opt.exact) + list(opt.calipers)
                                 + ([opt.score_column] if opt.score_column else [])))
    missing: dict = {"policy": opt.missing.value, "columns": {}}
    for col in checked:
        miss = frame[col].isna().to_numpy()
        if miss.all():
            raise DataError(f"covariate '{col}' has no values: all {miss.size} rows are missing (expected "
                            "values for treated and comparison units); remove it from the plan or fix the data")
        for g, mask, label in ((True, treated_all, "treated"), (False, ~treated_all, "comparison")):
            if miss[mask].all():
                raise DataError(f"covariate '{col}' is missing for every {label} unit ({int(mask.sum())} rows; "
                                f"expected values in both groups)")
        if miss.any():
            missing["columns"][col] = {"treated": int(miss[treated_all].sum()),
                                      "comparison": int(miss[~treated_all].sum())}
    strict = [c for c in checked if c not in covariates or opt.missing.value == "complete_cases"]
    keep = ~frame[strict].isna().any(axis=1).to_numpy() if strict else np.ones(len(frame), bool)
    dropped = int((~keep).sum())
    missing["rows_dropped"] = {"treated": int((~keep & treated_all).sum()), "comparison": int((~keep & ~treated_all).sum())}
    if missing["columns"]:
        listed = ", ".join(f"'{c}' ({v['treated'] + v['comparison']} rows)" for c, v in missing["columns"].items())
        if dropped:
            notes.append(("missing_covariates",
                          f"missing values in {listed}: {dropped} rows ({missing['rows_dropped']['treated']} treated, "
                          f"{missing['rows_dropped']['comparison']} comparison) left out as incomplete cases"))
        else:
            notes.append(("missing_covariates", f"missing values in {listed}: kept with a missing-value "
                          "indicator in the score model and balance table (plan: missing_indicator)"))
    pool = frame.loc[keep].reset_index(drop=True)
    treated = treated_all[keep]
    ids = pool[id_column].to_numpy() if id_column else np.arange(len(pool))
    n_pool = {"treated": int(treated.sum()), "comparison": int((~treated).sum())}
    _check_groups(n_pool["treated"], n_pool["comparison"], "after leaving out incomplete cases")

    # -- covariate design and score
    design = ps.build_design(pool, list(covariates), treated, [tuple(p) for p in opt.interactions],
                             missing_indicator=opt.missing.value == "missing_indicator")
    notes += [("propensity_model", n) for n in design.notes]
    model = None
    if method != "exact" or opt.distance.value == "column":
        if opt.distance.value == "column":
            model = ps.from_column(pool[opt.score_column].to_numpy(), opt.score_column, treated)
        else:
            model = ps.fit(design, treated, opt.distance.value, treatment)
    distance = None
    if model is not None:
        on_logit = opt.caliper_scale.value == "logit" or model.link == "column" and not model.has_probability
        distance = model.linear if on_logit else model.score

    # -- common support
    discarded = np.zeros(len(pool), bool)
    if opt.discard.value != "none" and distance is not None:
        lo_t, hi_t = distance[treated].min(), distance[treated].max()
        lo_c, hi_c = distance[~treated].min(), distance[~treated].max()
        if opt.discard.value in ("treated", "both"):
            discarded |= treated & ((distance < lo_c) | (distance > hi_c))
        if opt.discard.value in ("control", "both"):
            discarded |= ~treated & ((distance < lo_t) | (distance > hi_t))

    caliper_info = _caliper_info(opt, model, distance, discarded)
    width = caliper_info.get("width")
    block = _cells(pool, list(opt.exact)) if opt.exact else None
    cov_values = pool[list(opt.calipers)].to_numpy(float) if opt.calipers else None
    cov_widths = np.array(list(opt.calipers.values()), float) if opt.calipers else None
    if cov_widths is not None and opt.std_caliper:
        # MatchIt's std.caliper: in SDs of the covariate over the units not discarded (both groups)
        cov_widths = cov_widths * np.std(cov_values[~discarded], axis=0, ddof=1)
    if cov_widths is not None:
        caliper_info["covariate_widths"] = dict(zip(opt.calipers, (float(v) for v in cov_widths)))
        caliper_info["covariate_calipers_in"] = ("SDs of each covariate (std_caliper: true, as MatchIt's "
                                                 "std.caliper)" if opt.std_caliper else "the covariates' own units")
    t_rows = np.flatnonzero(treated)
    clusters: tuple[str, ...]

    if method in ("nearest", "optimal"):
        if method == "nearest":
            d_t = distance[t_rows]
            order = {"largest": lambda: np.argsort(-d_t, kind="stable"),
                     "smallest": lambda: np.argsort(d_t, kind="stable"),
                     # keyed by the seed and the treated units' ids, not their rows (evalkit.estimate._order)
                     "random": lambda: keyed_order(seed, ids[t_rows], "matching-order"),
                     "data": lambda: np.arange(t_rows.size)}[opt.order.value]()
            mm = match_nearest(NNProblem(distance, treated, order, opt.ratio, opt.replace, width,
                                         cov_values, cov_widths, block, discarded))
        else:
            if opt.replace:
                notes.append(("option_ignored", "matching.replace is ignored by method 'optimal' (pairs are "
                              "formed without replacement)"))
            mm = match_optimal(distance, treated, opt.ratio, width, block, discarded, cov_values, cov_widths)
        check_constraints(mm, t_rows, distance, width, block, cov_values, cov_widths,
                          opt.replace and method == "nearest", treated)
        long = _long_from_mm(mm, t_rows, ids)
        if long.empty:
            raise EstimationError(_nobody_matched(opt, caliper_info, n_pool, int(discarded.sum())))
        clusters = ("set", "unit") if (opt.replace and method == "nearest") else ("set",)
    elif method == "exact":
        cells = _cells(pool, list(dict.fromkeys(list(covariates) + list(opt.exact))))
        long = _long_exact(cells, treated, estimand)
        if long.empty:
            raise EstimationError("exact matching found no cell holding both treated and comparison units "
                                  f"on {', '.join(covariates)} (expected at least one); use method: nearest")
        clusters = ("set",)
    else:  # ipw
        w = ipw_weights(model.score, treated, estimand, opt.stabilise, opt.trim)
        keep_w = ~discarded
        long = pd.DataFrame({"row": np.flatnonzero(keep_w), "set": np.arange(int(keep_w.sum())) + 1,
                             "treated": treated[keep_w].astype(int), "weight": w[keep_w]})
        clusters = ()
    long["unit"] = ids[long["row"].to_numpy()]
    unit_w = _unit_weights(long, len(pool), treated)
    matched_t = int(((unit_w > 0) & treated).sum())
    matched_c = int(((unit_w > 0) & ~treated).sum())
    if method != "ipw" and matched_t < 2:
        raise EstimationError(_nobody_matched(opt, caliper_info, n_pool, int(discarded.sum()), matched_t))

    # -- balance: the full pool before; the matched/weighted sample after
    names = [t.name for t in design.terms]
    covs = [t.covariate for t in design.terms]
    balance = bal.balance_table(names, covs, design.matrix, treated, unit_w, estimand=estimand,
                                adjusted=opt.adjust, distance=distance)

    counts = {"in_data": n_in, "pool": n_pool,
              "discarded": {"treated": int((discarded & treated).sum()), "comparison": int((discarded & ~treated).sum())},
              "matched": {"treated": matched_t, "comparison": matched_c},
              "unmatched_treated": int(n_pool["treated"] - matched_t - (discarded & treated).sum())}
    matching = _matching_section(opt, counts, caliper_info, long, unit_w, treated, distance, model)
    propensity = _propensity_section(model, design, treated, pool) if model is not None else None
    return MatchResult(opt, pool, treated, ids, design, model, distance, discarded, long, unit_w, clusters,
                       balance, matching, propensity, missing, counts, notes)


def _ignored_options(opt: Matching) -> list[str]:
    method = opt.method.value
    ignored = sorted(f for f in opt.model_fields_set if f not in MATCHING_OPTIONS[opt.method])
    return [f"matching.{f} is ignored by method '{method}'" for f in ignored]


def _cells(pool: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return pool.groupby(columns, sort=True, dropna=False).ngroup().to_numpy(np.int64)


def _caliper_info(opt: Matching, model, distance, discarded) -> dict:
    """Caliper width: SDs of the distance over the units not discarded (as MatchIt's std.caliper)."""
    info: dict = {"sd_units": opt.caliper, "scale": opt.caliper_scale.value}
    if model is None:
        return info
    kept = ~discarded
    sd_logit = float(np.std(model.linear[kept], ddof=1))
    sd_prob = float(np.std(model.score[kept], ddof=1)) if model.has_probability else None
    info["sd_logit"] = sd_logit
    info["sd_probability"] = sd_prob
    info["matched_on"] = "logit of the score" if distance is model.linear else "score (probability scale)"
    if opt.caliper is not None:
        sd = float(np.std(distance[kept], ddof=1))
        info["width"] = opt.caliper * sd
        info["width_logit"] = opt.caliper * sd_logit
        info["width_probability"] = opt.caliper * sd_prob if sd_prob is not None else None
    return info


def _nobody_matched(opt, caliper_info, n_pool, n_discarded, matched=0) -> str:
    why = []
    if opt.caliper is not None:
        why.append(f"caliper {opt.caliper:g} SD of the {caliper_info.get('matched_on', 'distance')} "
                   f"(= {caliper_info.get('width', float('nan')):.4g} on that scale; "
                   f"{caliper_info.get('width_logit') or float('nan'):.4g} on the logit scale)")
    if opt.calipers:
        unit = " SD" if opt.std_caliper else ""
        why.append("covariate calipers " + ", ".join(f"{k} ±{v:g}{unit}" for k, v in opt.calipers.items()))
    if opt.exact:
        why.append("exact matching on " + ", ".join(opt.exact))
    if n_discarded:
        why.append(f"{n_discarded} units discarded outside common support")
    reason = "; ".join(why) or "the matching options"
    return (f"matching kept {matched} of {n_pool['treated']} treated units (expected at least 2 matched "
            f"treated units): {reason} left no acceptable comparison unit. Widen the caliper, drop "
            "covariate calipers or exact columns, or check the overlap of the groups' scores")


def check_constraints(mm, t_rows, distance, width, block, cov_values, cov_widths, replace, treated) -> None:
    """Every matched pair respects every caliper and exact constraint (and no control is reused
    without replacement); a failure here is a bug in evalkit, reported as such."""
    ti, slot = np.nonzero(mm >= 0)
    if ti.size == 0:
        return
    t = t_rows[ti]
    c = mm[ti, slot]
    problems = []
    if treated[c].any():
        problems.append("a treated unit was used as a control")
    if width is not None and (np.abs(distance[t] - distance[c]) > width).any():
        problems.append("a pair lies outside the caliper")
    if block is not None and (block[t] != block[c]).any():
        problems.append("a pair differs on an exact-matching column")
    if cov_values is not None and (np.abs(cov_values[t] - cov_values[c]) > cov_widths).any():
        problems.append("a pair lies outside a covariate caliper")
    if not replace and np.unique(c).size != c.size:
        problems.append("a control was used twice without replacement")
    if problems:
        raise EstimationError("internal check of the matched pairs failed (a bug in evalkit, please report "
                              "it): " + "; ".join(problems))


def _long_from_mm(mm: np.ndarray, t_rows: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    k = (mm >= 0).sum(1)
    has = k > 0
    set_id = np.zeros(mm.shape[0], np.int64)
    set_id[has] = np.arange(1, int(has.sum()) + 1)
    ti, slot = np.nonzero(mm >= 0)
    ctrl = pd.DataFrame({"row": mm[ti, slot], "set": set_id[ti], "treated": 0, "weight": 1.0 / k[ti],
                         "_slot": slot + 1})
    trt = pd.DataFrame({"row": t_rows[has], "set": set_id[has], "treated": 1, "weight": 1.0, "_slot": 0})
    long = pd.concat([trt, ctrl], ignore_index=True).sort_values(["set", "_slot"], kind="stable")
    return long.drop(columns="_slot").reset_index(drop=True)


def _long_exact(cells: np.ndarray, treated: np.ndarray, estimand: str) -> pd.DataFrame:
    df = pd.DataFrame({"row": np.arange(cells.size), "cell": cells, "treated": treated.astype(int)})
    n_t = df.groupby("cell")["treated"].transform("sum")
    n = df.groupby("cell")["treated"].transform("size")
    n_c = n - n_t
    df = df[(n_t > 0) & (n_c > 0)].copy()
    n_t, n_c, n = n_t[df.index], n_c[df.index], n[df.index]
    if estimand == "att":
        df["weight"] = np.where(df["treated"] == 1, 1.0, n_t / n_c)
    else:
        df["weight"] = np.where(df["treated"] == 1, n / n_t, n / n_c)
    df["set"] = pd.factorize(df["cell"], sort=True)[0] + 1
    return df[["row", "set", "treated", "weight"]].reset_index(drop=True)


def _unit_weights(long: pd.DataFrame, n: int, treated: np.ndarray) -> np.ndarray:
    """MatchIt's match.data weights: row weights summed per unit, controls rescaled to sum to
    the number of controls used (the scale does not change any estimate)."""
    w = np.bincount(long["row"].to_numpy(), weights=long["weight"].to_numpy(), minlength=n)
    c = ~treated & (w > 0)
    if c.any():
        w[c] = w[c] * c.sum() / w[c].sum()
    return w


def _summary(x: np.ndarray) -> dict:
    if x.size == 0:
        return {}
    q = np.quantile(x, [0, 0.25, 0.5, 0.75, 1])
    return {"min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "max": q[4], "mean": float(x.mean())}


def _matching_section(opt, counts, caliper_info, long, unit_w, treated, distance, model) -> dict:
    sec = {"method": opt.method.value, "distance": opt.distance.value, "estimand": opt.estimand.value,
           "ratio": opt.ratio, "replace": opt.replace, "order": opt.order.value, "discard": opt.discard.value,
           "exact": list(opt.exact), "calipers": dict(opt.calipers), "caliper": caliper_info,
           "sizes": {"before": counts["pool"], "after": counts["matched"], "in_data": counts["in_data"]},
           "discarded": counts["discarded"], "unmatched_treated": counts["unmatched_treated"],
           "matched_sets": int(long["set"].nunique()),
           "ess_after": {"treated": ess(unit_w[treated & (unit_w > 0)]),
                         "comparison": ess(unit_w[~treated & (unit_w > 0)])},
           "constraints_checked": opt.method.value in ("nearest", "optimal")}
    if opt.method.value in ("nearest", "optimal") and distance is not None:
        t = long[long["treated"] == 1].set_index("set")["row"]
        c = long[long["treated"] == 0]
        tr = t.loc[c["set"]].to_numpy()
        cr = c["row"].to_numpy()
        sec["max_pair_distance"] = {"matched_scale": float(np.abs(distance[tr] - distance[cr]).max())}
        if model is not None:
            sec["max_pair_distance"]["logit"] = float(np.abs(model.linear[tr] - model.linear[cr]).max())
            if model.has_probability:
                sec["max_pair_distance"]["probability"] = float(np.abs(model.score[tr] - model.score[cr]).max())
    return sec


def _propensity_section(model, design, treated, pool) -> dict:
    s = model.score if model.has_probability else model.linear
    lo_c, hi_c = s[~treated].min(), s[~treated].max()
    lo_t, hi_t = s[treated].min(), s[treated].max()
    return {"model": model.link, "formula": model.formula, "coefficients": list(model.coefficients),
            "converged": model.converged, "n": int(treated.size),
            "overlap": {"scale": "probability" if s is model.score else "as supplied",
                        "treated": _summary(s[treated]), "comparison": _summary(s[~treated]),
                        "treated_outside_comparison_range": int(((s < lo_c) | (s > hi_c))[treated].sum()),
                        "comparison_outside_treated_range": int(((s < lo_t) | (s > hi_t))[~treated].sum())}}
