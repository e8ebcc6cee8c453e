"""How it was delivered: fidelity, dosage, engagement over time and dose-response, in routine delivery.

The process strand of a Home Office VRU evaluation, from the programme's own session records (one
row per session offered to a participant, with whether they attended) against the programme's
declared plan (:class:`DeliveryPlan`: sessions per participant, session length, components):

- :func:`fidelity`: sessions delivered as designed. Adherence to the blueprint (the deliverer's
  checklist), how many attended sessions were checked at all, sessions of the planned length,
  each required component, and sessions offered against the plan. Sessions of one participant
  (or one deliverer) are alike, so each share has a cluster-robust interval (CR1 on the mean of
  the session flags, t(G - 1); the shared :func:`evalkit.estimate._stats.cluster_mean`), not the
  binomial one that would treat sessions as independent;
- :func:`dosage`: the distribution of sessions received per participant (median and quartiles
  with R's default ``type = 7`` quantiles, mean, range, counts at each number of sessions) and the
  share reaching the planned dose and the programme's minimum dose (Wilson intervals);
- :func:`engagement`: month by month (sessions offered and attended, attendance rate, active
  participants, starters and those whose last session it was) and by month since each participant's first session
  (the share of starters still attending, counting only those observed that long);
- :func:`dose_response`: the outcome on the dose received, adjusted for baseline covariates:
  a slope per session and a comparison of dose bands with a joint test. Participants choose how
  much they attend, and those who attend more differ in ways no adjustment removes, so this is an
  association, never an effect: the record says so in its type (``causal = False``) and in its
  warning.

Every function sorts its input to a canonical order first; counts stay typed so the disclosure
layer can suppress small cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import DataError, OptionError
from evalkit.estimate import _robust as rb
from evalkit.estimate._stats import cluster_mean, wilson
from evalkit.results import RunWarning

MIN_COUNT = 5  # the disclosure threshold: smaller cells keep their counts but no share or estimate
DURATION_TOLERANCE = 0.25  # toolkit default: a session within 25% of the planned length is "as planned"
DOSE_BANDS = (0.25, 0.5, 0.75)  # dose bands as shares of the planned sessions: <25%, 25-50%, 50-75%, >=75%


@dataclass(frozen=True)
class DeliveryPlan:
    """What the programme's blueprint says each participant should receive."""

    sessions: int  # planned sessions per participant (the full dose)
    minimum_dose: int | None = None  # the programme's own "received enough", e.g. 16 of 24 sessions
    session_hours: float | None = None  # planned length of one session
    duration_tolerance: float = DURATION_TOLERANCE
    components: tuple[str, ...] = ()  # session columns: 1 = the component was delivered
    weeks: int | None = None  # planned length of the programme: retention is followed this long

    def __post_init__(self):
        if not (isinstance(self.sessions, (int, np.integer)) and self.sessions >= 1):
            raise OptionError(f"plan.sessions: found {self.sessions!r}; expected a whole number of sessions >= 1")
        if self.minimum_dose is not None and not 1 <= self.minimum_dose <= self.sessions:
            raise OptionError(f"plan.minimum_dose: found {self.minimum_dose!r}; expected 1 to {self.sessions}")
        if self.session_hours is not None and not self.session_hours > 0:
            raise OptionError(f"plan.session_hours: found {self.session_hours!r}; expected hours > 0")
        if self.weeks is not None and not (isinstance(self.weeks, (int, np.integer)) and self.weeks >= 1):
            raise OptionError(f"plan.weeks: found {self.weeks!r}; expected a whole number of weeks >= 1")
        if not 0 <= self.duration_tolerance < 1:
            raise OptionError(f"plan.duration_tolerance: found {self.duration_tolerance!r}; expected a share 0-1")


@dataclass(frozen=True)
class SessionColumns:
    """Which column of the session records is which."""

    id: str = "case_id"
    date: str = "session_date"
    attended: str = "attended"
    hours: str | None = None
    fidelity: str | None = None  # 1 = delivered as the blueprint says (checklist), empty = not checked
    deliverer: str | None = None  # mentor or worker: the unit sessions cluster in for fidelity


