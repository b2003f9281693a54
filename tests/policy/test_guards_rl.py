"""The over-optimisation monitor inside `tether.policy.rl`: a tiny run with a scripted held-out evaluator that rises
then falls is stopped at the alarm and rolled back to the best check's weights exactly; the monitor's fields reach
metrics.jsonl, tether_rl.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tether.policy.evaluators import FunctionEvaluator  # noqa: E402
from tether.policy.rl_config import RLConfig  # noqa: E402

PROMPTS = [f"What is {i} plus {i}?" for i in range(16)]
HELDOUT = [f"What is {i} plus {i + 1}?" for i in range(8)]


def rising_proxy() -> FunctionEvaluator:
    """Digits share, plus on the held-out prompts a term that grows with every check: the proxy rises at every
    check, and training sees the plain digits share (so a run's updates do not depend on how often it checks)."""
    calls = [0]

    def fn(prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        held = prompts[0] in HELDOUT
        calls[0] += held
        return {"digits": [sum(c.isdigit() for c in r) / max(1, len(r)) + calls[0] * held
                           for r in responses]}

    return FunctionEvaluator(fn, ["digits"], name="proxy")


def rise_then_fall(peak: int, delta: float = 0.1) -> FunctionEvaluator:
    """A scripted held-out evaluator: its mean rises for `peak` checks, then falls (small seeded noise)."""
    calls = [0]

    def fn(prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        c = calls[0]
        calls[0] += 1
        noise = np.random.default_rng(c).normal(0, 0.01, len(responses))
        return {"quality": delta * min(c, 2 * peak - c) + noise}

    return FunctionEvaluator(fn, ["quality"], name="scripted")


@pytest.fixture(scope="module")
def lm(digits_lm: Path) -> Path:
    return digits_lm


def _cfg(**kw: object) -> RLConfig:
    base = {"objectives": ["digits"], "steps": 10, "max_new_tokens": 8, "lr": 3e-2, "sample_every": 0,
            "kl_coef": 0.01, "monitor_every": 1, "alarm_horizon": 20}
    return RLConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_the_monitor_stops_at_the_alarm_and_rolls_back_exactly(lm: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from tether.policy.rl import train_rl

    res = train_rl(lm, PROMPTS, rising_proxy(), tmp_path / "guarded", _cfg(), progress=False,
                   heldout=rise_then_fall(peak=2), heldout_prompts=HELDOUT)
    assert res.steps == 3 and res.stopped and "alarm" in res.stopped and "rolled back to step 2" in res.stopped
    rows = [json.loads(x) for x in (tmp_path / "guarded" / "metrics.jsonl").read_text().splitlines()]
    checks = [r for r in rows if "monitor/heldout" in r]
    assert [r["step"] for r in checks] == [0, 1, 2, 3]
    assert [r["monitor/alarm"] for r in checks] == [0.0, 0.0, 0.0, 1.0]
    assert checks[2]["monitor/is_best"] == 1.0 and checks[3]["monitor/best_step"] == 2
    assert checks[1]["monitor/sqrt_kl"] > 0 and "monitor/sig/length" in checks[0]
    assert all("sig/length" in r for r in rows if r["step"] > 0)
    meta = json.loads((tmp_path / "guarded" / "tether_rl.json").read_text())
    assert [e["event"] for e in meta["monitor"]["events"]][-2:] == ["alarm", "rollback"]
    report = (tmp_path / "guarded" / "report.html").read_text()
    assert "Over-optimisation monitor" in report and "rollback" in report
    # the saved policy is the step-2 policy: the weights a plain run (same schedule) checkpoints at step 2
    from safetensors.torch import load_file

    from tether.policy.rl import rl_iter

    it = rl_iter(lm, PROMPTS, rising_proxy(), tmp_path / "plain", _cfg(monitor_every=0, save_every=2),
                 progress=False, save=False)
    for _ in range(4):  # set-up, steps 1 and 2, then step 3 (the step-2 checkpoint is written before it)
        next(it)
    it.close()
    (ckpt,) = (tmp_path / "plain" / "checkpoints").glob("step-2/**/model.safetensors")
    b = {k.removeprefix("policy."): v for k, v in load_file(ckpt).items()}
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "guarded").state_dict()
    assert set(b) <= set(a) and all(torch.equal(a[k], b[k]) for k in b)


def test_no_rollback_keeps_the_last_weights_and_raise_kl_is_recorded(lm: Path, tmp_path: Path) -> None:
    from tether.policy.rl import train_rl

    res = train_rl(lm, PROMPTS, rising_proxy(), tmp_path / "run", _cfg(rollback=False, steps=12), progress=False,
                   heldout=rise_then_fall(peak=2, delta=0.004), heldout_prompts=HELDOUT)
    assert res.stopped and "alarm" in res.stopped and "rolled back" not in res.stopped
    events = res.monitor["events"]
    events = [e for e in events if e["event"] != "signatures"]  # a random model's texts drift too
    assert [e["event"] for e in events] == ["kl_raised", "alarm"]
    assert "0.01 -> 0.02" in events[0]["why"] and "gap opened" in events[0]["why"]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    raised = next(r["step"] for r in rows if r.get("monitor/raise_kl"))
    assert all(r["kl_coef"] == pytest.approx(0.02) for r in rows if r["step"] > raised)


def test_without_stop_on_alarm_the_run_goes_on_and_a_raise_of_1_leaves_the_kl_alone(lm: Path,
                                                                                     tmp_path: Path) -> None:
    from tether.policy.rl import train_rl

    res = train_rl(lm, PROMPTS, rising_proxy(), tmp_path / "run", _cfg(stop_on_alarm=False, kl_raise=1.0, kl_coef=0.0,
                                                                        steps=6), progress=False,
                   heldout=rise_then_fall(peak=2, delta=0.004), heldout_prompts=HELDOUT)
    assert res.steps == 6 and res.stopped is None
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    checks = [r for r in rows if "monitor/heldout" in r]
    assert [r["step"] for r in checks] == list(range(7)) and checks[-1]["monitor/alarm"] == 1.0
    assert any(r["monitor/raise_kl"] for r in checks)  # the gap opened, and nothing was raised
    assert all(r["kl_coef"] == 0.0 for r in rows if "kl_coef" in r)
    assert "kl_raised" not in [e["event"] for e in res.monitor["events"]]


def test_a_monitor_without_heldout_fails_before_any_work(lm: Path, tmp_path: Path) -> None:
    from tether.policy.rl import train_rl

    with pytest.raises(ValueError, match="held-out evaluator and held-out prompts"):
        train_rl(lm, PROMPTS, rising_proxy(), tmp_path / "x", _cfg(), progress=False)
    two = FunctionEvaluator(lambda p, r: {"a": [0.0] * len(r), "b": [0.0] * len(r)}, ["a", "b"], name="two")
    with pytest.raises(ValueError, match="more than one"):
        train_rl(lm, PROMPTS, rising_proxy(), tmp_path / "x", _cfg(), progress=False, heldout=two,
                 heldout_prompts=HELDOUT)
