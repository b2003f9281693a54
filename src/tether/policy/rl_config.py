"""Online-RL settings, defined once: `tether policy rl`'s options and tether.toml's [rl] keys derive from them.

Kept free of heavy imports, so building the command line does not load torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from tether.config import setting

Algorithm = Literal["grpo", "rloo", "ppo"]
KLPlace = Literal["auto", "reward", "loss"]
KLControl = Literal["fixed", "adaptive", "budget"]


@dataclass
class RLConfig:
    """Hyper-parameters of one online-RL run (plain values, nanoGPT style)."""

    cli_names: ClassVar[dict[str, str]] = {"objectives": "objective", "mixed_precision": "precision",
                                           "completions_per_prompt": "k", "stop": "stop",
                                           "constraints": "constraint"}

    algorithm: Algorithm = setting("grpo", "grpo (group-normalised), rloo (leave-one-out) or ppo (value head, GAE)")
    objectives: list[str] = setting(["overall"], "objective to maximise, NAME or NAME=WEIGHT (repeat; weighted sum)")
    constraints: list[str] = setting([], "constraint: mean cost <= threshold, PID-Lagrangian: NAME>=V (objective), "
                                         "cost:NAME<=V (objective that is a cost), length<=WORDS, refusal<=RATE "
                                         "(repeat)")
    pid: str = setting("0.1,0.05,0", "constraints: the multipliers' PID gains KP,KI,KD (Stooke et al. 2020)")
    steps: int = setting(100, "optimizer steps (each on one batch of fresh completions)")
    prompts_per_step: int = setting(4, "prompts per step")
    completions_per_prompt: int = setting(4, "completions sampled per prompt (k)")
    max_new_tokens: int = setting(48, "tokens per completion at most")
    temperature: float = setting(1.0, "sampling temperature (the log-probs are taken at it too)")
    top_k: int = setting(0, "sample from the k likeliest tokens (0: all)")
    stop: list[str] = setting([], "stop string: a completion ends once its text holds it (repeat)")
    max_prompt_tokens: int | None = setting(None, "cut prompts to this many tokens from the left (default: to fit)")
    strict_prompts: bool = setting(False, "refuse prompts too long for the context instead of cutting them")
    lr: float = setting(1e-5, "learning rate")
    warmup: float = setting(0.0, "fraction of steps with linear warm-up (then linear decay to 0)")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    max_grad_norm: float | None = setting(1.0, "clip the gradient norm to this (0: no clipping)")
    epochs: int = setting(1, "passes over each batch of completions (PPO epochs; >1 makes the ratio clip bite)")
    clip: float = setting(0.2, "PPO ratio clip epsilon")
    scale_rewards: str = setting("group", "GRPO: divide by the group's std (group), the batch's (batch) or not (none)")
    kl_coef: float = setting(0.05, "KL coefficient (fixed: constant; adaptive and budget: the starting value)")
    kl_control: KLControl = setting("fixed", "fixed, adaptive (to --kl-target) or budget (stop past --max-sqrt-kl)")
    kl_in: KLPlace = setting("auto", "KL in the reward (rloo, ppo) or in the loss (grpo); auto: as named")
    kl_estimator: str | None = setting(None, "k1, k2 or k3 (default: k1 in the reward, k3 in the loss)")
    kl_target: float = setting(6.0, "adaptive: KL target in nats per completion")
    kl_horizon: float = setting(10000.0, "adaptive: horizon in completions")
    max_sqrt_kl: float = setting(2.0, "budget: stop once sqrt(KL per completion) exceeds this")
    monitor_every: int = setting(0, "over-optimisation monitor: score the held-out prompts every N steps (0: off)")
    stop_on_alarm: bool = setting(True, "monitor: stop the run at the alarm (off: record it and go on, as a "
                                    "study's unguarded arm does)")
    rollback: bool = setting(True, "monitor: on the alarm, roll back to the best check's weights (else keep the last)")
    alarm_level: float = setting(0.05, "monitor: false-alarm rate of the sequential alarm over --alarm-horizon checks")
    alarm_horizon: int = setting(50, "monitor: checks the false-alarm rate is controlled over")
    alarm_proxy_gate: float = setting(0.0, "monitor: the alarm counts a check only when the proxy rose by more than "
                                      "this many standard errors of the change (0: any rise)")
    kl_raise: float = setting(2.0, "monitor: factor the KL coefficient is raised by when the proxy/held-out gap opens "
                              "(1: never raised)")
    value_coef: float = setting(0.1, "PPO: weight of the value loss")
    value_clip: float = setting(0.2, "PPO: value clip")
    gamma: float = setting(1.0, "PPO: discount")
    lam: float = setting(0.95, "PPO: GAE lambda")
    seed: int = setting(0, "seed of prompt order and sampling")
    mixed_precision: str = setting("no", "no (fp32), bf16 (bf16 model, fp32 master weights) or auto")
    save_every: int = setting(0, "checkpoint every N steps, for --resume (0: only at the end)")
    sample_every: int = setting(10, "keep a few samples every N steps for the report")
    log_with: str = setting("jsonl", "metrics log, comma-separated: jsonl (<out>/metrics.jsonl), tensorboard, mlflow")
    name: str = setting("policy", "run name")

    def check(self) -> RLConfig:
        """Raise ValueError naming the first setting out of range; the config itself when all are fine."""
        if self.algorithm not in ("grpo", "rloo", "ppo"):
            raise ValueError(f"algorithm must be grpo, rloo or ppo, got {self.algorithm!r}")
        if self.completions_per_prompt < 2 and self.algorithm != "ppo":
            raise ValueError(f"{self.algorithm} compares completions of a prompt: completions_per_prompt must be "
                             f">= 2, got {self.completions_per_prompt}")
        if self.kl_control not in ("fixed", "adaptive", "budget"):
            raise ValueError(f"kl_control must be fixed, adaptive or budget, got {self.kl_control!r}")
        if self.kl_in not in ("auto", "reward", "loss"):
            raise ValueError(f"kl_in must be auto, reward or loss, got {self.kl_in!r}")
        if self.kl_estimator not in (None, "k1", "k2", "k3"):
            raise ValueError(f"kl_estimator must be k1, k2 or k3, got {self.kl_estimator!r}")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ValueError(f"scale_rewards must be group, batch or none, got {self.scale_rewards!r}")
        if self.monitor_every < 0:
            raise ValueError(f"monitor_every must be >= 0, got {self.monitor_every}")
        if not 0 < self.alarm_level < 1:
            raise ValueError(f"alarm_level must be in (0, 1), got {self.alarm_level}")
        if self.alarm_horizon < 2:
            raise ValueError(f"alarm_horizon must be >= 2, got {self.alarm_horizon}")
        if self.alarm_proxy_gate < 0:
            raise ValueError(f"alarm_proxy_gate must be >= 0, got {self.alarm_proxy_gate}")
        if self.kl_raise < 1:
            raise ValueError(f"kl_raise must be >= 1 (the monitor only raises the KL), got {self.kl_raise}")
        from tether.policy.constraints import PIDGains, parse_constraints

        parse_constraints(self.constraints)
        PIDGains.parse(self.pid)
        for name in ("steps", "prompts_per_step", "max_new_tokens", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        return self

    @property
    def kl_place(self) -> str:
        """Where the KL goes: the reward (RLOO, PPO) or the loss (GRPO), unless set."""
        if self.kl_in != "auto":
            return self.kl_in
        return "loss" if self.algorithm == "grpo" else "reward"

    @property
    def estimator(self) -> str:
        """The KL estimator: k1 in the reward (TRL's RLOO and PPO), k3 in the loss (GRPO), unless set."""
        return self.kl_estimator or ("k3" if self.kl_place == "loss" else "k1")


@dataclass
class EvalConfig:
    """How `tether policy eval` samples a policy's answers."""

    cli_names: ClassVar[dict[str, str]] = {"completions_per_prompt": "k"}

    completions_per_prompt: int = setting(1, "completions per prompt")
    max_new_tokens: int = setting(48, "tokens per completion at most")
    temperature: float = setting(0.0, "sampling temperature (0: greedy)")
    stop: list[str] = setting([], "stop string (repeat)")
    batch_size: int = setting(64, "prompts per generation batch")
    seed: int = setting(0, "sampling seed")
    backend: str = setting("torch", "torch (built in) or vllm (needs the vllm extra and a GPU)")
