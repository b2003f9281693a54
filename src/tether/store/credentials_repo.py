"""SQL for the rater app's credentials: sign-in tokens (expiring, revocable), admin credentials, web sessions.
Only digests are stored; `tether.collect.security` makes and checks the secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update

from tether.store.bulk import aware as _aware
from tether.store.bulk import insert_ignore
from tether.store.collect_models import AdminCredentialRow, RaterTokenRow, WebSessionRow
from tether.store.repository import Store


def _now() -> datetime:
    return datetime.now(UTC)


def add_rater_token(conn: Connection, rater_id: str, token_hash: str, lifetime: timedelta) -> datetime:
    """Store a token's digest valid for `lifetime` from now; returns when it expires."""
    now = _now()
    conn.execute(RaterTokenRow.__table__.insert(), [{"rater_id": rater_id, "token_hash": token_hash,
                                                     "created_at": now, "expires_at": now + lifetime}])
    return now + lifetime


def credential_owner(store: Store, role: str, secret_hash: str) -> str | None:
    """The rater id ('rater': a sign-in token) or admin name ('admin') a live credential belongs to, or None."""
    table, owner, hashed = ((RaterTokenRow, RaterTokenRow.rater_id, RaterTokenRow.token_hash) if role == "rater"
                            else (AdminCredentialRow, AdminCredentialRow.name, AdminCredentialRow.secret_hash))
    live = [hashed == secret_hash, table.revoked_at.is_(None)]
    if role == "rater":
        live.append(RaterTokenRow.expires_at > _now())  # NULL (never set) is refused too
    with store.connect() as conn:
        return conn.execute(select(owner).where(*live)).scalar()


def revoke_rater_tokens(store: Store, rater_id: str) -> int:
    """Revoke every token of a rater and end their sessions; returns tokens revoked."""
    with store.write_transaction() as conn:
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


def add_admin(store: Store, name: str, secret_hash: str) -> bool:
    """Store an admin credential; False (nothing written) when the name is taken."""
    with store.write_transaction() as conn:
        if conn.execute(select(AdminCredentialRow.id).where(AdminCredentialRow.name == name)).scalar():
            return False
        insert_ignore(conn, AdminCredentialRow.__table__,
                      [{"name": name, "secret_hash": secret_hash, "created_at": _now()}])
    return True


def add_session(store: Store, session_hash: str, role: str, subject: str, csrf_token: str,
                lifetime: timedelta) -> None:
    now = _now()
    with store.write_transaction() as conn:
        conn.execute(WebSessionRow.__table__.insert(), [{
            "session_hash": session_hash, "role": role, "subject": subject, "csrf_token": csrf_token,
            "created_at": now, "expires_at": now + lifetime}])


# built once: every page view looks its session up, and building the statement cost more than running it
_SESSION = select(WebSessionRow.subject, WebSessionRow.csrf_token, WebSessionRow.expires_at).where(
    WebSessionRow.session_hash == bindparam("session_hash"), WebSessionRow.role == bindparam("role"))


def session(store: Store, session_hash: str, role: str) -> tuple[str, str, datetime] | None:
    """(subject, CSRF token, expiry) of a session in a role, expired or not."""
    with store.connect() as conn:
        row = conn.execute(_SESSION, {"session_hash": session_hash, "role": role}).first()
    return None if row is None else (row.subject, row.csrf_token, _aware(row.expires_at))


def expire_session(store: Store, session_hash: str) -> None:
    with store.write_transaction() as conn:
        conn.execute(
            update(WebSessionRow).where(WebSessionRow.session_hash == session_hash).values(expires_at=_now()))
