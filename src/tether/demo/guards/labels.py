"""Guards 1 and 2, the label guards: who is allowed to label, and in which order they see the two responses.

Both rows run one simulated campaign per arm on the same world seed, pairs and rater pool, at the same number of
judgments, and score the arms on the world's gold; neither arm sees the gold it is scored on.

Row 1 (annotators picked as a formality). The pool is whoever signed up: a third matched experts, a third crowd
workers who like long answers (verbosity bias 0.4 utility per 100 words: they prefer the ~40-word-longer variant
whose gold is ~0.09 lower), a third click-through raters who take the first-shown response whenever unsure. The
naive pipeline gives every pair to three of them and takes the majority. Tether spends part of the same budget on
qualification (each candidate answers gold items that cover every rubric criterion equally; pass at the campaign
default 0.8), gives the rest of the pairs to qualified raters only, and audits and curates their judgments (rater
reliability shrunk toward gold accuracy, the 0.4 rule, reversal downweighting). Metric: gold accuracy of the n-gram
reward probe each arm trains, on fresh pairs of another world seed. A reward model averages away random label
noise, so only a bias shared by most raters moves it. The studies' mixed pool (novices instead of the crowd) does
not: majority vs audit -> curate gave probe accuracies 0.762 / 0.765, 0.801 / 0.763, 0.788 / 0.784 on seeds 1-3
(the probe trained on gold labels: ~0.78), because novices err on facts, which the probe cannot learn either way,
and click-through errors are symmetric.

Row 2 (position bias). Every rater is a domain expert but falls back on the first-shown response when unsure
(chance 0.9, sd 0.2 across raters; unsure within 0.1 of perceived utility). The naive pipeline shows each pair in
the order it was generated to all its raters and takes the majority; Tether randomizes the order per assignment,
counterbalances it across the pair's raters, and labels with the audit (Bradley–Terry with per-rater position
effects, reversals flagged and downweighted). Metric: label accuracy against gold on the campaign's pairs. The
probe's accuracy is reported beside it and barely moves: the generated order does not depend on quality, so
position bias is noise the probe averages away; what it corrupts is the labels themselves (evaluation sets, win
rates, the pairs a reviewer trusts).
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tether.audit import AuditConfig, AuditResult, CurateConfig, curate, run_audit
from tether.demo.guards.row import GuardRow
from tether.demo.guards.votes import fresh_gold_pairs, paired_ci95, right
from tether.records import Choice, Comparison, PreferencePair, Side
from tether.reward.probe import NgramReward
from tether.sim import CampaignConfig, CandidateConfig, CandidatePair, SimRater, TraitDistribution, World
from tether.sim.campaign import make_pair
from tether.sim.raters import judge
from tether.sim.studies import AMBIGUOUS_TASK, CLEAR_TASKS

PAIRS = 500  # candidate pairs of the naive campaign (x OVERLAP judgments: the budget of both arms)
OVERLAP = 3
PER_GROUP = 6  # raters per group of row 1's sign-up pool; row 2's pool has 3 x PER_GROUP raters
QUALIFICATION_ITEMS = 10  # gold items each candidate answers in row 1
CROWD_VERBOSITY = 0.4  # utility per 100 words the crowd adds
EVAL_PAIRS = 600  # fresh candidate pairs (another world seed) the probes are scored on


def _pass_threshold() -> float:
    """The gold accuracy a campaign's qualification asks for by default (`tether collect`)."""
    from tether.collect.campaign import CampaignSettings

    return float(CampaignSettings.model_fields["pass_threshold"].default)


def _expert() -> dict[str, float]:
    return dict.fromkeys(TraitDistribution().expertise_mean, 3.0)


def _majority(comparisons: Sequence[Comparison], pairs: Sequence[CandidatePair]) -> list[PreferencePair]:
    """One pair per candidate, labelled by the most common choice (a tied or tie vote is left out)."""
    votes: dict[str, Counter] = {}
    for c in comparisons:
        votes.setdefault(c.pair_id or "", Counter())[c.choice.value] += 1
    out = []
    for p in pairs:
        top = votes[p.pair_id].most_common(2)
        if top[0][0] == Choice.TIE.value or (len(top) > 1 and top[0][1] == top[1][1]):
            continue
        a = top[0][0] == Choice.A.value
        out.append(PreferencePair(prompt=p.prompt.text, chosen=p.response_a if a else p.response_b,
                                  rejected=p.response_b if a else p.response_a, objective="overall",
                                  provenance={"pair_id": p.pair_id, "task_type": p.prompt.task_type}))
    return out


