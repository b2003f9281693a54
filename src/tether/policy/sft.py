"""Supervised fine-tuning of a policy: one readable loop through `accelerate` (CPU, one GPU or many).

    (prompt, answer) texts -> prompt_format -> token ids -> length-bucketed batches
          -> NLL of the answer tokens (mean over the batch's answer tokens) -> AdamW step (fp32 masters of bf16)

The scaffold is `tether.training`. Any local causal LM checkpoint works; `tether.sim` trains its small GPT-2 through
this too (the world supplies the model, the tokenizer and the examples). Checkpoints go to `<out>/checkpoints/step-N`,
each step's loss to `<out>/metrics.jsonl`; the result is a Hugging Face folder with `tether_policy.json`.
A time budget (`max_seconds`) ends a run early and decays the learning rate over the budget instead of the steps.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tether.policy.config import SFTConfig


@dataclass
class SFTResult:
    path: Path
    steps: int
    examples_seen: int
    tokens_seen: int
    seconds: float
    final_loss: float
    n_examples: int
    n_params: int


def train_sft(policy: str | Path | tuple[Any, Any], examples: Sequence[tuple[str, str]], out_dir: str | Path,
              config: SFTConfig | None = None, *, resume: bool = False, progress: bool = True,
              meta: dict | None = None) -> SFTResult:
    """Fine-tune `policy` (a checkpoint folder, or (model, tokenizer)) on (prompt, answer) `examples`; save it to
    `out_dir` (`meta` joins the saved tether_policy.json)."""
    it = train_sft_iter(policy, examples, out_dir, config, resume=resume, progress=progress, meta=meta)
    while True:
        try:
            next(it)
        except StopIteration as done:
            return done.value


def train_sft_iter(policy: str | Path | tuple[Any, Any], examples: Sequence[tuple[str, str]], out_dir: str | Path,
                   config: SFTConfig | None = None, *, resume: bool = False, progress: bool = True,
                   meta: dict | None = None) -> Generator[int, None, SFTResult]:
    """`train_sft` one step at a time: yields 0 once set up, then each completed step; returns the SFTResult."""
    from accelerate.utils import set_seed

    from tether.policy.data import encode_examples
    from tether.policy.setup import load_causal_lm, prepare_model, total_steps
    from tether.training import adamw, make_accelerator, resolve_precision
    from tether.training import resume as resume_from

    cfg = config or SFTConfig()
    if not examples:
        raise ValueError("no SFT examples")
    set_seed(cfg.seed)
    model, tokenizer, _ = load_causal_lm(policy) if isinstance(policy, str | Path) else (*policy, None)
    precision = resolve_precision(cfg.mixed_precision)
    accelerator = make_accelerator(precision)
    attention = prepare_model(model, tokenizer, precision, accelerator.device)
    data = encode_examples(tokenizer, examples, cfg.prompt_format, cfg.max_length, add_eos=cfg.add_eos)
    from tether.policy.logps import SequenceScorer

    total = total_steps(len(data), cfg.batch_size, cfg.epochs, cfg.max_steps)
    opt = adamw(accelerator, SequenceScorer(model), [cfg.lr], total=total, warmup=cfg.warmup,
                weight_decay=cfg.weight_decay, master_weights=precision == "bf16", max_grad_norm=cfg.max_grad_norm)
    out = Path(out_dir)
    step = resume_from(accelerator, out / "checkpoints") if resume else 0
    opt.model.train()
    yield 0
    t0 = time.perf_counter()
    if cfg.max_seconds:
        _time_schedule(opt, cfg, total, t0)
    run = _Run(data, tokenizer.pad_token_id, cfg, out, total, t0)
    yield from _steps(opt, run, step, progress)
    seconds = time.perf_counter() - t0
    trained = opt.trained_model().model
    n_params = sum(p.numel() for p in trained.parameters())
    last = run.losses[-10:]
    result = SFTResult(out, run.step, run.examples, run.tokens, seconds,
                       sum(last) / len(last) if last else float("nan"), len(data), n_params)
    if accelerator.is_main_process:
        _save(trained, tokenizer, out, cfg, policy, result, attention, meta)
    return result


def _time_schedule(opt: Any, cfg: SFTConfig, total: int, t0: float) -> None:
    """Warm-up then linear decay over the time budget (or the steps, whichever runs out first): the scaffold's
    schedule is over a step count, which a time budget does not know in advance."""
    budget = float(cfg.max_seconds or 1.0)

    def factor(step: int) -> float:
        frac = min(1.0, max(step / total, (time.perf_counter() - t0) / budget))
        if frac < cfg.warmup:
            return max(frac, 1e-3 * cfg.warmup) / cfg.warmup
        return max(0.0, 1.0 - frac) / max(1e-9, 1.0 - cfg.warmup)

    sched = opt.scheduler
    sched.lr_lambdas = [factor] * len(sched.optimizer.param_groups)
    for group, base in zip(sched.optimizer.param_groups, sched.base_lrs, strict=True):
        group["lr"] = base * factor(0)


@dataclass
class _Run:
    data: Any
    pad_id: int
    cfg: SFTConfig
    out: Path
    total: int
    t0: float
    step: int = 0
    examples: int = 0
    tokens: int = 0
    losses: list[float] | None = None


def _steps(opt: Any, run: _Run, start: int, show: bool) -> Generator[int, None, None]:
    """Train from `start` to `run.total` (or the time budget): progress, metrics log, periodic checkpoints."""
    from tether.policy.setup import micro_batches, schedule
    from tether.training import MetricsLog, progress, save_checkpoint

    cfg, accelerator = run.cfg, opt.accelerator
    run.step, run.losses = start, []
    budget = cfg.max_seconds is not None and cfg.max_seconds > 0
    with (progress("SFT", None if budget else run.total, show) as advance,
          MetricsLog(run.out, cfg.log_with, start_step=start, enabled=accelerator.is_main_process,
                     run_name=run.out.name) as log):
        advance(start)
        for s, idx in schedule(run.data.lengths(), cfg.batch_size, cfg.seed, cfg.bucket, start, run.total,
                               accelerator):
            if budget and time.perf_counter() - run.t0 >= cfg.max_seconds:
                break
            parts = micro_batches(idx, cfg.grad_accum)
            n_tokens = sum(len(run.data.answer[i]) for i in idx)
            loss_sum, tokens = 0.0, 0
            for k, part in enumerate(parts):
                loss, t = _loss(opt.model, run, part, n_tokens, accelerator)
                if k < len(parts) - 1:
                    accelerator.backward(loss)  # accumulate; the last part's backward is in opt.step
                else:
                    opt.step(loss)
                loss_sum += float(loss.detach())
                tokens += t
            run.step, run.examples, run.tokens = s + 1, run.examples + len(idx), run.tokens + tokens
            run.losses.append(loss_sum)
            norm = {"grad_norm": opt.grad_norm} if math.isfinite(opt.grad_norm) else {}  # nan: clipping is off
            log.log(run.step, loss=loss_sum, lr=opt.lr, tokens=float(tokens), **norm)
            advance(1)
            if cfg.save_every and run.step % cfg.save_every == 0 and run.step < run.total:
                save_checkpoint(accelerator, run.out / "checkpoints", run.step)
            yield run.step


def _loss(scorer: Any, run: _Run, idx: list[int], n_tokens: int, accelerator: Any) -> tuple[Any, int]:
    """Summed answer-token NLL of the examples `idx` over the batch's answer tokens, and the tokens seen."""
    from tether.policy.data import pack_sequences

    packed = pack_sequences([run.data.prompt[i] for i in idx], [run.data.answer[i] for i in idx],
                            run.pad_id).to(accelerator.device)
    with accelerator.autocast():
        logps = scorer(packed)
    return -logps.sum() / max(1, n_tokens), packed.tokens


def _save(model: Any, tokenizer: Any, out: Path, cfg: SFTConfig, policy: Any, result: SFTResult,
          attention: str | None, extra: dict | None) -> None:
    from tether.policy.setup import save_policy

    parent = str(Path(policy).resolve()) if isinstance(policy, str | Path) else None
    eos = (tokenizer.eos_token or "") if cfg.add_eos else ""
    meta = {"prompt_format": cfg.prompt_format + eos, "stage": "sft", "parent": parent,
            "train_config": asdict(cfg), "result": asdict(result), **(extra or {})}
    save_policy(model, tokenizer, out, meta, attention)
    if (out / "checkpoints").exists() and not cfg.save_every:
        shutil.rmtree(out / "checkpoints")
