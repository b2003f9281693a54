"""The audit in the simulated world, where the gold preference is known.

A pool of 18 raters: a third careful, a third with a strong position bias (when a difference is not
obvious they pick whatever is shown first), a third novices who miss wrong facts. Four task types
have clear gold answers; 'tone' (thank-you notes that differ only in style) has no right answer.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from tether.audit import AuditConfig, CurateConfig, curate, run_audit

sim = pytest.importorskip("tether.sim")

CLEAR = ["code_output", "interest", "capital", "max_dose"]


@pytest.fixture(scope="module")
def world_run():
    world = sim.World(seed=1)
    domains = sim.TraitDistribution().expertise_mean
    expert = {d: 3.0 for d in domains}
    careful = world.rater_pool(6, sim.TraitDistribution(expertise_mean=expert, spam_fraction=0.0), id_prefix="careful")
    biased = world.rater_pool(6, sim.TraitDistribution(expertise_mean=expert, spam_fraction=0.0, position_bias=1.0,
                                                       unsure_margin=0.5), id_prefix="biased")
    novices = world.rater_pool(6, sim.TraitDistribution(expertise_mean={d: -1.5 for d in domains}, spam_fraction=0.0,
                                                        noise_sd=0.08), id_prefix="novice")
    pool = careful + biased + novices
    random.Random(1).shuffle(pool)
    pairs = world.candidate_pairs(500, tasks=[*CLEAR, "thank_note"])
    config = sim.CampaignConfig(pairs=500, overlap=3)
    comparisons = world.simulate_campaign(pairs, pool, config).comparisons
    # the same pairs judged by a noise-free pool: careful raters without position bias or lapses
    clean_pool = world.rater_pool(18, sim.TraitDistribution(expertise_mean=expert, spam_fraction=0.0, lapse_rate=0.0),
                                  id_prefix="clean")
    clean = world.simulate_campaign(pairs, clean_pool, config).comparisons
    gold = {p.pair_id: world.gold_label(p.prompt, p.response_a, p.response_b) for p in pairs}
    return pairs, comparisons, clean, gold


def _majority(comparisons) -> dict[str, str]:
    votes: dict[str, Counter] = {}
    for c in comparisons:
        votes.setdefault(c.pair_id, Counter())[c.choice.value] += 1
    return {pid: v.most_common(1)[0][0] for pid, v in votes.items()}


def test_ambiguous_task_type_is_blocked_and_clear_ones_are_not(world_run):
    _, comparisons, _, _ = world_run
    result = run_audit(comparisons, AuditConfig(n_bootstrap=50))
    assert result.blocked_task_types == ["tone"]
    tone = result.verdicts["tone"]
    assert tone.alpha_qualified < 0.4 and tone.basis == "qualified raters"  # careful raters disagree on taste too
    for task_type in CLEAR:
        v = result.verdicts[task_type]
        # alpha over everyone is low, among raters qualified on held-out items it is not: the raters are the problem
        assert v.status == "unreliable-raters" and v.basis == "qualified raters" and not v.dissenting_raters
        assert v.alpha_all < 0.4 <= v.alpha_qualified == v.alpha and v.n_items_qualified >= 20
        named = {e["rater"]: e for e in v.excluded_raters}
        assert named and not any(n.startswith("careful") for n in named) and all(n in v.message for n in named)
        biased = [e for n, e in named.items() if n.startswith("biased")]
        assert biased and all("first-shown" in e["careless"][0] for e in biased)  # the evidence is their own
    # judged on everyone, the diluted pool would make clear rubrics look ambiguous too
    everyone = run_audit(comparisons, AuditConfig(n_bootstrap=0, rubric_basis="all"))
    assert set(everyone.blocked_task_types) > {"tone"}
    assert min(everyone.verdicts[t].alpha for t in CLEAR) < min(result.verdicts[t].alpha for t in CLEAR)
    raters = result.to_dict()["raters"]
    position = result.to_dict()["position"]["by_rater"]
    careful = np.mean([r["reliability"] for n, r in raters.items() if n.startswith("careful")])
    for group in ("biased", "novice"):
        assert np.mean([r["reliability"] for n, r in raters.items() if n.startswith(group)]) < careful - 0.2
    assert min(p["rate"] for n, p in position.items() if n.startswith("biased")) > 0.6
    assert max(abs(p["rate"] - 0.5) for n, p in position.items() if n.startswith("careful")) < 0.1


def test_curated_labels_beat_majority_vote_and_close_most_of_the_gap(world_run):
    pairs, comparisons, clean, gold = world_run
    by_id = {p.pair_id: p for p in pairs}
    curated = curate(comparisons, CurateConfig(), AuditConfig(n_bootstrap=0)).pairs
    assert {p.provenance["task_type"] for p in curated} <= set(CLEAR)  # tone is blocked
    decided = [p for p in curated if gold[p.provenance["pair_id"]] != "tie"]
    assert len(decided) > 300
    ids = [p.provenance["pair_id"] for p in decided]

    def label(p) -> str:
        return "tie" if p.tie else ("a" if p.chosen == by_id[p.provenance["pair_id"]].response_a else "b")

    hits = np.array([label(p) == gold[p.provenance["pair_id"]] for p in decided])
    weights = np.array([p.weight for p in decided])
    ours = float(np.average(hits, weights=weights))  # what a weighted reward-model loss sees
    majority = _majority(comparisons)
    noise_free = _majority(clean)
    base = np.mean([majority[i] == gold[i] for i in ids])
    ceiling = np.mean([noise_free[i] == gold[i] for i in ids])
    assert ours > base + 0.05
    assert (ours - base) / (ceiling - base) > 0.5  # most of the gap to noise-free labels
    assert hits.mean() > base + 0.03  # also unweighted
