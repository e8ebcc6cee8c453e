"""Causal robustness checks with DoWhy, and sensitivity to unmeasured confounding.

For the designs whose registry entry says how to refute them (``DesignEntry.robustness``: matched
comparison and difference-in-differences), after the design's own analysis:

1. **model**: a causal graph from the plan: every covariate -> treatment and -> outcome, and
   treatment -> outcome. The logic model adds information where another measured indicator
   sits on the path from the intervention to the primary outcome's node (a mediator, e.g.
   engagement -> fewer offences): the graph gets treatment -> mediator -> outcome, so DoWhy's
   identification knows not to adjust for it.
2. **identify** the effect (backdoor) with DoWhy; 3. **estimate** it with DoWhy's linear
   regression on the data the design analysed, set up so the method is the one evalkit used:
   for DiD, the outcome and treatment with unit and period effects removed (two-way within
   transformation; by Frisch-Waugh-Lovell the slope is the TWFE estimate); for matching,
   the matched sample (frequency-expanded when matching weights are k:1 multiples).
4. **refute** with seeded DoWhy refuters: placebo treatment (permuted), random common cause,
   data subset (80%), dummy outcome (pure noise). Each keeps the original and the new effect and
   says pass/fail with its rule, in units of evalkit's standard error of the estimate.
   DoWhy refits its regression once per draw (80 fits): above :data:`REFUTE_MAX_ROWS` rows the
   refuters run on a seeded simple random sample of that many rows (the section records how many,
   of how many, and the seed), and the rules use the standard error scaled to that sample
   (SE x sqrt(n / m): the estimate's SE had it been computed on m rows). DoWhy's own estimate,
   compared with evalkit's, is always computed on every row. DoWhy is imported only here, when a
   design is refuted (importing it takes seconds).

Then **sensitivity**: the E-value of the primary estimate (point and CI limit) and, for
matched designs, Rosenbaum bounds (Γ at which the conclusion would change): the signed-rank
bound for 1:1 pairs, the sign-score (binary outcomes) or aligned-rank bound for matched sets of
one treated unit and k controls (see :mod:`evalkit.estimate.sensitivity`).

Nothing here changes an estimate; it adds the ``robustness`` and ``sensitivity`` sections.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from evalkit import _dowhy_worker
from evalkit.estimate import did as did_module
from evalkit.estimate import sensitivity as sens
from evalkit.spec import model as m
from evalkit.spec.designs import PRIMARY_ESTIMANDS, REGISTRY, entry, resolve

# refutation draws: enough for a stable mean, few enough that a run stays quick (DoWhy refits
# the model once per draw)
NUM_SIMULATIONS = 20
SUBSET_FRACTION = 0.8
# refutations on at most this many rows: the refuters' verdicts are about how the estimate reacts
# to a permuted treatment, an added noise covariate, subsets and a noise outcome; a seeded random
# sample of 10,000 rows answers that as well as 200,000 do, at a twentieth of the cost
REFUTE_MAX_ROWS = 10_000
# pass/fail rules, in multiples of the original estimate's standard error (evalkit's)
RULES = {
    "placebo_treatment": ("|placebo effect| <= 1 SE: with the treatment permuted at random the effect "
                          "should vanish", 1.0),
    "random_common_cause": ("|new - original| <= 0.25 SE: adding an independent random covariate should "
                            "leave the estimate unchanged", 0.25),
    "data_subset": ("|mean over 80% subsets - original| <= 1 SE: the estimate should not hinge on a few rows",
                    1.0),
    "dummy_outcome": ("|effect on a pure-noise outcome| <= 2 x its own standard error: a made-up outcome "
                      "should show no effect", 2.0),
}
DESIGNS = tuple(d.value for d, e in REGISTRY.items() if e.robustness is not None)  # the design registry's
# DoWhy's refuter behind each check, with its options (in the order the section lists them)
REFUTERS = {
    "placebo_treatment": ("placebo_treatment_refuter", {"placebo_type": "permute"}),
    "random_common_cause": ("random_common_cause", {}),
    "data_subset": ("data_subset_refuter", {"subset_fraction": SUBSET_FRACTION}),
    "dummy_outcome": ("dummy_outcome_refuter", {}),
}


def robustness(evaluation: m.Evaluation, frame: pd.DataFrame, analysis: Any, seed: int,
               num_simulations: int = NUM_SIMULATIONS, in_worker: bool = False) -> dict:
    """``{'robustness': ..., 'sensitivity': ...}`` for a matched or DiD analysis (never raises on
    a design it cannot handle: the section then says why it was not run). ``in_worker``: the
    DoWhy checks go to the worker process when one was started (:func:`start_worker`)."""
    facts = entry(evaluation.design).robustness  # how the design's registry entry says it is refuted
    primary = _primary_estimate(evaluation, analysis)
    out: dict[str, Any] = {"sensitivity": _sensitivity(evaluation, analysis, primary)}
    if facts is None:
        return {"robustness": {"status": "not run",
                               "reason": f"no DoWhy checks for design '{evaluation.design.value}'"}, **out}
    try:
        data, treatment, outcome, common, mediators, same = resolve(facts.data)(evaluation, frame, analysis, primary)
    except _NotApplicable as exc:
        out["robustness"] = {"status": "not run", "reason": str(exc)}
        return out
    except Exception as exc:  # noqa: BLE001
        out["robustness"] = _failed(exc)
        return out
    job = (evaluation.primary_outcome.id, data, treatment, outcome, common, mediators, primary, seed,
           num_simulations, same)
    out["robustness"] = _refute_in_worker(job) if in_worker else dowhy_section(job)
    return out


def _failed(exc: BaseException) -> dict:
    # the checks add to an analysis that has already succeeded; a refuter failing on odd data
    # (tiny samples, a constant column) is reported in the section rather than losing the run
    return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}


def dowhy_section(job: tuple) -> dict:
    """The robustness section for one job (the arguments of :func:`run_dowhy`), with one BLAS thread;
    a failure becomes the section's reason. The same in this process or in the worker."""
    try:
        with did_module.one_blas_thread():
            return run_dowhy(*job)
    except Exception as exc:  # noqa: BLE001
        return _failed(exc)


