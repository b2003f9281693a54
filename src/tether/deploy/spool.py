"""The SDK's on-disk files: private (folder 0700, files 0600) and never holding raw PII.

Everything the client writes (spooled batches, `rejected.jsonl`, the write-ahead log) is first redacted
with the server's own rules (`Redactor`) but with UNKEYED placeholders (`<EMAIL>`, `<CREDIT_CARD>`): the
client has no project secret, and a keyed digest made with a secret the client holds would let anyone
with the spool test guesses. The cost: an event that reaches the server from the spool carries
`<EMAIL>` where a directly sent one would carry the linkable `<EMAIL_3f2a9c>`, so pseudonym linking
(the same user across traces) is lost for spooled events. Ids are never rewritten (`event_rules`
refuses PII-shaped ids), so a spooled copy of an event the server already stored is a duplicate by id
and stored once. Measured against encrypting the spool with a 0600 key file: `benchmarks/client_spool.py`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from tether.deploy.pii import Redactor
from tether.records import Event

FILE_MODE = 0o600
DIR_MODE = 0o700


class UnkeyedRedactor(Redactor):
    """The server's detectors with placeholders that carry nothing about the value: `<TYPE>`."""

    def __init__(self) -> None:
        super().__init__(b"unkeyed: the placeholders use no key")

    def _pseudonym_folded(self, type_: str, folded: str) -> str:
        return f"<{type_}>"


_REDACTOR: UnkeyedRedactor | None = None


def disk_redactor() -> UnkeyedRedactor:
    global _REDACTOR
    if _REDACTOR is None:
        _REDACTOR = UnkeyedRedactor()
    return _REDACTOR


def disk_form(event: Event | dict[str, Any]) -> dict[str, Any]:
    """The event as the client may write it to disk: redacted, unkeyed, JSON-ready."""
    if isinstance(event, dict):
        event = Event.model_validate(event)
    return disk_redactor().redact_event(event).model_dump(mode="json")


def private_dir(path: Path) -> Path:
    """Create (or tighten) a folder only its owner can enter."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a shared folder we do not own: leave its mode alone
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, *, append: bool) -> int:
    """A file descriptor for writing, created 0600 (an older, wider file is tightened to 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
        os.fchmod(fd, FILE_MODE)
    return fd


def write_lines(path: Path, records: Iterable[dict[str, Any]], *, append: bool, sync: bool = False) -> int:
    """Write records as JSON lines (0600); returns how many."""
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    fd = open_private(path, append=append)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return data.count(b"\n")


def read_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(records, unreadable lines) of a JSONL file: a process killed mid-write may leave half a last line."""
    out, broken = [], 0
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            broken += 1
    return out, broken


class WriteAheadLog:
    """Every logged event on disk before `log_*` returns, so that a client crash loses nothing.

    Segments `wal-<pid>-<rand>.jsonl` (0600, redacted like the spool) are held under an exclusive `flock`
    by their client; an event is appended (one `write`, no fsync: it survives the process, not the
    machine) and counted until its batch is acknowledged, rejected or spooled. A segment whose events
    are all done is deleted once it is full (`segment_events`) or the client closes. A later Client on
    the same folder takes over segments nobody holds a lock on (their writer died): they become
    spooled batches and are replayed; events the server had already stored are duplicates by id.
    """

    def __init__(self, folder: Path, segment_events: int = 10_000) -> None:
        try:
            import fcntl  # POSIX only: the lock is how a crashed writer is told from a live one
        except ImportError:
            raise RuntimeError("write_ahead=True needs POSIX file locks (fcntl); not available here") from None

        self._fcntl = fcntl
        self.folder = folder
        self.segment_events = segment_events
        self._segments: dict[int, list[int]] = {}  # fd -> [written, outstanding]
        self._paths: dict[int, Path] = {}
        self._lock = threading.Lock()  # `append` runs on callers' threads, `done` on the worker's
        self._current = self._open()

    def _open(self) -> int:
        path = self.folder / f"wal-{os.getpid()}-{os.urandom(4).hex()}.jsonl"
        tmp = path.with_name("." + path.name)
        fd = open_private(tmp, append=True)
        self._fcntl.flock(fd, self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
        tmp.rename(path)  # only a locked segment is ever visible to `recover`
        self._segments[fd] = [0, 0]
        self._paths[fd] = path
        return fd

    def append(self, event: Event) -> int:
        """Write the event (redacted); returns the segment to pass to `done` once its batch is settled."""
        line = orjson.dumps(disk_form(event)) + b"\n"  # redacted outside the lock: callers' threads in parallel
        with self._lock:
            fd = self._current
            os.write(fd, line)
            seg = self._segments[fd]
            seg[0] += 1
            seg[1] += 1
            if seg[0] >= self.segment_events:
                self._current = self._open()
        return fd

    def done(self, fds: Iterable[int]) -> None:
        """These events' batches are settled (acked, rejected or spooled)."""
        with self._lock:
            for fd in fds:
                seg = self._segments[fd]
                seg[1] -= 1
                if seg[1] == 0 and fd != self._current:
                    self._drop(fd)

    def _drop(self, fd: int) -> None:
        self._paths.pop(fd).unlink(missing_ok=True)
        del self._segments[fd]
        os.close(fd)  # closing releases the lock

    def close(self) -> None:
        """Delete every fully settled segment; keep (and unlock) the others for the next client."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        for fd in list(self._segments):
            if self._segments[fd][1] == 0:
                self._drop(fd)
            else:
                del self._segments[fd], self._paths[fd]
                os.close(fd)

    @staticmethod
    def recover(folder: Path) -> list[Path]:
        """Segments of dead writers, renamed to spool batches; returns the new batch paths."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): no write-ahead log could have been written here
            return []

        out = []
        for path in sorted(folder.glob("wal-*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # its writer finished with it meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live client writes it
                os.close(fd)
                continue
            try:
                if os.fstat(fd).st_size and path.exists():
                    target = folder / f"batch-{path.stem[4:]}-wal.jsonl"
                    path.replace(target)
                    out.append(target)
                else:
                    path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return out
