"""Writes subgroups_data.csv, the data behind the R reference numbers in r_reference.csv.

Run from the repository root: ``.venv/bin/python tests/reference/subgroups/make_data.py``; then
``Rscript tests/reference/subgroups/reference.R`` writes r_reference.csv. Both files are committed;
the tests read them and never need R.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make(seed: int = 20240523, n: int = 480) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    school = rng.integers(1, 31, n)
    sex = rng.choice(["female", "male"], n, p=[0.45, 0.55])
    eth = rng.choice(["Asian", "Black", "White"], n, p=[0.25, 0.15, 0.60])
    x = np.round(rng.normal(0, 1, n), 4)
    t = rng.integers(0, 2, n)
    w = np.round(rng.uniform(0.5, 2.0, n), 3)
    u = rng.normal(0, 0.4, 31)[school]
    y = np.round(10 + 1.5 * t + 1.0 * t * (sex == "female") + 2 * x + u + rng.normal(0, 2, n), 3)
    p = 1 / (1 + np.exp(-(-0.6 - 0.5 * t - 0.4 * t * (eth == "Black") + 0.5 * x + u)))
    yb = (rng.random(n) < p).astype(int)
    yc = rng.poisson(np.exp(0.3 - 0.3 * t + 0.3 * x + u))
    return pd.DataFrame({"id": np.arange(1, n + 1), "school": school, "sex": sex, "eth": eth, "x": x, "t": t,
                         "w": w, "y": y, "yb": yb, "yc": yc})


if __name__ == "__main__":
    make().to_csv(HERE / "subgroups_data.csv", index=False)
