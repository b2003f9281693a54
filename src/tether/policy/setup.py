"""What the SFT and DPO trainers share around their loops: loading a policy, precision and attention, gradient
clipping on the scaffold's optimizer, the step -> batch schedule, LoRA, and saving the trained policy."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tether.policy.data import BUCKET_POOL, META_FILE, ensure_pad_token, format_of, plan_batches


def load_causal_lm(path: str | Path) -> tuple[Any, Any, str | None]:
    """Model, tokenizer and the prompt format it was trained with (None: not a Tether-trained policy) of a local
    checkpoint folder; a tokenizer without a pad token falls back to EOS with a warning."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a local Hugging Face checkpoint folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return model, tokenizer, format_of(path)


def prepare_model(model: Any, tokenizer: Any, precision: str, device: Any) -> str | None:
    """Dropout off (a pairwise loss compares two noisy forwards otherwise), bf16 weights for a bf16 run (fp32 masters
    step them), matmul attention on a CPU (tether.reward.attention), pad token, left padding for generation.

    Returns the model's own attention implementation, which `save_policy` puts back."""
    ensure_pad_token(tokenizer)
    tokenizer.padding_side = "left"
    own = getattr(model.config, "_attn_implementation", None)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    _fused_gelu(model)
    if precision == "bf16":
        model.to(torch.bfloat16)
    if device.type == "cpu" and hasattr(model, "set_attn_implementation"):
        import contextlib

        from tether.reward.attention import register

        with contextlib.suppress(ValueError, ImportError):  # an architecture without it keeps its own
            model.set_attn_implementation(register())
    model.config.use_cache = False
    return own


def _fused_gelu(model: Any) -> None:
    """GPT-2's tanh-approximate GELU written out in Python ops (NewGELUActivation: six passes over the MLP's
    activations) becomes PyTorch's one-kernel GELU with the same tanh approximation (a fifth of a CPU step)."""
    try:
        from transformers.activations import NewGELUActivation, PytorchGELUTanh
    except ImportError:  # pragma: no cover - older / newer transformers: keep the model's own
        return
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is NewGELUActivation:
                setattr(module, name, PytorchGELUTanh())


def add_lora(model: Any, r: int, alpha: float) -> Any:
    """Wrap `model` in LoRA adapters of rank `r` on every linear layer but the LM head (needs `peft`)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ModuleNotFoundError("LoRA (--lora-r) needs the peft package: pip install peft", name="peft") from exc
    return get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))


def schedule(lengths: np.ndarray, batch_size: int, seed: int, bucket: bool, start: int, total: int,
             accelerator: Any) -> Iterator[tuple[int, list[int]]]:
    """Global step -> this process's share of the batch, epoch plans drawn from (seed, epoch): a resumed run sees
    the same batches as an uninterrupted one."""
    per_epoch = max(1, -(-len(lengths) // batch_size))
    epoch, plan = -1, []
    for s in range(start, total):
        e = s // per_epoch
        if e != epoch:
            epoch, plan = e, plan_batches(lengths, batch_size, seed * 1000 + e, bucket=bucket, pool=BUCKET_POOL)
        batch = plan[s % per_epoch]
        yield s, batch[accelerator.process_index::accelerator.num_processes] or batch


def micro_batches(idx: Sequence[int], n: int) -> list[list[int]]:
    """`idx` in `n` near-equal consecutive parts (gradient accumulation); empty parts dropped."""
    k = -(-len(idx) // max(1, n))
    return [list(idx[i:i + k]) for i in range(0, len(idx), k)]


def total_steps(n: int, batch_size: int, epochs: float, max_steps: int | None) -> int:
    """Optimizer steps of a run: `max_steps`, else `epochs` passes of `n` examples."""
    return max_steps if max_steps is not None else max(1, round(epochs * -(-n // batch_size)))


def save_policy(model: Any, tokenizer: Any, out: Path, meta: dict[str, Any], attention: str | None = None) -> Any:
    """A plain Hugging Face folder (LoRA merged into the weights, the model's own attention) with Tether's metadata
    beside it; returns the saved model."""
    import contextlib

    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if attention and hasattr(model, "set_attn_implementation"):
        with contextlib.suppress(ValueError, ImportError):
            model.set_attn_implementation(attention)
    model.config.use_cache = True
    if model.generation_config is not None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return model
