"""Bench: the whole `evalkit run` of a matched plan at 10,000 treated x 100,000 comparison pupils.

The example's Reach matched plan (``evaluations/reach-matched.yml``, unchanged but for the data
path) on 110,000 synthetic pupils drawn as the example's ``reach_with_comparison.csv`` is (the
same selection and outcome models), with exactly 10,000 referred. Timed in the same run:

- **evalkit**: ``evalkit run`` in a fresh process, as a user runs it: reading and checking the
  CSV, the score model, 1:1 nearest-neighbour matching (caliper 0.2 SD of the logit, exact on
  ``female``), balance, every estimate with its cluster-robust SE, the DoWhy robustness checks
  (in evalkit's forked DoWhy worker, whose CPU time is counted with the run's) and the
  sensitivity bounds, ``results.json`` written.
- **MatchIt's whole script** (when ``Rscript`` and a correct MatchIt are installed; see
  ``bench_matching.py`` for which MatchIt): read the CSV, ``matchit()`` with the same options,
  ``summary()`` for balance, then the effect on each outcome by ``lm`` on the matched data with
  ``sandwich::vcovCL`` clustered on the pair (MatchIt's vignette), timed as the whole ``Rscript``
  process (R's start and library loading included, as evalkit's figure includes Python's), with the
  time inside R's ``system.time`` beside it. Without a correct MatchIt the figure recorded in issue 20
  (10.8 s on a 2-core machine) is printed and marked as recorded. Neither a correct MatchIt (4.7.2,
  built from source into a private library by ``bench/r/install-matchit.sh``: about 1.9 s here) nor
  Debian's 4.5.1 with its caliper bug (MatchIt#163: about 3.5 s) comes near the recorded figure
  (bench/measured/2026-12-02-matchit-in-run.txt), so the target is judged on the measured figure
  whenever there is one.
- **propensity fit + balance** for the 110,000 rows in this process (evalkit's functions), with
  statsmodels' ``GLM(Binomial)`` fit on the same design as the reference.

Prints each ratio against its target (issue 20: whole run >= 5x MatchIt's script; score model +
balance < 0.3 s), and the floor a run that imports DoWhy cannot go under: ``import dowhy`` alone
in a fresh process, timed here. Timings are wall clock (best of ``--repeat``) and CPU time; the whole-run ratio is
printed on both (MatchIt's R process is single-threaded: its wall clock is its CPU time on a quiet
machine). On a loaded machine wall clock is inflated: read the CPU figures and the load average.

    .venv/bin/python bench/bench_run.py [--treated 10000] [--controls 100000] [--repeat 2] [--no-r]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matching import machine, probe_matchit, r_env  # noqa: E402
from evalkit.synth.demographics import add_demographics  # noqa: E402
from evalkit.project import results_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDED_MATCHIT_S = 10.8  # issue 20: MatchIt's whole script on this plan and size, 2-core machine
TARGET_RUN_RATIO = 5.0
TARGET_SCORE_BALANCE_S = 0.3


def make_data(n_treated: int, n_controls: int, seed: int = 20) -> pd.DataFrame:
    """The example's Reach-with-comparison mechanism at scale, with exactly ``n_treated`` referred."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_controls

    def logistic(x):
        return 1 / (1 + np.exp(-x))

    age = rng.integers(10, 18, n)
    female = (rng.random(n) < 0.49).astype(int)
    fsm = (rng.random(n) < 0.24).astype(int)
    sen = (rng.random(n) < 0.15 + 0.1 * fsm).astype(int)
    imd = np.clip(np.round(rng.normal(4.5, 2.6, n)), 1, 10).astype(int)
    risk = rng.normal(0, 1, n) + 0.4 * fsm + 0.4 * sen - 0.05 * imd
    attend_pre = np.round(np.clip(93 - 4.5 * risk + rng.normal(0, 4, n), 30, 100), 1)
    susp_pre = (rng.random(n) < logistic(-2.4 + 1.1 * risk)).astype(int)
    sel = -3.6 + 1.2 * susp_pre + 0.07 * (92 - attend_pre) + 0.45 * fsm + 0.35 * sen - 0.05 * imd + 0.08 * (age - 13)
    p = logistic(sel)
    reach = np.zeros(n, int)
    reach[rng.choice(n, n_treated, replace=False, p=p / p.sum())] = 1
    lin = -2.3 + 1.2 * susp_pre + 0.05 * (92 - attend_pre) + 0.3 * fsm + 0.3 * sen + 0.1 * (age - 13)
    susp_12m = (rng.random(n) < logistic(lin - 0.6 * reach)).astype(int)
    attend_12m = np.round(np.clip(0.75 * attend_pre + 21.0 - susp_pre + 3.0 * reach + rng.normal(0, 5, n), 0, 100), 1)
    frame = pd.DataFrame({"pupil_id": [f"P{i:07d}" for i in range(n)], "reach": reach, "age": age, "female": female,
                          "sen": sen, "fsm": fsm, "imd_decile": imd, "attend_pre": attend_pre, "susp_pre": susp_pre,
                          "attend_12m": attend_12m, "susp_12m": susp_12m})
    # the plan's subgroups (sex, ethnicity, deprivation quintile, care experience) need the columns
    # the example data carries; the same generator adds them (no planted difference here)
    frame, _ = add_demographics(frame, id_column="pupil_id", seed=seed)
    return frame


