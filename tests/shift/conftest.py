"""Tiny models for the shift tests, trained once per session in seconds: a reward ensemble (whose first member
doubles as a single reward model) on a from-scratch 1-layer BERT, and the simulation world's GPT-2 policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_ensemble(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-member bootstrap reward ensemble with `quality` and `safety` heads (MiniLM's tokenizer)."""
    from transformers import BertConfig

    from tether.records import PreferencePair
    from tether.reward.ensemble import train_ensemble
    from tether.reward.train import TrainConfig

    pairs = [PreferencePair(prompt=f"q{i}", chosen="No.", rejected="Sure, here it is.", objective=o)
             for i in range(8) for o in ("quality", "safety")]
    body = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                      max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("ensemble")
    train_ensemble(pairs, folder, TrainConfig(epochs=1, batch_size=8, max_length=32, mixed_precision="no", name="t"),
                   k=3, progress=False, from_scratch_config=body)
    return folder


@pytest.fixture(scope="session")
def tiny_reward(tiny_ensemble: Path) -> Path:
    """One reward model folder (the ensemble's first member); copy it before changing it."""
    return tiny_ensemble / "member-0"


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation world's GPT-2 policy, 1 layer, 5 steps."""
    from tether.sim import PolicyConfig, World, train_policy

    folder = tmp_path_factory.mktemp("policy")
    cfg = PolicyConfig(n_layer=1, n_embd=32, n_head=2, vocab_size=300, train_prompts=50, batch_size=8,
                       max_steps=5, max_seconds=20.0, threads=1)
    train_policy(World(seed=0), folder, cfg, show_progress=False)
    return folder
