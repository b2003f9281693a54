"""Helpers the guard rows share: rater judgments to pairs, and a paired gain between two reward probes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from tether.records import PreferencePair
from tether.reward.probe import NgramReward


def majority_pairs(run, first: int | None = None) -> list[PreferencePair]:  # noqa: ANN001
    """One pair per candidate pair of a simulated campaign `run` (its `first` ones) whose raters did not split
    evenly, chosen by majority vote (a tie is no vote): what a team without a label audit trains on."""
    votes: dict[str, Counter] = {}
    for c in run.comparisons:
        votes.setdefault(c.pair_id, Counter())[c.choice.value] += 1
    out = []
    for cand in run.pairs[:first]:
        v = votes.get(cand.pair_id, Counter())
        if v["a"] == v["b"]:
            continue
        chosen, rejected = (cand.response_a, cand.response_b) if v["a"] > v["b"] else (cand.response_b, cand.response_a)
        p = cand.prompt
        out.append(PreferencePair(prompt=p.text, chosen=chosen, rejected=rejected, objective="overall",
                                  provenance={"task_type": p.task_type, "domain": p.domain, "language": p.language,
                                              "source": "sim-raters"}))
    return out


def right(model: NgramReward, pairs: Sequence[PreferencePair]) -> np.ndarray:
    """Per pair: 1 where the chosen side scores higher, 0.5 on a score tie, else 0."""
    prompts = [p.prompt for p in pairs]
    margin = model.score(prompts, [p.chosen for p in pairs]) - model.score(prompts, [p.rejected for p in pairs])
    return (margin > 0) + 0.5 * (margin == 0)


def paired_ci95(naive: np.ndarray, tether: np.ndarray, seed: int, n_boot: int = 1000) -> list[float]:
    """[low, high]: 95% percentile interval of mean(tether - naive) over the same items, resampling the items."""
    d = np.asarray(tether, dtype=np.float64) - np.asarray(naive, dtype=np.float64)
    boots = d[np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))].mean(1)
    return [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]


def difference_ci95(a: NgramReward, b: NgramReward, pairs: Sequence[PreferencePair], seed: int,
                    n_boot: int = 1000) -> list[float]:
    """`paired_ci95` of b's gold accuracy minus a's on the same pairs."""
    return paired_ci95(right(a, pairs), right(b, pairs), seed, n_boot)


def fresh_gold_pairs(world, n: int, objectives: list[str], exclude: set[tuple[str, frozenset[str]]]) -> list:  # noqa: ANN001
    """Fresh pairs of the study's clear task types labelled by the gold reward (gold ties and pairs seen in
    training left out): held-out truth no rater touched. Prompts come from templates, so a prompt may recur
    with other responses; only the same prompt with the same two responses counts as seen."""
    from tether.sim.studies import CLEAR_TASKS

    fresh = [c for c in world.candidate_pairs(n, tasks=list(CLEAR_TASKS))
             if (c.prompt.text, frozenset((c.response_a, c.response_b))) not in exclude]
    return world.gold_pairs(fresh, objectives)
