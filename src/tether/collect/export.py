"""The assignment log of a campaign: who saw which pair, in which order, when, and for how long."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from tether.collect.campaign import get_campaign
from tether.store import Store
from tether.store.collect_models import AssignmentRow, CampaignItemRow


def assignment_log(store: Store, campaign: str) -> Iterator[dict[str, Any]]:
    """One object per assignment, oldest first (answers in canonical terms)."""
    with store.engine.connect() as conn:
        info = get_campaign(conn, campaign)
        rows = conn.execute(
            select(AssignmentRow, CampaignItemRow.pair_id, CampaignItemRow.task_type, CampaignItemRow.kind)
            .join(CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id)
            .where(AssignmentRow.campaign_id == info.id)
            .order_by(AssignmentRow.id)
        ).all()
    for r in rows:
        yield {
            "assignment_id": r.id, "campaign": campaign, "rater": r.rater_id, "pair_id": r.pair_id,
            "task_type": r.task_type, "item_kind": r.kind, "objectives": r.objectives, "shown_first": r.shown_first,
            "phase": r.phase, "rubric_version": r.rubric_version, "issued_at": r.issued_at,
            "first_shown_at": r.first_shown_at, "answered_at": r.answered_at, "time_on_task_ms": r.time_on_task_ms,
            "answers": r.answers,
        }
