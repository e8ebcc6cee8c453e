"""Feasibility studies: can the programme be delivered and evaluated, and how big must the next study be?

From case records (the plan's data file, one row per referral) and, where the plan names them,
session records, this computes the delivery and data metrics that progression criteria are
written in, each with the count behind it and a confidence interval suited to it:

============================  =============================================  ==================
metric                        value                                          interval
============================  =============================================  ==================
referrals_vs_target           referrals in the window / targets.referrals    exact Poisson
eligibility_rate              eligible / referred (with eligibility known)   Wilson
consent_rate                  consented / eligible                           Wilson
start_rate                    started / consented                            Wilson
starts_vs_target              starts / targets.starts                        exact Poisson
retention_rate                recruited with any outcome at follow-up        Wilson
completion_rate               completed / started                            Wilson
dose_sessions                 sessions attended / sessions planned           exact Poisson
dose_hours                    mean per starter of hours / planned hours      t interval
fidelity                      sessions delivered as the blueprint says /     Wilson
                              sessions attended (with fidelity recorded)
median_days_to_first_contact  median days from referral to first contact     order statistics
contact_within_target         referrals contacted within the target days     Wilson
baseline_completeness         recruited with the measure at baseline         Wilson
follow_up_completeness        recruited with the measure at last follow-up   Wilson
acceptability                 respondents rating it acceptable               Wilson
============================  =============================================  ==================

"Recruited" is consented (else started, else referred). Each criterion gets green, amber or
red from its point estimate (thresholds inclusive), and the plan's rule turns those into an
overall verdict and a step on the EIF pathway ("ready for piloting", "ready for efficacy").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from evalkit.errors import DataError, EstimationError
from evalkit.estimate import Analysis
from evalkit.estimate._stats import t_crit, z_crit
from evalkit.estimate._columns import file_lines as _lines
from evalkit.results import Estimate, FlowStage, RunWarning
from evalkit.spec import model as m
from evalkit.spec.raw import Better, FeasibilityMetric, ProgressionRule, Stage
from evalkit.spec.designs.feasibility import feasibility_better

M = FeasibilityMetric
LEVEL = 0.95
_EPS = 1e-12  # thresholds are inclusive; guard against 0.7000000000000001

RAG_WORDS = {"green": "progress", "amber": "progress with changes", "red": "do not progress"}
RULE_WORDS = {
    ProgressionRule.any_red_stops: "stop if any criterion is red; progress with changes if any is amber; "
                                   "progress if all are green",
    ProgressionRule.all_green: "progress only if every criterion is green; otherwise do not progress",
}
# the step a feasibility-type study readies a programme for (EIF 10 steps, see evidence rules)
NEXT_STEP = {
    Stage.test_feasibility: ("pilot_for_outcomes", "piloting"),
    Stage.pilot_for_outcomes: ("test_for_efficacy", "efficacy"),
}


# ---------------------------------------------------------------------------- intervals


def wilson(count: int, total: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion (Newcombe 1998, method 3)."""
    if total <= 0:
        raise EstimationError("a proportion needs at least one unit in its denominator")
    from evalkit.estimate._stats import wilson as wilson_interval

    low, high = wilson_interval(count, total, level)
    return max(0.0, float(low)), min(1.0, float(high))


def poisson_exact(count: int, level: float = LEVEL) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count."""
    from scipy.stats import chi2

    alpha = 1 - level
    low = 0.0 if count == 0 else float(chi2.ppf(alpha / 2, 2 * count) / 2)
    return low, float(chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)


def median_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Distribution-free interval for a median from order statistics (binomial, at least ``level``)."""
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        raise EstimationError("a median needs at least one value")
    # largest j with P(Bin(n, 1/2) < j) <= alpha/2; interval [x_(j), x_(n-j+1)] (1-based)
    j = int(binom.ppf((1 - level) / 2, n, 0.5))
    if j < 1 or binom.cdf(j - 1, n, 0.5) > (1 - level) / 2:
        j = max(j - 1, 0)
    if j < 1:
        return float(x[0]), float(x[-1])
    return float(x[j - 1]), float(x[n - j])


# ---------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    count: float  # numerator (referrals, people, sessions, hours)
    denominator: float  # the units the value is a share of, or the target
    units: str
    method: str
    indicator: str | None = None  # for completeness metrics
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.metric if self.indicator is None else f"{self.metric}:{self.indicator}"


