"""SQL for annotation campaigns: items, rubrics, task type states, pilots, enrolment (a rater's assignments:
`assignment_repo`; credentials and sessions: `credentials_repo`).

The collect stage keeps the policy (what to issue, in which order, when a pilot passes) and calls
these with the handle of its transaction (`Store.write_transaction()`, or `Store.connect()` to read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update
from sqlalchemy.orm import aliased

from tether.records import Comparison, Rating, content_hash
from tether.store.bulk import aware as _aware
from tether.store.bulk import insert_ignore
from tether.store.collect_models import (
    AssignmentRow,
    CampaignItemRow,
    CampaignRow,
    RaterQualificationRow,
    RubricVersionRow,
    TaskTypeStateRow,
)
from tether.store.models import ComparisonRow, PromptRow, RaterRow, RatingRow, ResponseRow
from tether.store.ratings_repo import rating_from_row, ratings_select
from tether.store.repository import Store, comparison_from_row, comparisons_select

OPEN_STATUSES = ("qualifying", "qualified", "requalify")  # enrolments that may still get work
_ITEMS, _QUAL = CampaignItemRow, RaterQualificationRow


def _now() -> datetime:
    return datetime.now(UTC)


_LOCK_CAMPAIGN = (update(CampaignRow).where(CampaignRow.name == bindparam("campaign_name"))
                  .values(lock_counter=CampaignRow.lock_counter + 1))
_CAMPAIGN_ROW = select(CampaignRow).where(CampaignRow.name == bindparam("campaign_name"))


def campaign_row(conn: Connection, name: str, *, lock: bool = False) -> dict[str, Any] | None:
    """A campaign's stored columns by name, or None; `lock` first writes to the row, which serializes
    issuance per campaign (a row lock on PostgreSQL, SQLite's write lock taken up front)."""
    if lock:
        conn.execute(_LOCK_CAMPAIGN, {"campaign_name": name})
    row = conn.execute(_CAMPAIGN_ROW, {"campaign_name": name}).first()
    return None if row is None else dict(row._mapping)


def campaign_names(store: Store) -> list[str]:
    with store.connect() as conn:
        return list(conn.execute(select(CampaignRow.name).order_by(CampaignRow.id)).scalars())


def add_campaign(conn: Connection, settings: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
                 rubric_version: str, rubric: str) -> bool:
    """Store a campaign, its items in input order (pair_id, prompt, response_a, response_b, task_type, kind,
    expected), its default rubric and each task type in pilot round 1; False (nothing written) if the name is taken."""
    if conn.execute(select(CampaignRow.id).where(CampaignRow.name == settings["name"])).scalar() is not None:
        return False
    campaign_id = conn.execute(CampaignRow.__table__.insert().returning(CampaignRow.id),
                               {**settings, "lock_counter": 0, "created_at": _now()}).scalar_one()
    prompts = {content_hash(i["prompt"]): i["prompt"] for i in items}
    responses = {content_hash(t): t for i in items for t in (i["response_a"], i["response_b"])}
    insert_ignore(conn, PromptRow.__table__, [{"id": k, "text": v} for k, v in prompts.items()])
    insert_ignore(conn, ResponseRow.__table__, [{"id": k, "text": v} for k, v in responses.items()])
    conn.execute(_ITEMS.__table__.insert(), [{
        "campaign_id": campaign_id, "pair_id": i["pair_id"], "prompt_id": content_hash(i["prompt"]),
        "response_a_id": content_hash(i["response_a"]), "response_b_id": content_hash(i["response_b"]),
        "task_type": i["task_type"], "kind": i["kind"], "expected": i["expected"], "pilot_round": None,
        "position": pos, "task": i.get("task", "pairwise"), "task_spec": i.get("task_spec"),
    } for pos, i in enumerate(items)])
    add_rubric(conn, campaign_id, "*", rubric_version, rubric)
    conn.execute(TaskTypeStateRow.__table__.insert(), [{
        "campaign_id": campaign_id, "task_type": task_type, "status": "pilot", "pilot_round": 1,
        "rubric_version": rubric_version, "agreement": None, "reason": "", "updated_at": _now()}
        for task_type in sorted({i["task_type"] for i in items})])
    return True


def add_rubric(conn: Connection, campaign_id: int, task_type: str, version: str, text: str) -> bool:
    """Publish a rubric version; False (nothing written) when that version exists for the task type."""
    exists = conn.execute(select(RubricVersionRow.id).where(
        RubricVersionRow.campaign_id == campaign_id, RubricVersionRow.task_type == task_type,
        RubricVersionRow.version == version)).scalar()
    if exists is not None:
        return False
    conn.execute(RubricVersionRow.__table__.insert(), [{
        "campaign_id": campaign_id, "task_type": task_type, "version": version, "text": text,
        "created_at": _now()}])
    return True


def rubric_published_at(conn: Connection, campaign_id: int, task_type: str) -> datetime:
    """When the rubric a task type uses now was published (its own latest, else the campaign default)."""
    for scope in (task_type, "*"):
        when = conn.execute(select(func.max(RubricVersionRow.created_at)).where(
            RubricVersionRow.campaign_id == campaign_id, RubricVersionRow.task_type == scope)).scalar()
        if when is not None:
            return _aware(when)
    raise LookupError(f"campaign {campaign_id} has no rubric")


# The rater pages' statements are built once, with bind parameters: building one per call (and its cache key)
# cost more CPU than running it on SQLite (see benchmarks/RESULTS.md, "Rater web app load").
_CURRENT_RUBRIC = (
    select(RubricVersionRow.version, RubricVersionRow.text)
    .where(RubricVersionRow.campaign_id == bindparam("campaign_id"), RubricVersionRow.task_type == bindparam("scope"))
    .order_by(RubricVersionRow.id.desc())
    .limit(1)
)


def current_rubric(conn: Connection, campaign_id: int, task_type: str) -> tuple[str, str]:
    """(version, text) of the rubric a task type uses now: its own latest, else the campaign default."""
    for scope in (task_type, "*"):
        row = conn.execute(_CURRENT_RUBRIC, {"campaign_id": campaign_id, "scope": scope}).first()
        if row is not None:
            return row.version, row.text
    raise LookupError(f"campaign {campaign_id} has no rubric")  # creating a campaign always writes one


def rubric_text(conn: Connection, campaign_id: int, task_type: str, version: str) -> str | None:
    """The text of a rubric version of a task type (or of the campaign default)."""
    return conn.execute(select(RubricVersionRow.text).where(
        RubricVersionRow.campaign_id == campaign_id, RubricVersionRow.version == version,
        RubricVersionRow.task_type.in_((task_type, "*"))).order_by(RubricVersionRow.id.desc()).limit(1)).scalar()


@dataclass(frozen=True)
class TaskTypeState:
    """A task type's state in a campaign."""

    task_type: str
    status: str
    pilot_round: int
    rubric_version: str | None
    agreement: float | None
    reason: str


def task_type_states(conn: Connection, campaign_id: int) -> dict[str, TaskTypeState]:
    rows = conn.execute(
        select(TaskTypeStateRow).where(TaskTypeStateRow.campaign_id == campaign_id).order_by(
            TaskTypeStateRow.task_type)
    ).all()
    return {r.task_type: TaskTypeState(r.task_type, r.status, r.pilot_round, r.rubric_version, r.agreement,
                                       r.reason) for r in rows}


def set_task_type_state(conn: Connection, campaign_id: int, task_type: str, **values: object) -> None:
    conn.execute(
        update(TaskTypeStateRow)
        .where(TaskTypeStateRow.campaign_id == campaign_id, TaskTypeStateRow.task_type == task_type)
        .values(updated_at=_now(), **values)
    )


def start_pilot_round(conn: Connection, campaign_id: int, task_type: str, round_: int, size: int) -> int:
    """Mark up to `size` never-issued regular items of a task type (input order) as a pilot round; how many."""
    ids = conn.execute(
        select(_ITEMS.id)
        .where(_ITEMS.campaign_id == campaign_id, _ITEMS.task_type == task_type,
               _ITEMS.kind == "regular", _ITEMS.pilot_round.is_(None),
               ~_ITEMS.id.in_(select(AssignmentRow.item_id).where(AssignmentRow.campaign_id == campaign_id)))
        .order_by(_ITEMS.position)
        .limit(size)
    ).scalars().all()
    if ids:
        conn.execute(update(_ITEMS).where(_ITEMS.id.in_(ids)).values(pilot_round=round_))
    return len(ids)


def pilot_answer_counts(conn: Connection, campaign_id: int, task_type: str, round_: int) -> list[int]:
    """Answers so far for each item of a pilot round."""
    return [n for _, n in conn.execute(
        select(_ITEMS.id, func.count(AssignmentRow.answered_at).label("n"))
        .outerjoin(AssignmentRow, AssignmentRow.item_id == _ITEMS.id)
        .where(_ITEMS.campaign_id == campaign_id, _ITEMS.task_type == task_type, _ITEMS.pilot_round == round_)
        .group_by(_ITEMS.id)
    )]


def pilot_comparisons(conn: Connection, campaign_id: int, campaign: str, task_type: str,
                      round_: int) -> list[Comparison]:
    """The stored judgments of one pilot round of a task type."""
    stmt = (
        comparisons_select()
        .join(_ITEMS, and_(_ITEMS.pair_id == ComparisonRow.pair_id, _ITEMS.campaign_id == campaign_id))
        .where(ComparisonRow.campaign == campaign, _ITEMS.task_type == task_type,
               _ITEMS.pilot_round == round_, _ITEMS.kind == "regular")
    )
    return [comparison_from_row(r, r._prompt, r._a, r._b) for r in conn.execute(stmt)]


def pilot_ratings(conn: Connection, campaign_id: int, campaign: str, task_type: str, round_: int) -> list[Rating]:
    """The stored ratings of one pilot round of a (rating) task type."""
    stmt = (ratings_select()
            .join(_ITEMS, and_(_ITEMS.pair_id == RatingRow.item_id, _ITEMS.campaign_id == campaign_id))
            .where(RatingRow.campaign == campaign, _ITEMS.task_type == task_type, _ITEMS.pilot_round == round_))
    return [rating_from_row(r) for r in conn.execute(stmt)]


def item_task(conn: Connection, item_id: int) -> tuple[str, dict[str, Any] | None]:
    """(task, task_spec) of a campaign item: "pairwise" or "rating" with its scale and objectives."""
    row = conn.execute(select(_ITEMS.task, _ITEMS.task_spec).where(_ITEMS.id == item_id)).one()
    return row.task, row.task_spec


def task_type_tasks(conn: Connection, campaign_id: int) -> dict[str, str]:
    """Task type -> its task ("pairwise" or "rating"; a campaign never mixes them within a task type)."""
    return dict(conn.execute(select(_ITEMS.task_type, _ITEMS.task).where(_ITEMS.campaign_id == campaign_id)
                             .distinct()).all())


def campaign_items(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Every pairwise item of a campaign with its texts (a and b canonical), in input order."""
    ra, rb = aliased(ResponseRow), aliased(ResponseRow)
    rows = conn.execute(
        select(_ITEMS.pair_id, _ITEMS.task_type, _ITEMS.kind, PromptRow.text.label("prompt"),
               ra.text.label("response_a"), rb.text.label("response_b"))
        .join(PromptRow, PromptRow.id == _ITEMS.prompt_id)
        .join(ra, ra.id == _ITEMS.response_a_id)
        .join(rb, rb.id == _ITEMS.response_b_id)
        .where(_ITEMS.campaign_id == campaign_id, _ITEMS.task == "pairwise")
        .order_by(_ITEMS.position, _ITEMS.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def campaign_counts(conn: Connection, campaign_id: int) -> tuple[list[tuple], list[tuple]]:
    """(task type, kind, items) and (task type, issued, answered, mean time on task in ms) of a campaign."""
    items = conn.execute(
        select(_ITEMS.task_type, _ITEMS.kind, func.count())
        .where(_ITEMS.campaign_id == campaign_id)
        .group_by(_ITEMS.task_type, _ITEMS.kind)
    ).all()
    work = conn.execute(
        select(_ITEMS.task_type, func.count(AssignmentRow.id), func.count(AssignmentRow.answered_at),
               func.avg(AssignmentRow.time_on_task_ms))
        .join(_ITEMS, _ITEMS.id == AssignmentRow.item_id)
        .where(AssignmentRow.campaign_id == campaign_id)
        .group_by(_ITEMS.task_type)
    ).all()
    return [tuple(r) for r in items], [tuple(r) for r in work]


def assignment_log(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Every assignment of a campaign with its item, oldest first, in the export's field names and order."""
    a = AssignmentRow
    rows = conn.execute(
        select(a.id.label("assignment_id"), a.rater_id.label("rater"), _ITEMS.pair_id, _ITEMS.task_type,
               _ITEMS.task, _ITEMS.kind.label("item_kind"), a.objectives, a.shown_first, a.phase, a.rubric_version,
               a.issued_at, a.first_shown_at, a.answered_at, a.time_on_task_ms, a.answers)
        .join(_ITEMS, _ITEMS.id == a.item_id)
        .where(a.campaign_id == campaign_id)
        .order_by(a.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def known_raters(conn: Connection, rater_ids: Sequence[str]) -> set[str]:
    """Which of these rater ids are stored."""
    return set(conn.execute(select(RaterRow.id).where(RaterRow.id.in_(rater_ids))).scalars())


def enroll(conn: Connection, campaign_id: int, rater_ids: Sequence[str], status: str) -> int:
    """Enrol raters not yet enrolled, with this status; returns how many were new."""
    def count() -> int:
        return conn.execute(select(func.count()).select_from(_QUAL).where(
            _QUAL.campaign_id == campaign_id)).scalar_one()

    before = count()
    insert_ignore(conn, _QUAL.__table__, [
        {"campaign_id": campaign_id, "rater_id": r, "status": status, "gold_accuracy": None, "n_gold": 0,
         "since_assignment": 0, "reason": "enrolled", "updated_at": _now()} for r in rater_ids])
    return count() - before


@dataclass(frozen=True)
class Enrolment:
    """A rater's enrolment in a campaign: qualification status, since which assignment gold counts, why."""

    id: int
    rater_id: str
    status: str
    since_assignment: int
    reason: str


def enrolments(conn: Connection, campaign_id: int, *, rater_id: str | None = None,
               status: str | None = None) -> list[Enrolment]:
    """A campaign's enrolments (one rater's, or those with a status), by rater id."""
    stmt = select(_QUAL).where(_QUAL.campaign_id == campaign_id)
    if rater_id is not None:
        stmt = stmt.where(_QUAL.rater_id == rater_id)
    if status is not None:
        stmt = stmt.where(_QUAL.status == status)
    return [Enrolment(r.id, r.rater_id, r.status, r.since_assignment, r.reason)
            for r in conn.execute(stmt if rater_id is not None else stmt.order_by(_QUAL.rater_id))]


def update_enrolment(conn: Connection, enrolment_id: int, **values: object) -> None:
    conn.execute(update(_QUAL).where(_QUAL.id == enrolment_id).values(updated_at=_now(), **values))


def withdraw_for_requalification(conn: Connection, campaign_id: int, rater_id: str) -> int:
    """Delete a rater's open non-gold assignments; returns the last assignment id (ids never repeat)."""
    regular = select(_ITEMS.id).where(_ITEMS.campaign_id == campaign_id, _ITEMS.kind != "gold")
    conn.execute(delete(AssignmentRow).where(
        AssignmentRow.campaign_id == campaign_id, AssignmentRow.rater_id == rater_id,
        AssignmentRow.answered_at.is_(None), AssignmentRow.item_id.in_(regular)))
    return conn.execute(select(func.coalesce(func.max(AssignmentRow.id), 0))).scalar_one()
