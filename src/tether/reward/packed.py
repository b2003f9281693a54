"""A training forward for BERT-family encoders that skips padding: token-wise layers on real tokens only.

A reward batch is [chosen; rejected], right-padded to its longest text. Transformers' BERT runs every layer on
every padded position; here the projections, the feed-forward block and the LayerNorms (three quarters of a
MiniLM step's matmuls) run on the packed real tokens [n_tokens, hidden] and only attention sees the padded layout,
each sequence attending to its own tokens. The query, key and value projections are one matmul against the
concatenated weights (one N = 3 x hidden matmul instead of three small ones; autograd splits the gradient back
onto the model's own parameters, so checkpoints and saved folders are unchanged). The result equals the padded
forward's mean-pooled features up to float rounding (tests/reward/test_packed.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

SUPPORTED = frozenset({"bert"})  # BertModel layout: MiniLM, BERT, all-MiniLM-L6-v2


def supports(body: nn.Module, pooling: str) -> bool:
    """True if `body` is a plain BERT-family encoder (absolute positions, no decoder) and pooling is the mean."""
    config = getattr(body, "config", None)
    return (pooling == "mean" and config is not None and config.model_type in SUPPORTED
            and not getattr(config, "is_decoder", False)
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and hasattr(body, "encoder") and hasattr(body, "embeddings"))


def mean_pooled(body: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
                fused_qkv: bool = True, pack: bool = True) -> torch.Tensor:
    """Mean over each sequence's real tokens of the encoder's last hidden state, in fp32: [batch, hidden].

    `pack=False` keeps the padded positions in the token-wise layers (the design without packing, for comparison)."""
    batch, width = input_ids.shape
    flat = attention_mask.reshape(-1)
    # flat indices of the tokens the token-wise layers run on: the real ones (packed) or all of them
    keep = flat.nonzero().squeeze(1) if pack else torch.arange(flat.numel(), device=flat.device)
    h = body.embeddings(input_ids=input_ids).reshape(batch * width, -1)[keep]
    bias = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
    for layer in body.encoder.layer:
        h = _layer(layer, h, keep, batch, width, bias, fused_qkv)
    counts = attention_mask.sum(1, keepdim=True).clamp(min=1).float()
    h = h.float() if pack else h.float() * flat.unsqueeze(1).float()
    pooled = torch.zeros(batch, h.shape[1], dtype=torch.float32, device=h.device).index_add_(0, keep // width, h)
    return pooled / counts


def _layer(layer: nn.Module, h: torch.Tensor, keep: torch.Tensor, batch: int, width: int, bias: torch.Tensor,
           fused_qkv: bool) -> torch.Tensor:
    att = layer.attention.self
    heads, size = att.num_attention_heads, att.attention_head_size
    hidden = heads * size
    if fused_qkv:
        qkv = F.linear(h, torch.cat([att.query.weight, att.key.weight, att.value.weight]),
                       torch.cat([att.query.bias, att.key.bias, att.value.bias]))
    else:
        qkv = torch.cat([att.query(h), att.key(h), att.value(h)], dim=1)
    padded = qkv if qkv.shape[0] == batch * width else qkv.new_zeros(batch * width, 3 * hidden).index_copy(0, keep, qkv)
    q, k, v = padded.view(batch, width, 3, heads, size).permute(2, 0, 3, 1, 4).unbind(0)
    scores = torch.matmul(q * att.scaling, k.transpose(2, 3)).add_(bias)
    weights = torch.softmax(scores, dim=-1)
    context = torch.matmul(weights, v).transpose(1, 2).reshape(batch * width, hidden)
    context = context if context.shape[0] == keep.shape[0] else context[keep]
    out = layer.attention.output
    h = out.LayerNorm(out.dense(context) + h)
    inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(h))
    final = layer.output
    return final.LayerNorm(final.dense(inner) + h)
