"""A sampling policy made of the world's writer: each answer's style (wrong fact, padded, hedging, flattering,
disfluent, unsafe on a risky prompt) drawn independently, rendered by `World.respond`.

The demo's policy guards optimise it directly by best-of-n (`tether.demo.guards.styles`); the over-optimisation study
(`tether.sim.overopt`, `start="styled"`) SFTs the built-in small policy on its answers, so that the start policy's
own samples vary in what raters can see (padding, hedging, flattery, fluency, correctness) and a proxy trained on
raters' labels of them has something real to learn and to over-optimise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tether.sim.prompts import SimPrompt
from tether.sim.responses import REGISTERS, Style
from tether.sim.world import World


@dataclass(frozen=True)
class StylePolicy:
    """Each property drawn independently per sample; `unsafe` applies to risky prompts only (a refusal otherwise)."""

    wrong: float = 0.25  # the production responder's error, verbosity and hedging rates (ProductionConfig)
    verbose: float = 0.3
    hedging: float = 0.15
    sycophantic: float = 0.1
    disfluent: float = 0.1
    unsafe: float = 0.3
    preachy: float = 0.0  # chance a refusal of a risky prompt is also padded and hedged (a lecturing refusal)

    def style(self, prompt: SimPrompt, rng: random.Random) -> Style:
        s = Style(correct=rng.random() >= self.wrong, verbose=rng.random() < self.verbose,
                  hedging=rng.random() < self.hedging, sycophantic=rng.random() < self.sycophantic,
                  fluent=rng.random() >= self.disfluent, unsafe=prompt.risky and rng.random() < self.unsafe,
                  direct=rng.random() < 0.5, register=rng.choice(REGISTERS))
        if self.preachy > 0 and prompt.risky and not s.unsafe and rng.random() < self.preachy:
            s = replace(s, verbose=True, hedging=True)
        return s

    def sample(self, world: World, prompts: Sequence[SimPrompt], k: int, stream: str) -> list[list[str]]:
        """k answers per prompt, from a random stream of their own (`stream`, under the world's seed)."""
        rng = random.Random(f"{world.seed}/policy/{stream}")
        return [[world.respond(p, self.style(p, rng), seed=rng.getrandbits(31)) for _ in range(k)] for p in prompts]


def styled_examples(world: World, n: int, policy: StylePolicy | None = None, stream: str = "styled-sft"
                    ) -> list[tuple[str, str]]:
    """(prompt, one styled answer) for the first `n` prompts of the world's training stream: SFT data for a start
    policy whose samples carry the styles."""
    policy = policy or StylePolicy()
    rng = random.Random(f"{world.seed}/policy/{stream}")
    return [(p.text, world.respond(p, policy.style(p, rng), seed=rng.getrandbits(31))) for p in world.prompts(n)]