# ------------------------------------------------------------------------------ the DoWhy worker
#
# Importing DoWhy costs seconds of CPU (sympy, scikit-learn, statsmodels, matplotlib): more than
# reading, matching and writing a 110,000-row plan together. ``evalkit run`` therefore forks a
# worker (:mod:`evalkit._dowhy_worker`) as its first act when a chosen plan is refuted, and again
# here (:func:`start_worker`, from ``evalkit.run``) if none is running when it begins such a design;
# the worker imports DoWhy while this process reads the data and runs the design, then runs the
# refutations sent to it and stays for the next evaluation of the run. The worker computes only what
# DoWhy says of the data (:func:`dowhy_numbers`), so a design that hands its analysed rows over before
# computing its estimates (:func:`send_rows`) has them refuted on the other core meanwhile; the
# section is judged here against the finished estimate (:func:`judged`). The work and its inputs are
# the same as in this process (the data frame is pickled exactly, one BLAS thread in both, the same
# seeds): the sections are byte-identical whichever process computed them (tests/test_causal.py).
# Where fork is not available (macOS, Windows), when ``EVALKIT_DOWHY_WORKER=0``, or once DoWhy is
# loaded here anyway, the checks run in this process. Direct calls of :func:`robustness`
# (notebooks, tests) run in this process unless ``in_worker=True``.

WORKER_ENV = _dowhy_worker.WORKER_ENV
WORKER_TIMEOUT = 900.0  # seconds to wait for the worker's answer before running the checks here
_worker = _dowhy_worker._worker
worker_wanted = _dowhy_worker.worker_wanted
stop_worker = _dowhy_worker.stop_worker
sys_streams_to_devnull = _dowhy_worker.streams_to_devnull


def start_worker(force: bool = False) -> bool:
    """Start the DoWhy worker if it helps (or ``force``, where fork exists) and is not running yet;
    True when one is running."""
    if not _dowhy_worker.running() and (force or worker_wanted()):
        # what both processes load anyway (this one for its estimates, DoWhy for its own): loaded
        # once, before the fork, instead of once in each (scipy.stats and networkx no longer: this
        # process does without them, evalkit.estimate._dist, and the worker loads them)
        import scipy.linalg  # noqa: F401
    return _dowhy_worker.start_worker(force)


def _refute_in_worker(job: tuple) -> dict:
    """The section for ``job`` with DoWhy's numbers from the worker: those it is already computing when
    the design handed its rows over early (:func:`send_rows`) and they are these, else asked for now.
    Without a worker, or when it fails or never answers, the same checks run here."""
    indicator, data, treatment, outcome, common, mediators, primary, seed, num_simulations, same = job
    inputs = (data, treatment, outcome, common, mediators, seed, num_simulations)
    pending = _worker.pop("pending", None)
    answer = None
    if pending is not None and _same_inputs(pending, inputs):
        answer = _answer()
    else:
        if pending is not None:  # rows that are not the analysis' after all: that answer is not wanted
            _answer()
        if _ask(inputs):
            answer = _answer()
    if answer is None:
        return dowhy_section(job)
    if answer.get("status") == "failed":
        return answer
    try:
        return judged(indicator, answer, primary, seed, num_simulations, same)
    except Exception as exc:  # noqa: BLE001
        return _failed(exc)


