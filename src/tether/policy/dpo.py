"""Train a policy with the DPO family on curated preference pairs: one readable loop through `accelerate`.

    pairs (one objective; weight, p_chosen, tie as curated) -> tokenize -> reference log-probs (cached on disk)
          -> length-bucketed batches -> [prompt | chosen | rejected] in one forward -> dpo / cdpo / robust / ipo loss
          -> AdamW step (fp32 masters of a bf16 model) -> metrics, displacement check, checkpoints

The scaffold is `tether.training`; the losses are `tether.policy.losses`. The reference is the starting policy: its
log-probs are computed once before training and kept in `<ref_cache>/ref-logps-<key>.npz`, the key a hash of the
model's weights, the token data and the layout, so a rerun or a resumed run reads them back. Each step's loss,
reward accuracy, margins and log-probs go to `<out>/metrics.jsonl`; `resume=True` continues from the newest checkpoint
and gives the same losses as an uninterrupted run. The result is a Hugging Face folder with `tether_policy.json`.
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tether.policy.config import DPOConfig
from tether.records import PreferencePair


class LikelihoodDisplacementWarning(UserWarning):
    """Chosen and rejected log-probs both fell below the reference: the margin grows by pushing both down."""


@dataclass
class DPOResult:
    path: Path
    steps: int
    pairs_seen: int
    tokens_seen: int
    seconds: float
    final_loss: float
    final_accuracy: float
    n_pairs: int
    n_ties: int
    objective: str
    ref_from_cache: bool
    displacement: dict | None = None
    samples: list[dict] = field(default_factory=list)

    @property
    def pairs_per_second(self) -> float:
        return self.pairs_seen / max(self.seconds, 1e-9)


class DisplacementMonitor:
    """Flags likelihood displacement: the mean chosen *and* rejected log-ratios (policy - reference, nats per
    response) over the last `window` steps both below -`tolerance`. Fires once per run."""

    def __init__(self, tolerance: float, window: int = 10) -> None:
        self.tolerance, self.window = tolerance, window
        self.history: list[tuple[float, float]] = []
        self.event: dict | None = None

    def update(self, step: int, chosen_logratio: float, rejected_logratio: float) -> dict | None:
        """Record one step; the event (a dict) on the step it first fires, else None."""
        self.history.append((chosen_logratio, rejected_logratio))
        recent = self.history[-self.window:]
        if self.event is not None or len(recent) < min(3, self.window):
            return None
        c, r = (float(np.mean(x)) for x in zip(*recent, strict=True))
        if c < -self.tolerance and r < -self.tolerance:
            self.event = {"step": step, "chosen_logratio": round(c, 4), "rejected_logratio": round(r, 4),
                          "message": f"likelihood displacement at step {step}: chosen and rejected log-probs both "
                                     f"fell below the reference (mean over the last {len(recent)} steps: chosen "
                                     f"{c:+.2f}, rejected {r:+.2f} nats); the margin grows by lowering both"}
            warnings.warn(self.event["message"], LikelihoodDisplacementWarning, stacklevel=2)
            return self.event
        return None


def train_dpo(policy: str | Path | tuple[Any, Any], pairs: Sequence[PreferencePair], out_dir: str | Path,
              config: DPOConfig | None = None, *, prompt_format: str | None = None, resume: bool = False,
              progress: bool = True) -> DPOResult:
    """Optimise `policy` (a checkpoint folder, or (model, tokenizer)) on `pairs`; save it to `out_dir`."""
    it = train_dpo_iter(policy, pairs, out_dir, config, prompt_format=prompt_format, resume=resume,
                        progress=progress)
    while True:
        try:
            next(it)
        except StopIteration as done:
            return done.value


def train_dpo_iter(policy: str | Path | tuple[Any, Any], pairs: Sequence[PreferencePair], out_dir: str | Path,
                   config: DPOConfig | None = None, *, prompt_format: str | None = None, resume: bool = False,
                   progress: bool = True) -> Generator[int, None, DPOResult]:
    """`train_dpo` one step at a time: yields 0 once set up (reference log-probs ready), then each completed
    optimizer step; returns the DPOResult. A checkpoint due at a step is written before that step is yielded."""
    from accelerate.utils import set_seed

    from tether.policy.data import encode_pairs, usable_pairs
    from tether.policy.logps import SequenceScorer, reference_logps
    from tether.policy.setup import add_lora, load_causal_lm, prepare_model, total_steps
    from tether.training import make_accelerator, resolve_precision
    from tether.training import resume as resume_from

    cfg = config or DPOConfig()
    kept, objective = usable_pairs(list(pairs), cfg.objective)  # a clear error before any model is loaded
    out = Path(out_dir)
    set_seed(cfg.seed)
    model, tokenizer, fmt = load_causal_lm(policy) if isinstance(policy, str | Path) else (*policy, None)
    fmt = prompt_format or fmt or "{prompt}{answer}"
    precision = resolve_precision(cfg.mixed_precision)
    accelerator = make_accelerator(precision)
    attention = prepare_model(model, tokenizer, precision, accelerator.device)
    if str(getattr(model.config, "_attn_implementation", "")).startswith("flash"):
        cfg = replace(cfg, share_prompt=False)  # flash attention takes no custom (tree) mask
    data = encode_pairs(tokenizer, kept, fmt, cfg.max_length, add_eos=cfg.add_eos, use_weights=cfg.use_weights,
                        use_soft_labels=cfg.use_soft_labels)
    scorer = SequenceScorer(model).to(accelerator.device)
    ref_c, ref_r, cached = reference_logps(scorer, data, tokenizer.pad_token_id,
                                           Path(cfg.ref_cache) if cfg.ref_cache else out / "ref_cache",
                                           shared=cfg.share_prompt, device=accelerator.device,
                                           batch_size=2 * cfg.batch_size, progress=progress)
    sample_prompts = [p.prompt for p in kept[: cfg.samples]] if accelerator.is_main_process else []
    before = _answers(model, tokenizer, fmt, sample_prompts)
    if cfg.lora_r:
        scorer.model = add_lora(model, cfg.lora_r, cfg.lora_alpha)
    total = total_steps(len(data), cfg.batch_size, cfg.epochs, cfg.max_steps)
    opt = _optimization(accelerator, scorer, cfg, precision, total)
    step = resume_from(accelerator, out / "checkpoints") if resume else 0
    opt.model.train()
    yield 0
    t0 = time.perf_counter()
    run = _Run(data, (ref_c, ref_r), tokenizer.pad_token_id, cfg, out, total, DisplacementMonitor(
        cfg.displacement_tolerance))
    yield from _steps(opt, run, step, progress)
    seconds = time.perf_counter() - t0
    trained = opt.trained_model().model
    result = DPOResult(out, run.step, run.pairs, run.tokens, seconds, run.loss, run.accuracy, len(data),
                       int(data.tie.sum()), objective, cached, run.monitor.event)
    if accelerator.is_main_process:
        result.samples = [{"prompt": p, "before": b, "after": a} for p, b, a in
                          zip(sample_prompts, before, _answers(trained, tokenizer, fmt, sample_prompts), strict=True)]
        _save(trained, tokenizer, out, cfg, fmt, policy, result, attention)
    return result


def _optimization(accelerator: Any, scorer: Any, cfg: DPOConfig, precision: str, total: int) -> Any:
    from tether.training import adamw

    return adamw(accelerator, scorer, [cfg.lr], total=total, warmup=cfg.warmup, weight_decay=cfg.weight_decay,
                 master_weights=precision == "bf16", max_grad_norm=cfg.max_grad_norm)


@dataclass
class _Run:
    """A run's fixed inputs and its running counts."""

    data: Any
    ref: tuple[np.ndarray, np.ndarray]
    pad_id: int
    cfg: DPOConfig
    out: Path
    total: int
    monitor: DisplacementMonitor
    step: int = 0
    pairs: int = 0
    tokens: int = 0
    loss: float = float("nan")
    accuracy: float = float("nan")


