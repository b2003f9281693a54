"""Attention for training on a CPU, registered with transformers as `tether_cpu`.

PyTorch's fused CPU attention (SDPA) has a slow backward: a fifth of a MiniLM training step in the profile.
Plain matmul attention is faster there, and this one is leaner than transformers' `eager`: it scales the
queries (L x d) instead of the scores (L x L) and adds the mask in place. GPUs keep SDPA / flash attention.
"""

from __future__ import annotations

import torch

NAME = "tether_cpu"


def _attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,  # noqa: ANN001
               attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
               **kwargs: object) -> tuple[torch.Tensor, None]:
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    if key.shape[1] != query.shape[1]:  # grouped-query attention: repeat the shared key/value heads
        key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
        value = value.repeat_interleave(query.shape[1] // value.shape[1], dim=1)
    scores = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        scores = scores.add_(attention_mask[..., : key.shape[-2]])
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


def register() -> str:
    """Register the attention and its mask format (without a mask function transformers passes *no* mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, eager_mask)
    return NAME
