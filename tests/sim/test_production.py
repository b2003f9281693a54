"""The production stream: v1 events, drifting domain mix, an unseen domain, users' signals."""

from __future__ import annotations

import collections
import random
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2_contingency, spearmanr

from tether.io.jsonl import write_jsonl
from tether.io.v1 import event_to_v1, read_events
from tether.records import Event, EventType
from tether.sim import ProductionConfig, World
from tether.sim.config import DOMAINS
from tether.sim.gold import components
from tether.sim.production import domain_mix

CFG = ProductionConfig(days=120, requests_per_day=25.0, users=50)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(World(seed=3).production_stream(CFG))


def test_domain_mix_drifts_and_an_unseen_domain_appears(events: list[Event]) -> None:
    gens = [e for e in events if e.type is EventType.GENERATION]
    cut_early = CFG.start + timedelta(days=CFG.days * 0.3)
    cut_late = CFG.start + timedelta(days=CFG.days * 0.7)
    early = collections.Counter(e.attributes["sim.domain"] for e in gens if e.timestamp < cut_early)
    late = collections.Counter(e.attributes["sim.domain"] for e in gens if e.timestamp >= cut_late)
    table = np.array([[early[d] for d in DOMAINS], [late[d] for d in DOMAINS]])
    table = table[:, table.sum(axis=0) > 0]
    assert chi2_contingency(table).pvalue < 1e-6
    assert early["travel"] == 0 and late["travel"] > 0.1 * sum(late.values())
    first_travel = min(e.timestamp for e in gens if e.attributes["sim.domain"] == "travel")
    assert first_travel >= CFG.start + timedelta(days=CFG.days * CFG.new_domain_after["travel"])
    assert early["coding"] / sum(early.values()) > late["coding"] / sum(late.values())


def test_domain_mix_formula() -> None:
    assert domain_mix(CFG, 0.0)["travel"] == 0.0
    end = domain_mix(CFG, 1.0)
    total = sum(CFG.mix_end.values())
    assert all(abs(end[d] - CFG.mix_end[d] / total) < 1e-12 for d in CFG.mix_end)


def test_events_are_valid_v1_and_round_trip(events: list[Event], tmp_path: Path) -> None:
    assert {e.type for e in events} == set(EventType)
    path = tmp_path / "events.jsonl"
    write_jsonl(path, (event_to_v1(e) for e in events))
    back = [item[1] for item in read_events(path)]
    assert [e.event_id for e in back] == [e.event_id for e in events]
    assert len({e.event_id for e in events}) == len(events)
    traces = {e.trace_id for e in events if e.type is EventType.GENERATION}
    assert all(e.trace_id in traces for e in events)
    gens = [e for e in events if e.type is EventType.GENERATION]
    assert gens == sorted(gens, key=lambda e: e.timestamp)


def test_feedback_and_outcomes_follow_gold_quality(events: list[Event]) -> None:
    w = World(seed=3)
    gen = {e.trace_id: e for e in events if e.type is EventType.GENERATION}
    thumbs = [(w.gold_reward(gen[e.trace_id].prompt, gen[e.trace_id].response)["quality"], e.value)
              for e in events if e.name == "thumbs"]
    assert spearmanr(*zip(*thumbs, strict=True)).statistic > 0.3
    passed = [e for e in events if e.name == "tests_passed"]
    assert passed
    for e in passed:  # code outcomes are exact: the snippet's printed value is right or it is not
        g = gen[e.trace_id]
        assert e.value == (1 if components(g.prompt, g.response).correct == 1.0 else 0)
    corrections = [e for e in events if e.type is EventType.CORRECTION]
    assert corrections
    for e in corrections:
        g = gen[e.trace_id]
        assert e.corrected_response == w.reference(g.prompt)
        assert w.gold_reward(g.prompt, e.corrected_response)["quality"] > w.gold_reward(g.prompt, g.response)["quality"]


def test_users_preferences_drift_slowly() -> None:
    cfg = ProductionConfig(days=365, users=300, verbosity_pref_drift_per_30d=-0.05,
                           verbosity_pref_walk_sd_per_30d=0.01)
    users = World(seed=1).users(cfg)
    rng = random.Random(0)
    start = [u.verbosity_pref for u in users]
    month = [u.preference_at(cfg.start + timedelta(days=30), cfg, rng) for u in users]
    year = [u.preference_at(cfg.start + timedelta(days=360), cfg, rng) for u in users]
    assert abs(np.mean(month) - np.mean(start) - (-0.05)) < 0.01  # one month: the configured trend
    assert abs(np.mean(year) - np.mean(start) - (-0.6)) < 0.02  # a year: twelve of them
    assert np.corrcoef(start, month)[0, 1] > 0.8  # slow: a user a month later is still recognizably themselves
