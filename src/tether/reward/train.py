"""Train a reward model: one readable loop through `accelerate` (CPU, one GPU or many).

    pairs -> tokenize -> length-bucketed batches -> [chosen; rejected] in one forward
          -> preference_loss (+ center_loss) on each pair's objective head -> AdamW step

Checkpoints (`accelerate` state: model, optimizer, scheduler, RNG) go to `<out>/checkpoints/step-N`;
`resume=True` continues from the newest. The result is a Hugging Face folder (`save_pretrained` +
tokenizer + heads) with `reward_model.json` and `reward_contract.json`.
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


def cpu_has_bf16() -> bool:
    """True if this CPU has native bf16 matmul (AVX-512 BF16 / AMX), where bf16 autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _precision(setting: str) -> str:
    import torch

    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "no"


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
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from tether.console import step_progress
    from tether.reward import backbones
    from tether.reward.data import encode, pad, plan_batches
    from tether.reward.losses import center_loss, preference_loss

    cfg = config or TrainConfig()
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no preference pairs to train on")
    out = Path(out_dir)
    objectives = cfg.objectives or sorted({p.objective for p in pairs})
    set_seed(cfg.seed)
    if cfg.bootstrap:  # an ensemble member sees its own resample of the data
        rng = np.random.default_rng(cfg.seed)
        pairs = [pairs[i] for i in rng.integers(0, len(pairs), len(pairs))]

    precision = _precision(cfg.mixed_precision)
    # bf16 runs without autocast (see MasterWeights); fp16 needs autocast's loss scaling
    accelerator = Accelerator(mixed_precision="fp16" if precision == "fp16" else "no")
    net, tokenizer = backbones.build(cfg.backbone, objectives, kind=cfg.kind, from_scratch_config=from_scratch_config)
    if not cfg.dropout:  # a pairwise loss compares two noisy forwards otherwise; also a little faster
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    attention = getattr(net.body.config, "_attn_implementation", None)
    if accelerator.device.type == "cpu":  # see tether.reward.attention
        from tether.reward.attention import register

        _set_attention(net, register())
    data = encode(tokenizer, pairs, objectives, cfg.max_length, use_weights=cfg.use_weights,
                  use_soft_labels=cfg.use_soft_labels)
    lengths = data.lengths()
    per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps is not None else max(1, round(cfg.epochs * per_epoch))

    if precision == "bf16":
        net.body.to(torch.bfloat16)  # the heads stay fp32: they see fp32-pooled features
    head_ids = {id(p) for p in net.heads.parameters()} if net.heads is not None else set()
    net = accelerator.prepare(net)
    master = MasterWeights(accelerator.unwrap_model(net)) if precision == "bf16" else None
    body, head = [], []
    for p in accelerator.unwrap_model(net).parameters():
        if p.requires_grad:
            (head if id(p) in head_ids else body).append(master.of(p) if master else p)
    groups = [{"params": body, "lr": cfg.lr}] + ([{"params": head, "lr": cfg.head_lr or cfg.lr}] if head else [])
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay, fused=_fused_ok(accelerator.device))
    warm = max(1, int(cfg.warmup * total))
    # linear warm-up, then linear decay to zero
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    # the scheduler is not `prepare`d: accelerate would step it once per process, but every process here
    # takes its share of the *same* global batch, so one step per optimizer step is right
    optimizer = accelerator.prepare(optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if master is not None:
        accelerator.register_for_checkpointing(master)

    ckpt_root = out / "checkpoints"
    step = 0
    if resume and (last := _last_checkpoint(ckpt_root)) is not None:
        accelerator.load_state(str(last))
        step = json.loads((last / "trainer_state.json").read_text())["step"]

    def batches_from(start: int):  # noqa: ANN202
        """Global step -> batch, epoch plans drawn from (seed, epoch) so a resumed run sees the same data."""
        epoch, plan = -1, []
        for s in range(start, total):
            e = s // per_epoch
            if e != epoch:
                epoch, plan = e, plan_batches(lengths, cfg.batch_size, cfg.seed * 1000 + e, bucket=cfg.bucket)
            batch = plan[s % per_epoch]
            # data parallel: each process takes its share of the batch
            yield s, batch[accelerator.process_index::accelerator.num_processes] or batch

    net.train()
    pad_id = tokenizer.pad_token_id
    yield 0
    t0, pairs_seen, tokens_seen, loss_value = time.perf_counter(), 0, 0, float("nan")
    with step_progress(f"training {cfg.name}", total) if progress else _null() as advance:
        if step:
            advance(step)
        for step_i, idx in batches_from(step):
            x, m = pad([data.chosen[i] for i in idx] + [data.rejected[i] for i in idx], pad_id)
            x, m = x.to(accelerator.device), m.to(accelerator.device)
            t = {k: torch.as_tensor(getattr(data, k)[idx], device=accelerator.device)
                 for k in ("objective", "weight", "p_chosen", "tie")}
            with accelerator.autocast():
                rewards = net(x, m).float()
            n = len(idx)
            r = rewards.gather(1, torch.cat([t["objective"], t["objective"]]).unsqueeze(1)).squeeze(1)
            rc, rr = r[:n], r[n:]
            loss = preference_loss(rc, rr, weight=t["weight"], p_chosen=t["p_chosen"], tie=t["tie"],
                                   margin=cfg.margin, label_smoothing=cfg.label_smoothing,
                                   tie_model=cfg.tie_model, nu=cfg.nu)
            if cfg.center_coefficient:
                loss = loss + center_loss(rc, rr, cfg.center_coefficient)
            accelerator.backward(loss)
            if master is not None:
                master.grads_from_model()
            optimizer.step()
            if master is not None:
                master.copy_to_model()
                net.zero_grad(set_to_none=True)
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss.item()
            pairs_seen += n
            tokens_seen += int(m.sum())
            step = step_i + 1
            advance(1)
            yield step
            if cfg.save_every and step % cfg.save_every == 0 and step < total:
                _checkpoint(accelerator, ckpt_root, step)
    seconds = time.perf_counter() - t0

    accelerator.wait_for_everyone()
    model = accelerator.unwrap_model(net)
    model.float()
    if master is not None:  # the saved weights are the fp32 masters, not their bf16 copies
        master.copy_to_model()
    if attention:
        _set_attention(model, attention)  # inference keeps the model's own (SDPA's forward is the fast one)
    contracts: list[RewardContract] = []
    if accelerator.is_main_process:
        contracts = _save(model, tokenizer, pairs, out, cfg, objectives)
        if ckpt_root.exists() and not cfg.save_every:
            shutil.rmtree(ckpt_root)
    return TrainResult(out, step, pairs_seen, tokens_seen, seconds, loss_value, contracts)


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


class MasterWeights:
    """fp32 master copies of a bf16 model's trainable parameters: the model computes, the optimizer steps these.

    CPU autocast re-casts weights and activations around every op (a fifth of a MiniLM step in the profile)
    and keeps LayerNorm in fp32; a bf16 model runs the same bf16 matmuls without the casts. Updates far below
    bf16's resolution (lr 5e-5 on weights near 0.05) still accumulate in the fp32 masters."""

    def __init__(self, model) -> None:  # noqa: ANN001
        self.pairs = [(p, p.detach().float().clone().requires_grad_(True)) for p in model.parameters()
                      if p.requires_grad]
        self._by_id = {id(p): m for p, m in self.pairs}

    def of(self, param):  # noqa: ANN001, ANN201
        return self._by_id[id(param)]

    def grads_from_model(self) -> None:
        for p, m in self.pairs:
            m.grad = None if p.grad is None else p.grad.float()

    def copy_to_model(self) -> None:
        import torch

        with torch.no_grad():
            for p, m in self.pairs:
                p.copy_(m)

    def state_dict(self) -> dict:
        return {"master": [m.detach() for _, m in self.pairs]}

    def load_state_dict(self, state: dict) -> None:
        import torch

        with torch.no_grad():
            for (_, m), saved in zip(self.pairs, state["master"], strict=True):
                m.copy_(saved)
        self.copy_to_model()


def _fused_ok(device) -> bool:  # noqa: ANN001
    """Fused AdamW (one kernel for all parameters; the per-tensor loop cost ~0.7 s a MiniLM step on a CPU)."""
    return device.type in {"cpu", "cuda"}


def _set_attention(net, implementation: str) -> None:  # noqa: ANN001
    body = getattr(net, "body", net)
    if hasattr(body, "set_attn_implementation"):
        # an architecture without that implementation keeps its own
        with contextlib.suppress(ValueError, ImportError):
            body.set_attn_implementation(implementation)


def _checkpoint(accelerator, root: Path, step: int) -> None:  # noqa: ANN001
    path = root / f"step-{step}"
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "trainer_state.json").write_text(json.dumps({"step": step}))


def _last_checkpoint(root: Path) -> Path | None:
    done = [p for p in root.glob("step-*") if (p / "trainer_state.json").is_file()] if root.exists() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


class _null:
    def __enter__(self):  # noqa: ANN204
        return lambda n=1: None

    def __exit__(self, *exc: object) -> None:
        return None
