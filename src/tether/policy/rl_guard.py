"""The over-optimisation monitor wired into a trainer: sample held-out answers, score them, act on the decision.

`Guard.check(model, ref, tokenizer, step)` samples one answer per held-out prompt (the same seed at every check:
common random numbers, so a change between checks is the policy's, not the sampler's), scores it with the proxy
(the training evaluator, weighted as in training), the held-out evaluator and, if given, the truth (the sim's
gold: shown in the report, never used to decide), measures sqrt(KL) to the reference on those answers, and hands
all of it to `OverOptMonitor`. It keeps the best check's weights; `act` raises the KL coefficient when the gap
opens, and on the alarm rolls back. Used by `tether.policy.rl` and by the TRL callback (`tether.policy.trl_callback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tether.policy.attribution import check_attribution
from tether.policy.evaluators import Evaluator, weighted_reward
from tether.policy.monitor import BestWeights, OverOptMonitor, SequentialAlarm

MIN_KL_COEF = 0.01  # what "raise" means for a run that had none


def heldout_weights(heldout: Evaluator, weights: dict[str, float]) -> dict[str, float]:
    """How the held-out evaluator's scores become one: the training weights if it scores all their objectives,
    else its only objective; anything else is ambiguous and refused (before any work)."""
    if all(o in heldout.objectives for o in weights):
        return weights
    if len(heldout.objectives) == 1:
        return {heldout.objectives[0]: 1.0}
    name = getattr(heldout, "name", type(heldout).__name__)
    raise ValueError(f"held-out evaluator {name} scores {', '.join(heldout.objectives)}: not all of the trained "
                     f"objectives ({', '.join(weights)}) and more than one; give it one objective or all of them")


@dataclass
class Guard:
    """The monitor, its evaluators and prompts, and what the run does on its decisions."""

    prompts: list[str]
    proxy: Evaluator
    weights: dict[str, float]
    heldout: Evaluator
    truth: Evaluator | None = None
    every: int = 10
    rollback: bool = True
    prompt_format: str = "{prompt}"
    max_new_tokens: int = 48
    temperature: float = 1.0
    stop: Sequence[str] = ()
    seed: int = 0
    monitor: OverOptMonitor = field(default_factory=OverOptMonitor)
    best: BestWeights = field(default_factory=BestWeights)
    best_master: list[torch.Tensor] | None = None
    slices: Sequence[str] | None = None  # a label per held-out prompt (e.g. task type): attribution per slice too
    heldout_w: dict[str, float] = field(init=False)
    _first_scores: dict[str, np.ndarray] | None = field(default=None, init=False)
    _best_scores: dict[str, np.ndarray] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if len(self.prompts) < 2:
            raise ValueError(f"the monitor needs at least 2 held-out prompts, got {len(self.prompts)}")
        if self.every < 1:
            raise ValueError(f"monitor_every must be >= 1, got {self.every}")
        if self.slices is not None and len(self.slices) != len(self.prompts):
            raise ValueError(f"{len(self.slices)} slice labels for {len(self.prompts)} held-out prompts")
        self.heldout_w = heldout_weights(self.heldout, self.weights)

    @classmethod
    def build(cls, prompts: Sequence[str], proxy: Evaluator, weights: dict[str, float], heldout: Evaluator, *,
              level: float = 0.05, horizon: int = 50, allowance: float = 0.5, raise_kl: float = 2.0,
              proxy_gate: float = 0.0, **kw: Any) -> Guard:
        monitor = OverOptMonitor(SequentialAlarm(level, horizon, allowance), raise_kl=raise_kl, proxy_gate=proxy_gate)
        return cls(list(prompts), proxy, weights, heldout, monitor=monitor, **kw)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    @torch.no_grad()
    def check(self, model: Any, ref: Any, tokenizer: Any, step: int) -> dict[str, Any]:
        """One check of `model` (an HF causal LM) against `ref` (None: sqrt(KL) taken as 0, the reference itself)."""
        from tether.policy.generation import rollout
        from tether.policy.rl import Actor

        was_training = model.training
        model.eval()
        r = rollout(model, tokenizer, self.prompts, k=1, prompt_format=self.prompt_format,
                    max_new_tokens=self.max_new_tokens, temperature=self.temperature, stop=self.stop,
                    seed=self.seed * 1_000_003 + 7919)
        model.train(was_training)
        rows = [self.prompts[i] for i in r.prompt_index]
        scores = self.proxy(rows, r.texts)
        proxy = weighted_reward(scores, self.weights)
        held_scores = {o: np.asarray(v, dtype=np.float64) for o, v in self.heldout(rows, r.texts).items()}
        held = weighted_reward(held_scores, self.heldout_w)
        gold = None
        if self.truth is not None:
            truth = self.truth(rows, r.texts)
            gold = weighted_reward(truth, self.heldout_w if all(o in truth for o in self.heldout_w)
                                   else {next(iter(truth)): 1.0})
        sqrt_kl = 0.0
        if ref is not None:
            mask = r.completion_mask
            logps = Actor(model)(r.input_ids, r.attention_mask, r.prompt_width, self.temperature, mask)[0]
            ref_logps = Actor(ref)(r.input_ids, r.attention_mask, r.prompt_width, self.temperature, mask)[0]
            kl = float(((logps - ref_logps) * mask).sum(-1).mean())
            sqrt_kl = max(kl, 0.0) ** 0.5
        attribution = None
        if self._first_scores is None:
            self._first_scores = held_scores
        else:
            attribution = check_attribution(
                self._first_scores, self._best_scores, held_scores, self.heldout_w,
                below_best=held.mean() <= self.monitor.best["heldout"],
                slices=None if self.slices is None else [self.slices[i] for i in r.prompt_index])
        rec = self.monitor.observe(step, sqrt_kl, proxy, held, r.texts, scores, gold, heldout_objectives=held_scores,
                                   attribution=attribution)
        if rec["is_best"]:
            self._best_scores = held_scores
        return rec

    def keep_if_best(self, rec: dict[str, Any], module: Any, master: Any = None) -> None:
        """Keep `module`'s weights (and bf16 masters) when this check is the best by held-out score."""
        if rec["is_best"]:
            self.best.keep(module, rec["step"])
            if master is not None:
                self.best_master = [m.detach().clone() for _, m in master.pairs]

    def restore(self, module: Any, master: Any = None) -> int:
        step = self.best.restore(module)
        if master is not None and self.best_master is not None:
            with torch.no_grad():
                for (_, m), saved in zip(master.pairs, self.best_master, strict=True):
                    m.copy_(saved)
        return step

    def raised_coef(self, rec: dict[str, Any], coef: float) -> float | None:
        """The new KL coefficient if this check opened the gap (recorded with why), else None."""
        if not rec["raise_kl"] or self.monitor.raise_kl <= 1:  # a factor of 1 turns the raise off
            return None
        new = max(coef * self.monitor.raise_kl, MIN_KL_COEF)
        self.monitor.record_kl_raise(rec["step"], coef, new, rec)
        return new


def metric_fields(rec: dict[str, Any]) -> dict[str, float]:
    """The check's numbers for the metrics log, under `monitor/` (flags as a count; booleans as 0/1)."""
    out = {}
    for k, v in rec.items():
        if k == "step":
            continue
        if k == "sig_flags":
            out["monitor/sig_flags"] = float(len(v))
        elif isinstance(v, bool | int | float | np.floating):
            out[f"monitor/{k}"] = float(v)
    return out
