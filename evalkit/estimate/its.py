"""Interrupted time series for monthly counts (offences, admissions, homicides).

Segmented regression on the log scale (Bernal, Cummins & Gasparrini 2017):

    log E[count] = log(population) + area + b1 * month + b2 * post + b3 * months_since + season

with ``post`` = 1 from the interruption month on and ``months_since`` = months since it (0
before). ``b2`` is the **level change** (as a rate ratio, exp(b2): the step at the
interruption) and ``b3`` the **slope change** (reported per 12 months, exp(12 * b3): how much
the yearly trend bends). With several areas each gets its own level (fixed effects) and the
trend, level and slope changes are shared. The model is Poisson, quasi-Poisson (Pearson
scale) or negative binomial (NB2, dispersion by maximum likelihood). A control series, where
given, enters as log(control + 0.5) so shocks shared with the control are absorbed.

Rates are per ``rate_per`` population (100,000, or 1,000,000 for homicides) per month in the
counterfactual table, and per year in the estimate's details.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError
from evalkit.estimate import Analysis
from evalkit.estimate._stats import t_crit, z_crit
from evalkit.estimate._columns import file_lines as _lines
from evalkit.estimate._columns import numbers
from evalkit.results import EffectSize, Estimate, FlowStage, RunWarning
from evalkit.spec import model as m
from evalkit.spec.raw import CountModel, Direction, ImpactModel, Seasonality

# fewer points than this either side of the interruption cannot separate a level from a slope
MIN_POINTS = 3
# Bernal et al. advise about a year either side to see seasonality and the trend
ADVISED_POINTS = 12
# Pearson dispersion above this under a Poisson model means its CIs are too narrow
OVERDISPERSED = 1.5


def _month_index(values: pd.Series, column: str) -> pd.Series:
    dates = pd.to_datetime(values.astype(str), errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        sample = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:3])
        raise DataError(f"period column '{column}' holds values that are not dates: found {sample}; "
                        "expected months such as 2019-10 or 2019-10-01")
    return dates.dt.to_period("M")


def prepare_series(evaluation: m.Evaluation, frame: pd.DataFrame, column: str, indicator: str) -> pd.DataFrame:
    """Checked rows (area, month, count, population[, control]); raises a clear DataError on bad input."""
    spec, ts = evaluation.data, evaluation.time_series
    if ts is None:
        raise DataError(f"{evaluation.source.name}: time_series is not set; an interrupted time series needs "
                        "time_series.interruption")
    for role, col in (("period", spec.period), ("population", spec.population)):
        if col is None:
            raise DataError(f"{evaluation.source.name}: data.{role} is not set; expected the column holding the "
                            f"{'month' if role == 'period' else 'population at risk (the offset)'}")
        if col not in frame.columns:
            raise DataError(f"data has no column '{col}' (data.{role})")
    if column not in frame.columns:
        raise DataError(f"data has no column '{column}' for indicator '{indicator}'")
    month = _month_index(frame[spec.period], spec.period)
    area = frame[spec.id].astype(str) if spec.id and spec.id in frame.columns else pd.Series("all", index=frame.index)
    count = numbers(frame, column, f"indicator '{indicator}'")
    pop = numbers(frame, spec.population, "population")
    if pop.isna().any():
        raise DataError(f"population column '{spec.population}' is missing in {int(pop.isna().sum())} row(s) "
                        f"(lines {_lines(pop.isna())} of the data, counting the header as 1); "
                        "expected a population for every month: it is the denominator of every rate")
    if (pop <= 0).any():
        raise DataError(f"population column '{spec.population}' holds values <= 0: found "
                        f"{pop[pop <= 0].iloc[0]:g}; expected the resident population (> 0)")
    negative = count < 0
    if negative.any():
        raise DataError(f"column '{column}' (indicator '{indicator}') holds negative counts: found "
                        f"{count[negative].iloc[0]:g} in {int(negative.sum())} row(s); expected counts >= 0")
    out = pd.DataFrame({"area": area.to_numpy(), "month": month.to_numpy(), "count": count.to_numpy(),
                        "population": pop.to_numpy()})
    if ts.control:
        if ts.control not in frame.columns:
            raise DataError(f"data has no control series column '{ts.control}' (time_series.control)")
        control = numbers(frame, ts.control, "control series")
        if (control < 0).any():
            raise DataError(f"control series '{ts.control}' holds negative counts; expected counts >= 0")
        out["control"] = control.to_numpy()
    if out.duplicated(["area", "month"]).any():
        raise DataError(f"more than one row per area and month in '{spec.period}'"
                        + (f" by '{spec.id}'" if spec.id else "") + "; expected one row per area per month")
    interruption = pd.Period(ts.interruption, "M")
    first, last = out["month"].min(), out["month"].max()
    if not (first < interruption <= last):
        raise DataError(f"time_series.interruption {ts.interruption.isoformat()} is outside the series in "
                        f"'{spec.period}' ({first} to {last}); expected a date after the first month and no later "
                        "than the last")
    return out.sort_values(["area", "month"]).reset_index(drop=True)


def design_matrix(rows: pd.DataFrame, interruption: pd.Period, seasonality: Seasonality,
                  counterfactual: bool = False, impact: ImpactModel = ImpactModel.level_and_slope) -> pd.DataFrame:
    origin = rows["month"].min()
    t = np.array([(p - origin).n for p in rows["month"]], dtype=float)
    k = (interruption - origin).n
    post = (t >= k).astype(float)
    X = pd.DataFrame({"month": t}, index=rows.index)
    areas = sorted(rows["area"].unique())
    for a in areas:  # one intercept per area (no global constant)
        X[f"area[{a}]"] = (rows["area"] == a).astype(float)
    X["level_change"] = 0.0 if counterfactual else post
    if impact is ImpactModel.level_and_slope:
        X["slope_change"] = 0.0 if counterfactual else post * (t - k)
    moy = np.array([p.month for p in rows["month"]])
    if seasonality is Seasonality.month:
        for mth in range(2, 13):
            X[f"month_of_year[{mth}]"] = (moy == mth).astype(float)
    elif seasonality is Seasonality.fourier:
        for h in (1, 2):  # two harmonics: a yearly wave and a half-yearly one
            X[f"sin{h}"] = np.sin(2 * np.pi * h * moy / 12)
            X[f"cos{h}"] = np.cos(2 * np.pi * h * moy / 12)
    if "control" in rows:
        X["log_control"] = np.log(rows["control"].to_numpy() + 0.5)
    return X


def fit_counts(y: np.ndarray, X: pd.DataFrame, offset: np.ndarray, model: CountModel):
    """(params, cov, dispersion info) of a Poisson / quasi-Poisson / NB2 log-linear model."""
    import statsmodels.api as sm
    from scipy.optimize import minimize_scalar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
        dof = max(len(y) - X.shape[1], 1)
        pearson = float(np.sum(pois.resid_pearson ** 2) / dof)
        if model is CountModel.poisson:
            return pois.params, pois.cov_params(), {"pearson_dispersion": pearson, "df_resid": dof,
                                                    "ci_reference": "normal"}
        if model is CountModel.quasi_poisson:
            q = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(scale="X2")
            return q.params, q.cov_params(), {"pearson_dispersion": pearson, "scale": float(q.scale),
                                              "df_resid": dof, "ci_reference": "t"}
        # NB2 dispersion by profile maximum likelihood over log(alpha), each step an IRLS fit
        # (as R's glm.nb): statsmodels' joint Newton fit diverges on offsets of ~1e6 people
        start = pois.params.to_numpy()

        def nll(log_alpha: float) -> float:
            family = sm.families.NegativeBinomial(alpha=float(np.exp(log_alpha)))
            return -sm.GLM(y, X, family=family, offset=offset).fit(start_params=start).llf

        best = minimize_scalar(nll, bounds=(-12.0, 3.0), method="bounded", options={"xatol": 1e-3})
        alpha = float(np.exp(best.x))
        nb = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit(start_params=start)
        if not np.all(np.isfinite(nb.bse)):
            raise EstimationError("the negative binomial model did not converge; try time_series.model: "
                                  "quasi_poisson")
        # small-sample honesty: ML underestimates alpha with ~100 months, so the Wald CIs of
        # the NB fit alone covered ~91% in simulation; a Pearson scale (never below 1) and a t
        # reference with the residual df bring coverage to ~95% (tests/test_its_sim.py)
        scale = max(1.0, float(np.sum(nb.resid_pearson ** 2) / dof))
        info = {"pearson_dispersion": pearson, "nb_alpha": alpha, "nb_pearson_scale": scale,
                "df_resid": dof, "ci_reference": "t"}
        if alpha < 1e-4:
            info["note"] = "no overdispersion found: the negative binomial fit is the Poisson fit"
        return nb.params, nb.cov_params() * scale, info


def fit_its(rows: pd.DataFrame, interruption: pd.Period, model: CountModel, seasonality: Seasonality,
            impact: ImpactModel = ImpactModel.level_and_slope) -> dict:
    """Level (and slope) change (log scale) with SEs, plus fitted and counterfactual means per row."""
    X = design_matrix(rows, interruption, seasonality, impact=impact)
    offset = np.log(rows["population"].to_numpy(dtype=float))
    y = rows["count"].to_numpy(dtype=float)
    params, cov, info = fit_counts(y, X, offset, model)
    Xc = design_matrix(rows, interruption, seasonality, counterfactual=True, impact=impact)
    fitted = np.exp(X.to_numpy() @ params.to_numpy() + offset)
    counterfactual = np.exp(Xc.to_numpy() @ params.to_numpy() + offset)
    return {"params": params, "cov": cov, "info": info, "fitted": fitted, "counterfactual": counterfactual,
            "X": X, "Xc": Xc}


# draws of the coefficients for the events avoided's interval (Krinsky & Robb 1986); the Monte Carlo
# error of a 2.5% quantile at 10,000 draws is about 0.3% of the interval's width
EVENTS_DRAWS = 10_000


def events_avoided(rows: pd.DataFrame, fit: dict, interruption: pd.Period, seed: int, level: float = 0.95,
                   draws: int = EVENTS_DRAWS) -> dict:
    """Events avoided over the months from the interruption on: the model's counterfactual minus its
    fitted values, summed over every area and post-interruption month (``counterfactual - fitted``;
    positive means fewer events than the pre-interruption trend implies).

    It is a model quantity (no observed count enters it), so it gives no small count away. Its
    interval draws the coefficients from a normal with their estimated (scaled) covariance and
    recomputes both sums for each draw (Krinsky & Robb 1986), seeded with the plan's seed: the
    percentile interval at ``level`` and the draws' standard deviation are returned with the delta
    method's standard error beside them (the gradient of the sum, exact for this log-linear model)."""
    post = (rows["month"] >= interruption).to_numpy()
    X = fit["X"].to_numpy()[post]
    Xc = fit["Xc"].to_numpy()[post]
    offset = np.log(rows["population"].to_numpy(dtype=float))[post]
    theta = fit["params"].to_numpy()
    cov = fit["cov"].to_numpy()
    mu, mu_c = np.exp(X @ theta + offset), np.exp(Xc @ theta + offset)
    central = float(mu_c.sum() - mu.sum())
    grad = mu_c @ Xc - mu @ X  # d(sum counterfactual - sum fitted) / d theta
    delta_se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x175]))
    # the covariance may be singular in directions no post-period row depends on: SVD, not Cholesky
    u, s, _vt = np.linalg.svd(cov, hermitian=True)
    root = u * np.sqrt(np.clip(s, 0.0, None))
    sums = np.empty(draws)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, draws, 2_000):
            k = min(2_000, draws - start)
            th = theta[:, None] + root @ rng.standard_normal((len(theta), k))
            sums[start:start + k] = (np.exp(Xc @ th + offset[:, None]).sum(axis=0)
                                     - np.exp(X @ th + offset[:, None]).sum(axis=0))
    alpha = 1 - level
    months = rows.loc[post, "month"]
    # the draws unformatted ("10000"): the PDF scan reads "10,000 draws" as a count the HTML's digit runs lack
    interval = (f"percentile interval of {draws} draws of the coefficients from a normal with their "
                f"estimated covariance (Krinsky & Robb 1986), seed {int(seed)}")
    low = high = sd = None
    if np.all(np.isfinite(sums)):
        low, high = (float(q) for q in np.quantile(sums, [alpha / 2, 1 - alpha / 2], method="inverted_cdf"))
        sd = float(sums.std(ddof=1))
    else:  # a covariance so wide that exp() of some draws overflows: no interval rather than a wrong one
        interval = "no interval: the coefficients' covariance is too wide for the draws to stay finite"
    return {"estimate": central, "low": low, "high": high, "level": level, "std_error_draws": sd,
            "std_error_delta": delta_se, "method": "monte_carlo", "draws": draws, "seed": int(seed),
            "first_month": str(months.min()), "last_month": str(months.max()), "months": int(months.nunique()),
            "counterfactual": float(mu_c.sum()), "fitted": float(mu.sum()),
            "definition": "counterfactual minus fitted events, summed over every area and month from the interruption",
            "interval": interval}


