"""The simulated world's gold reward as a `tether.policy` evaluator (`tether policy rl/eval --evaluator gold`),
registered by `tether.sim.cli`, so that tether.policy never imports the world (it sits above)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tether.sim.gold import OBJECTIVES
from tether.sim.world import World


class GoldEvaluator:
    """Gold quality, safety, honesty and overall (each in [0, 1], higher is better) of any response to a world
    prompt; a prompt the world did not write has no gold and raises `tether.sim.UnknownPrompt` naming it."""

    def __init__(self, world: World | None = None, objectives: Sequence[str] = OBJECTIVES) -> None:
        self.world = world or World()
        self.objectives = list(objectives)
        self.name = f"sim gold (world seed {self.world.seed})"

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        rows = [self.world.gold_reward(p, r) for p, r in zip(prompts, responses, strict=True)]
        return {o: np.array([r[o] for r in rows], dtype=np.float64) for o in self.objectives}


def gold_evaluator(seed: int = 0) -> GoldEvaluator:
    """The gold evaluator of the world with this seed."""
    return GoldEvaluator(World(seed))
