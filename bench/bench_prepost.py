"""Time a pre/post run: 1,000,000 participants x 5 indicators (3 scores, 1 binary, 1 count),
with a two-level subgroup, through ``evalkit.run`` (the same path as ``evalkit run``).

    .venv/bin/python bench/bench_prepost.py [--n 1000000] [--cluster]

Prints the time for the analysis (data already in memory) and what was estimated. Data
generation and project set-up are not timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def build(root: Path, n: int, cluster: bool, seed: int = 20240301):
    from evalkit.project import load_project

    rng = np.random.default_rng(seed)
    scale = {"name": "scale", "range": [0, 40], "reliability": 0.8, "reliability_kind": "internal_consistency",
             "norm_sd": 5.2}
    indicators = [
        {"id": f"score{k}", "label": f"Score {k}", "measures": "wellbeing", "type": "score",
         "direction": "decrease", "source": "survey", "instrument": scale} for k in (1, 2, 3)]
    indicators += [
        {"id": "suspended", "label": "Suspended", "measures": "wellbeing", "type": "binary", "direction": "decrease",
         "source": "education"},
        {"id": "offences", "label": "Offences", "measures": "wellbeing", "type": "count", "direction": "decrease",
         "source": "police"}]
    logic = {"id": "bench", "name": "Bench", "summary": "Benchmark programme.", "prevention": "primary",
             "population": {"description": "everyone"}, "problem": "Speed.",
             "theory_of_change": {"activities": [{"id": "sessions", "label": "Sessions"}],
                                  "outcomes": [{"id": "wellbeing", "label": "Wellbeing", "horizon": "short"}],
                                  "links": [["sessions", "wellbeing"]]},
             "indicators": indicators}
    frame = {"id": np.arange(n), "female": rng.integers(0, 2, n), "school": rng.integers(0, 2000, n)}
    timepoints = {}
    for k in (1, 2, 3):
        true = rng.normal(17, 4.6, n)
        frame[f"s{k}_pre"] = np.clip(np.round(true + rng.normal(0, 2.4, n)), 0, 40)
        post = np.clip(np.round(true - 2.5 + rng.normal(0, 2.4, n)), 0, 40)
        post[rng.random(n) < 0.2] = np.nan
        frame[f"s{k}_post"] = post
        timepoints[f"score{k}"] = {"baseline": f"s{k}_pre", "exit": f"s{k}_post"}
    pre = (rng.random(n) < 0.4).astype(float)
    frame["susp_pre"], frame["susp_post"] = pre, np.where(pre == 1, rng.random(n) < 0.5, rng.random(n) < 0.17) * 1.0
    mu = rng.gamma(1.2, 1.5, n)
    frame["off_pre"], frame["off_post"] = rng.poisson(mu), rng.poisson(mu * 0.7)
    timepoints["suspended"] = {"baseline": "susp_pre", "exit": "susp_post"}
    timepoints["offences"] = {"baseline": "off_pre", "exit": "off_post"}
    plan = {"id": "bench-prepost", "intervention": "bench", "title": "Benchmark", "stage": "pilot_for_outcomes",
            "design": "pre_post", "evaluator": {"name": "bench", "independent": False},
            "data": {"path": "data/bench.csv", "id": "id"}, "timepoints": timepoints, "subgroups": ["female"],
            "primary_outcome": "score1", "follow_up_months": 6, "seed": seed}
    if cluster:
        plan["cluster"] = "school"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations" / "data").mkdir(parents=True)
    (root / "logic_models" / "bench.yml").write_text(yaml.safe_dump(logic, sort_keys=False))
    (root / "evaluations" / "bench.yml").write_text(yaml.safe_dump(plan, sort_keys=False))
    frame = pd.DataFrame(frame)
    frame.head(5).to_csv(root / "evaluations" / "data" / "bench.csv", index=False)  # the plan needs a file
    return load_project(root, check_data=False).evaluation("bench-prepost"), frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cluster", action="store_true", help="cluster-robust SEs by a 2,000-school column")
    args = parser.parse_args()
    from evalkit.run import run

    with tempfile.TemporaryDirectory() as tmp:
        evaluation, frame = build(Path(tmp), args.n, args.cluster)
        start = time.perf_counter()
        result = run(evaluation, frame=frame)
        seconds = time.perf_counter() - start
    print(f"pre/post: {args.n:,} participants x 5 indicators (+ subgroup female, "
          f"{'clustered' if args.cluster else 'unclustered'}): {seconds:.2f} s for "
          f"{len(result.estimates)} estimates, {len(result.warnings)} warnings")


if __name__ == "__main__":
    main()
