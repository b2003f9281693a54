"""Fuzz the ingestion API with hypothesis: no client input may produce a 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.deploy.api import create_app
from tether.deploy.keys import create_key
from tether.store import Store

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=40))
json_value = st.recursive(json_scalar, lambda c: st.one_of(st.lists(c, max_size=4),
                                                           st.dictionaries(st.text(max_size=10), c, max_size=4)),
                          max_leaves=12)
field_value = st.one_of(json_value, st.sampled_from(["generation", "feedback", "correction", "outcome",
                                                     "2026-11-27T03:00:00Z", "not-a-date", "1e999", ""]))
event_like = st.fixed_dictionaries(
    {"event_id": st.one_of(st.text(min_size=0, max_size=300), st.integers()),
     "type": st.sampled_from(["generation", "feedback", "correction", "outcome", "bogus", 3]),
     "trace_id": st.text(max_size=30),
     "timestamp": st.sampled_from(["2026-11-27T03:00:00Z", "2026-11-27", "0000-00-00", "9999-12-31T23:59:59+14:00",
                                   1.5e12, "yesterday"])},
    optional={k: field_value for k in ("model", "prompt", "response", "value", "name", "corrected_response",
                                       "attributes", "extra_key")},
)
bodies = st.one_of(
    st.lists(event_like, max_size=5),
    st.fixed_dictionaries({"events": st.lists(event_like, max_size=5)}),
    json_value,
)


@pytest.fixture(scope="module")
def client_and_key(tmp_path_factory: pytest.TempPathFactory):
    store = Store(f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'f.db'}")
    key = create_key(store, "fuzz")
    with TestClient(create_app(store, max_body_bytes=50_000, max_batch=20), raise_server_exceptions=False) as c:
        yield c, key
    store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_events_endpoint_never_answers_5xx(client_and_key, body) -> None:
    client, key = client_and_key
    r = client.post("/v1/events", content=json.dumps(body), headers={"Authorization": f"Bearer {key}",
                                                                         "Content-Type": "application/json"})
    assert r.status_code < 500, (r.status_code, r.text, body)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_value, st.fixed_dictionaries({"resourceSpans": st.lists(
    st.fixed_dictionaries({"scopeSpans": st.lists(st.fixed_dictionaries({"spans": st.lists(
        st.dictionaries(st.sampled_from(["traceId", "spanId", "attributes", "events", "endTimeUnixNano", "name"]),
                        json_value, max_size=6), max_size=3)}), max_size=2)}), max_size=2)})))
def test_traces_endpoint_never_answers_5xx(client_and_key, body) -> None:
    client, key = client_and_key
    r = client.post("/v1/traces", content=json.dumps(body), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code < 500, (r.status_code, r.text, body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), auth=st.text(max_size=40))
def test_raw_bytes_and_odd_auth_headers_never_5xx(client_and_key, raw: bytes, auth: str) -> None:
    client, key = client_and_key
    headers = {"Authorization": auth.encode("latin-1", "replace")} if auth else {}  # raw header bytes
    assert client.post("/v1/events", content=raw, headers=headers).status_code < 500
    assert client.post("/v1/events", content=raw, headers={"Authorization": f"Bearer {key}"}).status_code < 500


def test_deeply_nested_bodies_are_refused_not_crashing(client_and_key) -> None:
    client, key = client_and_key
    deep: object = "x"
    for _ in range(400):  # 800 levels: past Python's recursion limit for naive recursive walkers
        deep = {"a": [deep]}
    event = {"event_id": "deep", "type": "generation", "trace_id": "t", "timestamp": "2026-11-27T03:00:00Z",
             "model": "m", "prompt": "p", "response": "r", "attributes": deep}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    r = client.post("/v1/events", content=json.dumps([event]), headers=headers)
    assert r.status_code == 422 and "deeper than" in r.text
    kv: dict = {"stringValue": "x"}
    for _ in range(200):
        kv = {"kvlistValue": {"values": [{"key": "k", "value": kv}]}}
    span = {"traceId": "a" * 32, "spanId": "b" * 16, "attributes": [{"key": "deep", "value": kv}]}
    r = client.post("/v1/traces", content=json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}),
                    headers=headers)
    assert r.status_code == 422
