"""The registry of import/export kinds (`tether import KIND FILE`, `tether export KIND FILE`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tether.io.errors import BadLine

Target = Literal["comparisons", "ratings", "pairs", "events"]
ReadFn = Callable[..., Iterator[tuple[int, Any] | BadLine]]
WriteFn = Callable[..., int]


@dataclass(frozen=True)
class Format:
    """One interchange kind: what it holds, and how to read and write it."""

    name: str
    target: Target
    description: str
    reader: ReadFn | None = None
    writer: WriteFn | None = None  # writer(store, path, **options) -> rows written
    folders: bool = False  # the reader also takes a folder (PRD's tree of rating files)
    import_reader: ReadFn | None = None  # what `import_file` reads with, when faster than `reader` (same lines)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    """Look up a kind; an unknown one names the known kinds."""
    from tether import io as _io  # noqa: F401 - registers every built-in kind

    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; known kinds: {', '.join(sorted(FORMATS))}") from None


def input_size(path: Path) -> int:
    """Bytes to read, for progress bars (a folder counts all its files)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def check_input(fmt: Format, path: Path) -> None:
    """The input exists and is what the kind reads: FileNotFoundError or ValueError naming it otherwise."""
    from tether.io.jsonl import check_file

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        if fmt.folders:
            return
        takers = ", ".join(sorted(f.name for f in FORMATS.values() if f.folders))
        raise ValueError(f"{path}: is a folder; kind {fmt.name!r} reads one file (a folder: {takers})")
    check_file(path)


_TARGET_NOUN = {"comparisons": "comparisons", "ratings": "ratings", "pairs": "preference pairs", "events": "events"}


def read_kind(kind: str, path: Path, target: Target) -> Iterator[Any]:
    """Records of a file of `kind` that must hold `target`; the first bad line raises InputError."""
    from tether.io.errors import InputError

    fmt = get_format(kind)
    if fmt.target != target or fmt.reader is None:
        raise ValueError(f"kind {kind!r} does not hold {_TARGET_NOUN[target]}")
    check_input(fmt, Path(path))
    for item in fmt.reader(Path(path)):
        if isinstance(item, BadLine):
            raise InputError(item)
        if isinstance(item, tuple):  # not a Skipped item
            yield item[1]


def read_records(target: Target, store: Any = None, path: Path | None = None, kind: str | None = None,
                 **filters: Any) -> Iterator[Any]:
    """Records of `target` from a file of `kind` (default: the v1 kind), or from `store` when no file is given;
    `filters` (objective, task_type, campaign, set_name, project, ...) apply to either source alike."""
    if path is None:
        reader = {"comparisons": store.iter_comparisons, "ratings": store.iter_ratings, "pairs": store.iter_pairs,
                  "events": store.iter_events}
        yield from reader[target](**{k: v for k, v in filters.items() if v is not None})
        return
    wanted = {k: v for k, v in filters.items() if v is not None and k not in ("set_name", "project")}
    for record in read_kind(kind or target, path, target):
        if all(getattr(record, k, None) == v for k, v in wanted.items()):
            yield record
