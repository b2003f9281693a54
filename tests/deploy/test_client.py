"""The SDK: batching, retries, the on-disk spool when the server is down, replay later, no event lost."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from tether.deploy.api import create_app
from tether.deploy.client import Client
from tether.deploy.keys import create_key
from tether.store import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'api.db'}")
    yield s
    s.close()


class FlakyTransport(httpx.BaseTransport):
    """Routes to the app in-process; fails while `down` is set, counting requests."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.client = TestClient(app)
        self.down = threading.Event()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down.is_set():
            raise httpx.ConnectError("connection refused", request=request)
        r = self.client.request(request.method, request.url.path, content=request.read(),
                                headers=dict(request.headers), params=request.url.params)
        return httpx.Response(r.status_code, content=r.content, headers=r.headers)


def test_client_logs_all_event_types_in_batches(sqlite_store: Store, tmp_path: Path) -> None:
    key = create_key(sqlite_store, "p")
    transport = FlakyTransport(create_app(sqlite_store))
    with Client("http://test", key, batch_size=20, flush_interval=0.05, spool_dir=tmp_path / "spool",
                transport=transport) as c:
        traces = [c.log_generation(f"q{i} from a@b.com", f"a{i}", "m1") for i in range(50)]
        c.log_feedback(traces[0], -1)
        c.log_correction(traces[1], "better answer")
        c.log_outcome(traces[2], "tests_passed", 1)
        assert c.flush(10)
    events = list(sqlite_store.iter_events(project="p"))
    assert len(events) == 53 and c.sent == 53
    assert transport.requests < 53  # batched, not one request per event
    assert {e.type.value for e in events} == {"generation", "feedback", "correction", "outcome"}
    assert all("a@b.com" not in (e.prompt or "") for e in events)


def test_unreachable_server_spools_then_replays_without_loss(sqlite_store: Store, tmp_path: Path) -> None:
    key = create_key(sqlite_store, "p")
    transport = FlakyTransport(create_app(sqlite_store))
    transport.down.set()
    spool = tmp_path / "spool"
    c = Client("http://test", key, batch_size=10, flush_interval=0.05, max_retries=2, backoff_base=0.01,
               spool_dir=spool, transport=transport)
    ids = [c.log_generation(f"q{i}", f"a{i}", "m1") for i in range(30)]
    assert c.flush(10)
    assert c.spooled == 30 and list(sqlite_store.iter_events()) == []
    assert sum(len(p.read_text().splitlines()) for p in spool.glob("batch-*.jsonl")) == 30
    c.close()
    transport.down.clear()
    # a new client (the next process start) replays the spool
    c2 = Client("http://test", key, flush_interval=0.05, spool_dir=spool, transport=transport)
    assert c2.replay() == 30
    c2.close()
    assert sorted(e.trace_id for e in sqlite_store.iter_events()) == sorted(ids)
    assert list(spool.glob("batch-*.jsonl")) == []


def test_rejected_batches_are_kept_not_retried(sqlite_store: Store, tmp_path: Path) -> None:
    transport = FlakyTransport(create_app(sqlite_store))
    with Client("http://test", "tk_wrong", flush_interval=0.05, spool_dir=tmp_path / "s", transport=transport) as c:
        c.log_generation("q", "a", "m")
        assert c.flush(10)
    assert c.rejected == 1 and transport.requests == 1
    assert len((tmp_path / "s" / "rejected.jsonl").read_text().splitlines()) == 1


def test_closed_client_refuses_new_events(tmp_path: Path) -> None:
    c = Client("http://127.0.0.1:9", "k", spool_dir=tmp_path)
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.log_feedback("t", 1)


def test_close_with_the_server_down_spools_everything_queued(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    # port 9 (discard) refuses connections; long backoff keeps the worker busy with its first batch
    c = Client("http://127.0.0.1:9", "k", batch_size=5, flush_interval=0.01, max_retries=3, backoff_base=0.2,
               spool_dir=spool)
    for i in range(40):
        c.log_generation(f"q{i}", "a", "m")
    c.close(timeout=0.2)
    c._thread.join(10)  # let the worker finish (and spool) the batch it was retrying
    lines = [line for p in spool.glob("batch-*.jsonl") for line in p.read_text().splitlines()]
    assert len(lines) == 40 and len({orjson.loads(line)["event_id"] for line in lines}) == 40
