"""Streaming import: Python memory does not grow with the size of the file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson
import pytest

import tether.store.repository as repository
from tether.io import import_file
from tether.store import Store


def _write(path: Path, rows: int) -> Path:
    with open(path, "wb") as fh:
        for i in range(rows):
            fh.write(orjson.dumps({
                "prompt": f"prompt number {i % 997} " * 3, "response_a": f"first answer {i} " * 4,
                "response_b": f"second answer {i} " * 4, "shown_first": "ab"[i % 2], "choice": "ab"[i % 3 % 2],
                "rater": f"rater-{i % 50}", "objective": "overall", "confidence": 0.5,
                "created_at": "2025-01-01T00:00:00Z", "line": i,
            }) + b"\n")
    return path


def _peak_import_bytes(tmp_path: Path, rows: int) -> tuple[int, int]:
    path = _write(tmp_path / f"c{rows}.jsonl", rows)
    store = Store(f"sqlite:///{tmp_path / f'db{rows}.db'}")
    tracemalloc.start()
    try:
        report = import_file(store, "comparisons", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        store.close()
    return report.stored, peak


def test_import_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # chunks of 2,000 rows and at most 2,000 remembered ids per table, so 5x the rows is many chunks
    monkeypatch.setattr(repository, "COMPARISON_CHUNK", 2000)
    monkeypatch.setattr(repository, "KNOWN_IDS_MAX", 2000)
    small_rows, big_rows = 6_000, 30_000
    stored_small, peak_small = _peak_import_bytes(tmp_path, small_rows)
    stored_big, peak_big = _peak_import_bytes(tmp_path, big_rows)
    assert (stored_small, stored_big) == (small_rows, big_rows)
    # 5x the file, and the peak grows by well under the size of one extra chunk, not 5x
    big_file = (tmp_path / f"c{big_rows}.jsonl").stat().st_size
    assert peak_big - peak_small < 0.1 * big_file, (peak_small, peak_big, big_file)
    assert peak_big < 0.5 * big_file, (peak_big, big_file)
