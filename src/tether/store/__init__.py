"""The store: SQLAlchemy models, engine, migrations; SQLite default, PostgreSQL by URL."""

from sqlalchemy.exc import SQLAlchemyError as StoreError  # the database failed, not the caller's input

from tether.store.engine import make_engine, normalize_url, upgrade
from tether.store.repository import Conn, Store, WriteResult

__all__ = ["Conn", "Store", "StoreError", "WriteResult", "make_engine", "normalize_url", "upgrade"]
