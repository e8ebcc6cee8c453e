"""Write the reference data sets the R script reads (run once; the CSVs are committed).

    python tests/reference/prepost/make_data.py && Rscript tests/reference/prepost/reference.R
"""
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20251125)

# 1. Student's sleep data (Cushny & Peebles; R's `sleep`): the textbook paired t-test example;
#    the differences hold ties and a zero, so Wilcoxon uses the normal approximation.
sleep1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
sleep2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
pd.DataFrame({"id": [f"S{i:02d}" for i in range(1, 11)], "pre": sleep1, "post": sleep2}).to_csv(
    HERE / "score_sleep.csv", index=False)

# 2. small, continuous, no ties: exact Wilcoxon
n = 15
pre = np.round(rng.normal(20, 5, n), 3)
post = np.round(pre - 1.5 + rng.normal(0, 3, n), 3)
pd.DataFrame({"id": [f"A{i:02d}" for i in range(n)], "pre": pre, "post": post}).to_csv(
    HERE / "score_small.csv", index=False)

# 3. SDQ-like integer scores (0-40) in 30 schools: ties, zeros, clustering, a subgroup
n, g = 400, 30
school = rng.integers(0, g, n)
u = rng.normal(0, 1.5, g)[school]
true = 16 + rng.normal(0, 4, n) + u
pre = np.clip(np.round(true + rng.normal(0, 2.4, n)), 0, 40)
post = np.clip(np.round(true - 2 + u * 0.5 + rng.normal(0, 2.4, n)), 0, 40)
female = rng.integers(0, 2, n)
pd.DataFrame({"id": [f"B{i:03d}" for i in range(n)], "school": [f"S{s:02d}" for s in school], "female": female,
              "pre": pre, "post": post}).to_csv(HERE / "score_clustered.csv", index=False)

# 4. paired binary tables, as one row per person: (both, baseline only, follow-up only, neither)
tables = {"small": (8, 9, 2, 11), "large": (46, 76, 43, 147), "agresti": (794, 150, 86, 570),
          "tied": (5, 4, 4, 7), "none_discordant": (10, 0, 0, 10)}
rows = []
for name, (a, b, c, d) in tables.items():
    cells = [(1, 1)] * a + [(1, 0)] * b + [(0, 1)] * c + [(0, 0)] * d
    rows += [{"table": name, "id": f"{name}{i:04d}", "pre": x, "post": y} for i, (x, y) in enumerate(cells)]
pd.DataFrame(rows).to_csv(HERE / "binary_tables.csv", index=False)

# 5. over-dispersed paired counts (offences per term), clustered in 12 areas
n = 250
area = rng.integers(0, 12, n)
mu = rng.gamma(1.2, 1.5, n)
pre = rng.poisson(mu)
post = rng.poisson(mu * 0.7)
pd.DataFrame({"id": [f"C{i:03d}" for i in range(n)], "area": [f"A{a:02d}" for a in area], "pre": pre,
              "post": post}).to_csv(HERE / "count_pairs.csv", index=False)

# 6. small, no ties, but two zero differences: R leaves the exact test when there are zeros
n = 14
pre = np.round(rng.normal(20, 5, n), 2)
post = np.round(pre + 1.0 + rng.normal(0, 3, n), 2)
post[[3, 8]] = pre[[3, 8]]
pd.DataFrame({"id": [f"Z{i:02d}" for i in range(n)], "pre": pre, "post": post}).to_csv(
    HERE / "score_zeros.csv", index=False)
