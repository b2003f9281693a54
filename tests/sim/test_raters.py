"""Hidden rater traits are realized as configured; visible profiles correlate with them."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy.stats import binomtest, spearmanr
from statsmodels.stats.inter_rater import fleiss_kappa

from tether.sim import CampaignConfig, CandidateConfig, TraitDistribution, World, WorldConfig
from tether.sim.raters import KNOWLEDGE_LEVELS, TOLERANCE_LEVELS


def _only(contrast: str) -> WorldConfig:
    """A world whose candidate pairs differ in exactly one property."""
    return WorldConfig(candidates=CandidateConfig(contrast_weights={contrast: 1.0}, second_contrast=0.0))


def test_position_bias_is_realized_within_binomial_ci() -> None:
    w = World(seed=11)
    traits = TraitDistribution(position_bias=0.60, position_bias_sd=0.0)
    run = w.simulate_campaign(400, w.rater_pool(40, traits=traits), CampaignConfig(overlap=3))
    n = len(run.comparisons)
    first = sum(c.picked_first_shown for c in run.comparisons)
    unsure = sum(a.judgment.unsure for a in run.assignments) / n
    # when unsure: first with the configured 0.60; when sure or spamming: display order is independent of merit
    expected = unsure * 0.60 + (1 - unsure) * 0.5
    ci = binomtest(first, n).proportion_ci(0.99)
    assert 0.05 < unsure < 0.6  # the test is only meaningful if both kinds of judgment occur
    assert ci.low <= expected <= ci.high
    unsure_first = [c.picked_first_shown for c, a in zip(run.comparisons, run.assignments, strict=True)
                    if a.judgment.unsure]
    ci_u = binomtest(sum(unsure_first), len(unsure_first)).proportion_ci(0.99)
    assert ci_u.low <= 0.60 <= ci_u.high and ci_u.low > 0.5


def test_display_order_is_stored_and_choice_is_canonical() -> None:
    w = World(seed=2)
    run = w.simulate_campaign(60, w.rater_pool(10), CampaignConfig(overlap=4, counterbalance=True))
    for c, a in zip(run.comparisons, run.assignments, strict=True):
        assert c.shown_first == a.shown_first
        assert c.picked_first_shown == a.judgment.picked_first
    shown = collections.defaultdict(list)
    for c in run.comparisons:
        shown[c.pair_id].append(c.shown_first.value)
    assert all(sorted(v) == ["a", "a", "b", "b"] for v in shown.values())  # counterbalanced


def _accuracy(run, objective: str = "overall") -> float:  # noqa: ANN001
    labels = {t["pair_id"]: t["label"][objective] for t in run.truth_rows()}
    judged = [c.choice.value == labels[c.pair_id] for c in run.comparisons if labels[c.pair_id] != "tie"]
    return sum(judged) / len(judged)


def test_experts_beat_novices_on_wrong_fact_items() -> None:
    w = World(seed=5, config=_only("correctness"))
    pairs = w.candidate_pairs(150, tasks=["code_output", "interest"])
    quiet = {"spam_fraction": 0.0, "lapse_rate": 0.0}
    experts = w.rater_pool(10, TraitDistribution(expertise_mean={"coding": 4.0, "finance": 4.0},
                                                 expertise_sd=0.3, **quiet), id_prefix="expert")
    novices = w.rater_pool(10, TraitDistribution(expertise_mean={"coding": -3.0, "finance": -3.0},
                                                 expertise_sd=0.3, **quiet), id_prefix="novice")
    acc_e = _accuracy(w.simulate_campaign(pairs, experts, CampaignConfig(overlap=3)))
    acc_n = _accuracy(w.simulate_campaign(pairs, novices, CampaignConfig(overlap=3)))
    assert acc_e > 0.9
    assert acc_n < 0.7  # novices rarely notice, and then guess by position
    assert acc_e - acc_n > 0.25


def _kappa(run) -> float:  # noqa: ANN001
    counts = collections.defaultdict(collections.Counter)
    for c in run.comparisons:
        counts[c.pair_id][c.choice.value] += 1
    return float(fleiss_kappa(np.array([[v["a"], v["b"]] for v in counts.values()])))


def test_ambiguous_task_type_has_low_agreement_clear_ones_high() -> None:
    w = World(seed=0)
    pool = w.rater_pool(30)
    kappa = {task: _kappa(w.simulate_campaign(w.candidate_pairs(150, tasks=[task]), pool,
                                               CampaignConfig(overlap=5)))
             for task in ("thank_note", "capital", "premise")}
    assert kappa["thank_note"] < 0.4
    assert kappa["capital"] > 0.6 and kappa["premise"] > 0.6


def test_verbosity_biased_raters_pick_the_longer_answer_more_often() -> None:
    w = World(seed=4, config=_only("verbosity"))
    pairs = w.candidate_pairs(150, tasks=["capital", "interest", "code_output"])
    longer = {p.pair_id: "a" if len(p.response_a) > len(p.response_b) else "b" for p in pairs}

    def rate(mean: float) -> float:
        pool = w.rater_pool(12, TraitDistribution(verbosity_bias_mean=mean, verbosity_bias_sd=0.02))
        run = w.simulate_campaign(pairs, pool, CampaignConfig(overlap=3))
        return sum(c.choice.value == longer[c.pair_id] for c in run.comparisons) / len(run.comparisons)

    neutral, biased = rate(0.0), rate(0.6)
    assert neutral < 0.3 and biased > 0.7


def test_spammers_are_near_fifty_fifty() -> None:
    w = World(seed=9)
    pool = w.rater_pool(10, TraitDistribution(spam_fraction=1.0, spammer_rate=1.0))
    run = w.simulate_campaign(300, pool, CampaignConfig(overlap=2))
    labels = {t["pair_id"]: t["label"]["overall"] for t in run.truth_rows()}
    judged = [c for c in run.comparisons if labels[c.pair_id] != "tie"]
    agree = sum(c.choice.value == labels[c.pair_id] for c in judged)
    assert binomtest(agree, len(judged)).proportion_ci(0.99).low <= 0.5 <= \
        binomtest(agree, len(judged)).proportion_ci(0.99).high
    first = sum(c.picked_first_shown for c in run.comparisons)
    ci = binomtest(first, len(run.comparisons)).proportion_ci(0.99)
    assert ci.low <= 0.5 <= ci.high


def test_disagreement_averse_raters_favor_soft_answers() -> None:
    w = World(seed=6, config=_only("sycophancy"))
    pairs = [p for p in w.candidate_pairs(50, tasks=["premise"])
             if not p.style_a.sycophantic and p.style_a.direct or not p.style_b.sycophantic and p.style_b.direct]
    blunt = {p.pair_id: "a" if not p.style_a.sycophantic else "b" for p in pairs}

    def rate(aversion: float) -> float:
        traits = TraitDistribution(disagreement_aversion_by_region={"x": aversion}, disagreement_aversion_sd=0.0)
        run = w.simulate_campaign(pairs, w.rater_pool(12, traits), CampaignConfig(overlap=3))
        return sum(c.choice.value == blunt[c.pair_id] for c in run.comparisons) / len(run.comparisons)

    assert rate(0.0) > 0.85 and rate(0.6) < 0.3


def test_profile_attributes_correlate_with_hidden_traits() -> None:
    pool = World(seed=1).rater_pool(400)
    for domain in ("coding", "finance", "medical"):
        level = [KNOWLEDGE_LEVELS.index(r.profile["domain_knowledge"][domain]) for r in pool]
        hidden = [r.traits.expertise[domain] for r in pool]
        assert spearmanr(level, hidden).statistic > 0.6
    tol = [TOLERANCE_LEVELS.index(r.profile["technical_detail_tolerance"]) for r in pool]
    assert spearmanr(tol, [r.traits.verbosity_bias for r in pool]).statistic > 0.5
    spam = [r.profile["approval_rate"] for r in pool if r.traits.spammer]
    ok = [r.profile["approval_rate"] for r in pool if not r.traits.spammer]
    assert spam and max(spam) < min(ok) + 0.05 and np.mean(spam) < np.mean(ok) - 0.05
    assert all(("es" in r.profile["languages"]) == ("es" in r.traits.languages) for r in pool)
    engineers = [r.traits.expertise["coding"] for r in pool if r.profile["professional_background"] ==
                 "software engineer"]
    assert np.mean(engineers) > np.mean([r.traits.expertise["coding"] for r in pool]) + 0.2
    by_region = collections.defaultdict(list)
    for r in pool:
        by_region[r.profile["region"]].append(r.traits.disagreement_aversion)
    assert np.mean(by_region["east_asia"]) > np.mean(by_region["north_america"]) + 0.1


def test_raters_who_lack_the_language_guess() -> None:
    w = World(seed=8, config=_only("correctness"))
    pairs = w.candidate_pairs(20, tasks=["capital_es"])
    quiet = {"spam_fraction": 0.0, "lapse_rate": 0.0}
    speakers = w.rater_pool(10, TraitDistribution(spanish_speakers=1.0, **quiet))
    english = w.rater_pool(10, TraitDistribution(spanish_speakers=0.0,
                                                 disagreement_aversion_by_region={"europe": 0.0}, **quiet))
    assert all(r.traits.languages == ("en",) for r in english)
    acc_s = _accuracy(w.simulate_campaign(pairs, speakers, CampaignConfig(overlap=3)))
    acc_e = _accuracy(w.simulate_campaign(pairs, english, CampaignConfig(overlap=3)))
    assert acc_s > 0.85 and acc_e == pytest.approx(0.5, abs=0.1)


def test_visible_record_hides_traits() -> None:
    r = World().rater_pool(1)[0]
    rec = r.to_record()
    assert rec.id == r.id and rec.attributes == r.profile
    assert "position_bias" not in rec.attributes and "expertise" not in rec.attributes


def test_perception_noise_lowers_accuracy() -> None:
    w = World(seed=12, config=_only("verbosity"))
    pairs = w.candidate_pairs(120, tasks=["capital", "interest"])
    quiet = {"spam_fraction": 0.0, "lapse_rate": 0.0, "verbosity_bias_sd": 0.0}

    def acc(noise: float) -> float:
        pool = w.rater_pool(10, TraitDistribution(noise_sd=noise, **quiet))
        return _accuracy(w.simulate_campaign(pairs, pool, CampaignConfig(overlap=3)))

    low, high = acc(0.0), acc(0.3)
    assert low > 0.97 and high < low - 0.2
