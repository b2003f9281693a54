"""Curation: policies for reversed pairs, weights, ties, soft labels, provenance, blocked task types."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tether.audit import AuditConfig, CurateConfig, curate, run_audit
from tether.records import Comparison

FAST = AuditConfig(n_bootstrap=0, min_shared_items=5, min_items_to_judge=10)
# the per-rater weight formula these tests check (the default is now reliability="slice", weights="posterior")
RATER = {"reliability": "rater", "weights": "reliability"}


def _label(pair) -> str:
    pid = pair.provenance["pair_id"]
    if pair.tie:
        return "tie"
    return "a" if pair.chosen.endswith(f"a{pid}") else "b"


@pytest.fixture
def two_task_types(synth):
    """'clear': careful raters; 'vague': raters who mostly guess. Half the raters see both orders."""
    careful = [synth.Rater(f"c{i}", 0.92) for i in range(4)] + [synth.Rater("flipper", first_bias=0.9)]
    clear, truth = synth.campaign(careful, n_items=120, per_item=4, seed=1, both_orders=True, task_type="clear")
    guessers = [synth.Rater(f"g{i}", 0.2) for i in range(4)]
    vague, truth2 = synth.campaign(guessers, n_items=60, per_item=3, seed=2, task_type="vague")
    return clear + vague, {**truth, **truth2}


def test_blocked_task_types_are_excluded_unless_asked(two_task_types):
    rows, _ = two_task_types
    result = run_audit(rows, FAST)
    assert result.blocked_task_types == ["vague"]
    assert result.verdicts["clear"].status == "ok"
    pairs = curate(result, CurateConfig(**RATER)).pairs
    assert {p.provenance["task_type"] for p in pairs} == {"clear"}
    with_blocked = curate(result, CurateConfig(include_blocked=True, **RATER)).pairs
    vague = [p for p in with_blocked if p.provenance["task_type"] == "vague"]
    assert len(vague) == 60 and all("blocked_task_type" in p.provenance["flags"] for p in vague)
    alpha = result.verdicts["vague"].alpha
    # the task-type factor alpha / 0.4 scales every vague pair's weight (and reversals divide it, by default)
    for p in vague:
        expected = p.provenance["mean_reliability"] * max(alpha, 0) / 0.4 / (1 + p.provenance["n_reversals"])
        assert p.weight == pytest.approx(expected, rel=1e-4)


def test_reversal_policies(two_task_types):
    rows, truth = two_task_types
    result = run_audit(rows, FAST)
    kept = {p.provenance["pair_id"]: p for p in curate(result, CurateConfig(policy="keep")).pairs}
    down = {p.provenance["pair_id"]: p for p in curate(result, CurateConfig(policy="downweight")).pairs}
    dropped = {p.provenance["pair_id"]: p for p in curate(result, CurateConfig(policy="discard")).pairs}
    reversed_ids = {pid for pid, p in kept.items() if p.provenance["reversal"]}
    assert 40 < len(reversed_ids) < 120  # the flipper follows the first slot on most of its items
    assert set(dropped) == set(kept) - reversed_ids
    for pid in kept:
        k, d = kept[pid], down[pid]
        n_rev = k.provenance["n_reversals"]
        assert d.weight == pytest.approx(k.weight / (1 + n_rev))
        assert ("reversal" in k.provenance["flags"]) == (n_rev > 0)
    # the flipper has no say: its reliability is 0, so labels follow the careful raters
    assert np.mean([_label(p) == truth[pid] for pid, p in kept.items()]) > 0.95


def test_ties_soft_labels_and_provenance(two_task_types):
    rows, truth = two_task_types
    pairs = curate(rows, CurateConfig(**RATER), FAST).pairs
    ties = [p for p in pairs if p.tie]
    assert ties and all(p.p_chosen == 0.5 for p in ties)
    true_ties = [p for p in pairs if truth[p.provenance["pair_id"]] == "tie"]
    assert np.mean([p.tie for p in true_ties]) > 0.8
    for p in pairs:
        prov = p.provenance
        assert 0.5 <= p.p_chosen <= 1 and p.weight >= 0
        assert prov["n_judgments"] == sum(prov["votes"].values())
        assert prov["label_model"] == "bradley_terry" and len(prov["p_bradley_terry"]) == 3
        for key in ("pair_id", "n_raters", "reversal", "low_agreement", "blocked_task_type", "flags", "policy"):
            assert key in prov
        share = max(prov["votes"].values()) / prov["n_judgments"]
        assert prov["low_agreement"] == (prov["n_judgments"] >= 2 and share < 2 / 3)
    # soft labels are graded: unanimous careful votes are surer than split ones
    unanimous = [p.p_chosen for p in pairs if not p.tie and max(p.provenance["votes"].values()) >= 6]
    split = [p.p_chosen for p in pairs if not p.tie and p.provenance["low_agreement"]]
    assert np.mean(unanimous) > np.mean(split)


def test_curated_labels_beat_majority_vote_with_biased_raters(synth):
    raters = [synth.Rater("good1", 0.9), synth.Rater("good2", 0.9), synth.Rater("first1", first_bias=0.85),
              synth.Rater("first2", first_bias=0.85), synth.Rater("novice1", 0.35), synth.Rater("novice2", 0.35)]
    rows, truth = synth.campaign(raters, n_items=300, per_item=5, seed=7, tie_rate=0.0)
    votes: dict[str, Counter] = {}
    for c in rows:
        votes.setdefault(c.pair_id, Counter())[c.choice.value] += 1
    majority = np.mean([v.most_common(1)[0][0] == truth[pid] for pid, v in votes.items()])
    pairs = curate(rows, CurateConfig(include_blocked=True, **RATER), FAST).pairs
    curated = np.mean([_label(p) == truth[p.provenance["pair_id"]] for p in pairs])
    assert len(pairs) == 300
    assert curated > majority + 0.05


def _judgment(pid: str, rater: str, shown: str, choice: str) -> Comparison:
    return Comparison(prompt=f"p{pid}", response_a=f"a{pid}", response_b=f"b{pid}", pair_id=pid, rater=rater,
                      shown_first=shown, choice=choice)


def test_single_annotated_data_still_curates_with_the_neutral_reliability():
    rows = [_judgment(str(i), f"r{i % 4}", "ab"[i % 2], "ab"[i % 3 == 0]) for i in range(40)]
    result = run_audit(rows, FAST)
    raters = result.to_dict()["raters"]
    assert all(not r["reliability_estimated"] and r["reliability"] == 0.5 for r in raters.values())
    assert result.verdicts["default"].status == "insufficient" and result.blocked_task_types == []
    pairs = curate(result, CurateConfig(**RATER)).pairs
    assert len(pairs) == 40 and all(p.weight == pytest.approx(0.5) for p in pairs)
    assert all(_label(p) == ("b" if int(p.provenance["pair_id"]) % 3 == 0 else "a") for p in pairs)
    assert all("single_judgment" in p.provenance["flags"] for p in pairs)


def test_unanimous_labels_are_fully_trusted_and_one_display_order_has_no_position_effect():
    rows = [_judgment(str(i), f"r{j}", "a", "a") for i in range(30) for j in range(3)]
    result = run_audit(rows, FAST)
    assert all(r["reliability"] == pytest.approx(1.0) for r in result.to_dict()["raters"].values())
    model = result.position_models["overall"]
    assert np.isnan(model.position) and model.rater_position == {}  # not identifiable from one order
    pairs = curate(result, CurateConfig(**RATER)).pairs
    assert len(pairs) == 30 and all(_label(p) == "a" and p.p_chosen > 0.5 for p in pairs)
