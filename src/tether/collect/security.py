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

from tether.records import Rater
from tether.store import Conn, Store
from tether.store import collect_repo as repo
from tether.store.collect_repo import revoke_rater_tokens as revoke_rater_tokens  # re-exported (ends sessions too)

SESSION_LIFETIME = timedelta(hours=12)


def new_secret() -> str:
    """A fresh URL-safe secret with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_rater_token(store: Store, rater_id: str, *, conn: Conn | None = None) -> str:
    """Create a sign-in token for a known rater; the plain token is returned once and never stored."""
    if conn is None:
        with store.write_transaction() as c:
            return issue_rater_token(store, rater_id, conn=c)
    if not repo.known_raters(conn, [rater_id]):
        raise KeyError(f"unknown rater {rater_id!r}: import the rater first (tether raters import)")
    token = new_secret()
    repo.add_rater_token(conn, rater_id, hash_secret(token))
    return token


def create_raters_with_tokens(store: Store, raters: list[Rater]) -> dict[str, str]:
    """Store raters (new ones only get attributes) and a fresh sign-in token for each."""
    store.upsert_raters(raters)
    with store.write_transaction() as conn:
        return {r.id: issue_rater_token(store, r.id, conn=conn) for r in raters}


def rater_for_token(store: Store, token: str) -> str | None:
    """The rater id a live token belongs to, or None."""
    return repo.credential_owner(store, "rater", hash_secret(token))


def create_admin_credential(store: Store, name: str) -> str:
    """Create an admin credential for a team member; returned once, stored hashed."""
    secret = new_secret()
    if not repo.add_admin(store, name, hash_secret(secret)):
        raise ValueError(f"admin {name!r} already exists")
    return secret


def admin_for_secret(store: Store, secret: str) -> str | None:
    """The admin name a live credential belongs to, or None."""
    return repo.credential_owner(store, "admin", hash_secret(secret))


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
    repo.add_session(store, hash_secret(cookie), role, subject, session.csrf_token, SESSION_LIFETIME)
    return cookie, session


def session_for_cookie(store: Store, cookie: str, role: str) -> Session | None:
    """The live session behind a cookie value in the given role, or None."""
    found = repo.session(store, hash_secret(cookie), role)
    if found is None or found[2] <= datetime.now(UTC):
        return None
    return Session(role=role, subject=found[0], csrf_token=found[1])


def close_session(store: Store, cookie: str) -> None:
    """End a session (sign out)."""
    repo.expire_session(store, hash_secret(cookie))


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
