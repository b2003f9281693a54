"""The padding-free, fused-QKV training forward equals transformers' padded BERT forward: outputs and gradients."""

from __future__ import annotations

import pytest
import torch

from tether.reward.attention import register
from tether.reward.backbones import RewardNet
from tether.reward.packed import mean_pooled, supports


def tiny_bert_config(**kw):  # noqa: ANN003, ANN201
    from transformers import BertConfig

    base = {"vocab_size": 100, "hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "max_position_embeddings": 32, "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0}
    return BertConfig(**{**base, **kw})


def _net() -> RewardNet:
    from transformers import AutoModel

    torch.manual_seed(0)
    body = AutoModel.from_config(tiny_bert_config(),
                                 attn_implementation="eager")
    return RewardNet(body, ["a", "b"], "encoder", "mean")


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded rows of different lengths, one of them full width."""
    torch.manual_seed(1)
    ids = torch.randint(1, 100, (4, 11))
    mask = torch.ones_like(ids)
    for row, n in ((1, 6), (2, 2), (3, 9)):
        ids[row, n:] = 0
        mask[row, n:] = 0
    return ids, mask


def _outputs_and_grads(net: RewardNet, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list]:
    net.zero_grad(set_to_none=True)
    out = net(ids, mask)
    (out * torch.tensor([1.0, -0.5])).sum().backward()
    return out.detach(), [(n, p.grad.clone()) for n, p in net.named_parameters() if p.grad is not None]


@pytest.mark.parametrize("attention", ["eager", "tether_cpu"])
def test_packed_forward_matches_padded_outputs_and_gradients(attention: str) -> None:
    net = _net()
    ids, mask = _batch()
    net.body.set_attn_implementation(register() if attention == "tether_cpu" else attention)
    ref_out, ref_grads = _outputs_and_grads(net, ids, mask)
    net.packed = True
    out, grads = _outputs_and_grads(net, ids, mask)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    # the pooler (unused by mean pooling) gets no gradient on either path; every other parameter the same one
    assert [n for n, _ in grads] == [n for n, _ in ref_grads]
    for (name, g), (_, ref) in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref, atol=1e-5, rtol=1e-4, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize(("fused_qkv", "pack"), [(True, False), (False, True), (False, False)])
def test_each_design_alone_matches_too(fused_qkv: bool, pack: bool) -> None:
    """Fused QKV on the padded layout, and packing with three projections: the same pooled features."""
    net = _net()
    ids, mask = _batch()
    ref = mean_pooled(net.body, ids, mask)
    torch.testing.assert_close(mean_pooled(net.body, ids, mask, fused_qkv=fused_qkv, pack=pack), ref,
                               atol=1e-5, rtol=1e-5)


def test_packed_forward_only_for_bert_encoders_with_mean_pooling() -> None:
    from transformers import AutoModel, GPT2Config

    net = _net()
    assert supports(net.body, "mean")
    assert not supports(net.body, "last")
    gpt2 = AutoModel.from_config(GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=2, n_positions=32))
    assert not supports(gpt2, "mean")
    assert not supports(AutoModel.from_config(tiny_bert_config(position_embedding_type="relative_key")), "mean")
