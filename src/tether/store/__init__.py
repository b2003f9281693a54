"""The store: SQLAlchemy models, engine, migrations; SQLite default, PostgreSQL by URL."""

from tether.store.engine import make_engine, normalize_url, upgrade
from tether.store.repository import Store, WriteResult

__all__ = ["Store", "WriteResult", "make_engine", "normalize_url", "upgrade"]