def _steps(opt: Any, run: _Run, start: int, show: bool) -> Generator[int, None, None]:
    """Train from `start` to `run.total`: progress, metrics log, displacement check, periodic checkpoints."""
    from tether.policy.setup import micro_batches, schedule
    from tether.training import MetricsLog, progress, save_checkpoint

    cfg, accelerator = run.cfg, opt.accelerator
    run.step = start
    with (progress(f"DPO ({cfg.loss})", run.total, show) as advance,
          MetricsLog(run.out, cfg.log_with, start_step=start, enabled=accelerator.is_main_process,
                     run_name=run.out.name) as log):
        advance(start)
        for s, idx in schedule(run.data.lengths(cfg.share_prompt), cfg.batch_size, cfg.seed, cfg.bucket, start,
                               run.total, accelerator):
            parts = micro_batches(idx, cfg.grad_accum)
            stats = []
            for k, part in enumerate(parts):
                loss, st = _loss(opt.model, run, part, len(idx), accelerator)
                if k < len(parts) - 1:
                    accelerator.backward(loss)  # accumulate; the last part's backward is in opt.step
                else:
                    opt.step(loss)
                stats.append(st)
            run.step = s + 1
            row = _log_row(stats, run, opt.lr, opt.grad_norm)
            log.log(run.step, **row)
            run.monitor.update(run.step, row["logratio_chosen"], row["logratio_rejected"])
            advance(1)
            if cfg.save_every and run.step % cfg.save_every == 0 and run.step < run.total:
                save_checkpoint(accelerator, run.out / "checkpoints", run.step)
            yield run.step


