"""Shared console helpers: one rich console, progress bars that stay quiet when piped."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

PIPE_WIDTH = 1000  # piped output is read by programs and people alike: whole lines, whole table cells


class TetherConsole(Console):
    """A rich console that prints user text as it is (no `:-1:` turned into an emoji) and, when its output is not
    a terminal (and COLUMNS is unset), does not wrap at 80 columns or cut table cells."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(**kwargs)
        self._fixed_width = kwargs.get("width")
        if self._fixed_width is None:
            self._width = None  # rich reads COLUMNS once, at import; `size` reads it on every print instead

    def _piped(self) -> bool:
        return self._fixed_width is None and not self.is_terminal and "COLUMNS" not in os.environ

    @property  # type: ignore[override]
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        return ConsoleDimensions(PIPE_WIDTH, dims.height) if self._piped() else dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]
        self._fixed_width = new_size[0]

    def rule(self, *args: Any, **kwargs: Any) -> None:
        """A horizontal rule, 80 wide when piped (not PIPE_WIDTH)."""
        from rich.rule import Rule

        if not self._piped():
            return super().rule(*args, **kwargs)
        self.print(Rule(*args, **kwargs), width=80)


console = TetherConsole(stderr=True)
out = TetherConsole()


@contextlib.contextmanager
def byte_progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over bytes read; yields the `advance(n)` callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


@contextlib.contextmanager
def step_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar over steps (items, epochs, iterations)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


class RedactingLogFilter(logging.Filter):
    """Rewrites a log record's message and string arguments with `redact` (uvicorn's access log prints request
    lines whole: sign-in tokens in paths, `token=` query values)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True
