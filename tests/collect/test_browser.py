"""Two raters in headless Chromium: keyboard-only answers, display order as seen, no access to others' tasks.

Needs `pip install playwright` and Debian's Chromium (`apt-get install -y chromium`); no `playwright install`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from collect_helpers import setup_campaign
from tests.serving import serve_in_thread

from tether.collect.campaign import enroll
from tether.collect.security import create_admin_credential, create_raters_with_tokens
from tether.records import Rater
from tether.store import Store

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TETHER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
OBJECTIVES = ["helpfulness", "harmlessness"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict]:
    """A uvicorn server on 127.0.0.1 serving the global app (rater app under /collect)."""
    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    setup_campaign(store, raters=0, task_types={"qa": 3}, overlap=2, pilot_items=0, objectives=OBJECTIVES,
                   queue_size=3)
    tokens = create_raters_with_tokens(store, [Rater(id="alice"), Rater(id="bob")])
    enroll(store, "c1", ["alice", "bob"])
    admin = create_admin_credential(store, "lead")
    with serve_in_thread(create_app(url)) as port:
        yield {"base": f"http://127.0.0.1:{port}/collect", "tokens": tokens, "admin": admin, "store": store}
    store.close()


@pytest.fixture
def browser():  # noqa: ANN201
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        yield b
        b.close()


def work_through_queue(page, base: str, token: str, rater: str) -> dict[str, dict]:  # noqa: ANN001
    """Sign in, then answer every task with the keyboard only; returns what the DOM showed per task URL."""
    page.goto(f"{base}/r/{token}")  # the link page only shows a form: signing in takes a click
    assert page.locator("text=signed in as").count() == 0
    page.screenshot(path=str(ARTIFACTS / f"rater_sign_in_{rater}.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.locator(f"text=signed in as {rater}").count() == 1
    seen: dict[str, dict] = {}
    with page.expect_navigation():
        page.keyboard.press("Enter")  # start the next task
    while "/rater/tasks/" in page.url:
        first = page.locator("#response-1 .text").inner_text()
        second = page.locator("#response-2 .text").inner_text()
        prompt = page.locator("#prompt").inner_text()
        # the two panes are laid out in DOM order: response 1 precedes response 2
        assert page.evaluate("document.getElementById('response-1').compareDocumentPosition("
                             "document.getElementById('response-2')) & Node.DOCUMENT_POSITION_FOLLOWING")
        if not seen:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"rater_task_{rater}.png"), full_page=True)
        seen[page.url] = {"prompt": prompt, "first": first, "second": second}
        page.keyboard.press("1")  # helpfulness: response 1
        page.keyboard.press("t")  # harmlessness: tie
        page.keyboard.press("h")  # confidence: sure
        assert page.locator('input[name="choice_helpfulness"][value="first"]').is_checked()
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.locator("#empty").count() == 1  # the queue is done
    return seen


def test_two_raters_by_keyboard(server: dict, browser):  # noqa: ANN001
    base, store = server["base"], server["store"]
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    seen_by = {"alice": work_through_queue(alice, base, server["tokens"]["alice"], "alice"),
               "bob": work_through_queue(bob, base, server["tokens"]["bob"], "bob")}
    assert len(seen_by["alice"]) == len(seen_by["bob"]) == 3

    # the stored comparisons carry the order each rater actually saw on screen
    stored = {(c.rater, c.prompt, c.objective): c for c in store.iter_comparisons(campaign="c1")}
    assert len(stored) == 2 * 3 * len(OBJECTIVES)
    orders: dict[str, set[str]] = defaultdict(set)
    for rater, seen in seen_by.items():
        for view in seen.values():
            help_ = stored[(rater, view["prompt"], "helpfulness")]
            harm = stored[(rater, view["prompt"], "harmlessness")]
            dom_order = "a" if view["first"] == help_.response_a else "b"
            assert view["second"] == (help_.response_b if dom_order == "a" else help_.response_a)
            assert help_.shown_first.value == harm.shown_first.value == dom_order
            assert help_.choice.value == dom_order  # "1" picked what was on screen first
            assert harm.choice.value == "tie" and help_.confidence == 1.0
            assert help_.extras["time_on_task_ms"] >= 0
            orders[view["prompt"]].add(dom_order)
    assert all(o == {"a", "b"} for o in orders.values()), orders  # each pair shown in both orders

    # a rater cannot open another rater's task
    for url in seen_by["bob"]:
        response = alice.goto(url)
        assert response.status in (403, 404)
        assert "no such task in your queue" in alice.content()

    # the team's campaign page, signed in through the login form
    admin = browser.new_context().new_page()
    admin.goto(f"{base}/admin/login")
    admin.fill('input[name="credential"]', server["admin"])
    with admin.expect_navigation():
        admin.click("text=Sign in")
    admin.goto(f"{base}/admin/campaigns/c1")
    assert admin.locator("#answered").inner_text() == "6"
    assert "picked in 6 of 6" in admin.locator("#position-bias").inner_text()
    admin.screenshot(path=str(ARTIFACTS / "campaign_page.png"), full_page=True)
