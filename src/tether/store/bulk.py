"""Dialect-aware bulk writes that ignore rows whose unique key already exists.

`insert_ignore` is the small-batch path. `StagedLoader` is the import path: each chunk is staged
into temporary tables (sqlite3 `executemany` / PostgreSQL `COPY`) and merged with one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` per table, in a background thread, so the database
merges one chunk while the caller parses and validates the next.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

# The SQLite page cache while a bulk load runs (KiB): the random-key index inserts (dedup key, pair id,
# text ids) of a big import mostly hit memory, and the import still stays well under 500 MB.
SQLITE_BULK_CACHE_KIB = 131_072


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING, executemany, on SQLite or PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # sqlite3 sums the rows each execution changed; a skipped conflict changes none
        return conn.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows)).rowcount
    if dialect == "postgresql":
        # SQLAlchemy batches this into multi-row INSERTs whose rowcount it does not sum: count RETURNING rows
        stmt = postgresql.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        return len(conn.execute(stmt, list(rows)).all())
    raise RuntimeError(f"unsupported database dialect {dialect!r}")  # pragma: no cover


def insert_ignore_tuples(conn: Connection, table: Table, cols: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """`insert_ignore` of rows already in driver form (`datetime_param`, `json_param`), straight through the
    driver's executemany: no per-value type processing by SQLAlchemy (most of a small batch's cost)."""
    if not rows:
        return 0
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    cur = conn.connection.driver_connection.cursor()  # same connection, same transaction
    try:
        cur.executemany(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
                        "ON CONFLICT DO NOTHING", rows)
        return cur.rowcount  # both drivers sum it over the rows
    finally:
        cur.close()


def datetime_param(conn: Connection) -> Callable[[datetime], Any]:
    """How a datetime is passed to the driver, exactly as SQLAlchemy would store it."""
    if conn.dialect.name == "sqlite":
        return _sqlite_datetime
    return lambda value: value  # psycopg adapts aware datetimes itself


def _sqlite_datetime(value: datetime) -> str:
    # SQLAlchemy's SQLite format "YYYY-MM-DD HH:MM:SS.ffffff" (wall time, offset dropped), 5x faster
    return value.isoformat(" ", "microseconds")[:26]


def value_columns(value: Any) -> tuple[Any, Any]:
    """(value_num, value_text): an event's or outcome's value, number or text, in its two columns."""
    return (value if isinstance(value, float | int) else None, value if isinstance(value, str) else None)


def json_param(value: Any) -> str | None:
    """A JSON column value as text: what SQLAlchemy's default serializer would store, read back the same."""
    if value is None:
        return None
    if type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        # the common import metadata (flat strings): orjson writes the same JSON 10x faster (non-ASCII as UTF-8
        # instead of \u escapes); anything else keeps json.dumps, whose NaN and type rules differ from orjson's
        return orjson.dumps(value).decode()
    return json.dumps(value)


