"""Issuing work and taking answers: counterbalanced display order, no repeats, paused task types skipped.

Display order: for each pair the orders given so far are kept balanced (the next rater gets
the order shown less often) and a fair coin decides when they are level, so every pair is
seen in both orders by different raters and no rater's order is predictable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, and_, case, func, or_, select, update
from sqlalchemy.orm import aliased

from tether.collect.campaign import (
    CampaignError,
    CampaignInfo,
    _set_state,
    current_rubric,
    get_campaign,
    task_type_states,
    withdraw_open_assignments,
)
from tether.collect.campaign_checks import agreement_by_task_type, paused_task_types
from tether.collect.db import write_transaction
from tether.records import Comparison, Side
from tether.store import Store
from tether.store.collect_models import AssignmentRow, CampaignItemRow, CampaignRow, RaterQualificationRow
from tether.store.models import ComparisonRow, PromptRow, ResponseRow

Display = Literal["first", "second", "tie"]
OPEN_STATUSES = ("qualifying", "qualified", "requalify")


class TaskNotFound(LookupError):
    """No such open task for this rater (never says whether it exists for someone else)."""


class AlreadyAnswered(RuntimeError):
    """The task was answered before; answers are final."""


def _now() -> datetime:
    return datetime.now(UTC)


def _lock_campaign(conn: Connection, name: str) -> CampaignInfo:
    """Start the transaction with a write on the campaign row: serializes issuance per campaign."""
    conn.execute(update(CampaignRow).where(CampaignRow.name == name)
                 .values(lock_counter=CampaignRow.lock_counter + 1))
    return get_campaign(conn, name)


def _qualification(conn: Connection, campaign_id: int, rater_id: str):  # noqa: ANN202
    return conn.execute(select(RaterQualificationRow).where(
        RaterQualificationRow.campaign_id == campaign_id, RaterQualificationRow.rater_id == rater_id)).first()


def _queue_is_full(store: Store, campaign: str, rater_id: str) -> bool:
    with store.engine.connect() as conn:
        size, open_count = conn.execute(
            select(CampaignRow.queue_size, func.count(AssignmentRow.id))
            .outerjoin(AssignmentRow, and_(AssignmentRow.campaign_id == CampaignRow.id,
                                           AssignmentRow.rater_id == rater_id, AssignmentRow.answered_at.is_(None)))
            .where(CampaignRow.name == campaign).group_by(CampaignRow.queue_size)
        ).first() or (0, 0)
    return size > 0 and open_count >= size


def fill_queue(store: Store, campaign: str, rater_id: str, *, rng: random.Random | None = None) -> list[int]:
    """Issue new assignments to a rater until their open queue is full; returns the new assignment ids."""
    rng = rng or random.SystemRandom()
    if _queue_is_full(store, campaign, rater_id):  # the common case on every page view: no write needed
        return []
    with write_transaction(store) as conn:
        info = _lock_campaign(conn, campaign)
        s = info.settings
        qual = _qualification(conn, info.id, rater_id)
        if qual is None or qual.status not in OPEN_STATUSES:
            return []
        states = task_type_states(conn, info.id)
        open_types = [t for t, st in states.items() if st.status != "paused"]
        if not open_types:
            return []
        open_count = conn.execute(select(func.count()).select_from(AssignmentRow).where(
            AssignmentRow.campaign_id == info.id, AssignmentRow.rater_id == rater_id,
            AssignmentRow.answered_at.is_(None))).scalar_one()
        need = s.queue_size - open_count
        if need <= 0:
            return []
        seen = select(AssignmentRow.item_id).where(AssignmentRow.rater_id == rater_id,
                                                   AssignmentRow.campaign_id == info.id)
        base = (CampaignItemRow.campaign_id == info.id) & CampaignItemRow.task_type.in_(open_types) & (
            ~CampaignItemRow.id.in_(seen))

        def unseen_checks(kind: str, limit: int) -> list:  # noqa: ANN202
            rows = conn.execute(select(CampaignItemRow.id, CampaignItemRow.task_type, CampaignItemRow.kind)
                                .where(base, CampaignItemRow.kind == kind)).all()
            rng.shuffle(rows)
            return rows[:limit]

        chosen: list[tuple[int, str, str, str]] = []  # item id, task type, kind, phase
        if qual.status in ("qualifying", "requalify"):
            # qualification: gold items only, as many as still needed
            done = conn.execute(select(func.count()).select_from(AssignmentRow).join(
                CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id).where(
                AssignmentRow.rater_id == rater_id, AssignmentRow.campaign_id == info.id,
                CampaignItemRow.kind == "gold", AssignmentRow.id > qual.since_assignment)).scalar_one()
            want = min(need, max(s.qualification_gold, 1) - done)
            chosen = [(r.id, r.task_type, r.kind, "qualification") for r in unseen_checks("gold", want)]
        else:
            regular = _regular_candidates(conn, info, states, base, need)
            golds = unseen_checks("gold", need)
            attention = unseen_checks("attention", need)
            for _ in range(need):
                roll = rng.random()
                if roll < s.gold_rate and golds:
                    r = golds.pop()
                    chosen.append((r.id, r.task_type, r.kind, "gold"))
                elif roll < s.gold_rate + s.attention_rate and attention:
                    r = attention.pop()
                    chosen.append((r.id, r.task_type, r.kind, "attention"))
                elif regular:
                    chosen.append(regular.pop(0))
        return [_issue(conn, info, rater_id, item_id, task_type, phase, rng)
                for item_id, task_type, _kind, phase in chosen]


def _regular_candidates(conn: Connection, info: CampaignInfo, states: Mapping, base, limit: int  # noqa: ANN001
                        ) -> list[tuple[int, str, str, str]]:
    """Up to `limit` regular items this rater may get: pilot items first, then in input order."""
    # A correlated count per walked row (the (item_id, rater_id) index) and a walk in position order
    # (ix_campaign_items_order) stop at `limit`; an aggregate over all assignments would grow with the campaign.
    issued = select(func.count()).where(AssignmentRow.item_id == CampaignItemRow.id).scalar_subquery()
    piloting = [(CampaignItemRow.task_type == t) & (CampaignItemRow.pilot_round == st.pilot_round)
                for t, st in states.items() if st.status == "pilot"]
    active = [t for t, st in states.items() if st.status == "active"]
    out: list[tuple[int, str, str, str]] = []
    for phase, condition in (("pilot", or_(*piloting) if piloting else None),
                             ("main", CampaignItemRow.task_type.in_(active) if active else None)):
        if condition is None or len(out) >= limit:
            continue
        rows = conn.execute(
            select(CampaignItemRow.id, CampaignItemRow.task_type)
            .where(base, CampaignItemRow.kind == "regular", condition, issued < info.settings.overlap)
            .order_by(CampaignItemRow.position)
            .limit(limit - len(out))
        ).all()
        out += [(r.id, r.task_type, "regular", phase) for r in rows]
    return out


def _issue(conn: Connection, info: CampaignInfo, rater_id: str, item_id: int, task_type: str, phase: str,
           rng: random.Random) -> int:
    a_first, b_first = conn.execute(
        select(func.coalesce(func.sum(case((AssignmentRow.shown_first == "a", 1), else_=0)), 0),
               func.coalesce(func.sum(case((AssignmentRow.shown_first == "b", 1), else_=0)), 0))
        .where(AssignmentRow.item_id == item_id)).one()
    # counterbalance when the orders so far are uneven, a fair coin when they are level
    shown_first = rng.choice("ab") if a_first == b_first else ("a" if a_first < b_first else "b")
    version, _ = current_rubric(conn, info.id, task_type)
    result = conn.execute(AssignmentRow.__table__.insert().returning(AssignmentRow.id), {
        "campaign_id": info.id, "item_id": item_id, "rater_id": rater_id, "objectives": info.settings.objectives,
        "shown_first": shown_first, "phase": phase, "rubric_version": version, "issued_at": _now()})
    return result.scalar_one()


@dataclass(frozen=True)
class Task:
    """What a rater's task page shows, in the order this rater sees it."""

    id: int
    campaign: str
    task_type: str
    objectives: list[str]
    rubric_version: str | None
    rubric: str
    prompt: str
    first: str
    second: str
    shown_first: Side
    answered: bool


