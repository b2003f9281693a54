"""The small GPT-2 policy trains from scratch and beats random generations on the gold reward."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tether.sim import PolicyConfig, World

TINY = PolicyConfig(n_layer=1, n_embd=64, n_head=2, vocab_size=400, train_prompts=400, batch_size=16,
                    max_steps=150, max_seconds=120.0, lr=1e-2, warmup_steps=5, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    from tether.sim import train_policy

    world = World(seed=0)
    out = tmp_path_factory.mktemp("policy")
    result = train_policy(world, out, TINY, show_progress=False)
    assert result.steps == TINY.max_steps
    return world, out


def test_checkpoint_is_a_normal_hugging_face_folder(trained: tuple[World, Path]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

    _, path = trained
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert isinstance(model, GPT2LMHeadModel) and model.config.n_layer == TINY.n_layer
    assert len(tok) <= TINY.vocab_size and tok.eos_token == "<|endoftext|>"
    text = "What is the capital of Peru?"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level BPE round-trips the world's text
    meta = json.loads((path / "tether_policy.json").read_text())
    assert meta["result"]["n_params"] == sum(p.numel() for p in model.parameters())


def test_trained_policy_beats_random_generations(trained: tuple[World, Path]) -> None:
    import torch
    from transformers import GPT2LMHeadModel

    from tether.sim.policy import generate, load_policy, random_strings, score

    torch.set_num_threads(1)
    world, path = trained
    prompts = [p.text for p in world.prompts(60, stream="test-eval")]
    model, tok = load_policy(path)
    ours = score(world, prompts, generate(model, tok, prompts, max_new_tokens=32))
    torch.manual_seed(0)
    untrained = GPT2LMHeadModel(model.config).eval()
    base = score(world, prompts, generate(untrained, tok, prompts, max_new_tokens=32, do_sample=True))
    rand = score(world, prompts, random_strings(tok, len(prompts), 12))
    assert ours["well_formed"] > 0.5 > base["well_formed"] + 0.4
    assert ours["quality"] > base["quality"] + 0.2
    assert ours["quality"] > rand["quality"] + 0.2


def test_importing_sim_does_not_import_torch() -> None:
    code = "import sys, tether.sim; tether.sim.World(); print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_policy_can_answer_the_production_stream(trained: tuple[World, Path]) -> None:
    import itertools

    import torch

    from tether.records import EventType
    from tether.sim import ProductionConfig
    from tether.sim.policy import load_policy, responder

    torch.set_num_threads(1)
    world, path = trained
    model, tok = load_policy(path)
    cfg = ProductionConfig(days=3, requests_per_day=10, model="tiny-sft")
    events = list(itertools.islice(world.production_stream(cfg, responder=responder(model, tok)), 20))
    gens = [e for e in events if e.type is EventType.GENERATION]
    assert gens and all(e.model == "tiny-sft" for e in gens)
    # the policy's own text is what gets scored
    assert all(0.0 <= world.gold_reward(e.prompt, e.response)["quality"] <= 1.0 for e in gens)
