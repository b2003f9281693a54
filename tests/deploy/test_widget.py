"""The feedback widget's API: a publishable key posts feedback only, only on traces the server issued a token for,
only from its origins, rate-limited; what it stores is redacted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tether.deploy import widget
from tether.deploy.api import create_app
from tether.deploy.keys import create_key
from tether.store import Store

SHOP = "https://shop.example"


@pytest.fixture
def app(store: Store) -> Iterator[tuple[TestClient, Store, dict[str, str]]]:
    keys = {"secret": create_key(store, "shop"), "public": create_key(store, "shop", publishable=True,
                                                                        origins=[SHOP]),
            "other_public": create_key(store, "other", publishable=True, origins=[SHOP]),
            "other_secret": create_key(store, "other")}
    with TestClient(create_app(store)) as client:
        yield client, store, keys


def log_generation(client: TestClient, key: str, trace: str) -> str:
    res = client.post("/v1/events?feedback_tokens=true", headers={"Authorization": f"Bearer {key}"}, json=[{
        "event_id": f"g-{trace}", "type": "generation", "trace_id": trace, "timestamp": "2026-11-27T03:00:00Z",
        "model": "m1", "prompt": "How do I reset my router?", "response": "Hold the button for 10 s."}])
    assert res.status_code == 200, res.text
    return res.json()["feedback_tokens"][trace]


def post(client: TestClient, key: str, body: dict, origin: str | None = SHOP):  # noqa: ANN201
    headers = {"Origin": origin} if origin else {}
    return client.post(f"/v1/feedback?key={key}", json=body, headers=headers)


def test_a_click_with_an_issued_token_stores_redacted_feedback(app) -> None:  # noqa: ANN001
    client, store, keys = app
    token = log_generation(client, keys["secret"], "t-1")
    res = post(client, keys["public"], {"trace_id": "t-1", "token": token, "value": -1,
                                        "correction": "Email me at jo.doe@example.com, I still cannot connect"})
    assert res.status_code == 200, res.text
    assert res.json() == {"project": "shop", "stored": 2, "duplicates": 0}
    assert res.headers["access-control-allow-origin"] == SHOP
    events = {e.type.value: e for e in store.iter_events(project="shop") if e.trace_id == "t-1"}
    assert events["feedback"].value == -1 and events["feedback"].name == "thumbs"
    assert "jo.doe@example.com" not in events["correction"].corrected_response
    assert "cannot connect" in events["correction"].corrected_response


def test_preflight_answers_only_the_keys_origins(app) -> None:  # noqa: ANN001
    client, _, keys = app
    ok = client.options(f"/v1/feedback?key={keys['public']}", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SHOP
    bad = client.options(f"/v1/feedback?key={keys['public']}", headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_the_publishable_key_can_do_nothing_else(app) -> None:  # noqa: ANN001
    client, _, keys = app
    token = log_generation(client, keys["secret"], "t-2")
    bearer = {"Authorization": f"Bearer {keys['public']}"}
    assert client.get("/v1/events?trace_id=t-2", headers=bearer).status_code == 403  # cannot read
    assert client.post("/v1/events", headers=bearer, json=[]).status_code == 403  # cannot log
    assert client.post("/v1/traces", headers={**bearer, "Content-Type": "application/json"},
                       json={"resourceSpans": []}).status_code == 403
    # cannot write another project: its token is not valid under the other project's key, nor the reverse
    other = log_generation(client, keys["other_secret"], "t-9")
    assert post(client, keys["public"], {"trace_id": "t-9", "token": other, "value": 1}).status_code == 403
    assert post(client, keys["other_public"], {"trace_id": "t-2", "token": token, "value": 1}).status_code == 403
    # a token is bound to its trace; a secret key is refused (it must never be embedded)
    assert post(client, keys["public"], {"trace_id": "t-3", "token": token, "value": 1}).status_code == 403
    res = post(client, keys["secret"], {"trace_id": "t-2", "token": token, "value": 1})
    assert res.status_code == 403 and "secret ingestion key" in res.text
    assert post(client, keys["public"], {"trace_id": "t-2", "token": token, "value": 1}, origin=None
                ).status_code == 403
    assert post(client, keys["public"], {"trace_id": "t-2", "token": token, "value": 1},
                origin="https://evil.example").status_code == 403
    assert post(client, "tpk_nope", {"trace_id": "t-2", "token": token, "value": 1}).status_code == 401
    assert post(client, keys["public"], {"trace_id": "t-2", "token": token, "value": 7}).status_code == 422


def test_a_client_is_rate_limited(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    client, _, keys = app
    monkeypatch.setattr(widget, "_limiter", widget._RateLimiter(3))
    token = log_generation(client, keys["secret"], "t-4")
    codes = [post(client, keys["public"], {"trace_id": "t-4", "token": token, "value": 1}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_tokens_survive_key_rotation_and_the_script_is_served(app) -> None:  # noqa: ANN001
    client, store, keys = app
    token = log_generation(client, keys["secret"], "t-5")
    client.app.state.ingestion.committer.ingestor.keyring.rotate("shop")
    assert post(client, keys["public"], {"trace_id": "t-5", "token": token, "value": 1}).status_code == 200
    js = client.get("/v1/widget.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("application/javascript")
    assert "/v1/feedback?key=" in js.text and "innerHTML" not in js.text


def test_publishable_keys_need_origins(store: Store) -> None:
    with pytest.raises(ValueError, match="needs the origins"):
        create_key(store, "shop", publishable=True)
    with pytest.raises(ValueError, match="expected scheme://host"):
        create_key(store, "shop", publishable=True, origins=["shop.example/path"])
    with pytest.raises(ValueError, match="only apply to publishable"):
        create_key(store, "shop", origins=[SHOP])