def critical_value(info: dict, level: float = 0.95) -> float:
    """t with the residual df for quasi-Poisson and NB (scale estimated), normal for Poisson."""
    if info.get("ci_reference") == "t":
        return float(t_crit(info["df_resid"], level))
    return z_crit(level)


def _convention(info: dict) -> dict:
    """The SE convention and reference distribution of a fit, as every estimate records them."""
    if info.get("ci_reference") == "t":
        scale = "Pearson scale" if "scale" in info else "Pearson scale, never below 1"
        return {"se_convention": f"model-based (inverse information) x {scale}",
                "reference_distribution": f"t(N-K) = t({info['df_resid']})", "convention_id": "model_scaled_t"}
    return {"se_convention": "model-based (inverse information, Poisson variance)",
            "reference_distribution": "normal", "convention_id": "model_z"}


def _se_words(info: dict) -> str:
    c = _convention(info)
    return f"{c['se_convention']} standard errors, {c['reference_distribution']} intervals"


def _ratio(b: float, se: float, scale: float, crit: float) -> dict:
    return {"estimate": float(np.exp(scale * b)), "ci_low": float(np.exp(scale * (b - crit * se))),
            "ci_high": float(np.exp(scale * (b + crit * se))), "std_error_log": float(scale * se)}


def _lag1(resid_by_area: pd.Series, area: pd.Series) -> float | None:
    lagged = resid_by_area.groupby(area).shift(1)
    ok = lagged.notna()
    if ok.sum() < 3:
        return None
    return float(np.corrcoef(resid_by_area[ok], lagged[ok])[0, 1])


