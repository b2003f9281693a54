"""Shared fixtures: every store test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Two xdist workers share the cores: one torch/BLAS thread each. Two spinning threads per worker made torch
# work several times slower on a loaded 2-core machine. Set before anything imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tether.store import Store

DATA = Path(__file__).parent / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "TETHER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server, for this test session."""
    name = f"tether_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc} (.ci/run starts it)")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tether.db'}"
        return
    url = request.getfixturevalue("postgres_server")
    store = Store(url)
    store.drop_all()
    store.close()
    yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Path:
    """A project folder as the current directory, its store on the parametrized backend."""
    from tether.config import init_project

    root = tmp_path / "proj"
    init_project(root, database_url=store_url)
    monkeypatch.chdir(root)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    return root


@pytest.fixture(autouse=True)
def _pii_key_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own PII key file (never the checkout's .tether/), and no key from the environment."""
    monkeypatch.setenv("TETHER_PII_KEY_FILE", str(tmp_path_factory.mktemp("pii") / "pii_keys.json"))
    for name in ("TETHER_PII_KEY", "TETHER_PII_KEY_ID", "TETHER_PII_SECRET"):
        monkeypatch.delenv(name, raising=False)
