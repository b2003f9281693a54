"""Feedback: corrections/regenerations -> weighted pairs; rates by model and day (Wilson CI vs statsmodels)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from statsmodels.stats.proportion import proportion_confint

from tether.deploy.feedback import (
    CORRECTION_WEIGHT,
    REGENERATION_WEIGHT,
    corrections_to_pairs,
    feedback_rates,
    wilson_interval,
)
from tether.records import Event
from tether.sim import World
from tether.sim.gold import gold_reward

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ev(i: int, type_: str, trace: str, dt: int = 0, **kw) -> Event:
    return Event(event_id=f"{trace}-{i}", type=type_, trace_id=trace, timestamp=T0 + timedelta(seconds=dt), **kw)


@pytest.fixture(scope="module")
def traffic() -> list[Event]:
    return list(World(3).production_stream())


def test_sim_corrections_become_pairs_the_gold_truth_agrees_with(traffic: list[Event]) -> None:
    pairs = [p for p in corrections_to_pairs(traffic) if p.provenance["source"] == "correction"]
    n_fix = sum(e.type.value == "correction" for e in traffic)
    assert len(pairs) == n_fix > 50
    better = sum(gold_reward(p.prompt, p.chosen)["overall"] > gold_reward(p.prompt, p.rejected)["overall"]
                 for p in pairs)
    assert better / len(pairs) >= 0.95  # a user's correction fixes the wrong fact
    assert {p.weight for p in pairs} <= {CORRECTION_WEIGHT, CORRECTION_WEIGHT / 2}


def test_weights_regenerations_and_cosmetic_edits() -> None:
    events = [
        ev(1, "generation", "a", 0, model="m", prompt="2+2?", response="It is 5."),
        ev(2, "correction", "a", 10, corrected_response="It is 4."),
        ev(1, "generation", "b", 0, model="m", prompt="hi", response="Hello there"),
        ev(2, "correction", "b", 10, corrected_response="hello there!"),  # cosmetic
        ev(3, "correction", "b", 20, corrected_response="Hello there"),  # no edit: no pair
        ev(1, "generation", "c", 0, model="m", prompt="poem", response="roses"),
        ev(2, "generation", "c", 5, model="m", prompt="poem", response="violets"),  # a regeneration
        ev(1, "generation", "d", 0, model="m", prompt="joke", response="knock"),
        ev(2, "generation", "d", 5, model="m", prompt="joke", response="pun"),
        ev(3, "feedback", "d", 9, name="thumbs", value=-1),  # the regenerated answer was disliked too
    ]
    pairs = {(p.provenance["trace_id"], p.chosen): p for p in corrections_to_pairs(events)}
    assert set(pairs) == {("a", "It is 4."), ("b", "hello there!"), ("c", "violets")}
    assert pairs[("a", "It is 4.")].weight == CORRECTION_WEIGHT and pairs[("a", "It is 4.")].rejected == "It is 5."
    assert pairs[("b", "hello there!")].weight == CORRECTION_WEIGHT / 2
    assert pairs[("c", "violets")].weight == REGENERATION_WEIGHT and pairs[("c", "violets")].rejected == "roses"


def test_rates_by_model_and_day_match_a_direct_count(traffic: list[Event]) -> None:
    gen = {e.trace_id: e for e in traffic if e.type.value == "generation"}
    ups, downs = Counter(), Counter()
    for e in traffic:
        if e.type.value == "feedback" and e.name == "thumbs":
            day = gen[e.trace_id].timestamp.date().isoformat()
            (ups if e.value > 0 else downs)[day] += 1
    by_day = {r.key: r for r in feedback_rates(traffic, by="day")}
    assert sum(r.generations for r in by_day.values()) == len(gen)
    for day, r in by_day.items():
        assert (r.thumbs_up, r.thumbs_down) == (ups[day], downs[day])
    (only,) = feedback_rates(traffic, by="model")
    assert only.key == "sim-policy-v1" and only.thumbs_up == sum(ups.values())
    lo, hi = only.up_rate_ci
    ref = proportion_confint(only.thumbs_up, only.thumbs_up + only.thumbs_down, alpha=0.05, method="wilson")
    assert lo == pytest.approx(ref[0], abs=1e-9) and hi == pytest.approx(ref[1], abs=1e-9)
    with pytest.raises(ValueError, match="by must be"):
        feedback_rates(traffic, by="week")


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 7), (500, 1000)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    assert wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"), abs=1e-9)
