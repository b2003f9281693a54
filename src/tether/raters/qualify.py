"""Qualification on gold items and re-qualification when a rater's gold accuracy or agreement drops.

Qualifying itself happens inside the campaign (an enrolled rater answers `qualification_gold`
gold items first and passes at `pass_threshold`); this module reports where raters stand and
sends a qualified rater back to qualification when the numbers drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tether.audit.config import AGREEMENT_FLOOR
from tether.collect.assign import gold_accuracy
from tether.collect.campaign import get_campaign
from tether.store import Store
from tether.store import collect_repo as repo


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
    with store.connect() as conn:
        info = get_campaign(conn, campaign)
        out = []
        for r in repo.enrolments(conn, info.id):
            accuracy, n = gold_accuracy(conn, info.id, r.rater_id)
            out.append(Qualification(r.rater_id, r.status, accuracy, n, agreement.get(r.rater_id), r.reason))
    return out


def requalify(store: Store, campaign: str, *, agreement: Mapping[str, float] | None = None,
              min_gold_accuracy: float | None = None, min_agreement: float = AGREEMENT_FLOOR,
              min_gold_answers: int = 3) -> list[Qualification]:
    """Send qualified raters whose gold accuracy (>= min_gold_answers answers) or audit agreement dropped back
    to qualification: their open regular tasks are withdrawn and they get gold items until they pass again."""
    agreement = agreement or {}
    changed: list[Qualification] = []
    with store.write_transaction() as conn:
        info = get_campaign(conn, campaign)
        threshold = info.settings.pass_threshold if min_gold_accuracy is None else min_gold_accuracy
        for r in repo.enrolments(conn, info.id, status="qualified"):
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
            # gold answers after the last assignment count towards re-qualifying (ids never repeat)
            last_id = repo.withdraw_for_requalification(conn, info.id, r.rater_id)
            repo.update_enrolment(conn, r.id, status="requalify", since_assignment=last_id, reason=reason,
                                  gold_accuracy=accuracy, n_gold=n)
            changed.append(Qualification(r.rater_id, "requalify", accuracy, n, value, reason))
    return changed
