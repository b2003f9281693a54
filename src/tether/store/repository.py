"""The Store: typed records in, typed records out; one transaction per import."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.orm import aliased

from tether.comparison_fields import ComparisonFields
from tether.records import (
    Comparison,
    PreferencePair,
    Rater,
    RaterProfile,
    content_hash,
)
from tether.store.bulk import StagedLoader, WriteResult, datetime_param, insert_ignore, json_param
from tether.store.bulk import aware as _aware
from tether.store.bulk import chunks as _chunks
from tether.store.engine import make_engine, upgrade
from tether.store.event_store import EventStore
from tether.store.loop_repo import LoopState
from tether.store.models import (
    Base,
    ComparisonRow,
    EventRow,
    PreferencePairRow,
    PreferenceSetRow,
    PromptRow,
    RaterProfileRow,
    RaterRow,
    ResponseRow,
)
from tether.store.ratings_repo import RatingStore
from tether.store.registry import StageResults

CHUNK = 5000
COMPARISON_CHUNK = 25_000  # rows staged and merged at a time (10k -> 25k: 1.3x rows/s at 1M, peak RSS < 500 MB)
SMALL_WRITE = 1000  # up to this many comparisons, add_comparisons inserts directly (no staging)
KNOWN_IDS_MAX = 1 << 19  # ids remembered per table across chunks (~60 MB each at most): memory stays bounded
Conn = Connection  # the transaction handle a stage holds and passes back to store functions, never looks into

_COMPARISON_TABLE = ComparisonRow.__table__
_PROMPTS = PromptRow.__table__
_RESPONSES = ResponseRow.__table__
_RATERS = RaterRow.__table__
_PAIRS = PreferencePairRow.__table__
_EVENTS = EventRow.__table__

# add_comparisons loads these tables in this order (foreign keys first), with these columns.
_COMPARISON_LOAD = [
    (_PROMPTS, ("id", "text")),
    (_RESPONSES, ("id", "text")),
    (_RATERS, ("id", "attributes", "created_at")),
    (_COMPARISON_TABLE, (
        "dedup_key", "pair_id", "prompt_id", "response_a_id", "response_b_id", "shown_first", "choice",
        "rater_id", "objective", "task_type", "confidence", "campaign", "interface", "rubric_version",
        "created_at", "stored_at", "extra",
    )),
]


class Store(StageResults, LoopState, EventStore, RatingStore):
    """Access to a Tether database (SQLite embedded by default, PostgreSQL by URL)."""

    def __init__(self, url: str, *, migrate: bool = True, durable: bool = False) -> None:
        """`durable`: on SQLite, fsync every commit (synchronous=FULL), so a commit survives power loss, not only
        a crash of the process (the default, synchronous=NORMAL in WAL mode, may lose the last commits then)."""
        self.url = url
        self.engine: Engine = make_engine(url, durable=durable)
        self._write_lock = threading.RLock()
        if migrate:
            upgrade(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """`transaction()` holding this store's write lock on SQLite: writers queue here instead of sleeping in
        SQLite's busy handler (slow tails). PostgreSQL needs none (issuance serializes on the campaign row)."""
        lock = self._write_lock if self.dialect == "sqlite" else contextlib.nullcontext()
        with lock, self.transaction() as conn:
            yield conn

    @contextlib.contextmanager
    def _bulk_transaction(self) -> Iterator[Connection]:
        """`transaction()` for an import that writes the texts and raters each row refers to before the row, in
        the same transaction. On SQLite, foreign keys are not checked row by row there (a third of the database's
        time): the import's own order guarantees them, and nothing else can write while it holds the lock."""
        if self.dialect != "sqlite":
            with self.transaction() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before it opens
            try:
                with conn.begin():
                    yield conn
            finally:
                raw.execute("PRAGMA foreign_keys=ON")

    def connect(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for reads (nothing is committed)."""
        return self.engine.connect()

    def _count(self, conn: Connection, table) -> int:  # noqa: ANN001
        return conn.execute(select(func.count()).select_from(table)).scalar_one()

    # -- comparisons -------------------------------------------------------------------

    def add_comparisons(
        self,
        comparisons: Iterable[Comparison | ComparisonFields],
        *,
        conn: Connection | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> WriteResult:
        """Store comparisons; a judgment already stored (same dedup key) is kept once.

        Streams: memory holds two chunks at a time, whatever the number of comparisons.
        """
        # a small write (one rater's judgments) goes straight in; the bulk path pays off for imports
        comparisons = iter(comparisons)
        head = list(itertools.islice(comparisons, SMALL_WRITE + 1))
        staged = len(head) > SMALL_WRITE
        if conn is None:
            with self._bulk_transaction() if staged else self.transaction() as c:
                return self.add_comparisons(itertools.chain(head, comparisons), conn=c, on_chunk=on_chunk)
        now = datetime.now(UTC)
        as_datetime = datetime_param(conn)
        stored_at = as_datetime(now)
        seen = 0
        # Into an empty table PostgreSQL builds the secondary indexes (and foreign keys) after the load; SQLite keeps
        # them live: its writer thread waits on the parser, and maintaining them there is cheaper than a rebuild after
        defer = ["comparisons"] if self.dialect == "postgresql" else []
        with StagedLoader(conn, _COMPARISON_LOAD, staged=staged, defer=defer) as loader:
            # ids this call already staged, per table: a text or rater repeated across chunks is sent once
            sent_prompts: set[str] = set()
            sent_responses: set[str] = set()
            sent_raters: set[str] = set()
            prompts: list[tuple[str, str]] = []
            responses: list[tuple[str, str]] = []
            raters: list[tuple[Any, ...]] = []
            rows: list[tuple[Any, ...]] = []

            def flush() -> None:
                nonlocal prompts, responses, raters, rows, seen
                loader.load({"prompts": prompts, "responses": responses, "raters": raters, "comparisons": rows})
                seen += len(rows)
                if on_chunk:
                    on_chunk(len(rows))
                prompts, responses, raters, rows = [], [], [], []
                for sent in (sent_prompts, sent_responses, sent_raters):
                    if len(sent) > KNOWN_IDS_MAX:  # forget, so memory stays bounded (costs a re-send)
                        sent.clear()

            # each comparison becomes plain tuples at once, so no chunk of records is kept alive
            for c in itertools.chain(head, comparisons):
                if type(c) is not ComparisonFields:
                    c = ComparisonFields.of(c)
                pid, aid, bid = content_hash(c.prompt), content_hash(c.response_a), content_hash(c.response_b)
                if pid not in sent_prompts:
                    sent_prompts.add(pid)
                    prompts.append((pid, c.prompt))
                if aid not in sent_responses:
                    sent_responses.add(aid)
                    responses.append((aid, c.response_a))
                if bid not in sent_responses:
                    sent_responses.add(bid)
                    responses.append((bid, c.response_b))
                if c.rater not in sent_raters:
                    sent_raters.add(c.rater)
                    raters.append((c.rater, "{}", stored_at))
                created, extra = c.created_at, c.extra
                rows.append((
                    c.dedup_key(), c.pair_id, pid, aid, bid, c.shown_first, c.choice, c.rater,
                    c.objective, c.task_type, c.confidence, c.campaign, c.interface, c.rubric_version,
                    None if created is None else as_datetime(created), stored_at,
                    json_param(extra) if extra else None,
                ))
                if len(rows) >= COMPARISON_CHUNK:
                    flush()
            if rows:
                flush()
            stored = loader.finish()["comparisons"]
        return WriteResult(stored=stored, duplicates=seen - stored)

    def iter_comparisons(
        self,
        *,
        objective: str | None = None,
        task_type: str | None = None,
        campaign: str | None = None,
        rater: str | None = None,
        batch: int = 2000,
    ) -> Iterator[Comparison]:
        """Stream stored comparisons in storage order (bounded memory)."""
        stmt = comparisons_select().order_by(ComparisonRow.id)
        for col, value in (
            (ComparisonRow.objective, objective),
            (ComparisonRow.task_type, task_type),
            (ComparisonRow.campaign, campaign),
            (ComparisonRow.rater_id, rater),
        ):
            if value is not None:
                stmt = stmt.where(col == value)
        for row in self._paged(stmt, ComparisonRow.id, batch):
            yield comparison_from_row(row, row._prompt, row._a, row._b)

    def _paged(self, stmt: Any, id_col: Any, batch: int) -> Iterator[Any]:
        """Rows of `stmt` (ordered by `id_col`) fetched page by page, each page on a short connection.

        Keyset pages instead of one server-side cursor: a caller that stops early holds no
        connection or transaction open (on PostgreSQL that would block later DDL).
        """
        last = None
        while True:
            page_stmt = stmt if last is None else stmt.where(id_col > last)
            with self.engine.connect() as conn:
                rows = conn.execute(page_stmt.limit(batch)).all()
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].id

    def count_comparisons(self) -> int:
        with self.engine.connect() as conn:
            return self._count(conn, _COMPARISON_TABLE)

    # -- preference pairs --------------------------------------------------------------

    def preference_set_id(self, conn: Connection, name: str, *, create: bool = True) -> int | None:
        sid = conn.execute(select(PreferenceSetRow.id).where(PreferenceSetRow.name == name)).scalar()
        if sid is None and create:
            insert_ignore(conn, PreferenceSetRow.__table__, [{"name": name, "description": "",
                                                                "created_at": datetime.now(UTC)}])
            sid = conn.execute(select(PreferenceSetRow.id).where(PreferenceSetRow.name == name)).scalar()
        return sid

    def add_pairs(
        self,
        pairs: Iterable[PreferencePair],
        *,
        set_name: str = "default",
        replace: bool = False,
        conn: Connection | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> WriteResult:
        """Store preference pairs in the named set; the same pair twice is kept once."""
        if conn is None:
            with self.transaction() as c:
                return self.add_pairs(pairs, set_name=set_name, replace=replace, conn=c, on_chunk=on_chunk)
        sid = self.preference_set_id(conn, set_name)
        if replace:
            conn.execute(delete(PreferencePairRow).where(PreferencePairRow.set_id == sid))
        seen = stored = 0
        for chunk in _chunks(pairs, CHUNK):
            prompts: dict[str, str] = {}
            responses: dict[str, str] = {}
            rows = []
            for p in chunk:
                pid, cid, rid = content_hash(p.prompt), content_hash(p.chosen), content_hash(p.rejected)
                prompts[pid] = p.prompt
                responses[cid] = p.chosen
                responses[rid] = p.rejected
                rows.append(
                    {
                        "set_id": sid,
                        "dedup_key": p.dedup_key(),
                        "prompt_id": pid,
                        "chosen_id": cid,
                        "rejected_id": rid,
                        "weight": p.weight,
                        "p_chosen": p.p_chosen,
                        "tie": p.tie,
                        "objective": p.objective,
                        "provenance": p.provenance or None,
                        "extra": p.model_extra or None,
                    }
                )
            insert_ignore(conn, _PROMPTS, [{"id": k, "text": v} for k, v in prompts.items()])
            insert_ignore(conn, _RESPONSES, [{"id": k, "text": v} for k, v in responses.items()])
            stored += insert_ignore(conn, _PAIRS, rows)  # rows really inserted: no full-table COUNT
            seen += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
        return WriteResult(stored=stored, duplicates=seen - stored)

    def iter_pairs(self, *, set_name: str | None = None, objective: str | None = None,
                   batch: int = 2000) -> Iterator[PreferencePair]:
        """Stream stored preference pairs (all sets, or one)."""
        rc, rr = aliased(ResponseRow), aliased(ResponseRow)
        stmt = (
            select(_PAIRS, PromptRow.text.label("_prompt"), rc.text.label("_chosen"), rr.text.label("_rejected"))
            .join(PromptRow, PromptRow.id == PreferencePairRow.prompt_id)
            .join(rc, rc.id == PreferencePairRow.chosen_id)
            .join(rr, rr.id == PreferencePairRow.rejected_id)
            .order_by(PreferencePairRow.id)
        )
        if set_name is not None:
            stmt = stmt.join(PreferenceSetRow, PreferenceSetRow.id == PreferencePairRow.set_id).where(
                PreferenceSetRow.name == set_name
            )
        if objective is not None:
            stmt = stmt.where(PreferencePairRow.objective == objective)
        for row in self._paged(stmt, PreferencePairRow.id, batch):
            yield PreferencePair.model_validate(
                {
                    **(row.extra or {}),
                    "prompt": row._prompt,
                    "chosen": row._chosen,
                    "rejected": row._rejected,
                    "weight": row.weight,
                    "p_chosen": row.p_chosen,
                    "tie": row.tie,
                    "objective": row.objective,
                    "provenance": row.provenance or {},
                }
            )

    def preference_sets(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(PreferenceSetRow.name).order_by(PreferenceSetRow.id)).scalars())

    # -- raters ------------------------------------------------------------------------

    def upsert_raters(self, raters: Iterable[Rater]) -> int:
        """Insert raters or update the attributes of those already known."""
        n = 0
        with self.transaction() as conn:
            for r in raters:
                existing = conn.execute(select(RaterRow.id).where(RaterRow.id == r.id)).scalar()
                values = {"name": r.name, "attributes": {**r.attributes, **r.extras}}
                if existing is None:
                    conn.execute(_RATERS.insert(), [{"id": r.id, "created_at": datetime.now(UTC), **values}])
                else:
                    conn.execute(_RATERS.update().where(_RATERS.c.id == r.id).values(**values))
                n += 1
        return n

    def raters(self) -> list[Rater]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_RATERS).order_by(RaterRow.id)).all()
            return [Rater(id=r.id, name=r.name, attributes=r.attributes or {}) for r in rows]

    def save_profile(self, profile: RaterProfile) -> None:
        with self.transaction() as conn:
            conn.execute(delete(RaterProfileRow).where(RaterProfileRow.name == profile.name))
            conn.execute(
                RaterProfileRow.__table__.insert(),
                [{"name": profile.name, "description": profile.description,
                  "attributes": profile.attributes, "created_at": datetime.now(UTC)}],
            )

    # -- summary -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts by objective, task type, rater and campaign, plus table totals."""
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            out["comparisons"] = self._count(conn, _COMPARISON_TABLE)
            out["pairs"] = conn.execute(select(func.count(func.distinct(ComparisonRow.pair_id)))).scalar_one()
            out["raters"] = conn.execute(
                select(func.count(func.distinct(ComparisonRow.rater_id)))
            ).scalar_one()
            for key, col in (
                ("by_objective", ComparisonRow.objective),
                ("by_task_type", ComparisonRow.task_type),
                ("by_rater", ComparisonRow.rater_id),
                ("by_campaign", ComparisonRow.campaign),
            ):
                rows = conn.execute(
                    select(col, func.count(), func.count(func.distinct(ComparisonRow.pair_id)))
                    .group_by(col)
                    .order_by(col)
                ).all()
                out[key] = {
                    ("(none)" if k is None else str(k)): {"comparisons": n, "pairs": p} for k, n, p in rows
                }
            out["preference_sets"] = {
                name: n
                for name, n in conn.execute(
                    select(PreferenceSetRow.name, func.count(PreferencePairRow.id))
                    .join(PreferencePairRow, PreferencePairRow.set_id == PreferenceSetRow.id, isouter=True)
                    .group_by(PreferenceSetRow.name)
                    .order_by(PreferenceSetRow.name)
                ).all()
            }
            out["events"] = dict(conn.execute(select(EventRow.type, func.count()).group_by(EventRow.type)).all())
        return out

    def drop_all(self) -> None:
        """Remove every table (tests and `tether init --force` only)."""
        Base.metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def comparisons_select() -> Any:
    """Comparison rows with their texts (`_prompt`, `_a`, `_b`): filter, order, then `comparison_from_row`."""
    ra, rb = aliased(ResponseRow), aliased(ResponseRow)
    return (select(_COMPARISON_TABLE, PromptRow.text.label("_prompt"), ra.text.label("_a"), rb.text.label("_b"))
            .join(PromptRow, PromptRow.id == ComparisonRow.prompt_id)
            .join(ra, ra.id == ComparisonRow.response_a_id)
            .join(rb, rb.id == ComparisonRow.response_b_id))


def comparison_from_row(row: Any, prompt: str, a: str, b: str) -> Comparison:
    data: dict[str, Any] = dict(row.extra or {})
    data.update(
        prompt=prompt,
        response_a=a,
        response_b=b,
        shown_first=row.shown_first,
        choice=row.choice,
        rater=row.rater_id,
        pair_id=row.pair_id,
        objective=row.objective,
        task_type=row.task_type,
        confidence=row.confidence,
        campaign=row.campaign,
        interface=row.interface,
        rubric_version=row.rubric_version,
        created_at=_aware(row.created_at),
    )
    return Comparison.model_validate(data)
