"""Covariate balance before and after matching or weighting: one engine for table and love plot.

Definitions follow MatchIt's ``summary()`` (4.5.1) so numbers can be checked against it:

- SMD = (weighted mean treated - weighted mean comparison) / s, with s the treated group's SD in
  the full (unmatched) sample for the ATT (sqrt(p(1-p)) for 0/1 terms, the n-1 SD otherwise),
  the pooled sqrt((s_t^2 + s_c^2)/2) for the ATE; the same s before and after.
- variance ratio = weighted variance treated / comparison (reliability weights), continuous only.
- eCDF mean/max = mean/max gap between the groups' weighted empirical CDFs (|mean difference|
  for 0/1 terms).

WWC baseline-equivalence bands are applied to |SMD| after matching: <= 0.05 satisfies,
0.05-0.25 needs statistical adjustment, > 0.25 fails.
"""

from __future__ import annotations

import numpy as np

_TINY = np.sqrt(np.finfo(float).eps)
SMD_FLAG = 0.1
VAR_RATIO_RANGE = (0.5, 2.0)
WWC_SATISFIES, WWC_ADJUST = 0.05, 0.25


def formula(estimand: str) -> str:
    if estimand == "ate":
        return ("SMD = (weighted mean treated - weighted mean comparison) / sqrt((s_t^2 + s_c^2) / 2), "
                "s_t and s_c the SDs of the treated and comparison groups in the full sample before "
                "matching (sqrt(p(1-p)) for 0/1 terms); the same denominator before and after")
    return ("SMD = (weighted mean treated - weighted mean comparison) / s_t, s_t the SD of the treated "
            "group in the full sample before matching (n-1 denominator; sqrt(p(1-p)) for 0/1 terms); "
            "the same denominator before and after (MatchIt's definition)")


def wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    w = w / w.sum()
    mx = float(np.sum(w * x))
    if binary:
        return mx * (1 - mx)
    denom = 1 - float(np.sum(w ** 2))
    return float(np.sum(w * (x - mx) ** 2) / denom) if denom > 0 else float("nan")


def ecdf_gaps(x: np.ndarray, treated: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    w = w.astype(float).copy()
    for g in (treated, ~treated):
        w[g] = w[g] / w[g].sum()
    o = np.argsort(x)  # order within ties does not matter: gaps are read at the last of each
    xs = x[o]
    signed = np.where(treated[o], w[o], -w[o])
    gaps = np.abs(np.cumsum(signed))
    last_of_value = np.append(np.diff(xs) != 0, True)
    gaps = gaps[last_of_value]
    return float(gaps.mean()), float(gaps.max())


def term_stats(x: np.ndarray, treated: np.ndarray, w: np.ndarray, sd: float, binary: bool) -> dict:
    keep = w > 0
    x, t, w = x[keep], treated[keep], w[keep]
    mt = float(np.average(x[t], weights=w[t])) if t.any() else float("nan")
    mc = float(np.average(x[~t], weights=w[~t])) if (~t).any() else float("nan")
    diff = mt - mc
    out = {"mean_treated": mt, "mean_comparison": mc}
    too_small = t.sum() < 2 or (~t).sum() < 2
    out["smd"] = diff / sd if (abs(diff) > _TINY and not too_small) else diff
    if binary:
        out["var_ratio"] = None
        out["ecdf_mean"] = out["ecdf_max"] = abs(diff)
    elif too_small:
        out["var_ratio"] = out["ecdf_mean"] = out["ecdf_max"] = None
    else:
        vc = wvar(x[~t], w[~t], False)
        out["var_ratio"] = wvar(x[t], w[t], False) / vc if vc > 0 else None
        out["ecdf_mean"], out["ecdf_max"] = ecdf_gaps(x, t, w)
    return out


def wwc_band(smd: float) -> str:
    a = abs(smd)
    if a <= WWC_SATISFIES:
        return "satisfies"
    if a <= WWC_ADJUST:
        return "needs_adjustment"
    return "fails"


def balance_table(names: list[str], covariates: list[str], matrix: np.ndarray, treated: np.ndarray,
                  weights: np.ndarray, estimand: str = "att", adjusted: bool = False,
                  distance: np.ndarray | None = None) -> dict:
    """The ``balance`` section: one row per term (plus the distance, apart), flags and formula."""
    rows = []
    cols = [(n, c, matrix[:, j]) for j, (n, c) in enumerate(zip(names, covariates))]
    if distance is not None:
        cols.append(("distance", "distance", np.asarray(distance, float)))
    ones = np.ones(treated.size)
    for name, cov, x in cols:
        binary = bool(np.isin(x, (0.0, 1.0)).all())
        s_t = np.sqrt(wvar(x[treated], ones[treated], binary))
        if estimand == "ate" or s_t < _TINY:
            s_c = np.sqrt(wvar(x[~treated], ones[~treated], binary))
            sd = float(np.sqrt((s_t ** 2 + s_c ** 2) / 2))
        else:
            sd = float(s_t)
        before = term_stats(x, treated, ones, sd, binary)
        after = term_stats(x, treated, weights, sd, binary)
        # "covariate" names the row (a factor level gets its own, e.g. "site:ED"); "column" is the plan's
        row = {"term": name, "covariate": name, "column": cov, "binary": binary, "sd_denominator": sd}
        row.update({f"{k}_before": v for k, v in before.items()})
        row.update({f"{k}_after": v for k, v in after.items()})
        if name != "distance":
            row["wwc_band_after"] = wwc_band(after["smd"])
            row["adjusted"] = adjusted
        rows.append(row)
    cov_rows = [r for r in rows if r["term"] != "distance"]
    flag_smd = any(abs(r["smd_after"]) >= SMD_FLAG for r in cov_rows)
    flag_vr = any(r["var_ratio_after"] is not None and not (VAR_RATIO_RANGE[0] <= r["var_ratio_after"] <= VAR_RATIO_RANGE[1])
                  for r in cov_rows)
    fails = any(r["wwc_band_after"] == "fails" for r in cov_rows)
    unadjusted = any(r["wwc_band_after"] == "needs_adjustment" and not r["adjusted"] for r in cov_rows)
    return {
        "rows": [r for r in rows if r["term"] != "distance"],
        "distance": next((r for r in rows if r["term"] == "distance"), None),
        "formula": formula(estimand),
        "wwc_rule": "WWC baseline equivalence applied to |SMD| after matching: <= 0.05 satisfies; "
                    "0.05-0.25 only with statistical adjustment for that covariate; > 0.25 fails "
                    "(WWC states the bands for Hedges' g and the Cox index; evalkit applies them to the SMD)",
        "flag_any_smd_ge_0_1": flag_smd,
        "flag_var_ratio_outside": flag_vr,
        "max_abs_smd_before": max((abs(r["smd_before"]) for r in cov_rows), default=None),
        "max_abs_smd_after": max((abs(r["smd_after"]) for r in cov_rows), default=None),
        "wwc_pass": not fails and not unadjusted,
    }


def love_plot_data(section: dict):
    """Long table for a love plot, from the same rows as the balance table."""
    import pandas as pd

    rows = []
    for r in section["rows"]:
        for when in ("before", "after"):
            rows.append({"term": r["term"], "column": r["column"], "sample": when,
                         "smd": r[f"smd_{when}"], "abs_smd": abs(r[f"smd_{when}"]),
                         "var_ratio": r[f"var_ratio_{when}"], "ecdf_max": r[f"ecdf_max_{when}"]})
    return pd.DataFrame(rows)
