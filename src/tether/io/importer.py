"""Import driver: transactional, idempotent, with `--skip-bad` side files and progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tether.io.errors import MAX_LISTED, BadLine, InputError, Skipped
from tether.io.formats import check_input, get_format, input_size
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
    first_errors: list[str] = field(default_factory=list)  # up to MAX_LISTED rejected lines
    skipped: int = 0  # items left out on purpose (no usable verdict), by reason below
    skipped_reasons: dict[str, int] = field(default_factory=dict)

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
    check_event: Callable[[Event], list[str]] | None = None,
    project: str | None = None,
) -> ImportReport:
    """Import one file (or folder) of `kind` into the store, all or nothing.

    Without `skip_bad`, a bad line raises InputError and the store is left as it was; the
    rest of the file is still read, so the error lists up to MAX_LISTED bad lines and counts
    them all. Items a reader skips on purpose (PandaLM's 'garbage' verdicts) are counted in
    `skipped`. With `skip_bad`, bad lines go to that file (JSONL: file, line, key, error, raw) and the
    rest is imported. Production events pass through `transform_event` before anything is
    stored: the deploy stage's PII redactor (`tether.deploy.ingest.import_redactor`), as on the HTTP path;
    an event for which `check_event` names problems (`tether.deploy.event_rules.event_problems`) is a bad line.
    """
    fmt = get_format(kind)
    if fmt.reader is None:
        raise ValueError(f"kind {kind!r} can be exported but not imported")
    if fmt.target == "events" and transform_event is None:
        raise ValueError("importing events needs transform_event (the deploy stage's PII redactor)")
    path = Path(path)
    check_input(fmt, path)
    report = ImportReport(kind=kind, target=fmt.target, path=str(path))
    side = open(skip_bad, "wb") if skip_bad else None  # noqa: SIM115 - closed below
    if skip_bad:
        report.rejected_file = str(skip_bad)

    bad: list[BadLine] = []
    n_bad = 0

    def records() -> Iterator[Any]:
        nonlocal n_bad
        for item in (fmt.import_reader or fmt.reader)(path, on_bytes=on_bytes):
            if isinstance(item, Skipped):
                report.skipped += 1
                report.skipped_reasons[item.reason] = report.skipped_reasons.get(item.reason, 0) + 1
                continue
            if check_event is not None and not isinstance(item, BadLine):
                problems = check_event(item[1])
                if problems:  # no raw copy in the side file: the refused value may be PII
                    field = problems[0].split(":", 1)[0]
                    item = BadLine(str(path), item[0], field, "; ".join(problems))
            if isinstance(item, BadLine):
                if side is None:  # keep reading to name the others; nothing more is stored
                    n_bad += 1
                    if len(bad) < MAX_LISTED:
                        bad.append(item)
                    continue
                report.rejected += 1
                if len(report.first_errors) < MAX_LISTED:
                    report.first_errors.append(str(item))
                side.write(orjson.dumps({"file": item.file, "line": item.line, "key": item.key,
                                         "error": item.message, "raw": item.raw}) + b"\n")
                continue
            if not n_bad:
                yield item[1]
        if n_bad:  # raised inside the store's transaction: it rolls back
            raise InputError(bad[0], bad, n_bad)

    try:
        if fmt.target == "comparisons":
            result = store.add_comparisons(records())
        elif fmt.target == "ratings":
            result = store.add_ratings(records())
        elif fmt.target == "pairs":
            result = store.add_pairs(records(), set_name=set_name)
        else:
            tenant = {"project": project} if project else {}
            result = store.add_events((transform_event(e) for e in records()), **tenant)
    finally:
        if side is not None:
            side.close()
    report.stored, report.duplicates = result.stored, result.duplicates
    return report


def total_bytes(path: Path) -> int:
    return input_size(Path(path))
