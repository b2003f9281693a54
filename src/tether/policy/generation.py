"""Load a causal LM policy from a local checkpoint folder and generate from it: batched, left-padded, seeded.

`generate`: answers as text (HF `generate`). `rollout`: what online RL needs, k samples per prompt with a KV cache
and no `generate` overhead, token ids, masks, log-probs, stop strings, left truncation to the context.
`vllm_texts`: the same from vLLM, an optional extra."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass
class Rollout:
    """Sampled completions of a batch of prompts, as the trainer needs them.

    Rows are prompt-major: `k` adjacent rows per prompt (`prompt_index[row]` is the prompt's position in the
    list given). `input_ids` ``(B, P + T)`` is the left-padded prompt (width P) followed by the completion;
    `attention_mask` is the prompt's mask followed by ones (the mask the tokens were sampled under);
    `completion_mask` ``(B, T)`` is 1 on each completion's tokens up to and including its EOS or the token
    that completed a stop string; `logprobs` ``(B, T)`` (when asked) are the sampled tokens' log-probabilities
    under the sampling distribution (temperature applied). `truncated`: prompts cut from the left to fit."""

    prompt_index: list[int]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_width: int
    completion_mask: torch.Tensor
    texts: list[str]
    truncated: int = 0
    logprobs: torch.Tensor | None = None

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.input_ids[:, self.prompt_width :]

    @property
    def lengths(self) -> torch.Tensor:
        """Tokens in each completion, ``(B,)``."""
        return self.completion_mask.sum(-1)


def context_size(model: Any) -> int | None:
    """The model's context window in tokens (None: unknown)."""
    cfg = model.config
    return getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)


def encode_prompts(tokenizer: Any, prompts: list[str], *, prompt_format: str = "{prompt}", limit: int | None,
                   strict: bool = False) -> tuple[list[list[int]], int]:
    """Token ids of each formatted prompt, each cut from the left to at most `limit` tokens; and how many were cut.

    `strict`: a prompt longer than `limit` raises ValueError naming it instead."""
    ids = tokenizer([prompt_format.replace("{prompt}", p) for p in prompts])["input_ids"]
    if limit is not None and limit < 1:
        raise ValueError(f"no room for a prompt: the context leaves {limit} tokens after the completion")
    long = [i for i, x in enumerate(ids) if limit is not None and len(x) > limit]
    if long and strict:
        i = long[0]
        raise ValueError(f"prompt {i} has {len(ids[i])} tokens, more than the {limit} that fit the context "
                         f"({len(long)} prompts too long); shorten them or allow left truncation")
    return [x[-limit:] if limit is not None else x for x in ids], len(long)


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r) :] = 1
    return ids, mask


