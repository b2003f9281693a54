"""Likert (rating) and multi-turn tasks in the rater app: rendering, answers stored as Rating records, rationales,
the rater's own page, pilots judged on interval alpha, and refused bad input."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest
from collect_helpers import follow_sign_in_link
from fastapi.testclient import TestClient
from rating_helpers import OBJECTIVES, SCALE_LABELS, create_mixed_campaign, dialogue

from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.collect.campaign import CampaignError, CampaignItem, CampaignSettings, create_campaign, enroll
from tether.collect.security import create_raters_with_tokens
from tether.collect.status import campaign_status
from tether.collect.web import create_app
from tether.records import Rater
from tether.store import Store

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINK = re.compile(r'href="http://testserver(/rater/tasks/(\d+))"')


@pytest.fixture
def world(store_url: str) -> Iterator[dict]:
    store = Store(store_url)
    create_mixed_campaign(store)
    tokens = create_raters_with_tokens(store, [Rater(id="alice"), Rater(id="bob")])
    enroll(store, "mix", ["alice", "bob"])
    app = create_app(store_url)
    with TestClient(app) as alice, TestClient(app) as bob, TestClient(app) as anon:
        for client, who in ((alice, "alice"), (bob, "bob")):
            assert follow_sign_in_link(client, f"/r/{tokens[who]}").status_code == 200
        yield {"store": store, "alice": alice, "bob": bob, "anon": anon}
    store.close()


def task_pages(client: TestClient, store: Store, rater: str) -> dict[str, tuple[str, str]]:
    """task kind -> (path, html) of one open task of each kind."""
    out = {}
    for aid, _campaign, task_type in open_tasks(store, rater):
        path = f"/rater/tasks/{aid}"
        out.setdefault(task_type, (path, client.get(path).text))
    return out


def test_rubric_is_rendered_markdown_and_a_script_in_it_is_text(world):
    pages = task_pages(world["alice"], world["store"], "alice")
    html = pages["likert"][1]
    rubric = html[html.index('id="rubric"'):html.index("</details>")]
    assert "<h1>How to judge</h1>" in rubric and "<strong>whole conversation</strong>" in rubric
    assert "<em>Helpful</em>" in rubric and "<li>" in rubric
    assert "&lt;script&gt;document.title" in rubric and "<script>document.title" not in html


def test_dialogue_prompts_are_shown_as_turns(world):
    path, html = task_pages(world["alice"], world["store"], "alice")["dialogue"]
    turns = re.findall(r'<div class="turn turn-(\w+)"><div class="role">(\w+)</div>'
                       r'<div class="text">([^<]*)</div>', html)
    task = get_task(world["store"], int(path.rsplit("/", 1)[1]), "alice", mark_shown=False)
    trip = re.search(r"trip (\d+)", task.prompt).group(1)
    assert turns == [("user", "User", f"I need help planning trip {trip}."),
                     ("assistant", "Assistant", "Sure, where to?"),
                     ("user", "User", f"Somewhere warm for trip {trip}.")]
    assert "Next reply 1" in html and "Next reply 2" in html


def test_likert_answer_is_stored_as_ratings_with_the_rationale(world):
    store, client = world["store"], world["alice"]
    path, html = task_pages(client, store, "alice")["likert"]
    assert 'name="score_helpfulness" value="1"' in html and 'name="score_harmlessness" value="5"' in html
    # the scale's labels are shown; confidence is asked on pairs only
    assert "great" in html and '<input type="radio" name="confidence"' not in html
    task = get_task(store, int(path.rsplit("/", 1)[1]), "alice", mark_shown=False)
    r = client.post(path, data={"csrf_token": CSRF.search(html).group(1), "score_helpfulness": "4",
                                "score_harmlessness": "5", "rationale": "  Concrete and safe.  "})
    assert r.status_code == 200 and "/rater/tasks/" in str(r.url)
    ratings = {x.objective: x for x in store.iter_ratings(rater="alice")}
    assert sorted(ratings) == sorted(OBJECTIVES)
    h = ratings["helpfulness"]
    assert (h.score, ratings["harmlessness"].score) == (4, 5)
    assert (h.scale_min, h.scale_max, h.scale_labels) == (1, 5, SCALE_LABELS)
    assert h.rationale == "Concrete and safe." and h.response == task.first and h.prompt == task.prompt
    assert h.campaign == "mix" and h.task_type == "likert" and h.rubric_version == "v1"
    assert h.extras["time_on_task_ms"] >= 0
    assert list(store.iter_comparisons(rater="alice")) == []


def test_pairwise_rationale_is_kept_with_the_comparisons(world):
    store, client = world["store"], world["alice"]
    path, html = task_pages(client, store, "alice")["dialogue"]
    r = client.post(path, data={"csrf_token": CSRF.search(html).group(1), "choice_helpfulness": "first",
                                "choice_harmlessness": "tie", "rationale": "Reply 1 answers the question."})
    assert r.status_code == 200
    stored = list(store.iter_comparisons(rater="alice"))
    assert len(stored) == 2 and {c.extras["rationale"] for c in stored} == {"Reply 1 answers the question."}


BAD_ANSWERS = [
    ("likert", {"score_helpfulness": "6", "score_harmlessness": "3"}, 400),  # off the 1..5 scale
    ("likert", {"score_helpfulness": "2.5", "score_harmlessness": "3"}, 422),
    ("likert", {"score_helpfulness": "2"}, 400),  # an objective left out
    ("likert", {"choice_helpfulness": "first", "choice_harmlessness": "tie"}, 400),  # a pair's answer
    ("dialogue", {"score_helpfulness": "2", "score_harmlessness": "3"}, 400),  # a rating's answer
    ("dialogue", {"choice_helpfulness": "first", "score_harmlessness": "3"}, 422),  # both kinds
    ("likert", {"score_helpfulness": "2", "score_harmlessness": "3", "rationale": "x" * 5001}, 422),
]


def test_bad_answers_are_refused_and_nothing_is_stored(world):
    store, client = world["store"], world["alice"]
    pages = task_pages(client, store, "alice")
    for task_type, form, status in BAD_ANSWERS:
        path, html = pages[task_type]
        r = client.post(path, data={**form, "csrf_token": CSRF.search(html).group(1)})
        assert r.status_code == status, (form, r.text)
        assert list(store.iter_ratings()) == [] and list(store.iter_comparisons()) == []
        assert client.get(path).status_code == 200  # still open


def test_rater_page_needs_the_credential_and_shows_progress_agreement_and_position(world):
    store = world["store"]
    assert world["anon"].get("/rater/me").status_code == 401
    for rater in ("alice", "bob"):
        fill_queue(store, "mix", rater)
        for aid, _c, task_type in open_tasks(store, rater):
            get_task(store, aid, rater)  # the page view starts the time on task
            if task_type == "likert":  # alice and bob agree on helpfulness, differ by one on harmlessness
                submit_answer(store, aid, rater, {"helpfulness": 4, "harmlessness": 3 if rater == "alice" else 2})
            else:  # both always pick the first shown: they agree only where they saw the same order
                submit_answer(store, aid, rater, {o: "first" for o in OBJECTIVES})
    page = world["alice"].get("/rater/me")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "Done: 4 of 4" in text
    assert "the same score as another rater in 2 of 4 shared ratings (50%)" in text
    assert "0.50 points apart" in text
    # counterbalancing gave alice and bob opposite orders on every pair: picking "first" never agrees
    assert "you chose as another rater did in 0 of 4 shared judgments (0%)" in text
    assert "picked the response shown first in 4 of 4" in text
    queue = world["alice"].get("/rater").text
    assert 'href="http://testserver/rater/me"' in queue


def test_rating_pilot_is_judged_on_interval_alpha(store: Store):
    items = [CampaignItem(prompt=f"p{i}", task="rating", response=f"r{i}", scale=(1, 5), task_type="likert")
             for i in range(6)]
    create_campaign(store, CampaignSettings(name="pilot", overlap=2, pilot_items=6, gold_rate=0, attention_rate=0,
                                            queue_size=6), items, "Rate it.")
    store.upsert_raters([Rater(id="a"), Rater(id="b")])
    enroll(store, "pilot", ["a", "b"])
    rng = random.Random(3)
    for rater in ("a", "b"):
        fill_queue(store, "pilot", rater, rng=rng)
        for aid, _c, _tt in open_tasks(store, rater):
            n = int(get_task(store, aid, rater).first[1:])
            # rater a follows the item, rater b answers the reverse: interval alpha far below 0.4
            submit_answer(store, aid, rater, {"overall": 1 + n % 5 if rater == "a" else 5 - n % 5})
    state = campaign_status(store, "pilot")["task_types"]["likert"]
    assert state["status"] == "paused" and state["pilot_agreement"] < 0.4
    assert "Krippendorff's alpha" in state["reason"]


def test_rating_items_are_validated(store: Store):
    with pytest.raises(ValueError, match="needs 'response'"):
        CampaignItem(prompt="p", task="rating")
    with pytest.raises(ValueError, match="not response_a"):
        CampaignItem(prompt="p", task="rating", response="r", response_a="x")
    with pytest.raises(ValueError, match="at most 9 points"):
        CampaignItem(prompt="p", task="rating", response="r", scale=(0, 10))
    with pytest.raises(ValueError, match="3 labels for a 5-point scale"):
        CampaignItem(prompt="p", task="rating", response="r", scale=(1, 5), scale_labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="'response' is for rating items"):
        CampaignItem(prompt="p", response_a="a", response_b="b", response="r")
    with pytest.raises(ValueError, match="gold and attention checks are pairwise"):
        CampaignItem(prompt="p", task="rating", response="r", kind="gold", expected={"overall": "a"})
    mixed = [CampaignItem(prompt="p", response_a="a", response_b="b", task_type="t"),
             CampaignItem(prompt=dialogue(1), task="rating", response="r", task_type="t")]
    with pytest.raises(CampaignError, match="mix pairwise and rating items"):
        create_campaign(store, CampaignSettings(name="m"), mixed, "rubric")
    odd = [CampaignItem(prompt="p", task="rating", response="r", objectives=["style"])]
    with pytest.raises(CampaignError, match="not campaign objectives"):
        create_campaign(store, CampaignSettings(name="o"), odd, "rubric")


def test_a_rating_item_may_ask_for_some_objectives_only(store: Store):
    items = [CampaignItem(prompt="p", task="rating", response="r", scale=(1, 3), objectives=["harmlessness"]),
             CampaignItem(prompt="q", task="rating", response="s", scale=(1, 3))]
    create_campaign(store, CampaignSettings(name="some", objectives=OBJECTIVES, overlap=2, pilot_items=0,
                                            gold_rate=0, attention_rate=0), items, "Rate it.")
    store.upsert_raters([Rater(id="a")])
    enroll(store, "some", ["a"])
    fill_queue(store, "some", "a")
    asked = {get_task(store, aid, "a").prompt: get_task(store, aid, "a").objectives for aid, _c, _t in
             open_tasks(store, "a")}
    assert asked == {"p": ["harmlessness"], "q": OBJECTIVES}
    aid = next(aid for aid, _c, _t in open_tasks(store, "a") if get_task(store, aid, "a").prompt == "p")
    (rating,) = submit_answer(store, aid, "a", {"harmlessness": 3}, rationale="  ")
    assert (rating.objective, rating.score, rating.rationale, rating.scale_max) == ("harmlessness", 3, None, 3)
