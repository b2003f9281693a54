"""Guard 5, distribution shift annotation -> deployment: one label budget, spent on the launch mix only or partly on
what production has become.

The world's product launches as a coding and finance assistant: its chat and medical domains open a quarter into
the 120 days (travel opens halfway, as by default), and the mix drifts to the world's default end mix. Both arms have
the same label budget: candidate pairs judged by the same 30 simulated raters (3 a pair, majority vote; even splits
dropped). The naive pipeline spends it all on prompts logged in the launch month and trains once, at day 90. Tether
runs the shift guard at day 90: the drift test between the annotated prompts and the last 30 days of production and,
when it fires, the `AnnotationSampler` picks production prompts whose pairs take part of the same budget (the rest is
the naive arm's first launch pairs, with the same judgments). Each arm's reward model (`NgramReward`) is scored on
gold-labelled pairs for the prompts production sends in the 30 days after training (none of them a pair either arm
labelled).

Why chat and medical are planted: in the default world the only domain production adds is travel, which asks for an
arrival time; the probe does not learn that arithmetic from pairs (its gold accuracy on travel pairs is ~0.78 whether
trained on no travel pairs or on 600 gold-labelled ones) and travel's style contrasts transfer from the other
domains, so on the default stream this design moves -1.0, +0.8 and +2.2 points on seeds 1-3, two of the three
intervals reaching zero (`benchmarks/demo_guards_shift_outcomes.py --default-world`). Facts a reward model can learn
(capitals, maximum doses) and refusals it can learn (overdose) are where annotation that never saw a domain costs
accuracy.

Prompt embeddings for the guard are hashed word n-grams (the shift API takes any embedding): MiniLM would cost ~9 s
for the ~550 prompts on two cores, most of this row's time budget.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from tether.demo.guards.row import GuardRow
from tether.demo.guards.votes import difference_ci95, majority_pairs
from tether.records import Event, EventType, PreferencePair
from tether.reward.probe import NgramReward

DAYS = 120
PER_DAY = 10.0
PLANTED = ("chat", "medical")  # domains that open a quarter into the range instead of being there at launch
LAUNCH_DAYS = 30           # the annotated prompts: those logged in the launch month
TRAIN_DAY = 90             # when both arms train; the guard looks at the 30 days before, the test at the 30 after
WINDOW_DAYS = 30
BUDGET = 600               # candidate pairs labelled in either arm
SAMPLED = 150              # of which Tether spends up to this many on sampled production prompts when drift is found
OVERLAP = 3                # raters per pair
RATERS = 30
TEST_PAIRS_PER_PROMPT = 3
EMBED_DIM = 2 ** 11


def production_config():  # noqa: ANN201
    """The world's default production stream, except that the planted domains open a quarter into the range."""
    from tether.sim import ProductionConfig

    base = ProductionConfig()
    return ProductionConfig(days=DAYS, requests_per_day=PER_DAY,
                            mix_start={**base.mix_start, **dict.fromkeys(PLANTED, 0.0)},
                            new_domain_after={**base.new_domain_after, **dict.fromkeys(PLANTED, 0.25)})


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of hashed word unigrams and bigrams: a cheap stand-in for MiniLM prompt embeddings."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vec = HashingVectorizer(n_features=EMBED_DIM, ngram_range=(1, 2), alternate_sign=False, norm="l2")
    return vec.transform(list(texts)).toarray().astype(np.float32)


def sim_prompt(text: str):  # noqa: ANN201
    """The world's `SimPrompt` of a logged prompt text."""
    from tether.sim.prompts import SimPrompt
    from tether.sim.tasks import parse_prompt

    found = parse_prompt(text)
    if found is None:
        raise ValueError(f"not a prompt of the simulated world: {text[:80]!r}")
    task = found[0]
    return SimPrompt(text, task.name, task.domain, task.label, task.language, task.risky)


def _window(gens: list[Event], start: datetime, days: int) -> list[Event]:
    return [e for e in gens if start <= e.timestamp < start + timedelta(days=days)]


def _by_domain(model: NgramReward, pairs: list[PreferencePair]) -> dict[str, float]:
    by: dict[str, list[PreferencePair]] = {}
    for p in pairs:
        by.setdefault(p.provenance["domain"], []).append(p)
    return {d: round(model.accuracy(v), 4) for d, v in sorted(by.items())}


