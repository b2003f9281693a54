"""Per-project ingestion API keys (stored as SHA-256 only); the PII pseudonym keys are in `keyring`."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from tether.store import Store, deploy_repo
from tether.store.deploy_repo import KeyInfo
from tether.store.deploy_repo import list_keys as list_keys  # re-exported: every key, or a project's

KEY_PREFIX = "tk_"
PUBLISHABLE_PREFIX = "tpk_"  # feedback-only keys, meant to be seen: embedded in a web page with the widget
FEEDBACK_SCOPE = "feedback"
DEFAULT_PROJECT = "default"  # the events namespace `tether import events` and Store.add_events use


def hash_key(key: str) -> str:
    """Stored form of a key: SHA-256 hex (keys are 256 random bits, so a slow hash buys nothing)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, project: str, name: str = "", *, publishable: bool = False,
               origins: Sequence[str] = ()) -> str:
    """Make a key for `project`; the plain key is returned once and never stored. A `publishable` key may only post
    feedback (`POST /v1/feedback`) on traces the server issued a token for, from pages at `origins`."""
    if not project:
        raise ValueError("project name must not be empty")
    origins = [check_origin(o) for o in origins]
    if publishable and not origins:
        raise ValueError("a publishable key needs the origins of the pages that embed it (e.g. https://shop.example)")
    if origins and not publishable:
        raise ValueError("origins only apply to publishable (feedback) keys")
    key = (PUBLISHABLE_PREFIX if publishable else KEY_PREFIX) + secrets.token_urlsafe(32)
    deploy_repo.add_key(store, project, hash_key(key), key[:10], name,
                        scope=FEEDBACK_SCOPE if publishable else "ingest", origins=origins)
    return key


def check_origin(origin: str) -> str:
    """A web origin as browsers send it: scheme://host[:port], no path; a ValueError naming the problem otherwise."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"origin {origin!r}: expected scheme://host[:port], e.g. https://shop.example")
    return f"{parts.scheme}://{parts.netloc}"


def revoke_key(store: Store, key_or_prefix: str) -> int:
    """Revoke by the full key or by its printed prefix; returns how many keys were revoked."""
    if key_or_prefix.startswith((KEY_PREFIX, PUBLISHABLE_PREFIX)) and len(key_or_prefix) > 20:
        return deploy_repo.revoke_keys(store, key_hash=hash_key(key_or_prefix))
    return deploy_repo.revoke_keys(store, prefix=key_or_prefix)


def authenticate(store: Store, key: str) -> KeyInfo | None:
    """The key's info if it exists and is not revoked, else None."""
    found = deploy_repo.list_keys(store, key_hash=hash_key(key))
    return found[0] if found and found[0].revoked_at is None else None