def _share(metric, count, total, what, indicator=None, note="") -> Metric:
    low, high = wilson(int(count), int(total))
    return Metric(metric, count / total, low, high, int(count), int(total), "proportion",
                  f"{what}; Wilson score interval", indicator, note)


def _to_target(metric, count, target, what) -> Metric:
    low, high = poisson_exact(int(count))
    return Metric(metric, count / target, low / target, high / target, int(count), float(target),
                  "ratio to target", f"{what} / target {target:g}; exact Poisson interval on the count")


class _NoData(Exception):
    """A metric has nothing to be computed from; raised as EstimationError if a criterion needs it."""


def _flag(frame: pd.DataFrame, column: str, label: str) -> pd.Series:
    """A 0/1 case column as a nullable boolean; anything else is a DataError naming the lines."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()) | (values.notna() & ~values.isin([0, 1]))
    if bad.any():
        lines = _lines(bad)
        raise DataError(f"{label}: column '{column}' is not 0/1 at line(s) {lines} "
                        f"(found {', '.join(repr(v) for v in raw[bad].tolist()[:3])}; expected 0, 1 or empty)")
    return values.map({1.0: True, 0.0: False}).astype("boolean")


def _dates(series: pd.Series, label: str, column: str) -> pd.Series:
    text = series.astype("string")
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = text.notna() & parsed.isna()
    if bad.any():
        lines = _lines(bad)
        raise DataError(f"{label}: column '{column}' has values that are not dates at line(s) {lines} "
                        f"(found {', '.join(repr(v) for v in series[bad].tolist()[:3])}; expected dates such as 2024-09-30)")
    return parsed


@dataclass
class _Cases:
    """The case file, as flags and dates, with the stage each case reached."""

    referred: pd.Series  # bool, in the recruitment window
    eligible: pd.Series | None
    consented: pd.Series | None
    started: pd.Series | None
    completed: pd.Series | None
    recruited: pd.Series  # bool
    referral: pd.Series  # datetime
    first_contact: pd.Series | None  # datetime
    ids: pd.Series


def read_sessions(evaluation: m.Evaluation, ids: pd.Series) -> pd.DataFrame | None:
    """The plan's session records, checked: known case ids, dates, 0/1 columns."""
    spec = evaluation.feasibility.sessions
    if spec is None:
        return None
    from evalkit.data.files import check_inside
    from evalkit.data.load import read_table

    path = (evaluation.source.parent / spec.path).resolve()
    if evaluation.data.roots:
        check_inside(path, evaluation.data.roots, spec.path)
    columns = [c for c in (spec.id, spec.date, spec.attended, spec.hours, spec.fidelity) if c]
    frame = read_table(path, columns, spec.sheet, evaluation.data.missing_values)
    label = spec.path
    out = pd.DataFrame({"id": frame[spec.id].astype("string"),
                        "date": _dates(frame[spec.date], label, spec.date)})
    missing = out["date"].isna() | out["id"].isna()
    if missing.any():
        lines = _lines(missing)
        raise DataError(f"{label}: session rows without a case id or date at line(s) {lines} "
                        f"(expected both '{spec.id}' and '{spec.date}' on every row)")
    unknown = ~out["id"].isin(set(ids.astype("string")))
    if unknown.any():
        lines = _lines(unknown)
        raise DataError(f"{label}: {int(unknown.sum())} session row(s) name a case that is not in "
                        f"{evaluation.data.path_as_written}, at line(s) {lines} (expected every '{spec.id}' "
                        f"to be a '{evaluation.data.id}' of the case file)")
    out["attended"] = _flag(frame, spec.attended, label).fillna(False).astype(bool) if spec.attended else True
    if spec.hours:
        hours = pd.to_numeric(frame[spec.hours], errors="coerce")
        bad = (frame[spec.hours].notna() & hours.isna()) | (hours < 0)
        if bad.any():
            lines = _lines(bad)
            raise DataError(f"{label}: column '{spec.hours}' holds values that are not hours >= 0 at line(s) {lines}")
        out["hours"] = hours.where(out["attended"], 0.0).fillna(0.0)
    if spec.fidelity:
        out["fidelity"] = _flag(frame, spec.fidelity, label)
    # checked in file order (messages name lines); analysed in one canonical order
    from evalkit.data.order import sort_canonically

    return sort_canonically(out, ["id", "date"])


