"""Preference pairs -> token ids, length-bucketed batches and padded tensors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tether.records import PreferencePair, content_hash
from tether.training.batches import plan_batches as plan_batches  # re-exported: the reward trainer's batches


@dataclass
class EncodedPairs:
    """Token ids of each pair's chosen and rejected text, and the label fields the loss reads."""

    chosen: list[list[int]]
    rejected: list[list[int]]
    objective: np.ndarray  # index into the model's objectives
    weight: np.ndarray
    p_chosen: np.ndarray
    tie: np.ndarray

    def __len__(self) -> int:
        return len(self.chosen)

    def lengths(self) -> np.ndarray:
        return np.array([max(len(c), len(r)) for c, r in zip(self.chosen, self.rejected, strict=True)])


def fingerprint(pairs: Iterable[PreferencePair]) -> str:
    """Training-data fingerprint: order-free hash of each pair's content and label fields."""
    keys = sorted(content_hash(p.dedup_key(), repr(p.weight), repr(p.p_chosen), repr(p.tie)) for p in pairs)
    return content_hash(*keys)


def tokenize(tokenizer, prompts: Sequence[str], responses: Sequence[str], max_length: int) -> list[list[int]]:  # noqa: ANN001
    """Token ids of prompt + response; over-long inputs lose the *start* of the prompt, never the response end."""
    side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"  # the response is what is judged: keep it and the latest turns
    try:
        enc = tokenizer(list(prompts), list(responses), truncation="longest_first", max_length=max_length,
                        return_attention_mask=False)
    finally:
        tokenizer.truncation_side = side
    return enc["input_ids"]


def encode(tokenizer, pairs: Sequence[PreferencePair], objectives: list[str], max_length: int, *,  # noqa: ANN001
           use_weights: bool = True, use_soft_labels: bool = True) -> EncodedPairs:
    """Tokenize pairs for training; pairs of an objective the model has no head for raise.

    Weights are rescaled to mean 1 over the set, so down-weighting noisy pairs does not also shrink the step size."""
    index = {o: i for i, o in enumerate(objectives)}
    missing = sorted({p.objective for p in pairs} - set(index))
    if missing:
        raise ValueError(f"pairs have objective(s) {missing} but the model's objectives are {objectives}")
    prompts = [p.prompt for p in pairs]
    chosen = tokenize(tokenizer, prompts, [p.chosen for p in pairs], max_length)
    rejected = tokenize(tokenizer, prompts, [p.rejected for p in pairs], max_length)
    weight = np.array([p.weight if use_weights else 1.0 for p in pairs], dtype=np.float32)
    if weight.mean() > 0:  # weights are relative: they decide which pairs matter, not the learning rate
        weight = weight / weight.mean()
    return EncodedPairs(
        chosen=chosen, rejected=rejected,
        objective=np.array([index[p.objective] for p in pairs], dtype=np.int64),
        weight=weight,
        p_chosen=np.array([(p.p_chosen if (use_soft_labels and p.p_chosen is not None) else 1.0) for p in pairs],
                          dtype=np.float32),
        tie=np.array([p.tie for p in pairs], dtype=bool),
    )


def pad(seqs: Sequence[list[int]], pad_id: int):  # noqa: ANN201
    """(input_ids, attention_mask) tensors, right-padded to the longest sequence."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask
