"""Simulation: the pre/post CIs cover a known true change in 93-97% of replications.

Vectorised over replications: each data set is a row of an (R, n) array and the estimator
helpers the design uses (``_stats.paired_mean``, ``_stats.newcombe_paired``) take whole
arrays. ``test_*_path_matches`` checks that the design's estimate for one replication is the
same number, so the coverage is that of what ``evalkit run`` reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.estimate import _stats as st
from evalkit.run import run
from test_pre_post_support import make_plan

pytestmark = pytest.mark.slow
REPS = 2000
LOW, HIGH = 0.93, 0.97


def score_data(rng, reps=REPS, n=30, change=-2.5):
    true = rng.normal(17, 4.6, (reps, n))  # person's level; the instrument adds error each time
    pre = true + rng.normal(0, 2.4, (reps, n))
    post = true + change + rng.normal(0, 2.4, (reps, n))
    return pre, post


def binary_data(rng, reps=REPS, n=60, p_pre=0.4, stay=0.5, p_post=0.3):
    pre = rng.random((reps, n)) < p_pre
    start = (p_post - p_pre * stay) / (1 - p_pre)  # P(1 at follow-up | 0 at baseline) giving p_post
    post = np.where(pre, rng.random((reps, n)) < stay, rng.random((reps, n)) < start)
    return pre, post


def test_score_ci_coverage():
    rng = np.random.default_rng(20240301)
    pre, post = score_data(rng)
    res = st.paired_mean(post - pre)
    covered = (res["ci_low"] <= -2.5) & (-2.5 <= res["ci_high"])
    assert LOW <= covered.mean() <= HIGH, covered.mean()


def test_binary_ci_coverage():
    rng = np.random.default_rng(20240302)
    pre, post = binary_data(rng)
    a = (pre & post).sum(1)
    b = (pre & ~post).sum(1)
    c = (~pre & post).sum(1)
    d = (~pre & ~post).sum(1)
    _diff, lo, hi = st.newcombe_paired(a, b, c, d)
    covered = (lo <= -0.1) & (-0.1 <= hi)
    assert LOW <= covered.mean() <= HIGH, covered.mean()


def test_clustered_score_ci_coverage():
    # 24 schools of 40 pupils, school effect on the change: the plain t CI under-covers,
    # the cluster-robust one does not
    rng = np.random.default_rng(20240303)
    reps, g, m = 1000, 24, 40
    school = np.repeat(np.arange(g), m)
    change = -0.25 + rng.normal(0, 0.15, (reps, g))[:, school] + rng.normal(0, 0.6, (reps, g * m))
    cover_cr = np.mean([(r := st.cluster_mean(row, school))["ci_low"] <= -0.25 <= r["ci_high"] for row in change])
    naive = st.paired_mean(change)
    cover_naive = np.mean((naive["ci_low"] <= -0.25) & (-0.25 <= naive["ci_high"]))
    assert LOW <= cover_cr <= HIGH, cover_cr
    assert cover_naive < 0.85


def test_count_rate_ratio_coverage():
    # over-dispersed counts; the robust CI does not assume Poisson variance (bounds a little wider,
    # the 93-97% is for score and binary)
    rng = np.random.default_rng(20240304)
    reps, n = 1000, 150
    mu = rng.gamma(1.2, 1.5, (reps, n))
    pre, post = rng.poisson(mu), rng.poisson(mu * 0.7)
    covered = [(r := st.ratio_of_totals(p0, p1))["ci_low"] <= 0.7 <= r["ci_high"] for p0, p1 in zip(pre, post)]
    assert 0.92 <= np.mean(covered) <= 0.975, np.mean(covered)


def test_score_path_matches(tmp_path):
    rng = np.random.default_rng(7)
    pre, post = score_data(rng, reps=1)
    frame = pd.DataFrame({"id": range(pre.shape[1]), "w_pre": pre[0], "w_post": post[0]})
    est = run(make_plan(tmp_path, frame, {"wellbeing": {"baseline": "w_pre", "exit": "w_post"}})).estimates[0]
    res = st.paired_mean(post - pre)
    assert (est.ci_low, est.ci_high) == pytest.approx((float(res["ci_low"][0]), float(res["ci_high"][0])), rel=1e-12)


def test_binary_path_matches(tmp_path):
    rng = np.random.default_rng(8)
    pre, post = binary_data(rng, reps=1)
    frame = pd.DataFrame({"id": range(pre.shape[1]), "s_pre": pre[0].astype(int), "s_post": post[0].astype(int)})
    est = run(make_plan(tmp_path, frame, {"susp": {"baseline": "s_pre", "exit": "s_post"}})).estimates[0]
    p, q = pre[0], post[0]
    _d, lo, hi = st.newcombe_paired((p & q).sum(), (p & ~q).sum(), (~p & q).sum(), (~p & ~q).sum())
    assert (est.ci_low, est.ci_high) == pytest.approx((float(lo), float(hi)), rel=1e-12)