def _read_cases(evaluation: m.Evaluation, frame: pd.DataFrame) -> tuple[_Cases, list[RunWarning]]:
    fz = evaluation.feasibility
    cols = fz.cases
    label = evaluation.data.path_as_written
    warnings: list[RunWarning] = []
    ids = frame[evaluation.data.id].astype("string")
    referral = _dates(frame[cols.referral_date], label, cols.referral_date)
    if referral.isna().any():
        lines = _lines(referral.isna())
        raise DataError(f"{label}: column '{cols.referral_date}' is empty at line(s) {lines} "
                        "(expected a referral date on every case)")
    referred = pd.Series(True, index=frame.index)
    if fz.recruitment is not None:
        start, end = pd.Timestamp(fz.recruitment.start), pd.Timestamp(fz.recruitment.end)
        referred = (referral >= start) & (referral <= end)
        outside = int((~referred).sum())
        if outside:
            warnings.append(RunWarning.counted("outside_recruitment_window",
                                               f"{{outside}} case(s) referred outside {start.date()} to {end.date()} "
                                               "are left out of every metric", outside=outside))
    flags = {k: _flag(frame, getattr(cols, k), label) if getattr(cols, k) else None
             for k in ("eligible", "consented", "started", "completed")}
    recruited = referred.copy()
    for k in ("started", "consented"):
        if flags[k] is not None:
            recruited = referred & flags[k].fillna(False).astype(bool)
    first_contact = _dates(frame[cols.first_contact], label, cols.first_contact) if cols.first_contact else None
    if first_contact is not None:
        early = first_contact < referral
        if early.any():
            lines = _lines(early.fillna(False))
            raise DataError(f"{label}: first contact is dated before referral at line(s) {lines} "
                            f"(column '{cols.first_contact}' vs '{cols.referral_date}'; expected contact on or after referral)")
    return _Cases(referred, flags["eligible"], flags["consented"], flags["started"], flags["completed"],
                  recruited, referral, first_contact, ids), warnings


def _among(flag: pd.Series | None, base: pd.Series) -> tuple[int, int]:
    """(yes, known) among ``base`` rows."""
    known = base & flag.notna()
    return int((known & flag.fillna(False).astype(bool)).sum()), int(known.sum())


def _stage_base(cases: _Cases, order: tuple[str, ...]) -> pd.Series:
    """The cases that reached the latest earlier stage the plan records."""
    base = cases.referred
    for name in order:
        flag = getattr(cases, name)
        if flag is not None:
            base = base & flag.fillna(False).astype(bool)
    return base