def open_tasks(store: Store, rater_id: str) -> list[tuple[int, str, str]]:
    """A rater's open assignments (id, campaign, task type), oldest first; paused ones are withdrawn."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(AssignmentRow.id, CampaignRow.name, CampaignItemRow.task_type)
            .join(CampaignRow, CampaignRow.id == AssignmentRow.campaign_id)
            .join(CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id)
            .where(AssignmentRow.rater_id == rater_id, AssignmentRow.answered_at.is_(None))
            .order_by(AssignmentRow.id)
        ).all()
    return [(r.id, r.name, r.task_type) for r in rows]


def rater_campaigns(store: Store, rater_id: str) -> list[str]:
    """Campaigns a rater is enrolled in and may still work on."""
    with store.engine.connect() as conn:
        return list(conn.execute(
            select(CampaignRow.name).join(RaterQualificationRow, RaterQualificationRow.campaign_id == CampaignRow.id)
            .where(RaterQualificationRow.rater_id == rater_id, RaterQualificationRow.status.in_(OPEN_STATUSES))
            .order_by(CampaignRow.id)).scalars())


def rater_progress(store: Store, rater_id: str) -> tuple[int, int]:
    """(answered, issued) assignments of a rater over all campaigns."""
    with store.engine.connect() as conn:
        answered, issued = conn.execute(
            select(func.count(AssignmentRow.answered_at), func.count()).where(AssignmentRow.rater_id == rater_id)
        ).one()
    return answered, issued


def get_task(store: Store, assignment_id: int, rater_id: str, *, mark_shown: bool = True) -> Task:
    """A rater's own task (TaskNotFound for anyone else's); the first view starts the time on task."""
    ra, rb = aliased(ResponseRow), aliased(ResponseRow)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(AssignmentRow, CampaignRow.name.label("campaign"), CampaignItemRow.task_type,
                   PromptRow.text.label("prompt"), ra.text.label("a"), rb.text.label("b"))
            .join(CampaignRow, CampaignRow.id == AssignmentRow.campaign_id)
            .join(CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id)
            .join(PromptRow, PromptRow.id == CampaignItemRow.prompt_id)
            .join(ra, ra.id == CampaignItemRow.response_a_id)
            .join(rb, rb.id == CampaignItemRow.response_b_id)
            .where(AssignmentRow.id == assignment_id, AssignmentRow.rater_id == rater_id)
        ).first()
        if row is None:
            raise TaskNotFound(assignment_id)
        version, text = current_rubric(conn, row.campaign_id, row.task_type)
    if mark_shown and row.first_shown_at is None and row.answered_at is None:
        with write_transaction(store) as conn:  # the first view starts the clock; later views do not move it
            conn.execute(update(AssignmentRow).where(AssignmentRow.id == assignment_id,
                                                     AssignmentRow.first_shown_at.is_(None))
                         .values(first_shown_at=_now()))
    if row.rubric_version and row.rubric_version != version:
        version = row.rubric_version  # issued under an older version: show that one's text
        with store.engine.connect() as conn:
            text = _rubric_text(conn, row.campaign_id, row.task_type, version) or text
    first, second = (row.a, row.b) if row.shown_first == "a" else (row.b, row.a)
    return Task(id=row.id, campaign=row.campaign, task_type=row.task_type, objectives=list(row.objectives),
                rubric_version=version, rubric=text, prompt=row.prompt, first=first, second=second,
                shown_first=Side(row.shown_first), answered=row.answered_at is not None)


def _rubric_text(conn: Connection, campaign_id: int, task_type: str, version: str) -> str | None:
    from tether.store.collect_models import RubricVersionRow

    return conn.execute(select(RubricVersionRow.text).where(
        RubricVersionRow.campaign_id == campaign_id, RubricVersionRow.version == version,
        RubricVersionRow.task_type.in_((task_type, "*"))).order_by(RubricVersionRow.id.desc()).limit(1)).scalar()


def to_canonical(display: Display, shown_first: Side) -> str:
    """A display-terms answer (first / second / tie) as the canonical choice (a / b / tie)."""
    if display == "tie":
        return "tie"
    return shown_first.value if display == "first" else shown_first.other.value


def submit_answer(store: Store, assignment_id: int, rater_id: str, choices: Mapping[str, Display],
                  confidence: float | None = None) -> list[Comparison]:
    """Record a rater's answer: one Comparison per objective, in canonical terms with the order they saw."""
    now = _now()
    with write_transaction(store) as conn:
        # the write comes first: it takes the write lock and claims the task atomically
        claimed = conn.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == assignment_id, AssignmentRow.rater_id == rater_id,
                   AssignmentRow.answered_at.is_(None))
            .values(answered_at=now)
        ).rowcount
        if not claimed:
            exists = conn.execute(select(AssignmentRow.answered_at).where(
                AssignmentRow.id == assignment_id, AssignmentRow.rater_id == rater_id)).first()
            if exists is None:
                raise TaskNotFound(assignment_id)
            raise AlreadyAnswered(assignment_id)
        ra, rb = aliased(ResponseRow), aliased(ResponseRow)
        row = conn.execute(
            select(AssignmentRow, CampaignRow.name.label("campaign"), CampaignRow.interface,
                   CampaignItemRow.task_type, CampaignItemRow.kind, CampaignItemRow.expected,
                   CampaignItemRow.pair_id, PromptRow.text.label("prompt"), ra.text.label("a"), rb.text.label("b"))
            .join(CampaignRow, CampaignRow.id == AssignmentRow.campaign_id)
            .join(CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id)
            .join(PromptRow, PromptRow.id == CampaignItemRow.prompt_id)
            .join(ra, ra.id == CampaignItemRow.response_a_id)
            .join(rb, rb.id == CampaignItemRow.response_b_id)
            .where(AssignmentRow.id == assignment_id)
        ).one()
        if set(choices) != set(row.objectives):
            raise ValueError(f"answer every objective exactly once: expected {sorted(row.objectives)}, "
                             f"got {sorted(choices)}")
        shown_first = Side(row.shown_first)
        started = row.first_shown_at or row.issued_at
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        time_ms = max(0, int((now - started).total_seconds() * 1000))
        canonical = {obj: to_canonical(choices[obj], shown_first) for obj in row.objectives}
        extras = {"assignment_id": row.id, "time_on_task_ms": time_ms}
        if row.kind != "regular":
            extras["item_kind"] = row.kind
        comparisons = [
            Comparison(prompt=row.prompt, response_a=row.a, response_b=row.b, shown_first=shown_first,
                       choice=canonical[obj], rater=rater_id, pair_id=row.pair_id, objective=obj,
                       task_type=row.task_type, confidence=confidence, campaign=row.campaign,
                       interface=row.interface, rubric_version=row.rubric_version, created_at=now, **extras)
            for obj in row.objectives
        ]
        store.add_comparisons(comparisons, conn=conn)
        conn.execute(update(AssignmentRow).where(AssignmentRow.id == assignment_id).values(
            time_on_task_ms=time_ms, answers={"choices": canonical, "confidence": confidence}))
        info = get_campaign(conn, row.campaign)
        if row.phase == "qualification":
            _update_qualification(conn, info, rater_id)
        elif row.phase == "pilot":
            review_pilot(conn, info, row.task_type)
    return comparisons


