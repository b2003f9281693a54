"""The assignment log of a campaign: who saw which pair, in which order, when, and for how long."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tether.collect.campaign import get_campaign
from tether.store import Store
from tether.store import collect_repo as repo


def assignment_log(store: Store, campaign: str) -> Iterator[dict[str, Any]]:
    """One object per assignment, oldest first (answers in canonical terms)."""
    with store.connect() as conn:
        rows = repo.assignment_log(conn, get_campaign(conn, campaign).id)
    for r in rows:
        yield {"assignment_id": r.pop("assignment_id"), "campaign": campaign, **r}
