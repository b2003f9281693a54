"""The built-in small policy: a GPT-2-architecture LM with a BPE tokenizer trained on the world's text.

SFT on the world's reference answers (loss on answer tokens only) by `tether.policy`'s SFT trainer, saved as a
normal Hugging Face checkpoint folder; loading and generation are `tether.policy`'s, here in the world's prompt format.
torch / transformers / tokenizers are imported here only, never by `tether.sim`.
"""

from __future__ import annotations

import json
import random
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

if TYPE_CHECKING:
    from tether.sim.world import World

EOS = "<|endoftext|>"
ANSWER = "\nAnswer:"
PROMPT_FORMAT = "{prompt}" + ANSWER  # what the policy is conditioned on; the answer follows it
PRECISION = "no"  # fp32: at 128 wide, bf16's casts cost more than its matmuls save


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
                 show_progress: bool = True, examples: list[tuple[str, str]] | None = None) -> PolicyResult:
    """SFT a small GPT-2 from scratch on the world's reference answers (`tether.policy`'s SFT); save it to `out_dir`.

    The world supplies what is its own: the examples, a BPE tokenizer trained on its text, the untrained GPT-2.
    `examples`: (prompt, answer) pairs to imitate instead of the references (e.g. a styled writer's answers,
    `tether.sim.overopt`'s styled start policy)."""
    from tether.policy.config import SFTConfig
    from tether.policy.sft import train_sft

    cfg = config or PolicyConfig()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    pairs = examples if examples is not None else [(p.text, p.reference) for p in world.prompts(cfg.train_prompts)]
    tokenizer = train_tokenizer([f"{format_prompt(p)} {a}" for p, a in pairs], cfg.vocab_size)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    ))
    bounded = cfg.max_steps < 100_000  # else the time budget ends the run: ~10 warm-up steps are ~3% of 45 s here
    sft = SFTConfig(prompt_format=PROMPT_FORMAT + " {answer}", max_steps=cfg.max_steps, max_seconds=cfg.max_seconds,
                    batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=0.01,
                    warmup=cfg.warmup_steps / cfg.max_steps if bounded else 0.03, max_grad_norm=1.0,
                    max_length=cfg.n_positions, seed=cfg.seed, mixed_precision=PRECISION)
    res = train_sft((model, tokenizer), pairs, out_dir, sft, progress=show_progress,
                    meta={"world_seed": world.seed, "config": cfg.model_dump()})
    result = PolicyResult(str(out_dir), res.steps, round(res.seconds, 2), res.n_params, round(res.final_loss, 4),
                          res.n_examples)
    meta_path = Path(out_dir) / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["result"] = asdict(result)
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
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