def analyse(evaluation: m.Evaluation, frame: pd.DataFrame, seed: int) -> Analysis:
    from scipy import stats

    ts = evaluation.time_series
    interruption = pd.Period(ts.interruption, "M") if ts is not None else None
    estimates, run_warnings, flow, counterfactual = [], [], [], {}
    for ind_id, (ind, column) in evaluation.outcomes.items():
        rows = prepare_series(evaluation, frame, column, ind_id)
        missing = rows["count"].isna()
        if missing.any():
            run_warnings.append(RunWarning("missing_counts", f"{int(missing.sum())} area-month(s) with no count in "
                                           f"'{column}' are left out of the model", ind_id))
            rows = rows[~missing].reset_index(drop=True)
        pre = int(rows.loc[rows["month"] < interruption, "month"].nunique())
        post = int(rows.loc[rows["month"] >= interruption, "month"].nunique())
        if pre < MIN_POINTS or post < MIN_POINTS:
            raise DataError(f"indicator '{ind_id}': {pre} month(s) before and {post} from the interruption "
                            f"{ts.interruption.isoformat()}; expected at least {MIN_POINTS} each side (about "
                            f"{ADVISED_POINTS} advised)")
        if min(pre, post) < ADVISED_POINTS:
            run_warnings.append(RunWarning("short_series", f"{pre} months before and {post} after the interruption; "
                                           f"about {ADVISED_POINTS} each side are advised to separate trend, "
                                           "season and change", ind_id))
        fit = fit_its(rows, interruption, ts.model, ts.seasonality, ts.impact)
        params, cov, info = fit["params"], fit["cov"], fit["info"]
        if ts.model is CountModel.poisson and info["pearson_dispersion"] > OVERDISPERSED:
            run_warnings.append(RunWarning("overdispersion", f"Pearson dispersion {info['pearson_dispersion']:.2f} "
                                           "under a Poisson model: its confidence intervals are too narrow; use "
                                           "time_series.model quasi_poisson or negative_binomial", ind_id))
        resid = (rows["count"] - fit["fitted"]) / np.sqrt(np.maximum(fit["fitted"], 1e-12))
        rho = _lag1(resid, rows["area"])
        if rho is not None and abs(rho) > 0.3:
            run_warnings.append(RunWarning("autocorrelation", f"lag-1 autocorrelation of the residuals is {rho:.2f}; "
                                           "standard errors assume independent months and may be too small", ind_id))
        rate_per = ind.rate_per or 100_000
        n_areas = int(rows["area"].nunique())
        # rates: the whole series (all areas) at the interruption and at the end, per year
        table = rows.assign(fitted=fit["fitted"], counterfactual=fit["counterfactual"])
        tot = table.groupby("month")[["count", "population", "fitted", "counterfactual"]].sum()
        per = lambda v, p: float(12 * v / p * rate_per)  # noqa: E731  monthly count -> yearly rate
        at_k, end = tot.loc[interruption], tot.iloc[-1]
        rates = {"rate_per": rate_per, "rates_are": f"per {rate_per:,} population per year",
                 "at_interruption": {"fitted": per(at_k.fitted, at_k.population),
                                     "counterfactual": per(at_k.counterfactual, at_k.population)},
                 "at_end": {"month": str(tot.index[-1]), "fitted": per(end.fitted, end.population),
                            "counterfactual": per(end.counterfactual, end.population)},
                 "observed_pre": per(tot.loc[tot.index < interruption, "count"].sum() / pre,
                                     tot.loc[tot.index < interruption, "population"].mean()),
                 "observed_post": per(tot.loc[tot.index >= interruption, "count"].sum() / post,
                                      tot.loc[tot.index >= interruption, "population"].mean())}
        model_name = {"poisson": "Poisson", "quasi_poisson": "quasi-Poisson (Pearson scale)",
                      "negative_binomial": "negative binomial (NB2)"}[ts.model.value]
        method = (f"segmented {model_name} regression, log-population offset, "
                  f"{'month-of-year' if ts.seasonality is Seasonality.month else ts.seasonality.value} seasonality"
                  + (", area fixed effects" if n_areas > 1 else "") + (f", control series '{ts.control}'" if ts.control else "")
                  + (", level change only (trend unchanged)" if ts.impact is ImpactModel.level else "")
                  + f"; {_se_words(info)}")
        common = dict(indicator=ind_id, design=evaluation.design.value,
                      timepoints=(str(rows["month"].min()), str(interruption), str(rows["month"].max())),
                      n=int(len(rows)), method=method, primary=ind_id == evaluation.primary_outcome.id,
                      comparison=f"after vs before {interruption}, against the pre-interruption trend")
        changes = (("level_change", 1.0, "rate ratio"), ("slope_change", 12.0, "rate ratio per 12 months"))
        for name, scale, units in changes[:1 if ts.impact is ImpactModel.level else 2]:
            b, se = float(params[name]), float(np.sqrt(cov.loc[name, name]))
            r = _ratio(b, se, scale, critical_value(info))
            p = float(2 * (stats.t.sf(abs(b / se), info["df_resid"]) if info["ci_reference"] == "t"
                           else stats.norm.sf(abs(b / se))))
            good = None if r["estimate"] == 1 else (r["estimate"] > 1) == (ind.direction is Direction.increase)
            details = {"log_coefficient": b, "log_std_error": se, "per": "month" if name == "level_change" else
                       "12 months", **info, "lag1_autocorrelation": rho, "areas": n_areas,
                       "months_before": pre, "months_after": post, "rates": rates, "impact": ts.impact.value,
                       **_convention(info)}
            if name == "slope_change":
                details["per_month_rate_ratio"] = float(np.exp(b))
            estimates.append(Estimate(
                **common, estimand=name, estimate=r["estimate"], std_error=r["std_error_log"], ci_low=r["ci_low"],
                ci_high=r["ci_high"], p_value=p, units=units, direction_good=good,
                effect_size=EffectSize("rate_ratio", r["estimate"], r["ci_low"], r["ci_high"]), details=details))
        total = tot.reset_index()
        total["area"] = "all"
        out = []
        for part in ([total] + ([table] if n_areas > 1 else [])):
            for rec in part.itertuples(index=False):
                scale = rate_per / rec.population
                out.append({"area": rec.area, "period": str(rec.month), "observed": int(rec.count),
                            "fitted": float(rec.fitted), "counterfactual": float(rec.counterfactual),
                            "population": int(rec.population), "observed_rate": float(rec.count * scale),
                            "fitted_rate": float(rec.fitted * scale),
                            "counterfactual_rate": float(rec.counterfactual * scale)})
        counterfactual[ind_id] = {"rate_per": rate_per, "rates_are": f"per {rate_per:,} population per month",
                                  "interruption": str(interruption), "rows": out,
                                  "events_avoided": events_avoided(rows, fit, interruption, seed)}
        flow.append(FlowStage("analysed", int(len(rows)), indicator=ind_id, note=f"{n_areas} area(s) x months"))
    return Analysis(estimates=tuple(estimates), flow=tuple(flow), warnings=tuple(run_warnings),
                    sections={"counterfactual": counterfactual})
