"""Credentials for the rater web app: rater tokens, admin credentials, browser sessions.

Every secret is 256 random bits from `secrets.token_urlsafe` and is stored only as its
SHA-256 digest. A slow password hash is not needed: the secrets are machine-made, so
there is nothing to brute-force, and a stolen database reveals no usable credential.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from tether.collect.db import write_transaction
from tether.records import Rater
from tether.store import Store
from tether.store.bulk import insert_ignore
from tether.store.collect_models import AdminCredentialRow, RaterTokenRow, WebSessionRow
from tether.store.models import RaterRow

SESSION_LIFETIME = timedelta(hours=12)


def new_secret() -> str:
    """A fresh URL-safe secret with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def issue_rater_token(store: Store, rater_id: str, *, conn: Connection | None = None) -> str:
    """Create a sign-in token for a known rater; the plain token is returned once and never stored."""
    if conn is None:
        with write_transaction(store) as c:
            return issue_rater_token(store, rater_id, conn=c)
    if conn.execute(select(RaterRow.id).where(RaterRow.id == rater_id)).scalar() is None:
        raise KeyError(f"unknown rater {rater_id!r}: import the rater first (tether raters import)")
    token = new_secret()
    conn.execute(
        RaterTokenRow.__table__.insert(),
        [{"rater_id": rater_id, "token_hash": hash_secret(token), "created_at": _now()}],
    )
    return token


def create_raters_with_tokens(store: Store, raters: list[Rater]) -> dict[str, str]:
    """Store raters (new ones only get attributes) and a fresh sign-in token for each."""
    store.upsert_raters(raters)
    with write_transaction(store) as conn:
        return {r.id: issue_rater_token(store, r.id, conn=conn) for r in raters}


def rater_for_token(store: Store, token: str) -> str | None:
    """The rater id a live token belongs to, or None."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(RaterTokenRow.rater_id).where(
                RaterTokenRow.token_hash == hash_secret(token), RaterTokenRow.revoked_at.is_(None)
            )
        ).scalar()


def revoke_rater_tokens(store: Store, rater_id: str) -> int:
    """Revoke every token of a rater (their open sessions end too)."""
    with write_transaction(store) as conn:
        n = conn.execute(
            update(RaterTokenRow)
            .where(RaterTokenRow.rater_id == rater_id, RaterTokenRow.revoked_at.is_(None))
            .values(revoked_at=_now())
        ).rowcount
        conn.execute(
            update(WebSessionRow)
            .where(WebSessionRow.role == "rater", WebSessionRow.subject == rater_id)
            .values(expires_at=_now())
        )
        return n


def create_admin_credential(store: Store, name: str) -> str:
    """Create an admin credential for a team member; returned once, stored hashed."""
    secret = new_secret()
    with write_transaction(store) as conn:
        if conn.execute(select(AdminCredentialRow.id).where(AdminCredentialRow.name == name)).scalar():
            raise ValueError(f"admin {name!r} already exists")
        insert_ignore(
            conn,
            AdminCredentialRow.__table__,
            [{"name": name, "secret_hash": hash_secret(secret), "created_at": _now()}],
        )
    return secret


def admin_for_secret(store: Store, secret: str) -> str | None:
    """The admin name a live credential belongs to, or None."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(AdminCredentialRow.name).where(
                AdminCredentialRow.secret_hash == hash_secret(secret), AdminCredentialRow.revoked_at.is_(None)
            )
        ).scalar()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who (rater id or admin name), in which role, and its CSRF token."""

    role: str
    subject: str
    csrf_token: str


def open_session(store: Store, role: str, subject: str) -> tuple[str, Session]:
    """Start a browser session; returns the cookie value (stored hashed) and the session."""
    cookie = new_secret()
    session = Session(role=role, subject=subject, csrf_token=new_secret())
    now = _now()
    with write_transaction(store) as conn:
        conn.execute(
            WebSessionRow.__table__.insert(),
            [{"session_hash": hash_secret(cookie), "role": role, "subject": subject,
              "csrf_token": session.csrf_token, "created_at": now, "expires_at": now + SESSION_LIFETIME}],
        )
    return cookie, session


def session_for_cookie(store: Store, cookie: str, role: str) -> Session | None:
    """The live session behind a cookie value in the given role, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(WebSessionRow.subject, WebSessionRow.csrf_token, WebSessionRow.expires_at).where(
                WebSessionRow.session_hash == hash_secret(cookie), WebSessionRow.role == role
            )
        ).first()
    if row is None or _aware(row.expires_at) <= _now():
        return None
    return Session(role=role, subject=row.subject, csrf_token=row.csrf_token)


def close_session(store: Store, cookie: str) -> None:
    """End a session (sign out)."""
    with write_transaction(store) as conn:
        conn.execute(
            update(WebSessionRow).where(WebSessionRow.session_hash == hash_secret(cookie)).values(expires_at=_now())
        )


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