def compute_metrics(evaluation: m.Evaluation, frame: pd.DataFrame,
                    sessions: pd.DataFrame | None = None) -> tuple[dict[str, Metric], dict[str, str], list[RunWarning], _Cases]:
    """Every metric the data allow: {key: Metric}, plus {key: why not} for those they do not."""
    fz = evaluation.feasibility
    cases, warnings = _read_cases(evaluation, frame)
    tg = fz.targets
    out: dict[str, Metric] = {}
    missing: dict[str, str] = {}
    n_referred = int(cases.referred.sum())
    label = evaluation.data.path_as_written

    def add(key: str, make) -> None:
        try:
            out[key] = make()
        except _NoData as exc:
            missing[key] = str(exc)

    def share(metric, flag, base, what, column):
        def make():
            yes, known = _among(flag, base)
            if known == 0:
                raise _NoData(f"column '{column}' has no values among the {int(base.sum())} {what.split(' / ')[1]}")
            return _share(metric, yes, known, what)
        return make

    cols = fz.cases
    if tg.referrals is not None:
        add(M.referrals_vs_target.value, lambda: _to_target(M.referrals_vs_target.value, n_referred, tg.referrals,
                                                            "referrals in the window"))
    if cases.eligible is not None:
        add(M.eligibility_rate.value, share(M.eligibility_rate.value, cases.eligible, cases.referred,
                                            "eligible / referred", cols.eligible))
    if cases.consented is not None:
        add(M.consent_rate.value, share(M.consent_rate.value, cases.consented,
                                        _stage_base(cases, ("eligible",)), "consented / eligible", cols.consented))
    if cases.started is not None:
        add(M.start_rate.value, share(M.start_rate.value, cases.started,
                                      _stage_base(cases, ("eligible", "consented")), "started / consented", cols.started))
        if tg.starts is not None:
            n_started = int((cases.referred & cases.started.fillna(False).astype(bool)).sum())
            add(M.starts_vs_target.value, lambda: _to_target(M.starts_vs_target.value, n_started, tg.starts, "starts"))
    if cases.completed is not None:
        add(M.completion_rate.value, share(M.completion_rate.value, cases.completed,
                                           _stage_base(cases, ("eligible", "consented", "started")),
                                           "completed / started", cols.completed))

    # -- outcome data: completeness per measure, and retention to follow-up
    recruited = cases.recruited
    n_recruited = int(recruited.sum())
    any_follow_up = pd.Series(False, index=frame.index)
    for ind_id, tp in evaluation.timepoints.items():
        last = tp.follow_ups[-1][1]
        any_follow_up |= frame[last].notna()
        for metric, column, when in ((M.baseline_completeness, tp.baseline, "baseline"),
                                     (M.follow_up_completeness, last, tp.follow_ups[-1][0])):
            if column is None:
                continue
            key = f"{metric.value}:{ind_id}"
            if n_recruited == 0:
                missing[key] = "no one was recruited"
                continue
            count = int((recruited & frame[column].notna()).sum())
            out[key] = _share(metric.value, count, n_recruited,
                              f"recruited with '{column}' ({when}) / recruited", indicator=ind_id)
    if n_recruited:
        out[M.retention_rate.value] = _share(M.retention_rate.value, int((recruited & any_follow_up).sum()),
                                             n_recruited, "recruited with any outcome at follow-up / recruited")
    else:
        missing[M.retention_rate.value] = "no one was recruited"

    # -- sessions: dose, fidelity, first contact
    starters = _stage_base(cases, ("started",)) if cases.started is not None else None
    if sessions is not None:
        referral_by_id = pd.Series(cases.referral.to_numpy(), index=cases.ids.to_numpy())
        early = sessions["date"] < sessions["id"].map(referral_by_id)
        if early.any():
            lines = _lines(early)
            raise DataError(f"{fz.sessions.path}: {int(early.sum())} session(s) dated before the case's referral, "
                            f"at line(s) {lines} (column '{fz.sessions.date}' vs '{cols.referral_date}' in {label}; "
                            "expected sessions on or after referral)")
        attended = sessions[sessions["attended"]]
        if starters is None:
            starters = cases.referred & cases.ids.isin(set(attended["id"]))
        starter_ids = set(cases.ids[starters])
        n_starters = len(starter_ids)
        mine = attended[attended["id"].isin(starter_ids)]
        if cols.sessions_planned:
            planned_each = pd.to_numeric(frame[cols.sessions_planned], errors="coerce")[starters]
            if planned_each.isna().any() or (planned_each <= 0).any():
                raise DataError(f"{label}: column '{cols.sessions_planned}' is missing or not positive for some "
                                "starters (expected the planned number of sessions on every started case)")
            planned = float(planned_each.sum())
        else:
            planned = (tg.sessions or 0.0) * n_starters

        def dose_sessions():
            if n_starters == 0 or planned <= 0:
                raise _NoData("no starters, so no sessions were planned")
            count = len(mine)
            low, high = poisson_exact(count)
            return Metric(M.dose_sessions.value, count / planned, low / planned, high / planned, count, planned,
                          "share of planned", "sessions attended / sessions planned for starters; "
                          "exact Poisson interval on the sessions attended",
                          extra={"mean_sessions_per_starter": count / n_starters, "starters": n_starters})

        if tg.sessions is not None or cols.sessions_planned:
            add(M.dose_sessions.value, dose_sessions)
        if "hours" in sessions and tg.contact_hours is not None:
            def dose_hours():
                if n_starters == 0:
                    raise _NoData("no starters")
                per = mine.groupby("id")["hours"].sum().reindex(sorted(starter_ids), fill_value=0.0)
                ratio = per.to_numpy(dtype=float) / tg.contact_hours
                mean = float(ratio.mean())
                if len(ratio) > 1:
                    half = float(t_crit(len(ratio) - 1, LEVEL) * ratio.std(ddof=1) / math.sqrt(len(ratio)))
                else:
                    half = float("nan")
                return Metric(M.dose_hours.value, mean, max(0.0, mean - half), mean + half, float(per.sum()),
                              float(tg.contact_hours * n_starters), "share of planned hours",
                              f"mean over {n_starters} starters of contact hours / {tg.contact_hours:g} planned; t interval",
                              extra={"mean_hours_per_starter": float(per.mean()), "starters": n_starters})
            add(M.dose_hours.value, dose_hours)
        if "fidelity" in sessions:
            def fidelity():
                rated = attended["fidelity"].notna()
                if not rated.any():
                    raise _NoData(f"column '{fz.sessions.fidelity}' has no values on attended sessions")
                yes = int(attended.loc[rated, "fidelity"].astype(bool).sum())
                return _share(M.fidelity.value, yes, int(rated.sum()),
                              "sessions delivered as the blueprint says / sessions attended and rated",
                              note="sessions are clustered within young people; the interval treats them as independent")
            add(M.fidelity.value, fidelity)

    first_contact = cases.first_contact
    if first_contact is None and sessions is not None:
        firsts = sessions.groupby("id")["date"].min()
        first_contact = pd.Series(cases.ids.map(firsts).to_numpy(), index=frame.index)
    if first_contact is not None:
        days = (first_contact - cases.referral).dt.total_seconds() / 86400.0
        contacted = cases.referred & days.notna()

        def median_days():
            if not contacted.any():
                raise _NoData("no referral has a first contact date")
            values = days[contacted].to_numpy()
            low, high = median_interval(values)
            return Metric(M.median_days_to_first_contact.value, float(np.median(values)), low, high,
                          int(contacted.sum()), n_referred, "days",
                          "median days from referral to first contact; distribution-free interval (order statistics)",
                          note=f"{n_referred - int(contacted.sum())} referral(s) with no contact recorded")
        add(M.median_days_to_first_contact.value, median_days)
        if tg.days_to_first_contact is not None:
            def within():
                if n_referred == 0:
                    raise _NoData("no referrals")
                count = int((contacted & (days <= tg.days_to_first_contact + _EPS)).sum())
                return _share(M.contact_within_target.value, count, n_referred,
                              f"referrals contacted within {tg.days_to_first_contact:g} days / referrals",
                              note="referrals with no contact recorded count as not contacted in time")
            add(M.contact_within_target.value, within)

    if cols.acceptability:
        def acceptability():
            raw = pd.to_numeric(frame[cols.acceptability], errors="coerce")
            answered = cases.referred & raw.notna()
            if not answered.any():
                raise _NoData(f"column '{cols.acceptability}' has no answers")
            if fz.acceptable_from is not None:
                yes = answered & (raw >= fz.acceptable_from - _EPS)
                what = f"respondents scoring {fz.acceptable_from:g} or more / respondents"
            else:
                flag = _flag(frame, cols.acceptability, label)
                yes = answered & flag.fillna(False).astype(bool)
                what = "respondents finding it acceptable / respondents"
            met = _share(M.acceptability.value, int(yes.sum()), int(answered.sum()), what)
            base = int(recruited.sum())
            return replace(met, extra={"response_rate": int(answered.sum()) / base if base else None})
        add(M.acceptability.value, acceptability)
    return out, missing, warnings, cases


