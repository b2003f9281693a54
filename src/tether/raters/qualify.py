"""Qualification on gold items and re-qualification when a rater's gold accuracy or agreement drops.

Qualifying itself happens inside the campaign (an enrolled rater answers `qualification_gold`
gold items first and passes at `pass_threshold`); this module reports where raters stand and
sends a qualified rater back to qualification when the numbers drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update

from tether.collect.assign import gold_accuracy
from tether.collect.campaign import get_campaign
from tether.collect.db import write_transaction
from tether.store import Store
from tether.store.collect_models import AssignmentRow, CampaignItemRow, RaterQualificationRow


@dataclass(frozen=True)
class Qualification:
    """Where one rater stands in one campaign."""

    rater: str
    status: str
    gold_accuracy: float | None
    gold_answers: int
    agreement: float | None
    reason: str


def qualifications(store: Store, campaign: str,
                   agreement: Mapping[str, float] | None = None) -> list[Qualification]:
    """Every enrolled rater's status, gold accuracy over all their gold answers, and audit agreement if given."""
    agreement = agreement or {}
    with store.engine.connect() as conn:
        info = get_campaign(conn, campaign)
        rows = conn.execute(select(RaterQualificationRow).where(RaterQualificationRow.campaign_id == info.id)
                            .order_by(RaterQualificationRow.rater_id)).all()
        out = []
        for r in rows:
            accuracy, n = gold_accuracy(conn, info.id, r.rater_id)
            out.append(Qualification(r.rater_id, r.status, accuracy, n, agreement.get(r.rater_id), r.reason))
    return out


def requalify(store: Store, campaign: str, *, agreement: Mapping[str, float] | None = None,
              min_gold_accuracy: float | None = None, min_agreement: float = 0.4,
              min_gold_answers: int = 3) -> list[Qualification]:
    """Send qualified raters whose gold accuracy (>= min_gold_answers answers) or audit agreement dropped back
    to qualification: their open regular tasks are withdrawn and they get gold items until they pass again."""
    agreement = agreement or {}
    changed: list[Qualification] = []
    with write_transaction(store) as conn:
        info = get_campaign(conn, campaign)
        threshold = info.settings.pass_threshold if min_gold_accuracy is None else min_gold_accuracy
        rows = conn.execute(select(RaterQualificationRow).where(
            RaterQualificationRow.campaign_id == info.id, RaterQualificationRow.status == "qualified")).all()
        for r in rows:
            accuracy, n = gold_accuracy(conn, info.id, r.rater_id)
            reasons = []
            if accuracy is not None and n >= min_gold_answers and accuracy < threshold:
                reasons.append(f"gold accuracy {accuracy:.2f} < {threshold:.2f} on {n} items")
            value = agreement.get(r.rater_id)
            if value is not None and value < min_agreement:
                reasons.append(f"agreement {value:.2f} < {min_agreement:.2f}")
            if not reasons:
                continue
            reason = "re-qualify: " + "; ".join(reasons)
            regular = select(CampaignItemRow.id).where(CampaignItemRow.campaign_id == info.id,
                                                       CampaignItemRow.kind != "gold")
            conn.execute(delete(AssignmentRow).where(
                AssignmentRow.campaign_id == info.id, AssignmentRow.rater_id == r.rater_id,
                AssignmentRow.answered_at.is_(None), AssignmentRow.item_id.in_(regular)))
            # gold answers after this id count towards re-qualifying (ids never repeat, see AssignmentRow)
            last_id = conn.execute(select(func.coalesce(func.max(AssignmentRow.id), 0))).scalar_one()
            conn.execute(update(RaterQualificationRow).where(RaterQualificationRow.id == r.id).values(
                status="requalify", since_assignment=last_id, reason=reason, gold_accuracy=accuracy, n_gold=n,
                updated_at=datetime.now(UTC)))
            changed.append(Qualification(r.rater_id, "requalify", accuracy, n, value, reason))
    return changed
