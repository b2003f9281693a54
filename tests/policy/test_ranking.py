"""Best-versus-worst pairs from k responses per prompt: the Bradley-Terry fit and the pairs built from it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from tether.policy.ranking import best_worst_pairs, bradley_terry, rank_responses
from tether.records import PreferencePair


def _scipy_bt(n: int, edges: list, prior: float) -> np.ndarray:
    """The same penalized log-likelihood maximized by a general-purpose optimizer (the reference)."""

    def nll(s: np.ndarray) -> float:
        total = 0.5 * prior * float(s @ s)
        for i, j, p, w in edges:
            d = s[i] - s[j]
            total -= w * (p * -np.logaddexp(0, -d) + (1 - p) * -np.logaddexp(0, d))
        return total

    s = minimize(nll, np.zeros(n), method="BFGS", options={"gtol": 1e-10}).x
    return s - s.mean()


def test_bradley_terry_matches_a_general_optimizer() -> None:
    rng = np.random.default_rng(0)
    edges = [(i, j, float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.1, 2.0)))
             for i, j in itertools.combinations(range(5), 2)]
    edges += [(4, 0, 0.9, 1.0), (3, 1, 0.5, 0.7)]
    ours = bradley_terry(5, edges, prior=0.1)
    np.testing.assert_allclose(ours, _scipy_bt(5, edges, 0.1), atol=1e-5)


def test_bradley_terry_rejects_bad_edges() -> None:
    with pytest.raises(ValueError, match="two different items"):
        bradley_terry(3, [(0, 0, 1.0, 1.0)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bradley_terry(3, [(0, 1, 1.5, 1.0)])


def _pair(prompt: str, chosen: str, rejected: str, **kw: object) -> PreferencePair:
    return PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, provenance={"task_type": "t"}, **kw)


def test_rankings_recover_the_order_and_best_worst_spans_it() -> None:
    order = ["best", "good", "fair", "worst"]  # every pair judged by that order
    pairs = [_pair("q", a, b, p_chosen=0.9) for a, b in itertools.combinations(order, 2)]
    pairs.append(_pair("q", "fair", "good", p_chosen=0.6, weight=0.1))  # a weak contrary judgment
    (ranking,) = rank_responses(pairs)
    assert ranking.responses == tuple(order)
    assert ranking.judgments == 7
    (bw,) = best_worst_pairs(pairs)
    assert (bw.chosen, bw.rejected) == ("best", "worst")
    gap = ranking.strengths[0] - ranking.strengths[-1]
    assert bw.p_chosen == pytest.approx(1 / (1 + math.exp(-gap)))
    assert bw.provenance["pairing"] == "best-worst" and bw.provenance["task_type"] == "t"


def test_ties_and_zero_weights_give_no_pair() -> None:
    pairs = [_pair("q", "a", "b", tie=True), _pair("q", "b", "c", tie=True),
             _pair("r", "x", "y", weight=0.0), _pair("s", "u", "v")]
    kept = best_worst_pairs(pairs, min_gap=0.01)
    assert [(p.prompt, p.chosen, p.rejected) for p in kept] == [("s", "u", "v")]
    with pytest.raises(ValueError, match="min_gap"):
        best_worst_pairs(pairs, min_gap=-1)


def test_objectives_are_ranked_apart() -> None:
    pairs = [_pair("q", "a", "b", objective="safety"), _pair("q", "b", "a", objective="quality")]
    got = {p.objective: (p.chosen, p.rejected) for p in best_worst_pairs(pairs)}
    assert got == {"safety": ("a", "b"), "quality": ("b", "a")}
