"""A sampling policy made of the world's writer, and simulated raters' labels of its own samples.

The policy rows of the guards table (over-optimisation, one monolithic reward) need a policy to optimise and a
reward model trained on that policy's own answers; an RL run is too slow for the demo, so the policy is a
distribution over response styles (wrong fact, verbose, hedging, sycophantic, disfluent, unsafe on a risky prompt)
rendered by `World.respond`, and the optimiser is best-of-n. As tether.sim's over-optimisation study warns, a proxy
trained on the world's candidate pairs does not transfer to a policy's samples, so the labels here are the
simulated raters' judgments of two samples of the policy itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from tether.records import Choice, PreferencePair
from tether.sim.campaign import CandidatePair, run_campaign
from tether.sim.config import CampaignConfig
from tether.sim.prompts import SimPrompt
from tether.sim.raters import SimRater
from tether.sim.responses import Style
from tether.sim.styled import StylePolicy
from tether.sim.world import World


def label_own_samples(world: World, policy: StylePolicy, prompts: Sequence[SimPrompt], raters: list[SimRater],
                      objective: str, stream: str) -> list[PreferencePair]:
    """Two samples of the policy per prompt, judged once each by `raters` on `objective` (display order random);
    identical answers and ties dropped. Pair i comes from prompts[i] whatever the objective, so two arms that label
    the same prompts label the same samples."""
    answers = policy.sample(world, prompts, 2, stream)
    cands = [CandidatePair(p, a, b, Style(), Style(), ("policy-sample",))
             for p, (a, b) in zip(prompts, answers, strict=True) if a != b]
    run = run_campaign(cands, raters, CampaignConfig(name=stream, overlap=1, objective=objective),
                       world.config.gold, random.Random(f"{world.seed}/judge/{stream}/{objective}"))
    out = []
    for c in run.comparisons:
        if c.choice == Choice.TIE:
            continue
        chosen, rejected = (c.response_a, c.response_b) if c.choice == Choice.A else (c.response_b, c.response_a)
        out.append(PreferencePair(prompt=c.prompt, chosen=chosen, rejected=rejected, objective=objective,
                                  provenance={"rater": c.rater, "task_type": c.task_type, "source": stream}))
    return out


def gold_matrix(world: World, prompts: Sequence[SimPrompt], answers: list[list[str]], objective: str
                ) -> np.ndarray:
    """Gold `objective` of every answer, ``[prompts, k]`` (a prompt's samples repeat: each text scored once)."""
    out = np.empty((len(prompts), len(answers[0]) if answers else 0))
    for i, (p, row) in enumerate(zip(prompts, answers, strict=True)):
        seen: dict[str, float] = {}
        for j, a in enumerate(row):
            if a not in seen:
                seen[a] = world.gold_reward(p, a)[objective]
            out[i, j] = seen[a]
    return out


def flat(prompts: Sequence[SimPrompt], answers: list[list[str]]) -> tuple[list[str], list[str]]:
    """(prompt text, answer) per answer, row by row: what a reward model scores."""
    return [p.text for p, row in zip(prompts, answers, strict=True) for _ in row], [a for row in answers for a in row]
