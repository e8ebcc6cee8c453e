"""The plan's ``delivery:`` block run through :mod:`evalkit.estimate.delivery`: the results section
``delivery`` (fidelity, the dosage distribution, engagement month by month, retention, and the
dose-response association of each declared indicator, never an effect), for any design.

Participants are the units of the plan's data (its ``data.id``): a session for anyone else is an
error naming the file and column. The dose-response model is the follow-up on the sessions
attended, adjusted for the baseline (OLS; HC2, or CR1 by the plan's cluster).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

SECTION = "delivery"


def read_delivery_sessions(evaluation) -> tuple[pd.DataFrame, object]:
    """The session records as read (strictly) from the plan's ``delivery.sessions`` file."""
    from evalkit.data.load import read_table

    spec = evaluation.delivery.sessions
    path = (evaluation.source.parent / spec.path).resolve()
    cols = [c for c in (spec.id, spec.date, spec.attended, spec.hours, spec.fidelity, evaluation.delivery.deliverer)
            if c]
    frame = read_table(path, list(dict.fromkeys(cols)), spec.sheet, evaluation.data.missing_values
                       if evaluation.data is not None else ())
    return frame, path


def delivery_section(evaluation, frame: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """The ``delivery`` section and the session records read (for the manifest's hash)."""
    from evalkit.errors import DataError
    from evalkit.estimate import delivery as dl
    from evalkit.results import _plain

    d = evaluation.delivery
    spec = d.sessions
    sessions, path = read_delivery_sessions(evaluation)
    cols = dl.SessionColumns(id=spec.id, date=spec.date, attended=spec.attended or "attended", hours=spec.hours,
                             fidelity=spec.fidelity, deliverer=d.deliverer)
    if spec.attended is None:  # every row is a session attended
        sessions = sessions.assign(attended=1)
    plan = dl.DeliveryPlan(sessions=int(d.planned_sessions), minimum_dose=d.minimum_dose,
                           session_hours=d.session_hours, weeks=d.weeks)
    ids = frame[evaluation.data.id].astype(str)
    unknown = ~sessions[spec.id].astype(str).isin(set(ids))
    if unknown.any():
        raise DataError(f"{spec.path}: {int(unknown.sum())} session(s) for {spec.id} values not in the plan's data "
                        f"(e.g. {sessions[spec.id][unknown].iloc[0]!r}); expected sessions of the participants in "
                        f"{evaluation.data.path_as_written} only")
    participants = sorted(set(ids))
    fid = dl.fidelity(sessions, plan, cols, participants=participants)
    dos = dl.dosage(sessions, participants, plan, cols)
    eng = dl.engagement(sessions, cols, plan=plan)
    out = {"plan": {"planned_sessions": plan.sessions, "minimum_dose": plan.minimum_dose,
                    "session_hours": plan.session_hours, "weeks": plan.weeks},
           "sessions_file": spec.path,
           "fidelity": _record(fid), "dosage": _record(dos),
           "engagement": {"months": [dataclasses.asdict(m) for m in eng.months],
                          "retention": [dataclasses.asdict(r) for r in eng.retention],
                          "observed_until": eng.observed_until, "min_count": eng.min_count},
           "dose_response": {}}
    if d.dose_response:
        dose = dl.doses(sessions, participants, cols)
        for ind_id in d.dose_response:
            tp = evaluation.timepoints[ind_id]
            name, column = tp.follow_ups[0]
            part = pd.DataFrame({"id": ids.to_numpy(), "outcome": pd.to_numeric(frame[column], errors="coerce")})
            covs = []
            if tp.baseline:
                part["baseline"] = pd.to_numeric(frame[tp.baseline], errors="coerce").to_numpy()
                covs.append("baseline")
            if evaluation.cluster:
                part["cluster"] = frame[evaluation.cluster].to_numpy()
            part["dose"] = part["id"].map(dose).fillna(0).to_numpy(dtype=float)
            part = part.dropna(subset=["outcome", *covs]).reset_index(drop=True)
            resp = dl.dose_response(part, outcome="outcome", dose="dose", plan=plan, covariates=covs,
                                    cluster="cluster" if evaluation.cluster else None)
            rec = _record(resp)
            rec.update(timepoint=name, outcome_column=column, baseline_column=tp.baseline)
            out["dose_response"][ind_id] = rec
    return _plain(out), sessions


def _record(obj) -> dict:
    rec = dataclasses.asdict(obj)
    if "warnings" in rec:
        rec["warnings"] = [{"code": w.code, "message": w.message} for w in getattr(obj, "warnings", ())]
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
