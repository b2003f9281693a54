"""Load a causal LM policy from a local checkpoint folder and generate answers: batched, left-padded, seeded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

META_FILE = "tether_policy.json"  # a Tether-trained policy's metadata, beside the HF files


def load_policy(path: str | Path) -> tuple[Any, Any]:
    """Model and tokenizer from a checkpoint folder (any causal LM works, not only ours)."""
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.eval()
    return model, tokenizer


def prompt_format_of(path: str | Path) -> str:
    """The prompt template a checkpoint was trained on: the part of its `prompt_format` (in META_FILE) before
    ` {answer}`; `{prompt}` (the prompt as is) for a folder without one."""
    meta = Path(path) / META_FILE
    fmt = json.loads(meta.read_text(encoding="utf-8")).get("prompt_format") if meta.is_file() else None
    return fmt.split("{answer}")[0].rstrip(" ") if fmt else "{prompt}"


@torch.no_grad()
def generate(model: Any, tokenizer: Any, prompts: list[str], *, prompt_format: str = "{prompt}",
             max_new_tokens: int = 48, batch_size: int = 32, do_sample: bool = False, temperature: float = 1.0,
             seed: int = 0) -> list[str]:
    """Answers of a causal LM (greedy by default) to `prompts`, each put in `prompt_format` (its `{prompt}` replaced),
    decoded without special tokens. Batches are left-padded so every prompt ends where its answer starts."""
    torch.manual_seed(seed)
    outs: list[str] = []
    for i in range(0, len(prompts), batch_size):
        chunk = [prompt_format.replace("{prompt}", p) for p in prompts[i : i + batch_size]]
        enc = tokenizer(chunk, return_tensors="pt", padding=True)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                             temperature=temperature if do_sample else None, top_k=0 if do_sample else None,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        for row in gen[:, enc["input_ids"].shape[1] :]:
            outs.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return outs