# ---------------------------------------------------------------------------- verdicts


def rag(value: float, green: float, amber: float, better: Better) -> str:
    """Green at or beyond the green threshold, amber at or beyond amber, red otherwise."""
    if better is Better.higher:
        return "green" if value >= green - _EPS else "amber" if value >= amber - _EPS else "red"
    return "green" if value <= green + _EPS else "amber" if value <= amber + _EPS else "red"


def overall_rag(rags: list[str], rule: ProgressionRule) -> str:
    if rule is ProgressionRule.all_green:
        return "green" if all(r == "green" for r in rags) else "red"
    return "red" if "red" in rags else "amber" if "amber" in rags else "green"


def verdict_text(rows: list[dict], overall: str, rule: ProgressionRule) -> str:
    by = {c: [r["label"] for r in rows if r["rag"] == c] for c in ("green", "amber", "red")}
    parts = [f"{len(by['green'])} green, {len(by['amber'])} amber, {len(by['red'])} red"]
    if by["red"]:
        parts.append("red: " + ", ".join(by["red"]))
    if by["amber"]:
        parts.append("amber: " + ", ".join(by["amber"]))
    return f"{RAG_WORDS[overall].capitalize()} ({'; '.join(parts)}). Rule: {RULE_WORDS[rule]}."


def pathway(stage: Stage, overall: str) -> dict:
    """The EIF-pathway reading of the verdict, for the evidence rating."""
    next_stage, words = NEXT_STEP.get(stage, (None, "the next stage"))
    verdict = {"green": f"ready for {words}", "amber": f"ready for {words}, with changes",
               "red": f"not ready for {words}"}[overall]
    return {"stage": stage.value, "next_stage": next_stage, "ready": overall != "red", "verdict": verdict,
            "overall": overall}


