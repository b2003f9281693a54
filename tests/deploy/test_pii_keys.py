"""Pseudonym keys live outside the database, digests are 96 bits, and a rotated key keeps old data findable."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import String, Text, inspect, select
from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project
from tether.deploy.forget import forget
from tether.deploy.ingest import Ingestor
from tether.deploy.keyring import Keyring, KeyringError
from tether.deploy.pii import DIGEST_CHARS, Redactor
from tether.records import Event
from tether.store import Store
from tether.store.deploy_models import ProjectSecretRow

runner = CliRunner()
T = datetime(2026, 5, 1, tzinfo=UTC)
PSEUDONYM = re.compile(r"<EMAIL_(k\d+)_([0-9a-f]+)>")


def _traffic(user: str, trace: str) -> list[Event]:
    return [Event(event_id=f"{trace}-g", type="generation", trace_id=trace, timestamp=T, model="m",
                  prompt=f"mail me at {user}", response="ok", attributes={"enduser.id": user})]


def _every_stored_text(store: Store) -> str:
    """Every string column of every table, joined: what someone holding only the database can read."""
    parts = []
    with store.engine.connect() as conn:
        insp = inspect(conn)
        for table in insp.get_table_names():
            cols = [c["name"] for c in insp.get_columns(table) if isinstance(c["type"], String | Text)]
            for col in cols:
                parts += [str(v) for v in conn.exec_driver_sql(f'SELECT "{col}" FROM "{table}"').scalars()]
    return "\n".join(parts)


def test_no_pseudonym_secret_is_kept_in_the_database(project_dir: Path) -> None:
    store = find_project().store()
    try:
        ingestor = Ingestor(store)
        ingestor.ingest(_traffic("ann@example.com", "t1"), "proj")
        key = ingestor.keyring.current("proj")
        stored = _every_stored_text(store)
        assert "ann@example.com" not in stored and f"<EMAIL_{key.id}_" in stored
        assert key.secret not in stored and key.secret.encode().hex() not in stored
        with store.connect() as conn:
            assert conn.execute(select(ProjectSecretRow.project)).all() == []
    finally:
        store.close()
    path = Path(os.environ["TETHER_PII_KEY_FILE"])
    assert key.secret in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pseudonyms_carry_a_key_id_and_96_bits() -> None:
    r = Redactor(b"k" * 32, key_id="k3")
    (kid, digest), = PSEUDONYM.findall(r.redact("write to bob@corp.com"))
    assert kid == "k3" and len(digest) == DIGEST_CHARS and 4 * len(digest) >= 96
    # at a billion distinct values, the chance of any two sharing a pseudonym (birthday bound) is negligible
    assert 1e9 ** 2 / 2 ** (4 * DIGEST_CHARS + 1) < 1e-10
    with pytest.raises(ValueError, match="96"):
        Redactor(b"k" * 32, digest_chars=6)  # a short digest only for re-making legacy pseudonyms
    digests = {r.pseudonym("EMAIL", f"user{i}@example.com") for i in range(20_000)}
    assert len(digests) == 20_000


def test_forget_finds_data_under_old_and_new_keys_after_rotation(project_dir: Path) -> None:
    store = find_project().store()
    try:
        Ingestor(store).ingest(_traffic("ann@example.com", "t-old") + _traffic("bob@example.com", "t-bob"), "proj")
        r = runner.invoke(app, ["deploy", "rotate-key"])
        assert r.exit_code == 0 and "new pseudonyms use key k2" in r.output and "k1" in r.output, r.output
        Ingestor(store).ingest(_traffic("ann@example.com", "t-new"), "proj")  # a restarted server: key k2
        prompts = {e.trace_id: e.prompt for e in store.iter_events(project="proj")}
        old, new = PSEUDONYM.search(prompts["t-old"]), PSEUDONYM.search(prompts["t-new"])
        assert (old.group(1), new.group(1)) == ("k1", "k2") and old.group(2) != new.group(2)
        r = runner.invoke(app, ["deploy", "forget", "--user", "ann@example.com"])
        assert r.exit_code == 0 and "from 2 traces" in r.output, r.output
        assert {e.trace_id for e in store.iter_events(project="proj")} == {"t-bob"}
    finally:
        store.close()


def test_secrets_a_store_kept_move_to_the_key_file_on_first_use(store_url: str, tmp_path: Path) -> None:
    """Upgrading: the DB-held secret becomes lookup key k0 (old 24-bit pseudonyms), new data gets k1."""
    store = Store(store_url)
    try:
        legacy_secret = "ab" * 32
        with store.write_transaction() as conn:
            conn.execute(ProjectSecretRow.__table__.insert(), [{"project": "p", "secret": legacy_secret,
                                                                "created_at": T}])
        legacy = Redactor(legacy_secret, key_id=None, digest_chars=6)
        store.add_events([e.model_copy(update={"attributes": {"enduser.id": legacy.redact("ann@example.com")}})
                          for e in _traffic("x", "t-legacy")], project="p")
        ring = Keyring(tmp_path / "keys.json", store=store)
        ingestor = Ingestor(store, ring)
        ingestor.ingest(_traffic("ann@example.com", "t-new"), "p")
        with store.connect() as conn:
            assert conn.execute(select(ProjectSecretRow.project)).all() == []
        assert [(k.id, k.legacy) for k in ring.keys("p")] == [("k1", False), ("k0", True)]
        assert legacy_secret not in _every_stored_text(store)
        res = forget(store, "p", user="ann@example.com", redactors=ingestor.lookup_redactors("p"))
        assert res.traces == 2 and list(store.iter_events(project="p")) == []
    finally:
        store.close()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys.json")
    ring.current("p")
    os.chmod(ring.path, 0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring(ring.path).current("p")


def test_the_key_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TETHER_PII_KEY", "e" * 40)
    monkeypatch.setenv("TETHER_PII_KEY_ID", "k7")
    ring = Keyring(tmp_path / "keys.json")
    assert ring.redactor("p").redact("a@b.org") == Redactor("e" * 40, key_id="k7").redact("a@b.org")
    assert not ring.path.exists()  # nothing written when the key comes from the environment
    with pytest.raises(KeyringError, match="TETHER_PII_KEY"):
        ring.rotate("p")


def test_init_creates_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TETHER_PII_KEY_FILE")
    r = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    path = tmp_path / "p" / ".tether" / "pii_keys.json"
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(Keyring(path).current("p").secret) == 64
