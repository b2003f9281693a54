"""The serve batcher: requests waiting together are scored in one call, each gets its own slice, errors reach all."""

from __future__ import annotations

import threading
import time

import pytest

from tether.reward.batcher import Batcher


class _Gated:
    """A scorer whose first call waits for `release`, so that requests pile up behind it; it records each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        self.calls.append(list(responses))
        self.started.set()
        self.release.wait(10)
        if "boom" in responses:
            raise RuntimeError("the model failed")
        return {"len": [float(len(r)) for r in responses], "first": [float(ord(r[0])) for r in responses]}


def _submit(batcher: Batcher, responses: list[str], out: dict, key: str) -> threading.Thread:
    def go() -> None:
        try:
            out[key] = batcher(["p"] * len(responses), responses)
        except RuntimeError as exc:
            out[key] = exc

    t = threading.Thread(target=go)
    t.start()
    return t


def _wait_queued(batcher: Batcher, n: int) -> None:
    for _ in range(1000):  # the threads put their requests in the queue
        if batcher.waiting.qsize() == n:
            return
        time.sleep(0.005)
    raise AssertionError(f"{batcher.waiting.qsize()} requests queued, expected {n}")


@pytest.mark.parametrize(("max_batch", "expected_calls"), [(16, [["a"], ["bb", "ccc", "dddd", "e"]]),
                                                          (3, [["a"], ["bb", "ccc", "dddd"], ["e"]])])
def test_waiting_requests_share_a_call(max_batch: int, expected_calls: list[list[str]]) -> None:
    fn = _Gated()
    batcher, out = Batcher(fn, max_batch), {}
    threads = [_submit(batcher, ["a"], out, "A")]
    assert fn.started.wait(10)
    for key, responses in (("B", ["bb"]), ("C", ["ccc", "dddd"]), ("D", ["e"])):
        threads.append(_submit(batcher, responses, out, key))
        _wait_queued(batcher, len(threads) - 1)  # in this order
    fn.release.set()
    for t in threads:
        t.join(10)
    assert fn.calls == expected_calls
    assert out["C"] == {"len": [3.0, 4.0], "first": [float(ord("c")), float(ord("d"))]}
    assert out["B"]["len"] == [2.0] and out["D"]["first"] == [float(ord("e"))] and out["A"]["len"] == [1.0]


def test_an_error_reaches_every_request_of_its_batch_and_the_worker_lives_on() -> None:
    fn = _Gated()
    batcher, out = Batcher(fn, 16), {}
    first = _submit(batcher, ["a"], out, "A")
    assert fn.started.wait(10)
    threads = [_submit(batcher, ["boom"], out, "B")]
    _wait_queued(batcher, 1)
    threads.append(_submit(batcher, ["fine"], out, "C"))
    _wait_queued(batcher, 2)
    fn.release.set()
    for t in [first, *threads]:
        t.join(10)
    assert isinstance(out["B"], RuntimeError) and isinstance(out["C"], RuntimeError)  # one call, one error
    assert batcher(["p"], ["ok"])["len"] == [2.0]