def _next_tokens(logits: torch.Tensor, *, do_sample: bool, temperature: float, top_k: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of each row and its log-probability under the (temperature-scaled) distribution."""
    logp = torch.log_softmax(logits.float() / (temperature if do_sample else 1.0), -1)
    if not do_sample:
        tok = logp.argmax(-1)
    else:
        weights = logp.exp()
        if top_k and top_k < weights.shape[-1]:
            kth = weights.topk(top_k, -1).values[:, -1:]
            weights = weights.masked_fill(weights < kth, 0.0)
        tok = torch.multinomial(weights, 1, generator=generator).squeeze(-1)
    return tok, logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def rollout(model: Any, tokenizer: Any, prompts: list[str], *, k: int = 1, prompt_format: str = "{prompt}",
            max_new_tokens: int = 48, do_sample: bool = True, temperature: float = 1.0, top_k: int = 0,
            stop: Sequence[str] = (), seed: int = 0, max_prompt_tokens: int | None = None, strict: bool = False,
            return_logprobs: bool = False) -> Rollout:
    """`k` completions of each prompt in one batch, sampled with a KV cache (no `generate` in between).

    Prompts longer than the context less `max_new_tokens` (or than `max_prompt_tokens`) are cut from the left,
    counted in `Rollout.truncated` (`strict`: refused). A completion ends at EOS or once its text holds a `stop`
    string (the text is cut before it). Seeded by `seed` alone: the same call gives the same tokens."""
    context = context_size(model)
    limits = [x for x in (max_prompt_tokens, context - max_new_tokens if context else None) if x is not None]
    rows, truncated = encode_prompts(tokenizer, prompts, prompt_format=prompt_format,
                                     limit=min(limits) if limits else None, strict=strict)
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    index = [i for i in range(len(rows)) for _ in range(k)]
    ids, mask = _left_pad([rows[i] for i in index], pad_id)
    device = next(model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    b, width = ids.shape
    tokens = torch.full((b, max_new_tokens), pad_id, dtype=torch.long, device=device)
    logps = torch.zeros((b, max_new_tokens), device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    ends = torch.full((b,), max_new_tokens, dtype=torch.long, device=device)  # completion length per row
    position = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each prompt's positions start at 0
    full_mask, step_ids, extra = mask, ids, _cache_kwargs(model)
    for t in range(max_new_tokens):
        out = model(input_ids=step_ids, attention_mask=full_mask, position_ids=position, use_cache=True, **extra)
        tok, lp = _next_tokens(out.logits[:, -1], do_sample=do_sample, temperature=temperature, top_k=top_k,
                               generator=generator)
        tok = torch.where(done, torch.full_like(tok, pad_id), tok)
        tokens[:, t], logps[:, t] = tok, lp
        finished = ~done & (tok == eos_id)
        if stop:
            finished |= _hits_stop(tokenizer, tokens[:, : t + 1], done, stop)
        ends = torch.where(finished, torch.full_like(ends, t + 1), ends)
        done |= finished
        if bool(done.all()):
            tokens, logps = tokens[:, : t + 1], logps[:, : t + 1]
            break
        step_ids = tok.unsqueeze(-1)
        position = position[:, -1:] + 1
        full_mask = torch.cat([full_mask, full_mask.new_ones((b, 1))], -1)
    completion_mask = (torch.arange(tokens.shape[1], device=device) < ends.unsqueeze(-1)).long()
    texts = [_text(tokenizer, row[: int(n)], stop) for row, n in zip(tokens.tolist(), ends.tolist(), strict=True)]
    return Rollout(index, torch.cat([ids, tokens], -1), torch.cat([mask, torch.ones_like(tokens)], -1), width,
                   completion_mask, texts, truncated, logps * completion_mask if return_logprobs else None)


def _cache_kwargs(model: Any) -> dict[str, Any]:
    """A fresh KV cache under the keyword this transformers version takes (`cache` from 5.2x, else
    `past_key_values`), filled in place by each forward; and only the last position's logits where supported."""
    import inspect

    from transformers import DynamicCache

    params = inspect.signature(model.forward).parameters
    out: dict[str, Any] = {"cache" if "cache" in params else "past_key_values": DynamicCache()}
    if "logits_to_keep" in params:
        out["logits_to_keep"] = 1
    return out


def _hits_stop(tokenizer: Any, tokens: torch.Tensor, done: torch.Tensor, stop: Sequence[str]) -> torch.Tensor:
    """Rows (not yet done) whose completion text now holds a stop string."""
    hit = torch.zeros_like(done)
    for i in (~done).nonzero().flatten().tolist():
        text = tokenizer.decode(tokens[i].tolist(), skip_special_tokens=True)
        hit[i] = any(s in text for s in stop)
    return hit


def _text(tokenizer: Any, ids: list[int], stop: Sequence[str]) -> str:
    text = tokenizer.decode(ids, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    return (text[: min(cuts)] if cuts else text).strip()


def sample_texts(model: Any, tokenizer: Any, prompts: list[str], *, batch_size: int = 64, seed: int = 0,
                 **kw: Any) -> tuple[list[str], int]:
    """`rollout` texts for many prompts, `batch_size` prompts at a time (seeds `seed`, `seed + 1`, ...), and the
    number of prompts truncated; `kw` as `rollout` (k completions per prompt: k adjacent texts)."""
    texts: list[str] = []
    truncated = 0
    for n, i in enumerate(range(0, len(prompts), batch_size)):
        r = rollout(model, tokenizer, prompts[i : i + batch_size], seed=seed + n, **kw)
        texts += r.texts
        truncated += r.truncated
    return texts, truncated


def vllm_texts(path: str | Path, prompts: list[str], *, k: int = 1, prompt_format: str = "{prompt}",
               max_new_tokens: int = 48, temperature: float = 1.0, stop: Sequence[str] = (),
               seed: int = 0) -> list[str]:
    """The same completions as `sample_texts`, from vLLM (`pip install 'tether[vllm]'`, a GPU): k per prompt."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:
        raise ImportError("the vLLM backend needs the optional vllm package: pip install 'tether[vllm]' "
                          "(or use the built-in backend, which needs nothing more)") from exc
    llm = LLM(model=str(path), seed=seed)
    params = SamplingParams(n=k, temperature=temperature, max_tokens=max_new_tokens, stop=list(stop) or None,
                            seed=seed)
    outs = llm.generate([prompt_format.replace("{prompt}", p) for p in prompts], params)
    return [c.text.strip() for o in outs for c in o.outputs]
