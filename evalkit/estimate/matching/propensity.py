"""Propensity scores: the covariate design, the score model, and its failure modes explained.

Categorical covariates are expanded into one indicator per level (all levels for balance, the
first level, sorted as R sorts factor levels, left out of the model as reference). Separation
(a level held only by one group, a covariate whose treated and comparison ranges do not meet)
and a model that predicts treatment perfectly are reported as :class:`EstimationError` with the
column, what was found and what to do, not left to a fitting routine's traceback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError

# Fitted probabilities this close to 0 or 1 mean the model separates the groups
_EDGE = 1e-8


@dataclass(frozen=True)
class Term:
    """One column of the design: a covariate, a factor level, an interaction or a missing flag."""

    name: str  # e.g. "age", "race:hispan", "age*female", "attend_pre:missing"
    covariate: str  # the plan's column it comes from
    kind: str  # continuous | binary | level | interaction | missing_indicator
    in_model: bool = True  # reference levels are shown in balance but left out of the model


@dataclass
class Design:
    """Numeric design built from the plan's covariates, on the rows kept."""

    terms: list[Term]
    matrix: np.ndarray  # n x len(terms), float
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, [t.name for t in self.terms].index(name)]

    @property
    def model_terms(self) -> list[Term]:
        return [t for t in self.terms if t.in_model]

    def model_matrix(self) -> np.ndarray:
        idx = [i for i, t in enumerate(self.terms) if t.in_model]
        return self.matrix[:, idx]


def is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def build_design(frame: pd.DataFrame, covariates: list[str], treated: np.ndarray,
                 interactions: list[tuple[str, str]] = (), missing_indicator: bool = False) -> Design:
    """The covariate design on ``frame`` (rows already chosen by the missing-data policy)."""
    terms: list[Term] = []
    cols: list[np.ndarray] = []
    notes: list[str] = []
    for cov in covariates:
        s = frame[cov]
        if is_categorical(s):
            declared = list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else None
            values = s.astype(object).where(s.notna(), "(missing)" if missing_indicator else None)
            levels = sorted({str(v) for v in values.dropna()})
            if declared is not None:
                empty = [str(c) for c in declared if str(c) not in levels]
                if empty:
                    notes.append(f"covariate '{cov}': categor{'y' if len(empty) == 1 else 'ies'} "
                                 f"{', '.join(repr(e) for e in empty)} ha{'s' if len(empty) == 1 else 've'} "
                                 "no rows and were left out")
            text = values.astype(str).to_numpy()
            if len(levels) < 2:
                notes.append(f"covariate '{cov}' takes one value ({levels[0] if levels else 'none'}) "
                             "and cannot predict treatment; it is left out of the score model")
            for j, level in enumerate(levels):
                terms.append(Term(f"{cov}:{level}", cov, "level", in_model=j > 0 and len(levels) > 1))
                cols.append((text == level).astype(float))
            continue
        x = s.astype(float).to_numpy()
        miss = np.isnan(x)
        if miss.any():
            # missing-indicator adjustment: fill with the observed mean, flag the rows
            x = np.where(miss, np.nanmean(x), x)
        observed = np.unique(x)
        kind = "binary" if np.isin(observed, (0.0, 1.0)).all() else "continuous"
        constant = observed.size < 2
        if constant:
            notes.append(f"covariate '{cov}' takes one value ({observed[0]:g}) and cannot predict "
                         "treatment; it is left out of the score model")
        terms.append(Term(cov, cov, kind, in_model=not constant))
        cols.append(x)
        if miss.any():
            terms.append(Term(f"{cov}:missing", cov, "missing_indicator"))
            cols.append(miss.astype(float))
    for a, b in interactions:
        for ta in [t for t in terms if t.covariate == a and t.in_model and t.kind != "missing_indicator"]:
            for tb in [t for t in terms if t.covariate == b and t.in_model and t.kind != "missing_indicator"]:
                terms.append(Term(f"{ta.name}*{tb.name}", f"{a}*{b}", "interaction"))
                cols.append(cols[terms.index(ta)] * cols[terms.index(tb)])
    matrix = np.column_stack(cols) if cols else np.empty((len(frame), 0))
    design = Design(terms, matrix, notes)
    _check_separation(design, frame, treated)
    return design


def _check_separation(design: Design, frame: pd.DataFrame, treated: np.ndarray) -> None:
    """A level or binary value held by one group only, or disjoint ranges: say which and why."""
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    levels_of: dict[str, int] = {}
    for t in design.terms:
        if t.kind == "level":
            levels_of[t.covariate] = levels_of.get(t.covariate, 0) + 1
    for j, term in enumerate(design.terms):
        x = design.matrix[:, j]
        checks: list[tuple[float, str]] = []
        if term.kind == "level" and levels_of[term.covariate] > 1:
            checks = [(1.0, f"level '{term.name.split(':', 1)[1]}'")]
        elif term.kind == "binary" and term.in_model:
            checks = [(1.0, "value 1"), (0.0, "value 0")]
        elif term.kind == "missing_indicator":
            checks = [(1.0, "missing value")]
        for value, label in checks:
            rows = x == value
            k, k_t = int(rows.sum()), int((rows & treated).sum())
            if k and (k_t == 0 or k_t == k):
                side = "treated" if k_t == k else "comparison"
                raise EstimationError(
                    f"perfect separation in the propensity model: covariate '{term.covariate}' "
                    f"{label} is held by {k} rows, all of them {side} (found {k_t} treated and {k - k_t} "
                    "comparison; expected both groups). The score model cannot be estimated and these "
                    "rows have no counterpart to match. Drop or merge that level, match exactly on the "
                    "column, or remove it from the covariates")
        if term.kind == "continuous" and term.in_model:
            lo_t, hi_t = x[treated].min(), x[treated].max()
            lo_c, hi_c = x[~treated].min(), x[~treated].max()
            if hi_t < lo_c or hi_c < lo_t:
                raise EstimationError(
                    f"perfect separation in the propensity model: covariate '{term.covariate}' ranges "
                    f"{lo_t:g} to {hi_t:g} among the {n_t} treated and {lo_c:g} to {hi_c:g} among the "
                    f"{n_c} comparison units (expected overlapping ranges). No comparison unit is like "
                    "any treated unit on it: there is no common support to match on")


