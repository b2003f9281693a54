"""The Python SDK: `Client(url, api_key).log_generation(...)` and friends.

Events are validated locally with the server's own rules (the `Event` model and `event_rules`: a bad
event raises ValueError in `log_*`, it is never queued), queued, and sent in batches by one background
thread, each request under the server's body limit. A failed send is retried with exponential backoff
(event ids make retries safe: the server stores an id once); when the server stays unreachable the batch
goes to an on-disk spool (JSONL files) that is replayed once the server answers again, also by the next
Client on the same spool folder. A 413 splits the batch in halves; a 422 bisects it, so only the events
the server refuses go to `rejected.jsonl` and every valid one is stored. Another 4xx (other than
408/425/429: retried) rejects the batch. Spool files are private (folder 0700, files 0600) and redacted
with unkeyed placeholders (`tether.deploy.spool`). With `write_ahead=True` every event is on disk before
`log_*` returns, so a crash of the client process right after it loses nothing.
"""

from __future__ import annotations

import logging
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

from tether.deploy.event_rules import MAX_BATCH, MAX_BODY_BYTES, check_event
from tether.deploy.spool import WriteAheadLog, disk_form, private_dir, read_lines, write_lines
from tether.records import Event, EventType

log = logging.getLogger("tether.client")
_RETRYABLE = {408, 425, 429}