def make_project(root: Path, frame: pd.DataFrame) -> Path:
    shutil.copytree(REPO / "logic_models", root / "logic_models")
    (root / "evaluations" / "data").mkdir(parents=True)
    shutil.copy(REPO / "evaluations" / "reach-matched.yml", root / "evaluations" / "reach-matched.yml")
    frame.to_csv(root / "evaluations" / "data" / "reach_with_comparison.csv", index=False)
    return root


def timed_process(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall-clock and CPU seconds (user + system of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return wall, cpu, done


R_SCRIPT = r"""
suppressPackageStartupMessages({library(MatchIt); library(sandwich); library(lmtest)})
t <- system.time({
  d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
  m <- matchit(reach ~ age + female + sen + fsm + imd_decile + attend_pre + susp_pre, data = d,
               method = "nearest", distance = "glm", link = "linear.logit", caliper = 0.2, exact = ~female,
               replace = FALSE, ratio = 1)
  s <- summary(m)
  md <- match.data(m)
  for (y in c("susp_12m", "attend_12m")) {
    fit <- lm(as.formula(paste(y, "~ reach")), data = md, weights = weights)
    ct <- coeftest(fit, vcov. = vcovCL, cluster = ~subclass)
  }
})[["elapsed"]]
cat(sprintf("%.3f %d\n", t, sum(md$reach)))
"""


def matchit_script(csv: Path, workdir: Path, env: dict, repeat: int = 1) -> tuple[float, int, float] | None:
    """(seconds inside R's ``system.time``, matched treated, seconds of the whole ``Rscript`` process,
    R's start and library loading included), best of ``repeat``. evalkit's figure is its whole
    process, so the process figure is the like-for-like one."""
    script = workdir / "whole.R"
    script.write_text(R_SCRIPT)
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True, env=env)
        process = time.perf_counter() - t0
        if done.returncode:
            print("  MatchIt script failed:", done.stderr[-500:])
            return None
        t, n = done.stdout.split()[-2:]
        if best is None or process < best[2]:
            best = (float(t), int(n), process)
    return best


def score_and_balance(frame: pd.DataFrame, repeat: int) -> dict:
    """evalkit's score model and balance table on every row, against statsmodels' GLM fit."""
    import statsmodels.api as sm

    from evalkit.estimate.matching import balance as bal
    from evalkit.estimate.matching import propensity as ps

    covs = ["age", "female", "sen", "fsm", "imd_decile", "attend_pre", "susp_pre"]
    treated = frame["reach"].to_numpy() == 1
    best, best_cpu, ref = np.inf, np.inf, np.inf
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        design = ps.build_design(frame, covs, treated)
        model = ps.fit(design, treated, "logit", "reach")
        # the balance table before and after, with weights as a 1:1 matching leaves them (the
        # before-columns are over every row, which is what costs)
        weights = np.where(treated, 1.0, 0.0)
        weights[np.flatnonzero(~treated)[:int(treated.sum())]] = 1.0
        bal.balance_table([t.name for t in design.terms], [t.covariate for t in design.terms], design.matrix,
                          treated, weights, distance=model.linear)
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
        X = np.column_stack([np.ones(len(frame)), design.model_matrix()])
        t0 = time.perf_counter()
        sm.GLM(treated.astype(float), X, family=sm.families.Binomial()).fit()
        ref = min(ref, time.perf_counter() - t0)
    return {"wall": best, "cpu": best_cpu, "statsmodels_glm": ref}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--treated", type=int, default=10_000)
    ap.add_argument("--controls", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--matchit-lib", default=None)
    args = ap.parse_args(argv)
    frame = make_data(args.treated, args.controls)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"data: {args.treated:,} treated, {args.controls:,} comparison pupils; plan reach-2023-matched "
          "(1:1 nearest, caliper 0.2 SD of the logit, exact on female)")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        root = make_project(Path(tmp) / "project", frame)
        cmd = [sys.executable, "-m", "evalkit", "run", "reach-2023-matched", "--no-store", "-q"]
        runs = [timed_process(cmd, root) for _ in range(args.repeat)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        import json

        results = json.loads(results_path(root, "reach-2023-matched").read_text())
        rob = results["sections"]["robustness"]
        sample = rob.get("refutation_sample")
        print(f"evalkit run (best of {args.repeat}, fresh process each): {wall:.2f} s wall, {cpu:.2f} s CPU "
              "(the process and its DoWhy worker); "
              f"robustness {rob['status']}, refuted on {rob.get('refuted_rows', rob.get('rows'))} of "
              f"{rob.get('rows')} rows" + (f" (seed {sample['seed']})" if sample else ""))
        env, lib = r_env(args.matchit_lib)
        probe = None if args.no_r else probe_matchit(env)
        mi = None
        if probe is not None and probe["correct"]:
            mi = matchit_script(root / "evaluations" / "data" / "reach_with_comparison.csv", Path(tmp), env,
                                args.repeat)
        if mi is not None:
            print(f"MatchIt {probe['version']} whole script (matchit + summary + lm/vcovCL per outcome, best of "
                  f"{args.repeat}): {mi[2]:.2f} s wall as a process, R's start and library loading included "
                  f"({mi[0]:.2f} s inside system.time; {mi[1]:,} matched treated)")
            ratio, how = mi[2] / wall, "MatchIt measured in this run, process against process"
            print(f"       against the figure recorded in issue 20 ({RECORDED_MATCHIT_S} s) the whole run would be "
                  f"{RECORDED_MATCHIT_S / wall:.1f}x; a correct MatchIt does not take that long here (the recorded "
                  "figure is not used for the target while a correct MatchIt is measured)")
        else:
            why = "not installed" if probe is None else "fails its caliper self-test (MatchIt#163)"
            print(f"MatchIt: {why}{' or --no-r' if args.no_r else ''}; using the figure recorded in issue 20 "
                  f"({RECORDED_MATCHIT_S} s on a 2-core machine), NOT measured in this run; a correct MatchIt "
                  "took 1.9 s on such a machine (bench/measured/2026-12-02-matchit-in-run.txt; "
                  "sh bench/r/install-matchit.sh builds one)")
            ratio, how = RECORDED_MATCHIT_S / wall, "against the recorded figure"
        sb = score_and_balance(frame, args.repeat)
        # the floor of a run that imports DoWhy: its import alone, in a fresh process (single-threaded
        # module execution, whatever the cores), before a single refutation can start
        # as the worker imports it: with the modules DoWhy loads but its refuters never use deferred
        # (evalkit._dowhy_worker.DEFERRED)
        floor_code = ("from evalkit import _dowhy_worker as w; w.defer_imports(w.DEFERRED); "
                      "import dowhy; from dowhy import CausalModel")
        imports = [timed_process([sys.executable, "-c", floor_code], root) for _ in range(args.repeat)]
        floor_wall, floor_cpu = min(r[0] for r in imports), min(r[1] for r in imports)
    print(f"ratio  whole run: MatchIt / evalkit = {ratio:.1f}x on wall clock ({how}); target >= "
          f"{TARGET_RUN_RATIO:.0f}x: {'met' if ratio >= TARGET_RUN_RATIO else 'NOT met'}; on CPU seconds (evalkit's "
          f"processes together, its DoWhy worker included) {ratio * wall / cpu:.1f}x: "
          f"{'met' if ratio * wall / cpu >= TARGET_RUN_RATIO else 'NOT met'}; load average now {os.getloadavg()[0]:.1f}")
    matchit_s = ratio * wall
    print(f"floor  `import dowhy` alone in a fresh process, as the worker imports it: {floor_wall:.2f} s wall, "
          f"{floor_cpu:.2f} s CPU (best of {args.repeat}): a run that imports DoWhy is at most "
          f"{matchit_s / floor_wall:.1f}x MatchIt's script on wall clock before any work, against the "
          f"{TARGET_RUN_RATIO:.0f}x target (budget {matchit_s / TARGET_RUN_RATIO:.2f} s)")
    print(f"ratio  score model + balance, {len(frame):,} rows: {sb['wall']:.3f} s wall, {sb['cpu']:.3f} s CPU "
          f"(target < {TARGET_SCORE_BALANCE_S} s: {'met' if sb['cpu'] < TARGET_SCORE_BALANCE_S else 'NOT met'} on CPU "
          f"time); statsmodels GLM fit alone {sb['statsmodels_glm']:.3f} s = "
          f"{sb['statsmodels_glm'] / sb['wall']:.1f}x evalkit's fit + balance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