@dataclass(frozen=True)
class Share:
    """A share with its interval and the counts behind it."""

    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    numerator: float
    denominator: float
    clusters: int | None  # clusters behind a cluster-robust interval
    method: str
    reported: bool  # False when the denominator is below min_count


@dataclass(frozen=True)
class Fidelity:
    adherence: Share | None  # attended sessions delivered as designed, among those checked
    checked: Share | None  # attended sessions with a fidelity check at all
    duration: Share | None  # attended sessions within the tolerance of the planned length
    components: tuple[Share, ...]  # each declared component, among attended sessions
    offered_per_participant: float | None  # mean sessions offered per participant
    offered_vs_plan: float | None  # that mean / plan.sessions
    sessions_offered: int
    sessions_attended: int
    participants: int
    cluster_by: str
    warnings: tuple[RunWarning, ...]


@dataclass(frozen=True)
class DoseCount:
    sessions: int
    participants: int


@dataclass(frozen=True)
class Dosage:
    participants: int  # the denominator: every participant listed, including those with no session
    planned: int
    median: float | None
    q1: float | None
    q3: float | None
    mean: float | None
    sd: float | None
    minimum: int | None
    maximum: int | None
    full_dose: Share
    minimum_dose: Share | None
    hours_median: float | None
    hours_q1: float | None
    hours_q3: float | None
    distribution: tuple[DoseCount, ...]  # participants at each number of sessions attended
    quantiles: str  # the quantile definition, in words
    warnings: tuple[RunWarning, ...]


@dataclass(frozen=True)
class EngagementMonth:
    month: str  # YYYY-MM
    sessions_offered: int
    sessions_attended: int
    attendance_rate: float | None
    active: int  # participants attending at least one session
    starters: int  # participants whose first attended session is this month
    ended: int  # participants whose last attended session is this month, completers included (0 in the last
    # month the records cover, where nobody can be known to have ended)


@dataclass(frozen=True)
class RetentionMonth:
    programme_month: int  # 1 = the month from the first session
    observed: int  # starters followed that long
    attending: int  # of whom attended at least one session in that month
    share: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Engagement:
    months: tuple[EngagementMonth, ...]
    retention: tuple[RetentionMonth, ...]
    observed_until: str  # the last date the records cover
    min_count: int


@dataclass(frozen=True)
class DoseTerm:
    name: str  # "per session", or a band such as "50-75% of planned"
    n: int
    estimate: float | None
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    reported: bool


@dataclass(frozen=True)
class DoseResponse:
    """The outcome's association with the dose received. Never an effect: ``causal`` is always False."""

    outcome: str
    dose: str
    adjusted_for: tuple[str, ...]
    n: int
    slope: DoseTerm  # per session attended
    full_dose_contrast: DoseTerm  # slope x planned sessions: full dose against none, if the line held
    bands: tuple[DoseTerm, ...]  # each band against the lowest
    reference_band: str
    band_test_statistic: float | None
    band_test_p_value: float | None
    band_test_reference: str
    covariance: str
    causal: bool
    label: str
    warnings: tuple[RunWarning, ...]


# ----------------------------------------------------------------------------------- checks


