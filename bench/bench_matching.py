"""Bench: evalkit's nearest-neighbour matching against MatchIt on a large synthetic pool.

10,000 treated and 1,000,000 comparison units, 8 covariates, 1:1 matching with a caliper of
0.2 SD of the logit of the score, without and with replacement. Prints evalkit's timings for
the matching step alone (given the scores) and for the whole matching run (score model,
matching, balance table and an ATT with its cluster-robust SE). When ``Rscript`` and MatchIt
are installed it times MatchIt on the same data and checks that, given the same scores, both
form the same matched sets. Debian's ``r-cran-matchit`` 4.5.1 carries MatchIt#163 (calipers on
the probability scale ignored, the lower-score control always taken); the bench detects it and
then reports MatchIt's time without comparing sets.

    .venv/bin/python bench/bench_matching.py [--treated 10000] [--controls 1000000] [--no-r]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.estimate.matching import effect, match
from evalkit.estimate.matching.nearest import NNProblem, match_nearest
from evalkit.spec.raw import Matching

N_COVARIATES = 8


def make_data(n_treated: int, n_controls: int, seed: int = 1) -> pd.DataFrame:
    """Exactly n_treated treated and n_controls controls; treated covariates shifted (selection)."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_controls
    treated = np.zeros(n, bool)
    treated[rng.choice(n, n_treated, replace=False)] = True
    shift = np.array([0.5, -0.4, 0.3, 0.2, -0.2, 0.1, 0.4, -0.3])
    X = rng.normal(size=(n, N_COVARIATES)) + np.where(treated[:, None], shift, 0.0)
    X[:, 6] = (X[:, 6] > 0.3).astype(float)  # two binary covariates, as in real data
    X[:, 7] = (X[:, 7] > -0.5).astype(float)
    y = 1.0 * treated + X @ np.full(N_COVARIATES, 0.3) + rng.normal(size=n)
    frame = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(N_COVARIATES)])
    frame.insert(0, "id", np.arange(n))
    frame.insert(1, "treat", treated.astype(int))
    frame["y"] = y
    return frame


def evalkit_times(frame: pd.DataFrame, replace: bool, repeat: int = 3) -> dict:
    """Best of ``repeat`` runs: the machine may be shared, and the minimum is the least noisy."""
    covs = [f"x{i + 1}" for i in range(N_COVARIATES)]
    opts = Matching(caliper=0.2, caliper_scale="logit", replace=replace)
    whole = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = match(frame, treatment="treat", covariates=covs, options=opts, id_column="id")
        eff = effect(res, res.pool["y"].to_numpy())
        whole = min(whole, time.perf_counter() - t0)
    # the matching step alone, given the scores (what MatchIt's nn_matchC does)
    d = res.model.linear
    treated = res.treated
    t_rows = np.flatnonzero(treated)
    order = np.argsort(-d[t_rows], kind="stable")
    width = 0.2 * np.std(d, ddof=1)
    step = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        mm = match_nearest(NNProblem(d, treated, order, 1, replace, width))
        step = min(step, time.perf_counter() - t0)
    return {"whole": whole, "step": step, "matched_treated": int((mm[:, 0] >= 0).sum()),
            "distinct_controls": int(np.unique(mm[mm >= 0]).size), "att": eff["estimate"],
            "se": eff["std_error"], "mm": mm, "distance": d, "result": res}


R_SCRIPT = r"""
suppressPackageStartupMessages(library(MatchIt))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); replace <- args[2] == "TRUE"; out <- args[3]
selftest <- local({
  s <- data.frame(treat = c(1, 1, 0, 0, 0), ps = c(0.90, 0.50, 0.45, 0.52, 0.10))
  m <- matchit(treat ~ ps, data = s, distance = s$ps, caliper = 0.05, std.caliper = FALSE)
  ok <- is.na(m$match.matrix[1, 1]) && m$match.matrix[2, 1] == "4"
  ok
})
f <- treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8
t_whole <- system.time(m <- matchit(f, data = d, method = "nearest", distance = "glm", link = "linear.logit",
                                    caliper = 0.2, replace = replace, m.order = "largest"))[["elapsed"]]
t_step <- system.time(m2 <- matchit(f, data = d, method = "nearest", distance = d$distance,
                                    caliper = 0.2, replace = replace, m.order = "largest"))[["elapsed"]]
mm <- m2$match.matrix
write.csv(data.frame(treated = rownames(mm), control = mm[, 1]), out, row.names = FALSE)
cat(sprintf("%s %s %.3f %.3f %s\n", as.character(packageVersion("MatchIt")), selftest, t_whole, t_step, out))
"""


