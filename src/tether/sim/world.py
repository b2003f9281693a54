"""`World`: one seeded entry point to prompts, responses, gold rewards, raters, campaigns and production."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator

from tether.records import Comparison, Event, PreferencePair
from tether.sim.campaign import CampaignRun, CandidatePair, make_pair, run_campaign
from tether.sim.config import (
    CampaignConfig,
    GoldConfig,
    ProductionConfig,
    RaterPoolConfig,
    TraitDistribution,
    WorldConfig,
)
from tether.sim.gold import OBJECTIVES, gold_label, gold_preference, gold_reward, parsed, reference_for
from tether.sim.production import Responder, SimUser, make_users, production_stream
from tether.sim.prompts import SimPrompt, draw_tasks, make_prompt
from tether.sim.raters import SimRater, make_pool
from tether.sim.responses import Style, render


class World:
    """A simulated world with a known truth; everything drawn from `seed`.

    Each kind of draw (prompts, pairs, raters, ...) has its own random stream, numbered by call,
    so the same sequence of calls on the same seed and config gives the same results.
    """

    def __init__(self, seed: int = 0, config: WorldConfig | None = None) -> None:
        self.seed = seed
        self.config = config or WorldConfig()
        self._calls: dict[str, int] = {}

    def rng(self, purpose: str) -> random.Random:
        """A fresh random stream for one call of `purpose` (reproducible by seed and call number)."""
        k = self._calls.get(purpose, 0)
        self._calls[purpose] = k + 1
        return random.Random(f"{self.seed}/{purpose}/{k}")

    # -- prompts and responses ---------------------------------------------------------

    def prompts(self, n: int, *, tasks: dict[str, float] | list[str] | None = None,
                stream: str = "prompts") -> list[SimPrompt]:
        """`n` prompts drawn by the configured task mix (or the given task types / weights).

        `stream` names an independent random stream (e.g. a held-out evaluation set)."""
        weights = _weights(tasks) if tasks is not None else self.config.prompts.task_weights
        rng = self.rng(stream)
        return [make_prompt(t, rng) for t in draw_tasks(weights, n, rng)]

    def respond(self, prompt: SimPrompt | str, style: Style | None = None, *, seed: int = 0) -> str:
        """A response to a world prompt with the given properties (default: the reference answer)."""
        task, spec = parsed(_text(prompt))
        return render(task, spec, style or Style(), random.Random(seed))

    def reference(self, prompt: SimPrompt | str) -> str:
        """The reference answer of a world prompt."""
        return reference_for(_text(prompt))

    def candidate_pairs(self, n: int, *, tasks: dict[str, float] | list[str] | None = None) -> list[CandidatePair]:
        """`n` candidate pairs for annotation (responses that differ in one or two properties)."""
        rng = self.rng("pairs")
        out: dict[str, CandidatePair] = {}
        for _ in range(20):  # the same prompt and responses twice would be one pair_id: draw again
            for p in self.prompts(n - len(out), tasks=tasks):
                pair = make_pair(p, self.config.candidates, rng)
                out.setdefault(pair.pair_id, pair)
            if len(out) >= n:
                return list(out.values())
        raise ValueError(f"could not draw {n} distinct pairs from task types {tasks or 'configured'}; "
                         "ask for fewer pairs or more task types")

    # -- gold --------------------------------------------------------------------------

    def gold_reward(self, prompt: SimPrompt | str, response: str) -> dict[str, float]:
        """Gold quality, safety, honesty and overall of any response text."""
        return gold_reward(_text(prompt), response, self.config.gold)

    def gold_preference(self, prompt: SimPrompt | str, a: str, b: str, objective: str = "overall") -> float:
        """Probability that `a` is truly better than `b` on `objective`."""
        return gold_preference(_text(prompt), a, b, objective, self.config.gold)

    def gold_label(self, prompt: SimPrompt | str, a: str, b: str, objective: str = "overall") -> str:
        """`a`, `b` or `tie` on `objective`."""
        return gold_label(_text(prompt), a, b, objective, self.config.gold)

    def gold_pairs(self, candidates: Iterable[CandidatePair], objectives: Iterable[str] = ("overall",),
                   gold: GoldConfig | None = None) -> list[PreferencePair]:
        """Preference pairs labelled by the gold reward, one per candidate and objective; gold ties left out.

        The noise-free training set and the held-out truth of the reward-model studies; `gold` replaces the
        world's (e.g. the preferences of one month, `tether.sim.drift`)."""
        cfg = gold or self.config.gold
        out = []
        for c in candidates:
            for objective in objectives:
                label = gold_label(c.prompt.text, c.response_a, c.response_b, objective, cfg)
                if label == "tie":
                    continue
                chosen, rejected = (c.response_a, c.response_b) if label == "a" else (c.response_b, c.response_a)
                out.append(PreferencePair(
                    prompt=c.prompt.text, chosen=chosen, rejected=rejected, objective=objective,
                    provenance={"task_type": c.prompt.task_type, "domain": c.prompt.domain,
                                "language": c.prompt.language, "source": "sim-gold"}))
        return out

    # -- raters and campaigns ----------------------------------------------------------

    def rater_pool(self, size: int | None = None, traits: TraitDistribution | None = None,
                   id_prefix: str | None = None) -> list[SimRater]:
        """A pool of simulated raters (defaults from the world config)."""
        base = self.config.raters
        cfg = RaterPoolConfig(size=size if size is not None else base.size, traits=traits or base.traits,
                              id_prefix=id_prefix or base.id_prefix)
        return make_pool(cfg, self.rng("raters"))

    def simulate_campaign(self, pairs: list[CandidatePair] | int | None = None, raters: list[SimRater] | None = None,
                          config: CampaignConfig | None = None,
                          on_pair: Callable[[int], None] | None = None, gold: GoldConfig | None = None
                          ) -> CampaignRun:
        """Run a campaign and keep the hidden truth (who was unsure, who spammed, gold labels).

        `pairs`: candidate pairs, or how many to draw (default `config.pairs`); `gold`: the preferences the raters
        judge by, replacing the world's (e.g. those of one month, `tether.sim.drift`)."""
        cfg = config or CampaignConfig()
        if cfg.objective not in OBJECTIVES:
            raise ValueError(f"campaign objective {cfg.objective!r}: expected one of {', '.join(OBJECTIVES)}")
        if pairs is None:
            pairs = cfg.pairs
        items = self.candidate_pairs(pairs) if isinstance(pairs, int) else pairs
        pool = raters if raters is not None else self.rater_pool()
        return run_campaign(items, pool, cfg, gold or self.config.gold, self.rng("campaign"), on_pair)

    def run_campaign(self, pairs: list[CandidatePair] | int | None = None, raters: list[SimRater] | None = None,
                     config: CampaignConfig | None = None) -> list[Comparison]:
        """The comparisons a real campaign would produce (display order stored in `shown_first`)."""
        return self.simulate_campaign(pairs, raters, config).comparisons

    # -- production --------------------------------------------------------------------

    def users(self, config: ProductionConfig | None = None) -> list[SimUser]:
        return make_users(config or self.config.production, self.rng("users"))

    def production_stream(self, config: ProductionConfig | None = None, responder: Responder | None = None,
                          users: list[SimUser] | None = None) -> Iterator[Event]:
        """Production events (v1) over the configured range, domain mix drifting, users giving signals."""
        return production_stream(config or self.config.production, self.config.gold, self.rng("production"),
                                 responder, users)


def _text(prompt: SimPrompt | str) -> str:
    return prompt.text if isinstance(prompt, SimPrompt) else prompt


def _weights(tasks: dict[str, float] | list[str]) -> dict[str, float]:
    return dict(tasks) if isinstance(tasks, dict) else dict.fromkeys(tasks, 1.0)
