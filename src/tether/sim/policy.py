"""The built-in small policy: a GPT-2-architecture LM with a BPE tokenizer trained on the world's text.

SFT on the world's reference answers (loss on answer tokens only), saved as a normal Hugging Face
checkpoint folder; loading and generation are `tether.policy`'s, here in the world's prompt format.
torch / transformers / tokenizers are imported here only, never by `tether.sim`.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from tether.policy.generation import META_FILE, load_policy
from tether.policy.generation import generate as generate_any
from tether.sim.config import PolicyConfig
from tether.sim.gold import OBJECTIVES, components
from tether.training import progress

if TYPE_CHECKING:
    from tether.sim.world import World

EOS = "<|endoftext|>"
ANSWER = "\nAnswer:"
PROMPT_FORMAT = "{prompt}" + ANSWER  # what the policy is conditioned on; the answer follows it


def format_prompt(prompt: str) -> str:
    """The text the policy is conditioned on; the answer follows it."""
    return PROMPT_FORMAT.replace("{prompt}", prompt)


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2 style) trained on the world's text."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS,
                                   unk_token=EOS)
    fast.padding_side = "left"  # generation pads on the left so every prompt ends where the answer starts
    return fast


def _examples(tokenizer: PreTrainedTokenizerFast, pairs: list[tuple[str, str]], max_len: int
              ) -> list[tuple[list[int], int]]:
    """(token ids, number of prompt tokens) per example, truncated to `max_len`."""
    prompt_ids = tokenizer([format_prompt(p) for p, _ in pairs])["input_ids"]
    answer_ids = tokenizer([" " + a for _, a in pairs])["input_ids"]
    out = []
    for p_ids, a_ids in zip(prompt_ids, answer_ids, strict=True):
        ids = (p_ids + a_ids + [tokenizer.eos_token_id])[:max_len]
        out.append((ids, min(len(p_ids), len(ids))))
    return out


def _batch(examples: list[tuple[list[int], int]], pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    inputs = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (ids, n_prompt) in enumerate(examples):
        inputs[i, : len(ids)] = torch.tensor(ids)
        labels[i, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])  # loss on the answer only (SFT)
        mask[i, : len(ids)] = 1
    return inputs, labels, mask


@dataclass(frozen=True)
class PolicyResult:
    """What a policy training run produced."""

    path: str
    steps: int
    seconds: float
    n_params: int
    final_loss: float
    examples: int


def train_policy(world: World, out_dir: str | Path, config: PolicyConfig | None = None,
                 show_progress: bool = True) -> PolicyResult:
    """SFT a small GPT-2 from scratch on the world's reference answers; save it to `out_dir`."""
    cfg = config or PolicyConfig()
    out = Path(out_dir)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    prompts = world.prompts(cfg.train_prompts)
    pairs = [(p.text, p.reference) for p in prompts]
    tokenizer = train_tokenizer([f"{format_prompt(p)} {a}" for p, a in pairs], cfg.vocab_size)
    examples = _examples(tokenizer, pairs, cfg.n_positions)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    ))
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    model.train()
    start = time.perf_counter()
    step, loss_ema = 0, float("nan")
    order: list[int] = []
    total = cfg.max_steps if cfg.max_steps < 100_000 else None  # a time budget has no known step count
    with progress(f"SFT policy ({n_params / 1e6:.2f}M params)", total, show_progress) as advance:
        while step < cfg.max_steps:
            elapsed = time.perf_counter() - start
            if elapsed >= cfg.max_seconds:
                break
            if len(order) < cfg.batch_size:
                order = list(range(len(examples)))
                rng.shuffle(order)
            batch = [examples[order.pop()] for _ in range(cfg.batch_size)]
            inputs, labels, mask = _batch(batch, tokenizer.eos_token_id)
            # linear warm-up, then cosine decay over the time budget (steps are unknown in advance)
            frac = min(1.0, max(elapsed / cfg.max_seconds, step / cfg.max_steps))
            warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
            lr = cfg.lr * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
            for group in opt.param_groups:
                group["lr"] = lr
            loss = model(input_ids=inputs, attention_mask=mask, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            value = float(loss.detach())
            loss_ema = value if math.isnan(loss_ema) else 0.9 * loss_ema + 0.1 * value
            step += 1
            advance(1)
    seconds = time.perf_counter() - start
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    result = PolicyResult(str(out), step, round(seconds, 2), n_params, round(loss_ema, 4), len(examples))
    meta = {"world_seed": world.seed, "config": cfg.model_dump(), "result": asdict(result),
            "prompt_format": PROMPT_FORMAT + " {answer}" + EOS}  # tether.policy.prompt_format_of reads it
    (out / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return result


def generate(model: Any, tokenizer: Any, prompts: list[str], **kw: Any) -> list[str]:
    """Answers of a causal LM to world prompts (`tether.policy.generate` in the world's prompt format)."""
    return generate_any(model, tokenizer, prompts, prompt_format=PROMPT_FORMAT, **kw)


def responder(model: Any, tokenizer: Any, max_new_tokens: int = 48) -> Callable[[str, random.Random], str]:
    """A production-stream responder backed by a causal LM (sampled, seeded by the stream's rng)."""

    def respond(prompt: str, rng: random.Random) -> str:
        return generate(model, tokenizer, [prompt], max_new_tokens=max_new_tokens, do_sample=True,
                        seed=rng.getrandbits(31))[0]

    return respond


def random_strings(tokenizer: Any, n: int, length: int, seed: int = 0) -> list[str]:
    """Baseline: strings of uniformly random tokens."""
    rng = random.Random(seed)
    vocab = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    ids = [i for i in range(vocab) if i not in special]
    return [tokenizer.decode([rng.choice(ids) for _ in range(length)]).strip() for _ in range(n)]


def score(world: World, prompts: list[str], responses: list[str]) -> dict[str, float]:
    """Mean gold reward per objective, plus the share of well-formed answers (fluent, on topic, short)."""
    rewards = [world.gold_reward(p, r) for p, r in zip(prompts, responses, strict=True)]
    out = {o: sum(r[o] for r in rewards) / len(rewards) for o in OBJECTIVES}
    comps = [components(p, r, world.config.gold) for p, r in zip(prompts, responses, strict=True)]
    out["correct"] = sum(c.correct for c in comps) / len(comps)
    out["well_formed"] = sum(c.fluency >= 0.9 and c.relevance >= 0.5 and 0 < c.words <= 60 for c in comps) / len(comps)
    return out


def evaluate_policy(world: World, path: str | Path, n: int = 200, seed: int = 1) -> dict[str, float]:
    """Mean gold reward of a checkpoint's greedy answers on `n` held-out world prompts (own random stream)."""
    texts = [p.text for p in world.prompts(n, stream=f"policy-eval-{seed}")]
    model, tokenizer = load_policy(path)
    return score(world, texts, generate(model, tokenizer, texts))


__all__ = ["PROMPT_FORMAT", "PolicyResult", "evaluate_policy", "format_prompt", "generate", "load_policy",
           "random_strings", "responder", "score", "train_policy", "train_tokenizer"]
