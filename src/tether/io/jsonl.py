"""Streaming JSON Lines: one object a line, line numbers kept for errors, .gz transparent."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
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


GZIP_MAGIC = b"\x1f\x8b"


def check_file(path: Path) -> None:
    """A readable input file: a folder or a `.gz` name on plain data is a ValueError naming the file."""
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file")
    if path.suffix == ".gz":
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic and magic != GZIP_MAGIC:
            raise ValueError(f"{path}: not gzip data (it starts with {magic!r}); a .gz file must be gzip-"
                             "compressed: rename it without .gz if it is plain text")


def open_binary(path: Path) -> tuple[IO[bytes], ByteCounter]:
    """Open a file for reading bytes (gunzipped if it ends in .gz), with a counter of the file bytes consumed."""
    path = Path(path)
    check_file(path)
    if path.suffix == ".gz":
        stream = gzip.GzipFile(path, "rb")  # owns (and closes) the file it opens
        return stream, ByteCounter(stream.fileobj)  # type: ignore[arg-type]
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    return raw, ByteCounter(raw)


def open_text(path: Path) -> tuple[IO[str], ByteCounter]:
    """Open a UTF-8 text file (gzip if it ends in .gz; a BOM is dropped)."""
    stream, counter = open_binary(path)
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), counter


def damaged(path: Path, line: int, exc: BaseException) -> BadLine:
    """The BadLine for a compressed file that ends early or is corrupt after `line - 1` good lines."""
    return BadLine(str(path), line, None, f"the compressed file is cut short or damaged after line {line - 1} "
                                          f"({exc}); the lines before it are readable")


def iter_jsonl(path: Path, on_bytes: Callable[[int], None] | None = None
               ) -> Iterator[tuple[int, dict[str, Any] | BadLine, str]]:
    """Yield (line number, object or BadLine, raw line); blank lines are skipped.

    Lines are decoded one by one, so a line that is not UTF-8 is one bad line (the others still read), and a
    truncated or corrupt .gz is a bad line after the last whole one."""
    stream, counter = open_binary(Path(path))
    name = str(path)
    last = 0
    lineno = 0
    with stream:
        lines = iter(stream)
        while True:
            try:
                data = next(lines)
            except StopIteration:
                break
            except (EOFError, OSError, zlib.error) as exc:  # gzip: cut short, bad CRC, corrupt data
                yield lineno + 1, damaged(Path(path), lineno + 1, exc), ""
                break
            lineno += 1
            if on_bytes is not None and lineno % 1000 == 0:
                pos = counter()
                on_bytes(pos - last)
                last = pos
            if lineno == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
            try:
                line = data.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raw = data.decode("utf-8", "replace").rstrip("\r\n")
                yield lineno, BadLine(name, lineno, None, f"not UTF-8 text (byte {exc.start}: "
                                                          f"{exc.object[exc.start]:#04x}, {exc.reason})", raw), raw
                continue
            if not line or line.isspace():  # not strip(): that copies every line
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield lineno, BadLine(name, lineno, None, f"not valid JSON: {exc}", line), line
                continue
            if not isinstance(obj, dict):
                yield lineno, BadLine(name, lineno, None,
                                      f"expected a JSON object, got {type(obj).__name__}", line), line
                continue
            yield lineno, obj, line
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
