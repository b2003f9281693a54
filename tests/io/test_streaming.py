"""Readers stream: memory while reading ten times as many lines stays about the same.

The read buffer is made small (64 KiB) so that both files span many buffers; the peak is then
the buffer plus one item, whatever the file's length.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from tether.io import sources
from tether.io.hh_rlhf import read_hh_rlhf
from tether.io.sources import iter_json_items


def _peak(iterate) -> int:  # noqa: ANN001
    tracemalloc.start()
    try:
        for _ in iterate():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _hh(path: Path, n: int) -> Path:
    line = json.dumps({"chosen": "\n\nHuman: hi there\n\nAssistant: hello, friend",
                       "rejected": "\n\nHuman: hi there\n\nAssistant: go away"}) + "\n"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(line for _ in range(n))
    return path


def _array(path: Path, n: int) -> Path:
    item = json.dumps({"prompt": "p", "chosen": "c" * 40, "rejected": "r" * 40}, indent=4)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n" + ",\n".join(item for _ in range(n)) + "\n]")
    return path


def test_json_array_reader_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sources, "CHUNK_CHARS", 1 << 16)
    small, large = _array(tmp_path / "s.json", 10_000), _array(tmp_path / "l.json", 100_000)
    count = sum(1 for _ in iter_json_items(large))
    assert count == 100_000
    peak_small = _peak(lambda: iter_json_items(small))
    peak_large = _peak(lambda: iter_json_items(large))
    assert peak_large < 1.1 * peak_small + 32 * 1024, (peak_small, peak_large)


def test_hh_reader_memory_is_bounded(tmp_path: Path):
    small, large = _hh(tmp_path / "s.jsonl.gz", 5_000), _hh(tmp_path / "l.jsonl.gz", 50_000)
    peak_small = _peak(lambda: read_hh_rlhf(small))
    peak_large = _peak(lambda: read_hh_rlhf(large))
    assert peak_large < 1.1 * peak_small + 32 * 1024, (peak_small, peak_large)
