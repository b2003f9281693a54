"""Preferences that drift (tether.sim.drift): the gold of each month, raters judging by it, users carrying it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tether.sim import CampaignConfig, GoldConfig, Style, World, gold_reward
from tether.sim.drift import PreferenceDrift
from tether.sim.gold import gold_label


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11)


def test_the_gold_moves_linearly_from_start_to_end_and_stays() -> None:
    drift = PreferenceDrift()
    assert drift.gold_at(0) == drift.start
    assert drift.gold_at(drift.months) == drift.end == GoldConfig()  # the world's own gold is month 6
    assert drift.gold_at(2 * drift.months) == drift.end
    half = drift.gold_at(drift.months / 2)
    assert half.length_liking == pytest.approx((drift.start.length_liking + drift.end.length_liking) / 2)
    assert half.hedge_penalty == pytest.approx((drift.start.hedge_penalty + drift.end.hedge_penalty) / 2)
    with pytest.raises(ValueError, match="month"):
        drift.gold_at(-1)


def test_length_liking_off_by_default_changes_nothing(world: World) -> None:
    p = world.prompts(1, tasks=["capital"])[0]
    verbose = world.respond(p, Style(verbose=True))
    base = gold_reward(p.text, verbose)
    liked = gold_reward(p.text, verbose, GoldConfig(length_liking=0.8))
    words = len(verbose.split())
    assert GoldConfig().length_liking == 0.0
    assert liked["quality"] == pytest.approx(base["quality"] + 0.8 * min(words, 150) / 100, abs=0.02)


def test_padded_answers_win_at_launch_and_lose_six_months_on_and_hedges_cost_more(world: World) -> None:
    drift = PreferenceDrift()
    for task in ("capital", "interest", "code_output"):
        for p in world.prompts(5, tasks=[task]):
            concise = world.respond(p)
            padded = world.respond(p, Style(verbose=True), seed=1)
            assert gold_label(p.text, padded, concise, config=drift.gold_at(0)) == "a", task
            assert gold_label(p.text, padded, concise, config=drift.gold_at(6)) == "b", task
            hedged = world.respond(p, Style(hedging=True), seed=1)
            gap = [gold_reward(p.text, hedged, drift.gold_at(m))["overall"]
                   - gold_reward(p.text, concise, drift.gold_at(m))["overall"] for m in (0, 3, 6)]
            assert gap[0] > gap[1] > gap[2] and gap[2] < 0, (task, gap)


def test_raters_judge_by_the_preferences_of_their_month(world: World) -> None:
    """Raters of month 0 pick the padded answer of a verbosity pair most of the time; those of month 6 the concise."""
    drift = PreferenceDrift()
    cands = [c for c in world.candidate_pairs(300, tasks=["capital", "interest", "code_output"])
             if c.contrasts == ("verbosity",)]
    assert len(cands) >= 20
    shares = []
    for month in (0, 6):
        run = drift.campaign(world, month, cands, world.rater_pool(size=12))
        verbose = {c.pair_id: "a" if c.style_a.verbose else "b" for c in cands}
        picked = [c.choice.value == verbose[c.pair_id] for c in run.comparisons if c.choice.value in ("a", "b")]
        shares.append(sum(picked) / len(picked))
        assert min(c.created_at for c in run.comparisons) >= CampaignConfig().start + timedelta(days=30 * month)
    assert shares[0] > 0.7 and shares[1] < 0.3, shares


def test_gold_pairs_of_a_month_flip_the_padded_pairs(world: World) -> None:
    drift = PreferenceDrift()
    cands = [c for c in world.candidate_pairs(200) if c.contrasts == ("verbosity",)]
    at0 = {p.prompt: p.chosen for p in drift.gold_pairs(world, cands, 0)}
    at6 = {p.prompt: p.chosen for p in drift.gold_pairs(world, cands, 6)}
    shared = set(at0) & set(at6)
    assert len(shared) >= 10
    assert sum(at0[k] != at6[k] for k in shared) / len(shared) > 0.8


def test_users_carry_the_length_liking_and_feedback_gold_leaves_it_to_them(world: World) -> None:
    drift = PreferenceDrift()
    users = drift.users(world.config.production)
    assert users.verbosity_pref_start == drift.start.length_liking
    assert users.verbosity_pref_drift_per_30d * drift.months == pytest.approx(
        drift.end.length_liking - drift.start.length_liking)
    assert drift.feedback_gold(3).length_liking == 0.0
    assert drift.feedback_gold(3).hedge_penalty == drift.gold_at(3).hedge_penalty


def test_start_and_end_must_share_the_label_scale() -> None:
    with pytest.raises(ValueError, match="temperature"):
        PreferenceDrift(end=GoldConfig(temperature=0.1))


def test_a_drift_of_some_strength_goes_that_share_of_the_way_in_the_same_direction() -> None:
    full, half, none = PreferenceDrift(), PreferenceDrift.of_strength(0.5), PreferenceDrift.of_strength(0.0)
    assert PreferenceDrift.of_strength(1.0).start.length_liking == pytest.approx(full.start.length_liking)
    for key in ("length_liking", "hedge_penalty"):
        a, b, end = getattr(full.start, key), getattr(half.start, key), getattr(full.end, key)
        assert b - end == pytest.approx(0.5 * (a - end)) and getattr(half.end, key) == end
        assert getattr(none.start, key) == pytest.approx(end)
    with pytest.raises(ValueError, match="strength"):
        PreferenceDrift.of_strength(1.5)
