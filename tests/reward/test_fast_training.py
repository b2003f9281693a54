"""The CPU training path: matmul attention equals transformers' own, fp32 master weights keep small updates."""

from __future__ import annotations

import pytest
import torch

from tether.reward.attention import register
from tether.training import MasterWeights


def _tiny(kind: str):  # noqa: ANN202
    from transformers import AutoModel, BertConfig, GPT2Config

    torch.manual_seed(0)
    if kind == "bert":
        config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=64)
    else:
        config = GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    return AutoModel.from_config(config, attn_implementation="eager").eval()


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_cpu_attention_matches_eager_with_padding(kind: str) -> None:
    model = _tiny(kind)
    ids = torch.randint(1, 100, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    outs, grads = [], []
    for impl in ("eager", register()):
        model.set_attn_implementation(impl)
        model.zero_grad()
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        (h * mask.unsqueeze(-1)).sum().backward()
        outs.append(h * mask.unsqueeze(-1))  # padded positions carry no meaning
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_master_weights_keep_updates_below_bf16_resolution() -> None:
    """100 steps of -1e-4 on a weight of 1.0: bf16 alone rounds every step away, the fp32 master does not."""
    lin = torch.nn.Linear(4, 1, bias=False)
    torch.nn.init.ones_(lin.weight)
    lin.to(torch.bfloat16)
    master = MasterWeights(lin)
    opt = torch.optim.SGD([master.of(lin.weight)], lr=1e-4)
    naive = torch.ones(4, dtype=torch.bfloat16)
    for _ in range(100):
        lin.weight.grad = torch.ones_like(lin.weight)
        master.grads_from_model()
        opt.step()
        master.copy_to_model()
        naive -= 1e-4 * torch.ones(4, dtype=torch.bfloat16)
    assert torch.all(naive == 1.0)  # the update is lost in pure bf16 ...
    expected = 1.0 - 100 * 1e-4
    # atol: fp32 rounding of 100 accumulated steps
    torch.testing.assert_close(master.of(lin.weight), torch.full((1, 4), expected), atol=1e-5, rtol=0)
    assert abs(lin.weight.float().mean().item() - expected) < 2 ** -8  # ... and reaches the bf16 model

    saved = master.state_dict()
    other = MasterWeights(torch.nn.Linear(4, 1, bias=False).to(torch.bfloat16))
    other.load_state_dict(saved)
    torch.testing.assert_close(other.pairs[0][1], master.pairs[0][1])


def test_bf16_training_learns_resumes_exactly_and_saves_fp32(tiny_backbone, toy_pairs, tmp_path) -> None:  # noqa: ANN001
    """The bf16 + master-weights path end to end: it learns the toy task, resumes bit for bit, saves fp32."""
    import json
    import shutil
    from dataclasses import replace

    import numpy as np
    from transformers import AutoModel

    from tether.reward.model import RewardModel
    from tether.reward.train import TrainConfig, train

    cfg = TrainConfig(backbone=str(tiny_backbone), max_steps=8, save_every=4, batch_size=16, lr=1e-3, head_lr=3e-3,
                      max_length=32, center_coefficient=None, mixed_precision="bf16", name="bf16")
    train(toy_pairs, tmp_path / "full", cfg, progress=False)
    shutil.copytree(tmp_path / "full" / "checkpoints" / "step-4", tmp_path / "cut" / "checkpoints" / "step-4")
    train(toy_pairs, tmp_path / "cut", cfg, resume=True, progress=False)
    full, cut = RewardModel.load(tmp_path / "full"), RewardModel.load(tmp_path / "cut")
    texts = ["It is excellent.", "It is terrible."]
    np.testing.assert_allclose(full.raw_scores(["q"] * 2, texts), cut.raw_scores(["q"] * 2, texts), atol=1e-5)
    # the metrics log (tether.training.MetricsLog): one row per step; the resumed run's steps 5-8 repeat the full run's
    logged = {run: [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
              for run in ("full", "cut")}
    assert [r["step"] for r in logged["full"]] == list(range(1, 9))
    assert set(logged["full"][0]) == {"step", "loss", "lr", "grad_norm"}  # the norm before clipping (max_grad_norm)
    assert logged["cut"] == logged["full"][4:]
    assert AutoModel.from_pretrained(tmp_path / "full").dtype == torch.float32
    longer = train(toy_pairs, tmp_path / "long", replace(cfg, max_steps=40, save_every=0), progress=False)
    margins = RewardModel.load(longer.path).pair_margins(toy_pairs)
    assert (margins > 0).mean() > 0.9
