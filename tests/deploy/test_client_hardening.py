"""The SDK (issue 16, defect 4): the server's rules checked locally, 413 split, 422 bisected, no valid event lost,
private and redacted files on disk, and a write-ahead spool that survives SIGKILL of the client."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.deploy.test_client import FlakyTransport

from tether.deploy.api import create_app
from tether.deploy.client import Client
from tether.deploy.keys import create_key
from tether.records import Event
from tether.store import Store

EMAIL = "zoe.planted@example.org"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'c.db'}")
    yield s
    s.close()


def _event(i: int, **kw: object) -> dict:
    e = {"event_id": f"e{i:04d}", "type": "generation", "trace_id": f"t{i}", "timestamp": "2026-11-27T03:00:00Z",
         "model": "m1", "prompt": f"question {i} from {EMAIL}", "response": "answer " + "x" * 300}
    e.update(kw)
    return e


def test_the_client_refuses_exactly_what_the_server_refuses(sqlite_store: Store, tmp_path: Path) -> None:
    key = create_key(sqlite_store, "p")
    candidates = [_event(0), _event(1, model="m" * 256), _event(2, trace_id=EMAIL),
                  _event(3, event_id="4111111111111111"), _event(4, model="gpt\t4"), _event(5, model="ok-model"),
                  _event(6, trace_id="conv/2026/7"), _event(8, trace_id="DE89370400440532013000"),
                  {**_event(7, type="feedback", name="n" * 250 + " a@b.co", value=1)}]
    with TestClient(create_app(sqlite_store)) as server, \
            Client("http://t", key, spool_dir=tmp_path / "s", transport=FlakyTransport(create_app(sqlite_store))) as c:
        for cand in candidates:
            status = server.post("/v1/events", json=[cand], headers={"Authorization": f"Bearer {key}"}).status_code
            try:
                c.log(Event.model_validate(cand))
                client_ok = True
            except ValueError as exc:
                client_ok = False
                assert EMAIL not in str(exc)
            assert client_ok == (status == 200), (cand, status)
        assert c.flush(10)
    assert c.rejected == 0


def test_a_413_splits_the_batch_and_stores_every_event(sqlite_store: Store, tmp_path: Path) -> None:
    key = create_key(sqlite_store, "p")
    transport = FlakyTransport(create_app(sqlite_store, max_body_bytes=8_000))  # ~18 events a request
    with Client("http://t", key, batch_size=100, flush_interval=0.05, spool_dir=tmp_path / "s",
                transport=transport) as c:
        for i in range(100):
            c.log(Event.model_validate(_event(i)))
        huge = Event.model_validate(_event(100, response="y" * 10_000))  # alone over this server's limit
        c.log(huge)
        assert c.flush(20)
    stored = {e.event_id for e in sqlite_store.iter_events(project="p")}
    assert stored == {f"e{i:04d}" for i in range(100)}
    assert c.rejected == 1 and c.sent == 100
    (line,) = (tmp_path / "s" / "rejected.jsonl").read_bytes().splitlines()
    assert orjson.loads(line)["event_id"] == "e0100"


def test_a_422_is_bisected_down_to_the_bad_events(sqlite_store: Store, tmp_path: Path) -> None:
    # a spool written by an older client: events this server refuses among valid ones
    key = create_key(sqlite_store, "p")
    spool = tmp_path / "s"
    spool.mkdir()
    batch = [_event(i) for i in range(100)]
    batch[17]["model"] = "m" * 300
    batch[80]["trace_id"] = EMAIL
    (spool / "batch-00000000000000000001-old.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in batch))
    transport = FlakyTransport(create_app(sqlite_store))
    with Client("http://t", key, spool_dir=spool, transport=transport) as c:
        assert c.replay() == 98
    stored = {e.event_id for e in sqlite_store.iter_events(project="p")}
    assert stored == {f"e{i:04d}" for i in range(100)} - {"e0017", "e0080"}
    rejected = [orjson.loads(x) for x in (spool / "rejected.jsonl").read_bytes().splitlines()]
    assert sorted(r["event_id"] for r in rejected) == ["e0017", "e0080"]
    assert transport.requests <= 1 + 2 * 2 * 7  # bisection: about 2 log2(n) requests per bad event
    assert list(spool.glob("batch-*")) == []


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_spool_and_rejected_files_are_private_and_hold_no_raw_pii(sqlite_store: Store, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        key = create_key(sqlite_store, "p")
        transport = FlakyTransport(create_app(sqlite_store))
        transport.down.set()
        spool = tmp_path / "spool"
        c = Client("http://t", key, batch_size=10, flush_interval=0.05, max_retries=1, backoff_base=0.01,
                   spool_dir=spool, transport=transport)
        for _ in range(20):
            c.log_generation(f"mail {EMAIL}, card 4111 1111 1111 1111", "ok", "m1",
                             attributes={"card": 4111111111111111, EMAIL: 1})
        assert c.flush(10)
        c.close()
        files = list(spool.glob("batch-*.jsonl"))
        assert files and _mode(spool) == 0o700 and all(_mode(f) == 0o600 for f in files)
        raw = b"".join(f.read_bytes() for f in files)
        # the card as written or as a number (a bare "4111" can occur in a random event id or a timestamp)
        assert EMAIL.encode() not in raw and b"4111 1111" not in raw and b"4111111111111111" not in raw
        assert b"<EMAIL>" in raw and b"<CREDIT_CARD>" in raw
        transport.down.clear()
        with Client("http://t", "tk_wrong", spool_dir=spool, transport=transport) as bad_key:
            bad_key.replay()  # 401: the whole spool is rejected, and rejected.jsonl is private too
        rejected = spool / "rejected.jsonl"
        assert _mode(rejected) == 0o600 and EMAIL.encode() not in rejected.read_bytes()
        assert len(rejected.read_bytes().splitlines()) == 20
    finally:
        os.umask(old)


_CHILD = """
import sys, time
from tether.deploy.client import Client
url, key, spool, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
acked = []
c = Client(url, key, batch_size=50, flush_interval=0.05, spool_dir=spool, write_ahead=True,
           on_ack=acked.extend)
