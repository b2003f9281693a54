"""Production events into the store: validated, PII-redacted with the project's key, stored idempotently."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterable

from tether.deploy.event_rules import check_event
from tether.deploy.keyring import Keyring
from tether.deploy.keys import DEFAULT_PROJECT
from tether.deploy.pii import Redactor
from tether.records import Event
from tether.store import Store, WriteResult


class Ingestor:
    """Redacts and stores events for any project of one store (one redactor per project, cached)."""

    def __init__(self, store: Store, keyring: Keyring | None = None) -> None:
        self.store = store
        self.keyring = keyring or Keyring(store=store)
        self._redactors: dict[str, Redactor] = {}
        self._lock = threading.Lock()

    def redactor(self, project: str) -> Redactor:
        """The project's redactor under its current key (made on first use; rotation takes a restart)."""
        with self._lock:
            r = self._redactors.get(project)
            if r is None:
                r = self._redactors[project] = self.keyring.redactor(project)
            return r

    def lookup_redactors(self, project: str) -> list[Redactor]:
        """One redactor per key the project ever had, current first (to find data written under older keys)."""
        return self.keyring.lookup_redactors(project)

    def ingest(self, events: Iterable[Event], project: str) -> WriteResult:
        """Check (`event_rules`, ValueError), redact, then store in one committed transaction; a repeated event_id
        is stored once."""
        redactor = self.redactor(project)
        clean = [redactor.redact_event(check_event(e)) for e in events]
        with self.store.write_transaction() as conn:
            return self.store.add_events(clean, project=project, conn=conn)

    def ingest_many(self, batches: list[tuple[list[Event], str]]) -> list[WriteResult]:
        """Several requests' batches in ONE transaction (one commit), each with its own result."""
        cleaned = [([self.redactor(p).redact_event(e) for e in evs], p) for evs, p in batches]
        with self.store.write_transaction() as conn:
            return [self.store.add_events(evs, project=p, conn=conn) for evs, p in cleaned]


def import_redactor(store: Store, project: str = DEFAULT_PROJECT) -> Callable[[Event], Event]:
    """For `tether.io.import_file(transform_event=...)`: checks and redacts as the HTTP path does (secret made on
    first use); pass `event_problems` as `check_event` too, so that `--skip-bad` skips refused lines."""
    ingestor = Ingestor(store)
    return lambda event: ingestor.redactor(project).redact_event(check_event(event))


class GroupCommitter:
    """Group commit for concurrent requests: one commit loop per event loop takes everything queued at once.

    Under light load each request commits alone (no added wait); under a burst, requests that arrive while
    a commit runs share the next one, so commits per second stay flat and the ack latency recovers instead
    of queueing behind one commit per request. A future resolves only after its commit returned.
    """

    def __init__(self, ingestor: Ingestor, max_events: int = 5000) -> None:
        self.ingestor = ingestor
        self.max_events = max_events
        # one queue per event loop (a test client may run each request on a fresh loop)
        self._state: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()

    async def submit(self, events: list[Event], project: str) -> WriteResult:
        """Store the batch (redacted) and return once it is committed."""
        loop = asyncio.get_running_loop()
        state = self._state.setdefault(loop, _LoopState())
        fut: asyncio.Future[WriteResult] = loop.create_future()
        state.pending.append((events, project, fut))
        if state.task is None:
            # the commit loop runs as its own task: a cancelled request cannot strand the others' futures
            state.task = loop.create_task(self._drain(state))
        return await asyncio.shield(fut)

    async def _drain(self, state: _LoopState) -> None:
        from starlette.concurrency import run_in_threadpool

        try:
            while state.pending:
                take, size = [], 0
                while state.pending and (not take or size + len(state.pending[0][0]) <= self.max_events):
                    item = state.pending.pop(0)
                    take.append(item)
                    size += len(item[0])
                try:
                    results = await run_in_threadpool(self.ingestor.ingest_many, [(e, p) for e, p, _ in take])
                except Exception as exc:  # noqa: BLE001 - every waiter learns the commit failed
                    for *_, f in take:
                        if not f.done():
                            f.set_exception(exc)
                else:
                    for (*_, f), res in zip(take, results, strict=True):
                        if not f.done():
                            f.set_result(res)
        finally:
            state.task = None


class _LoopState:
    __slots__ = ("pending", "task", "__weakref__")

    def __init__(self) -> None:
        self.pending: list[tuple[list[Event], str, asyncio.Future[WriteResult]]] = []
        self.task: asyncio.Task[None] | None = None
