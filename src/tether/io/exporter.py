"""Export driver: stream records out of the store in a chosen kind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tether.io.formats import get_format
from tether.store import Store


def export_file(store: Store, kind: str, path: Path, **options: Any) -> int:
    """Write stored records of `kind` to `path`; returns the number written.

    Atomic: the records go to a temporary file beside `path` that replaces it only once all are written, so a
    failure leaves the previous file (or none), never a truncated one."""
    fmt = get_format(kind)
    if fmt.writer is None:
        raise ValueError(f"kind {kind!r} can be imported but not exported")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")  # same suffix: .gz stays gzip
    try:
        n = fmt.writer(store, partial, **options)
        if partial.is_dir():  # a saved Hugging Face dataset is a folder
            from tether.io.hf import replace_output

            replace_output(partial, path)
        else:
            os.replace(partial, path)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial)
        else:
            partial.unlink(missing_ok=True)
    return n
