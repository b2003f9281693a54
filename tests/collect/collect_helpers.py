"""Helpers for campaign tests: a small campaign on a store, and a way to answer like a rater."""

from __future__ import annotations

import random

from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.collect.campaign import CampaignItem, CampaignSettings, create_campaign, enroll
from tether.records import Rater
from tether.store import Store

RUBRIC = "Pick the response that answers the prompt better. Tie only when they are equally good."


def make_items(task_types: dict[str, int], *, gold: int = 0, attention: int = 0,
               objectives: tuple[str, ...] = ("overall",)) -> list[CampaignItem]:
    """Regular items per task type (canonical truth: `a` is better on even items), plus gold/attention items."""
    items = [CampaignItem(prompt=f"{tt} prompt {i}", response_a=f"{tt} answer A{i}", response_b=f"{tt} answer B{i}",
                          task_type=tt)
             for tt, n in task_types.items() for i in range(n)]
    first_type = next(iter(task_types))
    items += [CampaignItem(prompt=f"gold {i}", response_a=f"gold right {i}", response_b=f"gold wrong {i}",
                           task_type=first_type, kind="gold", expected={o: "a" for o in objectives})
              for i in range(gold)]
    items += [CampaignItem(prompt=f"attention {i}", response_a=f"choose this {i}", response_b=f"not this {i}",
                           task_type=first_type, kind="attention", expected={o: "a" for o in objectives})
              for i in range(attention)]
    return items


def setup_campaign(store: Store, *, raters: int, task_types: dict[str, int], name: str = "c1", **settings
                   ) -> list[str]:
    """Create a campaign and enroll `raters` raters; returns their ids."""
    objectives = tuple(settings.get("objectives", ("overall",)))
    items = make_items(task_types, gold=settings.pop("gold_items", 0), attention=settings.pop("attention_items", 0),
                       objectives=objectives)
    settings.setdefault("gold_rate", 0.0)
    settings.setdefault("attention_rate", 0.0)
    create_campaign(store, CampaignSettings(name=name, **settings), items, RUBRIC)
    ids = [f"r{i}" for i in range(raters)]
    store.upsert_raters([Rater(id=r) for r in ids])
    enroll(store, name, ids)
    return ids


def answer_all(store: Store, rater: str, decide, *, campaign: str = "c1", rng: random.Random | None = None) -> int:
    """Let a rater pull and answer until nothing is left; `decide(task) -> {objective: display answer}`."""
    rng = rng or random.Random(0)
    n = 0
    while True:
        fill_queue(store, campaign, rater, rng=rng)
        open_ = open_tasks(store, rater)
        if not open_:
            return n
        for aid, _campaign, _tt in open_:
            task = get_task(store, aid, rater)
            submit_answer(store, aid, rater, decide(task))
            n += 1



def follow_sign_in_link(client, link_path: str):  # noqa: ANN001, ANN201
    """Open a sign-in link (a form, no session yet) and press its button, as a rater's browser does; returns the
    response after redirects."""
    import re

    page = client.get(link_path)
    assert page.status_code == 200, page.text
    assert "tether_rater" not in page.headers.get("set-cookie", "")  # the GET signs nobody in
    fields = dict(re.findall(r'name="(csrf_token|token)" value="([^"]+)"', page.text))
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    return client.post(action, data=fields)
