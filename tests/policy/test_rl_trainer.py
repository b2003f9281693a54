"""tether.policy.rl on a tiny random GPT-2: rollouts, GRPO / RLOO / PPO raise a trivial reward, KL control,
exact resume, truncation reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tether.policy.evaluators import FunctionEvaluator, MissingObjective  # noqa: E402
from tether.policy.rl_config import RLConfig  # noqa: E402

PROMPTS = [f"What is {i} plus {i}?" for i in range(16)]


def digits(prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
    """A trivial reward: the share of a response's characters that are digits."""
    return {"digits": [sum(c.isdigit() for c in r) / max(1, len(r)) for r in responses]}


EVALUATOR = FunctionEvaluator(digits, ["digits"], name="digits")


@pytest.fixture(scope="module")
def lm(digits_lm: Path) -> Path:
    return digits_lm


def _cfg(**kw: object) -> RLConfig:
    base = {"objectives": ["digits"], "steps": 3, "max_new_tokens": 8, "lr": 3e-2, "sample_every": 0,
            "kl_coef": 0.01}
    return RLConfig(**{**base, **kw})  # type: ignore[arg-type]


def _mean_digits(path: Path) -> float:
    from tether.policy.generation import load_policy, sample_texts

    model, tok = load_policy(path)
    texts, _ = sample_texts(model, tok, PROMPTS, k=8, max_new_tokens=8, seed=123)
    return float(np.mean(digits(PROMPTS, texts)["digits"]))


def test_rollout_samples_k_per_prompt_seeded_with_logprobs_the_trainer_recomputes(lm: Path) -> None:
    from tether.policy.generation import generate, load_policy, rollout
    from tether.policy.rl import Actor

    model, tok = load_policy(lm)
    r = rollout(model, tok, PROMPTS[:3], k=4, max_new_tokens=8, seed=5, return_logprobs=True)
    assert r.prompt_index == [0] * 4 + [1] * 4 + [2] * 4 and len(r.texts) == 12
    assert r.input_ids.shape[1] == r.prompt_width + r.completion_mask.shape[1]
    again = rollout(model, tok, PROMPTS[:3], k=4, max_new_tokens=8, seed=5, return_logprobs=True)
    assert torch.equal(r.input_ids, again.input_ids) and r.texts == again.texts
    assert not torch.equal(r.input_ids, rollout(model, tok, PROMPTS[:3], k=4, max_new_tokens=8, seed=6).input_ids)
    # the sampling-time log-probs are the ones one full forward gives (KV cache and left padding agree)
    logps, entropy, _ = Actor(model)(r.input_ids, r.attention_mask, r.prompt_width)
    m = r.completion_mask.bool()
    assert torch.allclose(logps[m], r.logprobs[m], atol=1e-4)
    assert (entropy[m] > 0).all()
    greedy = rollout(model, tok, PROMPTS[:3], max_new_tokens=8, do_sample=False)
    assert greedy.texts == generate(model, tok, PROMPTS[:3], max_new_tokens=8)


def test_the_lean_gpt2_path_matches_the_model_forward_in_values_and_gradients(lm: Path) -> None:
    from tether.policy.generation import FastGPT2, load_policy, rollout
    from tether.policy.rl import Actor

    model, tok = load_policy(lm)
    assert FastGPT2.supports(model)
    r = rollout(model, tok, PROMPTS[:4], k=3, max_new_tokens=10, seed=1)
    # completions of 1 to 10 tokens, EOS padding after each (what a trained policy gives; this one never stops)
    r.completion_mask = (torch.arange(10) < torch.arange(12).remainder(10).add(1).unsqueeze(-1)).long()
    r.input_ids[:, r.prompt_width :][r.completion_mask == 0] = tok.eos_token_id
    actor = Actor(model, value_head=True)
    torch.nn.init.normal_(actor.value.weight)
    m = r.completion_mask.bool()
    grads = []
    for lean in (False, True):
        actor.zero_grad()
        logps, entropy, values = actor(r.input_ids, r.attention_mask, r.prompt_width, 0.7,
                                       r.completion_mask if lean else None)
        (logps[m].sum() + values[m].sum()).backward()
        grads.append(({n: p.grad.clone() for n, p in actor.named_parameters()}, logps[m], entropy[m], values[m]))
    (g_hf, lp_hf, h_hf, v_hf), (g_lean, lp_lean, h_lean, v_lean) = grads
    assert torch.allclose(lp_hf, lp_lean, atol=1e-5) and torch.allclose(h_hf, h_lean, atol=1e-5)
    assert torch.allclose(v_hf, v_lean, atol=1e-5)
    for n in g_hf:  # fp32 rounding relative to each gradient's scale
        assert (g_hf[n] - g_lean[n]).abs().max() <= 1e-5 * g_hf[n].abs().max() + 1e-6, n


def test_stop_strings_end_a_completion_and_cut_its_text(lm: Path) -> None:
    from tether.policy.generation import load_policy, rollout

    model, tok = load_policy(lm)
    full = rollout(model, tok, PROMPTS[:1], max_new_tokens=12, do_sample=False)
    text = full.texts[0]
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    cut = rollout(model, tok, PROMPTS[:1], max_new_tokens=12, do_sample=False, stop=[stop])
    assert cut.texts[0] == text[: text.find(stop)].strip()
    assert int(cut.lengths[0]) < int(full.lengths[0])


