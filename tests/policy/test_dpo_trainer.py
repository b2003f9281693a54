"""The DPO trainer on a tiny random GPT-2: it learns a toy preference, the curated labels reach the loss, the
reference log-probs are cached and reused, likelihood displacement is flagged, a resumed run is exact."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from dpo_helpers import tiny_policy, toy_pairs

from tether.policy.config import DPOConfig
from tether.policy.dpo import DisplacementMonitor, LikelihoodDisplacementWarning, train_dpo, train_dpo_iter
from tether.records import PreferencePair

FP32 = {"mixed_precision": "no", "samples": 0, "batch_size": 8, "lr": 3e-3, "beta": 0.5}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # exact comparisons need the same thread count in every run


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_and_reward_accuracy_rises_on_a_toy_preference(tmp_path: Path) -> None:
    res = train_dpo(tiny_policy(), toy_pairs(64), tmp_path, DPOConfig(max_steps=12, **FP32), progress=False)
    rows = _metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(1, 13)) and res.steps == 12 and res.pairs_seen == 96
    assert abs(rows[0]["loss"] - np.log(2)) < 1e-4  # the policy starts as its reference: margin 0
    assert np.mean([r["loss"] for r in rows[-3:]]) < 0.5 * rows[0]["loss"]
    assert rows[-1]["accuracy"] == 1.0 and rows[-1]["margin"] > 0
    assert rows[-1]["chosen_reward"] > rows[-1]["rejected_reward"]
    for key in ("logp_chosen", "logp_rejected", "logratio_chosen", "logratio_rejected", "grad_norm", "lr"):
        assert key in rows[-1]
    saved = json.loads((tmp_path / "tether_policy.json").read_text())
    assert saved["stage"] == "dpo" and saved["result"]["n_pairs"] == 64
    assert (tmp_path / "config.json").is_file() and not (tmp_path / "checkpoints").exists()


def test_weights_soft_labels_and_ties_reach_the_loss(tmp_path: Path) -> None:
    # IPO's target margin (2p - 1) / (2 beta) depends on the soft label and the tie; at step 1 the margin is 0,
    # so the loss is the weighted mean of the squared targets. Weights are rescaled to mean 1.
    base = toy_pairs(3)
    pairs = [base[0].model_copy(update={"weight": 1.0}),
             base[1].model_copy(update={"weight": 3.0, "p_chosen": 0.75}),
             base[2].model_copy(update={"weight": 2.0, "tie": True})]
    beta = 0.5
    res = train_dpo(tiny_policy(), pairs, tmp_path, DPOConfig(loss="ipo", max_steps=1, **{**FP32, "beta": beta}),
                    progress=False)
    w = np.array([1.0, 3.0, 2.0]) / 2.0
    target = (2 * np.array([1.0, 0.75, 0.5]) - 1) / (2 * beta)
    row = _metrics(tmp_path)[0]
    assert row["loss"] == pytest.approx(float(np.mean(w * target**2)), abs=1e-4)
    assert row["ties"] == 1 and res.n_ties == 1
    assert row["accuracy"] == 0.0  # ties are left out of the accuracy; the two others have margin 0

    # without weights and soft labels the same pairs give the unweighted hard-label loss (the tie stays a tie)
    train_dpo(tiny_policy(), pairs, tmp_path / "plain", DPOConfig(
        loss="ipo", max_steps=1, use_weights=False, use_soft_labels=False, **{**FP32, "beta": beta}), progress=False)
    plain = (2 * np.array([1.0, 1.0, 0.5]) - 1) / (2 * beta)
    assert _metrics(tmp_path / "plain")[0]["loss"] == pytest.approx(float(np.mean(plain**2)), abs=1e-4)
    # RPO: the chosen answers' NLL per token joins the loss (an untrained model: about log(vocab) per token)
    train_dpo(tiny_policy(), pairs, tmp_path / "rpo", DPOConfig(max_steps=1, sft_weight=1.0, **FP32), progress=False)
    nll = _metrics(tmp_path / "rpo")[0]["loss"] - np.log(2)
    assert 0.8 * np.log(300) < nll < 1.2 * np.log(300)


def test_reference_log_probs_are_cached_and_reused(tmp_path: Path) -> None:
    pairs, cache = toy_pairs(16), tmp_path / "cache"
    first = train_dpo(tiny_policy(), pairs, tmp_path / "a", DPOConfig(max_steps=1, ref_cache=str(cache), **FP32),
                      progress=False)
    files = list(cache.glob("ref-logps-*.npz"))
    assert not first.ref_from_cache and len(files) == 1
    again = train_dpo(tiny_policy(), pairs, tmp_path / "b", DPOConfig(max_steps=1, ref_cache=str(cache), **FP32),
                      progress=False)
    assert again.ref_from_cache and _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    # another reference model or other data is another entry
    train_dpo(tiny_policy(seed=1), pairs, tmp_path / "c", DPOConfig(max_steps=1, ref_cache=str(cache), **FP32),
              progress=False)
    train_dpo(tiny_policy(), pairs[:8], tmp_path / "d", DPOConfig(max_steps=1, ref_cache=str(cache), **FP32),
              progress=False)
    assert len(list(cache.glob("ref-logps-*.npz"))) == 3


def test_displacement_warning_fires_when_both_log_probs_fall(tmp_path: Path) -> None:
    monitor = DisplacementMonitor(tolerance=0.5, window=4)
    for step in range(1, 8):  # only the rejected answer falls: the healthy case
        assert monitor.update(step, 0.1, -0.3 * step) is None
    # constructed case: a cached reference 5 nats above the policy on every answer, so from the first step both
    # log-ratios are about -5; the trainer reads the cache, flags it, logs it and puts it in the result
    pairs, cache = toy_pairs(16), tmp_path / "cache"
    cfg = DPOConfig(max_steps=1, ref_cache=str(cache), **FP32)
    train_dpo(tiny_policy(), pairs, tmp_path / "a", cfg, progress=False)
    (path,) = cache.glob("ref-logps-*.npz")
    ref = dict(np.load(path))
    np.savez(path, chosen=ref["chosen"] + 5.0, rejected=ref["rejected"] + 5.0)
    with pytest.warns(LikelihoodDisplacementWarning, match="likelihood displacement at step 3"):
        res = train_dpo(tiny_policy(), pairs, tmp_path / "b", DPOConfig(max_steps=4, ref_cache=str(cache), **FP32),
                        progress=False)
    assert res.ref_from_cache and res.displacement is not None and res.displacement["step"] == 3
    assert res.displacement["chosen_logratio"] < -0.5 and res.displacement["rejected_logratio"] < -0.5


def test_resumed_run_gives_the_same_losses(tmp_path: Path) -> None:
    pairs = toy_pairs(24)
    cfg = DPOConfig(max_steps=6, save_every=3, loss="cdpo", **{**FP32, "batch_size": 4})
    train_dpo(tiny_policy(), pairs, tmp_path / "whole", cfg, progress=False)
    it = train_dpo_iter(tiny_policy(), pairs, tmp_path / "split", cfg, progress=False)
    assert [next(it) for _ in range(4)] == [0, 1, 2, 3]
    it.close()  # stopped after step 3 (checkpointed)
    assert (tmp_path / "split" / "checkpoints" / "step-3").is_dir()
    res = train_dpo(tiny_policy(), pairs, tmp_path / "split", cfg, resume=True, progress=False)
    assert res.ref_from_cache and res.steps == 6
    whole, split = _metrics(tmp_path / "whole"), _metrics(tmp_path / "split")
    assert [r["step"] for r in split] == list(range(1, 7))
    for a, b in zip(whole, split, strict=True):
        for key in ("loss", "margin", "logp_chosen", "logp_rejected", "lr"):
            assert abs(a[key] - b[key]) <= 1e-6, (a["step"], key, a[key], b[key])


def test_gradient_accumulation_and_shared_prompt_match_the_plain_step(tmp_path: Path) -> None:
    pairs = toy_pairs(16)
    runs = {"plain": {"share_prompt": False}, "shared": {}, "accum": {"grad_accum": 2}}
    for name, extra in runs.items():
        train_dpo(tiny_policy(), pairs, tmp_path / name, DPOConfig(max_steps=3, **FP32, **extra), progress=False)
    base = _metrics(tmp_path / "plain")
    for name in ("shared", "accum"):
        for a, b in zip(base, _metrics(tmp_path / name), strict=True):
            assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["logp_chosen"] - b["logp_chosen"]) < 1e-3


def test_tokenizer_without_pad_token_falls_back_to_eos(tmp_path: Path) -> None:
    model, tok = tiny_policy(pad=False)
    with pytest.warns(UserWarning, match="no pad token: padding with its EOS token"):
        train_dpo((model, tok), toy_pairs(8), tmp_path, DPOConfig(max_steps=1, **FP32), progress=False)
    assert tok.pad_token == tok.eos_token


def test_no_usable_pairs_is_a_clear_error_before_any_work(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"  # never opened: the pairs are checked first
    zero = [p.model_copy(update={"weight": 0.0}) for p in toy_pairs(4)]
    same = [PreferencePair(prompt="q", chosen="a", rejected="a")]
    with pytest.raises(ValueError, match="none of the 5 pairs is usable"):
        train_dpo(missing, zero + same, tmp_path / "out")
    with pytest.raises(ValueError, match="several objectives"):
        train_dpo(missing, toy_pairs(2) + toy_pairs(2, objective="safety"), tmp_path / "out")
    with pytest.raises(ValueError, match="no pairs of objective 'honesty'"):
        train_dpo(missing, toy_pairs(2), tmp_path / "out", DPOConfig(objective="honesty"))
    assert not (tmp_path / "out").exists()


def test_lora_trains_adapters_and_saves_a_merged_model(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    model, tok = tiny_policy()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft's notes on the tiny GPT-2's Conv1D layers
        train_dpo((model, tok), toy_pairs(16), tmp_path, DPOConfig(max_steps=3, lora_r=4, **FP32), progress=False)
    saved = AutoModelForCausalLM.from_pretrained(tmp_path).state_dict()
    assert not any("lora" in k for k in saved)
    changed = [k for k in before if not torch.equal(before[k], saved[k])]
    assert changed and all("wte" not in k and "wpe" not in k and "ln" not in k for k in changed)
