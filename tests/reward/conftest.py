"""Fixtures: a tiny randomly initialised BERT checkpoint (MiniLM's tokenizer) and simulated pairs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tether.records import PreferencePair

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def tiny_bert_config(**kw):  # noqa: ANN003, ANN201
    from transformers import BertConfig

    base = {"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 128, "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0}
    return BertConfig(**{**base, **kw})


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT saved as a local checkpoint folder (with MiniLM's tokenizer)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from tether.reward.backbones import resolve_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_bert_config()).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_path("minilm")).save_pretrained(folder)
    return folder


def word_pairs(n: int, objective: str = "quality", seed: int = 0, flip: bool = False) -> list[PreferencePair]:
    """A learnable toy task: the chosen response says 'excellent', the rejected one 'terrible' (or the reverse)."""
    import random

    rng = random.Random(seed)
    topics = ["the weather", "a recipe", "my code", "the report", "this plan", "the movie", "a poem", "the trip"]
    out = []
    for i in range(n):
        t = rng.choice(topics)
        filler = " ".join(rng.choice(["really", "quite", "very", "so"]) for _ in range(rng.randint(0, 6)))
        good, bad = f"It is {filler} excellent.", f"It is {filler} terrible."
        if flip:
            good, bad = bad, good
        out.append(PreferencePair(
            prompt=f"What do you think of {t}? ({i})", chosen=good, rejected=bad, objective=objective,
            provenance={"task_type": "opinion" if i % 2 else "review", "domain": t.split()[-1]}))
    return out


@pytest.fixture(scope="session")
def toy_pairs() -> list[PreferencePair]:
    return word_pairs(96, "quality") + word_pairs(64, "safety", seed=1, flip=True)


@pytest.fixture(scope="session")
def tiny_config():  # noqa: ANN201
    """The tiny BERT config factory (keyword overrides)."""
    return tiny_bert_config


@pytest.fixture(scope="session")
def gated_rm(tmp_path_factory: pytest.TempPathFactory, tiny_backbone: Path, toy_pairs: list[PreferencePair]) -> Path:
    """A two-head reward model (quality; safety, lower is better) trained 2 steps, with a passed gate saved."""
    import json

    from tether.reward.config import TrainConfig
    from tether.reward.gate import Check, GateResult, save_gate
    from tether.reward.model import CONTRACT_FILE
    from tether.reward.train import train

    folder = tmp_path_factory.mktemp("gated") / "rm"
    train(toy_pairs, folder, TrainConfig(backbone=str(tiny_backbone), max_steps=2, max_length=32,
                                         mixed_precision="no"), progress=False)
    data = json.loads((folder / CONTRACT_FILE).read_text())
    data["contracts"][1]["direction"] = "lower_is_better"  # so that the sign of the contract is exercised too
    (folder / CONTRACT_FILE).write_text(json.dumps(data))
    save_gate(folder, GateResult([Check("accuracy", 1.0, 0.5, True, "min")]))
    return folder