def matchit_times(frame: pd.DataFrame, distance: np.ndarray, replace: bool, workdir: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    check = subprocess.run(["Rscript", "-e", "cat(requireNamespace('MatchIt', quietly = TRUE))"],
                           capture_output=True, text=True)
    if check.stdout.strip() != "TRUE":
        return None
    data = workdir / "bench.csv"
    f = frame.copy()
    f["distance"] = distance  # the same scores evalkit matched on
    f.to_csv(data, index=False)
    script = workdir / "bench.R"
    script.write_text(R_SCRIPT)
    out = workdir / f"mm_{replace}.csv"
    run = subprocess.run(["Rscript", str(script), str(data), "TRUE" if replace else "FALSE", str(out)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print("MatchIt failed:", run.stderr[-500:])
        return None
    version, selftest, t_whole, t_step, _ = run.stdout.split()[-5:]
    mm = pd.read_csv(out)
    return {"version": version, "correct": selftest == "TRUE", "whole": float(t_whole), "step": float(t_step),
            "pairs": mm}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--treated", type=int, default=10_000)
    ap.add_argument("--controls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="evalkit timings are the best of this many runs")
    ap.add_argument("--replace", choices=("no", "yes", "both"), default="both",
                    help="time matching without replacement, with it, or both")
    ap.add_argument("--no-r", action="store_true", help="do not run MatchIt even when it is installed")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    frame = make_data(args.treated, args.controls)
    n_t = int(frame["treat"].sum())
    print(f"machine: {machine()}")
    print(f"data: {n_t:,} treated, {len(frame) - n_t:,} controls, {N_COVARIATES} covariates "
          f"(made in {time.perf_counter() - t0:.1f} s); 1:1 nearest neighbour, caliper 0.2 SD of the logit")
    with tempfile.TemporaryDirectory() as tmp:
        for replace in {"no": (False,), "yes": (True,), "both": (False, True)}[args.replace]:
            label = "with replacement" if replace else "without replacement"
            ek = evalkit_times(frame, replace, args.repeat)
            print(f"evalkit {label} (best of {args.repeat}): matching step {ek['step']:.3f} s; whole run (score model, matching, "
                  f"balance, ATT + SE) {ek['whole']:.2f} s; matched treated {ek['matched_treated']:,}, "
                  f"distinct controls {ek['distinct_controls']:,}; ATT {ek['att']:.4f} (SE {ek['se']:.4f}; true 1)")
            mi = None if args.no_r else matchit_times(frame, ek["distance"], replace, Path(tmp))
            if mi is None:
                print(f"  MatchIt: not run (Rscript with MatchIt not installed{' or --no-r' if args.no_r else ''})")
                continue
            speed = f"step {mi['step'] / ek['step']:.0f}x, whole run {mi['whole'] / ek['whole']:.1f}x faster"
            print(f"  MatchIt {mi['version']}: matching step {mi['step']:.1f} s, whole matchit() {mi['whole']:.1f} s "
                  f"-> evalkit {speed}")
            if not mi["correct"]:
                print("  MatchIt fails its caliper self-test (Debian's 4.5.1 with bug MatchIt#163): matched sets "
                      "not compared; use a fixed build (>= 4.5.4 or 4.5.1 patched) as a reference")
                continue
            ids = frame["id"].to_numpy()
            t_ids = ids[ek["result"].treated]
            ours = {str(t): str(ids[c]) for t, c in zip(t_ids, ek["mm"][:, 0]) if c >= 0}
            # MatchIt labels rows by row name: 1-based positions
            theirs = {str(ids[int(t) - 1]): str(ids[int(c) - 1]) for t, c in
                      zip(mi["pairs"]["treated"], mi["pairs"]["control"]) if pd.notna(c)}
            print(f"  same matched sets as MatchIt given the same scores: {ours == theirs} "
                  f"({sum(ours.get(k) == v for k, v in theirs.items()):,} of {len(theirs):,} pairs agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
