"""SQL for a rater's work in a campaign: the queue, issuing, showing, claiming and answering assignments, and
returning unanswered ones to the pool (campaigns, rubrics and enrolment: `collect_repo`).

The statements on the rater pages' path are built once, with bind parameters: building one per call (and its
cache key) cost more CPU than running it on SQLite (see benchmarks/RESULTS.md, "Rater web app load").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import aliased

from tether.store.bulk import aware as _aware
from tether.store.collect_models import (
    AssignmentRow,
    CampaignRow,
)
from tether.store.collect_repo import _ITEMS, _QUAL, OPEN_STATUSES, _now
from tether.store.models import PromptRow, ResponseRow
from tether.store.repository import Store


def expire_open_assignments(conn: Connection, campaign_id: int, hours: float) -> int:
    """Delete assignments of a campaign issued more than `hours` ago and still unanswered (back to the pool)."""
    return conn.execute(delete(AssignmentRow).where(
        AssignmentRow.campaign_id == campaign_id, AssignmentRow.answered_at.is_(None),
        AssignmentRow.issued_at < _now() - timedelta(hours=hours))).rowcount


def withdraw_open_assignments(conn: Connection, campaign_id: int, task_type: str) -> int:
    """Delete issued-but-unanswered assignments of a task type (they are re-issued after it resumes)."""
    item_ids = select(_ITEMS.id).where(_ITEMS.campaign_id == campaign_id, _ITEMS.task_type == task_type)
    return conn.execute(
        delete(AssignmentRow).where(AssignmentRow.item_id.in_(item_ids), AssignmentRow.answered_at.is_(None))
    ).rowcount


_QUEUE_STATE = (
    select(CampaignRow.queue_size, CampaignRow.assignment_expiry_hours, func.count(AssignmentRow.id),
           func.min(AssignmentRow.issued_at))
    .outerjoin(AssignmentRow, and_(AssignmentRow.campaign_id == CampaignRow.id,
                                   AssignmentRow.rater_id == bindparam("rater_id"),
                                   AssignmentRow.answered_at.is_(None)))
    .where(CampaignRow.name == bindparam("campaign"))
    .group_by(CampaignRow.queue_size, CampaignRow.assignment_expiry_hours)
)


def queue_is_full(store: Store, campaign: str, rater_id: str) -> bool:
    """Whether a rater already holds the campaign's queue size of open assignments, none of them expired
    (read only)."""
    with store.connect() as conn:
        size, hours, open_count, oldest = conn.execute(
            _QUEUE_STATE, {"campaign": campaign, "rater_id": rater_id}).first() or (0, 0.0, 0, None)
    if oldest is not None and _aware(oldest) < _now() - timedelta(hours=hours):
        return False  # an expired task: the write path returns it to the pool and refills
    return size > 0 and open_count >= size


def open_count(conn: Connection, campaign_id: int, rater_id: str) -> int:
    return conn.execute(select(func.count()).select_from(AssignmentRow).where(
        AssignmentRow.campaign_id == campaign_id, AssignmentRow.rater_id == rater_id,
        AssignmentRow.answered_at.is_(None))).scalar_one()


def _unseen(campaign_id: int, rater_id: str, task_types: Sequence[str]):  # noqa: ANN202
    seen = select(AssignmentRow.item_id).where(AssignmentRow.rater_id == rater_id,
                                               AssignmentRow.campaign_id == campaign_id)
    return (_ITEMS.campaign_id == campaign_id) & _ITEMS.task_type.in_(task_types) & (~_ITEMS.id.in_(seen))


def unseen_items(conn: Connection, campaign_id: int, rater_id: str, task_types: Sequence[str],
                 kind: str) -> list[tuple[int, str]]:
    """(item id, task type) of every item of `kind` in these task types the rater was never issued."""
    rows = conn.execute(select(_ITEMS.id, _ITEMS.task_type, _ITEMS.kind)
                        .where(_unseen(campaign_id, rater_id, task_types), _ITEMS.kind == kind)).all()
    return [(r.id, r.task_type) for r in rows]


def gold_issued_since(conn: Connection, campaign_id: int, rater_id: str, after: int) -> int:
    """Gold items issued to a rater after assignment id `after`."""
    return conn.execute(select(func.count()).select_from(AssignmentRow).join(
        _ITEMS, _ITEMS.id == AssignmentRow.item_id).where(
        AssignmentRow.rater_id == rater_id, AssignmentRow.campaign_id == campaign_id,
        _ITEMS.kind == "gold", AssignmentRow.id > after)).scalar_one()


def regular_candidates(conn: Connection, campaign_id: int, rater_id: str, task_types: Sequence[str],
                       pilot: Mapping[str, int], active: Sequence[str], overlap: int,
                       limit: int) -> list[tuple[int, str, str]]:
    """(item id, task type, phase) of up to `limit` unseen regular items issued fewer than `overlap` times:
    items of the current pilot round (`pilot`: task type -> round) first, then of `active` task types, in
    input order."""
    # A correlated count per walked row (the (item_id, rater_id) index) and a walk in position order
    # (ix_campaign_items_order) stop at `limit`; an aggregate over all assignments would grow with the campaign.
    issued = select(func.count()).where(AssignmentRow.item_id == _ITEMS.id).scalar_subquery()
    piloting = [(_ITEMS.task_type == t) & (_ITEMS.pilot_round == round_) for t, round_ in pilot.items()]
    base = _unseen(campaign_id, rater_id, task_types)
    out: list[tuple[int, str, str]] = []
    for phase, condition in (("pilot", or_(*piloting) if piloting else None),
                             ("main", _ITEMS.task_type.in_(active) if active else None)):
        if condition is None or len(out) >= limit:
            continue
        rows = conn.execute(
            select(_ITEMS.id, _ITEMS.task_type)
            .where(base, _ITEMS.kind == "regular", condition, issued < overlap)
            .order_by(_ITEMS.position)
            .limit(limit - len(out))
        ).all()
        out += [(r.id, r.task_type, phase) for r in rows]
    return out


_DISPLAY_COUNTS = (
    select(func.coalesce(func.sum(case((AssignmentRow.shown_first == "a", 1), else_=0)), 0),
           func.coalesce(func.sum(case((AssignmentRow.shown_first == "b", 1), else_=0)), 0))
    .where(AssignmentRow.item_id == bindparam("item"))
)


def display_counts(conn: Connection, item_id: int) -> tuple[int, int]:
    """How often an item was issued with a shown first, and with b shown first."""
    a_first, b_first = conn.execute(_DISPLAY_COUNTS, {"item": item_id}).one()
    return a_first, b_first


def add_assignment(conn: Connection, campaign_id: int, item_id: int, rater_id: str, objectives: list[str],
                   shown_first: str, phase: str, rubric_version: str) -> int:
    result = conn.execute(AssignmentRow.__table__.insert().returning(AssignmentRow.id), {
        "campaign_id": campaign_id, "item_id": item_id, "rater_id": rater_id, "objectives": objectives,
        "shown_first": shown_first, "phase": phase, "rubric_version": rubric_version, "issued_at": _now()})
    return result.scalar_one()


_OPEN_TASKS = (
    select(AssignmentRow.id, CampaignRow.name, _ITEMS.task_type)
    .join(CampaignRow, CampaignRow.id == AssignmentRow.campaign_id)
    .join(_ITEMS, _ITEMS.id == AssignmentRow.item_id)
    .where(AssignmentRow.rater_id == bindparam("rater_id"), AssignmentRow.answered_at.is_(None))
    .order_by(AssignmentRow.id)
)
_RATER_CAMPAIGNS = (
    select(CampaignRow.name).join(_QUAL, _QUAL.campaign_id == CampaignRow.id)
    .where(_QUAL.rater_id == bindparam("rater_id"), _QUAL.status.in_(OPEN_STATUSES))
    .order_by(CampaignRow.id)
)
_RATER_PROGRESS = (select(func.count(AssignmentRow.answered_at), func.count())
                   .where(AssignmentRow.rater_id == bindparam("rater_id")))


def open_tasks(store: Store, rater_id: str) -> list[tuple[int, str, str]]:
    """A rater's open assignments (id, campaign, task type), oldest first; paused ones are withdrawn."""
    with store.connect() as conn:
        rows = conn.execute(_OPEN_TASKS, {"rater_id": rater_id}).all()
    return [(r.id, r.name, r.task_type) for r in rows]


