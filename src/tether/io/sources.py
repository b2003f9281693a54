"""Shared reading helpers for the third-party kinds: JSON arrays or JSON Lines, field checks.

Every reader streams: a JSON array is decoded one element at a time, so a file of any size
is read in bounded memory, and each element keeps the line it starts on for error messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tether.io.errors import BadLine, bad_from_validation
from tether.io.jsonl import iter_jsonl, open_text

CHUNK_CHARS = 1 << 20
_WS = " \t\r\n"


class FieldError(ValueError):
    """A bad value in one record: the key at fault and what is wrong with it."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _first_char(path: Path) -> str:
    text, _ = open_text(path)
    with text:
        while True:
            chunk = text.read(4096)
            if not chunk:
                return ""
            stripped = chunk.lstrip(_WS)
            if stripped:
                return stripped[0]


def iter_json_items(path: Path, on_bytes: Callable[[int], None] | None = None
                    ) -> Iterator[tuple[int, dict[str, Any] | BadLine, str]]:
    """Yield (line, object or BadLine, raw) from a JSON array file or a JSON Lines file (.gz too).

    The layout is detected from the first character: `[` is a JSON array (what
    `Dataset.to_json(lines=False)` and PandaLM write), anything else JSON Lines.
    """
    path = Path(path)
    if _first_char(path) == "[":
        yield from _iter_array(path, on_bytes)
    else:
        yield from iter_jsonl(path, on_bytes)


def _iter_array(path: Path, on_bytes: Callable[[int], None] | None
                ) -> Iterator[tuple[int, dict[str, Any] | BadLine, str]]:
    decoder = json.JSONDecoder()
    text, counter = open_text(path)
    name = str(path)
    last_bytes = 0
    with text:
        buf = ""
        pos = 0
        mark, mark_line = 0, 1  # line numbers are counted incrementally: mark_line is the line of buf[mark]
        eof = False

        def fill() -> bool:
            nonlocal buf, pos, mark, mark_line, eof, last_bytes
            if eof:
                return False
            mark_line += buf.count("\n", mark, pos)
            buf = buf[pos:]
            pos = mark = 0
            chunk = text.read(CHUNK_CHARS)
            if on_bytes is not None:
                now = counter()
                on_bytes(now - last_bytes)
                last_bytes = now
            if not chunk:
                eof = True
                return False
            buf += chunk
            return True

        def skip_ws() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in _WS:
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if not fill():
                    return ""

        def here() -> int:
            nonlocal mark, mark_line
            mark_line += buf.count("\n", mark, pos)
            mark = pos
            return mark_line

        def bad(message: str) -> BadLine:
            return BadLine(name, here(), None, message, buf[pos:pos + 200])

        try:
            skip_ws()
            pos += 1  # the opening "["
            first = True
            while True:
                ch = skip_ws()
                if ch == "]":
                    return
                if ch == "":
                    yield here(), bad("not valid JSON: the array is not closed with ']'"), ""
                    return
                if not first:
                    if ch != ",":
                        yield here(), bad(f"not valid JSON: expected ',' or ']' between items, got {ch!r}"), ""
                        return
                    pos += 1
                    skip_ws()
                first = False
                start_line = here()
                while True:
                    try:
                        obj, end = decoder.raw_decode(buf, pos)
                    except json.JSONDecodeError as exc:
                        if fill():  # maybe the item runs past the buffer
                            continue
                        # A broken item leaves no reliable place to resume: stop here.
                        at = start_line + buf.count("\n", pos, exc.pos)
                        yield at, BadLine(name, at, None, f"not valid JSON: {exc.msg}", buf[pos:pos + 200]), ""
                        return
                    if end == len(buf) and fill():  # a number cut at the buffer edge
                        continue
                    break
                raw = buf[pos:end]
                pos = end
                if not isinstance(obj, dict):
                    yield start_line, BadLine(name, start_line, None,
                                              f"expected a JSON object, got {type(obj).__name__}", raw), raw
                    continue
                yield start_line, obj, raw
        except UnicodeDecodeError as exc:
            yield -1, BadLine(name, -1, None, f"not UTF-8 text: {exc}"), ""


def read_objects(path: Path, convert: Callable[[dict[str, Any], int], Any],
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any] | BadLine]:
    """Run `convert(obj, line)` on each item; a FieldError or ValidationError becomes a BadLine (file, line, key).

    `convert` returns one record or a list of records (several judgments on one line).
    """
    name = str(path)
    for lineno, obj, raw in iter_json_items(path, on_bytes):
        if isinstance(obj, BadLine):
            yield obj
            continue
        try:
            out = convert(obj, lineno)
        except FieldError as exc:
            yield BadLine(name, lineno, exc.key, exc.message, raw)
            continue
        except ValidationError as exc:  # a record's own checks (ranges, types of the v1 fields)
            yield bad_from_validation(name, lineno, exc, raw)
            continue
        for record in out if isinstance(out, list) else [out]:
            yield lineno, record


def get_str(obj: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """The string at `key`; missing or non-string values raise FieldError."""
    if key not in obj:
        if required:
            raise FieldError(key, "missing required key")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise FieldError(key, f"expected a string, got {type(value).__name__} ({value!r:.80})")
    return value


def get_int(obj: dict[str, Any], key: str) -> int:
    """An integer at `key`, also given as a string of digits (PRD and PandaLM mix both)."""
    if key not in obj:
        raise FieldError(key, "missing required key")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(key, f"expected an integer, got {type(value).__name__} ({value!r:.80})")
    if isinstance(value, str):
        if not value.strip().lstrip("-").isdigit():
            raise FieldError(key, f"expected an integer, got {value!r:.80}")
        return int(value)
    return value
