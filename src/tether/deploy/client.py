"""The Python SDK: `Client(url, api_key).log_generation(...)` and friends.

Events are validated locally, queued, and sent in batches by one background thread. A failed
send is retried with exponential backoff (event ids make retries safe: the server stores an id
once); when the server stays unreachable the batch goes to an on-disk spool (JSONL files) that
is replayed once the server answers again, also by the next Client on the same spool folder.
Only a 4xx other than 408/429 drops a batch from the send path: it is kept in `rejected.jsonl`.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from tether.records import Event, EventType

log = logging.getLogger("tether.client")
_RETRYABLE = {408, 425, 429}


class Client:
    """Logs production events to a Tether ingestion API; thread-safe; call `close()` (or use `with`)."""

    def __init__(self, url: str, api_key: str, *, batch_size: int = 100, flush_interval: float = 0.5,
                 max_retries: int = 6, backoff_base: float = 0.1, backoff_max: float = 5.0, timeout: float = 10.0,
                 spool_dir: str | Path | None = None, transport: httpx.BaseTransport | None = None,
                 on_ack: Callable[[list[str]], None] | None = None) -> None:
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.spool_dir = Path(spool_dir) if spool_dir is not None else Path.home() / ".tether" / "spool"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.on_ack = on_ack  # called with the event ids of every acknowledged batch (tests, metrics)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}"})
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._pending = 0  # events queued or in flight, not yet acked or spooled
        self._cv = threading.Condition()
        self._closed = False
        self.sent = 0
        self.spooled = 0
        self.rejected = 0
        self.failed_requests = 0  # connection errors and retryable statuses (each retried)
        self._thread = threading.Thread(target=self._run, name="tether-client", daemon=True)
        self._thread.start()

    # -- public API ----------------------------------------------------------------------

    def log_generation(self, prompt: str, response: str, model: str, *, trace_id: str | None = None,
                       attributes: dict[str, Any] | None = None, **extra: Any) -> str:
        """Log a model answer; returns its trace_id (pass it to feedback/correction/outcome)."""
        trace_id = trace_id or uuid.uuid4().hex
        self.log(Event(event_id=extra.pop("event_id", None) or uuid.uuid4().hex, type=EventType.GENERATION,
                       trace_id=trace_id, timestamp=extra.pop("timestamp", None) or datetime.now(UTC),
                       model=model, prompt=prompt, response=response, attributes=attributes or {}, **extra))
        return trace_id

    def log_feedback(self, trace_id: str, value: float | str, name: str = "thumbs", **extra: Any) -> None:
        """A user's signal on a generation, e.g. thumbs 1 / -1, or `regenerate`."""
        self._log_simple(EventType.FEEDBACK, trace_id, name=name, value=value, **extra)

    def log_correction(self, trace_id: str, corrected_response: str, **extra: Any) -> None:
        """The user's edit of the answer."""
        self._log_simple(EventType.CORRECTION, trace_id, corrected_response=corrected_response, **extra)

    def log_outcome(self, trace_id: str, name: str, value: float | str, *, kind: str | None = None,
                    source: str | None = None, **extra: Any) -> None:
        """A real-world result: tests passed, ticket resolved, conversion; minutes or weeks after the generation.

        `kind` (binary / numeric / categorical; default from the value) and `source` (default `event`) travel in
        the event's attributes; the store files it as an outcome joined to the trace's generation."""
        attributes = dict(extra.pop("attributes", None) or {})
        attributes.update({k: v for k, v in (("kind", kind), ("source", source)) if v is not None})
        self._log_simple(EventType.OUTCOME, trace_id, name=name, value=value, attributes=attributes, **extra)

    feedback = log_feedback
    correction = log_correction
    outcome = log_outcome

    def log(self, event: Event) -> None:
        """Queue an already-built event."""
        if self._closed:
            raise RuntimeError("client is closed")
        with self._cv:
            self._pending += 1
        self._queue.put(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is acknowledged or spooled; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cv.wait(left if left is not None else 1.0)
        return True

    def replay(self) -> int:
        """Send spooled batches now (the worker also does this by itself); returns events acknowledged."""
        done = 0
        for path in sorted(self.spool_dir.glob("batch-*.jsonl")):
            events = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
            if self._send(events, spool_on_failure=False):
                path.unlink(missing_ok=True)
                done += len(events)
            else:
                break
        return done

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, then stop the worker; anything still unsent is spooled."""
        if self._closed:
            return
        flushed = self.flush(timeout)
        self._closed = True
        if not flushed:
            # the server is still not answering: write what is queued to the spool now, the next Client replays it
            left: list[Event] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left.append(item)
            if left:
                self._spool([e.model_dump(mode="json") for e in left])
                with self._cv:
                    self._pending -= len(left)
        self._queue.put(None)
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else the worker still retries a batch; it closes the connection itself
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker --------------------------------------------------------------------------

    def _log_simple(self, type_: EventType, trace_id: str, **fields: Any) -> None:
        event_id = fields.pop("event_id", None) or uuid.uuid4().hex
        timestamp = fields.pop("timestamp", None) or datetime.now(UTC)
        self.log(Event(event_id=event_id, type=type_, trace_id=trace_id, timestamp=timestamp, **fields))

    def _run(self) -> None:
        last_replay = 0.0
        stop = False
        while not stop:
            batch: list[Event] = []
            try:
                item = self._queue.get(timeout=self.flush_interval)
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                    deadline = time.monotonic() + self.flush_interval
                    while len(batch) < self.batch_size:
                        item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                        if item is None:
                            stop = True
                            break
                        batch.append(item)
            except queue.Empty:
                pass
            if batch:
                payload = [e.model_dump(mode="json") for e in batch]
                self._send(payload, spool_on_failure=True)
                with self._cv:
                    self._pending -= len(batch)
                    self._cv.notify_all()
            if time.monotonic() - last_replay > 5 * self.flush_interval and not stop:
                last_replay = time.monotonic()
                try:
                    self.replay()
                except OSError as exc:  # a broken spool file must not kill the worker
                    log.warning("spool replay failed: %s", exc)
        self._http.close()

    def _send(self, payload: list[dict[str, Any]], *, spool_on_failure: bool) -> bool:
        """POST with retries; True when acknowledged (or rejected as bad input), False when spooled/failed."""
        body = orjson.dumps(payload)
        for attempt in range(self.max_retries + 1):
            try:
                r = self._http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
            except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the HTTP client was closed meanwhile
                status, detail = None, str(exc)
            else:
                status, detail = r.status_code, r.text[:300]
                if 200 <= status < 300:
                    self.sent += len(payload)
                    if self.on_ack is not None:
                        self.on_ack([e["event_id"] for e in payload])
                    return True
                if 400 <= status < 500 and status not in _RETRYABLE:
                    # the server will never take this batch: keep it for a human, do not retry forever
                    self.rejected += len(payload)
                    log.error("batch of %d events rejected (%s): %s", len(payload), status, detail)
                    self._append(self.spool_dir / "rejected.jsonl", payload)
                    return True
            self.failed_requests += 1
            if attempt < self.max_retries:
                delay = min(self.backoff_max, self.backoff_base * 2**attempt)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: retries from many clients spread out
        log.warning("server unreachable after %d tries (%s)", self.max_retries + 1, detail)
        if spool_on_failure:
            self._spool(payload)
        return False

    def _spool(self, payload: list[dict[str, Any]]) -> None:
        final = self.spool_dir / f"batch-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = final.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            for e in payload:
                fh.write(orjson.dumps(e) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)  # atomic: replay never sees half a batch
        self.spooled += len(payload)

    @staticmethod
    def _append(path: Path, payload: list[dict[str, Any]]) -> None:
        with path.open("ab") as fh:
            for e in payload:
                fh.write(orjson.dumps(e) + b"\n")
