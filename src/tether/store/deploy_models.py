"""Tables for the production side: per-project API keys (hashed) and the per-project PII secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.store.models import Base, utcnow


class ApiKeyRow(Base):
    """An ingestion API key: only its SHA-256 is stored; it reads and writes only `project`. A `feedback` key is
    publishable (embedded in web pages): it may only post feedback on traces the server issued, from `origins`."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, so an admin can tell keys apart
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    scope: Mapped[str] = mapped_column(String(16), default="ingest", server_default="ingest")
    origins: Mapped[list[Any] | None] = mapped_column(JSON)


class ProjectSecretRow(Base):
    """Where PII pseudonym secrets were kept before key files; emptied by the key ring on first use (keyring.py)."""

    __tablename__ = "project_secrets"
    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
