"""Import driver: transactional, idempotent, with `--skip-bad` side files and progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tether.io.errors import BadLine, InputError
from tether.io.formats import get_format, input_size
from tether.records import Event
from tether.store import Store


@dataclass
class ImportReport:
    """What an import did."""

    kind: str
    target: str
    path: str
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_file: str | None = None
    first_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_file(
    store: Store,
    kind: str,
    path: Path,
    *,
    skip_bad: Path | None = None,
    set_name: str = "default",
    on_bytes: Callable[[int], None] | None = None,
    transform_event: Callable[[Event], Event] | None = None,
) -> ImportReport:
    """Import one file (or folder) of `kind` into the store, all or nothing.

    Without `skip_bad`, the first bad line raises InputError and the store is left as it
    was. With it, bad lines go to that file (JSONL: file, line, key, error, raw) and the
    rest is imported. Production events pass through `transform_event` before anything is
    stored: the deploy stage's PII redactor (`tether.deploy.ingest.import_redactor`), as on the HTTP path.
    """
    fmt = get_format(kind)
    if fmt.reader is None:
        raise ValueError(f"kind {kind!r} can be exported but not imported")
    if fmt.target == "events" and transform_event is None:
        raise ValueError("importing events needs transform_event (the deploy stage's PII redactor)")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    report = ImportReport(kind=kind, target=fmt.target, path=str(path))
    side = open(skip_bad, "wb") if skip_bad else None  # noqa: SIM115 - closed below
    if skip_bad:
        report.rejected_file = str(skip_bad)

    def records() -> Iterator[Any]:
        for item in fmt.reader(path, on_bytes=on_bytes):
            if isinstance(item, BadLine):
                if side is None:
                    raise InputError(item)
                report.rejected += 1
                if len(report.first_errors) < 5:
                    report.first_errors.append(str(item))
                side.write(orjson.dumps({"file": item.file, "line": item.line, "key": item.key,
                                         "error": item.message, "raw": item.raw}) + b"\n")
                continue
            yield item[1]

    try:
        if fmt.target == "comparisons":
            result = store.add_comparisons(records())
        elif fmt.target == "pairs":
            result = store.add_pairs(records(), set_name=set_name)
        else:
            result = store.add_events(transform_event(e) for e in records())
    finally:
        if side is not None:
            side.close()
    report.stored, report.duplicates = result.stored, result.duplicates
    return report


def total_bytes(path: Path) -> int:
    return input_size(Path(path))
