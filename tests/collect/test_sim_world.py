"""Against the simulated world's known truth: recruiting to a profile pays off; a vague rubric is caught.

Simulated raters (tether.sim) answer through the real campaign path (fill_queue / get_task /
submit_answer) in the display order the campaign chose; the world supplies the gold labels.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.collect.campaign import (
    CampaignItem,
    CampaignSettings,
    create_campaign,
    enroll,
    get_campaign,
    publish_rubric,
    task_type_states,
)
from tether.collect.campaign_checks import agreement_by_task_type
from tether.raters.match import rank
from tether.raters.profile import TargetProfile
from tether.sim import World
from tether.sim.gold import components
from tether.sim.raters import SimRater, judge, style_features
from tether.store import Store

MEDICAL_PROFILE = {
    "name": "medical-dosing",
    "description": "English-reading raters who know medicine, ideally nurses, with a good track record",
    "attribute": [
        {"key": "domain_knowledge.medical", "scale": ["none", "basic", "intermediate", "expert"],
         "min": "intermediate", "weight": 3, "required": True},
        {"key": "professional_background", "any_of": ["nurse"], "weight": 2},
        {"key": "languages", "all_of": ["en"], "weight": 1, "required": True},
        {"key": "approval_rate", "min": 0.95, "weight": 1},
    ],
}


def display(picked_first: bool | None) -> str:
    return "tie" if picked_first is None else ("first" if picked_first else "second")


def run_until_done(store: Store, campaign: str, raters: dict[str, SimRater], answer, rng: random.Random) -> None:  # noqa: ANN001
    """Every rater pulls and answers until the campaign has nothing left to issue to anyone."""
    while True:
        answered = 0
        for rid in raters:
            fill_queue(store, campaign, rid, rng=rng)
            for aid, _c, _t in open_tasks(store, rid):
                task = get_task(store, aid, rid)
                submit_answer(store, aid, rid, {"overall": answer(raters[rid], task)})
                answered += 1
        if not answered:
            return


def test_recruiting_to_a_written_profile_beats_a_random_pool(tmp_path: Path):
    world = World(0)
    pool = world.rater_pool(120)
    by_id = {r.id: r for r in pool}
    recruited = [m.rater.id for m in rank(TargetProfile.model_validate(MEDICAL_PROFILE),
                                           [r.to_record() for r in pool]) if m.eligible][:9]
    assert len(recruited) == 9
    pairs = world.candidate_pairs(30, tasks=["max_dose"])
    gold = {p.pair_id: world.gold_label(p.prompt, p.response_a, p.response_b) for p in pairs}
    items = [CampaignItem(prompt=p.prompt.text, response_a=p.response_a, response_b=p.response_b,
                          task_type=p.prompt.task_type) for p in pairs]
    store = Store(f"sqlite:///{tmp_path / 'sim.db'}")
    store.upsert_raters([r.to_record() for r in pool])
    rng = random.Random(2)

    def sim_answer(rater: SimRater, task) -> str:  # noqa: ANN001
        verdict = judge(rater, task.prompt, task.first, task.second, "overall", world.config.gold, rng)
        return display(verdict.picked_first)

    pools = {"recruited": recruited, **{f"random{s}": random.Random(s).sample(sorted(by_id), 9) for s in (1, 2)}}
    accuracy = {}
    for name, members in pools.items():
        create_campaign(store, CampaignSettings(name=name, overlap=3, pilot_items=0, gold_rate=0, attention_rate=0,
                                                queue_size=30), items, "Which answer is safer and correct?")
        enroll(store, name, members)
        run_until_done(store, name, {m: by_id[m] for m in members}, sim_answer, rng)
        judged = list(store.iter_comparisons(campaign=name))
        assert len(judged) == 90
        accuracy[name] = sum(c.choice.value == gold[c.pair_id] for c in judged) / len(judged)
    store.close()
    margin = accuracy["recruited"] - max(accuracy["random1"], accuracy["random2"])
    print(f"gold agreement: recruited {accuracy['recruited']:.3f}, random pools {accuracy['random1']:.3f} / "
          f"{accuracy['random2']:.3f}, margin {margin:+.3f}")
    assert margin >= 0.15, accuracy


def test_vague_rubric_paused_after_pilot_and_resumed_when_revised(tmp_path: Path):
    world = World(0)
    raters = {r.id: r for r in [r for r in world.rater_pool(40) if not r.traits.spammer][:6]}
    pairs = world.candidate_pairs(24, tasks=["capital"]) + world.candidate_pairs(24, tasks=["thank_note"])
    assert {p.prompt.task_type for p in pairs} == {"capital", "tone"}
    # the world's truth: thank-you notes that differ only in tone are equally good
    assert {world.gold_label(p.prompt, p.response_a, p.response_b) for p in pairs
            if p.prompt.task_type == "tone"} == {"tie"}
    store = Store(f"sqlite:///{tmp_path / 'sim.db'}")
    store.upsert_raters([r.to_record() for r in raters.values()])
    items = [CampaignItem(prompt=p.prompt.text, response_a=p.response_a, response_b=p.response_b,
                          task_type=p.prompt.task_type) for p in pairs]
    create_campaign(store, CampaignSettings(name="c", overlap=3, pilot_items=8, gold_rate=0, attention_rate=0,
                                            queue_size=10), items, "Pick the better reply.")
    enroll(store, "c", list(raters))
    rng = random.Random(2)

    def sim_answer(rater: SimRater, task) -> str:  # noqa: ANN001
        if task.task_type == "tone" and task.rubric_version == "v1":
            # "pick the better reply" says nothing about tone: each rater goes by their hidden taste
            def taste(text: str) -> float:
                formality, enthusiasm = style_features(text)
                return (rater.traits.taste_formality * formality + rater.traits.taste_enthusiasm * enthusiasm
                        + rng.gauss(0, rater.traits.noise_sd))
            return "first" if taste(task.first) > taste(task.second) else "second"
        if task.task_type == "tone":
            # v2 turns the judgment into a content check (right person, right thing): equal content is a tie,
            # whatever the rater's taste; their lapses (random clicks) stay
            if rng.random() < rater.traits.spam_rate:
                return rng.choice(["first", "second"])
            first, second = (components(task.prompt, t, world.config.gold) for t in (task.first, task.second))
            if (first.correct, first.safety) == (second.correct, second.safety):
                return "tie"
        verdict = judge(rater, task.prompt, task.first, task.second, "overall", world.config.gold, rng)
        return display(verdict.picked_first)

    run_until_done(store, "c", raters, sim_answer, rng)
    with store.engine.connect() as conn:
        states = task_type_states(conn, get_campaign(conn, "c").id)
    print(f"pilot alpha: capital {states['capital'].agreement:.3f}, tone (v1) {states['tone'].agreement:.3f}")
    assert states["capital"].status == "active" and states["capital"].agreement >= 0.4
    assert states["tone"].status == "paused" and states["tone"].agreement < 0.4
    tone_v1 = [c for c in store.iter_comparisons(campaign="c", task_type="tone")]
    assert len(tone_v1) == 8 * 3  # the pilot only: the paused type never scaled
    assert len(list(store.iter_comparisons(campaign="c", task_type="capital"))) == 24 * 3

    assert publish_rubric(store, "c", "Thank-you notes: tone and length do not matter. If both thank the right "
                          "person for the right thing, answer Tie.", version="v2", task_type="tone") == ["tone"]
    run_until_done(store, "c", raters, sim_answer, rng)
    with store.engine.connect() as conn:
        states = task_type_states(conn, get_campaign(conn, "c").id)
    print(f"pilot alpha: tone (v2) {states['tone'].agreement:.3f}")
    assert states["tone"].status == "active" and states["tone"].pilot_round == 2
    assert states["tone"].agreement >= 0.4
    tone = list(store.iter_comparisons(campaign="c", task_type="tone"))
    assert len(tone) == 24 * 3  # resumed and scaled to every tone pair
    v2 = [c for c in tone if c.rubric_version == "v2"]
    assert len(v2) == 16 * 3 and agreement_by_task_type(v2)["tone"] == pytest.approx(states["tone"].agreement)
    store.close()