def _loss(scorer: Any, run: _Run, idx: list[int], n_batch: int, accelerator: Any) -> tuple[Any, dict]:
    """The pairs `idx`'s share of the batch loss (summed pair losses / pairs in the batch) and their statistics."""
    import torch

    from tether.policy.data import pack_pairs

    data, cfg, dev = run.data, run.cfg, accelerator.device
    packed = pack_pairs(data, idx, run.pad_id, cfg.share_prompt).to(dev)
    with accelerator.autocast():
        logps = scorer(packed)
    n = len(idx)
    pc, pr = logps[:n], logps[n:]
    t = {k: torch.as_tensor(getattr(data, k)[idx], device=dev) for k in ("weight", "p_chosen", "tie")}
    rc, rr = (torch.as_tensor(a[idx], dtype=pc.dtype, device=dev) for a in run.ref)
    out = _pair_losses(cfg, pc, pr, rc, rr, t, data, idx)
    losses = out.losses
    if cfg.sft_weight:  # RPO (Pang et al. 2024): the chosen answer's NLL per token, weighted like its pair
        n_tok = torch.tensor([len(data.chosen[i]) for i in idx], dtype=pc.dtype, device=dev).clamp(min=1.0)
        losses = losses + cfg.sft_weight * t["weight"].to(pc.dtype) * (-pc / n_tok)
    margin = (out.chosen_rewards - out.rejected_rewards).detach()
    real = ~t["tie"]
    stats = {"loss": float(losses.detach().sum()), "n": n, "ties": int(t["tie"].sum()), "tokens": packed.tokens,
             "correct": float((margin[real] > 0).sum()), "decided": int(real.sum()), "margin": float(margin.sum()),
             "chosen_reward": float(out.chosen_rewards.sum()), "rejected_reward": float(out.rejected_rewards.sum()),
             "logp_chosen": float(pc.detach().sum()), "logp_rejected": float(pr.detach().sum()),
             "logratio_chosen": float((pc.detach() - rc).sum()), "logratio_rejected": float((pr.detach() - rr).sum())}
    return losses.sum() / n_batch, stats


