"""Load a causal LM policy from a local checkpoint folder and generate from it: batched, left-padded, seeded.

`generate`: answers as text (HF `generate`). `rollout`: what online RL needs, k samples per prompt with a KV cache
and no `generate` overhead, token ids, masks, log-probs, stop strings, left truncation to the context (a plain
GPT-2, such as the built-in sim policy, runs `FastGPT2`: the same math without the module stack). `sample_texts`:
rollout texts for many prompts. `vllm_texts`: the same from vLLM, an optional extra (`pip install 'tether[vllm]'`)."""

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


def fuse_activations(model: Any) -> Any:
    """Swap transformers' `gelu_new` modules (five elementwise ops in Python, each with its own backward) for
    PyTorch's fused tanh GELU: the same function, one kernel forward and backward. The saved model is unchanged."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child).__name__ == "NewGELUActivation":
                setattr(module, name, torch.nn.GELU(approximate="tanh"))
    return model


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
        # inverse CDF, one uniform per row: token i iff cdf[i - 1] <= u < cdf[i], probability p_i (multinomial's
        # draw, at a tenth of its cost on a CPU)
        cdf = weights.cumsum(-1)
        u = torch.rand((weights.shape[0], 1), generator=generator, device=weights.device) * cdf[:, -1:]
        tok = (cdf <= u).sum(-1).clamp(max=weights.shape[-1] - 1)
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
    index = [i for i in range(len(rows)) for _ in range(k)]
    ids, mask = _left_pad([rows[i] for i in index], tokenizer.pad_token_id)
    device = next(model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()  # sample without dropout
    try:
        tokens, logps, ends = _sample_loop(model, tokenizer, ids, mask, max_new_tokens, stop, generator,
                                           do_sample=do_sample, temperature=temperature, top_k=top_k)
    finally:
        model.train(was_training)
    completion_mask = (torch.arange(tokens.shape[1], device=device) < ends.unsqueeze(-1)).long()
    texts = [_text(tokenizer, row[: int(n)], stop) for row, n in zip(tokens.tolist(), ends.tolist(), strict=True)]
    return Rollout(index, torch.cat([ids, tokens], -1), torch.cat([mask, torch.ones_like(tokens)], -1), ids.shape[1],
                   completion_mask, texts, truncated, logps * completion_mask if return_logprobs else None)


def _sample_loop(model: Any, tokenizer: Any, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int,
                 stop: Sequence[str], generator: torch.Generator, **sampling: Any
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode up to `max_new_tokens` for every row: tokens ``(B, T)`` (pad after a row ends), their log-probs and
    each row's completion length (EOS or the token completing a stop string included)."""
    b, width = ids.shape
    device, pad_id, eos_id = ids.device, tokenizer.pad_token_id, tokenizer.eos_token_id
    tokens = torch.full((b, max_new_tokens), pad_id, dtype=torch.long, device=device)
    logps = torch.zeros((b, max_new_tokens), device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    ends = torch.full((b,), max_new_tokens, dtype=torch.long, device=device)
    position = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each prompt's positions start at 0
    full_mask = torch.cat([mask, mask.new_ones((b, max_new_tokens))], -1)
    step = _stepper(model, b, width + max_new_tokens)
    step_ids, start = ids, 0
    for t in range(max_new_tokens):
        logits = step(step_ids, position, full_mask[:, : width + t], start)
        start += step_ids.shape[1]
        tok, lp = _next_tokens(logits, generator=generator, **sampling)
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
    return tokens, logps, ends


def _stepper(model: Any, batch: int, length: int) -> Any:
    """`step(ids, positions, mask, start) -> next-token logits (B, V)`, filling a KV cache; a lean GPT-2 path where
    the model is a plain Hugging Face GPT-2, else the model's own forward."""
    if FastGPT2.supports(model):
        return FastGPT2(model, batch, length)
    extra = _cache_kwargs(model)

    def step(ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
        return model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra).logits[:, -1]

    return step


class FastGPT2:
    """A Hugging Face `GPT2LMHeadModel` run without its module stack: the same weights and math as its forward
    (tests/policy checks log-probs and gradients), for the two hot paths of online RL on a small policy, where
    per-call overhead and padding, not arithmetic, set the pace:

    - decoding (`__call__`): one step with a preallocated KV cache, no mask or output objects per token;
    - scoring completions (`completion_logps`, differentiable): the matmuls run on the real tokens only
      (padding and what follows each EOS dropped, about half of a batch of short answers), attention on the
      padded layout, the lm head only where a completion token is predicted."""

    ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}

    @classmethod
    def supports(cls, model: Any) -> bool:
        """A plain GPT-2 LM (no cross-attention, a GELU), with dropout off or in eval mode (none is applied here)."""
        cfg = model.config
        dropout = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())
        return (type(model).__name__ == "GPT2LMHeadModel" and not getattr(cfg, "add_cross_attention", False)
                and cfg.activation_function in cls.ACTIVATIONS and not (dropout and model.training))

    def __init__(self, model: Any, batch: int = 0, length: int = 0) -> None:
        self.t, self.head = model.transformer, model.lm_head.weight
        cfg = model.config
        self.heads, self.d = cfg.n_head, cfg.n_embd
        self.approximate = self.ACTIVATIONS[cfg.activation_function]
        w = self.t.wte.weight
        shape = (len(self.t.h), batch, self.heads, length, self.d // self.heads)
        self.keys = torch.zeros(shape, dtype=w.dtype, device=w.device) if batch else None
        self.values = torch.zeros(shape, dtype=w.dtype, device=w.device) if batch else None

    def _block(self, blk: Any, x: torch.Tensor, attend: Any) -> torch.Tensor:
        """One transformer block on rows of hidden states ``(N, d)``; `attend(layer, qkv)` -> ``(N, d)``."""
        import torch.nn.functional as F  # noqa: N812

        d = self.d
        y = F.layer_norm(x, (d,), blk.ln_1.weight, blk.ln_1.bias, blk.ln_1.eps)
        a = attend(blk, torch.addmm(blk.attn.c_attn.bias, y, blk.attn.c_attn.weight))
        x = x + torch.addmm(blk.attn.c_proj.bias, a, blk.attn.c_proj.weight)
        y = F.layer_norm(x, (d,), blk.ln_2.weight, blk.ln_2.bias, blk.ln_2.eps)
        y = F.gelu(torch.addmm(blk.mlp.c_fc.bias, y, blk.mlp.c_fc.weight), approximate=self.approximate)
        return x + torch.addmm(blk.mlp.c_proj.bias, y, blk.mlp.c_proj.weight)

    def _heads(self, qkv: torch.Tensor, b: int, n: int) -> torch.Tensor:
        return qkv.view(b, n, 3, self.heads, self.d // self.heads).permute(2, 0, 3, 1, 4)

    def __call__(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
        """Logits ``(B, V)`` after `ids` ``(B, n)`` at `positions`, the cache holding `start` earlier positions;
        `mask` ``(B, start + n)`` is 0 on padding."""
        import torch.nn.functional as F  # noqa: N812

        b, n = ids.shape
        end = start + n
        x = (F.embedding(ids, self.t.wte.weight) + F.embedding(positions, self.t.wpe.weight)).view(b * n, self.d)
        q_at, k_at = torch.arange(start, end, device=ids.device), torch.arange(end, device=ids.device)
        # causal and not padding; every position also sees itself, so a padding row never attends to nothing
        allowed = ((mask[:, None, :end].bool() & (k_at <= q_at[:, None])) | (k_at == q_at[:, None])).unsqueeze(1)
        layers = {id(blk): i for i, blk in enumerate(self.t.h)}

        def attend(blk: Any, qkv: torch.Tensor) -> torch.Tensor:
            q, k, v = self._heads(qkv, b, n)
            keys, values = self.keys[layers[id(blk)]], self.values[layers[id(blk)]]  # type: ignore[index]
            keys[:, :, start:end], values[:, :, start:end] = k, v
            a = F.scaled_dot_product_attention(q, keys[:, :, :end], values[:, :, :end], attn_mask=allowed,
                                               scale=blk.attn.scaling)
            return a.transpose(1, 2).reshape(b * n, self.d)

        for blk in self.t.h:
            x = self._block(blk, x, attend)
        last = F.layer_norm(x.view(b, n, self.d)[:, -1], (self.d,), self.t.ln_f.weight, self.t.ln_f.bias,
                            self.t.ln_f.eps)
        return last @ self.head.t()

    def completion_logps(self, ids: torch.Tensor, keep: torch.Tensor, width: int, completion_mask: torch.Tensor,
                         temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probs ``(B, T)`` of the completion tokens `ids[:, width:]` where `completion_mask` is 1 (0 elsewhere),
        their entropies (detached), and the final hidden state before each ``(B, T, d)``. `keep` ``(B, L)`` is 1 on
        the real tokens (prompt mask, then `completion_mask`)."""
        import torch.nn.functional as F  # noqa: N812

        b, n = ids.shape
        flat = keep.reshape(-1).bool()
        rows = flat.nonzero().squeeze(1)  # the real tokens, packed
        positions = (keep.cumsum(-1) - 1).clamp(min=0).reshape(-1)[rows]
        x = F.embedding(ids.reshape(-1)[rows], self.t.wte.weight) + F.embedding(positions, self.t.wpe.weight)
        at = torch.arange(n, device=ids.device)
        allowed = ((keep[:, None, :].bool() & (at <= at[:, None])) | (at == at[:, None])).unsqueeze(1)

        def attend(blk: Any, qkv: torch.Tensor) -> torch.Tensor:
            padded = qkv.new_zeros(b * n, qkv.shape[1]).index_copy(0, rows, qkv)
            q, k, v = self._heads(padded, b, n)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=blk.attn.scaling)
            return a.transpose(1, 2).reshape(b * n, self.d)[rows]

        for blk in self.t.h:
            x = self._block(blk, x, attend)
        x = F.layer_norm(x, (self.d,), self.t.ln_f.weight, self.t.ln_f.bias, self.t.ln_f.eps)
        # the packed row of each position that predicts a completion token (position width - 1 + t predicts token t)
        packed = torch.full((b * n,), -1, dtype=torch.long, device=ids.device).index_copy(
            0, rows, torch.arange(len(rows), device=ids.device)).view(b, n)
        predicts = completion_mask.bool()
        source = packed[:, width - 1 : n - 1][predicts]
        hidden = x[source]
        logp_all = torch.log_softmax((hidden @ self.head.t()).float() / temperature, -1)
        targets = ids[:, width:][predicts]
        out = torch.zeros(completion_mask.shape, dtype=logp_all.dtype, device=ids.device)
        logps = out.masked_scatter(predicts, logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1))
        with torch.no_grad():
            entropy = out.masked_scatter(predicts, -(logp_all.exp() * logp_all).sum(-1))
        states = hidden.new_zeros((*completion_mask.shape, self.d)).masked_scatter(predicts.unsqueeze(-1), hidden)
        return logps, entropy, states


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
