"""Offline policy-optimisation settings (SFT, the DPO family), defined once: the CLI options of `tether policy sft`
and `tether policy dpo` and tether.toml's [sft] / [dpo] keys derive from them.

Kept free of heavy imports, so building the command line does not load torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from tether.config import setting

DPOLoss = Literal["sigmoid", "ipo", "cdpo", "robust"]


@dataclass
class SFTConfig:
    """Hyper-parameters of one supervised fine-tuning run (loss on the completion tokens only)."""

    cli_names: ClassVar[dict[str, str]] = {"mixed_precision": "precision"}

    prompt_format: str = setting("{prompt}{answer}", "how a prompt and its answer form one text; whitespace before "
                                 "{answer} belongs to the answer (the sim's: '{prompt}\\nAnswer: {answer}')")
    epochs: float = setting(1.0, "passes over the examples")
    max_steps: int | None = setting(None, "stop after this many optimizer steps (overrides epochs)")
    max_seconds: float | None = setting(None, "time budget: stop after this many seconds of training (the schedule "
                                        "then decays over the budget; such a run is not exactly resumable)")
    batch_size: int = setting(16, "examples per optimizer step")
    grad_accum: int = setting(1, "micro-batches per optimizer step (batch_size is split among them)")
    lr: float = setting(2e-5, "peak learning rate")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    warmup: float = setting(0.03, "fraction of the steps (or of the time budget) with linear warm-up")
    max_grad_norm: float | None = setting(1.0, "clip the gradient norm to this, as TRL does (0: no clipping)")
    max_length: int = setting(512, "tokens per prompt + answer (the prompt loses its start first)")
    add_eos: bool = setting(True, "end each answer with the tokenizer's EOS token")
    seed: int = setting(0, "seed of initialisation and batch order")
    mixed_precision: str = setting("auto", "auto (bf16 where the hardware has it), bf16 (fp32 master weights) or no")
    # off by default: where length tracks the kind of example, bucketed batches are one kind each, and SFT at a
    # high learning rate then swings between them (the sim's policy learned ten times less)
    bucket: bool = setting(False, "length-bucketed batches (less padding; each batch then holds similar examples)")
    save_every: int = setting(0, "checkpoint every N steps, for --resume (0: only at the end)")
    log_with: str = setting("jsonl", "metrics log, comma-separated: jsonl (<out>/metrics.jsonl), tensorboard, mlflow")


@dataclass
class DPOConfig:
    """Hyper-parameters of one DPO-family run on curated preference pairs (plain values, nanoGPT style)."""

    cli_names: ClassVar[dict[str, str]] = {"mixed_precision": "precision", "use_weights": "weights",
                                           "use_soft_labels": "soft-labels"}

    loss: DPOLoss = setting("sigmoid", "sigmoid (DPO), ipo, cdpo (label smoothing) or robust")
    beta: float = setting(0.1, "strength of the tie to the reference (IPO: its tau)")
    label_smoothing: float = setting(0.1, "cdpo: assumed label-flip rate; robust: the flip rate it de-biases")
    sft_weight: float = setting(0.0, "add this times the chosen answers' NLL per token (RPO; holds the chosen "
                                "likelihood up against displacement)")
    objective: str | None = setting(None, "train on the pairs of this objective (needed when the data has several)")
    epochs: float = setting(1.0, "passes over the pairs")
    max_steps: int | None = setting(None, "stop after this many optimizer steps (overrides epochs)")
    batch_size: int = setting(8, "pairs per optimizer step")
    grad_accum: int = setting(1, "micro-batches per optimizer step (batch_size is split among them)")
    lr: float = setting(5e-6, "peak learning rate")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    warmup: float = setting(0.1, "fraction of the steps with linear warm-up")
    max_grad_norm: float | None = setting(1.0, "clip the gradient norm to this, as TRL does (0: no clipping)")
    max_length: int = setting(512, "tokens per prompt + response (the prompt loses its start first)")
    add_eos: bool = setting(True, "end each response with the tokenizer's EOS token (as TRL does)")
    seed: int = setting(0, "seed of initialisation and batch order")
    mixed_precision: str = setting("auto", "auto (bf16 where the hardware has it), bf16 (fp32 master weights) or no")
    bucket: bool = setting(True, "length-bucketed batches (little padding)")
    # one forward per pair: prompt, chosen and rejected in one row, the rejected tokens masked from the chosen ones
    share_prompt: bool = setting(True, "score chosen and rejected over one copy of the prompt (tree attention mask)")
    use_weights: bool = setting(True, "the audit's per-pair weights multiply each pair's loss")
    use_soft_labels: bool = setting(True, "p_chosen as the target probability")
    ref_cache: str | None = setting(None, "folder of cached reference log-probs (default: <out>/ref_cache)")
    displacement_tolerance: float = setting(0.5, "warn when chosen and rejected log-probs both fall more than this "
                                            "(nats per response, averaged over recent steps) below the reference")
    lora_r: int = setting(0, "LoRA rank (0: train every weight); needs the peft package")
    lora_alpha: float = setting(16.0, "LoRA scaling alpha")
    save_every: int = setting(0, "checkpoint every N steps, for --resume (0: only at the end)")
    log_with: str = setting("jsonl", "metrics log, comma-separated: jsonl (<out>/metrics.jsonl), tensorboard, mlflow")
    samples: int = setting(4, "prompts whose answers before and after training go in the report (0: none)")
