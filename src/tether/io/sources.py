"""Shared reading helpers for the third-party kinds: JSON arrays or JSON Lines, field checks.

Every reader streams: a JSON array is decoded one element at a time, so a file of any size
is read in bounded memory, and each element keeps the line it starts on for error messages.
"""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tether.io.errors import BadLine, SkipItem, Skipped, bad_from_validation
from tether.io.jsonl import damaged, iter_jsonl, open_binary

CHUNK_CHARS = 1 << 20
_WS = " \t\r\n"


class FieldError(ValueError):
    """A bad value in one record: the key at fault and what is wrong with it."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _first_char(path: Path) -> str:
    stream, _ = open_binary(path)
    with stream:
        try:
            while True:
                chunk = stream.read(4096)
                if not chunk:
                    return ""
                stripped = chunk.removeprefix(codecs.BOM_UTF8).lstrip(_WS.encode())
                if stripped:
                    return chr(stripped[0])
        except (EOFError, OSError, zlib.error):
            return ""  # a damaged .gz: the line reader reports where


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


class _NotUtf8(Exception):
    def __init__(self, line: int, exc: UnicodeDecodeError) -> None:
        super().__init__(str(exc))
        self.line, self.exc = line, exc


def _iter_array(path: Path, on_bytes: Callable[[int], None] | None
                ) -> Iterator[tuple[int, dict[str, Any] | BadLine, str]]:
    decoder = json.JSONDecoder()
    stream, counter = open_binary(path)
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    name = str(path)
    last_bytes = 0
    with stream:
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
            data = stream.read(CHUNK_CHARS)
            if on_bytes is not None:
                now = counter()
                on_bytes(now - last_bytes)
                last_bytes = now
            try:
                chunk = utf8.decode(data, final=not data)
            except UnicodeDecodeError as exc:  # name the line: the lines in buf, then those of this chunk before it
                line = mark_line + buf.count("\n") + data[:max(exc.start, 0)].count(b"\n")
                raise _NotUtf8(line, exc) from None
            if not data:
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
        except _NotUtf8 as exc:  # no reliable place to resume in an array: stop here
            yield exc.line, BadLine(name, exc.line, None, f"not UTF-8 text ({exc.exc.reason}); the items before "
                                                          "this line are readable"), ""
        except (EOFError, OSError, zlib.error) as exc:
            yield here(), damaged(path, here(), exc), ""


def read_objects(path: Path, convert: Callable[[dict[str, Any], int], Any],
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any] | BadLine | Skipped]:
    """Run `convert(obj, line)` on each item; a FieldError or ValidationError becomes a BadLine (file, line, key),
    a SkipItem a Skipped.

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
        except SkipItem as exc:
            yield Skipped(name, lineno, exc.reason)
            continue
        except ValidationError as exc:  # a record's own checks (ranges, types of the v1 fields)
            yield bad_from_validation(name, lineno, exc, raw)
            continue
        for record in out if isinstance(out, list) else [out]:
            yield lineno, record


def read_items(path: Path, convert: Callable[[dict[str, Any]], Iterable[Any]],
               on_bytes: Callable[[int], None] | None = None, *, numbered: str | None = None
               ) -> Iterator[tuple[int, Any] | BadLine | Skipped]:
    """Like `read_objects`, for a `convert(obj)` that yields several records and, as strings, the reasons for
    parts it leaves out (each counted as skipped). One bad part makes the whole item one bad line.

    `numbered="record"`: the line reported is the item's position, and messages start "record N:" (for files
    written on one line, such as Argilla's records.json)."""
    return convert_items(str(path), iter_json_items(path, on_bytes), convert, numbered=numbered)


def convert_items(name: str, source: Iterable[tuple[int, dict[str, Any] | BadLine, str]],
                  convert: Callable[[dict[str, Any]], Iterable[Any]], *, numbered: str | None = None
                  ) -> Iterator[tuple[int, Any] | BadLine | Skipped]:
    """`read_items` over any source of (line, object or BadLine, raw text), e.g. rows of a Parquet file."""
    number = 0
    for line, obj, raw in source:
        number += 1
        at = number if numbered else line
        prefix = f"{numbered} {number}: " if numbered else ""
        if isinstance(obj, BadLine):
            yield BadLine(name, at, obj.key, prefix + obj.message, obj.raw) if numbered else obj
            continue
        try:
            items = list(convert(obj))
        except FieldError as exc:
            yield BadLine(name, at, exc.key, prefix + exc.message, raw[:200])
            continue
        except ValidationError as exc:
            bad = bad_from_validation(name, at, exc, raw[:200])
            bad.message = prefix + bad.message
            yield bad
            continue
        for item in items:
            yield Skipped(name, at, item) if isinstance(item, str) else (at, item)


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
