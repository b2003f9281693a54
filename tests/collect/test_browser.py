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


@pytest.fixture
def mixed_server(tmp_path: Path) -> Iterator[dict]:
    """A campaign mixing multi-turn pairwise items and Likert items, two raters."""
    from rating_helpers import create_mixed_campaign

    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    create_mixed_campaign(store)
    tokens = create_raters_with_tokens(store, [Rater(id="alice"), Rater(id="bob")])
    enroll(store, "mix", ["alice", "bob"])
    with serve_in_thread(create_app(url)) as port:
        yield {"base": f"http://127.0.0.1:{port}/collect", "tokens": tokens, "store": store}
    store.close()


def answer_mixed_queue(page, base: str, token: str, rater: str, shots: bool) -> dict[str, int]:  # noqa: ANN001
    """Sign in and answer every task with the keyboard only: Likert by number keys, pairs by 1 / T, a rationale
    typed after R; returns how many tasks of each kind were answered."""
    page.goto(f"{base}/r/{token}")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    done = {"rating": 0, "pairwise": 0}
    while "/rater/tasks/" in page.url:
        kind = page.locator("#answer").get_attribute("data-task")
        # the rubric is rendered Markdown; the <script> written in it is shown as text and never ran
        assert page.locator("#rubric h1").inner_text() == "How to judge"
        assert '<script>document.title = "pwned"</script>' in page.locator("#rubric").inner_text()
        assert page.title() != "pwned"
        if kind == "rating":
            page.keyboard.press("4")  # helpfulness: the 4th point
            page.keyboard.press("5")  # harmlessness: the 5th point
            assert page.locator('input[name="score_helpfulness"][value="4"]').is_checked()
            assert page.locator('input[name="score_harmlessness"][value="5"]').is_checked()
        else:
            roles = page.locator("#prompt .turn .role").all_inner_texts()
            assert roles == ["User", "Assistant", "User"]  # the dialogue, turn by turn
            page.keyboard.press("1")
            page.keyboard.press("t")
            assert page.locator('input[name="choice_helpfulness"][value="first"]').is_checked()
            assert page.locator('input[name="choice_harmlessness"][value="tie"]').is_checked()
        page.keyboard.press("r")  # into the rationale box: typed digits and letters stay text
        page.keyboard.type(f"{rater} 12 t: clear")
        page.keyboard.press("Escape")
        assert page.locator("#rationale").input_value() == f"{rater} 12 t: clear"
        if shots and not done[kind]:
            page.screenshot(path=str(ARTIFACTS / f"rater_{'likert' if kind == 'rating' else 'multiturn'}_task.png"),
                            full_page=True)
            if kind == "rating":
                page.locator("#rubric").screenshot(path=str(ARTIFACTS / "rater_rubric.png"))
        done[kind] += 1
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.locator("#empty").count() == 1
    return done


def test_likert_multiturn_rationale_and_own_page_by_keyboard(mixed_server: dict, browser):  # noqa: ANN001
    base, store = mixed_server["base"], mixed_server["store"]
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {r: browser.new_context().new_page() for r in ("alice", "bob")}
    for rater, page in pages.items():
        done = answer_mixed_queue(page, base, mixed_server["tokens"][rater], rater, shots=rater == "alice")
        assert done == {"rating": 2, "pairwise": 2}

    ratings = list(store.iter_ratings(campaign="mix"))
    assert len(ratings) == 2 * 2 * 2
    assert {(r.objective, r.score) for r in ratings} == {("helpfulness", 4), ("harmlessness", 5)}
    assert {r.rationale for r in ratings} == {"alice 12 t: clear", "bob 12 t: clear"}
    comparisons = list(store.iter_comparisons(campaign="mix"))
    assert len(comparisons) == 2 * 2 * 2
    assert {c.extras["rationale"] for c in comparisons} == {"alice 12 t: clear", "bob 12 t: clear"}
    for c in comparisons:  # "1" picked what was on screen first
        assert c.choice.value == (c.shown_first.value if c.objective == "helpfulness" else "tie")

    # the rater's own page, reached from the queue page's link
    alice = pages["alice"]
    with alice.expect_navigation():
        alice.click("#my-page")
    assert "/rater/me" in alice.url
    assert alice.locator("#me-answered").inner_text() == "4"
    assert "the same score as another rater in 4 of 4 shared ratings" in alice.locator("#rating-agreement").inner_text()
    assert "shown first in 2 of 2" in " ".join(alice.locator("#position-bias").inner_text().split())
    alice.screenshot(path=str(ARTIFACTS / "rater_own_page.png"), full_page=True)