LABELS = {
    M.referrals_vs_target: "referrals against target", M.eligibility_rate: "eligibility rate",
    M.consent_rate: "consent rate", M.start_rate: "start rate", M.starts_vs_target: "starts against target",
    M.retention_rate: "retention to follow-up", M.completion_rate: "completion rate",
    M.dose_sessions: "sessions attended of planned", M.dose_hours: "contact hours of planned",
    M.fidelity: "sessions delivered to fidelity", M.median_days_to_first_contact: "median days to first contact",
    M.contact_within_target: "contacted within target time", M.baseline_completeness: "baseline data",
    M.follow_up_completeness: "follow-up data", M.acceptability: "acceptability",
}


def _fmt(value: float, units: str) -> str:
    if units == "days":
        return f"{value:.1f} days"
    return f"{value:.0%}"


def _counted(met: Metric) -> str:
    if met.units == "ratio to target":
        return f"{met.count:g} against a target of {met.denominator:g}"
    if met.units == "days":
        return f"{met.count:g} of {met.denominator:g} referrals contacted"
    if met.metric == M.dose_hours.value:
        return f"{met.count:g} of {met.denominator:g} hours"
    return f"{met.count:g} of {met.denominator:g}"


def _criteria_rows(evaluation: m.Evaluation, metrics: dict[str, Metric], missing: dict[str, str]) -> list[dict]:
    fz = evaluation.feasibility
    rows = []
    for i, c in enumerate(fz.criteria):
        key = c.metric.value
        if c.metric in (M.baseline_completeness, M.follow_up_completeness):
            key = f"{key}:{c.indicator or evaluation.primary_outcome.id}"
        met = metrics.get(key)
        if met is None:
            why = missing.get(key, "no data")
            raise EstimationError(f"{evaluation.source.name}: feasibility.criteria[{i}] '{key}' has no data to "
                                  f"judge: {why} (expected at least one case the metric applies to)")
        better = feasibility_better(c)
        status = rag(met.value, c.green, c.amber, better)
        threshold = c.green
        ci_crosses = met.ci_low - _EPS <= threshold <= met.ci_high + _EPS
        label = c.label or LABELS[c.metric] + (f" ({met.indicator})" if met.indicator else "")
        rows.append({
            "metric": c.metric.value, "indicator": met.indicator, "key": key, "label": label,
            "value": met.value, "ci_low": met.ci_low, "ci_high": met.ci_high, "ci_level": LEVEL,
            "count": met.count, "denominator": met.denominator, "units": met.units, "method": met.method,
            "green": c.green, "amber": c.amber, "better": better.value, "rag": status,
            "ci_includes_green_threshold": bool(ci_crosses),
            "statement": f"{label}: {_fmt(met.value, met.units)} (95% CI {_fmt(met.ci_low, met.units)} to "
                         f"{_fmt(met.ci_high, met.units)}; {_counted(met)}) is {status.upper()} "
                         f"(green {'at least' if better is Better.higher else 'at most'} {_fmt(c.green, met.units)}, "
                         f"amber {'at least' if better is Better.higher else 'at most'} {_fmt(c.amber, met.units)})",
        })
    return rows


# ---------------------------------------------------------------------------- planning


