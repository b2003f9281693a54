"""The over-optimisation study's reward models (`tether.sim.overopt`): trained on simulated raters' labels of the
start policy's own samples — on the policy's own body (`kind="causal"`), or the n-gram probe and bootstrap ensembles
of probes — each as an evaluator of `overall`, and their pairwise accuracy against gold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tether.records import PreferencePair
from tether.sim.world import World

if TYPE_CHECKING:
    from tether.sim.overopt import OveroptConfig


class ProbeEvaluator:
    """The n-gram probe reward model (`tether.reward.probe.NgramReward`) as an evaluator of `overall`, z-scored by
    the mean and SD of its scores on its own training answers (as a reward model's contract normalizes)."""

    objectives = ("overall",)

    def __init__(self, model: Any, pairs: list[PreferencePair], name: str = "ngram") -> None:
        self.model, self.name = model, name
        prompts = [p.prompt for p in pairs] * 2
        train = model.score(prompts, [p.chosen for p in pairs] + [p.rejected for p in pairs])
        self.mean, self.sd = float(train.mean()), float(train.std()) or 1.0
        model.clear_cache()  # the training answers' features are not needed again

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        self.model.clear_cache(above=200_000)
        return {"overall": (self.model.score(list(prompts), list(responses)) - self.mean) / self.sd}


class ProbeEnsemble:
    """Probe evaluators aggregated per answer (`tether.reward.ensemble.aggregate` over their z-scores)."""

    objectives = ("overall",)

    def __init__(self, members: list[ProbeEvaluator], aggregation: str, lam: float, name: str = "ensemble") -> None:
        self.members, self.aggregation, self.lam, self.name = members, aggregation, lam, name

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        from tether.reward.ensemble import aggregate

        scores = np.stack([m(prompts, responses)["overall"] for m in self.members])
        return {"overall": aggregate(scores, self.aggregation, self.lam)}  # type: ignore[arg-type]


def probe_iterations(evaluator: Any) -> int | None:
    """L-BFGS iterations a probe evaluator (or all of an ensemble's members) took; None for other reward models."""
    if isinstance(evaluator, ProbeEnsemble):
        return sum(m.model.iterations for m in evaluator.members)
    return evaluator.model.iterations if isinstance(evaluator, ProbeEvaluator) else None


def train_reward_model(pairs: list[PreferencePair], backbone: Path, out: Path, name: str, cfg: OveroptConfig,
                       members: int = 1) -> Any:
    """A reward model as an evaluator: on the start policy's own body (z-scored through its contract), or the n-gram
    probe (`cfg.rm == "ngram"`, z-scored on its training answers); with `members` > 1 an ensemble of probes on
    bootstrap resamples sharing the single probe's iteration budget."""
    kind = cfg.rm if name != "heldout" or cfg.heldout_rm == "same" else cfg.heldout_rm
    if kind == "ngram":
        from tether.reward.probe import NgramReward

        if members == 1:
            return ProbeEvaluator(NgramReward(max_iter=cfg.probe_iters).fit(pairs), pairs, name=f"ngram {name}")
        rng = np.random.default_rng(cfg.seed)
        parts = []
        for i in range(members):
            boot = [pairs[j] for j in rng.integers(0, len(pairs), len(pairs))]
            parts.append(ProbeEvaluator(NgramReward(max_iter=cfg.probe_iters // members).fit(boot), boot,
                                        name=f"ngram {name} member {i}"))
        return ProbeEnsemble(parts, cfg.aggregation, cfg.lam, name=f"ngram {name} x{members} ({cfg.aggregation})")
    from tether.policy.evaluators import load_evaluator
    from tether.reward.config import TrainConfig
    from tether.reward.train import train

    tc = TrainConfig(backbone=str(backbone), kind="causal", epochs=cfg.rm_epochs, batch_size=16, lr=cfg.rm_lr,
                     mixed_precision="no", seed=cfg.seed, name=name, max_length=160)
    train(pairs, out, tc, progress=False)
    return load_evaluator(out)


def pairwise_accuracy(evaluator: Any, world: World, pairs: list[PreferencePair]) -> float:
    """How often the evaluator orders a pair as gold does (gold ties left out)."""
    decided = [(p, world.gold_label(p.prompt, p.chosen, p.rejected)) for p in pairs]
    decided = [(p, g) for p, g in decided if g != "tie"]
    if not decided:
        return float("nan")
    s_c = evaluator([p.prompt for p, _ in decided], [p.chosen for p, _ in decided])["overall"]
    s_r = evaluator([p.prompt for p, _ in decided], [p.rejected for p, _ in decided])["overall"]
    right = [(c > r) == (g == "a") for c, r, (_, g) in zip(s_c, s_r, decided, strict=True)]
    return float(np.mean(right))
