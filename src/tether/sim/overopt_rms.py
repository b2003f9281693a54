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
    """Member evaluators of `overall` aggregated per answer (`tether.reward.ensemble.aggregate` over their z-scores):
    n-gram probes, and optionally causal reward models beside them (each z-scored through its contract, so the
    members' scores share one footing)."""

    objectives = ("overall",)

    def __init__(self, members: list[Any], aggregation: str, lam: float, name: str = "ensemble") -> None:
        self.members, self.aggregation, self.lam, self.name = members, aggregation, lam, name

    def member_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """[k, n]: each member's z-scores (what the study's disagreement diagnostics read)."""
        return np.stack([np.asarray(m(prompts, responses)["overall"], dtype=np.float64) for m in self.members])

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        from tether.reward.ensemble import aggregate

        return {"overall": aggregate(self.member_scores(prompts, responses), self.aggregation,  # type: ignore[arg-type]
                                     self.lam)}


def probe_iterations(evaluator: Any) -> int | None:
    """L-BFGS iterations a probe evaluator (or all of an ensemble's members) took; None for other reward models."""
    if isinstance(evaluator, ProbeEnsemble):  # a mixed ensemble counts its probes only
        return sum(m.model.iterations for m in evaluator.members if isinstance(m, ProbeEvaluator))
    return evaluator.model.iterations if isinstance(evaluator, ProbeEvaluator) else None


def train_reward_model(pairs: list[PreferencePair], backbone: Path, out: Path, name: str, cfg: OveroptConfig,
                       members: int = 1, causal_members: int = 0) -> Any:
    """A reward model as an evaluator: on the start policy's own body (z-scored through its contract), or the n-gram
    probe (`cfg.rm == "ngram"`, z-scored on its training answers); with `members` > 1 an ensemble of probes on
    bootstrap resamples sharing the single probe's iteration budget. `causal_members` > 0 adds that many causal
    reward models (another model family: other blind spots) to the probes in one ensemble (bootstrap resamples,
    seeds seed + i, when more than one)."""
    kind = cfg.rm if name != "heldout" or cfg.heldout_rm == "same" else cfg.heldout_rm
    if kind == "ngram":
        from tether.reward.probe import NgramReward

        if members == 1 and causal_members == 0:
            return ProbeEvaluator(NgramReward(max_iter=cfg.probe_iters).fit(pairs), pairs, name=f"ngram {name}")
        if members == 1:
            parts: list[Any] = [ProbeEvaluator(NgramReward(max_iter=cfg.probe_iters).fit(pairs), pairs,
                                               name=f"ngram {name}")]
        else:
            rng = np.random.default_rng(cfg.seed)
            parts = []
            for i in range(members):
                boot = [pairs[j] for j in rng.integers(0, len(pairs), len(pairs))]
                parts.append(ProbeEvaluator(NgramReward(max_iter=cfg.probe_iters // members).fit(boot), boot,
                                            name=f"ngram {name} member {i}"))
        parts += [train_causal(pairs, backbone, out / f"causal-{i}", f"{name}-causal-{i}", cfg, seed=cfg.seed + i,
                               bootstrap=causal_members > 1) for i in range(causal_members)]
        family = f"ngram x{members}" + (f" + causal x{causal_members}" if causal_members else "")
        return ProbeEnsemble(parts, cfg.aggregation, cfg.lam, name=f"{family} {name} ({cfg.aggregation})")
    return train_causal(pairs, backbone, out, name, cfg, seed=cfg.seed)


def train_causal(pairs: list[PreferencePair], backbone: Path, out: Path, name: str, cfg: OveroptConfig, *,
                 seed: int, bootstrap: bool = False) -> Any:
    """A reward model on the start policy's own body, as an evaluator (z-scored through its contract)."""
    from tether.policy.evaluators import load_evaluator
    from tether.reward.config import TrainConfig
    from tether.reward.train import train

    tc = TrainConfig(backbone=str(backbone), kind="causal", epochs=cfg.rm_epochs, batch_size=16, lr=cfg.rm_lr,
                     mixed_precision="no", seed=seed, name=name, max_length=160, bootstrap=bootstrap)
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