def _planning(evaluation: m.Evaluation, frame: pd.DataFrame, cases: _Cases,
              metrics: dict[str, Metric]) -> tuple[dict, list[RunWarning]]:
    from evalkit.estimate import power

    pl = evaluation.feasibility.planning
    warnings: list[RunWarning] = []
    ind = evaluation.primary_outcome
    tp = evaluation.timepoints.get(ind.id)
    if tp is None:
        raise EstimationError(f"{evaluation.source.name}: sample-size planning needs the primary outcome "
                              f"'{ind.id}' in timepoints")
    rec = cases.recruited
    base_col, follow_col = tp.baseline, tp.follow_ups[-1][1]
    base = pd.to_numeric(frame[base_col], errors="coerce")[rec] if base_col else None
    follow = pd.to_numeric(frame[follow_col], errors="coerce")[rec]
    sd_source = base if base is not None and base.notna().sum() >= 2 else follow
    sd_values = sd_source.dropna()
    if len(sd_values) < 2:
        raise EstimationError(f"{evaluation.source.name}: too few values of '{ind.id}' to estimate its SD "
                              f"({len(sd_values)}; expected at least 2)")
    sd = float(sd_values.std(ddof=1))
    from scipy.stats import chi2

    df = len(sd_values) - 1
    sd_ucl80 = sd * math.sqrt(df / float(chi2.ppf(0.2, df)))  # Browne 1995: plan on the 80% upper limit
    correlation, n_pairs = 0.0, 0
    if base is not None:
        both = base.notna() & follow.notna()
        n_pairs = int(both.sum())
        if n_pairs >= 3 and base[both].std() > 0 and follow[both].std() > 0:
            correlation = float(np.corrcoef(base[both], follow[both])[0, 1])
        if n_pairs < 20:
            warnings.append(RunWarning.counted("few_pairs_for_correlation",
                                               f"the baseline-follow-up correlation of '{ind.id}' rests on {{pairs}} "
                                               "pair(s)", ind.id, pairs=n_pairs))
    correlation = max(correlation, 0.0)  # a negative r would be noise here; ANCOVA gain is never planned below 0
    retention_key = f"follow_up_completeness:{ind.id}"
    retention = metrics[retention_key].value if retention_key in metrics else 1.0
    if retention <= 0:
        raise EstimationError(f"{evaluation.source.name}: no one recruited has '{ind.id}' at follow-up, "
                              "so retention is 0 and no efficacy study size can be planned")
    icc, icc_source, cluster_size = 0.0, "none (no clustering)", 1.0
    icc_estimated = None
    if evaluation.cluster is not None:
        values = base if base is not None else follow
        est, k, mean_size = power.icc_anova(values, frame.loc[rec, evaluation.cluster])
        icc_estimated = {"icc": est, "clusters": k, "mean_cluster_size": mean_size, "cluster": evaluation.cluster,
                         "method": "one-way ANOVA estimator (Donner's n0 for unequal sizes), truncated at 0"}
    if pl.icc is not None:
        icc, icc_source, cluster_size = pl.icc, "plan", float(pl.cluster_size)
    elif icc_estimated is not None:
        icc = icc_estimated["icc"]
        icc_source = f"estimated from '{evaluation.cluster}' ({icc_estimated['clusters']} clusters; one-way ANOVA)"
        cluster_size = float(pl.cluster_size) if pl.cluster_size is not None else icc_estimated["mean_cluster_size"]
        warnings.append(RunWarning("icc_from_feasibility",
                                   f"the ICC ({icc:.3f}) is estimated from {icc_estimated['clusters']} clusters of a "
                                   "small study and is imprecise; check it against published ICCs for this outcome",
                                   ind.id))
    effect = pl.effect_size if pl.effect_size is not None else pl.difference / sd
    inputs = power.PlanningInputs(effect_size=effect, alpha=pl.alpha, power=pl.power, correlation=correlation,
                                  retention=retention, icc=icc, cluster_size=cluster_size,
                                  comparison_ratio=pl.comparison_ratio, matched_share=pl.matched_share)
    available = pl.available_per_arm if pl.available_per_arm is not None else int(rec.sum())
    designs = power.plan(inputs, available)
    conservative = None
    if pl.difference is not None:
        cons_inputs = power.PlanningInputs(**{**inputs.__dict__, "effect_size": pl.difference / sd_ucl80})
        conservative = power.plan(cons_inputs, None)
    return {
        "outcome": ind.id, "sd": sd, "sd_from": "baseline" if sd_source is base else "follow-up",
        "sd_n": len(sd_values), "sd_upper_80": sd_ucl80, "correlation": correlation, "correlation_pairs": n_pairs,
        "retention": retention, "icc": icc, "icc_source": icc_source, "icc_estimated": icc_estimated, "cluster_size": cluster_size,
        "design_effect": power.design_effect(icc, cluster_size), "ancova_factor": power.ancova_factor(correlation),
        "effect_size": effect, "difference": pl.difference, "alpha": pl.alpha, "power": pl.power,
        "available_per_arm": available,
        "available_from": "plan" if pl.available_per_arm is not None else "recruited in this study",
        "designs": designs, "designs_with_sd_upper_80": conservative,
        "method": "two-sided two-sample t-test (statsmodels TTestIndPower) on effect / sqrt(1 - r^2) "
                  "(ANCOVA on baseline), times the design effect 1 + (m - 1) ICC, divided by retention "
                  "(and by the matched share for a matched comparison)",
    }, warnings


# ---------------------------------------------------------------------------- the design


def _units(met: Metric) -> int:
    """The units a metric is about: starters for dose, the denominator for shares, else the count."""
    if "starters" in met.extra:
        return int(met.extra["starters"])
    return int(met.denominator) if met.units == "proportion" else int(met.count)


