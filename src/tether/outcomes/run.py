"""Run a file of code samples through the sandbox into a JSONL of outcomes, resuming where a run stopped."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tether.io import InputError
from tether.io.errors import BadLine
from tether.outcomes.programs import Sample, read_samples
from tether.outcomes.sandbox import Sandbox
from tether.records import Outcome, OutcomeKind


@dataclass
class RunSummary:
    """What a run did: samples in the file, run now, skipped as already in the output, and statuses."""

    total: int
    run: int
    skipped: int
    statuses: dict[str, int]
    seconds: float


def outcome_row(sample: Sample, result) -> dict:  # noqa: ANN001 - a sandbox RunResult
    row = {"task_id": sample.task_id, "sample": sample.index, "passed": result.passed, "status": result.status,
           "reason": result.reason, "seconds": round(result.seconds, 4)}
    if sample.trace_id is not None:
        row["trace_id"] = sample.trace_id
    return row


def outcomes_of_rows(rows: Iterable[dict], source: str) -> list[Outcome]:
    """Outcome rows of a run as stored outcomes: `tests_passed` 1/0, id `<source>/<task_id>/<sample>` (storing
    a file twice stores each once), joined to the generation by the sample's trace_id where it had one."""
    now = datetime.now(UTC)
    return [Outcome(outcome_id=f"{source}/{r['task_id']}/{r['sample']}", name="tests_passed",
                    value=1 if r["passed"] else 0, kind=OutcomeKind.BINARY, source=source,
                    trace_id=r.get("trace_id"), observed_at=now,
                    attributes={k: r[k] for k in ("task_id", "sample", "status", "reason", "seconds")})
            for r in rows]


def read_done(out: Path) -> set[tuple[str, int]]:
    """(task_id, sample) already in an output file. A last line cut short by a crash is dropped from the file;
    a bad line elsewhere is an InputError (the file is not an outcomes file of this command)."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1].strip():  # no newline at the end: the write was interrupted
        try:
            json.loads(lines[-1])
        except ValueError:
            with open(out, "r+b") as f:
                f.truncate(len(data) - len(lines[-1]))
            lines = lines[:-1]
    done = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            done.add((str(row["task_id"]), int(row["sample"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(BadLine(str(out), number, None, f"not an outcome line of `tether outcomes run` ({exc}); "
                                                             "give another -o or remove the file")) from None
    return done


def run_samples(samples: Path, out: Path, sandbox: Sandbox, *, limit: int | None = None, truncate: bool = False,
                progress: Callable[[int], AbstractContextManager[Callable[[int], None]]] | None = None
                ) -> RunSummary:
    """Run every sample of `samples` (the first `limit` only, if given) not already in `out`, appending one
    outcome per sample as it finishes (flushed, so a killed run loses at most the samples in flight).
    `progress(total)` gives a context yielding `advance(n)` (a progress bar)."""
    import time

    start = time.monotonic()
    todo = list(read_samples(samples, truncate=truncate))[:limit]
    keys = [(s.task_id, s.index) for s in todo]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InputError(BadLine(str(samples), 0, "sample", f"task {dup[0]!r} has sample index {dup[1]} twice"))
    done = read_done(out)
    pending = [s for s in todo if (s.task_id, s.index) not in done]
    statuses: dict[str, int] = {}
    bar = progress(len(pending)) if progress else contextlib.nullcontext(lambda _n: None)
    with open(out, "a", encoding="utf-8") as f, bar as advance:
        for sample, result in sandbox.run_many((s, s.program) for s in pending):
            f.write(json.dumps(outcome_row(sample, result)) + "\n")
            f.flush()
            statuses[result.status] = statuses.get(result.status, 0) + 1
            advance(1)
        os.fsync(f.fileno())
    return RunSummary(len(todo), len(pending), len(todo) - len(pending), statuses, time.monotonic() - start)


def read_outcomes(out: Path) -> list[dict]:
    """The outcome rows of an output file."""
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