def _audit(comparisons: Sequence[Comparison], gold: dict[str, str] | None = None) -> AuditResult:
    with warnings.catch_warnings():  # identification notes are the audit report's business, not the table's
        warnings.simplefilter("ignore")
        return run_audit(list(comparisons), AuditConfig(n_bootstrap=0, gold=gold))


def _label_scores(labelled: Sequence[PreferencePair], pairs: Sequence[CandidatePair], world: World,
                  *, missing: float | None = 0.5) -> np.ndarray:
    """Per pair of `pairs` (gold ties left out): 1 if its label matches gold, else 0; a pair labelled a tie or not
    at all scores `missing` (None: such pairs are left out, i.e. the pairs the arm kept)."""
    mine = {p.provenance["pair_id"]: p for p in labelled}
    scores: list[float] = []
    for c in pairs:
        g = world.gold_label(c.prompt, c.response_a, c.response_b)
        p = mine.get(c.pair_id)
        if g == "tie":
            continue
        if p is None or p.tie:
            if missing is not None:
                scores.append(missing)
            continue
        scores.append(float((p.chosen == c.response_a) == (g == "a")))
    return np.array(scores)


def _label_accuracy(labelled: Sequence[PreferencePair], pairs: Sequence[CandidatePair], world: World,
                    *, missing: float | None = 0.5) -> float:
    """Mean of `_label_scores`."""
    scores = _label_scores(labelled, pairs, world, missing=missing)
    return float(scores.mean()) if scores.size else 0.0


def _probe_hits(train: Sequence[PreferencePair], test: Sequence[PreferencePair]) -> np.ndarray:
    """Per test pair: 1 if the probe trained on `train` scores the chosen side higher, 0.5 on a tie, else 0."""
    return right(NgramReward().fit(train), test)


def _held_out(seed: int, seen: Sequence[CandidatePair]) -> list[PreferencePair]:
    """Gold-labelled fresh pairs of the clear task types from world seed + 1 (as the demo's reward audit)."""

    exclude = {(c.prompt.text, frozenset((c.response_a, c.response_b))) for c in seen}
    return fresh_gold_pairs(World(seed=seed + 1), EVAL_PAIRS, ["overall"], exclude)


# -- row 1 ---------------------------------------------------------------------------------------------------------


def _signup_pool(world: World, seed: int) -> list[SimRater]:
    """Experts, a crowd that likes long answers, click-through raters: a third each, shuffled."""
    expert = _expert()
    careful = world.rater_pool(PER_GROUP, TraitDistribution(expertise_mean=expert, spam_fraction=0.0),
                               id_prefix="expert")
    crowd = world.rater_pool(PER_GROUP, TraitDistribution(spam_fraction=0.0, verbosity_bias_mean=CROWD_VERBOSITY),
                             id_prefix="crowd")
    clickers = world.rater_pool(PER_GROUP, TraitDistribution(expertise_mean=expert, spam_fraction=0.0,
                                                             position_bias=1.0, unsure_margin=0.5),
                                id_prefix="clicker")
    pool = careful + crowd + clickers
    random.Random(seed).shuffle(pool)
    return pool


def _qualification_items(world: World) -> list[CandidatePair]:
    """Gold items with a clear answer (gold ties left out), every rubric criterion (contrast) equally likely."""
    equal = CandidateConfig(contrast_weights=dict.fromkeys(CandidateConfig().contrast_weights, 1.0))
    rng = world.rng("qualification-pairs")
    items: dict[str, CandidatePair] = {}
    for prompt in world.prompts(6 * QUALIFICATION_ITEMS, tasks=list(CLEAR_TASKS), stream="qualification"):
        pair = make_pair(prompt, equal, rng)
        if world.gold_label(pair.prompt, pair.response_a, pair.response_b) != "tie":
            items.setdefault(pair.pair_id, pair)
        if len(items) == QUALIFICATION_ITEMS:
            return list(items.values())
    raise RuntimeError(f"could not draw {QUALIFICATION_ITEMS} gold items with a clear answer")


