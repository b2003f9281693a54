"""The loaders `import_throughput.py` times, each run in its own child process: tether's real import path and the
peers it is measured against (the naive ORM `add_all`, SQLAlchemy 2's bulk insert, the raw driver with and without
writes overlapped in a thread)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as fh:
        for line in fh:
            yield orjson.loads(line)


def load_tether(url: str, path: Path) -> dict[str, Any]:
    """The real path: what `tether import comparisons FILE` runs."""
    from tether.io import import_file
    from tether.store import Store

    store = Store(url)
    t0 = time.perf_counter()
    report = import_file(store, "comparisons", path)
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds, "stored": report.stored, "duplicates": report.duplicates}


def load_orm(url: str, path: Path) -> dict[str, Any]:
    """Naive peer: validate with the same records, then ORM `session.add_all` of mapped objects."""
    from sqlalchemy.orm import Session

    from tether.records import Comparison, content_hash
    from tether.store import Store
    from tether.store.models import ComparisonRow, PromptRow, RaterRow, ResponseRow

    store = Store(url)
    t0 = time.perf_counter()
    seen_texts: set[tuple[str, str]] = set()  # (table, id): rows already added this run
    seen_keys: set[str] = set()
    stored = 0
    with Session(store.engine) as session, session.begin():
        texts: list[Any] = []
        batch: list[Any] = []
        for obj in _lines(path):
            c = Comparison.model_validate(obj)
            key = c.dedup_key()
            if key in seen_keys:  # a naive loader still has to skip repeats, or the unique key fails
                continue
            seen_keys.add(key)
            ids = []
            for text, cls in ((c.prompt, PromptRow), (c.response_a, ResponseRow), (c.response_b, ResponseRow)):
                tid = content_hash(text)
                ids.append(tid)
                if (cls.__name__, tid) not in seen_texts:
                    seen_texts.add((cls.__name__, tid))
                    texts.append(cls(id=tid, text=text))
            if ("rater", c.rater) not in seen_texts:
                seen_texts.add(("rater", c.rater))
                texts.append(RaterRow(id=c.rater, attributes={}))
            batch.append(
                ComparisonRow(
                    dedup_key=key, pair_id=c.pair_id, prompt_id=ids[0], response_a_id=ids[1],
                    response_b_id=ids[2], shown_first=c.shown_first.value, choice=c.choice.value,
                    rater_id=c.rater, objective=c.objective, task_type=c.task_type, confidence=c.confidence,
                    campaign=c.campaign, interface=c.interface, rubric_version=c.rubric_version,
                    created_at=c.created_at, extra=c.model_extra or None,
                )
            )
            stored += 1
            if len(batch) >= 5000:
                # no relationship() in the models, so the unit of work needs the referenced rows flushed first
                session.add_all(texts)
                session.flush()
                session.add_all(batch)
                session.flush()
                session.expunge_all()  # the naive loader's one concession to memory
                texts, batch = [], []
        session.add_all(texts)
        session.flush()
        session.add_all(batch)
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds, "stored": stored, "duplicates": None}


def load_sa_bulk(url: str, path: Path) -> dict[str, Any]:
    """Peer: the same validation, then SQLAlchemy 2's own bulk path, `session.execute(insert(Model), rows)`."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from tether.records import Comparison, content_hash
    from tether.store import Store
    from tether.store.models import ComparisonRow, PromptRow, RaterRow, ResponseRow

    store = Store(url)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    seen: set[str] = set()  # ids and dedup keys already sent: plain INSERTs into a fresh database
    stored = 0
    with Session(store.engine) as session, session.begin():
        prompts: list[dict] = []
        responses: list[dict] = []
        raters: list[dict] = []
        rows: list[dict] = []

        def flush() -> None:
            for model, batch in ((PromptRow, prompts), (ResponseRow, responses), (RaterRow, raters),
                                 (ComparisonRow, rows)):
                if batch:
                    session.execute(insert(model), batch)
                    batch.clear()

        for obj in _lines(path):
            c = Comparison.model_validate(obj)
            key = c.dedup_key()
            if key in seen:
                continue
            seen.add(key)
            pid, aid, bid = content_hash(c.prompt), content_hash(c.response_a), content_hash(c.response_b)
            for tid, text, batch in ((pid, c.prompt, prompts), (aid, c.response_a, responses),
                                     (bid, c.response_b, responses)):
                if ("t", tid, batch is prompts) not in seen:
                    seen.add(("t", tid, batch is prompts))
                    batch.append({"id": tid, "text": text})
            if ("r", c.rater) not in seen:
                seen.add(("r", c.rater))
                raters.append({"id": c.rater, "attributes": {}, "created_at": now})
            rows.append({"dedup_key": key, "pair_id": c.pair_id, "prompt_id": pid, "response_a_id": aid,
                         "response_b_id": bid, "shown_first": c.shown_first.value, "choice": c.choice.value,
                         "rater_id": c.rater, "objective": c.objective, "task_type": c.task_type,
                         "confidence": c.confidence, "campaign": c.campaign, "interface": c.interface,
                         "rubric_version": c.rubric_version, "created_at": c.created_at, "stored_at": now,
                         "extra": c.model_extra or None})
            stored += 1
            if len(rows) >= 5000:
                flush()
        flush()
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds, "stored": stored, "duplicates": None}