def _estimate(met: Metric, row: dict | None) -> Estimate:
    details = {"count": met.count, "denominator": met.denominator, **met.extra}
    if met.note:
        details["note"] = met.note
    if row is not None:
        details.update(rag=row["rag"], green=row["green"], amber=row["amber"], better=row["better"])
    return Estimate(indicator=met.indicator or met.metric, design="feasibility", estimand=met.metric,
                    timepoints=(), n=_units(met),
                    estimate=met.value, std_error=None, ci_low=met.ci_low, ci_high=met.ci_high, p_value=None,
                    method=met.method, units=met.units, direction_good=None, primary=row is not None,
                    comparison="against progression criteria" if row is not None else "", details=details)


def analyse(evaluation: m.Evaluation, frame: pd.DataFrame, seed: int) -> Analysis:
    """Feasibility metrics, progression verdict, pathway step and efficacy-study size."""
    del seed  # nothing here is random
    if evaluation.feasibility is None:
        raise EstimationError(f"{evaluation.source.name}: design 'feasibility' needs a feasibility section")
    fz = evaluation.feasibility
    cases_preview = frame[evaluation.data.id]
    sessions = read_sessions(evaluation, cases_preview)
    metrics, missing, warnings, cases = compute_metrics(evaluation, frame, sessions)
    rows = _criteria_rows(evaluation, metrics, missing)
    overall = overall_rag([r["rag"] for r in rows], fz.rule)
    section = {
        "criteria": rows, "rule": fz.rule.value, "rule_text": RULE_WORDS[fz.rule], "overall": overall,
        "verdict": verdict_text(rows, overall, fz.rule), "pathway": pathway(evaluation.stage, overall),
        "metrics": {k: {"value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "count": v.count,
                        "denominator": v.denominator, "units": v.units, "method": v.method, **v.extra}
                    for k, v in sorted(metrics.items())},
        "not_computed": dict(sorted(missing.items())),
        "thresholds_rule": "thresholds are inclusive: green when the value reaches the green threshold, "
                           "amber when it reaches amber, red otherwise (judged on the point estimate)",
    }
    uncertain = [r["label"] for r in rows if r["ci_includes_green_threshold"]]
    if uncertain:
        warnings.append(RunWarning("criteria_uncertain",
                                   f"{len(uncertain)} of {len(rows)} criteria have a 95% CI that includes the green "
                                   "threshold, so this study cannot tell on which side they lie: " + ", ".join(uncertain)))
    if fz.planning is not None:
        section["planning"], more = _planning(evaluation, frame, cases, metrics)
        warnings += more
    by_key = {r["key"]: r for r in rows}
    estimates = tuple(_estimate(metrics[k], by_key.get(k)) for k in
                      [r["key"] for r in rows] + [k for k in sorted(metrics) if k not in by_key])
    flow = [FlowStage("in_data", int(len(frame))), FlowStage("referred", int(cases.referred.sum()))]
    base = cases.referred
    for name in ("eligible", "consented", "started", "completed"):
        flag = getattr(cases, name)
        if flag is not None:
            base = base & flag.fillna(False).astype(bool)
            flow.append(FlowStage(name, int(base.sum())))
    for ind_id, tp in evaluation.timepoints.items():
        # the measurements among those recruited, as a funnel (issue 16): recruited >= with a baseline
        # >= with both; "with_follow_up" (any follow-up, with or without a baseline) is kept for readers
        # of older results but is not nested in "with_baseline"
        follow = frame[tp.follow_ups[-1][1]].notna()
        flow.append(FlowStage("recruited", int(cases.recruited.sum()), indicator=ind_id))
        if tp.baseline:
            base = cases.recruited & frame[tp.baseline].notna()
            flow.append(FlowStage("with_baseline", int(base.sum()), indicator=ind_id))
        flow.append(FlowStage("with_follow_up", int((cases.recruited & follow).sum()), indicator=ind_id))
        if tp.baseline:
            flow.append(FlowStage("analysed", int((base & follow).sum()), indicator=ind_id,
                                  note="recruited with the baseline and the last follow-up"))
    warnings.append(RunWarning("no_causal_claim", "a feasibility study tests delivery and data collection; "
                                                  "it makes no claim about effects on outcomes"))
    return Analysis(estimates=estimates, flow=tuple(flow), warnings=tuple(warnings), sections={"feasibility": section})
