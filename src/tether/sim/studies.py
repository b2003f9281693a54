"""What-if studies on the world: does a guard fix the failure it targets, in numbers?

`label_quality_study` runs one annotation campaign with a mixed rater pool (careful raters,
raters with a strong position bias, novices) and scores three label sets against the world's
gold preference: raw majority vote, the audit's curated set, and a noise-free pool's majority.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tether.records import Comparison
from tether.sim.config import CampaignConfig, TraitDistribution
from tether.sim.world import World

CLEAR_TASKS = ("code_output", "interest", "capital", "max_dose")
AMBIGUOUS_TASK = "thank_note"  # task type "tone": no right answer, raters fall back on taste


@dataclass
class LabelQualityStudy:
    """A campaign's comparisons, the gold labels, and the accuracy of each label set."""

    comparisons: list[Comparison]
    gold: dict[str, str]
    accuracy: dict[str, float] = field(default_factory=dict)
    blocked_task_types: list[str] = field(default_factory=list)
    curated_pairs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "blocked_task_types": self.blocked_task_types,
                "curated_pairs": self.curated_pairs, "comparisons": len(self.comparisons)}


def mixed_pool(world: World, per_group: int = 6, seed: int = 1) -> list:
    """A third careful experts, a third strongly position-biased, a third novices."""
    domains = TraitDistribution().expertise_mean
    expert = {d: 3.0 for d in domains}
    careful = world.rater_pool(per_group, TraitDistribution(expertise_mean=expert, spam_fraction=0.0),
                               id_prefix="careful")
    biased = world.rater_pool(per_group, TraitDistribution(expertise_mean=expert, spam_fraction=0.0,
                                                           position_bias=1.0, unsure_margin=0.5),
                              id_prefix="biased")
    novices = world.rater_pool(per_group, TraitDistribution(expertise_mean={d: -1.5 for d in domains},
                                                            spam_fraction=0.0, noise_sd=0.08), id_prefix="novice")
    pool = careful + biased + novices
    random.Random(seed).shuffle(pool)
    return pool


def _majority(comparisons: list[Comparison]) -> dict[str, str]:
    votes: dict[str, Counter] = {}
    for c in comparisons:
        votes.setdefault(c.pair_id or "", Counter())[c.choice.value] += 1
    return {pid: v.most_common(1)[0][0] for pid, v in votes.items()}


def label_quality_study(world: World, n_pairs: int = 500, *, campaign: str = "sim-label-quality",
                        per_group: int = 6) -> LabelQualityStudy:
    """Majority vote vs the audit's curated labels vs noise-free labels, against gold."""
    from tether.audit import AuditConfig, CurateConfig, curate, run_audit

    pairs = world.candidate_pairs(n_pairs, tasks=[*CLEAR_TASKS, AMBIGUOUS_TASK])
    config = CampaignConfig(name=campaign, pairs=n_pairs, overlap=3)
    comparisons = world.simulate_campaign(pairs, mixed_pool(world, per_group), config).comparisons
    expert = {d: 3.0 for d in TraitDistribution().expertise_mean}
    clean_pool = world.rater_pool(3 * per_group, TraitDistribution(expertise_mean=expert, spam_fraction=0.0,
                                                                   lapse_rate=0.0), id_prefix="clean")
    clean = world.simulate_campaign(pairs, clean_pool, config.model_copy(update={"name": f"{campaign}-clean"}))
    gold = {p.pair_id: world.gold_label(p.prompt, p.response_a, p.response_b) for p in pairs}
    by_id = {p.pair_id: p for p in pairs}

    audit = run_audit(comparisons, AuditConfig(n_bootstrap=0))
    curated = curate(audit, CurateConfig()).pairs
    decided = [p for p in curated if gold[p.provenance["pair_id"]] != "tie"]
    ids = [p.provenance["pair_id"] for p in decided]

    def label(p) -> str:  # noqa: ANN001
        return "tie" if p.tie else ("a" if p.chosen == by_id[p.provenance["pair_id"]].response_a else "b")

    hits = [label(p) == gold[p.provenance["pair_id"]] for p in decided]
    total_w = sum(p.weight for p in decided) or 1.0
    majority, noise_free = _majority(comparisons), _majority(clean.comparisons)
    study = LabelQualityStudy(comparisons=comparisons, gold=gold, blocked_task_types=audit.blocked_task_types,
                              curated_pairs=len(curated))
    n = max(len(ids), 1)
    study.accuracy = {
        "majority_vote": sum(majority[i] == gold[i] for i in ids) / n,
        "curated_weighted": sum(p.weight * h for p, h in zip(decided, hits, strict=True)) / total_w,
        "curated_unweighted": sum(hits) / n,
        "noise_free": sum(noise_free[i] == gold[i] for i in ids) / n,
    }
    return study
