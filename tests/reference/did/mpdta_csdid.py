"""Reference for evalkit's doubly robust group-time ATT (Sant'Anna & Zhao 2020 inside Callaway &
Sant'Anna 2021): `csdid` 0.4.3, a Python port of R did + DRDID, on R did's own `mpdta` data
(500 US counties 2003-2007, minimum-wage cohorts; mpdta.csv, exported from did's data/mpdta.rda)
with the covariate lpop, analytic SEs (bstrap = False, cband = False).

Before using the port, the script checks it against R did's own numbers on the ehec panel
(ehec_reference.json, from HonestDiD's README cache): cells and the dynamic aggregate must agree
to 1e-10. (moderndid 0.0.3, the other port that installs within evalkit's pins, fails this check:
it returns 0 for pre-period cells with not-yet-treated comparisons.)

Run in a throw-away environment (not a project dependency):
    /tmp/ref/bin/pip install csdid==0.4.3 'numpy<2.4' 'pandas<3' 'scipy<=1.15.3'
    /tmp/ref/bin/python tests/reference/did/mpdta_csdid.py
"""

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

warnings.simplefilter("ignore")
HERE = Path(__file__).parent


def fit(data, control, **kw):
    return ATTgt(data=data, control_group=control, **kw).fit(est_method="dr", base_period="universal", bstrap=False)


def agg(model, kind, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        model.aggte(typec=kind, bstrap=False, cband=False, **kw)
    return model.atte


def nan_none(v):
    return [None if not np.isfinite(x) else float(x) for x in v]


# 1. the port against R did on ehec (not-yet-treated, universal base period, no covariates)
ref = json.loads((HERE / "ehec_reference.json").read_text())
ehec = pd.read_csv(HERE / "ehec_data.csv")
ehec["g"] = ehec["yexp2"].fillna(0)
m = fit(ehec, "notyettreated", yname="dins", tname="year", idname="stfips", gname="g")
r = m.results
ours = {(int(g), int(t)): (a, s) for g, t, a, s in zip(r["group"], r["year"], r["att"], r["se"])}
for g, t, a, s in zip(ref["att_gt"]["group"], ref["att_gt"]["t"], ref["att_gt"]["att"], ref["att_gt"]["se_analytic"]):
    if s is not None:
        pa, ps = ours[(int(g), int(t))]
        assert abs(pa - a) < 1e-10 and abs(ps / s - 1) < 1e-10, (g, t)
dyn = agg(m, "dynamic", min_e=-5, max_e=5)
assert abs(dyn["overall_att"] - ref["aggte_dynamic"]["overall_att"]) < 1e-10
assert abs(dyn["overall_se"] / ref["aggte_dynamic"]["overall_se_analytic"] - 1) < 1e-8

# 2. mpdta with lpop, doubly robust (did's default est_method), both comparison groups
mp = pd.read_csv(HERE / "mpdta.csv")
out = {"csdid": "0.4.3", "data": "mpdta.csv (R did data/mpdta.rda)", "checked_against_r_did_on_ehec": True}
for control in ("nevertreated", "notyettreated"):
    m = fit(mp, control, yname="lemp", tname="year", idname="countyreal", gname="first.treat", xformla="lemp~lpop")
    r = m.results
    case = {"call": f"ATTgt(yname='lemp', tname='year', idname='countyreal', gname='first.treat', xformla='~lpop', "
                    f"control_group='{control}').fit(est_method='dr', base_period='universal', bstrap=False)",
            "cell_group": [int(g) for g in r["group"]], "cell_t": [int(t) for t in r["year"]],
            "cell_att": [float(a) for a in r["att"]], "cell_se": nan_none(r["se"])}
    for kind in ("simple", "group", "dynamic"):
        a = agg(m, kind)
        case[kind] = {"att": float(a["overall_att"]), "se": float(a["overall_se"])}
        if kind == "dynamic":
            case[kind].update(event_time=[int(e) for e in a["egt"]], att_e=[float(v) for v in a["att_egt"]],
                              se_e=nan_none(a["se_egt"]))
    out[control] = case
(HERE / "mpdta_reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps({k: (v["simple"], v["group"]) for k, v in out.items() if isinstance(v, dict)}, indent=1))