def _pair_losses(cfg: DPOConfig, pc: Any, pr: Any, rc: Any, rr: Any, t: dict, data: Any, idx: list[int]) -> Any:
    import torch

    from tether.policy.losses import dpo_loss, ipo_loss, robust_dpo_loss

    labels = {"weight": t["weight"], "p_chosen": t["p_chosen"], "tie": t["tie"], "beta": cfg.beta}
    if cfg.loss == "sigmoid":
        return dpo_loss(pc, pr, rc, rr, **labels)
    if cfg.loss == "cdpo":
        return dpo_loss(pc, pr, rc, rr, label_smoothing=cfg.label_smoothing, **labels)
    if cfg.loss == "robust":
        return robust_dpo_loss(pc, pr, rc, rr, flip_rate=cfg.label_smoothing, **labels)
    if cfg.loss == "ipo":
        lengths = [torch.tensor([len(x[i]) for i in idx], device=pc.device) for x in (data.chosen, data.rejected)]
        return ipo_loss(pc, pr, rc, rr, chosen_lengths=lengths[0], rejected_lengths=lengths[1], **labels)
    raise ValueError(f"unknown DPO loss {cfg.loss!r}: choose sigmoid, ipo, cdpo or robust")


def _log_row(stats: list[dict], run: _Run, lr: float, grad_norm: float) -> dict[str, float]:
    """One metrics record from a step's micro-batch statistics; updates the run's counts."""
    tot = {k: sum(s[k] for s in stats) for k in stats[0]}
    n = max(1, tot["n"])
    run.pairs += tot["n"]
    run.tokens += tot["tokens"]
    run.loss = tot["loss"] / n
    run.accuracy = tot["correct"] / tot["decided"] if tot["decided"] else float("nan")
    row = {"loss": run.loss, "lr": lr, "accuracy": run.accuracy, "grad_norm": grad_norm,
           "ties": float(tot["ties"]), "pairs": float(tot["n"]), "tokens": float(tot["tokens"])}
    for key in ("margin", "chosen_reward", "rejected_reward", "logp_chosen", "logp_rejected", "logratio_chosen",
                "logratio_rejected"):
        row[key] = tot[key] / n
    return {k: v for k, v in row.items() if math.isfinite(v)}  # no NaN in the log (an all-tie batch: no accuracy)


def _answers(model: Any, tokenizer: Any, fmt: str, prompts: list[str]) -> list[str]:
    """Greedy answers (for the report's before / after samples)."""
    if not prompts:
        return []
    from tether.policy.data import PromptFormat
    from tether.policy.generation import generate

    template = PromptFormat.parse(fmt).template
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    longest = max(len(ids) for ids in tokenizer([template.replace("{prompt}", p) for p in prompts])["input_ids"])
    new_tokens = min(64, limit - longest) if limit else 64  # never past the model's positions
    if new_tokens <= 0:
        return [""] * len(prompts)
    was_training = model.training
    model.eval()
    model.config.use_cache = True
    try:
        return generate(model, tokenizer, prompts, prompt_format=template, max_new_tokens=new_tokens)
    finally:
        model.config.use_cache = False
        model.train(was_training)


def _save(model: Any, tokenizer: Any, out: Path, cfg: DPOConfig, fmt: str, policy: Any, result: DPOResult,
          attention: str | None) -> None:
    from tether.policy.setup import save_policy

    parent = str(Path(policy).resolve()) if isinstance(policy, str | Path) else None
    meta = {"prompt_format": fmt + ((tokenizer.eos_token or "") if cfg.add_eos else ""), "stage": "dpo",
            "parent": parent, "train_config": asdict(cfg),
            "result": {k: v for k, v in asdict(result).items() if k != "samples"}}
    save_policy(model, tokenizer, out, meta, attention)
    if (out / "checkpoints").exists() and not cfg.save_every:
        shutil.rmtree(out / "checkpoints")
