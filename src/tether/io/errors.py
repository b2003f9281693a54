"""Input errors that name the file, the line and the key."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


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


class InputError(ValueError):
    """Bad input: carries the file, line and key at fault."""

    def __init__(self, bad: BadLine) -> None:
        super().__init__(str(bad))
        self.bad = bad

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
