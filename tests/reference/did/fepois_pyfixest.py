"""Reference for evalkit's Poisson TWFE (PPML): pyfixest's ``fepois``, the Python port of
R fixest::fepois, with its default small-sample correction and clustering.

Run in a throw-away environment (not a project dependency), e.g.
    python -m venv /tmp/ref && /tmp/ref/bin/pip install pyfixest==0.60.0 'numpy<2.4' 'pandas<3' 'scipy<=1.15.3'
    /tmp/ref/bin/python tests/reference/did/fepois_pyfixest.py
Writes fepois_panel.csv (a simulated count panel: 90 units in 15 areas x 10 periods, two cohorts)
and fepois_reference.json here.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf

HERE = Path(__file__).parent
rng = np.random.default_rng(20240601)
n, T = 90, 10
unit = np.repeat(np.arange(n), T)
t = np.tile(np.arange(T), n)
g = np.repeat(np.where(np.arange(n) < 30, 4, np.where(np.arange(n) < 50, 7, 99)), T)
area = np.repeat(np.arange(n) % 15, T)
d = (t >= g).astype(int)
x = rng.normal(0, 1, n * T)
mu = np.exp(0.2 + np.repeat(rng.normal(0, 0.6, n), T) + 0.05 * t + 0.2 * x - 0.3 * d)
y = rng.poisson(mu * rng.gamma(2.0, 0.5, n * T))
y[unit == 5] = 0  # a unit with no events (dropped by fepois, as by evalkit)
panel = pd.DataFrame({"unit": unit, "t": t, "area": area, "d": d, "x": x, "y": y})
panel.to_csv(HERE / "fepois_panel.csv", index=False)
out = {"pyfixest": pf.__version__, "call": "pf.fepois('y ~ d | unit + t', vcov={'CRV1': cluster}) (default ssc)"}
for name, fml, cluster in (("unit", "y ~ d | unit + t", "unit"), ("area", "y ~ d | unit + t", "area"),
                           ("unit_with_x", "y ~ d + x | unit + t", "unit")):
    fit = pf.fepois(fml, data=panel, vcov={"CRV1": cluster})
    tidy = fit.tidy()
    out[name] = {"formula": fml, "cluster": cluster, "coef": float(tidy.loc["d", "Estimate"]),
                 "se": float(tidy.loc["d", "Std. Error"]), "ci": [float(tidy.loc["d", "2.5%"]),
                                                                 float(tidy.loc["d", "97.5%"])],
                 "p": float(tidy.loc["d", "Pr(>|t|)"]), "nobs": int(fit._N)}
(HERE / "fepois_reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))

# feols on the same panel: the DiD ATT with unit and period effects, clustered three ways
# (by unit; by area, in which units nest; by a grouping that cuts across units, so the unit
# effects count in K), and with analysis weights
panel["crossed"] = (panel["unit"] * 7 + panel["t"] * 3) % 11
panel["w"] = 0.5 + (panel["unit"] % 4) / 2
panel.to_csv(HERE / "fepois_panel.csv", index=False)
feols = {}
for name, cluster, weights in (("unit", "unit", None), ("area", "area", None), ("crossed", "crossed", None),
                               ("weighted", "unit", "w")):
    fit = pf.feols("y ~ d + x | unit + t", data=panel, vcov={"CRV1": cluster}, weights=weights)
    tidy = fit.tidy()
    feols[name] = {"cluster": cluster, "weights": weights, "coef": float(tidy.loc["d", "Estimate"]),
                   "se": float(tidy.loc["d", "Std. Error"]), "ci": [float(tidy.loc["d", "2.5%"]),
                                                                   float(tidy.loc["d", "97.5%"])],
                   "p": float(tidy.loc["d", "Pr(>|t|)"]), "df_k": int(fit._df_k), "df_t": int(fit._df_t)}
out["feols"] = feols
(HERE / "fepois_reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(feols, indent=2))
