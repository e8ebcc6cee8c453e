"""Reference numbers for evalkit's ridge augmented synthetic control, from pysyncon's AugSynth.

pysyncon (Fordham, MIT licence, PyPI 1.7.0) implements the ridge ASCM of Ben-Michael, Feller &
Rothstein (2021) to reconcile with R's augsynth (progfunc = "Ridge", no covariates): outcomes
centred on the donors' mean, SCM weights on the pre-period outcomes, lambda by leave-one-period-out
cross-validation with the one-standard-error rule. It is not an evalkit dependency: run this
beside the project (pip install pysyncon==1.7.0) from this folder:

    python ascm_reference.py

Writes ascm_reference.json: California (Proposition 99, outcome-only, 1970-1988 pre-period) with
the chosen lambda, the augmented and SCM weights, and the augmented gap in every year.
"""

import json

import numpy as np
import pandas as pd
import pysyncon
from pysyncon import AugSynth, Dataprep

smoking = pd.read_csv("smoking.csv")
states = sorted(smoking["state"].unique())
donors = [s for s in states if s != "California"]
prep = Dataprep(foo=smoking, predictors=[], predictors_op="mean", time_predictors_prior=range(1970, 1989),
                dependent="cigsale", unit_variable="state", time_variable="year",
                treatment_identifier="California", controls_identifier=donors,
                time_optimize_ssr=range(1970, 1989))
fit = AugSynth()
fit.fit(dataprep=prep, use_covariates=False)
wide = smoking.pivot(index="year", columns="state", values="cigsale")
centre = wide[donors].mean(axis=1)
synthetic = centre + (wide[donors].sub(centre, axis=0)).to_numpy() @ np.asarray(fit.W)
out = {
    "source": f"pysyncon {pysyncon.__version__ if hasattr(pysyncon, '__version__') else '1.7.0'} AugSynth, "
              "use_covariates=False; data smoking.csv",
    "lambda": float(fit.lambda_),
    "weights": dict(zip(donors, map(float, fit.W))),
    "scm_weights": dict(zip(donors, map(float, fit.synw))),
    "years": [int(y) for y in wide.index],
    "gap": [float(v) for v in (wide["California"] - synthetic)],
}
with open("ascm_reference.json", "w") as fh:
    json.dump(out, fh, indent=1, sort_keys=True)
print(f"lambda {out['lambda']:.6g}; gap in 2000 {out['gap'][-1]:.4f}")
