"""The ingestion API: auth and scoping, idempotency, redaction before storage, 4xx for bad input, OTLP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from tether.deploy.api import create_app
from tether.deploy.keys import create_key, revoke_key
from tether.store import Store


@pytest.fixture
def api(store: Store) -> Iterator[tuple[TestClient, Store, str, str]]:
    key_a = create_key(store, "alpha")
    key_b = create_key(store, "beta")
    with TestClient(create_app(store, max_body_bytes=200_000, max_batch=50)) as client:
        yield client, store, key_a, key_b


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def gen(i: int, trace: str = "t1", **kw: object) -> dict:
    e = {"event_id": f"e{i}", "type": "generation", "trace_id": trace, "timestamp": "2026-11-27T03:00:00Z",
         "model": "m1", "prompt": f"question {i}", "response": f"answer {i}"}
    e.update(kw)
    return e


def test_batch_is_stored_once_and_redacted(api) -> None:
    client, store, key, _ = api
    batch = [gen(1, prompt="my email is jo@x.org"), gen(2), {"event_id": "f1", "type": "feedback", "trace_id": "t1",
                                                            "timestamp": "2026-11-27T03:01:00Z", "name": "thumbs",
                                                            "value": -1}]
    r = client.post("/v1/events", json=batch, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.json() == {"project": "alpha", "received": 3, "stored": 3, "duplicates": 0, "skipped_spans": 0}
    r2 = client.post("/v1/events", json={"events": batch}, headers=auth(key))  # a client retry
    assert r2.json()["stored"] == 0 and r2.json()["duplicates"] == 3
    stored = list(store.iter_events(project="alpha"))
    assert sorted(e.event_id for e in stored) == ["e1", "e2", "f1"]
    first = next(e for e in stored if e.event_id == "e1")
    assert "jo@x.org" not in first.prompt and "<EMAIL_" in first.prompt
    got = client.get("/v1/events", params={"trace_id": "t1"}, headers=auth(key)).json()
    assert [e["event_id"] for e in got["events"]] == ["e1", "e2", "f1"]


def test_keys_are_scoped_to_their_project(api) -> None:
    client, store, key_a, key_b = api
    client.post("/v1/events", json=[gen(1)], headers=auth(key_a))
    client.post("/v1/events", json=[gen(1)], headers=auth(key_b))  # same id, another project: its own row
    assert len(list(store.iter_events(project="alpha"))) == 1 and len(list(store.iter_events(project="beta"))) == 1
    assert client.get("/v1/events", params={"trace_id": "t1"}, headers=auth(key_b)).json()["project"] == "beta"
    r = client.get("/v1/events", params={"trace_id": "t1", "project": "alpha"}, headers=auth(key_b))
    assert r.status_code == 403
    r = client.post("/v1/events", params={"project": "alpha"}, json=[gen(9)], headers=auth(key_b))
    assert r.status_code == 403
    assert [e.event_id for e in store.iter_events(project="alpha")] == ["e1"]


def test_missing_unknown_and_revoked_keys_are_refused(api) -> None:
    client, store, key, _ = api
    assert client.post("/v1/events", json=[gen(1)]).status_code == 401
    assert client.post("/v1/events", json=[gen(1)], headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/v1/events", json=[gen(1)], headers=auth("tk_not-a-key")).status_code == 401
    assert client.get("/v1/events", params={"trace_id": "t1"}).status_code == 401
    assert revoke_key(store, key) == 1
    r = client.post("/v1/events", json=[gen(1)], headers=auth(key))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert list(store.iter_events()) == []


@pytest.mark.parametrize(("body", "status", "needle"), [
    (b"not json", 422, "not valid JSON"),
    (b'{"foo": 1}', 422, "JSON array of events"),
    (orjson.dumps([{"event_id": "x", "type": "generation"}]), 422, "events[0]"),
    (orjson.dumps([gen(1, model=None)]), 422, "model"),
    (orjson.dumps([gen(1, value=True, type="feedback", name="thumbs")]), 422, "boolean"),
    (orjson.dumps([gen(i) for i in range(51)]), 413, "at most 50"),
    (orjson.dumps([gen(1, prompt="x" * 300_000)]), 413, "larger than"),
    (orjson.dumps([gen(1, model="m" * 300)]), 422, "longer than 255"),
    (orjson.dumps([gen(1, prompt="nul \u0000 byte")]), 422, "NUL"),
    (orjson.dumps([gen(1, timestamp="0001-01-01T00:00:00+14:00")]), 422, "out of range once converted to UTC"),
    (orjson.dumps([gen(1, timestamp="9999-12-31T23:59:59-14:00")]), 422, "timestamp"),
])
def test_bad_input_gets_a_clear_4xx(api, body: bytes, status: int, needle: str) -> None:
    client, store, key, _ = api
    r = client.post("/v1/events", content=body, headers={**auth(key), "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert needle in r.text
    assert list(store.iter_events()) == []  # all or nothing


def test_otlp_genai_spans_become_generation_events(api) -> None:
    client, store, key, _ = api
    t0 = int(datetime(2026, 11, 27, 3, 0, tzinfo=UTC).timestamp() * 1e9)

    def kv(k: str, v: object) -> dict:
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}

    body = {"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", "chatbot")]},
        "scopeSpans": [{"spans": [
            {"traceId": "aa" * 16, "spanId": "01" * 8, "name": "chat m1", "startTimeUnixNano": str(t0),
             "endTimeUnixNano": str(t0 + 10**9),
             "attributes": [kv("gen_ai.request.model", "m1"), kv("gen_ai.prompt", "hi, I'm at 10.0.0.7"),
                            kv("gen_ai.completion", "hello"), kv("gen_ai.usage.input_tokens", 5)]},
            {"traceId": "bb" * 16, "spanId": "02" * 8, "name": "chat m2", "endTimeUnixNano": str(t0),
             "attributes": [kv("gen_ai.response.model", "m2")],
             "events": [{"name": "gen_ai.user.message", "attributes": [kv("content", "what is 2+2?")]},
                        {"name": "gen_ai.choice", "attributes": [kv("message", '{"content": "4"}')]}]},
            {"traceId": "cc" * 16, "spanId": "03" * 8, "name": "db query", "attributes": [kv("db.system", "pg")]},
        ]}],
    }]}
    r = client.post("/v1/traces", json=body, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 2 and r.json()["skipped_spans"] == 1
    events = {e.trace_id: e for e in store.iter_events(project="alpha")}
    first = events["aa" * 16]
    assert first.model == "m1" and first.response == "hello" and "<IPV4_" in first.prompt
    assert first.timestamp == datetime(2026, 11, 27, 3, 0, 1, tzinfo=UTC)
    assert first.attributes["gen_ai.usage.input_tokens"] == 5 and first.attributes["resource.service.name"] == "chatbot"
    second = events["bb" * 16]
    assert second.model == "m2" and second.prompt == "what is 2+2?" and second.response == "4"
    bad = client.post("/v1/traces", json={"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": 3}]}]}]},
                      headers=auth(key))
    assert bad.status_code == 422 and "spans[0].attributes" in bad.text


def test_openapi_spec_is_served_with_the_event_schema(api) -> None:
    client, *_ = api
    spec = client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/traces"} <= set(spec["paths"])
    assert "Event" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_deeply_nested_json_string_in_otlp_messages_is_a_422(api) -> None:
    """A JSON *string* attribute is parsed by Tether itself: 50,000 levels gave a RecursionError and a 500."""
    client, store, key, _ = api
    deep = "[" * 50_000 + "]" * 50_000
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "dd" * 16, "spanId": "04" * 8, "attributes": [
        {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
        {"key": "gen_ai.input.messages", "value": {"stringValue": deep}},
        {"key": "gen_ai.completion", "value": {"stringValue": "ok"}}]}]}]}]}
    r = client.post("/v1/traces", json=body, headers=auth(key))
    assert r.status_code == 422 and "spans[0].attributes: gen_ai messages nest deeper" in r.text, r.text
    nested = "[" * 200 + "]" * 200  # parses, but nests deeper than anything a message needs
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][1]["value"]["stringValue"] = nested
    r = client.post("/v1/traces", json=body, headers=auth(key))
    assert r.status_code == 422 and "deeper than" in r.text
    assert list(store.iter_events()) == []


def test_integers_beyond_64_bits_are_refused_and_export_stays_whole(api, tmp_path) -> None:
    """An OTLP intValue of 2**64 was stored as an integer, then every `tether export events` died, leaving a
    truncated file. (Plain JSON numbers that large arrive as floats.)"""
    from tether.io import export_file

    client, store, key, _ = api
    span = {"traceId": "ee" * 16, "spanId": "05" * 8, "attributes": [
        {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
        {"key": "gen_ai.prompt", "value": {"stringValue": "hi"}},
        {"key": "gen_ai.completion", "value": {"stringValue": "ok"}},
        {"key": "card", "value": {"intValue": str(2**64)}}]}
    r = client.post("/v1/traces", json={"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}, headers=auth(key))
    assert r.status_code == 422 and "does not fit in 64 bits" in r.text, r.text
    r = client.post("/v1/events", json=[gen(2, attributes={"n": 2**63})], headers=auth(key))
    assert r.status_code == 200
    out = tmp_path / "events.jsonl"
    assert export_file(store, "events", out) == 1
    assert orjson.loads(out.read_bytes())["project"] == "alpha"
    assert export_file(store, "events", out, project="beta") == 0 and out.read_bytes() == b""


@pytest.mark.postgres
def test_a_locked_key_table_stalls_only_its_own_request(postgres_server: str) -> None:
    """The key lookup ran on the event loop: with `api_keys` locked, every request (even /openapi.json) hung."""
    import threading

    from sqlalchemy import create_engine, text

    store = Store(postgres_server)
    store.drop_all()
    store = Store(postgres_server)  # a fresh schema
    key = create_key(store, "alpha")
    locker = create_engine(postgres_server)
    with TestClient(create_app(store)) as client, locker.connect() as conn:
        conn.execute(text("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE"))  # held until this transaction ends
        posting = threading.Thread(target=client.post, args=("/v1/events",),
                                   kwargs={"json": [gen(1)], "headers": auth(key)}, daemon=True)
        posting.start()
        served: list[int] = []
        other = threading.Thread(target=lambda: served.append(client.get("/openapi.json").status_code), daemon=True)
        other.start()
        other.join(timeout=30)  # a hang detector, not a timing bound: it finishes at once unless the loop is blocked
        answered_while_locked, still_waiting = list(served), posting.is_alive()
        conn.rollback()  # release the lock
        posting.join(timeout=60)
    locker.dispose()
    store.close()
    assert answered_while_locked == [200] and still_waiting


def test_a_server_process_freezes_its_start_up_objects(tmp_path, monkeypatch) -> None:
    # `uvicorn --factory tether.deploy.api:app_from_env` (and `tether serve`) move what start-up made out of the
    # collector's reach, so request traffic's full collections do not traverse it
    import gc

    from tether.deploy.api import app_from_env

    monkeypatch.setenv("TETHER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    gc.unfreeze()
    try:
        app_from_env()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