def gold_accuracy(conn: Connection, campaign_id: int, rater_id: str, *, after: int = 0) -> tuple[float | None, int]:
    """(share of objectives answered as expected, gold answers) over a rater's answered gold items."""
    rows = conn.execute(
        select(AssignmentRow.answers, CampaignItemRow.expected)
        .join(CampaignItemRow, CampaignItemRow.id == AssignmentRow.item_id)
        .where(AssignmentRow.campaign_id == campaign_id, AssignmentRow.rater_id == rater_id,
               CampaignItemRow.kind == "gold", AssignmentRow.answered_at.is_not(None), AssignmentRow.id > after)
    ).all()
    hits = total = 0
    for answers, expected in rows:
        for obj, want in (expected or {}).items():
            got = (answers or {}).get("choices", {}).get(obj)
            if got is not None:
                hits += got == want
                total += 1
    return (hits / total if total else None), len(rows)


def _update_qualification(conn: Connection, info: CampaignInfo, rater_id: str) -> None:
    qual = _qualification(conn, info.id, rater_id)
    accuracy, n = gold_accuracy(conn, info.id, rater_id, after=qual.since_assignment)
    need = max(info.settings.qualification_gold, 1)
    if n < need or accuracy is None:
        return
    passed = accuracy >= info.settings.pass_threshold
    conn.execute(update(RaterQualificationRow).where(RaterQualificationRow.id == qual.id).values(
        status="qualified" if passed else "failed", gold_accuracy=accuracy, n_gold=n, updated_at=_now(),
        reason=f"gold accuracy {accuracy:.2f} on {n} items ({'>=' if passed else '<'} "
               f"{info.settings.pass_threshold:.2f})"))


