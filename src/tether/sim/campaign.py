"""Candidate pairs and simulated annotation campaigns, written exactly as a real campaign's comparisons."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tether.records import Choice, Comparison, Side, default_pair_id
from tether.sim.config import CampaignConfig, CandidateConfig, GoldConfig
from tether.sim.gold import OBJECTIVES, gold_label, gold_preference, gold_reward
from tether.sim.prompts import SimPrompt
from tether.sim.raters import Judgment, SimRater, judge
from tether.sim.responses import Style, candidate_styles


@dataclass(frozen=True)
class CandidatePair:
    """Two responses to one prompt in canonical order (a, b), and how they were written."""

    prompt: SimPrompt
    response_a: str
    response_b: str
    style_a: Style
    style_b: Style
    contrasts: tuple[str, ...]

    @property
    def pair_id(self) -> str:
        return default_pair_id(self.prompt.text, self.response_a, self.response_b)

    def truth(self, gold: GoldConfig) -> dict[str, Any]:
        """Gold rewards, P(a better) and gold labels per objective, as a JSON-ready object."""
        p = self.prompt
        ra, rb = gold_reward(p.text, self.response_a, gold), gold_reward(p.text, self.response_b, gold)
        return {
            "pair_id": self.pair_id,
            "task": p.task, "task_type": p.task_type, "domain": p.domain, "language": p.language,
            "contrasts": list(self.contrasts),
            "gold_a": ra, "gold_b": rb,
            "p_a_better": {o: gold_preference(p.text, self.response_a, self.response_b, o, gold) for o in OBJECTIVES},
            "label": {o: gold_label(p.text, self.response_a, self.response_b, o, gold) for o in OBJECTIVES},
        }


def make_pair(prompt: SimPrompt, config: CandidateConfig, rng: random.Random) -> CandidatePair:
    """A candidate pair for one prompt: styles that differ in one (sometimes two) properties."""
    for _ in range(20):
        s1, s2, used = candidate_styles(prompt.task_obj, config.contrast_weights, config.second_contrast, rng)
        r1, r2 = prompt.respond(s1, rng), prompt.respond(s2, rng)
        if r1 != r2:
            break
    else:  # pragma: no cover - every contrast changes the text
        raise RuntimeError(f"could not write two different responses for {prompt.text[:60]!r}")
    if rng.random() < 0.5:  # canonical order must not reveal which one is better
        r1, r2, s1, s2 = r2, r1, s2, s1
    return CandidatePair(prompt, r1, r2, s1, s2, tuple(used))


@dataclass(frozen=True)
class Assignment:
    """One rater's judgment of one pair, with the hidden reason behind it (never stored)."""

    pair_id: str
    rater: str
    shown_first: Side
    judgment: Judgment
    task_type: str
    domain: str


@dataclass
class CampaignRun:
    """A finished simulated campaign: the comparisons Tether sees and the truth it does not."""

    comparisons: list[Comparison]
    assignments: list[Assignment]
    pairs: list[CandidatePair]
    raters: list[SimRater]
    gold: GoldConfig = field(default_factory=GoldConfig)

    def truth_rows(self) -> list[dict[str, Any]]:
        """Gold labels per pair_id (the `--truth` file)."""
        return [p.truth(self.gold) for p in self.pairs]


def run_campaign(pairs: list[CandidatePair], raters: list[SimRater], config: CampaignConfig, gold: GoldConfig,
                 rng: random.Random, on_pair: Callable[[int], None] | None = None) -> CampaignRun:
    """Have `config.overlap` distinct raters judge each pair; display order randomized per assignment."""
    if config.overlap > len(raters):
        raise ValueError(f"overlap {config.overlap} needs at least that many raters; the pool has {len(raters)}")
    comparisons: list[Comparison] = []
    assignments: list[Assignment] = []
    clock = config.start
    for pair in pairs:
        chosen = rng.sample(raters, config.overlap)
        start_with_a = rng.random() < 0.5
        for j, rater in enumerate(chosen):
            if config.counterbalance:  # alternate display order across the pair's raters
                a_first = start_with_a if j % 2 == 0 else not start_with_a
            else:
                a_first = rng.random() < 0.5
            first, second = (pair.response_a, pair.response_b) if a_first else (pair.response_b, pair.response_a)
            j_ = judge(rater, pair.prompt.text, first, second, config.objective, gold, rng)
            shown = Side.A if a_first else Side.B
            if j_.picked_first is None:
                choice = Choice.TIE
            else:
                choice = Choice(shown.value if j_.picked_first else shown.other.value)
            clock += timedelta(seconds=rng.expovariate(1.0 / config.seconds_per_judgment))
            comparisons.append(Comparison(
                prompt=pair.prompt.text, response_a=pair.response_a, response_b=pair.response_b,
                shown_first=shown, choice=choice, rater=rater.id, pair_id=pair.pair_id,
                objective=config.objective, task_type=pair.prompt.task_type, confidence=j_.confidence,
                campaign=config.name, interface=config.interface, rubric_version=config.rubric_version,
                created_at=clock,
            ))
            assignments.append(Assignment(pair.pair_id, rater.id, shown, j_, pair.prompt.task_type,
                                          pair.prompt.domain))
        if on_pair is not None:
            on_pair(1)
    return CampaignRun(comparisons, assignments, list(pairs), list(raters), gold)