def numbers_or_failure(inputs: tuple) -> dict:
    """The worker's job: :func:`dowhy_numbers` with one BLAS thread, or the section saying why it failed."""
    try:
        with did_module.one_blas_thread():
            return dowhy_numbers(*inputs)
    except Exception as exc:  # noqa: BLE001
        return _failed(exc)


def _ask(inputs: tuple) -> bool:
    """Send a job to the worker without waiting for it to be read (a worker still importing DoWhy
    reads it only then, and the data are larger than a pipe holds); False when none is running."""
    import threading

    conn, proc = _worker.get("conn"), _worker.get("process")
    if conn is None or proc is None or not proc.is_alive():
        return False
    _worker["used"] = True  # stopped politely from now on (see _dowhy_worker.stop_worker)
    sender = threading.Thread(target=_send_quietly, args=(conn, (numbers_or_failure, inputs)), daemon=True)
    sender.start()
    _worker["sender"] = sender
    return True


def _send_quietly(conn, job) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send(job)


def _answer() -> dict | None:
    """The worker's answer to the job sent last; None (and the worker stopped) when it is gone or does
    not answer within :data:`WORKER_TIMEOUT` (a lock held across the fork, say): the caller then runs
    the same checks here, with the same result."""
    conn, sender = _worker.get("conn"), _worker.pop("sender", None)
    try:
        if conn is None or not conn.poll(WORKER_TIMEOUT):
            stop_worker()
            return None
        answer = conn.recv()
    except (OSError, EOFError):  # the worker is gone (killed, out of memory)
        stop_worker()
        return None
    if sender is not None:
        sender.join()
    return answer


def _same_inputs(a: tuple, b: tuple) -> bool:
    (da, *ra), (db, *rb) = a, b
    return (ra == rb and da.shape == db.shape and da.columns.equals(db.columns) and da.index.equals(db.index)
            and da.dtypes.equals(db.dtypes) and da.equals(db))


def send_rows(evaluation: m.Evaluation, frame: pd.DataFrame, rows: pd.DataFrame, outcome_column: str | None) -> None:
    """Hand a refuted design's analysed rows to the worker as soon as the design has them
    (:func:`evalkit.estimate.analysed_rows_ready`, listened for by ``evalkit.run``): DoWhy's numbers
    need only the data, so the worker refutes while this process computes the estimates. Nothing is
    sent without a running worker, for a design that is not refuted, or while a job is pending; the
    section is still built from the finished analysis (:func:`_refute_in_worker` checks that the data
    are the same, and asks again if not)."""
    import types

    facts = entry(evaluation.design).robustness
    if facts is None or not _dowhy_worker.running() or "pending" in _worker:
        return
    analysis = types.SimpleNamespace(analysed_data=rows)
    primary = types.SimpleNamespace(details={"outcome_column": outcome_column}, method="")
    data, treatment, outcome, common, mediators, _same = resolve(facts.data)(evaluation, frame, analysis, primary)
    inputs = (data, treatment, outcome, common, mediators, evaluation.seed, NUM_SIMULATIONS)
    if _ask(inputs):
        _worker["pending"] = inputs


def forget_rows() -> None:
    """After a design has run: a job sent early and never collected (the analysis failed, or was not
    refuted after all) is not answered into the next evaluation's checks: the worker, busy with it, is
    stopped (the next refuted design starts another)."""
    if _worker.pop("pending", None) is not None:
        _worker.pop("sender", None)
        proc = _worker.get("process")
        if proc is not None:
            proc.terminate()
        stop_worker()


# the refuters a forked helper computes while the worker computes the others: the two halves of
# about equal cost (profiled on the 110,000-row bench plan, refuted on 10,000 rows: the dummy
# outcome refuter is the dearest, about 35%; random common cause 26%, data subset 20%, placebo 18%)
HELPER_REFUTERS = ("placebo_treatment", "dummy_outcome")