def _show(value) -> str:
    """A value as the user wrote it (numpy scalars as plain numbers)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _flag(frame: pd.DataFrame, column: str, what: str, allow_missing: bool) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (frame[column].notna() & values.isna()) | (values.notna() & ~values.isin([0, 1]))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:3] + 1
        raise DataError(f"{what}: column '{column}' is not 0/1 at session row(s) {', '.join(map(str, rows))}: "
                        f"{_show(frame[column][bad].iloc[0])}; expected 1 (yes), 0 (no)" + (" or empty" if allow_missing else ""))
    if not allow_missing and values.isna().any():
        rows = np.flatnonzero(values.isna().to_numpy())[:3] + 1
        raise DataError(f"{what}: column '{column}' is empty at session row(s) {', '.join(map(str, rows))}; "
                        "expected 1 or 0 on every session")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _sessions(sessions: pd.DataFrame, cols: SessionColumns, what: str = "session records") -> pd.DataFrame:
    """Checked session records in canonical order: id, date, attended (0/1), optional hours and flags."""
    need = [c for c in (cols.id, cols.date, cols.attended, cols.hours, cols.fidelity, cols.deliverer) if c]
    for c in need:
        if c not in sessions.columns:
            raise DataError(f"{what}: column '{c}' is not in the frame; it has " + ", ".join(map(str, sessions.columns)))
    out = pd.DataFrame({"id": sessions[cols.id].to_numpy()})
    if out["id"].isna().any():
        raise DataError(f"{what}: column '{cols.id}' is empty on some sessions; expected a participant id on each")
    out["id"] = out["id"].astype(str)
    dates = pd.to_datetime(sessions[cols.date], errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)[:3] + 1
        raise DataError(f"{what}: column '{cols.date}' is not a date at session row(s) {', '.join(map(str, rows))}: "
                        f"{_show(sessions[cols.date].iloc[rows[0] - 1])}; expected dates such as 2024-09-02")
    out["date"] = dates.to_numpy()
    out["attended"] = _flag(sessions, cols.attended, what, allow_missing=False)
    if cols.hours:
        h = pd.to_numeric(sessions[cols.hours], errors="coerce")
        badh = (sessions[cols.hours].notna() & h.isna()) | (h < 0)
        if badh.any():
            raise DataError(f"{what}: column '{cols.hours}' holds {_show(sessions[cols.hours][badh].iloc[0])}; expected "
                            "hours >= 0 (or empty)")
        out["hours"] = h.to_numpy(dtype=float, na_value=np.nan)
    if cols.fidelity:
        out["fidelity"] = _flag(sessions, cols.fidelity, what, allow_missing=True)
    if cols.deliverer:
        out["deliverer"] = sessions[cols.deliverer].astype(str).to_numpy()
    for extra in sessions.columns:
        if extra not in need and extra not in out.columns:
            out[extra] = sessions[extra].to_numpy()
    keys = [c for c in ("id", "date", "attended", "hours", "fidelity", "deliverer") if c in out.columns]
    return out.sort_values(keys, kind="mergesort", na_position="last").reset_index(drop=True)


def _share_clustered(name: str, flags: np.ndarray, clusters: np.ndarray, level: float, min_count: int,
                     what: str) -> Share | None:
    n = int(flags.size)
    if n == 0:
        return None
    x = float(flags.sum())
    if n < min_count:
        return Share(name, None, None, None, x, n, None, f"{what}; fewer than {min_count} sessions: not reported", False)
    g = int(pd.unique(clusters).size)
    if g >= 2:
        res = cluster_mean(flags, clusters, level)
        lo, hi = res["ci_low"], res["ci_high"]
        if not math.isfinite(lo):  # every flag alike: no spread, so the interval is the point
            lo = hi = x / n
        return Share(name, x / n, max(0.0, lo), min(1.0, hi), x, n, g,
                     f"{what}; CR1 cluster-robust interval on the mean of the session flags, t({g - 1})", True)
    lo, hi = wilson(x, n, level)
    return Share(name, x / n, float(lo), float(hi), x, n, None,
                 f"{what}; Wilson interval (one cluster only, so sessions treated as independent)", True)


def _share_people(name: str, x: int, n: int, level: float, min_count: int, what: str) -> Share:
    if n < min_count:
        return Share(name, None, None, None, x, n, None, f"{what}; fewer than {min_count} participants", False)
    lo, hi = wilson(x, n, level)
    return Share(name, x / n, float(lo), float(hi), x, n, None, f"{what}; Wilson interval", True)


# ----------------------------------------------------------------------------------- fidelity


def fidelity(sessions: pd.DataFrame, plan: DeliveryPlan, columns: SessionColumns = SessionColumns(), *,
             participants: Sequence | None = None, ci_level: float = 0.95, min_count: int = MIN_COUNT) -> Fidelity:
    """Sessions delivered as designed, against the declared plan."""
    s = _sessions(sessions, columns)
    if participants is not None:
        ids = pd.Series(list(participants)).astype(str)
        unknown = ~s["id"].isin(set(ids))
        if unknown.any():
            raise DataError(f"session records: {int(unknown.sum())} session(s) name a participant who is not in the "
                            f"participant list (e.g. {s['id'][unknown].iloc[0]!r}); expected every session's "
                            f"'{columns.id}' among the participants")
        n_people = int(ids.nunique())
    else:
        n_people = int(s["id"].nunique())
    by = "deliverer" if columns.deliverer else "id"
    by_label = columns.deliverer or f"participant ({columns.id})"
    att = s[s["attended"] == 1]
    warnings = []
    adherence = checked = duration = None
    if columns.fidelity:
        rated = att[att["fidelity"].notna()]
        checked = _share_clustered("checked", att["fidelity"].notna().to_numpy(float), att[by].to_numpy(),
                                   ci_level, min_count, "attended sessions with a fidelity check")
        adherence = _share_clustered("adherence", rated["fidelity"].to_numpy(float), rated[by].to_numpy(), ci_level,
                                     min_count, "checked sessions delivered as the blueprint says")
        if checked is not None and checked.value is not None and checked.value < 0.8:
            warnings.append(RunWarning("fidelity_unchecked", f"only {checked.value:.0%} of attended sessions had a "
                                       "fidelity check: adherence describes the checked sessions, which may not be "
                                       "typical"))
    if columns.hours and plan.session_hours:
        timed = att[att["hours"].notna()]
        ok = (timed["hours"] >= plan.session_hours * (1 - plan.duration_tolerance)).to_numpy(float)
        duration = _share_clustered("duration", ok, timed[by].to_numpy(), ci_level, min_count,
                                    f"attended sessions of at least {1 - plan.duration_tolerance:.0%} of the planned "
                                    f"{plan.session_hours:g} hours")
    comps = []
    for comp in plan.components:
        if comp not in sessions.columns:
            raise DataError(f"plan.components: column '{comp}' is not in the session records; it has "
                            + ", ".join(map(str, sessions.columns)))
        flags = _flag(s, comp, "session records", allow_missing=True)
        keep = (s["attended"] == 1).to_numpy() & ~np.isnan(flags)
        share = _share_clustered(comp, flags[keep], s[by].to_numpy()[keep], ci_level, min_count,
                                 f"attended sessions that delivered '{comp}'")
        if share is not None:
            comps.append(share)
    offered = s.groupby("id").size()
    if participants is not None:
        offered = offered.reindex(sorted(set(pd.Series(list(participants)).astype(str))), fill_value=0)
    mean_offered = float(offered.mean()) if n_people else None
    return Fidelity(adherence=adherence, checked=checked, duration=duration, components=tuple(comps),
                    offered_per_participant=mean_offered,
                    offered_vs_plan=mean_offered / plan.sessions if mean_offered is not None else None,
                    sessions_offered=int(len(s)), sessions_attended=int(len(att)), participants=n_people,
                    cluster_by=by_label, warnings=tuple(warnings))


# ----------------------------------------------------------------------------------- dosage


def doses(sessions: pd.DataFrame, participants: Sequence, columns: SessionColumns = SessionColumns(),
          hours: bool = False) -> pd.Series:
    """Sessions attended (or hours, with ``hours=True``) by each participant listed, 0 for those with
    none. Person-level: for analysis, never for publication."""
    s = _sessions(sessions, columns)
    ids = pd.Series(list(participants)).astype(str)
    if ids.duplicated().any():
        raise DataError(f"participants: {ids[ids.duplicated()].iloc[0]!r} is listed twice; expected each once")
    att = s[s["attended"] == 1]
    if hours:
        if "hours" not in att:
            raise OptionError("hours=True needs the sessions' hours column (SessionColumns.hours)")
        per = att.groupby("id")["hours"].sum()
    else:
        per = att.groupby("id").size().astype(float)
    return per.reindex(sorted(ids), fill_value=0.0).rename("dose")


def _q(values: np.ndarray, p: float) -> float:
    return float(np.quantile(values, p, method="linear"))


def dosage(sessions: pd.DataFrame, participants: Sequence, plan: DeliveryPlan,
           columns: SessionColumns = SessionColumns(), *, ci_level: float = 0.95,
           min_count: int = MIN_COUNT) -> Dosage:
    """The distribution of sessions received by the participants listed (those who started)."""
    d = doses(sessions, participants, columns)
    n = int(d.size)
    if n == 0:
        raise DataError("participants: the list is empty; expected the participants who started")
    v = d.to_numpy()
    ok = n >= min_count
    full = _share_people("full_dose", int((v >= plan.sessions).sum()), n, ci_level, min_count,
                         f"participants attending all {plan.sessions} planned sessions")
    minimum = None
    if plan.minimum_dose is not None:
        minimum = _share_people("minimum_dose", int((v >= plan.minimum_dose).sum()), n, ci_level, min_count,
                                f"participants attending at least {plan.minimum_dose} sessions (the programme's "
                                "minimum dose)")
    hq = (None, None, None)
    if columns.hours and ok:
        h = doses(sessions, participants, columns, hours=True).to_numpy()
        hq = (_q(h, 0.5), _q(h, 0.25), _q(h, 0.75))
    counts = pd.Series(v.astype(int)).value_counts().sort_index()
    warnings = []
    over = int((v > plan.sessions).sum())
    if over:
        warnings.append(RunWarning("dose_above_plan", f"{over} participant(s) attended more sessions than the "
                                   f"{plan.sessions} planned; check the plan or the records"))
    return Dosage(participants=n, planned=plan.sessions, median=_q(v, 0.5) if ok else None,
                  q1=_q(v, 0.25) if ok else None, q3=_q(v, 0.75) if ok else None,
                  mean=float(v.mean()) if ok else None, sd=float(v.std(ddof=1)) if ok and n > 1 else None,
                  minimum=int(v.min()) if ok else None, maximum=int(v.max()) if ok else None,
                  full_dose=full, minimum_dose=minimum, hours_median=hq[0], hours_q1=hq[1], hours_q3=hq[2],
                  distribution=tuple(DoseCount(int(k), int(c)) for k, c in counts.items()),
                  quantiles="linear interpolation between order statistics (R quantile type 7, numpy 'linear')",
                  warnings=tuple(warnings))


# ----------------------------------------------------------------------------------- engagement


def engagement(sessions: pd.DataFrame, columns: SessionColumns = SessionColumns(), *,
               plan: DeliveryPlan | None = None, observed_until: str | pd.Timestamp | None = None,
               ci_level: float = 0.95, min_count: int = MIN_COUNT) -> Engagement:
    """Engagement month by month, and retention by month since each participant's first session.

    A starter counts in programme month k only when the records cover the whole of that month for
    them (``observed_until``, default the last session date), so recent starters do not look like
    drop-outs. Retention is followed for the plan's ``weeks`` (whole months, rounded up), since
    after the programme's end not attending is finishing, not leaving; without them, for as long
    as anyone is observed."""
    s = _sessions(sessions, columns)
    end = pd.Timestamp(observed_until) if observed_until is not None else pd.Timestamp(s["date"].max())
    if (s["date"] > end).any():
        raise DataError(f"session records: sessions dated after observed_until {end.date()}; expected none later")
    s["month"] = s["date"].dt.to_period("M")
    att = s[s["attended"] == 1]
    first = att.groupby("id")["date"].min()
    last = att.groupby("id")["date"].max()
    months = pd.period_range(s["month"].min(), end.to_period("M"), freq="M")
    offered = s.groupby("month").size()
    attended = att.groupby("month").size()
    active = att.groupby("month")["id"].nunique()
    starters = first.dt.to_period("M").value_counts()
    ended = last.dt.to_period("M").value_counts()
    rows = []
    for mth in months:
        o, a = int(offered.get(mth, 0)), int(attended.get(mth, 0))
        rows.append(EngagementMonth(str(mth), o, a, a / o if o >= min_count else None, int(active.get(mth, 0)),
                                    int(starters.get(mth, 0)), 0 if mth == months[-1] else int(ended.get(mth, 0))))
    retention = []
    k = 1
    last_month = math.ceil(plan.weeks * 7 / 30.4375) if plan is not None and plan.weeks else None
    while last_month is None or k <= last_month:
        window_start = first + pd.DateOffset(months=k - 1)
        window_end = first + pd.DateOffset(months=k) - pd.Timedelta(days=1)
        followed = window_end <= end
        n_obs = int(followed.sum())
        if n_obs == 0:
            break
        joined = att.join(window_start.rename("ws"), on="id").join(window_end.rename("we"), on="id")
        inside = joined[(joined["date"] >= joined["ws"]) & (joined["date"] <= joined["we"])]
        attending_ids = set(inside["id"]) & set(followed[followed].index)
        x = len(attending_ids)
        ok = n_obs >= min_count
        lo, hi = wilson(x, n_obs, ci_level) if ok else (None, None)
        retention.append(RetentionMonth(k, n_obs, x, x / n_obs if ok else None,
                                        float(lo) if ok else None, float(hi) if ok else None))
        k += 1
        if k > 600:  # 50 years of monthly sessions: the dates are wrong, not the programme
            raise DataError("session records span more than 50 years; expected dates of one programme")
    return Engagement(tuple(rows), tuple(retention), str(end.date()), min_count)


# ----------------------------------------------------------------------------------- dose-response


def _band_labels(edges: Sequence[float]) -> list[str]:
    cuts = [0.0, *edges]
    labels = [f"{int(round(lo * 100))}-{int(round(hi * 100))}% of planned" for lo, hi in zip(cuts, cuts[1:])]
    return [f"under {int(round(edges[0] * 100))}% of planned"] + labels[1:] + [f"{int(round(edges[-1] * 100))}% or more of planned"]


def dose_response(frame: pd.DataFrame, *, outcome: str, dose: str, plan: DeliveryPlan,
                  covariates: Sequence[str] = (), cluster: str | None = None, bands: Sequence[float] = DOSE_BANDS,
                  ci_level: float = 0.95, min_count: int = MIN_COUNT) -> DoseResponse:
    """The outcome on the sessions received, adjusted for ``covariates`` (e.g. the baseline score):
    OLS, HC2 (or CR1 with ``cluster``), a linear slope and dose bands against the lowest."""
    from evalkit.estimate.subgroups import _covariate_matrix, _numeric, canonical_order

    bands = sorted(float(b) for b in bands)
    if not bands or bands[0] <= 0 or bands[-1] > 1:
        raise OptionError(f"bands: found {bands}; expected shares of the planned dose between 0 and 1, e.g. [0.25, 0.5, 0.75]")
    for c in (outcome, dose, *covariates, *([cluster] if cluster else [])):
        if c not in frame.columns:
            raise DataError(f"dose-response: column '{c}' is not in the frame; it has " + ", ".join(map(str, frame.columns)))
    y = _numeric(frame, outcome, "outcome")
    x = _numeric(frame, dose, "dose")
    if (x < 0).any():
        raise DataError(f"dose-response: dose column '{dose}' is negative on some rows; expected sessions >= 0")
    Z, z_names = _covariate_matrix(frame, covariates)
    order = canonical_order(frame, [outcome, dose, *covariates, *([cluster] if cluster else [])])
    data = frame.iloc[order].reset_index(drop=True)
    y, x, Z = y[order], x[order], Z[order]
    clusters = [data[cluster].to_numpy()] if cluster else []
    names = ["constant", "sessions", *z_names]
    Zc = Z - Z.mean(axis=0) if Z.shape[1] else Z
    fit = rb.fit_linear(y, np.column_stack([np.ones(y.size), x, Zc]), names, clusters=clusters,
                        cluster_names=[cluster] if cluster else [])
    i = fit.index("sessions")
    b, se = float(fit.params[i]), math.sqrt(fit.vcov[i, i])
    lo, hi, p = rb.interval(fit, b, se, ci_level)
    slope = DoseTerm("per session attended", int(y.size), b, se, lo, hi, p, True)
    full = DoseTerm(f"full dose ({plan.sessions} sessions) against none, if the line held", int(y.size),
                    b * plan.sessions, se * plan.sessions, lo * plan.sessions, hi * plan.sessions, p, True)
    share = x / plan.sessions
    labels = _band_labels(bands)
    band_of = np.searchsorted(np.array(bands), share, side="right")
    counts = np.bincount(band_of, minlength=len(labels))
    present = [j for j in range(len(labels)) if counts[j] >= min_count]
    warnings = [RunWarning("dose_response_not_causal",
                           "dose-response is an association, not an effect: participants who attend more differ from "
                           "those who attend less (motivation, need, circumstances) in ways the adjustment cannot "
                           "remove, so a slope does not show that more sessions cause better outcomes")]
    small = [labels[j] for j in range(len(labels)) if 0 < counts[j] < min_count]
    if small:
        warnings.append(RunWarning("dose_band_too_few", "no estimate for dose band(s) " + ", ".join(small)
                                   + f" (fewer than {min_count} participants); they are left out of the band model"))
    band_terms, stat, bp, ref_text = [], None, None, "not testable (fewer than two dose bands with enough participants)"
    reference = labels[present[0]] if present else labels[0]
    if len(present) >= 2:
        keep = np.isin(band_of, present)
        Xb = [np.ones(int(keep.sum()))] + [(band_of[keep] == j).astype(float) for j in present[1:]]
        bnames = ["constant"] + [labels[j] for j in present[1:]] + z_names
        Zk = Z[keep] - Z[keep].mean(axis=0) if Z.shape[1] else Z[keep]
        bfit = rb.fit_linear(y[keep], np.column_stack([*Xb, Zk]), bnames,
                             clusters=[c[keep] for c in clusters], cluster_names=[cluster] if cluster else [])
        R = np.zeros((len(present) - 1, len(bnames)))
        for r, j in enumerate(present[1:]):
            R[r, bfit.index(labels[j])] = 1.0
        wt = rb.wald(bfit, R)
        stat, bp, ref_text = wt.statistic, wt.p_value, wt.reference
        for j in range(len(labels)):
            if j == present[0]:
                continue
            if j in present:
                k = bfit.index(labels[j])
                e, s_ = float(bfit.params[k]), math.sqrt(bfit.vcov[k, k])
                l_, h_, pp = rb.interval(bfit, e, s_, ci_level)
                band_terms.append(DoseTerm(labels[j], int(counts[j]), e, s_, l_, h_, pp, True))
            else:
                band_terms.append(DoseTerm(labels[j], int(counts[j]), None, None, None, None, None, False))
    label = (f"association between sessions attended and {outcome}" + (f", adjusted for {', '.join(covariates)}"
             if covariates else "") + ": not a causal effect")
    return DoseResponse(outcome=outcome, dose=dose, adjusted_for=tuple(covariates), n=int(y.size), slope=slope,
                        full_dose_contrast=full, bands=tuple(band_terms), reference_band=reference,
                        band_test_statistic=stat, band_test_p_value=bp, band_test_reference=ref_text,
                        covariance=fit.convention, causal=False, label=label, warnings=tuple(warnings))


# ----------------------------------------------------------------------------------- tidy frames


def fidelity_frame(result: Fidelity) -> pd.DataFrame:
    shares = [s for s in (result.adherence, result.checked, result.duration, *result.components) if s is not None]
    return pd.DataFrame([{"measure": s.name, "value": s.value, "ci_low": s.ci_low, "ci_high": s.ci_high,
                          "numerator": s.numerator, "denominator": s.denominator, "clusters": s.clusters,
                          "reported": s.reported, "method": s.method} for s in shares],
                        columns=["measure", "value", "ci_low", "ci_high", "numerator", "denominator", "clusters",
                                 "reported", "method"])


def dosage_frame(result: Dosage) -> pd.DataFrame:
    """Participants at each number of sessions attended (the histogram's data)."""
    return pd.DataFrame([{"sessions": c.sessions, "participants": c.participants,
                          "share": c.participants / result.participants} for c in result.distribution],
                        columns=["sessions", "participants", "share"])


def engagement_frame(result: Engagement) -> pd.DataFrame:
    return pd.DataFrame([vars(m) for m in result.months],
                        columns=["month", "sessions_offered", "sessions_attended", "attendance_rate", "active",
                                 "starters", "ended"])


def retention_frame(result: Engagement) -> pd.DataFrame:
    return pd.DataFrame([vars(r) for r in result.retention],
                        columns=["programme_month", "observed", "attending", "share", "ci_low", "ci_high"])


def dose_response_frame(result: DoseResponse) -> pd.DataFrame:
    terms = [result.slope, result.full_dose_contrast, *result.bands]
    return pd.DataFrame([{"outcome": result.outcome, "term": t.name, "n": t.n, "estimate": t.estimate,
                          "std_error": t.std_error, "ci_low": t.ci_low, "ci_high": t.ci_high, "p_value": t.p_value,
                          "reported": t.reported, "causal": result.causal, "label": result.label} for t in terms],
                        columns=["outcome", "term", "n", "estimate", "std_error", "ci_low", "ci_high", "p_value",
                                 "reported", "causal", "label"])
