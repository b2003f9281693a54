"""Which objective a held-out regression comes from: paired changes, their z (scipy's paired t as the reference),
the blamed objective, the slice, and the monitor's alarm naming it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tether.policy.attribution import attribute_regression, blame, check_attribution, describe
from tether.policy.monitor import OverOptMonitor, SequentialAlarm


def _scores(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"quality": rng.uniform(0.4, 0.9, n), "safety": rng.uniform(0.8, 1.0, n)}


def test_a_safety_drop_is_blamed_on_safety_and_its_slice():
    rng = np.random.default_rng(0)
    n = 120
    best = _scores(rng, n)
    slices = ["risky" if i % 4 == 0 else "chat" for i in range(n)]
    now = {"quality": best["quality"] + rng.normal(0.005, 0.02, n),  # quality a little up
           "safety": best["safety"] - np.where(np.array(slices) == "risky", 0.6, 0.0) + rng.normal(0, 0.01, n)}
    att = attribute_regression(best, now, {"quality": 0.7, "safety": 0.3}, slices=slices)
    assert att["blamed"] == ["safety"]
    by = {r["objective"]: r for r in att["objectives"]}
    t = stats.ttest_rel(now["safety"], best["safety"]).statistic  # the paired t is the reference for z
    assert by["safety"]["z"] == pytest.approx(t)
    assert by["safety"]["change"] == pytest.approx(np.mean(now["safety"] - best["safety"]))
    assert by["safety"]["contribution"] == pytest.approx(0.3 * by["safety"]["change"])
    assert (att["slices"][0]["slice"], att["slices"][0]["objective"]) == ("risky", "safety")
    assert describe(att).startswith("degraded: safety") and "slice 'risky'" in describe(att)


def test_noise_alone_blames_nothing_and_order_follows_the_weighted_drop():
    rng = np.random.default_rng(1)
    best = _scores(rng, 80)
    same = {k: v + rng.normal(0, 0.01, 80) for k, v in best.items()}
    assert attribute_regression(best, same, {"quality": 1.0})["blamed"] == []
    both = {"quality": best["quality"] - 0.05, "safety": best["safety"] - 0.1}
    both = {k: v + rng.normal(0, 0.005, 80) for k, v in both.items()}
    # safety dropped more, but quality carries more weight: the larger weighted drop is named first
    assert attribute_regression(best, both, {"quality": 0.9, "safety": 0.1})["blamed"] == ["quality", "safety"]
    with pytest.raises(ValueError, match="slice labels"):
        attribute_regression(best, both, {"quality": 1.0}, slices=["a"])


def test_the_monitor_names_the_objective_in_its_alarm_and_summary():
    rng = np.random.default_rng(2)
    n = 60
    mon = OverOptMonitor(SequentialAlarm(level=0.05, horizon=10))
    base = _scores(rng, n)
    texts = ["an answer"] * n
    weights = {"quality": 0.7, "safety": 0.3}
    first = best = None
    for i in range(8):  # the proxy keeps rising; held-out safety falls from check 2 on
        now = {"quality": base["quality"] + rng.normal(0, 0.01, n),
               "safety": np.clip(base["safety"] - 0.15 * max(i - 1, 0) + rng.normal(0, 0.01, n), 0, 1)}
        held = 0.7 * now["quality"] + 0.3 * now["safety"]
        att = None if first is None else check_attribution(first, best, now, weights,
                                                           below_best=held.mean() <= mon.best["heldout"])
        first = first or now
        rec = mon.observe(i * 5, 0.3 * i, np.full(n, 0.1 * i) + rng.normal(0, 0.01, n), held, texts,
                          heldout_objectives=now, attribution=att)
        if rec["is_best"]:
            best = now
        if rec["alarm"]:
            break
    assert rec["alarm"] and rec["heldout/safety"] < mon.history[0]["heldout/safety"] - 0.1
    alarm = next(e for e in mon.events if e["event"] == "alarm")
    assert "degraded: safety" in alarm["why"]
    assert mon.summary()["attribution"]["since_best"]["blamed"][0] == "safety"


def test_a_drop_hidden_by_a_gain_in_the_weighted_score_is_named_since_the_start():
    """Quality up, safety down, the weighted held-out score at its best: nothing is below the best check, but the
    drop since the reference policy is still named (one scalar hiding a conflict between objectives)."""
    rng = np.random.default_rng(3)
    first = _scores(rng, 100)
    now = {"quality": first["quality"] + 0.05 + rng.normal(0, 0.01, 100),
           "safety": first["safety"] - 0.06 + rng.normal(0, 0.01, 100)}
    att = check_attribution(first, first, now, {"quality": 0.7, "safety": 0.3}, below_best=False)
    assert att["since_best"] is None and att["since_start"]["blamed"] == ["safety"]
    assert blame(att).startswith("degraded: safety") and blame(att).endswith("since the start")
