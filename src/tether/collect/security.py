"""Credentials for the rater web app: rater tokens, admin credentials, browser sessions.

Every secret is 256 random bits from `secrets.token_urlsafe` and is stored only as its
SHA-256 digest. A slow password hash is not needed: the secrets are machine-made, so
there is nothing to brute-force, and a stolen database reveals no usable credential.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tether.collect.campaign import DEFAULT_LINK_EXPIRY_DAYS
from tether.config import find_project
from tether.console import RedactingLogFilter
from tether.records import Rater
from tether.store import Conn, Store, credentials_repo
from tether.store import collect_repo as repo
from tether.store.credentials_repo import revoke_rater_tokens as revoke_rater_tokens  # re-exported (ends sessions too)

SESSION_LIFETIME = timedelta(hours=12)
LINK_LIFETIME = timedelta(days=DEFAULT_LINK_EXPIRY_DAYS)  # default; tether.toml [campaign] link_expiry_days
_SIGN_IN_PATH = re.compile(r"(/r/)[^/?#\s\"]+")


def redact_sign_in_path(text: str) -> str:
    """`text` with the token of every sign-in path (`.../r/TOKEN`) replaced by `***`."""
    return _SIGN_IN_PATH.sub(r"\1***", text)


class RedactSignInTokens(RedactingLogFilter):
    """For uvicorn's access log: the request line shows `/collect/r/***`, never a sign-in token."""

    def __init__(self) -> None:
        super().__init__(redact_sign_in_path)


def hide_sign_in_tokens(logger: str = "uvicorn.access") -> None:
    """Install the filter on a logger (once); call it after uvicorn configured logging."""
    log = logging.getLogger(logger)
    if not any(isinstance(f, RedactSignInTokens) for f in log.filters):
        log.addFilter(RedactSignInTokens())


def link_lifetime(days: float | None = None) -> timedelta:
    """How long a new sign-in link lives: `days` if given, else tether.toml's [campaign] link_expiry_days, else 30."""
    if days is None:
        raw = (find_project().config.model_extra or {}).get("campaign") or {}
        days = raw.get("link_expiry_days", DEFAULT_LINK_EXPIRY_DAYS) if isinstance(raw, dict) else None
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650:
        raise ValueError(f"link_expiry_days: expected a number of days in (0, 3650], got {days!r}")
    return timedelta(days=days)


def new_secret() -> str:
    """A fresh URL-safe secret with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_rater_token(store: Store, rater_id: str, *, lifetime: timedelta = LINK_LIFETIME,
                      conn: Conn | None = None) -> str:
    """Create a sign-in token for a known rater, valid for `lifetime`; the plain token is returned once and never
    stored."""
    if lifetime <= timedelta(0):
        raise ValueError(f"a sign-in link's lifetime must be positive, got {lifetime}")
    if conn is None:
        with store.write_transaction() as c:
            return issue_rater_token(store, rater_id, lifetime=lifetime, conn=c)
    if not repo.known_raters(conn, [rater_id]):
        raise KeyError(f"unknown rater {rater_id!r}: import the rater first (tether raters import)")
    token = new_secret()
    credentials_repo.add_rater_token(conn, rater_id, hash_secret(token), lifetime)
    return token


def create_raters_with_tokens(store: Store, raters: list[Rater], *,
                              lifetime: timedelta = LINK_LIFETIME) -> dict[str, str]:
    """Store raters (new ones only get attributes) and a fresh sign-in token for each."""
    store.upsert_raters(raters)
    with store.write_transaction() as conn:
        return {r.id: issue_rater_token(store, r.id, lifetime=lifetime, conn=conn) for r in raters}


def revoke_rater(store: Store, rater_id: str) -> int:
    """Revoke every sign-in link of a rater and end their live sessions; KeyError for an unknown rater."""
    with store.connect() as conn:
        if not repo.known_raters(conn, [rater_id]):
            raise KeyError(f"unknown rater {rater_id!r}")
    return revoke_rater_tokens(store, rater_id)


def rater_for_token(store: Store, token: str) -> str | None:
    """The rater id a live (not revoked, not expired) token belongs to, or None."""
    return credentials_repo.credential_owner(store, "rater", hash_secret(token))


def create_admin_credential(store: Store, name: str) -> str:
    """Create an admin credential for a team member; returned once, stored hashed."""
    secret = new_secret()
    if not credentials_repo.add_admin(store, name, hash_secret(secret)):
        raise ValueError(f"admin {name!r} already exists")
    return secret


def admin_for_secret(store: Store, secret: str) -> str | None:
    """The admin name a live credential belongs to, or None."""
    return credentials_repo.credential_owner(store, "admin", hash_secret(secret))


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
    credentials_repo.add_session(store, hash_secret(cookie), role, subject, session.csrf_token, SESSION_LIFETIME)
    return cookie, session


def session_for_cookie(store: Store, cookie: str, role: str) -> Session | None:
    """The live session behind a cookie value in the given role, or None."""
    found = credentials_repo.session(store, hash_secret(cookie), role)
    if found is None or found[2] <= datetime.now(UTC):
        return None
    return Session(role=role, subject=found[0], csrf_token=found[1])


def close_session(store: Store, cookie: str) -> None:
    """End a session (sign out)."""
    credentials_repo.expire_session(store, hash_secret(cookie))


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