def rater_campaigns(store: Store, rater_id: str) -> list[str]:
    """Campaigns a rater is enrolled in and may still work on."""
    with store.connect() as conn:
        return list(conn.execute(_RATER_CAMPAIGNS, {"rater_id": rater_id}).scalars())


def rater_progress(store: Store, rater_id: str) -> tuple[int, int]:
    """(answered, issued) assignments of a rater over all campaigns."""
    with store.connect() as conn:
        answered, issued = conn.execute(_RATER_PROGRESS, {"rater_id": rater_id}).one()
    return answered, issued


@dataclass(frozen=True)
class TaskRecord:
    """An assignment with its campaign, item and texts (a and b in canonical order)."""

    id: int
    campaign_id: int
    campaign: str
    interface: str
    task_type: str
    kind: str
    pair_id: str
    objectives: list[str]
    shown_first: str
    phase: str
    rubric_version: str | None
    issued_at: datetime
    first_shown_at: datetime | None
    answered_at: datetime | None
    prompt: str
    a: str
    b: str
    task: str = "pairwise"
    task_spec: dict[str, Any] | None = None


def _task_record_stmt():  # noqa: ANN202
    a, ra, rb = AssignmentRow, aliased(ResponseRow), aliased(ResponseRow)
    return (
        select(a.id, a.campaign_id, CampaignRow.name.label("campaign"), CampaignRow.interface, _ITEMS.task_type,
               _ITEMS.kind, _ITEMS.pair_id, a.objectives, a.shown_first, a.phase, a.rubric_version, a.issued_at,
               a.first_shown_at, a.answered_at, PromptRow.text.label("prompt"), ra.text.label("a"),
               rb.text.label("b"), _ITEMS.task, _ITEMS.task_spec)
        .join(CampaignRow, CampaignRow.id == a.campaign_id)
        .join(_ITEMS, _ITEMS.id == a.item_id)
        .join(PromptRow, PromptRow.id == _ITEMS.prompt_id)
        .join(ra, ra.id == _ITEMS.response_a_id)
        .join(rb, rb.id == _ITEMS.response_b_id)
        .where(a.id == bindparam("assignment"), a.rater_id == bindparam("rater"))
    )


