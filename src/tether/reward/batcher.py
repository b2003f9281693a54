"""Requests that arrive together are scored together: OpenRLHF's newest client posts one query per request, many at
once, and a reward model on a GPU scores a batch of 64 in about the time of one.

One worker thread owns the model: it takes the oldest waiting request, adds every other one already waiting (up to
`max_batch` texts), scores them in one call and hands each request its slice. A request never waits for company:
whatever is queued while a batch is scored goes into the next one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

ScoreFn = Callable[[list[str], list[str]], dict[str, list[float]]]


@dataclass
class _Request:
    prompts: list[str]
    responses: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, list[float]] | None = None
    error: BaseException | None = None


class Batcher:
    """`batcher(prompts, responses)` -> {objective: scores}, scored with whatever other requests are waiting."""

    def __init__(self, score: ScoreFn, max_batch: int) -> None:
        self.score, self.max_batch = score, max_batch
        self.waiting: queue.Queue[_Request] = queue.Queue()
        self.batches: list[int] = []  # requests per scored batch, the most recent 1000
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def __call__(self, prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        request = _Request(prompts, responses)
        self.waiting.put(request)
        self._ensure_worker()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _ensure_worker(self) -> None:
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="tether-reward-batcher", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        carry: _Request | None = None  # a request that would have made the last batch too large: it opens the next
        while True:
            batch = [carry or self.waiting.get()]
            carry, size = None, len(batch[0].prompts)
            while size < self.max_batch:
                try:
                    nxt = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if size + len(nxt.prompts) > self.max_batch:
                    carry = nxt
                    break
                batch.append(nxt)
                size += len(nxt.prompts)
            self._score(batch)

    def _score(self, batch: list[_Request]) -> None:
        try:
            scores = self.score([p for r in batch for p in r.prompts], [x for r in batch for x in r.responses])
            start = 0
            for r in batch:
                end = start + len(r.prompts)
                r.result = {o: s[start:end] for o, s in scores.items()}
                start = end
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the error, the worker lives on
            for r in batch:
                r.error = exc
        self.batches = [*self.batches[-999:], len(batch)]
        for r in batch:
            r.done.set()

