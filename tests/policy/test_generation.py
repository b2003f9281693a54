"""tether.policy: load a causal LM folder, generate (batched, left-padded, seeded) in any prompt format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 1-layer GPT-2 with a small BPE tokenizer, saved as a plain HF folder (no Tether metadata)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tether.sim.policy import train_tokenizer

    tok = train_tokenizer([f"What is {i} plus {i}?\nAnswer: {2 * i}" for i in range(200)], 300)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                                       eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id))
    out = tmp_path_factory.mktemp("lm")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_prompt_format_is_applied_and_batches_are_left_padded(folder: Path) -> None:
    from tether.policy import generate, load_policy

    model, tok = load_policy(folder)
    prompts = ["What is 3 plus 3?", "What is 12 plus 12, and then what is 40 plus 40?", "Hi"]
    fmt = "Q: {prompt}\nAnswer:"
    batched = generate(model, tok, prompts, prompt_format=fmt, max_new_tokens=8)
    assert batched == generate(model, tok, [fmt.replace("{prompt}", p) for p in prompts], max_new_tokens=8)
    # left padding: a prompt's answer does not depend on the longer prompts batched with it
    assert batched == [generate(model, tok, [p], prompt_format=fmt, max_new_tokens=8)[0] for p in prompts]
    sampled = generate(model, tok, prompts, prompt_format=fmt, do_sample=True, seed=3, max_new_tokens=8)
    assert sampled == generate(model, tok, prompts, prompt_format=fmt, do_sample=True, seed=3, max_new_tokens=8)


def test_prompt_format_of_reads_the_checkpoint_metadata(folder: Path, tmp_path: Path) -> None:
    from tether.policy import META_FILE, prompt_format_of
    from tether.sim.policy import PROMPT_FORMAT

    assert prompt_format_of(folder) == "{prompt}"  # any causal LM: the prompt as is
    (tmp_path / META_FILE).write_text(json.dumps({"prompt_format": PROMPT_FORMAT + " {answer}<|endoftext|>"}))
    assert prompt_format_of(tmp_path) == PROMPT_FORMAT == "{prompt}\nAnswer:"
