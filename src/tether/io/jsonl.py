"""Streaming JSON Lines: one object a line, line numbers kept for errors, .gz transparent."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from tether.io.errors import BadLine


class ByteCounter:
    """Bytes consumed from the underlying file, for progress bars."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def __call__(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0


def open_text(path: Path) -> tuple[IO[str], ByteCounter]:
    """Open a UTF-8 text file (gzip if it ends in .gz; a BOM is dropped)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the text wrapper
    counter = ByteCounter(raw)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), counter


def iter_jsonl(path: Path, on_bytes: Callable[[int], None] | None = None
               ) -> Iterator[tuple[int, dict[str, Any] | BadLine, str]]:
    """Yield (line number, object or BadLine, raw line); blank lines are skipped."""
    text, counter = open_text(path)
    last = 0
    with text:
        try:
            for lineno, raw in enumerate(text, start=1):
                if on_bytes is not None and lineno % 1000 == 0:
                    pos = counter()
                    on_bytes(pos - last)
                    last = pos
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield lineno, BadLine(str(path), lineno, None, f"not valid JSON: {exc}", line), line
                    continue
                if not isinstance(obj, dict):
                    yield lineno, BadLine(str(path), lineno, None,
                                          f"expected a JSON object, got {type(obj).__name__}", line), line
                    continue
                yield lineno, obj, line
        except UnicodeDecodeError as exc:
            yield -1, BadLine(str(path), -1, None, f"not UTF-8 text: {exc}"), ""
    if on_bytes is not None:
        on_bytes(counter() - last)


def _default(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write objects one per line (UTF-8); returns the number written."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row, default=_default, option=orjson.OPT_NON_STR_KEYS))
            fh.write(b"\n")
            n += 1
    return n
