"""Gold rewards: computed from text alone, and the objectives behave (and conflict) as documented."""

from __future__ import annotations

import random

import pytest

from tether.sim import Style, UnknownPrompt, World, gold_preference, gold_reward
from tether.sim.tasks import TASKS

FACTUAL = [t.name for t in TASKS.values() if t.kind in ("number", "entity", "time")]
RISKY = [t.name for t in TASKS.values() if t.risky]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7)


@pytest.mark.parametrize("task", FACTUAL)
def test_correct_beats_subtly_wrong_on_quality(world: World, task: str) -> None:
    for p in world.prompts(15, tasks=[task]):
        right = world.respond(p, Style(correct=True))
        wrong = world.respond(p, Style(correct=False), seed=3)
        assert right != wrong
        assert world.gold_reward(p, right)["quality"] > world.gold_reward(p, wrong)["quality"] + 0.3
        assert world.gold_preference(p, right, wrong, "quality") > 0.99
        assert world.gold_label(p, right, wrong, "quality") == "a"


@pytest.mark.parametrize("task", RISKY)
def test_unsafe_complete_answer_wins_quality_loses_safety(world: World, task: str) -> None:
    for p in world.prompts(10, tasks=[task]):
        complete = world.respond(p, Style(unsafe=True))
        refusal = world.respond(p, Style(unsafe=False))
        g_c, g_r = world.gold_reward(p, complete), world.gold_reward(p, refusal)
        assert g_c["safety"] == 0.0 and g_r["safety"] == 1.0
        assert g_c["quality"] > g_r["quality"]  # the objectives genuinely conflict here
        assert g_r["overall"] > g_c["overall"]  # and the default mix sides with safety
        assert world.gold_label(p, complete, refusal, "quality") == "a"
        assert world.gold_label(p, complete, refusal, "safety") == "b"


def test_dose_above_maximum_is_less_safe(world: World) -> None:
    for p in world.prompts(20, tasks=["max_dose"]):
        spec = p.spec
        above = [w for w in spec.wrong if float(w) > float(spec.answer)]
        text = p.task_obj.sentence(spec.fields, above[0])
        assert world.gold_reward(p, text)["safety"] == world.config.gold.overdose_safety


@pytest.mark.parametrize("prop", ["hedging", "sycophantic"])
def test_hedging_and_sycophancy_lose_on_honesty(world: World, prop: str) -> None:
    for p in world.prompts(40):
        if p.risky or p.task_type == "tone":
            continue
        plain = world.respond(p, Style())
        flawed = world.respond(p, Style(**{prop: True}))
        assert world.gold_reward(p, flawed)["honesty"] < world.gold_reward(p, plain)["honesty"] - 0.3


def test_premise_agreement_is_sycophantic_and_wrong(world: World) -> None:
    for p in world.prompts(10, tasks=["premise"]):
        agree = world.respond(p, Style(sycophantic=True))
        correct = world.respond(p, Style(direct=False))
        g_a, g_c = world.gold_reward(p, agree), world.gold_reward(p, correct)
        assert g_a["honesty"] < g_c["honesty"] and g_a["quality"] < g_c["quality"]


def test_verbose_and_disfluent_lose_on_quality(world: World) -> None:
    for p in world.prompts(30):
        if p.task_type == "tone":
            continue
        ref = world.gold_reward(p, p.reference)["quality"]
        assert world.gold_reward(p, world.respond(p, Style(verbose=True)))["quality"] < ref - 0.05
        assert world.gold_reward(p, world.respond(p, Style(fluent=False)))["quality"] < ref - 0.05


def test_tone_registers_have_near_equal_gold(world: World) -> None:
    for p in world.prompts(20, tasks=["thank_note"]):
        q = [world.gold_reward(p, world.respond(p, Style(register=r)))["quality"]
             for r in ("neutral", "formal", "casual")]
        assert max(q) - min(q) <= world.config.gold.tie_margin


def test_reference_answers_score_top_marks(world: World) -> None:
    for p in world.prompts(60):
        g = world.gold_reward(p, p.reference)
        assert g["safety"] == 1.0 and g["honesty"] == 1.0
        if not p.risky:
            assert g["quality"] == pytest.approx(1.0)


def test_scored_from_text_alone_any_response() -> None:
    """A fresh process-level call with nothing but strings gives the same numbers as the world."""
    w = World(seed=1)
    p = w.prompts(1, tasks=["interest"])[0]
    answer = f"The balance after {p.spec.fields['n']} years is ${p.spec.answer}."
    assert gold_reward(p.text, answer) == w.gold_reward(p, answer)
    assert gold_reward(p.text, answer)["quality"] == pytest.approx(1.0)
    # arbitrary text (as a policy might write) is scored, and scores low
    rng = random.Random(0)
    noise = " ".join("".join(rng.choice("abcdefghij") for _ in range(5)) for _ in range(8))
    assert gold_reward(p.text, noise)["quality"] < 0.35
    assert gold_reward(p.text, "")["quality"] == 0.0
    # the preference is a proper probability: P(a > b) + P(b > a) = 1
    pab, pba = gold_preference(p.text, answer, noise), gold_preference(p.text, noise, answer)
    assert pab == pytest.approx(1 - pba) and pab > 0.99


def test_unknown_prompt_and_objective_are_clear_errors() -> None:
    with pytest.raises(UnknownPrompt, match="not a prompt of the simulated world"):
        gold_reward("Tell me a joke.", "No.")
    w = World()
    p = w.prompts(1)[0]
    with pytest.raises(ValueError, match="unknown objective 'helpfulness'"):
        w.gold_preference(p, "a", "b", "helpfulness")


def test_world_is_reproducible() -> None:
    a, b = World(seed=3), World(seed=3)
    assert [p.text for p in a.prompts(20)] == [p.text for p in b.prompts(20)]
    pa, pb = a.candidate_pairs(10), b.candidate_pairs(10)
    assert [x.pair_id for x in pa] == [x.pair_id for x in pb]
    assert [p.text for p in World(seed=4).prompts(20)] != [p.text for p in World(seed=3).prompts(20)]


def test_gold_pairs_follow_the_gold_labels() -> None:
    world = World(seed=3)
    cands = world.candidate_pairs(60)
    pairs = world.gold_pairs(cands, ["overall", "safety"])
    expected = sum(world.gold_label(c.prompt, c.response_a, c.response_b, o) != "tie"
                   for c in cands for o in ("overall", "safety"))
    assert len(pairs) == expected > 0
    for p in pairs:
        assert world.gold_preference(p.prompt, p.chosen, p.rejected, p.objective) > 0.5
        assert p.provenance["source"] == "sim-gold" and p.provenance["task_type"]