def pilot_comparisons(conn: Connection, info: CampaignInfo, task_type: str, round_: int) -> list[Comparison]:
    """The stored judgments of one pilot round of a task type."""
    from tether.store.repository import comparison_from_row

    ra, rb = aliased(ResponseRow), aliased(ResponseRow)
    stmt = (
        select(ComparisonRow.__table__, PromptRow.text.label("_prompt"), ra.text.label("_a"), rb.text.label("_b"))
        .join(PromptRow, PromptRow.id == ComparisonRow.prompt_id)
        .join(ra, ra.id == ComparisonRow.response_a_id)
        .join(rb, rb.id == ComparisonRow.response_b_id)
        .join(CampaignItemRow, and_(CampaignItemRow.pair_id == ComparisonRow.pair_id,
                                    CampaignItemRow.campaign_id == info.id))
        .where(ComparisonRow.campaign == info.settings.name, CampaignItemRow.task_type == task_type,
               CampaignItemRow.pilot_round == round_, CampaignItemRow.kind == "regular")
    )
    return [comparison_from_row(r, r._prompt, r._a, r._b) for r in conn.execute(stmt)]


def review_pilot(conn: Connection, info: CampaignInfo, task_type: str, *, force: bool = False) -> str | None:
    """When a task type's pilot round is fully answered, decide: active, or paused (agreement < threshold)."""
    state = task_type_states(conn, info.id)[task_type]
    if state.status != "pilot":
        return None
    answered = func.count(AssignmentRow.answered_at)
    per_item = conn.execute(
        select(CampaignItemRow.id, answered.label("n"))
        .outerjoin(AssignmentRow, AssignmentRow.item_id == CampaignItemRow.id)
        .where(CampaignItemRow.campaign_id == info.id, CampaignItemRow.task_type == task_type,
               CampaignItemRow.pilot_round == state.pilot_round)
        .group_by(CampaignItemRow.id)
    ).all()
    if not force and any(n < info.settings.overlap for _, n in per_item):
        return None
    threshold = info.settings.agreement_threshold
    value = agreement_by_task_type(pilot_comparisons(conn, info, task_type, state.pilot_round)).get(task_type)
    if value is None:
        if not force:
            return None
        raise CampaignError(f"task type {task_type!r}: too few pilot items with two answers to judge agreement")
    if task_type in paused_task_types({task_type: value}, threshold):
        _set_state(conn, info, task_type, status="paused", agreement=value,
                   reason=f"pilot round {state.pilot_round}: Krippendorff's alpha {value:.3f} < {threshold} "
                          f"(ambiguous rubric {state.rubric_version}); publish a revised rubric to resume")
        withdraw_open_assignments(conn, info.id, task_type)
        return "paused"
    _set_state(conn, info, task_type, status="active", agreement=value,
               reason=f"pilot round {state.pilot_round}: Krippendorff's alpha {value:.3f} >= {threshold}")
    return "active"


def review_pilots(store: Store, campaign: str, *, force: bool = False) -> dict[str, str | None]:
    """Review every task type still in its pilot; `force` decides on the answers so far."""
    with write_transaction(store) as conn:
        info = _lock_campaign(conn, campaign)
        return {tt: review_pilot(conn, info, tt, force=force)
                for tt, st in task_type_states(conn, info.id).items() if st.status == "pilot"}
