"""Group commit: concurrent requests share commits, each gets its own result, all are stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tether.deploy.ingest import GroupCommitter, Ingestor
from tether.records import Event
from tether.store import Store


def test_concurrent_submits_share_commits_and_keep_their_own_results(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    ingestor = Ingestor(store)
    calls: list[int] = []
    original = ingestor.ingest_many

    def counting(batches):  # noqa: ANN001, ANN202
        calls.append(len(batches))
        return original(batches)

    ingestor.ingest_many = counting  # type: ignore[method-assign]
    committer = GroupCommitter(ingestor)
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def ev(i: int) -> Event:
        return Event(event_id=f"e{i}", type="generation", trace_id=f"t{i}", timestamp=t, model="m",
                     prompt=f"mail u{i}@x.org", response="r")

    async def main() -> list:
        # request k sends events k and k+1: neighbours overlap, so some ids arrive twice
        return await asyncio.gather(*(committer.submit([ev(k), ev(k + 1)], "p") for k in range(0, 60, 1)))

    results = asyncio.run(main())
    assert sum(r.stored for r in results) == 61 and sum(r.duplicates for r in results) == 59
    assert sum(calls) == 60 and len(calls) < 60  # 60 requests, fewer commits
    stored = list(store.iter_events(project="p"))
    assert len(stored) == 61 and all("@x.org" not in e.prompt for e in stored)
    store.close()
