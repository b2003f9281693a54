"""Qualification on gold items inside a campaign, and re-qualification when the numbers drop."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.collect.export import assignment_log
from tether.raters.qualify import qualifications, requalify
from tether.store import Store

sys.path.insert(0, str(Path(__file__).parents[1] / "collect"))
from collect_helpers import setup_campaign  # noqa: E402


def right(task) -> dict[str, str]:  # noqa: ANN001
    """Gold items expect `a`: answer it in the display terms this rater sees."""
    return {"overall": "first" if task.shown_first.value == "a" else "second"}


def wrong(task) -> dict[str, str]:  # noqa: ANN001
    return {"overall": "second" if task.shown_first.value == "a" else "first"}


def work(store: Store, rater: str, decide, rng: random.Random) -> list[str]:  # noqa: ANN001
    """Pull one queue and answer it; returns the phases answered."""
    fill_queue(store, "c1", rater, rng=rng)
    phases = []
    for aid, _c, _t in open_tasks(store, rater):
        task = get_task(store, aid, rater)
        submit_answer(store, aid, rater, decide(task))
    for a in assignment_log(store, "c1"):
        if a["rater"] == rater:
            phases.append(a["phase"])
    return phases


def test_raters_qualify_on_gold_before_real_work(store: Store):
    rng = random.Random(5)
    good, bad = setup_campaign(store, raters=2, task_types={"qa": 10}, overlap=2, pilot_items=0,
                               gold_items=6, qualification_gold=3, pass_threshold=1.0, queue_size=5)
    assert work(store, good, right, rng) == ["qualification"] * 3  # gold only, exactly as many as needed
    assert work(store, bad, wrong, rng) == ["qualification"] * 3
    status = {q.rater: q for q in qualifications(store, "c1")}
    assert status[good].status == "qualified" and status[good].gold_accuracy == 1.0
    assert status[bad].status == "failed" and status[bad].gold_accuracy == 0.0
    assert "0.00 on 3 items" in status[bad].reason
    assert fill_queue(store, "c1", bad, rng=rng) == []  # a failed rater gets no more work
    phases = work(store, good, right, rng)
    assert phases[3:] and set(phases[3:]) == {"main"}


def test_requalification_when_gold_accuracy_or_agreement_drops(store: Store):
    rng = random.Random(6)
    raters = setup_campaign(store, raters=3, task_types={"qa": 30}, overlap=2, pilot_items=0, gold_items=12,
                            gold_rate=0.5, pass_threshold=0.8, queue_size=8)
    sloppy, steady, drifting = raters
    for r, decide in ((sloppy, wrong), (steady, right), (drifting, right)):
        work(store, r, decide, rng)
    fill_queue(store, "c1", sloppy, rng=rng)  # open work that must be withdrawn on re-qualification
    assert open_tasks(store, sloppy)
    changed = {q.rater: q for q in requalify(store, "c1", agreement={drifting: 0.1, steady: 0.9},
                                             min_gold_answers=2)}
    assert set(changed) == {sloppy, drifting}
    assert "gold accuracy 0.00 < 0.80" in changed[sloppy].reason
    assert "agreement 0.10 < 0.40" in changed[drifting].reason
    assert not [a for a in assignment_log(store, "c1")
                if a["rater"] == sloppy and a["answered_at"] is None and a["item_kind"] != "gold"]
    # back in qualification: gold items only, then qualified again when they pass
    before = len([a for a in assignment_log(store, "c1") if a["rater"] == drifting])
    phases = work(store, drifting, right, rng)[before:]
    assert phases == ["qualification"]  # qualification_gold=0 -> one gold item re-qualifies
    assert {q.rater: q.status for q in qualifications(store, "c1")}[drifting] == "qualified"
    assert {q.rater: q.status for q in qualifications(store, "c1")}[steady] == "qualified"
