"""Outcome events (ingestion API, SDK, import) land in the outcomes table, joined to their generation by trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tether.deploy.api import create_app
from tether.deploy.client import Client
from tether.deploy.forget import forget
from tether.deploy.ingest import Ingestor
from tether.deploy.keys import create_key
from tether.records import Event, Outcome, OutcomeKind
from tether.store import Store

T = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _generation(trace: str, at: datetime) -> Event:
    return Event(event_id=f"{trace}-g", type="generation", trace_id=trace, timestamp=at, model="m",
                 prompt="write f", response="def f(): ...", attributes={"enduser.id": "ann"})


def _outcome(trace: str, at: datetime, value: float | str = 1, **attrs: object) -> Event:
    return Event(event_id=f"{trace}-o", type="outcome", trace_id=trace, timestamp=at, name="tests_passed",
                 value=value, attributes=dict(attrs))


def test_outcome_event_after_its_generation_gets_the_delay(store: Store) -> None:
    ing = Ingestor(store)
    ing.ingest([_generation("t1", T)], "p")
    ing.ingest([_outcome("t1", T + timedelta(days=9, minutes=5))], "p")
    ing.ingest([_outcome("t1", T + timedelta(days=9, minutes=5))], "p")  # a retried request: stored once
    [o] = store.outcomes(project="p")
    assert (o.outcome_id, o.trace_id, o.name, o.value, o.kind, o.source) == ("t1-o", "t1", "tests_passed", 1,
                                                                              OutcomeKind.BINARY, "event")
    assert o.generated_at == T and o.observed_at == T + timedelta(days=9, minutes=5)
    assert o.delay_seconds == timedelta(days=9, minutes=5).total_seconds()


def test_outcome_before_its_generation_is_joined_when_the_generation_arrives(store: Store) -> None:
    ing = Ingestor(store)
    ing.ingest([_outcome("t2", T + timedelta(minutes=3), "resolved", source="helpdesk")], "p")
    [early] = store.outcomes(project="p")
    assert early.generated_at is None and early.delay_seconds is None
    assert early.kind == OutcomeKind.CATEGORICAL and early.source == "helpdesk"
    assert "source" not in early.attributes  # moved to the outcome's own field
    ing.ingest([_generation("t2", T)], "p")
    [joined] = store.outcomes(project="p")
    assert joined.generated_at == T and joined.delay_seconds == 180.0
    # the same batch: generation and outcome together; kind given explicitly
    ing.ingest([_generation("t3", T), _outcome("t3", T + timedelta(seconds=42), 0.25, kind="numeric")], "p")
    [o3] = store.outcomes(trace_id="t3")
    assert (o3.kind, o3.value, o3.delay_seconds) == (OutcomeKind.NUMERIC, 0.25, 42.0)
    assert store.outcomes(project="other") == []  # outcomes are per project, like events


def test_bad_outcome_kind_is_refused_before_storage() -> None:
    with pytest.raises(ValueError, match="binary outcome is 1 or 0"):
        Outcome(outcome_id="x", name="tests_passed", value=0.5, kind="binary")
    # an event that would make such an outcome is refused as an event (the API answers 422, not 500)
    with pytest.raises(ValidationError, match="binary outcome is 1 or 0"):
        _outcome("t", T, 2, kind="binary")
    with pytest.raises(ValidationError, match="attributes.kind: an outcome kind is binary, numeric or categorical"):
        _outcome("t", T, 1, kind="boolean")
    with pytest.raises(ValidationError, match="numeric outcome is a number"):
        _outcome("t", T, "yes", kind="numeric")


def test_forget_reaches_outcome_events_and_sandbox_outcomes(store: Store) -> None:
    ing = Ingestor(store)
    ing.ingest([_generation("t4", T), _outcome("t4", T + timedelta(hours=1))], "p")
    store.add_outcomes([Outcome(outcome_id="sandbox/HumanEval/0/3", name="tests_passed", value=0,
                                source="sandbox", trace_id="t4")], project="p")
    assert len(store.outcomes(project="p")) == 2
    result = forget(store, "p", user="ann", redactor=ing.redactor("p"))
    assert (result.traces, result.outcomes) == (1, 2)
    assert store.outcomes(project="p") == []


class _InProcess(httpx.BaseTransport):
    def __init__(self, app) -> None:  # noqa: ANN001
        self.client = TestClient(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.client.request(request.method, request.url.path, content=request.read(),
                                headers=dict(request.headers), params=request.url.params)
        return httpx.Response(r.status_code, content=r.content, headers=r.headers)


def test_sdk_log_outcome_lands_as_an_outcome_joined_to_the_trace(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'api.db'}")
    key = create_key(store, "p")
    with Client("http://test", key, flush_interval=0.05, spool_dir=tmp_path / "spool",
                transport=_InProcess(create_app(store))) as c:
        trace = c.log_generation("q", "a", "m1", timestamp=T)
        c.log_outcome(trace, "ticket_resolved", 1, source="zendesk", timestamp=T + timedelta(hours=2))
        assert c.flush(10)
    [o] = store.outcomes(project="p")
    assert (o.trace_id, o.source, o.kind, o.delay_seconds) == (trace, "zendesk", OutcomeKind.BINARY, 7200.0)
    store.close()
