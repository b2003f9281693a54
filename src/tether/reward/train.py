"""Train a reward model: one readable loop through `accelerate` (CPU, one GPU or many).

    pairs -> tokenize -> length-bucketed batches -> [chosen; rejected] in one forward
          -> preference_loss (+ center_loss) on each pair's objective head -> AdamW step

The scaffold (precision, fp32 master weights, AdamW schedule, checkpoints, progress, metrics log) is
`tether.training`. Checkpoints (`accelerate` state: model, optimizer, scheduler, RNG) go to `<out>/checkpoints/step-N`;
`resume=True` continues from the newest; each step's loss and learning rate go to `<out>/metrics.jsonl`. The result
is a Hugging Face folder (`save_pretrained` + tokenizer + heads) with `reward_model.json` and `reward_contract.json`.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tether.records import PreferencePair, RewardContract
from tether.reward.config import TrainConfig

STATS_PAIRS = 512


@dataclass
class TrainResult:
    path: Path
    steps: int
    pairs_seen: int
    tokens_seen: int
    seconds: float
    final_loss: float
    contracts: list[RewardContract]

    @property
    def pairs_per_second(self) -> float:
        return self.pairs_seen / max(self.seconds, 1e-9)


def train(pairs: Sequence[PreferencePair], out_dir: str | Path, config: TrainConfig | None = None, *,
          resume: bool = False, progress: bool = True, from_scratch_config=None) -> TrainResult:  # noqa: ANN001
    """Fit a reward model on `pairs` and save it (with contracts) to `out_dir`."""
    it = train_iter(pairs, out_dir, config, resume=resume, progress=progress, from_scratch_config=from_scratch_config)
    while True:
        try:
            next(it)
        except StopIteration as done:
            return done.value


def train_iter(pairs: Sequence[PreferencePair], out_dir: str | Path, config: TrainConfig | None = None, *,
               resume: bool = False, progress: bool = True,
               from_scratch_config=None) -> Generator[int, None, TrainResult]:  # noqa: ANN001
    """`train` one step at a time: yields 0 once set up, then each completed step; returns the TrainResult.

    Lets a caller interleave training with other work (the side-by-side benchmark steps it between TRL steps)."""
    from tether.reward.data import encode
    from tether.training import make_accelerator, resolve_precision
    from tether.training import resume as resume_from

    cfg = config or TrainConfig()
    pairs, objectives = _training_pairs(pairs, cfg)
    precision = resolve_precision(cfg.mixed_precision)
    accelerator = make_accelerator(precision)
    net, tokenizer, attention = _build(cfg, objectives, accelerator.device, from_scratch_config)
    data = encode(tokenizer, pairs, objectives, cfg.max_length, use_weights=cfg.use_weights,
                  use_soft_labels=cfg.use_soft_labels)
    per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps is not None else max(1, round(cfg.epochs * per_epoch))
    opt = _optimization(accelerator, net, cfg, precision, total)
    out = Path(out_dir)
    step = resume_from(accelerator, out / "checkpoints") if resume else 0
    opt.model.train()
    yield 0
    t0 = time.perf_counter()
    counts = yield from _steps(opt, data, tokenizer.pad_token_id, cfg, out, step, total, per_epoch, progress)
    seconds = time.perf_counter() - t0
    model = opt.trained_model()
    model.packed = False  # scoring keeps transformers' forward
    if attention:
        _set_attention(model, attention)  # inference keeps the model's own (SDPA's forward is the fast one)
    contracts: list[RewardContract] = []
    if accelerator.is_main_process:
        contracts = _save(model, tokenizer, pairs, out, cfg, objectives)
        if (out / "checkpoints").exists() and not cfg.save_every:
            shutil.rmtree(out / "checkpoints")
    return TrainResult(out, counts.step, counts.pairs, counts.tokens, seconds, counts.loss, contracts)


def _training_pairs(pairs: Sequence[PreferencePair], cfg: TrainConfig) -> tuple[list[PreferencePair], list[str]]:
    """The pairs a run trains on (an ensemble member's bootstrap resample) and its objectives; seeds the run."""
    from accelerate.utils import set_seed

    pairs = list(pairs)
    if not pairs:
        raise ValueError("no preference pairs to train on")
    objectives = cfg.objectives or sorted({p.objective for p in pairs})
    set_seed(cfg.seed)
    if cfg.bootstrap:  # an ensemble member sees its own resample of the data
        rng = np.random.default_rng(cfg.seed)
        pairs = [pairs[i] for i in rng.integers(0, len(pairs), len(pairs))]
    return pairs, objectives


def _build(cfg: TrainConfig, objectives: list[str], device, from_scratch_config):  # noqa: ANN001, ANN202
    """Backbone + heads and tokenizer (dropout off unless asked for, CPU attention), and the model's own attention."""
    import torch

    from tether.reward import backbones

    net, tokenizer = backbones.build(cfg.backbone, objectives, kind=cfg.kind, from_scratch_config=from_scratch_config)
    if not cfg.dropout:  # a pairwise loss compares two noisy forwards otherwise; also a little faster
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    attention = getattr(net.body.config, "_attn_implementation", None)
    from tether.reward.packed import supports

    # dropout on: the packed forward has none, keep transformers' own
    net.packed = cfg.pack and not cfg.dropout and net.kind == "encoder" and supports(net.body, net.pooling)
    if device.type == "cpu":  # see tether.reward.attention
        from tether.reward.attention import register

        _set_attention(net, register())
    return net, tokenizer, attention


def _optimization(accelerator, net, cfg: TrainConfig, precision: str, total: int):  # noqa: ANN001, ANN202
    """AdamW with the pretrained body and the fresh heads in their own groups; bf16: a bf16 body, fp32 masters."""
    import torch

    from tether.training import adamw

    if precision == "bf16":
        net.body.to(torch.bfloat16)  # the heads stay fp32: they see fp32-pooled features
    head_ids = {id(p) for p in net.heads.parameters()} if net.heads is not None else set()
    return adamw(accelerator, net, [cfg.lr, cfg.head_lr or cfg.lr], lambda p: int(id(p) in head_ids),
                 total=total, warmup=cfg.warmup, weight_decay=cfg.weight_decay, master_weights=precision == "bf16",
                 max_grad_norm=cfg.max_grad_norm)


@dataclass
class _Counts:
    step: int
    pairs: int = 0
    tokens: int = 0
    loss: float = float("nan")


def _steps(opt, data, pad_id: int, cfg: TrainConfig, out: Path, step: int, total: int, per_epoch: int,  # noqa: ANN001
           show: bool) -> Generator[int, None, _Counts]:
    """Train from `step` to `total`, yielding each completed step: progress, metrics log, periodic checkpoints."""
    from tether.training import MetricsLog, progress, save_checkpoint

    accelerator = opt.accelerator
    counts = _Counts(step)
    with (progress(f"training {cfg.name}", total, show) as advance,
          MetricsLog(out, cfg.log_with, start_step=step, enabled=accelerator.is_main_process,
                     run_name=cfg.name) as log):
        advance(step)
        for step_i, idx in _batches(data.lengths(), cfg, step, total, per_epoch, accelerator):
            loss, tokens = _loss(opt.model, data, idx, pad_id, cfg, accelerator)
            opt.step(loss)
            counts.loss = loss.item()
            counts.pairs += len(idx)
            counts.tokens += tokens
            counts.step = step_i + 1
            norm = {"grad_norm": opt.grad_norm} if opt.max_grad_norm else {}  # measured only when clipping
            log.log(counts.step, loss=counts.loss, lr=opt.lr, **norm)
            advance(1)
            yield counts.step
            if cfg.save_every and counts.step % cfg.save_every == 0 and counts.step < total:
                save_checkpoint(accelerator, out / "checkpoints", counts.step)
    return counts


def _batches(lengths, cfg: TrainConfig, start: int, total: int, per_epoch: int, accelerator):  # noqa: ANN001, ANN202
    """Global step -> batch, epoch plans drawn from (seed, epoch) so a resumed run sees the same data."""
    from tether.reward.data import plan_batches

    epoch, plan = -1, []
    for s in range(start, total):
        e = s // per_epoch
        if e != epoch:
            epoch, plan = e, plan_batches(lengths, cfg.batch_size, cfg.seed * 1000 + e, bucket=cfg.bucket)
        batch = plan[s % per_epoch]
        # data parallel: each process takes its share of the batch
        yield s, batch[accelerator.process_index::accelerator.num_processes] or batch


def _loss(net, data, idx, pad_id: int, cfg: TrainConfig, accelerator):  # noqa: ANN001, ANN202
    """preference_loss (+ center_loss) of the pairs `idx` on each pair's objective head, [chosen; rejected] in one
    forward; and the number of tokens it saw."""
    import torch

    from tether.reward.data import pad
    from tether.reward.losses import center_loss, preference_loss

    x, m = pad([data.chosen[i] for i in idx] + [data.rejected[i] for i in idx], pad_id)
    x, m = x.to(accelerator.device), m.to(accelerator.device)
    t = {k: torch.as_tensor(getattr(data, k)[idx], device=accelerator.device)
         for k in ("objective", "weight", "p_chosen", "tie")}
    with accelerator.autocast():
        rewards = net(x, m).float()
    n = len(idx)
    r = rewards.gather(1, torch.cat([t["objective"], t["objective"]]).unsqueeze(1)).squeeze(1)
    rc, rr = r[:n], r[n:]
    loss = preference_loss(rc, rr, weight=t["weight"], p_chosen=t["p_chosen"], tie=t["tie"], margin=cfg.margin,
                           label_smoothing=cfg.label_smoothing, tie_model=cfg.tie_model, nu=cfg.nu)
    if cfg.center_coefficient:
        loss = loss + center_loss(rc, rr, cfg.center_coefficient)
    return loss, int(m.sum())


def _save(model, tokenizer, pairs: list[PreferencePair], out: Path, cfg: TrainConfig,  # noqa: ANN001
          objectives: list[str]) -> list[RewardContract]:
    from tether.reward.data import fingerprint
    from tether.reward.model import score_matrix, write_contracts

    model.save(out)
    tokenizer.save_pretrained(out)
    meta = json.loads((out / "reward_model.json").read_text())
    meta.update(max_length=cfg.max_length, train_config=asdict(cfg), n_pairs=len(pairs))
    (out / "reward_model.json").write_text(json.dumps(meta, indent=2, default=str))
    # normalization stats of each head on the responses it was trained on: both responses of up to
    # STATS_PAIRS pairs per objective (a seeded sample; scoring every pair of a large set outlasts short runs)
    rng = np.random.default_rng(cfg.seed)
    sample = []
    for o in objectives:
        idx = [i for i, p in enumerate(pairs) if p.objective == o]
        sample += sorted(rng.choice(idx, STATS_PAIRS, replace=False)) if len(idx) > STATS_PAIRS else idx
    sampled = [pairs[i] for i in sample]
    scores = score_matrix(model, tokenizer, [p.prompt for p in sampled] * 2,
                          [p.chosen for p in sampled] + [p.rejected for p in sampled], cfg.max_length)
    objs = np.array([p.objective for p in sampled] * 2)
    fp = fingerprint(pairs)
    contracts = []
    for k, o in enumerate(objectives):
        s = scores[objs == o, k] if (objs == o).any() else scores[:, k]
        contracts.append(RewardContract(
            name=f"{cfg.name}/{o}", objective=o, scale="logit",
            normalization={"mean": float(s.mean()), "std": float(s.std()), "n": float(s.size)},
            data_fingerprint=fp))
    write_contracts(out, contracts)
    return contracts


def _set_attention(net, implementation: str) -> None:  # noqa: ANN001
    body = getattr(net, "body", net)
    if hasattr(body, "set_attn_implementation"):
        # an architecture without that implementation keeps its own
        with contextlib.suppress(ValueError, ImportError):
            body.set_attn_implementation(implementation)
