"""Shared fixtures of the policy tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def digits_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 1-layer, 32-wide GPT-2 (64 positions) with a small BPE tokenizer of arithmetic prompts, as a plain HF
    folder: the RL trainer's and the guards' tests optimise it against a digits reward."""
    torch = pytest.importorskip("torch")
    from transformers import GPT2Config, GPT2LMHeadModel

    from tether.sim.policy import train_tokenizer

    tok = train_tokenizer([f"What is {i} plus {i}? Answer: {2 * i} yes no maybe" for i in range(200)], 300)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                                       eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id))
    out = tmp_path_factory.mktemp("rl-lm")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
