"""Rosenbaum bounds for matched sets of one treated unit and k controls, against brute force.

The sensitivity model (Rosenbaum 2002, ch. 4): within a matched set, unit j is the treated one
with probability exp(γ u_j) / Σ_k exp(γ u_k), γ = log Γ, for an unknown u in [0, 1]^n. The
upper bound on the p-value is the largest P(T >= t) over u. Here that maximum is found by
enumerating every 0/1 vector u in every set and every treatment assignment, and compared with
evalkit's closed forms: exact for sign scores (binary outcomes), the separable choice of
Gastwirth, Krieger & Rosenbaum (2000) for aligned ranks.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalkit.errors import EstimationError
from evalkit.estimate import sensitivity as s


def _probs(u, gamma: float) -> np.ndarray:
    e = np.exp(math.log(gamma) * np.asarray(u, dtype=float))
    return e / e.sum()


def _brute_force(scores, where, gamma: float, interior_draws: int = 0, seed: int = 0) -> tuple[float, float, float]:
    """(max, min) of the exact P(T >= t) over every 0/1 vector u per set, and the max over random interior u."""
    t = sum(q[i] for q, i in zip(scores, where))
    assignments = np.array(list(itertools.product(*[range(len(q)) for q in scores])))
    totals = sum(np.asarray(q)[assignments[:, k]] for k, q in enumerate(scores))
    hit = totals >= t - 1e-9

    def p_value(per_set_probs) -> float:
        P = np.ones(len(assignments))
        for k, p in enumerate(per_set_probs):
            P = P * p[assignments[:, k]]
        return float(P[hit].sum())

    patterns = [[_probs(u, gamma) for u in itertools.product((0, 1), repeat=len(q))] for q in scores]
    values = [p_value(combo) for combo in itertools.product(*patterns)]
    rng = np.random.default_rng(seed)
    interior = [p_value([_probs(rng.uniform(0, 1, len(q)), gamma) for q in scores]) for _ in range(interior_draws)]
    return max(values), min(values), max(interior, default=0.0)


# ----------------------------------------------------------------------------- binary outcomes: sign scores

# five matched sets (1:2, 1:2, 1:3, 1:1, 1:2), the treated unit first in each; 1 = the event
BINARY = [np.array([1.0, 0, 0]), np.array([1.0, 1, 0]), np.array([0.0, 1, 0, 0]), np.array([1.0, 0]),
          np.array([1.0, 0, 1])]
WHERE = [0, 0, 0, 0, 0]


@pytest.mark.parametrize("gamma", [1.0, 1.5, 2.0, 4.0])
def test_sign_score_bound_is_the_brute_force_maximum(gamma):
    exact = s.rosenbaum_sets_p(BINARY, WHERE, gamma, binary=True)
    high, low, interior = _brute_force(BINARY, WHERE, gamma, interior_draws=300)
    assert exact["p_upper"] == pytest.approx(high, abs=1e-12)
    assert exact["p_lower"] == pytest.approx(low, abs=1e-12)
    assert interior <= high + 1e-12  # no u inside the cube does worse than the corner the bound uses
    assert exact["statistic"] == 4.0


def test_sign_score_at_gamma_one_is_the_permutation_test():
    # Γ = 1: each unit of a set equally likely to be the treated one, so the treated unit of a set with
    # m events among n units has the event with chance m/n: 1/3, 2/3, 1/4, 1/2, 2/3; observed T = 4
    p = [1 / 3, 2 / 3, 1 / 4, 1 / 2, 2 / 3]
    by_hand = sum(np.prod([pi if hit else 1 - pi for pi, hit in zip(p, combo)])
                  for combo in itertools.product((0, 1), repeat=5) if sum(combo) >= 4)
    assert s.rosenbaum_sets_p(BINARY, WHERE, 1.0, binary=True)["p_upper"] == pytest.approx(by_hand, abs=1e-14)


def test_binary_bounds_on_units_with_set_ids_and_direction():
    rng = np.random.default_rng(4)
    n_sets = 300
    # 1:2 sets; treated units have the event less often (0.12 vs 0.20)
    y = np.column_stack([rng.random(n_sets) < 0.12, rng.random((n_sets, 2)) < 0.20]).astype(float)
    outcome, treated = y.ravel(), np.tile([1, 0, 0], n_sets)
    sets = np.repeat(np.arange(n_sets), 3)
    lower = s.rosenbaum_bounds_sets(outcome, treated, sets, increase=False)
    assert lower["scores"] == "sign" and lower["sets"] == n_sets and lower["controls_per_set"] == {"2": n_sets}
    assert lower["p_value_gamma_1"] < 0.05 and lower["gamma_critical"] > 1
    # Γ* is where the upper bound crosses alpha
    at = s.rosenbaum_sets_p(s.set_scores([1 - y[i] for i in range(n_sets)], True), [0] * n_sets,
                            lower["gamma_critical"], True)
    assert at["p_upper"] == pytest.approx(0.05, abs=1e-6)
    # the upper p-value rises with Γ, the lower one falls
    ups = [r["p_upper"] for r in lower["table"]]
    lows = [r["p_lower"] for r in lower["table"]]
    assert ups == sorted(ups) and lows == sorted(lows, reverse=True)
    # testing the other direction: not significant, Γ* = 1
    assert s.rosenbaum_bounds_sets(outcome, treated, sets, increase=True)["gamma_critical"] == 1.0
    # rows in any order, set ids as strings: the same answer
    order = rng.permutation(len(outcome))
    again = s.rosenbaum_bounds_sets(outcome[order], treated[order], sets[order].astype(str), increase=False)
    assert again["gamma_critical"] == pytest.approx(lower["gamma_critical"], rel=1e-12)


# ----------------------------------------------------------------------------- other outcomes: aligned ranks


def _continuous(seed: int, sizes, shift: float = 0.8):
    rng = np.random.default_rng(seed)
    ys = [rng.normal(0, 1, n) for n in sizes]
    for y in ys:
        y[0] += shift
    return ys, [0] * len(sizes)


@pytest.mark.parametrize("gamma", [1.5, 2.0, 3.0])
def test_separable_choice_is_the_brute_force_maximum_over_corners(gamma):
    ys, where = _continuous(1, [3, 3, 2, 3, 3])
    scores = s.set_scores(ys, binary=False)
    # each set's expectation: the separable a-choice equals the best of all 2^n corners
    for q in scores:
        best = max(float(_probs(u, gamma) @ q) for u in itertools.product((0, 1), repeat=len(q)))
        assert s.separable_moments([q], gamma)[0] == pytest.approx(best, abs=1e-12)
    # and the exact tail under the sets' chosen corners is the brute-force largest tail
    high, _low, interior = _brute_force(scores, where, gamma, interior_draws=200)
    chosen = []
    for q in scores:
        n = len(q)
        a = max(range(1, n), key=lambda a: (round(_top_mean(q, a, gamma), 12), _top_var(q, a, gamma)))
        u = np.zeros(n)
        u[np.argsort(q)[n - a:]] = 1
        chosen.append(u)
    assert _exact_tail(scores, where, [_probs(u, gamma) for u in chosen]) == pytest.approx(high, abs=1e-12)
    assert interior <= high + 1e-12


def _top_mean(q, a, gamma):
    u = np.zeros(len(q))
    u[np.argsort(q)[len(q) - a:]] = 1
    return float(_probs(u, gamma) @ q)


def _top_var(q, a, gamma):
    u = np.zeros(len(q))
    u[np.argsort(q)[len(q) - a:]] = 1
    p = _probs(u, gamma)
    return float(p @ q ** 2 - (p @ q) ** 2)


def _exact_tail(scores, where, per_set_probs) -> float:
    """P(T >= t) by convolution over sets (aligned ranks are multiples of 1/2, so 2T is an integer)."""
    t = int(round(2 * sum(q[i] for q, i in zip(scores, where))))
    steps = [np.rint(2 * np.asarray(q)).astype(int) for q in scores]
    dist = np.zeros(sum(int(k.max()) for k in steps) + 1)
    dist[0], top = 1.0, 0
    for k, p in zip(steps, per_set_probs):
        new = np.zeros_like(dist)
        for kj, pj in zip(k, p):
            new[kj:kj + top + 1] += pj * dist[:top + 1]
        dist, top = new, top + int(k.max())
    return float(dist[t:].sum())


def test_normal_approximation_is_close_to_the_exact_bound_with_many_sets():
    ys, where = _continuous(2, [3] * 120 + [2] * 30, shift=0.3)
    scores = s.set_scores(ys, binary=False)
    for gamma in (1.0, 1.3, 1.6):
        approx = s.rosenbaum_sets_p(scores, where, gamma, binary=False)
        chosen = []
        for q in scores:
            n = len(q)
            a = max(range(1, n), key=lambda a: (round(_top_mean(q, a, gamma), 12), _top_var(q, a, gamma)))
            u = np.zeros(n)
            u[np.argsort(q)[n - a:]] = 1
            chosen.append(_probs(u, gamma))
        exact = _exact_tail(scores, where, chosen)
        assert approx["p_upper"] == pytest.approx(exact, abs=0.005), gamma


def test_pairs_through_the_matched_set_engine_give_the_signed_rank_bound():
    """With k = 1 and scores (0, rank |d|) the separable bound is the signed-rank bound of rosenbaum_p."""
    from scipy.stats import rankdata

    d = np.random.default_rng(3).normal(0.4, 1, 40)
    r = rankdata(np.abs(d))
    scores = [np.array([0.0, ri]) for ri in r]
    where = [1 if di > 0 else 0 for di in d]
    for gamma in (1.0, 1.5, 2.5):
        mean, var = s.separable_moments(scores, gamma)
        pair = s.rosenbaum_p(d, gamma)
        assert mean == pytest.approx(gamma / (1 + gamma) * r.sum(), rel=1e-12)
        assert s.rosenbaum_sets_p(scores, where, gamma, binary=False)["p_upper"] == pytest.approx(pair["p_upper"],
                                                                                              rel=1e-10)


def test_aligned_rank_bounds_from_units_and_decreasing_effects():
    ys, _ = _continuous(5, [3] * 80, shift=-0.6)  # treated lower
    outcome = np.concatenate(ys)
    treated = np.tile([1, 0, 0], 80)
    sets = np.repeat(np.arange(80), 3)
    out = s.rosenbaum_bounds_sets(outcome, treated, sets, increase=False)
    assert out["scores"] == "aligned_rank" and out["direction"] == "treated lower"
    assert out["p_value_gamma_1"] < 0.05 and out["gamma_critical"] > 1
    flipped = s.rosenbaum_bounds_sets(-outcome, treated, sets, increase=True)
    assert flipped["gamma_critical"] == pytest.approx(out["gamma_critical"], rel=1e-12)
    # a missing outcome drops that unit; a set left without its treated unit or any control drops out
    with_gap = outcome.copy()
    with_gap[0] = np.nan  # set 0's treated unit
    assert s.rosenbaum_bounds_sets(with_gap, treated, sets, increase=False)["sets"] == 79


def test_bad_matched_sets_are_refused():
    with pytest.raises(EstimationError, match="one treated unit per set"):
        s.rosenbaum_bounds_sets([1.0, 2, 3, 4, 5, 6], [1, 1, 0, 1, 0, 0], [1, 1, 1, 2, 2, 2])
    with pytest.raises(EstimationError, match="found 1 complete set"):
        s.rosenbaum_bounds_sets([1.0, 2, 3], [1, 0, 0], [1, 1, 1])
    with pytest.raises(EstimationError, match="one of each per unit"):
        s.rosenbaum_bounds_sets([1.0, 2, 3], [1, 0], [1, 1, 1])
