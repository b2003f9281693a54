"""tether.training: the scaffold every trainer shares (reward models now, policies next). Below the stages.

    precision = resolve_precision("auto")
    accelerator = make_accelerator(precision)             # bf16: cast the model, fp32 masters step
    opt = adamw(accelerator, model, [lr], total=steps, warmup=0.05, master_weights=precision == "bf16")
    step = resume(accelerator, out / "checkpoints")       # 0 for a fresh run
    with progress("training", steps) as advance, MetricsLog(out, start_step=step) as log:
        ...; opt.step(loss); log.log(step, loss=loss.item(), lr=opt.lr); advance(1)
        save_checkpoint(accelerator, out / "checkpoints", step)

Importing this package does not import torch.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "cpu_has_bf16": "precision", "resolve_precision": "precision", "make_accelerator": "precision",
    "MasterWeights": "precision", "fused_ok": "precision",
    "Optimization": "loop", "adamw": "loop", "save_checkpoint": "loop", "last_checkpoint": "loop", "resume": "loop",
    "progress": "loop", "MetricsLog": "metrics", "METRICS_BACKENDS": "metrics",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