def _in_two_processes(fn, names: tuple) -> dict:
    """``fn(names)``, with the names in :data:`HELPER_REFUTERS` computed by a forked helper
    meanwhile. If either part fails, everything is computed again here in order: the same result,
    or the same error, as ``fn(names)`` in one process."""
    import os
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper (the worker is a daemon: multiprocessing would refuse it children)
        try:
            os.close(read)
            sys_streams_to_devnull()
            try:
                payload = pickle.dumps(("ok", fn(tuple(n for n in names if n in HELPER_REFUTERS))))
            except BaseException:  # noqa: BLE001 - the worker computes this part itself
                payload = pickle.dumps(("failed",))
            with os.fdopen(write, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(0)
    os.close(write)
    try:
        out = fn(tuple(n for n in names if n not in HELPER_REFUTERS))
    except Exception:  # noqa: BLE001 - recomputed below, in order
        out = None
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    try:
        got = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a helper that died mid-write
        got = None
    if out is None or not (isinstance(got, tuple) and got[0] == "ok"):
        return fn(names)
    return {**got[1], **out}


class _NotApplicable(Exception):
    """This analysis lacks what the checks need (said in the section, not raised to the user)."""


# ------------------------------------------------------------------------------ the graph


def logic_model_mediators(evaluation: m.Evaluation, columns: dict[str, str]) -> list[tuple[str, str]]:
    """(indicator, column) pairs whose theory-of-change node leads to the primary outcome's node."""
    lm = evaluation.intervention
    target = evaluation.primary_outcome.measures.id
    out = []
    for ind_id, col in columns.items():
        if ind_id == evaluation.primary_outcome.id:
            continue
        node = lm.indicators[ind_id].measures.id if ind_id in lm.indicators else None
        if node and node != target and _reaches(lm.links, node, target):
            out.append((ind_id, col))
    return out


def _reaches(links, source: str, target: str) -> bool:
    """A path of links from ``source`` to ``target``: a search over a few dozen links, in the run's
    own process, which would otherwise import networkx (about 0.1 s) for it; networkx is loaded
    where DoWhy needs it, in the worker."""
    successors: dict[str, list[str]] = {}
    for a, b in links:
        successors.setdefault(a, []).append(b)
    seen, todo = {source}, [source]
    while todo:
        for nxt in successors.get(todo.pop(), ()):
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def causal_graph(treatment: str, outcome: str, common_causes: list[str],
                 mediators: list[tuple[str, str]] = ()) -> tuple[Any, list[dict]]:
    import networkx as nx

    edges = [{"from": c, "to": t, "source": "plan covariates"} for c in common_causes for t in (treatment, outcome)]
    edges.append({"from": treatment, "to": outcome, "source": "the effect estimated"})
    for ind_id, col in mediators:
        edges += [{"from": treatment, "to": col, "source": f"logic model: '{ind_id}' lies on the path to the outcome"},
                  {"from": col, "to": outcome, "source": f"logic model: '{ind_id}' lies on the path to the outcome"}]
    return nx.DiGraph([(e["from"], e["to"]) for e in edges]), edges


# ------------------------------------------------------------------------------ data per design


def did_data(evaluation: m.Evaluation, frame: pd.DataFrame, analysis: Any, primary):
    """DoWhy's data for a DiD analysis: the panel's outcome and treatment, two-way demeaned."""
    ind_id = evaluation.primary_outcome.id
    if ind_id not in evaluation.outcomes:
        raise _NotApplicable(f"primary outcome '{ind_id}' has no column in the plan's outcomes")
    panel, controls, _labels, _no_pre = did_module.prepare_panel(evaluation, frame, evaluation.outcomes[ind_id][1])
    mediators = [(i, col) for i, col in logic_model_mediators(
        evaluation, {i: c for i, (_ind, c) in evaluation.outcomes.items()}) if col in frame.columns]
    for _i, col in mediators:  # the panel's rows are frame rows with a non-missing outcome
        panel[col] = pd.to_numeric(frame[col].iloc[panel["row"].to_numpy()], errors="coerce").to_numpy()
    panel = panel.dropna(subset=[c for _i, c in mediators])
    cols = ["y", "d", *controls, *[c for _i, c in mediators]]
    demeaned = did_module.two_way_demean(panel[cols], panel["unit"].to_numpy(), panel["t"].to_numpy())
    data = demeaned.rename(columns={"y": "outcome", "d": "treatment"}).reset_index(drop=True)
    same = evaluation.weights is None and not mediators
    reason = ("DoWhy's linear regression on the two-way demeaned outcome and treatment"
              + (f" with the time-varying controls {', '.join(controls)}" if controls else "")
              + " is the TWFE estimator (Frisch-Waugh-Lovell)")
    if evaluation.weights is not None:
        reason = "not the same method: evalkit's TWFE is weighted, DoWhy's regression is not"
    elif mediators:
        reason = "not the same method: the graph holds a mediator from the logic model, and rows missing it are left out"
    return data, "treatment", "outcome", list(controls), mediators, (same, reason)


def _frequency_weights(w: np.ndarray) -> np.ndarray | None:
    """Integer repeat counts equivalent to matching weights (k:1 gives 1 and 1/k), else None."""
    pos = w[w > 0]
    if pos.size == 0:
        return None
    reps = w / pos.min()
    if np.allclose(reps, np.round(reps), atol=1e-8) and reps.sum() <= 5 * len(w):
        return np.round(reps).astype(int)
    return None


def matched_data(evaluation: m.Evaluation, frame: pd.DataFrame, analysis: Any, primary):
    """DoWhy's data for a matched analysis: its matched rows (frequency-expanded for k:1 weights)."""
    data = getattr(analysis, "analysed_data", None)
    if data is None or not isinstance(data, pd.DataFrame):
        raise _NotApplicable("the matching analysis did not return its matched rows (analysed_data)")
    treatment = evaluation.data.treatment
    col = (primary.details or {}).get("outcome_column") if primary is not None else None
    if col is None:
        tp = evaluation.timepoints.get(evaluation.primary_outcome.id)
        col = tp.follow_ups[-1][1] if tp is not None and tp.follow_ups else None
    if treatment not in data.columns or col is None or col not in data.columns:
        raise _NotApplicable(f"the matched rows lack the treatment '{treatment}' or outcome '{col}' column")
    weight_col = next((c for c in ("weight", "weights", "match_weight") if c in data.columns), None)
    w = data[weight_col].to_numpy(float) if weight_col else np.ones(len(data))
    common = [c for c in evaluation.covariates if c in data.columns]
    mediators = [(i, c) for i, c in logic_model_mediators(evaluation, _wide_outcome_columns(evaluation))
                 if c in data.columns and c != col and c not in common]
    med_cols = [c for _i, c in mediators]
    keep = (w > 0) & data[[col, treatment, *common, *med_cols]].notna().all(axis=1).to_numpy()
    base = data.loc[keep, [col, treatment, *common, *med_cols]].copy()
    for c in common:  # DoWhy's regression needs numbers; categories become indicator columns
        if not pd.api.types.is_numeric_dtype(base[c]):
            dummies = pd.get_dummies(base[c], prefix=c, drop_first=True, dtype=float)
            base = pd.concat([base.drop(columns=c), dummies], axis=1)
    common = [c for c in base.columns if c not in (col, treatment, *med_cols)]
    reps = _frequency_weights(w[keep])
    if reps is None:
        same = (False, "not the same method: matching weights are not k:1 multiples, and DoWhy's regression is "
                "unweighted")
    else:
        base = base.loc[base.index.repeat(reps)].reset_index(drop=True)
        same = (False, "close, not identical: evalkit's estimate is the weighted difference on the matched sample"
                + (" (no covariate adjustment)" if "covariates" not in (primary.method if primary else "") else "")
                + "; DoWhy adjusts for the plan's covariates by regression on the same matched rows")
    base[treatment] = base[treatment].astype(float)
    base = base.astype(float)
    return base, treatment, col, common, mediators, same


# ------------------------------------------------------------------------------ DoWhy


def _quiet():
    _dowhy_worker.quiet_dowhy()


def run_dowhy(indicator: str, data: pd.DataFrame, treatment: str, outcome: str, common: list[str],
              mediators: list[tuple[str, str]], primary, seed: int, num_simulations: int,
              same: tuple[bool, str]) -> dict:
    """The robustness section: DoWhy's numbers (:func:`dowhy_numbers`), judged against evalkit's
    estimate (:func:`judged`)."""
    numbers = dowhy_numbers(data, treatment, outcome, common, mediators, seed, num_simulations)
    return judged(indicator, numbers, primary, seed, num_simulations, same)


def dowhy_numbers(data: pd.DataFrame, treatment: str, outcome: str, common: list[str],
                  mediators: list[tuple[str, str]], seed: int, num_simulations: int) -> dict:
    """What DoWhy says about the data alone: the graph, the adjustment set, its estimate on every row
    and, on the refutation sample, each refuter's new effect. Needs nothing of evalkit's estimate, so
    the worker can start on it as soon as the design has its rows (:func:`send_rows`)."""
    from dowhy import CausalModel

    _quiet()
    graph, edges = causal_graph(treatment, outcome, common, mediators)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CausalModel(data=data, treatment=treatment, outcome=outcome, graph=graph)
        estimand = model.identify_effect(proceed_when_unidentifiable=True)
        # DoWhy collects adjustment sets in Python sets, whose order follows PYTHONHASHSEED; the
        # regression's columns (and its last digits) would follow it too: sort them
        for name, variables in list((estimand.backdoor_variables or {}).items()):
            estimand.backdoor_variables[name] = sorted(variables)
        estimate = model.estimate_effect(estimand, method_name="backdoor.linear_regression")
    original = float(estimate.value)
    n_all = int(len(data))
    sample = None
    if n_all > REFUTE_MAX_ROWS:
        # a seeded sample of row positions (the rows are in canonical order, so the same rows
        # whatever the order of the input file), kept in their order
        rows = np.sort(np.random.default_rng(seed).choice(n_all, REFUTE_MAX_ROWS, replace=False))
        data = data.iloc[rows].reset_index(drop=True)
        scale = math.sqrt(n_all / len(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CausalModel(data=data, treatment=treatment, outcome=outcome, graph=graph)
            estimate = model.estimate_effect(estimand, method_name="backdoor.linear_regression")
        sample = {"rows": int(len(data)), "of_rows": n_all, "seed": seed,
                  "method": "simple random sample of rows without replacement (numpy default_rng(seed).choice)",
                  "standard_error_scale": scale, "original_effect_on_sample": float(estimate.value),
                  "reason": f"the analysed data have {n_all} rows, more than {REFUTE_MAX_ROWS}: DoWhy refits its "
                            "regression once per refutation draw"}
    _without_summaries(estimate)

    def new_effects(names: tuple[str, ...]) -> dict[str, float]:
        out = {}
        for name in names:
            method, kwargs = REFUTERS[name]
            with warnings.catch_warnings(), _global_numpy_seed(seed):
                warnings.simplefilter("ignore")
                result = model.refute_estimate(estimand, estimate, method_name=method, random_state=seed,
                                               num_simulations=num_simulations, **kwargs)
            result = result[0] if isinstance(result, list) else result
            out[name] = float(np.asarray(result.new_effect).ravel()[0])
        return out

    names = tuple(REFUTERS)
    # each refuter is seeded on its own (random_state and numpy's global RNG), so none depends on
    # another having run: in the worker two processes share them, with the same results
    news = _in_two_processes(new_effects, names) if _dowhy_worker.in_worker() else new_effects(names)
    return {"graph": {"nodes": sorted(graph.nodes), "edges": edges},
            "adjustment_set": sorted(estimand.get_backdoor_variables()), "original": original, "rows": n_all,
            "refuted_rows": int(len(data)), "refute_original": float(estimate.value), "sample": sample,
            "new_effects": {name: news[name] for name in names},
            "treatment_residual_sd": float(np.std(_residual(data, treatment, common)))}


def judged(indicator: str, numbers: dict, primary, seed: int, num_simulations: int, same: tuple[bool, str]) -> dict:
    """The robustness section from DoWhy's numbers and evalkit's primary estimate: the agreement of
    the two estimates, and each refutation passed or failed by its rule in evalkit's standard errors."""
    original, sample, n_refuted = numbers["original"], numbers["sample"], numbers["refuted_rows"]
    se = float(primary.std_error) if primary is not None and primary.std_error else None
    refute_se = None if se is None else se * (1.0 if sample is None else sample["standard_error_scale"])
    refute_original = numbers["refute_original"]
    evalkit_value = float(primary.estimate) if primary is not None else None
    agreement = {"evalkit_estimate": evalkit_value, "dowhy_estimate": original,
                 "absolute_difference": None if evalkit_value is None else abs(original - evalkit_value),
                 "difference_in_standard_errors": (abs(original - evalkit_value) / se) if se and evalkit_value is not None
                 else None, "same_method": same[0], "note": same[1]}
    refutations = []
    sd_t = numbers["treatment_residual_sd"]
    for name, new in numbers["new_effects"].items():
        rule, k = RULES[name]
        row = {"name": name, "original_effect": refute_original, "new_effect": new, "rule": rule,
               "simulations": num_simulations, "rows": n_refuted}
        if name == "dummy_outcome":
            # the dummy outcome is N(0, 1) noise: its regression SE is 1 / (SD of the treatment's
            # residual on the common causes x sqrt(n))
            own_se = 1.0 / (sd_t * math.sqrt(n_refuted)) if sd_t > 0 else None
            row.update(original_effect=0.0, dummy_outcome_se=own_se,
                       passed=bool(own_se is not None and abs(new) <= k * own_se))
        elif refute_se is None:
            row["passed"] = None
            row["rule"] += " (not judged: no standard error for the original estimate)"
        elif name == "placebo_treatment":
            row["passed"] = bool(abs(new) <= k * refute_se)
        else:
            row["passed"] = bool(abs(new - refute_original) <= k * refute_se)
        if sample is not None and name != "dummy_outcome":
            row["rule"] += " (SE scaled to the refutation sample)"
        refutations.append(row)
    out = {"status": "run", "library": "dowhy", "seed": seed, "indicator": indicator, "graph": numbers["graph"],
           "identification": {"estimand": "backdoor", "adjustment_set": numbers["adjustment_set"]},
           "estimate_method": "backdoor.linear_regression", "agreement": agreement,
           "standard_error_used": refute_se, "rows": numbers["rows"], "refuted_rows": n_refuted,
           "refutations": refutations, "all_passed": all(r["passed"] is not False for r in refutations)}
    if sample is not None:
        out["refutation_sample"] = sample
    return out


def _without_summaries(estimate) -> None:
    """Let the refuters' refits skip the statsmodels summary table DoWhy builds for a debug log line.

    DoWhy 0.14's regression estimator ends every fit with ``logger.debug(model.summary())``, whose
    argument is built even though the line is never logged: a fifth of the refutations' time (a
    summary runs normality and other tests on the residuals). The refuters copy the estimate's
    estimator for each draw, so giving that one estimator a class whose fitted models answer
    ``summary()`` with an empty string reaches every refit; the regressions themselves, and so
    every number, are DoWhy's own (tests/test_causal.py compares with unchanged DoWhy)."""
    from dowhy.causal_estimators.linear_regression_estimator import LinearRegressionEstimator

    if type(estimate.estimator) is LinearRegressionEstimator:
        estimate.estimator.__class__ = _linear_regression_without_summary()


@functools.cache
def _linear_regression_without_summary():
    from dowhy.causal_estimators.linear_regression_estimator import LinearRegressionEstimator

    class LinearRegressionWithoutSummary(LinearRegressionEstimator):
        def _build_model(self, data):
            features, model = super()._build_model(data)
            model.summary = _no_summary  # the results wrapper's own attribute, read before its results'
            return features, model

        def __deepcopy__(self, memo):
            # a refuter copies the estimator (get_new_estimator_object), sets its estimand and refits
            # it at once: the fitted model, its data and the estimand are replaced before any use, so
            # they are not copied (a tenth of the refutations' time)
            new = object.__new__(type(self))
            memo[id(self)] = new
            for key, value in self.__dict__.items():
                new.__dict__[key] = None if key in _REPLACED_ON_REFIT else copy.deepcopy(value, memo)
            return new

    return LinearRegressionWithoutSummary


# what DoWhy 0.14's get_new_estimator_object and fit set anew on a copied estimator before reading it
_REPLACED_ON_REFIT = frozenset({"model", "_observed_common_causes", "_target_estimand"})


def _no_summary(*_args, **_kwargs) -> str:
    return ""


@contextlib.contextmanager
def _global_numpy_seed(seed: int):
    """Seed numpy's global RNG for one DoWhy call, then put the caller's state back.

    evalkit never draws from the global RNG itself, but DoWhy 0.14's dummy-outcome refuter does
    (it ignores ``random_state`` for its noise); without this two runs would differ."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def _residual(data: pd.DataFrame, column: str, common: list[str]) -> np.ndarray:
    y = data[column].to_numpy(float)
    if not common:
        return y - y.mean()
    X = np.column_stack([np.ones(len(data)), data[common].to_numpy(float)])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return y - X @ beta


def _wide_outcome_columns(evaluation: m.Evaluation) -> dict[str, str]:
    out = {}
    for ind_id, tp in evaluation.timepoints.items():
        if tp.follow_ups:
            out[ind_id] = tp.follow_ups[-1][1]
    return out


# ------------------------------------------------------------------------------ sensitivity


def _primary_estimate(evaluation: m.Evaluation, analysis: Any):
    estimates = [e for e in getattr(analysis, "estimates", ()) if e.indicator == evaluation.primary_outcome.id
                 and e.subgroup == "all"]
    facts = entry(evaluation.design).robustness
    order = facts.estimands if facts is not None else PRIMARY_ESTIMANDS
    for name in order:
        found = [e for e in estimates if e.estimand == name]
        if found:
            return next((e for e in found if e.primary), found[0])
    return estimates[0] if estimates else None


def _sensitivity(evaluation: m.Evaluation, analysis: Any, primary) -> dict:
    out: dict[str, Any] = {"indicator": evaluation.primary_outcome.id}
    out["e_value"] = _e_value(evaluation, analysis, primary)
    out["rosenbaum"] = _rosenbaum(evaluation, analysis, primary)
    return out


def _e_value(evaluation: m.Evaluation, analysis: Any, primary) -> dict:
    if primary is None:
        return {"status": "not computed", "reason": "no estimate for the primary outcome"}
    ratio = next((e for e in getattr(analysis, "estimates", ()) if e.indicator == primary.indicator
                  and e.estimand in ("risk_ratio", "rate_ratio") and e.subgroup == "all"), None)
    try:
        if ratio is not None and ratio.ci_low is not None:
            out = sens.evalue(ratio.estimate, ratio.ci_low, ratio.ci_high, scale=ratio.estimand)
            out["from"] = f"the {ratio.estimand.replace('_', ' ')} estimate ({ratio.method.split(',')[0]})"
        elif primary.effect_size is not None and primary.effect_size.kind in ("risk_ratio", "rate_ratio"):
            es = primary.effect_size
            out = sens.evalue(es.value, es.ci_low, es.ci_high, scale=es.kind)
            out["from"] = f"the {es.kind.replace('_', ' ')} implied by the {primary.estimand}"
        elif primary.effect_size is not None and primary.effect_size.kind in ("hedges_g", "cohens_d", "d_av", "d_z") \
                and primary.std_error and primary.estimate:
            d = primary.effect_size.value
            out = sens.evalue(d, scale="smd", std_error=abs(primary.std_error * d / primary.estimate))
            out["from"] = f"the standardised mean difference ({primary.effect_size.kind}), RR ~ exp(0.91 d)"
        else:
            return {"status": "not computed", "reason": "the primary estimate has no ratio or standardised effect size"}
    except Exception as exc:  # an E-value is a courtesy; a degenerate estimate must not stop the run
        return {"status": "not computed", "reason": f"{type(exc).__name__}: {exc}"}
    out["status"] = "computed"
    out["reading"] = (f"an unmeasured confounder associated with both treatment and outcome by a risk ratio of "
                      f"{out['point']:.2f} each could explain away the estimate; "
                      + (f"{out['ci_bound']:.2f} each could move the CI to include no effect"
                         if out["ci_bound"] is not None else "no CI given"))
    return out


def _rosenbaum(evaluation: m.Evaluation, analysis: Any, primary) -> dict:
    facts = entry(evaluation.design).robustness
    if facts is None or not facts.rosenbaum:
        return {"status": "not applicable",
                "reason": "Rosenbaum bounds are for matched designs (pairs or matched sets)"}
    data = getattr(analysis, "analysed_data", None)
    treatment = evaluation.data.treatment
    col = (primary.details or {}).get("outcome_column") if primary is not None else None
    set_col = next((c for c in ("matched_set", "subclass", "pair", "pair_id") if data is not None
                    and c in data.columns), None)
    if data is None or set_col is None or col is None or col not in data.columns:
        return {"status": "not applicable", "reason": "the matched rows carry no pair identifier"}
    sets = data.groupby(set_col)[treatment].agg(["size", "sum"])
    unit_id = evaluation.data.id
    if unit_id in data.columns and data[unit_id].duplicated().any():
        return {"status": "not applicable", "reason": "units appear in more than one matched set (matching with "
                "replacement); the bounds need disjoint matched sets"}
    if not ((sets["size"] == 2) & (sets["sum"] == 1)).all():
        return _rosenbaum_sets(data, set_col, treatment, col, sets, primary)
    d = data[[set_col, treatment, col]].dropna()
    wide = d.pivot_table(index=set_col, columns=treatment, values=col, aggfunc="first").dropna()
    diffs = (wide[1] - wide[0]).to_numpy(float) if 1 in wide.columns and 0 in wide.columns else np.array([])
    if len(diffs) < 2:
        return {"status": "not applicable", "reason": "fewer than two complete pairs"}
    increase = bool(primary.estimate > 0)
    out = sens.rosenbaum_bounds(diffs, increase=increase)
    out["status"] = "computed"
    out["reading"] = rosenbaum_reading(out, "signed-rank test", "change the odds of treatment within a pair")
    return out


def rosenbaum_reading(out: dict, test: str, how: str) -> str:
    """The bound in words; when the test is not significant even at Gamma = 1 there is no
    conclusion for hidden bias to overturn, and the reading says so instead of quoting Gamma*."""
    alpha = out.get("alpha", 0.05)
    if not out["p_value_gamma_1"] < alpha:
        return (f"the one-sided {test} is not significant at {alpha:.0%} even without hidden bias (Gamma = 1, "
                f"p = {out['p_value_gamma_1']:.3f}), so there is no significant effect for hidden bias to explain "
                "away; the bound says nothing more")
    return (f"the one-sided {test} stays significant at {alpha:.0%} until hidden bias could {how} by a factor "
            f"of {out['gamma_critical']:.2f}")


def _rosenbaum_sets(data: pd.DataFrame, set_col: str, treatment: str, col: str, sets: pd.DataFrame, primary) -> dict:
    """k:1 matched sets (one treated unit, one or more controls): sign-score or aligned-rank bounds."""
    if not ((sets["sum"] == 1) & (sets["size"] >= 2)).all():
        return {"status": "not applicable", "reason": "matched sets do not each hold one treated unit and at least "
                "one control (e.g. full matching, subclasses or weighting)"}
    try:
        out = sens.rosenbaum_bounds_sets(data[col], data[treatment], data[set_col], increase=bool(primary.estimate > 0))
    except Exception as exc:  # a sensitivity bound is a courtesy; it must not stop the run
        return {"status": "not computed", "reason": f"{type(exc).__name__}: {exc}"}
    out["status"] = "computed"
    test = ("sign-score test (exact)" if out["scores"] == "sign" else "aligned-rank test")
    out["reading"] = rosenbaum_reading(out, f"{test} over {out['sets']} matched sets",
                                       "make one unit of a set more likely than another to be the treated one "
                                       "(odds)")
    return out