def load_raw_overlap(url: str, path: Path) -> dict[str, Any]:
    """Peer: the raw driver loop of `load_raw`, with the writes in a second thread overlapping the parsing."""
    import queue
    import threading

    from tether.store import Store

    Store(url).close()
    now = datetime.now(UTC).isoformat()
    raters = [(f"rater-{i:03d}", "{}", now) for i in range(50)]
    batches: queue.Queue = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    t0 = time.perf_counter()
    if url.startswith("sqlite:///"):
        import sqlite3

        db = sqlite3.connect(url[len("sqlite:///") :], check_same_thread=False)

        def write(batch: list) -> None:
            _insert_batch(db, batch)

        db.execute("BEGIN")
        db.executemany("INSERT INTO raters (id, attributes, created_at) VALUES (?, ?, ?)", raters)
        finish = db.commit
    else:
        import psycopg

        db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        cur = db.cursor()

        def write(batch: list) -> None:
            _copy_batch(cur, batch)

        cur.executemany("INSERT INTO raters (id, attributes, created_at) VALUES (%s, %s, %s)", raters)
        finish = db.commit

    def writer() -> None:
        while (batch := batches.get()) is not None:
            if not errors:
                try:
                    write(batch)
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    stored = 0
    for batch in _batched(_raw_rows(path, now), 5000):
        batches.put(batch)
        stored += len(batch)
    batches.put(None)
    thread.join()
    if errors:
        raise errors[0]
    finish()
    db.close()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "stored": stored, "duplicates": None}


def _raw_rows(path: Path, now: str) -> Iterator[tuple[list[tuple], list[tuple], tuple]]:
    """Parsed lines as (new prompts, new responses, comparison row): content ids, no validation."""
    from tether.records import content_hash

    seen: set[str] = set()
    for obj in _lines(path):
        pid, aid, bid = content_hash(obj["prompt"]), content_hash(obj["response_a"]), content_hash(obj["response_b"])
        pair_id = content_hash(obj["prompt"], obj["response_a"], obj["response_b"])
        key = content_hash(pair_id, obj["rater"], obj["objective"], obj["shown_first"], obj["campaign"],
                           obj["interface"], obj["rubric_version"], obj["created_at"])
        if key in seen:  # COPY cannot skip conflicts: repeats are dropped here
            continue
        prompts = [] if pid in seen else [(pid, obj["prompt"])]
        responses = [(t, obj[k]) for t, k in ((aid, "response_a"), (bid, "response_b")) if t not in seen]
        if aid == bid:
            responses = responses[:1]
        seen.update((key, pid, aid, bid))
        extra = orjson.dumps({k: v for k, v in obj.items() if k not in _V1_KEYS}).decode()
        yield prompts, responses, (
            key, pair_id, pid, aid, bid, obj["shown_first"], obj["choice"], obj["rater"], obj["objective"],
            obj["task_type"], obj["confidence"], obj["campaign"], obj["interface"], obj["rubric_version"],
            obj["created_at"], now, extra,
        )


_V1_KEYS = {"prompt", "response_a", "response_b", "shown_first", "choice", "rater", "pair_id", "objective",
            "task_type", "confidence", "campaign", "interface", "rubric_version", "created_at"}
_COLS = ("dedup_key, pair_id, prompt_id, response_a_id, response_b_id, shown_first, choice, rater_id, objective, "
         "task_type, confidence, campaign, interface, rubric_version, created_at, stored_at, extra")


def _insert_batch(db: Any, batch: list) -> None:
    """One batch of `_raw_rows` into the tables with sqlite3 `executemany`."""
    db.executemany("INSERT INTO prompts VALUES (?, ?)", [t for b in batch for t in b[0]])
    db.executemany("INSERT INTO responses VALUES (?, ?)", [t for b in batch for t in b[1]])
    db.executemany(f"INSERT INTO comparisons ({_COLS}) VALUES ({', '.join('?' * 17)})", [b[2] for b in batch])


def _copy_batch(cur: Any, batch: list) -> None:
    """One batch of `_raw_rows` into the tables with psycopg `COPY`."""
    for table, rows in (("prompts", [t for b in batch for t in b[0]]), ("responses", [t for b in batch for t in b[1]])):
        with cur.copy(f"COPY {table} (id, text) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
    with cur.copy(f"COPY comparisons ({_COLS}) FROM STDIN") as cp:
        for row in batch:
            cp.write_row(row[2])


def load_raw(url: str, path: Path) -> dict[str, Any]:
    """Ceiling: driver bulk load of the same rows (sqlite3 executemany / psycopg COPY), no validation."""
    from tether.store import Store

    Store(url).close()  # the same schema, created by the same migrations
    now = datetime.now(UTC).isoformat()
    raters = [(f"rater-{i:03d}", "{}", now) for i in range(50)]
    stored = 0
    t0 = time.perf_counter()
    if url.startswith("sqlite:///"):
        import sqlite3

        db = sqlite3.connect(url[len("sqlite:///") :])
        with db:
            db.executemany("INSERT INTO raters (id, attributes, created_at) VALUES (?, ?, ?)", raters)
            for batch in _batched(_raw_rows(path, now), 5000):
                _insert_batch(db, batch)
                stored += len(batch)
        db.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db, db.cursor() as cur:
            cur.executemany("INSERT INTO raters (id, attributes, created_at) VALUES (%s, %s, %s)", raters)
            for batch in _batched(_raw_rows(path, now), 5000):  # one COPY at a time per connection
                _copy_batch(cur, batch)
                stored += len(batch)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "stored": stored, "duplicates": None}


def _batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


LOADERS = {"tether": load_tether, "orm": load_orm, "raw": load_raw, "sa_bulk": load_sa_bulk,
           "raw_overlap": load_raw_overlap}