class Client:
    """Logs production events to a Tether ingestion API; thread-safe; call `close()` (or use `with`)."""

    def __init__(self, url: str, api_key: str, *, batch_size: int = 100, flush_interval: float = 0.5,
                 max_retries: int = 6, backoff_base: float = 0.1, backoff_max: float = 5.0, timeout: float = 10.0,
                 spool_dir: str | Path | None = None, transport: httpx.BaseTransport | None = None,
                 on_ack: Callable[[list[str]], None] | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 write_ahead: bool = False) -> None:
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_body_bytes = max_body_bytes
        self.spool_dir = private_dir(Path(spool_dir) if spool_dir is not None else Path.home() / ".tether" / "spool")
        self.on_ack = on_ack  # called with the event ids of every acknowledged batch (tests, metrics)
        # segments of a client that died are spooled batches now; the worker replays them
        self.recovered = sum(len(read_lines(p)[0]) for p in WriteAheadLog.recover(self.spool_dir))
        self._wal = WriteAheadLog(self.spool_dir) if write_ahead else None
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}"})
        self._queue: queue.Queue[tuple[Event, int] | None] = queue.Queue()
        self._pending = 0  # events queued or in flight, not yet acked or spooled
        self._cv = threading.Condition()
        self._replay_lock = threading.Lock()
        self._closed = False
        self.sent = 0
        self.spooled = 0
        self.rejected = 0
        self.failed_requests = 0  # connection errors and retryable statuses (each retried)
        self._thread = threading.Thread(target=self._run, name="tether-client", daemon=True)
        self._thread.start()

    # -- public API ----------------------------------------------------------------------

    def log_generation(self, prompt: str, response: str, model: str, *, trace_id: str | None = None,
                       attributes: dict[str, Any] | None = None, mean_logprob: float | None = None,
                       **extra: Any) -> str:
        """Log a model answer; returns its trace_id (pass it to feedback/correction/outcome). `mean_logprob`: the
        policy's mean token log-probability of the answer, a low-confidence signal the loop samples for annotation."""
        trace_id = trace_id or uuid.uuid4().hex
        attributes = dict(attributes or {})
        if mean_logprob is not None:
            attributes["gen_ai.response.mean_logprob"] = float(mean_logprob)
        self.log(Event(event_id=extra.pop("event_id", None) or uuid.uuid4().hex, type=EventType.GENERATION,
                       trace_id=trace_id, timestamp=extra.pop("timestamp", None) or datetime.now(UTC),
                       model=model, prompt=prompt, response=response, attributes=attributes, **extra))
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
        """Queue an already-built event; ValueError (naming the fields) for one the server would refuse."""
        if self._closed:
            raise RuntimeError("client is closed")
        check_event(event)
        texts = sum(len(t) for t in (event.prompt, event.response, event.corrected_response, event.value) if
                    isinstance(t, str))
        # JSON escaping makes a character at most 6 bytes: serialize only an event that could be too big
        if 6 * texts + len(orjson.dumps([event.attributes, event.model_extra])) + 4096 > self.max_body_bytes:
            size = len(orjson.dumps(event.model_dump(mode="json"))) + 2
            if size > self.max_body_bytes:
                raise ValueError(f"event refused: {size} bytes as JSON, more than the {self.max_body_bytes}-byte "
                                 "request limit")
        segment = self._wal.append(event) if self._wal is not None else -1
        with self._cv:
            self._pending += 1
        self._queue.put((event, segment))

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
        with self._replay_lock:  # the worker and a caller must not send (or reject) one file twice
            return self._replay()

    def _replay(self) -> int:
        done = 0
        for path in sorted(self.spool_dir.glob("batch-*.jsonl")):
            events, broken = read_lines(path)
            if broken:  # half a line written by a client killed mid-write: never logged, so nothing is lost
                log.warning("%s: %d unreadable line(s) skipped", path.name, broken)
            acked = self._send(events, spool_on_failure=False, on_disk=True)
            if acked is None:
                break
            path.unlink(missing_ok=True)
            done += acked
        return done

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, then stop the worker; anything still unsent is spooled."""
        if self._closed:
            return
        flushed = self.flush(timeout)
        self._closed = True
        if not flushed:
            # the server is still not answering: write what is queued to the spool now, the next Client replays it
            left: list[tuple[Event, int]] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left.append(item)
            if left:
                self._spool([e.model_dump(mode="json") for e, _ in left])
                self._settled(left)
        self._queue.put(None)
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else the worker still retries a batch; it closes the connection itself
            self._http.close()
            if self._wal is not None:
                self._wal.close()

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
            batch: list[tuple[Event, int]] = []
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
                self._send([e.model_dump(mode="json") for e, _ in batch], spool_on_failure=True)
                self._settled(batch)
            if time.monotonic() - last_replay > 5 * self.flush_interval and not stop:
                last_replay = time.monotonic()
                try:
                    self.replay()
                except OSError as exc:  # a broken spool file must not kill the worker
                    log.warning("spool replay failed: %s", exc)
        self._http.close()

    def _settled(self, items: list[tuple[Event, int]]) -> None:
        """These events are acked, rejected or spooled: nothing in memory is needed for them any more."""
        if self._wal is not None:
            self._wal.done(seg for _, seg in items)
        with self._cv:
            self._pending -= len(items)
            self._cv.notify_all()

    def _send(self, payload: list[dict[str, Any]], *, spool_on_failure: bool, on_disk: bool = False) -> int | None:
        """Deliver events: how many were acknowledged once every one is acknowledged or rejected, None when the
        server stayed unreachable (the undelivered rest is then spooled if `spool_on_failure`). Requests stay
        under the body limit; a 413 halves the request, a 422 bisects it down to the events the server refuses.
        `on_disk`: the events are already in their redacted disk form (a replayed spool)."""
        acked = 0
        parts = self._by_size(payload)
        parts.reverse()  # a stack: the first part is sent first
        while parts:
            part = parts.pop()
            status, detail = self._post(part)
            if status is None:
                log.warning("server unreachable after %d tries (%s)", self.max_retries + 1, detail)
                if spool_on_failure:
                    self._spool([e for p in [part, *parts] for e in p], on_disk=on_disk)
                return None
            if 200 <= status < 300:
                acked += len(part)
                self.sent += len(part)
                if self.on_ack is not None:
                    self.on_ack([e["event_id"] for e in part])
            elif status in (413, 422) and len(part) > 1:
                half = len(part) // 2
                parts += [part[half:], part[:half]]
            else:
                # the server will never take these: keep them for a human, do not retry forever
                self.rejected += len(part)
                log.error("%d event(s) rejected (%s): %s", len(part), status, detail)
                write_lines(self.spool_dir / "rejected.jsonl", part if on_disk else map(disk_form, part), append=True)
        return acked

    def _by_size(self, payload: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Consecutive runs of events whose JSON array stays under the request limits (bytes and events)."""
        parts: list[list[dict[str, Any]]] = [[]]
        size = 2
        for e in payload:
            n = len(orjson.dumps(e)) + 1
            if parts[-1] and (size + n > self.max_body_bytes or len(parts[-1]) >= MAX_BATCH):
                parts.append([])
                size = 2
            parts[-1].append(e)
            size += n
        return parts

    def _post(self, part: list[dict[str, Any]]) -> tuple[int | None, str]:
        """POST with retries on connection errors and retryable statuses: (final status or None, detail)."""
        body = orjson.dumps(part)
        detail = ""
        for attempt in range(self.max_retries + 1):
            try:
                r = self._http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
            except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the HTTP client was closed meanwhile
                detail = str(exc)
            else:
                detail = r.text[:300]
                if r.status_code < 300 or (400 <= r.status_code < 500 and r.status_code not in _RETRYABLE):
                    return r.status_code, detail
            self.failed_requests += 1
            if attempt < self.max_retries:
                delay = min(self.backoff_max, self.backoff_base * 2**attempt)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: retries from many clients spread out
        return None, detail

    def _spool(self, payload: list[dict[str, Any]], *, on_disk: bool = False) -> None:
        """Write a batch (redacted, 0600) atomically: replay never sees half a batch."""
        final = self.spool_dir / f"batch-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = final.with_suffix(".tmp")
        write_lines(tmp, payload if on_disk else map(disk_form, payload), append=False, sync=True)
        tmp.replace(final)
        self.spooled += len(payload)
