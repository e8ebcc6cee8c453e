"""Reference p-values for evalkit's wild cluster restricted bootstrap: the `wildboottest` package
(Python port of fwildclusterboot / boottest), WCR11, Rademacher weights, full enumeration.

Run in a throw-away environment (not a project dependency):
    /tmp/ref/bin/pip install wildboottest==0.3.2 statsmodels 'numpy<2.4' 'pandas<3' 'scipy<=1.15.3'
    /tmp/ref/bin/python tests/reference/wild/wildboottest_reference.py
Writes areas_panel.csv (10 areas x 24 months, 4 areas start in month 12) and
wildboottest_reference.json here.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import wildboottest
from wildboottest.wildboottest import wildboottest as wbt

HERE = Path(__file__).parent
rng = np.random.default_rng(20190701)
areas, months = 10, 24
area = np.repeat([f"csp{a:02d}" for a in range(areas)], months)
month = np.tile(np.arange(months), areas)
treated = np.repeat(np.isin(np.arange(areas), [1, 4, 6, 9]), months)
d = (treated & (month >= 12)).astype(float)
y = (5 + np.repeat(rng.normal(0, 1, areas), months) + 0.05 * month + 0.8 * d
     + np.repeat(rng.normal(0, 0.4, areas), months) * (month / 12) + rng.normal(0, 1, areas * months))
panel = pd.DataFrame({"area": area, "month": month, "d": d, "y": y})
panel.to_csv(HERE / "areas_panel.csv", index=False)

X = pd.concat([panel[["d"]], pd.get_dummies(panel.area, prefix="a", dtype=float),
               pd.get_dummies(panel.month, prefix="m", drop_first=True, dtype=float)], axis=1)
cluster = pd.factorize(panel.area, sort=True)[0]
out = {"wildboottest": getattr(wildboottest, "__version__", "0.3.2"),
       "call": "wildboottest(OLS(y - b0*d, [d, area dummies, month dummies]), param='d', cluster=area, "
               "B=99999, weights_type='rademacher', impose_null=True, bootstrap_type='11') -> full enumeration",
       "nulls": [], "p_values": []}
for b0 in (0.0, 0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0):
    model = sm.OLS(panel.y - b0 * panel.d, X)
    res = wbt(model, param="d", cluster=cluster, B=99999, weights_type="rademacher", impose_null=True,
              bootstrap_type="11", seed=1, show=False)
    out["nulls"].append(b0)
    out["p_values"].append(float(res.loc["d", "p-value"]))
    out.setdefault("t_statistics", []).append(float(res.loc["d", "statistic"]))
(HERE / "wildboottest_reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
