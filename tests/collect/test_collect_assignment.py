"""Assignment: counterbalanced display order, randomized and stored, no repeats, paused types never scale."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
from collect_helpers import answer_all, setup_campaign
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tether.collect.assign import (
    AlreadyAnswered,
    TaskNotFound,
    fill_queue,
    get_task,
    open_tasks,
    submit_answer,
    to_canonical,
)
from tether.collect.campaign import CampaignError, get_campaign, pause_task_type, publish_rubric, task_type_states
from tether.collect.export import assignment_log
from tether.records import Side
from tether.store import Store
from tether.store.collect_models import AssignmentRow


def truth(task) -> str:  # noqa: ANN001
    """The response that is canonically better (`a` on even items), in the display terms this rater sees."""
    better_is_a = int(task.prompt.rsplit(" ", 1)[1]) % 2 == 0
    better = "a" if better_is_a else "b"
    return "first" if task.shown_first.value == better else "second"


def test_to_canonical_maps_display_answers():
    assert to_canonical("first", Side.A) == "a"
    assert to_canonical("first", Side.B) == "b"
    assert to_canonical("second", Side.A) == "b"
    assert to_canonical("second", Side.B) == "a"
    assert to_canonical("tie", Side.B) == "tie"


def test_every_pair_in_both_orders_balanced_and_no_repeats(store: Store, rng: random.Random):
    raters = setup_campaign(store, raters=6, task_types={"qa": 8}, overlap=4, pilot_items=0)
    for r in raters:
        answer_all(store, r, lambda t: {"overall": truth(t)}, rng=rng)
    log = list(assignment_log(store, "c1"))
    by_pair: dict[str, list[str]] = defaultdict(list)
    for a in log:
        by_pair[a["pair_id"]].append(a["shown_first"])
        assert a["answered_at"] is not None
    assert len(by_pair) == 8
    for orders in by_pair.values():
        assert Counter(orders) == Counter({"a": 2, "b": 2})  # overlap 4: two raters per order
    assert len({(a["rater"], a["pair_id"]) for a in log}) == len(log)  # nobody saw a pair twice
    # the stored comparisons carry the order each assignment showed
    order_of = {(a["rater"], a["pair_id"]): a["shown_first"] for a in log}
    comparisons = list(store.iter_comparisons(campaign="c1"))
    assert len(comparisons) == len(log)
    for c in comparisons:
        assert c.shown_first.value == order_of[(c.rater, c.pair_id)]
        # truthful raters: the canonical choice is the better response whatever the order
        assert c.choice.value == ("a" if int(c.prompt.rsplit(" ", 1)[1]) % 2 == 0 else "b")


def test_odd_overlap_first_order_is_randomized(store: Store):
    raters = setup_campaign(store, raters=3, task_types={"qa": 40}, overlap=3, pilot_items=0, queue_size=40)
    rng = random.Random(7)
    for r in raters:
        fill_queue(store, "c1", r, rng=rng)
    log = list(assignment_log(store, "c1"))
    by_pair: dict[str, list[str]] = defaultdict(list)
    for a in log:
        by_pair[a["pair_id"]].append(a["shown_first"])
    assert all(len(v) == 3 and set(v) == {"a", "b"} for v in by_pair.values())
    majority = Counter(Counter(v).most_common(1)[0][0] for v in by_pair.values())
    # which order gets the third rater is a coin flip per pair, not a fixed rule
    assert majority["a"] > 5 and majority["b"] > 5, majority
    firsts = Counter(v[0] for v in by_pair.values())
    assert firsts["a"] > 5 and firsts["b"] > 5, firsts


def test_database_refuses_a_repeat_assignment(store: Store, rng: random.Random):
    raters = setup_campaign(store, raters=2, task_types={"qa": 3}, overlap=2, pilot_items=0)
    fill_queue(store, "c1", raters[0], rng=rng)
    with store.engine.connect() as conn:
        row = conn.execute(select(AssignmentRow)).first()
    with pytest.raises(IntegrityError), store.transaction() as conn:
        conn.execute(AssignmentRow.__table__.insert(), {
            "campaign_id": row.campaign_id, "item_id": row.item_id, "rater_id": row.rater_id,
            "objectives": ["overall"], "shown_first": "a", "phase": "main"})


def test_answer_is_final_private_and_timed(store: Store, rng: random.Random):
    raters = setup_campaign(store, raters=2, task_types={"qa": 2}, overlap=2, pilot_items=0,
                            objectives=["helpfulness", "harmlessness"])
    fill_queue(store, "c1", raters[0], rng=rng)
    aid = open_tasks(store, raters[0])[0][0]
    with pytest.raises(TaskNotFound):
        get_task(store, aid, raters[1])
    with pytest.raises(TaskNotFound):
        submit_answer(store, aid, raters[1], {"helpfulness": "first", "harmlessness": "tie"})
    task = get_task(store, aid, raters[0])
    with pytest.raises(ValueError, match="every objective"):
        submit_answer(store, aid, raters[0], {"helpfulness": "first"})
    out = submit_answer(store, aid, raters[0], {"helpfulness": "first", "harmlessness": "tie"}, 0.75)
    assert [c.objective for c in out] == ["helpfulness", "harmlessness"]
    assert out[0].choice.value == task.shown_first.value and out[1].choice.value == "tie"
    assert all(c.confidence == 0.75 and c.rubric_version == "v1" and c.interface == "tether-web" for c in out)
    with pytest.raises(AlreadyAnswered):
        submit_answer(store, aid, raters[0], {"helpfulness": "second", "harmlessness": "tie"})
    (entry,) = [a for a in assignment_log(store, "c1") if a["assignment_id"] == aid]
    assert entry["first_shown_at"] is not None and entry["time_on_task_ms"] >= 0
    assert out[0].extras["time_on_task_ms"] == entry["time_on_task_ms"]
    assert len(list(store.iter_comparisons(campaign="c1"))) == 2  # the rejected answers stored nothing


def test_ambiguous_task_type_paused_after_pilot_and_resumed_by_new_rubric(store: Store, rng: random.Random):
    raters = setup_campaign(store, raters=3, task_types={"clear": 7, "vague": 10}, overlap=3, pilot_items=5,
                            queue_size=50)
    coin = random.Random(99)

    def rater_answer(task):  # noqa: ANN001, ANN202
        if task.task_type == "vague" and task.rubric_version == "v1":
            return {"overall": coin.choice(["first", "second", "tie"])}  # nobody reads the rubric the same way
        return {"overall": truth(task)}

    # the pilot only: 5 items per task type, nothing beyond before the decision
    for r in raters:
        fill_queue(store, "c1", r, rng=rng)
    issued = {a["task_type"]: 0 for a in assignment_log(store, "c1")}
    for a in assignment_log(store, "c1"):
        issued[a["task_type"]] += 1
        assert a["phase"] == "pilot"
    assert issued == {"clear": 15, "vague": 15}
    for r in raters:
        for aid, _c, _t in open_tasks(store, r):
            submit_answer(store, aid, r, rater_answer(get_task(store, aid, r)))
    with store.engine.connect() as conn:
        states = task_type_states(conn, get_campaign(conn, "c1").id)
    assert states["clear"].status == "active" and states["clear"].agreement >= 0.4
    assert states["vague"].status == "paused" and states["vague"].agreement < 0.4
    assert "ambiguous rubric v1" in states["vague"].reason

    # scaling continues for the clear type only
    for r in raters:
        fill_queue(store, "c1", r, rng=rng)
    after_pilot = [a for a in assignment_log(store, "c1") if a["answered_at"] is None]
    assert after_pilot and {a["task_type"] for a in after_pilot} == {"clear"}
    assert {a["phase"] for a in after_pilot} == {"main"}

    # a revised rubric resumes the type with a fresh pilot round under the new version
    assert publish_rubric(store, "c1", "Vague: prefer the factually correct answer.", version="v2",
                          task_type="vague") == ["vague"]
    with pytest.raises(CampaignError, match="already published"):
        publish_rubric(store, "c1", "again", version="v2", task_type="vague")
    for r in raters:
        answer_all(store, r, rater_answer, rng=rng)
    with store.engine.connect() as conn:
        states = task_type_states(conn, get_campaign(conn, "c1").id)
    assert states["vague"].status == "active" and states["vague"].pilot_round == 2
    assert states["vague"].agreement == pytest.approx(1.0)
    v2 = [a for a in assignment_log(store, "c1") if a["task_type"] == "vague" and a["rubric_version"] == "v2"]
    assert v2 and all(a["answered_at"] for a in v2)
    # every vague pair was issued to all three raters, none twice
    log = [a for a in assignment_log(store, "c1") if a["task_type"] == "vague"]
    assert Counter(a["pair_id"] for a in log) == Counter({p: 3 for p in {a["pair_id"] for a in log}})
    assert len({a["pair_id"] for a in log}) == 10


def test_manual_pause_withdraws_open_tasks(store: Store, rng: random.Random):
    raters = setup_campaign(store, raters=2, task_types={"qa": 6}, overlap=2, pilot_items=0)
    fill_queue(store, "c1", raters[0], rng=rng)
    assert open_tasks(store, raters[0])
    withdrawn = pause_task_type(store, "c1", "qa", "looking into complaints")
    assert withdrawn == 5  # queue_size
    assert open_tasks(store, raters[0]) == []
    assert fill_queue(store, "c1", raters[0], rng=rng) == []
    with pytest.raises(CampaignError, match="no task type"):
        pause_task_type(store, "c1", "nope", "x")


def test_gold_and_attention_items_mixed_in(store: Store):
    raters = setup_campaign(store, raters=1, task_types={"qa": 40}, overlap=2, pilot_items=0, queue_size=40,
                            gold_items=10, attention_items=10, gold_rate=0.2, attention_rate=0.2)
    fill_queue(store, "c1", raters[0], rng=random.Random(3))
    phases = Counter(a["phase"] for a in assignment_log(store, "c1"))
    assert phases["gold"] > 0 and phases["attention"] > 0 and phases["main"] > 0
    assert sum(phases.values()) == 40
    kinds = {a["phase"]: a["item_kind"] for a in assignment_log(store, "c1")}
    assert kinds == {"gold": "gold", "attention": "attention", "main": "regular"}


def test_a_stored_audit_run_blocks_its_task_types_until_a_revised_rubric(store: Store):
    """Campaigns read the blocked task types of the latest audit run that covered their comparisons."""
    from tether.collect.status import campaign_status
    from tether.records import AuditRun

    raters = setup_campaign(store, raters=2, task_types={"clear": 3, "vague": 3}, pilot_items=0, overlap=2)
    store.add_audit_run(AuditRun(campaigns=["other"], blocked_task_types=["clear"]))  # another campaign's audit
    store.add_audit_run(AuditRun(campaigns=["c1"], blocked_task_types=["vague"],
                                 verdicts={"vague": {"status": "ambiguous", "alpha": 0.12}}))
    fill_queue(store, "c1", raters[0], rng=random.Random(0))
    assert {tt for _, _, tt in open_tasks(store, raters[0])} == {"clear"}
    status = campaign_status(store, "c1")
    assert status["paused_task_types"] == ["vague"] and "agreement 0.12" in status["blocked_by_audit"]["vague"]

    publish_rubric(store, "c1", "Vague items: prefer the more specific answer.", version="v2", task_type="vague")
    assert campaign_status(store, "c1")["blocked_by_audit"] == {}
    fill_queue(store, "c1", raters[1], rng=random.Random(0))
    assert "vague" in {tt for _, _, tt in open_tasks(store, raters[1])}