for i in range(n // 2):
    c.log_generation(f"q{i} from zoe.planted@example.org", "a", "m1", trace_id=f"t{i}", event_id=f"e{i:05d}")
while len(acked) < 50:  # the stream is under way: some acked, more queued
    time.sleep(0.005)
for i in range(n // 2, n):
    c.log_generation(f"q{i} from zoe.planted@example.org", "a", "m1", trace_id=f"t{i}", event_id=f"e{i:05d}")
print("logged", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def served(store: Store) -> Iterator[str]:
    """The ingestion API on a real port, in a thread of this process (only the client is killed here)."""
    import uvicorn

    from tether.deploy.process import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_sigkill_of_the_client_with_write_ahead_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    from tether.store import deploy_repo

    store = Store(f"sqlite:///{tmp_path / 'wal.db'}")
    key = create_key(store, "drill")
    spool = tmp_path / "spool"
    n = 2000
    with served(store) as url:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        child = subprocess.Popen([sys.executable, "-c", _CHILD, url, key, str(spool), str(n)],
                                 stdout=subprocess.PIPE, env=env)
        try:
            assert child.stdout.readline().strip() == b"logged"
        finally:
            child.send_signal(signal.SIGKILL)  # right after the last log_* returned
            child.wait()
        assert list(spool.glob("wal-*.jsonl"))  # what the dead client had not settled is on disk
        assert EMAIL.encode() not in b"".join(p.read_bytes() for p in spool.iterdir() if p.is_file())
        with Client(url, key, flush_interval=0.05, spool_dir=spool) as after:
            assert after.recovered > 0
            after.replay()
    rows, distinct, ids = deploy_repo.event_id_counts(store, "drill")
    store.close()
    assert ids == {f"e{i:05d}" for i in range(n)}  # 0 lost
    assert rows == distinct == n  # 0 duplicated
    assert not list(spool.glob("wal-*")) and not list(spool.glob("batch-*"))


def test_write_ahead_segments_are_gone_after_a_clean_close(sqlite_store: Store, tmp_path: Path) -> None:
    key = create_key(sqlite_store, "p")
    with Client("http://t", key, batch_size=10, flush_interval=0.02, spool_dir=tmp_path / "s", write_ahead=True,
                transport=FlakyTransport(create_app(sqlite_store))) as c:
        for i in range(35):
            c.log_generation(f"q{i}", "a", "m1", timestamp=datetime.now(UTC))
        assert c.flush(10)
    assert len(list(sqlite_store.iter_events(project="p"))) == 35
    assert list((tmp_path / "s").glob("wal-*")) == []
