"""The rater web app over HTTP: sign-in, own queue only, admin required, CSRF, validation, display order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from collect_helpers import follow_sign_in_link, setup_campaign
from fastapi.testclient import TestClient
from sqlalchemy import select

from tether.collect.security import create_admin_credential, create_raters_with_tokens
from tether.collect.web import create_app
from tether.records import Rater
from tether.store import Store
from tether.store.collect_models import AdminCredentialRow, RaterTokenRow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINK = re.compile(r'href="http://testserver(/rater/tasks/(\d+))"')


@pytest.fixture
def world(store_url: str) -> Iterator[dict]:
    store = Store(store_url)
    setup_campaign(store, raters=0, task_types={"qa": 4}, overlap=2, pilot_items=0,
                   objectives=["helpfulness", "harmlessness"], queue_size=4)
    tokens = create_raters_with_tokens(store, [Rater(id="alice"), Rater(id="bob")])
    from tether.collect.campaign import enroll

    enroll(store, "c1", ["alice", "bob"])
    admin = create_admin_credential(store, "lead")
    app = create_app(store_url)
    with TestClient(app) as alice, TestClient(app) as bob, TestClient(app) as anon:
        yield {"store": store, "tokens": tokens, "admin": admin, "alice": alice, "bob": bob, "anon": anon}
    store.close()


def sign_in(client: TestClient, token: str) -> str:
    """Follow the sign-in link; returns the queue page."""
    r = follow_sign_in_link(client, f"/r/{token}")
    assert r.status_code == 200 and r.url.path == "/rater"
    return r.text


def first_task(client: TestClient, queue_html: str) -> tuple[str, str]:
    path = TASK_LINK.search(queue_html).group(1)
    page = client.get(path)
    assert page.status_code == 200
    return path, page.text


def test_tokens_and_admin_credentials_are_stored_hashed(world):
    store: Store = world["store"]
    with store.engine.connect() as conn:
        hashes = set(conn.execute(select(RaterTokenRow.token_hash)).scalars())
        admin_hashes = set(conn.execute(select(AdminCredentialRow.secret_hash)).scalars())
    for token in world["tokens"].values():
        assert len(token) >= 43  # 32 random bytes, URL-safe
        assert token not in hashes and hashlib.sha256(token.encode()).hexdigest() in hashes
    assert world["admin"] not in admin_hashes
    assert hashlib.sha256(world["admin"].encode()).hexdigest() in admin_hashes


def test_sign_in_shows_own_queue_and_task_in_assigned_order(world):
    queue = sign_in(world["alice"], world["tokens"]["alice"])
    assert "signed in as alice" in queue
    path, page = first_task(world["alice"], queue)
    from tether.collect.assign import get_task

    task = get_task(world["store"], int(path.rsplit("/", 1)[1]), "alice", mark_shown=False)
    first = page.index('id="response-1"')
    second = page.index('id="response-2"')
    assert page.index(task.first, first) < second < page.index(task.second, second)
    assert "Pick the response" in page and 'name="choice_helpfulness"' in page and 'name="choice_harmlessness"' in page


def test_unknown_link_and_no_session_are_refused(world):
    assert world["anon"].get("/r/" + "x" * 43).status_code == 404
    assert world["anon"].get("/rater").status_code == 401
    assert world["anon"].get("/rater/tasks/1").status_code == 401
    assert world["anon"].post("/rater/tasks/1", data={"choice_helpfulness": "first"}).status_code == 401


def test_rater_cannot_read_or_answer_another_raters_task(world):
    path, page = first_task(world["alice"], sign_in(world["alice"], world["tokens"]["alice"]))
    bob_queue = sign_in(world["bob"], world["tokens"]["bob"])
    bob_csrf = CSRF.search(bob_queue).group(1)
    assert world["bob"].get(path).status_code == 404
    r = world["bob"].post(path, data={"csrf_token": bob_csrf, "choice_helpfulness": "first",
                                      "choice_harmlessness": "tie"})
    assert r.status_code == 404
    assert list(world["store"].iter_comparisons()) == []


def test_answer_round_trip_and_double_submit(world):
    client = world["alice"]
    path, page = first_task(client, sign_in(client, world["tokens"]["alice"]))
    csrf = CSRF.search(page).group(1)
    r = client.post(path, data={"csrf_token": csrf, "choice_helpfulness": "first", "choice_harmlessness": "second",
                                "confidence": "0.75"})
    assert r.status_code == 200 and r.url.path.startswith("/rater/tasks/") and r.url.path != path
    stored = {c.objective: c for c in world["store"].iter_comparisons(rater="alice")}
    shown = stored["helpfulness"].shown_first
    assert stored["helpfulness"].choice.value == shown.value
    assert stored["harmlessness"].choice.value == shown.other.value
    assert stored["helpfulness"].confidence == 0.75 and stored["helpfulness"].campaign == "c1"
    again = client.post(path, data={"csrf_token": csrf, "choice_helpfulness": "first",
                                    "choice_harmlessness": "tie"})
    assert again.status_code == 409


def test_csrf_token_is_required_on_every_post(world):
    client = world["alice"]
    path, page = first_task(client, sign_in(client, world["tokens"]["alice"]))
    answer = {"choice_helpfulness": "first", "choice_harmlessness": "tie"}
    assert client.post(path, data=answer).status_code == 403
    assert client.post(path, data={**answer, "csrf_token": "forged"}).status_code == 403
    # another session's token does not work either
    bob_csrf = CSRF.search(sign_in(world["bob"], world["tokens"]["bob"])).group(1)
    assert client.post(path, data={**answer, "csrf_token": bob_csrf}).status_code == 403
    assert list(world["store"].iter_comparisons()) == []


@pytest.mark.parametrize("form, status", [
    ({"choice_helpfulness": "left", "choice_harmlessness": "tie"}, 422),
    ({"choice_helpfulness": "first", "choice_harmlessness": "tie", "confidence": "1.5"}, 422),
    ({"choice_helpfulness": "first", "choice_harmlessness": "tie", "confidence": "high"}, 422),
    ({"choice_helpfulness": "first", "choice_harmlessness": "tie", "confidence": "nan"}, 422),
    ({"choice_helpfulness": "first", "choice_harmlessness": "tie", "surprise": "x"}, 422),
    ({"choice_helpfulness": "first"}, 400),
    ({"choice_helpfulness": "first", "choice_harmlessness": "tie", "choice_honesty": "tie"}, 400),
])
def test_bad_answers_are_rejected_cleanly(world, form, status):
    client = world["alice"]
    path, page = first_task(client, sign_in(client, world["tokens"]["alice"]))
    r = client.post(path, data={**form, "csrf_token": CSRF.search(page).group(1)})
    assert r.status_code == status, r.text
    assert list(world["store"].iter_comparisons()) == []


def test_bad_paths_are_422_not_500(world):
    client = world["alice"]
    sign_in(client, world["tokens"]["alice"])
    assert client.get("/rater/tasks/abc").status_code == 422
    assert client.get("/rater/tasks/0").status_code == 422
    assert client.get(f"/rater/tasks/{2**40}").status_code == 422
    assert client.get("/rater/tasks/999999").status_code == 404


def test_admin_pages_need_an_admin_credential(world):
    anon, alice = world["anon"], world["alice"]
    sign_in(alice, world["tokens"]["alice"])
    for client in (anon, alice):  # a rater session is not an admin session
        assert client.get("/admin").status_code == 401
        assert client.get("/admin/campaigns/c1").status_code == 401
        assert client.get("/admin/api/campaigns/c1").status_code == 401
    assert anon.get("/admin/api/campaigns/c1", headers={"Authorization": "Bearer " + "x" * 43}).status_code == 401
    r = anon.get("/admin/api/campaigns/c1", headers={"Authorization": f"Bearer {world['admin']}"})
    assert r.status_code == 200 and r.json()["campaign"] == "c1"
    assert anon.get("/admin/api/campaigns/nope", headers={"Authorization": f"Bearer {world['admin']}"}
                    ).status_code == 404


def test_admin_login_campaign_page_and_csrf_on_admin_forms(world):
    client = world["anon"]
    login = client.get("/admin/login")
    token = CSRF.search(login.text).group(1)
    assert client.post("/admin/login", data={"credential": world["admin"], "csrf_token": "wrong"}).status_code == 403
    assert client.post("/admin/login", data={"credential": "y" * 43, "csrf_token": token}).status_code == 401
    r = client.post("/admin/login", data={"credential": world["admin"], "csrf_token": token})
    assert r.status_code == 200 and r.url.path == "/admin"
    page = client.get("/admin/campaigns/c1")
    assert page.status_code == 200 and "Position bias so far" in page.text and "Paused task types" in page.text
    csrf = CSRF.search(page.text).group(1)
    assert client.post("/admin/campaigns/c1/pause", data={"task_type": "qa"}).status_code == 403
    r = client.post("/admin/campaigns/c1/pause", data={"task_type": "qa", "reason": "rubric", "csrf_token": csrf})
    assert r.status_code == 200
    assert re.search(r'Paused task types:\s*<span class="paused">qa</span>', r.text)
    r = client.post("/admin/campaigns/c1/rubric", data={"task_type": "qa", "version": "v 2", "text": "t",
                                                        "csrf_token": csrf})
    assert r.status_code == 422
    r = client.post("/admin/campaigns/c1/rubric", data={"task_type": "qa", "version": "v2",
                                                        "text": "Clearer rubric", "csrf_token": csrf})
    # pilot_items=0 in this campaign: the revised task type goes straight back to active
    assert r.status_code == 200 and 'class="active">active' in r.text
    assert re.search(r"Paused task types:\s*none", r.text)


def test_sign_out_ends_the_session(world):
    client = world["alice"]
    queue = sign_in(client, world["tokens"]["alice"])
    r = client.post("/rater/sign-out", data={"csrf_token": CSRF.search(queue).group(1)})
    assert r.status_code == 200
    client.cookies.clear()
    assert client.get("/rater").status_code == 401


def test_revoked_token_no_longer_signs_in(world):
    from tether.collect.security import revoke_rater_tokens

    client = world["alice"]
    sign_in(client, world["tokens"]["alice"])
    assert revoke_rater_tokens(world["store"], "alice") == 1
    assert client.get("/rater").status_code == 401  # open sessions end with the token
    assert client.get(f"/r/{world['tokens']['alice']}").status_code == 404


def test_mounted_under_a_prefix_links_follow(store_url: str):
    from tether.server import create_app as create_server

    store = Store(store_url)
    setup_campaign(store, raters=0, task_types={"qa": 2}, overlap=2, pilot_items=0)
    tokens = create_raters_with_tokens(store, [Rater(id="carol")])
    from tether.collect.campaign import enroll

    enroll(store, "c1", ["carol"])
    with TestClient(create_server(store_url)) as client:
        r = follow_sign_in_link(client, f"/collect/r/{tokens['carol']}")
        assert r.status_code == 200 and r.url.path == "/collect/rater"
        assert 'href="http://testserver/collect/rater/tasks/' in r.text
    store.close()


def test_texts_are_escaped_not_rendered(store_url: str):
    from tether.collect.campaign import CampaignItem, CampaignSettings, create_campaign, enroll

    store = Store(store_url)
    create_campaign(store, CampaignSettings(name="x", overlap=2, pilot_items=0),
                    [CampaignItem(prompt="<script>alert(1)</script>", response_a="<b>bold</b>", response_b="y")],
                    "<img src=x onerror=alert(1)>")
    tokens = create_raters_with_tokens(store, [Rater(id="r")])
    enroll(store, "x", ["r"])
    with TestClient(create_app(store_url)) as client:
        _path, page = first_task(client, sign_in(client, tokens["r"]))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    store.close()


def test_pages_carry_a_script_nonce_csp_and_frame_denial(world):
    """Every page gets Content-Security-Policy with a fresh nonce its inline script carries, and is never framed."""
    page = world["alice"].get(f"/r/{world['tokens']['alice']}")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]  # the link page too
    page = follow_sign_in_link(world["alice"], f"/r/{world['tokens']['alice']}")
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in page.text and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    again = world["alice"].get("/rater")
    assert re.search(r"'nonce-([^']+)'", again.headers["content-security-policy"]).group(1) != nonce


def test_serve_with_secure_cookies_marks_session_cookies_secure(store_url: str):
    from tether.server import create_app as create_server

    store = Store(store_url)
    setup_campaign(store, raters=0, task_types={"qa": 2}, overlap=2, pilot_items=0)
    token = create_raters_with_tokens(store, [Rater(id="ann")])["ann"]
    store.close()
    for secure in (False, True):
        with TestClient(create_server(store_url, secure_cookies=secure), base_url="https://testserver") as client:
            client.get(f"/collect/r/{token}")
            r = client.post("/collect/r", data={"token": token, "csrf_token": client.cookies["tether_link_csrf"]},
                            follow_redirects=False)
            assert "tether_rater=" in r.headers["set-cookie"]
            assert ("secure" in r.headers["set-cookie"].lower()) is secure
