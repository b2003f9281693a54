"""The guard as a TRL callback: a tiny GRPOTrainer run is stopped at the alarm of a scripted held-out evaluator and
its model rolled back to the best check's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from tether.policy.evaluators import FunctionEvaluator  # noqa: E402

PROMPTS = [f"What is {i} plus {i}?" for i in range(16)]
HELDOUT = [f"What is {i} plus {i + 1}?" for i in range(8)]


def digits(prompts: list[str], responses: list[str]) -> list[float]:
    return [sum(c.isdigit() for c in r) / max(1, len(r)) for r in responses]


def proxy() -> FunctionEvaluator:
    """The training reward's evaluator, plus a term rising by 1 with every check, so the proxy rises at each."""
    calls = [0]

    def fn(prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        calls[0] += 1
        return {"digits": [d + calls[0] for d in digits(prompts, responses)]}

    return FunctionEvaluator(fn, ["digits"], name="proxy")


def rise_then_fall(peak: int) -> FunctionEvaluator:
    calls = [0]

    def fn(prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        c = calls[0]
        calls[0] += 1
        return {"quality": 0.1 * min(c, 2 * peak - c) + np.random.default_rng(c).normal(0, 0.01, len(responses))}

    return FunctionEvaluator(fn, ["quality"], name="scripted")


@pytest.fixture
def fresh_accelerate():  # noqa: ANN201
    """TRL's `use_cpu` sets accelerate's process-wide state; reset it after, so later tests start clean."""
    from accelerate.state import AcceleratorState

    yield
    AcceleratorState._reset_state(True)


def test_the_callback_stops_a_trl_grpo_run_at_the_alarm_and_rolls_back(digits_lm: Path, tmp_path: Path,
                                                                       fresh_accelerate: None) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from tether.policy.rl_guard import Guard
    from tether.policy.trl_callback import GuardCallback

    tok = AutoTokenizer.from_pretrained(digits_lm)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(digits_lm)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, max_steps=10, learning_rate=3e-2, logging_steps=1, report_to=[],
                      save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0)

    def reward(prompts: list[str], completions: list[str], **kw: object) -> list[float]:
        return digits(prompts, completions)

    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in PROMPTS]), processing_class=tok)
    trainer.remove_callback(PrinterCallback)
    guard = Guard.build(HELDOUT, proxy(), {"digits": 1.0}, rise_then_fall(peak=2), every=1, max_new_tokens=8,
                        horizon=20)
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    callback = GuardCallback(guard, tok, trainer=trainer)
    trainer.add_callback(callback)

    class Snapshot(GuardCallback.__mro__[1]):  # a plain TrainerCallback: the weights after each step
        def on_step_end(self, args, state, control, model=None, **kw):  # noqa: ANN001, ANN003, ANN201
            snapshots[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    trainer.callback_handler.callbacks.insert(0, Snapshot())  # before the guard, so it sees the pre-rollback step
    trainer.train()
    assert trainer.state.global_step == 3, callback.stopped
    assert callback.stopped and "alarm at step 3" in callback.stopped and "rolled back to step 2" in callback.stopped
    assert [r["alarm"] for r in callback.records] == [False, False, False, True]
    now = trainer.model.state_dict()
    assert all(torch.equal(now[k], snapshots[2][k]) for k in snapshots[2])
    assert not all(torch.equal(snapshots[3][k], snapshots[2][k]) for k in snapshots[2])
    assert any("monitor/cusum" in h for h in trainer.state.log_history)
