"""The PII pseudonym keys: kept OUTSIDE the database, one ring per events tenant, rotated with a key id.

Where the keys are (first match wins):
- `$TETHER_PII_KEY`: the current key of every tenant (at least 16 characters), with id `$TETHER_PII_KEY_ID`
  (default `env`); older keys for lookup still come from the key file, if there is one;
- the key file `$TETHER_PII_KEY_FILE`, else `.tether/pii_keys.json` of the project (created by `tether init` or
  on first use, mode 0600; a file others can read is refused).

Each pseudonym names the key that made it (`<EMAIL_k2_…>`), so after `tether deploy rotate-key` new data is
keyed with the new key while `tether deploy forget` still finds a user's data written under every older one.

Upgrading from a store that kept its secrets in the `project_secrets` table: the first use of the key ring
moves every tenant's secret into the key file as key `k0` (lookup only: it made the old 24-bit `<EMAIL_xxxxxx>`
pseudonyms) and deletes the rows; new data gets a fresh key `k1`. Pseudonyms made before and after the upgrade
therefore differ for the same value (forget finds both).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tether.config import Project, find_project
from tether.deploy.pii import LEGACY_DIGEST_CHARS, Redactor
from tether.store import Store, deploy_repo

KEY_ENV = "TETHER_PII_KEY"
KEY_ID_ENV = "TETHER_PII_KEY_ID"
KEY_FILE_ENV = "TETHER_PII_KEY_FILE"
LEGACY_ENV = "TETHER_PII_SECRET"  # before key files: one secret, 24-bit pseudonyms; kept for lookup
KEY_FILE_NAME = "pii_keys.json"
LEGACY_ID = "k0"
_KEY_ID = re.compile(r"[a-z][a-z0-9]{0,7}")


class KeyringError(ValueError):
    """The key file or key variable cannot be used (unsafe permissions, bad content, rotation not possible)."""


@dataclass(frozen=True)
class PiiKey:
    """One pseudonym key of a tenant: its id, secret, and whether it made the old id-less 24-bit pseudonyms."""

    id: str
    secret: str
    legacy: bool = False

    def redactor(self) -> Redactor:
        if self.legacy:
            return Redactor(self.secret, key_id=None, digest_chars=LEGACY_DIGEST_CHARS)
        return Redactor(self.secret, key_id=self.id)


def project_key_file(project: Project) -> Path:
    """$TETHER_PII_KEY_FILE, else the project's `.tether/pii_keys.json`."""
    return Path(os.environ.get(KEY_FILE_ENV) or project.data_dir / KEY_FILE_NAME)


def default_key_file() -> Path:
    """The key file of the project found from the current folder."""
    return project_key_file(find_project())


class Keyring:
    """The tenants' pseudonym keys in a key file (0600), plus the key variables; see the module docs."""

    def __init__(self, path: str | Path | None = None, *, store: Store | None = None) -> None:
        self.path = Path(path) if path is not None else default_key_file()
        self._store = store
        self._imported = False

    # -- the file -------------------------------------------------------------------------------------

    def _read(self) -> dict:
        if not self.path.exists():
            return {"version": 1, "projects": {}}
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(f"{self.path}: readable by others (mode {mode:o}); chmod 600 {self.path}")
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyringError(f"{self.path}: not a Tether key file: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("projects"), dict):
            raise KeyringError(f"{self.path}: not a Tether key file (no 'projects' table)")
        return data

    def _write(self, data: dict) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pii_keys.")  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """The file's content under an exclusive lock (servers and commands may race); written back on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before or not self.path.exists():
                self._write(data)
        finally:
            os.close(lock)

    def _import_db_secrets(self) -> None:
        """Move secrets a store kept in `project_secrets` (before key files) into the file as legacy keys."""
        if self._imported or self._store is None:
            return
        stored = deploy_repo.stored_project_secrets(self._store)
        if stored:
            with self._locked() as data:
                for project, secret in stored.items():
                    ring = data["projects"].setdefault(project, {"current": None, "keys": {}})
                    ring["keys"].setdefault(LEGACY_ID, {"secret": secret, "legacy": True, "created_at": _now()})
            deploy_repo.delete_project_secrets(self._store, list(stored))  # only once the file holds them
        self._imported = True

    # -- keys -----------------------------------------------------------------------------------------

    def current(self, project: str) -> PiiKey:
        """The key new pseudonyms of a tenant are made with (made on first use)."""
        self._import_db_secrets()
        env = os.environ.get(KEY_ENV)
        if env:
            key_id = os.environ.get(KEY_ID_ENV, "env")
            if not _KEY_ID.fullmatch(key_id):
                raise KeyringError(f"{KEY_ID_ENV}={key_id!r}: a key id is a lowercase letter and up to 7 letters "
                                   "or digits")
            if len(env) < 16:
                raise KeyringError(f"{KEY_ENV}: the key must be at least 16 characters")
            return PiiKey(key_id, env)
        ring = self._read()["projects"].get(project)
        if ring is None or not ring.get("current"):
            with self._locked() as data:
                ring = data["projects"].setdefault(project, {"current": None, "keys": {}})
                if not ring.get("current"):  # another process may have made it while we waited
                    ring["current"] = _next_id(ring["keys"])
                    ring["keys"][ring["current"]] = {"secret": secrets.token_hex(32), "created_at": _now()}
        entry = ring["keys"][ring["current"]]
        return PiiKey(ring["current"], entry["secret"])

    def keys(self, project: str) -> list[PiiKey]:
        """Every key of a tenant, current first: the ones to look a value up under (forget)."""
        current = self.current(project)
        ring = self._read()["projects"].get(project, {"keys": {}})
        out = [current]
        for key_id, entry in sorted(ring["keys"].items(), reverse=True):
            if key_id != current.id:
                out.append(PiiKey(key_id, entry["secret"], bool(entry.get("legacy"))))
        legacy_env = os.environ.get(LEGACY_ENV)
        if legacy_env and len(legacy_env) >= 16:
            out.append(PiiKey("env0", legacy_env, legacy=True))
        return out

    def rotate(self, project: str) -> PiiKey:
        """Make a new current key for a tenant; the old ones stay for lookup."""
        if os.environ.get(KEY_ENV):
            raise KeyringError(f"the current key comes from {KEY_ENV}: rotate by setting a new key and a new "
                               f"{KEY_ID_ENV}, and keep the old key in the key file for lookup")
        self.current(project)
        with self._locked() as data:
            ring = data["projects"][project]
            ring["current"] = _next_id(ring["keys"])
            ring["keys"][ring["current"]] = {"secret": secrets.token_hex(32), "created_at": _now()}
        return self.current(project)

    def redactor(self, project: str) -> Redactor:
        return self.current(project).redactor()

    def lookup_redactors(self, project: str) -> list[Redactor]:
        """A redactor per key of the tenant, current first."""
        return [k.redactor() for k in self.keys(project)]


def _next_id(keys: dict) -> str:
    numbers = [int(k[1:]) for k in keys if re.fullmatch(r"k\d+", k)]
    return f"k{max(numbers, default=0) + 1}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