def row_raters(seed: int) -> GuardRow:
    """Failure mode 1: majority vote of whoever signed up vs qualification on gold + audit and curation."""
    world = World(seed=seed)
    pool = _signup_pool(world, seed)
    pairs = world.candidate_pairs(PAIRS, tasks=[*CLEAR_TASKS, AMBIGUOUS_TASK])
    budget = PAIRS * OVERLAP

    naive_comparisons = world.simulate_campaign(pairs, pool, CampaignConfig(name="guard1-naive", overlap=OVERLAP))
    naive = _majority(naive_comparisons.comparisons, pairs)

    items = _qualification_items(world)
    gold = {c.pair_id: world.gold_label(c.prompt, c.response_a, c.response_b) for c in items}
    # every candidate answers every gold item: overlap = the pool
    qual = world.simulate_campaign(items, pool, CampaignConfig(name="guard1-qualification", overlap=len(pool)))
    hits = Counter(c.rater for c in qual.comparisons if c.choice.value == gold[c.pair_id])
    threshold = _pass_threshold()
    qualified = [r for r in pool if hits[r.id] / len(items) >= threshold]
    if len(qualified) < 2:
        raise RuntimeError(f"only {len(qualified)} of {len(pool)} candidates qualified: no overlap possible")
    overlap = min(OVERLAP, len(qualified))
    n_pairs = (budget - len(qual.comparisons)) // overlap  # qualification is paid out of the same budget
    work = world.simulate_campaign(pairs[:n_pairs], qualified,
                                   CampaignConfig(name="guard1-tether", overlap=overlap))
    audit = _audit(qual.comparisons + work.comparisons, gold=gold)  # the path of the demo's reward stage
    # the gold set checks raters only: it is no training data
    curated = [p for p in curate(audit, CurateConfig()).pairs if p.provenance["pair_id"] not in gold]

    test = _held_out(seed, pairs)
    naive_hits, tether_hits = _probe_hits(naive, test), _probe_hits(curated, test)
    passed = Counter(r.id.split("-")[0] for r in qualified)
    return GuardRow(
        failure_mode=1, name="annotators picked as a formality",
        metric="gold accuracy of a reward model trained on the arm's labels (fresh pairs, another world seed)",
        higher_is_better=True, naive=float(naive_hits.mean()), tether=float(tether_hits.mean()),
        naive_arm=f"every pair went to {OVERLAP} of the {len(pool)} raters who signed up, majority vote, no audit.",
        tether_arm=(f"candidates answered {len(items)} gold items first ({len(qualified)} passed at "
                    f"{threshold:.0%}); the rest of the budget went to them, audited (reliability, 0.4 rule) "
                    "and curated."),
        detail={
            "judgments": {"naive": len(naive_comparisons.comparisons),
                          "tether": len(qual.comparisons) + len(work.comparisons),
                          "tether_qualification": len(qual.comparisons)},
            "campaign_pairs": {"naive": len(pairs), "tether": n_pairs},
            "train_pairs": {"naive": len(naive), "tether": len(curated)},
            "test_pairs": len(test),
            "difference_ci95": paired_ci95(naive_hits, tether_hits, seed, n_boot=2000),
            # the same probe on the gold labels of the naive campaign's pairs: what noise-free labels reach
            "probe_on_gold_labels": NgramReward().fit(world.gold_pairs(pairs)).accuracy(test),
            "pool": {"size": len(pool), "per_group": PER_GROUP, "crowd_verbosity_bias": CROWD_VERBOSITY},
            "qualified_by_hidden_group": dict(sorted(passed.items())),
            "blocked_task_types": audit.blocked_task_types,
            "label_accuracy": {"naive": _label_accuracy(naive, pairs, world, missing=None),
                               "tether": _label_accuracy(curated, pairs, world, missing=None),
                               "note": "on the pairs each arm trained on (gold ties left out)"},
        },
    )


# -- row 2 ---------------------------------------------------------------------------------------------------------


def _position_pool(world: World) -> list[SimRater]:
    """Experts who fall back on the first-shown response when unsure, some more than others."""
    traits = TraitDistribution(expertise_mean=_expert(), spam_fraction=0.0, position_bias=0.9,
                               position_bias_sd=0.2, unsure_margin=0.1)
    return world.rater_pool(3 * PER_GROUP, traits, id_prefix="rater")


