"""A tiny random GPT-2 with a BPE tokenizer trained on a toy task, and the toy task's preference pairs."""

from __future__ import annotations

import copy
import functools
import random
from pathlib import Path
from typing import Any

from tether.records import PreferencePair

TOPICS = ["the weather", "a recipe", "my code", "the report", "this plan", "the movie", "a poem", "the trip"]


def toy_pairs(n: int, seed: int = 0, objective: str = "overall") -> list[PreferencePair]:
    """Learnable: the chosen answer says 'excellent', the rejected one 'terrible'."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        filler = " ".join(rng.choice(["really", "quite", "very"]) for _ in range(rng.randint(0, 4)))
        out.append(PreferencePair(prompt=f"Tell me about {topic} ({i}).", chosen=f"It is {filler} excellent.",
                                  rejected=f"It is {filler} terrible.", objective=objective))
    return out


@functools.cache
def _tokenizer() -> Any:
    from tether.sim.policy import train_tokenizer

    return train_tokenizer([f"{p.prompt} {p.chosen} {p.rejected}" for p in toy_pairs(64)], 300)


def tiny_policy(seed: int = 0, pad: bool = True) -> tuple[Any, Any]:
    """A 2-layer, 32-wide GPT-2 and its byte-level BPE tokenizer (EOS; pad = EOS unless `pad` is False)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = copy.deepcopy(_tokenizer())  # trainers set its padding side and pad token
    if not pad:
        tok.pad_token = None
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    return model, tok


def save_tiny_policy(folder: Path, seed: int = 0) -> Path:
    model, tok = tiny_policy(seed)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