def row_shift(seed: int, *, budget: int = BUDGET, sampled: int = SAMPLED, config=None) -> GuardRow:  # noqa: ANN001
    """Naive: the whole label budget on launch-month prompts. Tether: the drift test, then part of the budget on
    sampled production prompts. Gold accuracy of each arm's reward model on pairs for the 30 days after training.

    `config`: the production stream (default `production_config()`; its `days` must be `DAYS`)."""
    from tether.shift.data import PromptRecord
    from tether.shift.drift import detect_drift
    from tether.shift.sampling import AnnotationSampler, candidates_from_events
    from tether.sim import CampaignConfig, World
    from tether.sim.campaign import make_pair

    if not 0 < sampled < budget:
        raise ValueError(f"sampled must be in (0, budget), got {sampled} of {budget}")
    world = World(seed=seed)
    config = config or production_config()
    if config.days != DAYS:
        raise ValueError(f"the production range must be {DAYS} days, got {config.days}")
    events = list(world.production_stream(config))
    gens = [e for e in events if e.type is EventType.GENERATION and e.prompt]
    trained_at = config.start + timedelta(days=TRAIN_DAY)
    launch = _window(gens, config.start, LAUNCH_DAYS)
    recent = _window(gens, trained_at - timedelta(days=WINDOW_DAYS), WINDOW_DAYS)
    after = _window(gens, trained_at, DAYS - TRAIN_DAY)
    raters = world.rater_pool(RATERS)
    campaign = CampaignConfig(overlap=OVERLAP, objective="overall")
    rng = random.Random(f"{seed}/guard-shift/pairs")

    # the annotated set: a candidate pair per launch-month prompt, in logged order, cycling until the budget is spent
    launch_prompts = [sim_prompt(launch[i % len(launch)].prompt or "") for i in range(budget)]
    launch_pairs = [make_pair(p, world.config.candidates, rng) for p in launch_prompts]
    launch_run = world.simulate_campaign(launch_pairs, raters, campaign)

    # the guard at training time: the annotated prompts against the last 30 days of production
    annotated = sorted({p.text: p for p in launch_prompts}.values(), key=lambda p: p.text)
    A, P = embed([p.text for p in annotated]), embed([e.prompt or "" for e in recent])
    drift = detect_drift([PromptRecord(p.text, lang=p.language) for p in annotated],
                         [PromptRecord(e.prompt or "", lang=e.attributes.get("sim.language")) for e in recent],
                         embeddings=(A, P), seed=seed)
    row = {e.trace_id: i for i, e in enumerate(recent)}
    cands = [c for c in candidates_from_events(events) if c.trace_id in row]  # negative feedback from any time
    picks = AnnotationSampler(sampled, seed=seed).fit(A, P[[row[c.trace_id] for c in cands]], cands).picks_ \
        if drift.drift else []
    sampled_pairs = [make_pair(sim_prompt(p.text), world.config.candidates, rng) for p in picks]
    kept = budget - len(sampled_pairs)
    tether_labels = majority_pairs(launch_run, kept)
    if sampled_pairs:
        tether_labels += majority_pairs(world.simulate_campaign(sampled_pairs, raters, campaign))
    naive_labels = majority_pairs(launch_run)
    naive, tether = NgramReward().fit(naive_labels), NgramReward().fit(tether_labels)

    # held-out truth: gold-labelled pairs for the prompts of the 30 days after training, none labelled by either arm
    seen = {(c.prompt.text, frozenset((c.response_a, c.response_b))) for c in launch_pairs + sampled_pairs}
    fresh = (make_pair(sim_prompt(e.prompt or ""), world.config.candidates, rng)
             for e in after for _ in range(TEST_PAIRS_PER_PROMPT))
    test = world.gold_pairs([c for c in fresh if (c.prompt.text, frozenset((c.response_a, c.response_b))) not in seen])
    return GuardRow(
        failure_mode=5, name="distribution shift annotation -> deployment",
        metric="gold accuracy of the reward model on pairs for production prompts of the 30 days after training",
        higher_is_better=True, naive=naive.accuracy(test), tether=tether.accuracy(test),
        naive_arm=(f"labelled {budget} candidate pairs for prompts logged in the launch month and trained its reward "
                   "model on them, never comparing them with production"),
        tether_arm=(f"tested the annotated prompts against the last {WINDOW_DAYS} days of production (drift "
                    f"{'found' if drift.drift else 'not found'}) and moved {len(sampled_pairs)} of the same {budget} "
                    "labelled pairs to production prompts its annotation sampler picked"),
        detail={
            "world": "; ".join([f"{d} opens at day {round(f * DAYS)}" for d, f in sorted(
                config.new_domain_after.items())] + [f"{config.requests_per_day:g} requests a day"]),
            "budget_pairs": budget, "raters_per_pair": OVERLAP, "sampled_pairs": len(sampled_pairs),
            "naive_train_pairs": len(naive_labels), "tether_train_pairs": len(tether_labels),
            "test_pairs": len(test), "production_prompts": len(gens),
            "difference_ci95": difference_ci95(naive, tether, test, seed),
            "drift": {"drift": drift.drift, "mmd": drift.mmd, "mmd_pvalue": drift.mmd_pvalue,
                      "c2st_auc": drift.c2st_auc, "c2st_pvalue": drift.c2st_pvalue,
                      "under_covered_clusters": len(drift.under_covered), "n_annotation": drift.n_annotation,
                      "n_production": drift.n_production},
            "launch_domains": dict(sorted(Counter(p.domain for p in launch_prompts).items())),
            "sampled_domains": dict(sorted(Counter(sim_prompt(p.text).domain for p in picks).items())),
            "test_domains": dict(sorted(Counter(p.provenance["domain"] for p in test).items())),
            "naive_by_domain": _by_domain(naive, test), "tether_by_domain": _by_domain(tether, test),
            "embedding": f"hashed word 1-2-grams, {EMBED_DIM} dims",
        })
