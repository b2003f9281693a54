"""Sequence log-probabilities of a causal LM on packed rows, and the reference log-probabilities cached on disk.

`SequenceScorer` runs the model's body once and its LM head only on the hidden states that predict a scored
(answer) token, so no (rows, L, vocab) logits are ever materialised; the log-softmax is in fp32.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tether.policy.data import EncodedPairs, Packed, pack_pairs


def body_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body and the LM head of a causal LM (a PEFT-wrapped one too)."""
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(core, core.base_model_prefix), core.get_output_embeddings()


class TokenLogps(torch.autograd.Function):
    """log p(target) of each hidden state under an LM head weight (vocab, d), computed in row chunks.

    The (rows, vocab) logits live one chunk at a time in fp32 (forward: logsumexp and the target's logit only;
    backward: recomputed, softmax minus one-hot, cast to the weight's dtype), so the head costs one extra matmul
    instead of several full fp32 (rows, vocab) tensors: on a CPU those memory passes cost more than the matmul."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,  # noqa: ANN001
                chunk: int = 256) -> torch.Tensor:
        out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(out)
        for s in range(0, hidden.shape[0], chunk):
            logits = (hidden[s:s + chunk] @ weight.T).float()
            lse[s:s + chunk] = logits.logsumexp(-1)
            out[s:s + chunk] = logits.gather(1, target[s:s + chunk, None]).squeeze(1) - lse[s:s + chunk]
        ctx.save_for_backward(hidden, weight, target, lse)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN205
        hidden, weight, target, lse = ctx.saved_tensors
        d_logits = torch.empty((hidden.shape[0], weight.shape[0]), dtype=weight.dtype, device=hidden.device)
        for s in range(0, hidden.shape[0], ctx.chunk):
            e = s + ctx.chunk
            probs = (hidden[s:e] @ weight.T).float().sub_(lse[s:e, None]).exp_()
            g = grad[s:e, None].float()
            d_logits[s:e] = probs.mul_(-g).scatter_add_(1, target[s:e, None], g)
        return d_logits @ weight, d_logits.T @ hidden, None, None


class SequenceScorer(torch.nn.Module):
    """`forward(packed)` -> the summed log-probability of each sequence's scored tokens, (n_seq,), fp32.

    A module of its own so that data-parallel wrappers (DDP) see the whole computation."""

    chunked_head = True  # TokenLogps for a plain linear head (False: the plain way; for design comparisons)

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Packed) -> torch.Tensor:
        body, head = body_and_head(self.model)
        mask = batch.attention_mask
        if mask.dim() == 4:  # a custom (shared-prompt) mask: additive, in the model's dtype
            dtype = head.weight.dtype
            mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, torch.finfo(dtype).min)
        hidden = body(input_ids=batch.input_ids, attention_mask=mask, position_ids=batch.position_ids,
                      use_cache=False).last_hidden_state
        h = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch.source)
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        plain_head = isinstance(head, torch.nn.Linear) and head.bias is None and not cap
        # under fp16 autocast the backward would mix dtypes: the chunked head runs on a bf16 / fp32 model only
        if self.chunked_head and plain_head and not torch.is_autocast_enabled(h.device.type):
            token = TokenLogps.apply(h, head.weight, batch.target)
        else:  # a head with a bias, soft-capping or its own forward: the plain way
            logits = head(h).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            token = logits.gather(1, batch.target.unsqueeze(1)).squeeze(1) - logits.logsumexp(-1)
        return torch.zeros(batch.n_seq, dtype=token.dtype, device=token.device).index_add_(0, batch.segment, token)


def model_hash(model: Any) -> str:
    """Hash of a model's parameters and buffers (names, dtypes and values): what identifies a reference model."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in model.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cache_key(model_digest: str, data: EncodedPairs, *, shared: bool) -> str:
    """The reference log-probs' identity: reference model, token data and layout (dtype is in the model hash)."""
    return hashlib.blake2b(f"{model_digest}/{data.fingerprint()}/{'shared' if shared else 'concat'}".encode(),
                           digest_size=12).hexdigest()


@torch.no_grad()
def sequence_logps(scorer: SequenceScorer, data: EncodedPairs, pad_id: int, *, shared: bool, device: Any,
                   batch_size: int = 16, on_batch: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probs of every pair's chosen and rejected answer (float64 arrays), in length-sorted batches."""
    was_training = scorer.training
    scorer.eval()
    order = np.argsort(data.lengths(shared), kind="stable")
    chosen, rejected = np.zeros(len(data)), np.zeros(len(data))
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size].tolist()
        logps = scorer(pack_pairs(data, idx, pad_id, shared).to(device)).double().cpu().numpy()
        chosen[idx], rejected[idx] = logps[: len(idx)], logps[len(idx):]
        if on_batch is not None:
            on_batch(1)
    scorer.train(was_training)
    return chosen, rejected


def reference_logps(scorer: SequenceScorer, data: EncodedPairs, pad_id: int, cache_dir: Path, *, shared: bool,
                    device: Any, batch_size: int = 16, progress: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """The reference model's log-probs of every pair, from `cache_dir` when computed before (same model and
    data), else computed now and written there. Returns (chosen, rejected, from_cache)."""
    from tether.training import progress as bar

    key = cache_key(model_hash(scorer.model), data, shared=shared)
    path = cache_dir / f"ref-logps-{key}.npz"
    if path.is_file():
        cached = np.load(path)
        if cached["chosen"].shape == (len(data),):
            return cached["chosen"], cached["rejected"], True
    with bar("reference log-probs", -(-len(data) // batch_size), progress) as advance:
        chosen, rejected = sequence_logps(scorer, data, pad_id, shared=shared, device=device, batch_size=batch_size,
                                          on_batch=advance)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, chosen=chosen, rejected=rejected)
    tmp.replace(path)  # whole or absent: an interrupted write never leaves a half file under the key
    return chosen, rejected, False
