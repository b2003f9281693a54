"""Write transactions for the campaign tables, serialized per process on SQLite.

SQLite allows one writer at a time; a second writer waits in SQLite's busy handler, which
sleeps in growing steps and makes the web app's slowest requests far slower than the rest.
Taking a process-local lock first lets writers queue without sleeping. PostgreSQL needs no
lock here (issuance already serializes on the campaign row).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from tether.store import Store

_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _lock_for(engine: Engine) -> threading.RLock:
    with _GUARD:
        lock = _LOCKS.get(engine)
        if lock is None:
            lock = _LOCKS[engine] = threading.RLock()
        return lock


@contextlib.contextmanager
def write_transaction(store: Store) -> Iterator[Connection]:
    """`store.transaction()`, holding the process's SQLite write lock for its duration."""
    if store.dialect != "sqlite":
        with store.transaction() as conn:
            yield conn
        return
    with _lock_for(store.engine), store.transaction() as conn:
        yield conn
