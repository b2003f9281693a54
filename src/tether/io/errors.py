"""Input errors that name the file, the line and the key."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

MAX_LISTED = 20  # bad lines an import names before it gives up listing (it still counts them)


@dataclass
class BadLine:
    """One rejected input line and why."""

    file: str
    line: int
    key: str | None
    message: str
    raw: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: key {self.key!r}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class Skipped:
    """An input item left out on purpose, e.g. PandaLM's unusable 'garbage' verdicts: counted, not an error."""

    file: str
    line: int
    reason: str


class SkipItem(Exception):  # noqa: N818 - a signal from a converter, not an error
    """Raised by a record converter: leave this item out for `reason` (counted in the import report)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InputError(ValueError):
    """Bad input: carries the file, line and key at fault (the first bad line; `bad_lines` lists up to
    MAX_LISTED of them and `n_bad` counts them all when the reader went on to look for more)."""

    def __init__(self, bad: BadLine, bad_lines: list[BadLine] | None = None, n_bad: int | None = None) -> None:
        super().__init__(str(bad))
        self.bad = bad
        self.bad_lines = bad_lines or [bad]
        self.n_bad = n_bad if n_bad is not None else len(self.bad_lines)

    @property
    def file(self) -> str:
        return self.bad.file

    @property
    def line(self) -> int:
        return self.bad.line

    @property
    def key(self) -> str | None:
        return self.bad.key


def bad_from_validation(file: str, line: int, exc: ValidationError, raw: str = "") -> BadLine:
    """The first pydantic error as a BadLine naming the key."""
    err = exc.errors(include_url=False)[0]
    key = ".".join(str(p) for p in err["loc"]) or None
    msg = err["msg"]
    if err["type"] == "missing":
        msg = "missing required key"
    elif "input" in err and err["type"] not in ("value_error",):
        msg = f"{msg} (got {err['input']!r:.80})"
    return BadLine(file, line, key, msg, raw)
