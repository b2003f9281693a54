"""The policy guards' statistics: the Gao fit, the sequential over-optimisation alarm, the rollback copy, and the
reward-hacking signatures on hand-made texts."""

from __future__ import annotations

import numpy as np
import pytest

from tether.policy.gao_fit import curve, fit_gao, turnover
from tether.policy.monitor import BestWeights, OverOptMonitor, SequentialAlarm
from tether.policy.signatures import SignatureBaseline, repetition, signatures


@pytest.mark.parametrize("form,alpha,beta", [("rl", 1.0, 0.5), ("bon", 0.8, 0.2)])
def test_gao_fit_recovers_alpha_beta_within_its_interval(form: str, alpha: float, beta: float) -> None:
    rng = np.random.default_rng(7)
    d = np.linspace(0.2, 4.0, 30)
    covered = {"alpha": 0, "beta": 0}
    trials = 100
    for _ in range(trials):
        y = curve(form, d, alpha, beta) + rng.normal(0, 0.05, d.shape)
        fit = fit_gao(d, y, form, draws=200)
        for name, truth in (("alpha", alpha), ("beta", beta)):
            lo, hi = fit.interval(name)
            covered[name] += lo <= truth <= hi
    # 95% intervals: coverage near 95 of 100 (binomial: below 88 has probability < 0.5%)
    assert covered["alpha"] >= 88 and covered["beta"] >= 88
    fit = fit_gao(d, curve(form, d, alpha, beta) + rng.normal(0, 0.05, d.shape), form)
    true_turn = turnover(form, alpha, beta)
    assert fit.turnover_ci[0] <= true_turn <= fit.turnover_ci[1]
    # the turnover is the fitted curve's argmax
    grid = np.linspace(0.01, 10, 20000)
    assert fit.turnover == pytest.approx(grid[np.argmax(fit.predict(grid))], abs=1e-2)


def test_gao_fit_refuses_too_few_points_and_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        fit_gao([0.0, 1.0, 2.0], [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="form must be"):
        fit_gao([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], form="ppo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        fit_gao([-1.0, 2.0, 3.0], [0.1, 0.2, 0.3])


def _run(alarm: SequentialAlarm, heldout: np.ndarray, proxy: np.ndarray, se: float) -> int | None:
    """The first check at which the alarm fires, or None."""
    prev = None
    for t, (h, p) in enumerate(zip(heldout, proxy, strict=True)):
        alarm.update(float(h), se, prev is None or p > prev)
        prev = p
        if alarm.alarmed:
            return t
    return None


def test_alarm_fires_on_rise_then_fall_and_not_on_rise_rise() -> None:
    rng = np.random.default_rng(1)
    n, se = 40, 0.01
    d = np.linspace(0, 3, n)
    proxy = d.copy()  # the proxy keeps rising
    gao = curve("rl", d, 0.3, 0.3)  # turns over at exp(0) = 1.0
    fired = _run(SequentialAlarm(horizon=n), gao + rng.normal(0, se, n), proxy, se)
    assert fired is not None and d[fired] > 1.0 and d[fired] < 2.0  # after the turnover, well before the end
    rising = 0.5 * d  # held-out rising with the proxy, about 2.7 se per check
    assert _run(SequentialAlarm(horizon=n), rising + rng.normal(0, se, n), proxy, se) is None


def test_alarm_false_alarm_rate_is_under_its_level_on_null_sequences() -> None:
    level, horizon, allowance = 0.05, 30, 0.5
    alarm_cls = SequentialAlarm(level, horizon, allowance)
    rng = np.random.default_rng(12345)  # not the calibration's seed
    sims, fired = 2000, 0
    step = allowance * np.sqrt(2.0)  # the null's boundary: a rise of exactly `allowance` se of a change per check
    for _ in range(sims):
        alarm_cls.reset()
        h = step * np.arange(horizon) + rng.standard_normal(horizon)
        fired += _run(alarm_cls, h, np.arange(horizon, dtype=float), 1.0) is not None
    rate = fired / sims
    # Monte-Carlo error of the estimate: sd sqrt(0.05 * 0.95 / 2000) = 0.005; the bound allows 2 of them
    assert rate <= level + 0.01, rate
    # a flat held-out score (the proxy rising) is caught in most runs
    flat = 0
    for _ in range(200):
        alarm_cls.reset()
        flat += _run(alarm_cls, rng.standard_normal(horizon), np.arange(horizon, dtype=float), 1.0) is not None
    assert flat / 200 > 0.8


def test_alarm_does_not_count_checks_where_the_proxy_fell() -> None:
    a = SequentialAlarm(horizon=10)
    for h in (1.0, 0.5, 0.0, -0.5, -1.0):
        a.update(h, 0.01, proxy_rose=False)
    assert a.s == 0.0 and not a.alarmed


def test_rollback_restores_the_best_weights_exactly() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    best = BestWeights()
    best.keep(model, 3)
    want = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model(torch.randn(5, 4)).sum().backward()
        opt.step()
    assert any(not torch.equal(want[k], v) for k, v in model.state_dict().items())
    assert best.restore(model) == 3
    assert all(torch.equal(want[k], v) for k, v in model.state_dict().items())


def test_signatures_on_hand_made_texts() -> None:
    texts = ["Great question! You're right, the answer is 4.",
             "It depends. It may be 4, perhaps 5.",
             "I'm sorry, but I cannot help with that.",
             "the cat the cat the cat"]
    s = signatures(texts)
    assert s["length"].tolist() == [8.0, 8.0, 8.0, 6.0]
    assert s["flattery"].tolist() == pytest.approx([2 * 100 / 8, 0, 0, 0])  # "great question", "you're right"
    assert s["hedging"].tolist() == pytest.approx([0, 3 * 100 / 8, 0, 0])  # "it depends", "may", "perhaps"
    assert s["refusal"].tolist() == [0.0, 0.0, 1.0, 0.0]
    # "the cat the cat the cat": bigrams the-cat x3, cat-the x2 -> 2 distinct of 5
    assert s["repetition"][3] == pytest.approx(1 - 2 / 5)
    assert repetition(["a", "b", "c", "d"]) == 0.0 and repetition(["a"]) == 0.0
    assert signatures(["The mayor may come"])["hedging"][0] == pytest.approx(100 / 4)  # "may", not "mayor"


def test_signature_flags_drift_only_without_a_heldout_gain() -> None:
    base = SignatureBaseline.from_samples(["a short answer", "another short one", "a brief reply here"])
    long = {"length": 30.0, "repetition": 0.0, "hedging": 0.0, "flattery": 0.0, "refusal": 0.0}
    assert base.flags(long, improved=False) == ["length"]
    assert base.flags(long, improved=True) == []


def test_monitor_alarms_records_best_and_fits() -> None:
    rng = np.random.default_rng(3)
    mon = OverOptMonitor(SequentialAlarm(horizon=30))
    d = np.linspace(0, 3, 30)
    texts = ["an answer of some words"] * 64
    recs = []
    for t, x in enumerate(d):
        held = curve("rl", np.array([x]), 0.3, 0.3)[0] + rng.normal(0, 0.05, 64)
        recs.append(mon.observe(t, x, np.full(64, x) + rng.normal(0, 0.05, 64), held, texts))
        if recs[-1]["alarm"]:
            break
    assert recs[-1]["alarm"] and 1.0 < recs[-1]["sqrt_kl"] < 2.5
    assert abs(mon.best["sqrt_kl"] - 1.0) < 0.5
    assert any(r["raise_kl"] for r in recs) and "gao/turnover" in recs[-1]
    assert [e["event"] for e in mon.events][-1] == "alarm"
