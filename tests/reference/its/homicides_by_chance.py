"""Is the demo's homicide miss chance? (a check, not a test; run by hand)

The example strategy's interrupted time series recovers every built-in change but one: homicides'
level change (truth 0.80) is estimated at 0.285 (95% CI 0.133 to 0.613). Homicides are rare (about
1.2 a month across the partnership, Poisson), and the demo's pre-period happens to rise (5 in the
nine months of 2016, then 18, 18, 20 a year) while the truth has no pre-trend, so a segmented model
with its own pre-trend puts the fall into the level.

This script re-draws the series 1,000 times from the generator's own mechanism
(evalkit.monitor.synth: rate 1.2 x level 0.80 after October 2019 x 0.8% growth a year, seasonal
terms aside) and fits the same segmented Poisson model (trend, level, slope, month of year).
Recorded on 2026-12-02 (numpy default_rng(1)):

    coverage of the 95% interval 0.952; median level change 0.816; estimates at or below 0.285: 0.8%

So the estimator is unbiased and its interval covers at the nominal rate on this series; the demo's
miss is a 1-in-125 draw, and one miss in the demo's 22 true effects is what 95% intervals give.

    .venv/bin/python tests/reference/its/homicides_by_chance.py
"""

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm

warnings.simplefilter("ignore")
months = pd.date_range("2016-04-01", "2024-03-01", freq="MS")
since = np.array([(m.to_period("M") - pd.Period("2019-10", "M")).n for m in months])
post = (since >= 0).astype(float)
rate = 1.2 * np.where(post == 1, 0.80, 1.0) * (1 + 0.008 * (months.year.to_numpy() - 2020))
t = np.arange(len(months))
month_of_year = pd.get_dummies(months.month, drop_first=True).astype(float).to_numpy()
X = np.column_stack([np.ones(len(months)), t, post, np.maximum(since, 0) * post, month_of_year])
rng = np.random.default_rng(1)
covered, levels = 0, []
for _ in range(1000):
    fit = sm.GLM(rng.poisson(rate), X, family=sm.families.Poisson()).fit()
    lo, hi = np.exp(fit.conf_int()[2])
    covered += lo <= 0.80 <= hi
    levels.append(np.exp(fit.params[2]))
levels = np.array(levels)
print(f"coverage of the 95% interval {covered / 1000:.3f}; median level change {np.median(levels):.3f}; "
      f"estimates at or below 0.285: {np.mean(levels <= 0.285):.1%}")