def test_prompts_longer_than_the_context_are_cut_from_the_left_and_counted(lm: Path, tmp_path: Path) -> None:
    from tether.policy.generation import load_policy, rollout
    from tether.policy.rl import train_rl

    model, tok = load_policy(lm)
    long = " ".join(f"What is {i} plus {i}?" for i in range(30))
    r = rollout(model, tok, [long, PROMPTS[0]], max_new_tokens=8)
    assert r.truncated == 1 and r.input_ids.shape[1] <= 64
    with pytest.raises(ValueError, match="prompt 0 has .* tokens, more than the 56"):
        rollout(model, tok, [long, PROMPTS[0]], max_new_tokens=8, strict=True)
    res = train_rl(lm, [long] * 4, EVALUATOR, tmp_path, _cfg(steps=1, kl_coef=0.0), progress=False,
                   save=False)
    assert res.last["truncated"] == 4  # every prompt of the step


@pytest.mark.parametrize("algorithm", ["grpo", "rloo", "ppo"])
def test_each_algorithm_raises_the_reward(lm: Path, tmp_path: Path, algorithm: str) -> None:
    from tether.policy.rl import train_rl

    before = _mean_digits(lm)
    res = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "out", _cfg(algorithm=algorithm, steps=15, sample_every=5),
                   progress=False)
    after = _mean_digits(tmp_path / "out")
    assert after > before + 0.2, (before, after)
    assert res.steps == 15 and res.completions == 15 * 16
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 16))
    assert {"reward", "reward/digits", "kl", "sqrt_kl", "kl_coef", "length", "entropy", "loss"} <= set(rows[-1])
    assert rows[-1]["kl"] > 0  # it moved away from the reference
    assert ("value_loss" in rows[-1]) == (algorithm == "ppo")
    report = (tmp_path / "out" / "report.html").read_text()
    assert report.count("base64,") == 5 and "Samples" in report
    meta = json.loads((tmp_path / "out" / "tether_rl.json").read_text())
    assert meta["parent"] == str(lm.resolve()) and meta["config"]["algorithm"] == algorithm


def test_kl_controllers_are_wired(lm: Path, tmp_path: Path) -> None:
    from tether.policy.rl import train_rl

    fixed = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "f", _cfg(kl_coef=0.2), progress=False, save=False)
    assert fixed.last["kl_coef"] == 0.2
    train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "a", _cfg(kl_control="adaptive", kl_coef=0.2, kl_target=0.05,
                                                          kl_horizon=10, steps=4), progress=False, save=False)
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    for now, after in zip(rows, rows[1:], strict=False):  # KL above the target: the coefficient grows; below: shrinks
        assert (after["kl_coef"] > now["kl_coef"]) == (now["kl"] > 0.05), rows
    assert len({r["kl_coef"] for r in rows}) == 4
    budget = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "b",
                      _cfg(kl_control="budget", max_sqrt_kl=1e-3, steps=10, lr=0.1), progress=False, save=False)
    assert budget.steps < 10 and "KL budget spent" in budget.stopped
    # KL in the loss (GRPO's default place) with a large coefficient keeps the policy nearer the reference
    # (at a learning rate where Adam's momentum does not swamp it)
    loose = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "n", _cfg(kl_coef=1e-4, kl_estimator="k2", steps=6, lr=1e-2),
                     progress=False, save=False)
    tethered = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "t", _cfg(kl_coef=50.0, kl_estimator="k2", steps=6,
                                                                     lr=1e-2), progress=False, save=False)
    assert tethered.last["kl"] < 0.5 * loose.last["kl"], (tethered.last["kl"], loose.last["kl"])
    free = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "z", _cfg(kl_coef=0.0, steps=1), progress=False, save=False)
    assert "kl" not in free.last  # coefficient 0 and fixed: no reference model at all


def test_resume_is_exact_in_fp32(lm: Path, tmp_path: Path) -> None:
    import shutil

    from transformers import AutoModelForCausalLM

    from tether.policy.rl import train_rl

    cfg = _cfg(algorithm="ppo", steps=4, save_every=2, kl_control="adaptive", kl_horizon=10, epochs=2,
               mixed_precision="no")
    straight = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "a", cfg, progress=False)
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "a" / "checkpoints" / "step-2", tmp_path / "b" / "checkpoints" / "step-2")
    resumed = train_rl(lm, PROMPTS, EVALUATOR, tmp_path / "b", cfg, resume=True, progress=False)
    assert resumed.steps == 4 and resumed.completions == 2 * 16
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "a").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "b").state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    va, vb = torch.load(tmp_path / "a" / "value_head.pt"), torch.load(tmp_path / "b" / "value_head.pt")
    assert max((va[k] - vb[k]).abs().max().item() for k in va) < 1e-6
    assert abs(straight.last["kl_coef"] - resumed.last["kl_coef"]) < 1e-9
    assert abs(straight.last["reward"] - resumed.last["reward"]) < 1e-6


def test_a_missing_objective_fails_before_any_work(tmp_path: Path) -> None:
    from tether.policy.rl import train_rl

    with pytest.raises(MissingObjective, match="digits: no objective 'quality'; it scores digits"):
        train_rl(tmp_path / "no-such-policy", PROMPTS, EVALUATOR, tmp_path / "out", _cfg(objectives=["quality"]))
