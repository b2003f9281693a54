"""What every stage's commands share: one error line with a hint, the project's store.

Stage CLIs import this, never `tether.cli` (which loads them), so no command module sits in a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from tether.config import ConfigError, find_project
from tether.console import console

if TYPE_CHECKING:
    from tether.store import Store


def fail(message: str, hint: str | None = None, code: int = 2) -> typer.Exit:
    """Print one readable error line (and what to do next); return the Exit to raise."""
    # soft_wrap: paths and keys stay on one line, whole and copyable
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    if hint:
        console.print(f"  {hint}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def open_store() -> Store:
    """The store of the project around the current folder; a config error is one error line."""
    try:
        return find_project().store()
    except ConfigError as exc:
        raise fail(str(exc)) from None
