"""Per-project ingestion API keys (stored as SHA-256 only) and the per-project PII secret."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from tether.collect.db import write_transaction
from tether.store import Store
from tether.store.bulk import insert_ignore
from tether.store.deploy_models import ApiKeyRow, ProjectSecretRow

KEY_PREFIX = "tk_"
DEFAULT_PROJECT = "default"  # the events namespace `tether import events` and Store.add_events use
SECRET_ENV = "TETHER_PII_SECRET"


@dataclass(frozen=True)
class KeyInfo:
    """What a key is allowed to do: the project it belongs to."""

    id: int
    project: str
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """Stored form of a key: SHA-256 hex (keys are 256 random bits, so a slow hash buys nothing)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, project: str, name: str = "") -> str:
    """Make a key for `project`; the plain key is returned once and never stored."""
    if not project:
        raise ValueError("project name must not be empty")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(store) as conn:
        conn.execute(ApiKeyRow.__table__.insert(), [{
            "project": project, "key_hash": hash_key(key), "prefix": key[:10], "name": name,
            "created_at": datetime.now(UTC), "revoked_at": None,
        }])
    return key


def revoke_key(store: Store, key_or_prefix: str) -> int:
    """Revoke by the full key or by its printed prefix; returns how many keys were revoked."""
    table = ApiKeyRow.__table__
    if key_or_prefix.startswith(KEY_PREFIX) and len(key_or_prefix) > 20:
        where = table.c.key_hash == hash_key(key_or_prefix)
    else:
        where = table.c.prefix == key_or_prefix
    with write_transaction(store) as conn:
        stmt = update(table).where(where, table.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
        res = conn.execute(stmt)
        return res.rowcount or 0


def list_keys(store: Store, project: str | None = None) -> list[KeyInfo]:
    """Every key (or a project's), newest last."""
    stmt = select(ApiKeyRow.__table__).order_by(ApiKeyRow.id)
    if project is not None:
        stmt = stmt.where(ApiKeyRow.project == project)
    with store.engine.connect() as conn:
        return [KeyInfo(r.id, r.project, r.prefix, r.name, r.created_at, r.revoked_at) for r in conn.execute(stmt)]


def authenticate(store: Store, key: str) -> KeyInfo | None:
    """The key's info if it exists and is not revoked, else None."""
    with store.engine.connect() as conn:
        r = conn.execute(select(ApiKeyRow.__table__).where(ApiKeyRow.key_hash == hash_key(key))).first()
    if r is None or r.revoked_at is not None:
        return None
    return KeyInfo(r.id, r.project, r.prefix, r.name, r.created_at, r.revoked_at)


def project_secret(store: Store, project: str) -> bytes:
    """The project's PII pseudonym key: $TETHER_PII_SECRET if set, else one made once and kept in the store."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode("utf-8")
    table = ProjectSecretRow.__table__
    with store.engine.connect() as conn:
        found = conn.execute(select(table.c.secret).where(table.c.project == project)).scalar()
    if found is None:
        with write_transaction(store) as conn:
            # two servers racing both insert-or-ignore, then both read the winner
            insert_ignore(conn, table, [{"project": project, "secret": secrets.token_hex(32),
                                         "created_at": datetime.now(UTC)}])
            found = conn.execute(select(table.c.secret).where(table.c.project == project)).scalar_one()
    return found.encode("utf-8")