class StagedLoader:
    """Load chunks of rows into `tables` (in that order, for foreign keys), skipping conflicts.

    Use as a context manager inside a transaction; `load` takes one chunk (rows as tuples in
    `columns` order, per table name) and `inserted` counts the rows each table really gained.
    """

    def __init__(self, conn: Connection, tables: Sequence[tuple[Table, Sequence[str]]], *,
                 staged: bool = True, defer: Sequence[str] = ()) -> None:
        """`defer`: tables whose secondary indexes (and, on PostgreSQL, foreign keys) are dropped while the load
        runs when the table is empty at the start, and built again in one pass at the end, in the same transaction."""
        self.conn = conn
        self.staged = staged  # False: plain executemany into the tables (small writes: no temp tables, no thread)
        self.defer = list(defer) if staged else []
        self._deferred: list[str] = []  # statements that rebuild what was dropped, in order
        self.dialect = conn.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):  # pragma: no cover
            raise RuntimeError(f"unsupported database dialect {self.dialect!r}")
        self.tables = [(t, list(cols)) for t, cols in tables]
        self.inserted: dict[str, int] = {t.name: 0 for t, _ in self.tables}
        self._raw = conn.connection.driver_connection  # same connection, same transaction
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tether-merge")
        self._pending: Future[None] | None = None
        self._old_cache: int | None = None

    @staticmethod
    def _stage_name(table: Table) -> str:
        return f"tether_stage_{table.name}"

    def __enter__(self) -> StagedLoader:
        if not self.staged:
            return self
        cur = self._raw.cursor()
        for table, cols in self.tables:
            stage = self._stage_name(table)
            if self.dialect == "sqlite":
                # untyped columns: values reach the real table unconverted, as a direct INSERT would
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({', '.join(cols)})")
                cur.execute(f"DELETE FROM {stage}")
            else:
                types = ", ".join(f"{c} {table.c[c].type.compile(self.conn.dialect)}" for c in cols)
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (_seq bigserial, {types}) ON COMMIT DROP")
                cur.execute(f"TRUNCATE {stage}")
        if self.dialect == "sqlite":
            self._old_cache = cur.execute("PRAGMA cache_size").fetchone()[0]
            cur.execute(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}")
        for name in self.defer:
            self._drop_deferred(cur, name)
        cur.close()
        return self

    def _drop_deferred(self, cur: Any, table: str) -> None:
        # Into an empty table, building an index once from sorted keys beats updating it row by row, and one
        # validating join beats a foreign-key check per row. Only when the drop is part of this transaction:
        # a rollback (or a crash) then restores every index and constraint.
        if cur.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
            return
        if self.dialect == "sqlite":
            if not self._raw.in_transaction:  # pragma: no cover - the staging DELETE above opened it
                return
            found = cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND "
                                "sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name", (table,)).fetchall()
            for name, sql in found:
                cur.execute(f'DROP INDEX "{name}"')
                self._deferred.append(sql)
            return
        found = cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND "
                            "tablename = %s AND indexdef NOT LIKE 'CREATE UNIQUE%%' ORDER BY indexname",
                            (table,)).fetchall()
        fks = cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND "
                          "conrelid = %s::regclass ORDER BY conname", (table,)).fetchall()
        for name, _ in fks:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, sql in found:
            cur.execute(f'DROP INDEX "{name}"')
            self._deferred.append(sql)
        self._deferred += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in fks]

    def _rebuild_deferred(self) -> None:
        cur = self._raw.cursor()
        try:
            for sql in self._deferred:
                cur.execute(sql)
        finally:
            cur.close()
        self._deferred = []

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._wait()
                self._rebuild_deferred()
            else:  # never leave a merge running on the connection; the first error is the one to report
                with contextlib.suppress(Exception):
                    self._wait()
        finally:
            self._pool.shutdown(wait=True)
            if self.staged and self.dialect == "sqlite":
                cur = self._raw.cursor()
                if self._old_cache is not None:
                    cur.execute(f"PRAGMA cache_size={self._old_cache}")
                if exc[0] is None:
                    for table, _ in self.tables:
                        cur.execute(f"DROP TABLE IF EXISTS temp.{self._stage_name(table)}")
                cur.close()

    def load(self, chunk: dict[str, Sequence[tuple[Any, ...]]]) -> None:
        """Stage one chunk, then merge it in the background (the previous merge is waited for first).

        Not staged: insert the chunk into the tables directly, before returning.
        """
        self._wait()
        cur = self._raw.cursor()
        try:
            for table, cols in self.tables:
                rows = chunk.get(table.name)
                if not rows:
                    continue
                if not self.staged:
                    self.inserted[table.name] += insert_ignore_tuples(self.conn, table, cols, rows)
                    continue
                stage = self._stage_name(table)
                if self.dialect == "sqlite":
                    cur.executemany(f"INSERT INTO {stage} VALUES ({', '.join('?' * len(cols))})", rows)
                else:
                    with cur.copy(f"COPY {stage} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        finally:
            cur.close()
        if self.staged:
            self._pending = self._pool.submit(
                self._merge, [t.name for t, _ in self.tables if chunk.get(t.name)])

    def finish(self) -> dict[str, int]:
        """Wait for the last merge and rebuild what `defer` dropped; rows inserted per table."""
        self._wait()
        self._rebuild_deferred()  # a foreign key that does not hold fails here, and the transaction rolls back
        return dict(self.inserted)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # re-raises a merge error here, in the caller's thread

    def _merge(self, names: list[str]) -> None:
        # Runs in the worker thread: both drivers release the GIL while the statement executes.
        cur = self._raw.cursor()
        try:
            for table, cols in self.tables:
                if table.name not in names:
                    continue
                stage, col_list = self._stage_name(table), ", ".join(cols)
                # ORDER BY keeps file order: the first of two rows with one key wins, ids follow the file
                if self.dialect == "sqlite":
                    cur.execute(f"INSERT INTO {table.name} ({col_list}) SELECT {col_list} FROM {stage} "
                                "WHERE true ORDER BY rowid ON CONFLICT DO NOTHING")
                    self.inserted[table.name] += cur.rowcount
                    cur.execute(f"DELETE FROM {stage}")
                else:
                    cur.execute(f"INSERT INTO {table.name} ({col_list}) SELECT {col_list} FROM {stage} "
                                "ORDER BY _seq ON CONFLICT DO NOTHING")
                    self.inserted[table.name] += cur.rowcount
                    cur.execute(f"TRUNCATE {stage}")
        finally:
            cur.close()


@dataclass
class WriteResult:
    """What a write did: rows newly stored and rows that were already there."""

    stored: int = 0
    duplicates: int = 0

    @property
    def seen(self) -> int:
        return self.stored + self.duplicates


def aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
