"""Reward-stage settings, defined once: the CLI options and tether.toml's [reward] and [gate] keys derive from them.

Kept free of heavy imports, so building the command line does not load torch or numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from tether.config import setting

TieModel = Literal["half", "davidson"]


@dataclass
class TrainConfig:
    """Hyper-parameters of one reward-model run (plain values, nanoGPT style)."""

    cli_names: ClassVar[dict[str, str]] = {"objectives": "objective", "mixed_precision": "precision",
                                           "use_weights": "weights", "use_soft_labels": "soft-labels"}

    backbone: str = setting("minilm", "local HF checkpoint folder, or 'minilm' (packaged)")
    kind: str = setting("auto", "backbone kind: auto, encoder, causal or seqcls")
    objectives: list[str] | None = setting(None, "heads to train, in order (repeat); default: those in the data")
    epochs: float = setting(1.0, "passes over the pairs")
    max_steps: int | None = setting(None, "stop after this many optimizer steps (overrides epochs)")
    batch_size: int = setting(16, "pairs per optimizer step")
    lr: float = setting(5e-5, "learning rate of the backbone")
    head_lr: float | None = setting(1e-3, "learning rate of the fresh heads (they learn faster than the body)")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    warmup: float = setting(0.05, "fraction of steps with linear warm-up")
    max_grad_norm: float | None = setting(1.0, "clip the gradient norm to this, as TRL does (0: no clipping)")
    max_length: int = setting(256, "tokens per prompt + response")
    seed: int = setting(0, "seed of initialisation and batch order")
    # bf16: the model computes in bf16, AdamW steps fp32 master weights; fp16: autocast + loss scaling
    mixed_precision: str = setting("auto", "auto (bf16 where the hardware has it), bf16, fp16 or no")
    bucket: bool = setting(True, "length-bucketed batches (little padding)")
    pack: bool = setting(True, "BERT-family encoders: train without padded tokens, one fused QKV matmul")
    use_weights: bool = setting(True, "the audit's per-pair weights multiply each pair's loss")
    use_soft_labels: bool = setting(True, "p_chosen as the target probability")
    tie_model: TieModel = setting("half", "ties: half (p = 0.5) or davidson")
    nu: float = setting(1.0, "Davidson tie parameter")
    margin: float | None = setting(None, "margin in the Bradley-Terry loss")
    label_smoothing: float = setting(0.0, "label smoothing of the preference loss")
    center_coefficient: float | None = setting(0.01, "penalty on the mean reward (keeps scores centred)")
    bootstrap: bool = setting(False, "resample pairs with replacement (ensemble members)")
    dropout: bool = setting(False, "keep the backbone's dropout (off by default, as in TRL's RewardConfig)")
    save_every: int = setting(0, "checkpoint every N steps, for --resume (0: only at the end)")
    log_with: str = setting("jsonl", "metrics log, comma-separated: jsonl (<out>/metrics.jsonl), tensorboard, mlflow")
    name: str = setting("reward", "model name in its contracts")
    extra: dict = setting({})


@dataclass
class GateConfig:
    """Thresholds; `None` switches a criterion off."""

    cli_names: ClassVar[dict[str, str]] = {"max_length_correlation": "max-length-corr"}

    min_accuracy: float | None = setting(0.6, "minimum accuracy on the held-out pairs")
    max_ece: float | None = setting(0.1, "maximum calibration error, after temperature scaling")
    max_length_correlation: float | None = setting(0.3, "maximum |Spearman rho| of score vs response length")
    min_matched_accuracy: float | None = setting(None, "minimum accuracy on length-matched pairs")
    min_ceiling_ratio: float | None = setting(None, "minimum accuracy / rater agreement ceiling")
    slice_floors: dict[str, float] = setting({}, '"task_type" (every value) or "domain=medical" -> floor')
    min_slice_n: int = setting(20, "smaller slices are reported, not gated")
