"""Precision: which one a run uses, the accelerator for it, fp32 master weights for a bf16 model, fused AdamW."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_has_bf16() -> bool:
    """True if this CPU has native bf16 matmul (AVX-512 BF16 / AMX), where bf16 autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(setting: str) -> str:
    """`auto`: bf16 on a GPU that has it (else fp16), bf16 on a CPU with native bf16 matmul, else no."""
    import torch

    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "no"


def make_accelerator(precision: str) -> Any:
    """An `accelerate.Accelerator` for `precision` (CPU, one GPU or many).

    bf16 runs without autocast (the caller casts the model, `MasterWeights` keep fp32 copies);
    fp16 needs autocast's loss scaling."""
    from accelerate import Accelerator

    return Accelerator(mixed_precision="fp16" if precision == "fp16" else "no")


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
        """The fp32 master of a model parameter."""
        return self._by_id[id(param)]

    def grads_from_model(self) -> None:
        """The model's (bf16) gradients, as fp32, onto the masters."""
        for p, m in self.pairs:
            m.grad = None if p.grad is None else p.grad.float()

    def copy_to_model(self) -> None:
        """The masters' values into the model's parameters (rounded to their dtype)."""
        import torch

        with torch.no_grad():  # one foreach call: a per-parameter loop costs ~100 dispatches a step
            torch._foreach_copy_([p for p, _ in self.pairs], [m for _, m in self.pairs])

    def state_dict(self) -> dict:
        return {"master": [m.detach() for _, m in self.pairs]}

    def load_state_dict(self, state: dict) -> None:
        import torch

        with torch.no_grad():
            for (_, m), saved in zip(self.pairs, state["master"], strict=True):
                m.copy_(saved)
        self.copy_to_model()


def fused_ok(device) -> bool:  # noqa: ANN001
    """Fused AdamW (one kernel for all parameters; the per-tensor loop cost ~0.7 s a MiniLM step on a CPU)."""
    return device.type in {"cpu", "cuda"}
