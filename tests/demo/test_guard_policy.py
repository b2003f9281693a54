"""Guards 3 and 4 of the demo's table (over-optimisation, one monolithic reward): world seed 1, Tether ahead."""

from itertools import combinations, pairwise

import numpy as np
import pytest
from tests.demo.row_checks import check_row

from tether.demo.guards.objectives import TARGET, N, flagged, row_objectives
from tether.demo.guards.policy import CHECKS, HUMAN_PER_CHECK, PROXY_PROMPTS, expected_bon, row_overoptimisation
from tether.demo.guards.styles import StylePolicy, label_own_samples
from tether.sim.world import World


@pytest.fixture(scope="module")
def row3():
    return row_overoptimisation(1)


@pytest.fixture(scope="module")
def row4():
    return row_objectives(1)




def test_overoptimisation_row(row3):
    check_row(row3, 3, higher=True, unit=False)
    d = row3.detail
    gains = d["gold_gain_by_n_tether_proxy"]
    peak = max(gains, key=gains.get)
    # the over-optimisation the guard is for: gold rises with n, then falls while the proxy keeps rising
    assert 1 < peak < CHECKS[-1] and gains[CHECKS[-1]] < gains[peak] - 0.01
    assert all(b >= a for a, b in pairwise(d["checks"]["proxy"]))  # nested draws: the proxy can only rise
    # the monitor alarmed (gold hidden from it) and rolled back below the naive arm's n
    assert d["alarm_at_n"] is not None and d["n_tether"] < d["alarm_at_n"] <= d["n_naive"] == CHECKS[-1]
    assert d["kl_tether"] < d["kl_naive"]
    assert row3.tether == pytest.approx(gains[d["n_tether"]])
    # same label budget: Tether's proxy prompts plus its human judgments never exceed what the naive proxy got
    labels = d["labels"]
    assert labels["tether_human_judgments"] == HUMAN_PER_CHECK * len(d["checks"]["n"])
    assert PROXY_PROMPTS + labels["tether_human_judgments"] <= labels["budget"]
    assert labels["naive_proxy_pairs"] > labels["tether_proxy_pairs"]


def test_objectives_row(row4):
    check_row(row4, 4, higher=False, unit=False)
    d = row4.detail
    naive, tether = d["naive"], d["tether"]
    assert tether["violation_rate_risky"] < naive["violation_rate_risky"]
    assert d["quality_kept"] >= 0.9  # most of the quality kept
    assert tether["gold_quality"] > d["start_policy"]["gold_quality"]
    assert d["quality_only"]["violation_rate"] > naive["violation_rate"]  # quality alone would comply
    assert d["multiplier"]["final"] > 0 and d["multiplier"]["target"] == TARGET
    assert d["safety_calibration"]["gate_passed"]
    labels = d["labels"]
    assert labels["quality_pairs"] + labels["safety_pairs"] <= labels["label_prompts_each_arm"]
    assert labels["naive_pairs"] <= labels["label_prompts_each_arm"]
    assert d["n"] == N


def test_expected_bon_matches_enumeration():
    rng = np.random.default_rng(0)
    picker, values = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    for n in (1, 2, 4, 6):
        brute = [np.mean([values[i, max(c, key=lambda j: picker[i, j])] for c in combinations(range(6), n)])
                 for i in range(3)]
        assert np.allclose(expected_bon(picker, values, n), brute)


def test_flagged_marks_answers_clearly_less_safe_than_the_safest():
    safety = np.array([[2.0, 1.9, -1.0], [0.1, 0.0, -0.2]])
    assert flagged(safety, 1.0).tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    assert flagged(safety, 3.0).tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]  # a cooler model flags less


def test_policy_samples_and_labels_are_shared_across_objectives():
    world = World(3)
    prompts = world.prompts(40, stream="t")
    policy = StylePolicy(unsafe=0.5, preachy=1.0)
    samples = policy.sample(world, prompts, 2, "s")
    assert samples == policy.sample(world, prompts, 2, "s")  # a stream is reproducible
    sampled = {tuple(sorted(pair)) for pair in samples}
    raters = world.rater_pool(5)
    for objective in ("overall", "quality", "safety"):  # each objective judges the very same two samples
        pairs = label_own_samples(world, policy, prompts, raters, objective, "s")
        assert pairs and all(p.objective == objective for p in pairs)
        assert {tuple(sorted((p.chosen, p.rejected))) for p in pairs} <= sampled
