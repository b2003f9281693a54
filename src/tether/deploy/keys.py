"""Per-project ingestion API keys (stored as SHA-256 only); the PII pseudonym keys are in `keyring`."""

from __future__ import annotations

import hashlib
import secrets

from tether.store import Store, deploy_repo
from tether.store.deploy_repo import KeyInfo
from tether.store.deploy_repo import list_keys as list_keys  # re-exported: every key, or a project's

KEY_PREFIX = "tk_"
DEFAULT_PROJECT = "default"  # the events namespace `tether import events` and Store.add_events use


def hash_key(key: str) -> str:
    """Stored form of a key: SHA-256 hex (keys are 256 random bits, so a slow hash buys nothing)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, project: str, name: str = "") -> str:
    """Make a key for `project`; the plain key is returned once and never stored."""
    if not project:
        raise ValueError("project name must not be empty")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    deploy_repo.add_key(store, project, hash_key(key), key[:10], name)
    return key


def revoke_key(store: Store, key_or_prefix: str) -> int:
    """Revoke by the full key or by its printed prefix; returns how many keys were revoked."""
    if key_or_prefix.startswith(KEY_PREFIX) and len(key_or_prefix) > 20:
        return deploy_repo.revoke_keys(store, key_hash=hash_key(key_or_prefix))
    return deploy_repo.revoke_keys(store, prefix=key_or_prefix)


def authenticate(store: Store, key: str) -> KeyInfo | None:
    """The key's info if it exists and is not revoked, else None."""
    found = deploy_repo.list_keys(store, key_hash=hash_key(key))
    return found[0] if found and found[0].revoked_at is None else None
