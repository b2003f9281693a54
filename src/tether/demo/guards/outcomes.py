"""Guard 6, rater preference != user outcome: a reward model trained on what raters liked, or also on what worked.

The world plants a slice: on `capital` every rater adds a liking for a confidently stated wrong answer and never
notices it is wrong (`TraitDistribution.confident_wrong`), while outcomes (the task resolved) follow gold
correctness, as production's do. Both arms train on the same rater pairs: candidate pairs of the world's annotation
mix judged by 3 of the same 30 raters, majority vote. The naive pipeline stops there. Tether audits that reward
model against outcomes (`tether.outcomes.audit_outcomes` on sampled responses to held-out factual prompts, each with
its outcome) and retrains it with outcome pairs (`outcome_pairs`, `match="closest"`: each failing response with its
most alike passing one) built from other prompts' outcomes; outcomes cost no rater label, so the rater budget is the
same. Gold metric: accuracy on fresh gold-labelled `capital` pairs (an independent draw); the other task types'
accuracy is in `detail`, so a fix that breaks the rest would show.

Annotating the audit's disagreement cases would not fix this slice: the same raters would prefer the same confident
wrong answers there. Outcome pairs are the fix the outcomes guard brings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tether.demo.guards.row import GuardRow
from tether.demo.guards.votes import difference_ci95, majority_pairs
from tether.records import PreferencePair
from tether.reward.probe import NgramReward

PLANTED = "capital"
BIAS = 0.15                # utility every rater adds to a confident wrong answer on the planted task type
RATER_PAIRS = 600          # candidate pairs, 3 raters each
OVERLAP = 3
RATERS = 30
AUDIT_PROMPTS = 200        # held-out factual prompts x 4 sampled responses, each with its outcome
TRAIN_PROMPTS = 400        # other factual prompts x 8 sampled responses: the outcome pairs
TRAIN_PER_PROMPT = 8
TEST_PAIRS = 300           # fresh candidate pairs of the planted task type (and as many of the rest), gold-labelled
N_BOOT = 200               # audit bootstrap resamples (prompts)


def _audit(model: NgramReward, rows, seed: int):  # noqa: ANN001, ANN202
    """The outcome audit of one reward model on the held-out outcome rows (slices: task type and length)."""
    from tether.outcomes.audit import AuditConfig, audit_outcomes

    scores = model.score([r.prompt for r in rows], [r.response for r in rows])
    scored = [replace(r, score=float(s), slices={"task_type": r.slices["task_type"]}) for r, s in zip(rows, scores,
                                                                                                      strict=True)]
    return audit_outcomes(scored, AuditConfig(n_boot=N_BOOT, seed=seed))


def _auc(audit, task_type: str) -> list[float]:  # noqa: ANN001
    e = audit.by_slice["task_type"][task_type].auc
    return [round(e.value, 4), round(e.lo, 4), round(e.hi, 4)]


def _unseen(pairs: list[PreferencePair], seen: set[tuple[str, frozenset[str]]]) -> list[PreferencePair]:
    return [p for p in pairs if (p.prompt, frozenset((p.chosen, p.rejected))) not in seen]


def _acc(model: NgramReward, pairs: list[PreferencePair]) -> float | None:
    return round(model.accuracy(pairs), 4) if pairs else None


def row_outcomes(seed: int) -> GuardRow:
    """Naive: a reward model on rater pairs. Tether: the outcome audit, then rater pairs + outcome pairs. Gold
    accuracy of each on the planted slice's held-out pairs."""
    from tether.outcomes.pairs import PairConfig, outcome_pairs
    from tether.sim import CampaignConfig, TraitDistribution, World, outcome_rows

    world = World(seed=seed)
    raters = world.rater_pool(RATERS, traits=TraitDistribution(confident_wrong={PLANTED: BIAS}))
    run = world.simulate_campaign(world.candidate_pairs(RATER_PAIRS), raters,
                                  CampaignConfig(overlap=OVERLAP, objective="overall"))
    rater_pairs = majority_pairs(run)
    audit_rows = outcome_rows(world, AUDIT_PROMPTS, 4, stream="outcome-eval")
    train_rows = outcome_rows(world, TRAIN_PROMPTS, TRAIN_PER_PROMPT, stream="outcome-train")
    o_pairs = outcome_pairs(train_rows, PairConfig(objective="overall", seed=seed, match="closest"))

    naive = NgramReward().fit(rater_pairs)
    before = _audit(naive, audit_rows, seed)
    tether = NgramReward().fit(rater_pairs + o_pairs)
    after = _audit(tether, audit_rows, seed)

    # held-out truth: fresh draws of the world's pairs, gold-labelled (gold ties left out); the slice's one-sentence
    # correctness pairs recur in any draw (20 questions, one wrong answer each), so they are kept, and the accuracy
    # on pairs neither arm trained on is given beside
    test = world.gold_pairs(world.candidate_pairs(TEST_PAIRS, tasks=[PLANTED]))
    rest = [p for p in world.gold_pairs(world.candidate_pairs(TEST_PAIRS)) if p.provenance["task_type"] != PLANTED]
    seen = {(p.prompt, frozenset((p.chosen, p.rejected))) for p in rater_pairs + o_pairs}
    unseen = _unseen(test, seen)
    aucs = {k: s.auc.value for k, s in before.by_slice["task_type"].items()}
    lowest = min(aucs, key=lambda k: aucs[k])
    planted_right = [world.gold_label(p.prompt, p.chosen, p.rejected) == "a"
                     for p in rater_pairs if p.provenance["task_type"] == PLANTED]
    return GuardRow(
        failure_mode=6, name="rater preference != user outcome",
        metric=f"gold accuracy of the reward model on held-out pairs of the planted slice (task type {PLANTED!r})",
        higher_is_better=True, naive=naive.accuracy(test), tether=tether.accuracy(test),
        naive_arm=(f"trained its reward model on {len(rater_pairs)} majority-vote rater pairs and never checked it "
                   "against what worked"),
        tether_arm=(f"audited that reward model against {len(audit_rows)} responses' outcomes ({PLANTED!r} AUC "
                    f"{aucs[PLANTED]:.2f}, {'the lowest' if lowest == PLANTED else f'lowest: {lowest!r}'}) and "
                    f"retrained it on the same rater pairs plus {len(o_pairs)} outcome pairs"),
        detail={
            "planted": {"task_type": PLANTED, "bias": BIAS},
            "rater_pairs": len(rater_pairs), "raters_per_pair": OVERLAP, "outcome_pairs": len(o_pairs),
            "rater_labels_right_on_slice": round(float(np.mean(planted_right)), 4) if planted_right else None,
            "test_pairs": len(test), "difference_ci95": difference_ci95(naive, tether, test, seed),
            "unseen_test_pairs": len(unseen),
            "unseen_accuracy": {"naive": _acc(naive, unseen), "tether": _acc(tether, unseen)},
            "rest_pairs": len(rest), "rest_accuracy": {"naive": _acc(naive, rest), "tether": _acc(tether, rest)},
            "audit_rows": len(audit_rows), "audit_resamples": N_BOOT,
            "audit_auc_slice": {"naive": _auc(before, PLANTED), "tether": _auc(after, PLANTED)},
            "audit_auc_overall": {"naive": round(before.overall.auc.value, 4),
                                  "tether": round(after.overall.auc.value, 4)},
            "audit_lowest_task_type": lowest,
            "audit_worse_than_rest": [f"{g.key}={g.value}" for g in before.worse_slices],
            "audit_prefers_failing": sorted(k for k, s in before.by_slice["task_type"].items() if s.auc.hi < 0.5),
            "audit_disagreeing_prompts": before.n_disagreeing_prompts,
        })
