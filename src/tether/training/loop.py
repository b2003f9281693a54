"""The optimizer side of a training loop: AdamW on a warm-up/decay schedule stepped through accelerate (on fp32
masters for a bf16 model), checkpoints with resume, and a progress bar."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.training.precision import MasterWeights, fused_ok


@dataclass
class Optimization:
    """A prepared model with its optimizer, schedule and (bf16) master weights; `step(loss)` trains it once."""

    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any
    master: MasterWeights | None = None
    max_grad_norm: float | None = None  # None or 0: no clipping
    grad_norm: float = float("nan")  # the last step's gradient norm before clipping (nan: clipping is off)

    def step(self, loss) -> None:  # noqa: ANN001
        """Backward, the gradient norm clipped to `max_grad_norm`, one optimizer and schedule step, gradients
        cleared. The accumulated gradients of earlier micro-batches (`accelerator.backward`) are clipped together."""
        self.accelerator.backward(loss)
        if self.master is not None:
            self.master.grads_from_model()
        if self.max_grad_norm:
            self.grad_norm = float(self._clip(self.max_grad_norm))
        self.optimizer.step()
        if self.master is not None:
            self.master.copy_to_model()
            self.model.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _clip(self, max_norm: float):  # noqa: ANN202
        """The total norm before clipping: on the fp32 masters of a bf16 model, else through accelerate (which
        unscales fp16 gradients first and knows how a sharded model's norm is taken)."""
        import torch

        if self.master is not None:
            return torch.nn.utils.clip_grad_norm_([m for _, m in self.master.pairs], max_norm)
        return self.accelerator.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None], max_norm)

    @property
    def lr(self) -> float:
        """The first group's learning rate for the next step."""
        return float(self.scheduler.get_last_lr()[0])

    def trained_model(self) -> Any:
        """The model unwrapped, in fp32 (a bf16 model gets its fp32 master weights back), once every process is done."""
        self.accelerator.wait_for_everyone()
        model = self.accelerator.unwrap_model(self.model)
        model.float()
        if self.master is not None:
            self.master.copy_to_model()
        return model


def adamw(accelerator, model, lrs: Sequence[float], group: Callable[[Any], int] = lambda p: 0, *,  # noqa: ANN001
          total: int, warmup: float = 0.0, weight_decay: float = 0.0, master_weights: bool = False,
          max_grad_norm: float | None = None) -> Optimization:
    """Prepare `model` and an AdamW with one parameter group per entry of `lrs` (`group(param)` picks a trainable
    parameter's), linear warm-up over a `warmup` fraction of `total` steps then linear decay to zero.

    `master_weights`: the optimizer steps fp32 copies of a bf16 model's parameters. The schedule and the masters
    are registered for checkpointing (in that order). `max_grad_norm`: each step clips the gradient norm to it
    (None or 0: no clipping)."""
    if max_grad_norm is not None and max_grad_norm < 0:
        raise ValueError(f"max_grad_norm must be positive (0 or None: no clipping), got {max_grad_norm}")
    import torch

    model = accelerator.prepare(model)
    bare = accelerator.unwrap_model(model)
    master = MasterWeights(bare) if master_weights else None
    params: list[list[Any]] = [[] for _ in lrs]
    for p in bare.parameters():
        if p.requires_grad:
            params[group(p)].append(master.of(p) if master else p)
    groups = [{"params": ps, "lr": lr} for ps, lr in zip(params, lrs, strict=True) if ps]
    optimizer = torch.optim.AdamW(groups, weight_decay=weight_decay, fused=fused_ok(accelerator.device))
    warm = max(1, int(warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    # the scheduler is not `prepare`d: accelerate would step it once per process, but every process here
    # takes its share of the *same* global batch, so one step per optimizer step is right
    optimizer = accelerator.prepare(optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if master is not None:
        accelerator.register_for_checkpointing(master)
    return Optimization(accelerator, model, optimizer, scheduler, master, max_grad_norm or None)


def save_checkpoint(accelerator, root: Path, step: int) -> Path:  # noqa: ANN001
    """accelerate state (model, optimizer, registered objects, RNG) and the step, in `root/step-N`."""
    path = root / f"step-{step}"
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "trainer_state.json").write_text(json.dumps({"step": step}))
    return path


def last_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under `root` (None: there is none)."""
    done = [p for p in root.glob("step-*") if (p / "trainer_state.json").is_file()] if root.exists() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def resume(accelerator, root: Path) -> int:  # noqa: ANN001
    """Load the newest checkpoint under `root` into the accelerator; the step it was saved at (0: none)."""
    last = last_checkpoint(root)
    if last is None:
        return 0
    accelerator.load_state(str(last))
    return int(json.loads((last / "trainer_state.json").read_text())["step"])


def progress(description: str, total: int | None, enabled: bool = True) -> contextlib.AbstractContextManager:
    """A rich progress bar over steps yielding `advance(n=1)`; a silent one when not `enabled`."""
    from tether.console import step_progress

    return step_progress(description, total) if enabled else contextlib.nullcontext(lambda n=1: None)
