"""Crash drill: send events through the SDK while the server is SIGKILLed and restarted, then count.

Used by the durability test (2,000 events) and `benchmarks/ingest_load.py` (20,000 events).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tether.deploy.client import Client
from tether.deploy.keys import create_key
from tether.deploy.process import ServerProcess
from tether.store import Store, deploy_repo


@dataclass
class DrillResult:
    """Counts after the drill: every acked id must be stored, every sent id stored exactly once."""

    sent: int
    acked: int
    stored_rows: int
    distinct_ids: int
    missing: list[str] = field(default_factory=list)  # sent but not stored
    acked_missing: list[str] = field(default_factory=list)  # got a 2xx but not stored (must be empty)
    kills: int = 0
    failed_requests: int = 0  # requests the client had to retry (the server was down)
    seconds: float = 0.0


def crash_drill(workdir: Path, n_events: int = 2000, kills: int = 1, batch_size: int = 50,
                restart_delay: float = 0.3) -> DrillResult:
    """Send n_events via the SDK; SIGKILL the server `kills` times mid-run; restart it; verify the store."""
    url = f"sqlite:///{workdir / 'drill.db'}"
    store = Store(url)
    key = create_key(store, "drill")
    server = ServerProcess(url).start()
    acked: set[str] = set()
    lock = threading.Lock()

    def on_ack(ids: list[str]) -> None:
        with lock:
            acked.update(ids)

    client = Client(server.url, key, batch_size=batch_size, flush_interval=0.05, max_retries=12,
                    backoff_base=0.05, backoff_max=1.0, spool_dir=workdir / "spool", on_ack=on_ack)
    sent: list[str] = []
    t0 = time.perf_counter()
    done_kills = 0
    marks = [n_events * (k + 1) // (kills + 1) for k in range(kills)]
    try:
        for i in range(n_events):
            event_id = uuid.uuid4().hex
            client.log_generation(f"prompt {i}: write to ops{i}@example.com", f"answer {i}", "drill-model",
                                  trace_id=f"t{i}", event_id=event_id)
            sent.append(event_id)
            if done_kills < kills and i == marks[done_kills]:
                # wait until the server is mid-stream (some acked, more in flight), then crash it
                while len(acked) < i // 2:
                    time.sleep(0.01)
                server.kill()
                done_kills += 1
                time.sleep(restart_delay)
                server.start()
        client.flush(120)
        client.replay()  # anything spooled while the server was down
        client.close()
    finally:
        server.stop()
    rows, distinct, stored_ids = deploy_repo.event_id_counts(store, "drill")
    store.close()
    return DrillResult(sent=len(sent), acked=len(acked), stored_rows=rows, distinct_ids=distinct,
                       missing=[e for e in sent if e not in stored_ids],
                       acked_missing=sorted(acked - stored_ids), kills=done_kills,
                       failed_requests=client.failed_requests,
                       seconds=time.perf_counter() - t0)
