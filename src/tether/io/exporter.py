"""Export driver: stream records out of the store in a chosen kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tether.io.formats import get_format
from tether.store import Store


def export_file(store: Store, kind: str, path: Path, **options: Any) -> int:
    """Write stored records of `kind` to `path`; returns the number written."""
    fmt = get_format(kind)
    if fmt.writer is None:
        raise ValueError(f"kind {kind!r} can be imported but not exported")
    return fmt.writer(store, Path(path), **options)