def _campaign(world: World, pairs: Sequence[CandidatePair], pool: Sequence[SimRater], *, counterbalance: bool,
              seed: int) -> list[Comparison]:
    """Each pair judged by the same OVERLAP raters in both arms (assignment drawn from its own stream); the display
    order is the generated one (a first) for everyone, or random per pair and alternated across its raters."""
    assign = random.Random(f"{seed}/guard2/assign")
    rng = random.Random(f"{seed}/guard2/judge/{counterbalance}")
    gold, name = world.config.gold, "guard2-" + ("tether" if counterbalance else "naive")
    out = []
    for pair in pairs:
        raters = assign.sample(list(pool), OVERLAP)
        start = assign.random() < 0.5
        for j, rater in enumerate(raters):
            a_first = (start if j % 2 == 0 else not start) if counterbalance else True
            first, second = (pair.response_a, pair.response_b) if a_first else (pair.response_b, pair.response_a)
            verdict = judge(rater, pair.prompt.text, first, second, "overall", gold, rng)
            shown = Side.A if a_first else Side.B
            choice = Choice.TIE if verdict.picked_first is None else \
                Choice(shown.value if verdict.picked_first else shown.other.value)
            out.append(Comparison(prompt=pair.prompt.text, response_a=pair.response_a, response_b=pair.response_b,
                                  shown_first=shown, choice=choice, rater=rater.id, pair_id=pair.pair_id,
                                  objective="overall", task_type=pair.prompt.task_type,
                                  confidence=verdict.confidence, campaign=name, interface="sim"))
    return out


def _first_rate(comparisons: Sequence[Comparison]) -> float:
    decided = [c for c in comparisons if c.choice is not Choice.TIE]
    return sum(c.choice.value == c.shown_first.value for c in decided) / max(len(decided), 1)


def row_position(seed: int) -> GuardRow:
    """Failure mode 2: one display order and a majority vote vs randomized, counterbalanced order and the audit's
    position-aware labels."""
    world = World(seed=seed)
    pool = _position_pool(world)
    pairs = world.candidate_pairs(PAIRS, tasks=list(CLEAR_TASKS))
    fixed = _campaign(world, pairs, pool, counterbalance=False, seed=seed)
    balanced = _campaign(world, pairs, pool, counterbalance=True, seed=seed)
    naive = _majority(fixed, pairs)
    audit = _audit(balanced)
    # the metric reads every pair's audited label: a blocked task type's pairs are labelled too (kept at weight
    # alpha / 0.4); the block itself is a verdict on the rubric, reported in `detail`
    tether = curate(audit, CurateConfig(include_blocked=True)).pairs
    default = curate(audit, CurateConfig()).pairs
    discarded = curate(audit, CurateConfig(policy="discard", include_blocked=True)).pairs
    shuffled_majority = _majority(balanced, pairs)  # what randomizing the order alone buys
    # what the audit alone buys on one display order: Dawid–Skene reads a rater's pull toward "a" as a confusion,
    # but Bradley–Terry cannot identify a position effect there
    fixed_audited = curate(_audit(fixed), CurateConfig(include_blocked=True)).pairs

    test = _held_out(seed, pairs)
    bt = audit.position_models.get("overall")
    naive_scores, tether_scores = _label_scores(naive, pairs, world), _label_scores(tether, pairs, world)
    return GuardRow(
        failure_mode=2, name="position bias in pairwise comparisons",
        metric="label accuracy against gold (a pair left unlabelled or tied counts half)",
        higher_is_better=True,
        naive=float(naive_scores.mean()), tether=float(tether_scores.mean()),
        naive_arm=f"each pair shown in its generated order to all {OVERLAP} of its raters, majority vote.",
        tether_arm=("order randomized per pair and alternated across its raters; every pair labelled by the audit's "
                    "Bradley–Terry with per-rater position effects, reversals downweighted."),
        detail={
            "judgments": {"naive": len(fixed), "tether": len(balanced)},
            "pairs": len(pairs), "scored_pairs": int(naive_scores.size), "raters": len(pool), "overlap": OVERLAP,
            "difference_ci95": paired_ci95(naive_scores, tether_scores, seed, n_boot=2000),
            "first_shown_picked": {"naive": _first_rate(fixed), "tether": _first_rate(balanced)},
            "bt_position_log_odds": None if bt is None else bt.position,
            "reversals_downweighted": sum(bool(p.provenance.get("reversal")) for p in tether),
            "blocked_task_types": audit.blocked_task_types,
            "label_accuracy_blocked_left_out": {"kept": len(default),
                                                "accuracy": _label_accuracy(default, pairs, world)},
            "label_accuracy_randomized_majority": _label_accuracy(shuffled_majority, pairs, world),
            "label_accuracy_audit_one_order": _label_accuracy(fixed_audited, pairs, world),
            "label_accuracy_discard": {"kept": len(discarded),
                                       "accuracy": _label_accuracy(discarded, pairs, world, missing=None)},
            "probe_gold_accuracy": {"naive": NgramReward().fit(naive).accuracy(test),
                                    "tether": NgramReward().fit(tether).accuracy(test), "test_pairs": len(test)},
        },
    )


__all__ = ["row_position", "row_raters"]