# Built once: fresh aliases on every call made each page view compile this join anew (2 ms of CPU; 0.08 ms reused)
_TASK_RECORD = _task_record_stmt()


def task_record(conn: Connection, assignment_id: int, rater_id: str) -> TaskRecord | None:
    """A rater's own assignment, or None (also for anyone else's)."""
    row = conn.execute(_TASK_RECORD, {"assignment": assignment_id, "rater": rater_id}).first()
    return None if row is None else TaskRecord(**row._mapping)


_MARK_SHOWN = (update(AssignmentRow)
               .where(AssignmentRow.id == bindparam("assignment"), AssignmentRow.first_shown_at.is_(None))
               .values(first_shown_at=bindparam("at")))
_CLAIM = (update(AssignmentRow)
          .where(AssignmentRow.id == bindparam("assignment"), AssignmentRow.rater_id == bindparam("rater"),
                 AssignmentRow.answered_at.is_(None))
          .values(answered_at=bindparam("at")))
_ANSWERED_AT = select(AssignmentRow.answered_at).where(AssignmentRow.id == bindparam("assignment"),
                                                       AssignmentRow.rater_id == bindparam("rater"))
_RECORD_ANSWER = (update(AssignmentRow).where(AssignmentRow.id == bindparam("assignment"))
                  .values(time_on_task_ms=bindparam("ms"), answers=bindparam("answer")))


def mark_shown(store: Store, assignment_id: int) -> None:
    """Start an assignment's time on task, unless it has started."""
    with store.write_transaction() as conn:
        conn.execute(_MARK_SHOWN, {"assignment": assignment_id, "at": _now()})


def claim_assignment(conn: Connection, assignment_id: int, rater_id: str, now: datetime) -> str:
    """Mark a rater's open assignment answered at `now`: 'claimed', else 'answered' (before) or 'missing'."""
    params = {"assignment": assignment_id, "rater": rater_id}
    if conn.execute(_CLAIM, {**params, "at": now}).rowcount:
        return "claimed"
    exists = conn.execute(_ANSWERED_AT, params).first()
    return "missing" if exists is None else "answered"


def record_answer(conn: Connection, assignment_id: int, time_on_task_ms: int, answers: dict[str, Any]) -> None:
    conn.execute(_RECORD_ANSWER, {"assignment": assignment_id, "ms": time_on_task_ms, "answer": answers})


def gold_answers(conn: Connection, campaign_id: int, rater_id: str, *, after: int = 0) -> list[tuple[Any, Any]]:
    """(answers, expected) of a rater's answered gold items after assignment id `after`."""
    rows = conn.execute(
        select(AssignmentRow.answers, _ITEMS.expected)
        .join(_ITEMS, _ITEMS.id == AssignmentRow.item_id)
        .where(AssignmentRow.campaign_id == campaign_id, AssignmentRow.rater_id == rater_id,
               _ITEMS.kind == "gold", AssignmentRow.answered_at.is_not(None), AssignmentRow.id > after)
    ).all()
    return [tuple(r) for r in rows]