def _newton_logit(X: np.ndarray, y: np.ndarray, tol: float = 1e-10, maxiter: int = 100):
    """Maximum likelihood logit by Newton-Raphson (= IRLS), the same fixed point as R's glm and
    statsmodels' Logit, but with one X'WX product per step so a million rows take a second."""
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    beta = np.zeros(X.shape[1])
    converged = False
    for _ in range(maxiter):
        eta = X @ beta
        p = 1 / (1 + np.exp(-eta))
        w = p * (1 - p)
        H = X.T @ (X * w[:, None])
        step = np.linalg.solve(H, X.T @ (y - p))
        beta = beta + step
        if not np.isfinite(beta).all():
            break
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    eta = X @ beta
    if not converged and (not np.isfinite(eta).all() or np.max(np.abs(eta)) > 30):
        # coefficients running off to infinity: the classic sign of (quasi-)separation
        raise PerfectSeparationWarning("fitted probabilities of 0 or 1")
    p = 1 / (1 + np.exp(-eta))
    H = X.T @ (X * (p * (1 - p))[:, None])
    return beta, np.linalg.inv(H), converged


@dataclass(frozen=True)
class ScoreModel:
    link: str  # logit | probit | column
    score: np.ndarray  # P(treated | X)
    linear: np.ndarray  # the linear predictor (logit or probit index); the logit for a column score
    coefficients: tuple[dict, ...]
    converged: bool
    formula: str

    @property
    def has_probability(self) -> bool:
        """False for a supplied score that is not a probability (``score`` is then all NaN)."""
        return not np.isnan(self.score).all()


def fit(design: Design, treated: np.ndarray, link: str, treatment_name: str) -> ScoreModel:
    """Logistic (default) or probit regression of treatment on the design (statsmodels, Newton)."""
    from statsmodels.tools.sm_exceptions import (ConvergenceWarning, PerfectSeparationError,
                                                 PerfectSeparationWarning)

    terms = design.model_terms
    X = np.column_stack([np.ones(len(treated)), design.model_matrix()])
    names = ["(intercept)"] + [t.name for t in terms]
    y = treated.astype(float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            if link == "logit":
                params, cov, conv = _newton_logit(X, y)
            else:
                # imported only here: statsmodels' discrete models cost a third of a second to load
                from statsmodels.discrete.discrete_model import Probit

                res = Probit(y, X).fit(method="newton", maxiter=100, tol=1e-10, disp=0)
                params, cov = np.asarray(res.params), np.asarray(res.cov_params())
                conv = bool(res.mle_retvals.get("converged", True))
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
        raise EstimationError(
            f"perfect separation in the propensity model of '{treatment_name}': the covariates "
            f"({', '.join(dict.fromkeys(t.covariate for t in terms))}) predict treatment exactly, so "
            "treated and comparison units share no region of the score (expected some overlap). "
            "Remove the covariate that defines who is treated, or restrict the comparison pool") from exc
    lin = X @ params
    from scipy.special import expit, ndtr

    score = expit(lin) if link == "logit" else ndtr(lin)
    t_lin, c_lin = lin[treated], lin[~treated]
    extreme = (score < _EDGE) | (score > 1 - _EDGE)
    if t_lin.min() > c_lin.max() or (extreme.mean() > 0.5):
        raise EstimationError(
            f"no overlap in the propensity score of '{treatment_name}': every treated unit scores above "
            f"every comparison unit (treated {score[treated].min():.4g} to {score[treated].max():.4g}, "
            f"comparison {score[~treated].min():.4g} to {score[~treated].max():.4g}; expected overlapping "
            "ranges). Matching cannot find comparable units")
    bse = np.sqrt(np.clip(np.diag(cov), 0, None))
    coefs = tuple({"term": n, "estimate": float(b), "std_error": float(s)}
                  for n, b, s in zip(names, params, bse))
    formula = f"{treatment_name} ~ " + " + ".join(t.name for t in terms)
    linear = lin if link == "logit" else np.log(score / (1 - score))
    return ScoreModel(link, score, linear, coefs, conv, formula)


def from_column(values: np.ndarray, column: str, treated: np.ndarray) -> ScoreModel:
    """A user-supplied score: a probability (0-1, exclusive) or any other 1-D distance."""
    x = np.asarray(values, dtype=float)
    if np.isnan(x).any():
        raise DataError(f"score column '{column}' has {int(np.isnan(x).sum())} missing values "
                        "(expected a score on every row analysed)")
    is_prob = bool(((x > 0) & (x < 1)).all())
    linear = np.log(x / (1 - x)) if is_prob else x
    lo_t, hi_t, lo_c, hi_c = x[treated].min(), x[treated].max(), x[~treated].min(), x[~treated].max()
    if hi_t < lo_c or hi_c < lo_t:
        raise EstimationError(
            f"no overlap in score column '{column}': treated scores range {lo_t:.4g} to {hi_t:.4g}, "
            f"comparison scores {lo_c:.4g} to {hi_c:.4g} (expected overlapping ranges). Matching "
            "cannot find comparable units")
    return ScoreModel("column", x if is_prob else np.full_like(x, np.nan), linear, (), True,
                      f"score supplied in column '{column}'")
