"""Campaigns: settings, items (regular, gold, attention), rubric versions, enrolment, pause state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import Connection, delete, func, select, update

from tether.collect.db import write_transaction
from tether.io.errors import BadLine, InputError, bad_from_validation
from tether.io.jsonl import iter_jsonl
from tether.records import content_hash, default_pair_id
from tether.store import Store
from tether.store.bulk import insert_ignore
from tether.store.collect_models import (
    AssignmentRow,
    CampaignItemRow,
    CampaignRow,
    RaterQualificationRow,
    RubricVersionRow,
    TaskTypeStateRow,
)
from tether.store.models import PromptRow, RaterRow, ResponseRow

Answer = Literal["a", "b", "tie"]
Objective = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class CampaignError(ValueError):
    """A campaign operation that cannot be done as asked (unknown name, bad state)."""


class CampaignSettings(BaseModel):
    """How a campaign runs; validated once, stored on the campaign row."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    description: StrictStr = ""
    objectives: list[Objective] = Field(default_factory=lambda: ["overall"], min_length=1)
    overlap: int = Field(default=3, ge=2, le=50)
    pilot_items: int = Field(default=10, ge=0)
    agreement_threshold: float = Field(default=0.4, ge=-1.0, le=1.0)
    gold_rate: float = Field(default=0.1, ge=0.0, le=0.5)
    attention_rate: float = Field(default=0.05, ge=0.0, le=0.5)
    qualification_gold: int = Field(default=0, ge=0)
    pass_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    queue_size: int = Field(default=5, ge=1, le=100)
    interface: StrictStr = "tether-web"

    @model_validator(mode="after")
    def _distinct_objectives(self) -> CampaignSettings:
        if len(set(self.objectives)) != len(self.objectives):
            raise ValueError(f"objectives repeat: {self.objectives}")
        return self


class CampaignItem(BaseModel):
    """One line of a campaign's item file: a pair, its task type, and the expected answer for gold items."""

    model_config = ConfigDict(extra="forbid")
    prompt: StrictStr
    response_a: StrictStr
    response_b: StrictStr
    task_type: StrictStr = Field(default="default", min_length=1, max_length=128)
    pair_id: StrictStr | None = None
    kind: Literal["regular", "gold", "attention"] = "regular"
    expected: dict[Objective, Answer] | None = None

    @model_validator(mode="after")
    def _expected_only_for_checks(self) -> CampaignItem:
        if self.kind == "regular" and self.expected:
            raise ValueError("'expected' is only for gold and attention items (set kind)")
        if self.kind != "regular" and not self.expected:
            raise ValueError(f"a {self.kind} item needs 'expected': {{objective: 'a' | 'b' | 'tie'}}")
        if self.response_a == self.response_b:
            raise ValueError("response_a and response_b are the same text")
        return self

    @property
    def resolved_pair_id(self) -> str:
        return self.pair_id or default_pair_id(self.prompt, self.response_a, self.response_b)


def read_items(path: Path) -> list[CampaignItem]:
    """Read a JSONL item file; the first bad line raises InputError naming file, line and key."""
    items: list[CampaignItem] = []
    for lineno, obj, raw in iter_jsonl(path):
        if isinstance(obj, BadLine):
            raise InputError(obj)
        try:
            items.append(CampaignItem.model_validate(obj))
        except ValidationError as exc:
            raise InputError(bad_from_validation(str(path), lineno, exc, raw)) from None
    if not items:
        raise InputError(BadLine(str(path), 0, None, "no items in file"))
    return items


@dataclass(frozen=True)
class CampaignInfo:
    """A stored campaign's settings and id."""

    id: int
    settings: CampaignSettings


def _now() -> datetime:
    return datetime.now(UTC)


def get_campaign(conn: Connection, name: str) -> CampaignInfo:
    """Load a campaign by name; CampaignError if there is none."""
    row = conn.execute(select(CampaignRow).where(CampaignRow.name == name)).first()
    if row is None:
        raise CampaignError(f"no campaign named {name!r} (tether campaign create)")
    fields = set(CampaignSettings.model_fields)
    data = {k: v for k, v in row._mapping.items() if k in fields}
    return CampaignInfo(id=row.id, settings=CampaignSettings.model_validate(data))


def campaign_names(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(CampaignRow.name).order_by(CampaignRow.id)).scalars())


def create_campaign(store: Store, settings: CampaignSettings, items: Iterable[CampaignItem], rubric: str,
                    *, rubric_version: str = "v1") -> CampaignInfo:
    """Create a campaign with its items and first rubric; every task type starts in its pilot."""
    items = list(items)
    for item in items:
        missing = set(item.expected or {}) - set(settings.objectives)
        if missing:
            raise CampaignError(f"item {item.resolved_pair_id}: expected answer for unknown objective "
                                f"{sorted(missing)} (campaign objectives: {settings.objectives})")
    if not rubric.strip():
        raise CampaignError("the rubric text is empty")
    n_gold = sum(i.kind == "gold" for i in items)
    if settings.qualification_gold > n_gold:
        raise CampaignError(f"qualification_gold={settings.qualification_gold} but the items hold only {n_gold} "
                            "gold items")
    with write_transaction(store) as conn:
        if conn.execute(select(CampaignRow.id).where(CampaignRow.name == settings.name)).scalar() is not None:
            raise CampaignError(f"campaign {settings.name!r} already exists")
        conn.execute(CampaignRow.__table__.insert(), [{**settings.model_dump(), "lock_counter": 0,
                                                        "created_at": _now()}])
        info = get_campaign(conn, settings.name)
        prompts = {content_hash(i.prompt): i.prompt for i in items}
        responses = {content_hash(t): t for i in items for t in (i.response_a, i.response_b)}
        insert_ignore(conn, PromptRow.__table__, [{"id": k, "text": v} for k, v in prompts.items()])
        insert_ignore(conn, ResponseRow.__table__, [{"id": k, "text": v} for k, v in responses.items()])
        seen: set[str] = set()
        rows = []
        for pos, item in enumerate(items):
            pid = item.resolved_pair_id
            if pid in seen:
                raise CampaignError(f"item {pos + 1}: pair {pid} appears twice")
            seen.add(pid)
            rows.append({
                "campaign_id": info.id, "pair_id": pid, "prompt_id": content_hash(item.prompt),
                "response_a_id": content_hash(item.response_a), "response_b_id": content_hash(item.response_b),
                "task_type": item.task_type, "kind": item.kind, "expected": item.expected, "pilot_round": None,
                "position": pos,
            })
        conn.execute(CampaignItemRow.__table__.insert(), rows)
        conn.execute(RubricVersionRow.__table__.insert(), [{
            "campaign_id": info.id, "task_type": "*", "version": rubric_version, "text": rubric,
            "created_at": _now()}])
        for task_type in sorted({i.task_type for i in items}):
            conn.execute(TaskTypeStateRow.__table__.insert(), [{
                "campaign_id": info.id, "task_type": task_type, "status": "pilot", "pilot_round": 1,
                "rubric_version": rubric_version, "agreement": None, "reason": "", "updated_at": _now()}])
            _start_pilot_round(conn, info, task_type, 1)
    return info


def _start_pilot_round(conn: Connection, info: CampaignInfo, task_type: str, round_: int) -> None:
    """Mark the next unused regular items of a task type as this pilot round; none left -> active."""
    ids = conn.execute(
        select(CampaignItemRow.id)
        .where(CampaignItemRow.campaign_id == info.id, CampaignItemRow.task_type == task_type,
               CampaignItemRow.kind == "regular", CampaignItemRow.pilot_round.is_(None),
               ~CampaignItemRow.id.in_(select(AssignmentRow.item_id).where(AssignmentRow.campaign_id == info.id)))
        .order_by(CampaignItemRow.position)
        .limit(info.settings.pilot_items)
    ).scalars().all()
    if not ids:  # nothing to pilot on (pilot_items = 0 or items used up): the task type runs as is
        _set_state(conn, info, task_type, status="active",
                   reason="no items for a pilot round (pilot_items=0 or all used)")
        return
    conn.execute(update(CampaignItemRow).where(CampaignItemRow.id.in_(ids)).values(pilot_round=round_))


def _set_state(conn: Connection, info: CampaignInfo, task_type: str, **values: object) -> None:
    conn.execute(
        update(TaskTypeStateRow)
        .where(TaskTypeStateRow.campaign_id == info.id, TaskTypeStateRow.task_type == task_type)
        .values(updated_at=_now(), **values)
    )


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


def current_rubric(conn: Connection, campaign_id: int, task_type: str) -> tuple[str, str]:
    """(version, text) of the rubric a task type uses now: its own latest, else the campaign default."""
    for scope in (task_type, "*"):
        row = conn.execute(
            select(RubricVersionRow.version, RubricVersionRow.text)
            .where(RubricVersionRow.campaign_id == campaign_id, RubricVersionRow.task_type == scope)
            .order_by(RubricVersionRow.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            return row.version, row.text
    raise CampaignError(f"campaign {campaign_id} has no rubric")  # create_campaign always writes one


def withdraw_open_assignments(conn: Connection, campaign_id: int, task_type: str) -> int:
    """Delete issued-but-unanswered assignments of a task type (they are re-issued after it resumes)."""
    item_ids = select(CampaignItemRow.id).where(
        CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.task_type == task_type)
    return conn.execute(
        delete(AssignmentRow).where(AssignmentRow.item_id.in_(item_ids), AssignmentRow.answered_at.is_(None))
    ).rowcount


def pause_task_type(store: Store, campaign: str, task_type: str, reason: str,
                    agreement: float | None = None, *, conn: Connection | None = None) -> int:
    """Pause a task type: no new assignments until a new rubric version is published; returns withdrawn."""
    if conn is None:
        with write_transaction(store) as c:
            return pause_task_type(store, campaign, task_type, reason, agreement, conn=c)
    info = get_campaign(conn, campaign)
    if task_type not in task_type_states(conn, info.id):
        raise CampaignError(f"campaign {campaign!r} has no task type {task_type!r}")
    _set_state(conn, info, task_type, status="paused", reason=reason, agreement=agreement)
    return withdraw_open_assignments(conn, info.id, task_type)


def publish_rubric(store: Store, campaign: str, text: str, *, version: str, task_type: str = "*") -> list[str]:
    """Publish a rubric version; paused task types it covers resume with a fresh pilot round. Returns them."""
    if not text.strip():
        raise CampaignError("the rubric text is empty")
    resumed: list[str] = []
    with write_transaction(store) as conn:
        info = get_campaign(conn, campaign)
        states = task_type_states(conn, info.id)
        if task_type != "*" and task_type not in states:
            raise CampaignError(f"campaign {campaign!r} has no task type {task_type!r}")
        exists = conn.execute(select(RubricVersionRow.id).where(
            RubricVersionRow.campaign_id == info.id, RubricVersionRow.task_type == task_type,
            RubricVersionRow.version == version)).scalar()
        if exists is not None:
            raise CampaignError(f"rubric version {version!r} for task type {task_type!r} already published")
        conn.execute(RubricVersionRow.__table__.insert(), [{
            "campaign_id": info.id, "task_type": task_type, "version": version, "text": text,
            "created_at": _now()}])
        for tt, state in states.items():
            if task_type not in ("*", tt):
                continue
            # a task type with its own rubric keeps it when only the default changes
            if task_type == "*" and current_rubric(conn, info.id, tt)[0] != version:
                continue
            if state.status == "paused":
                round_ = state.pilot_round + 1
                _set_state(conn, info, tt, status="pilot", pilot_round=round_, rubric_version=version,
                           reason=f"resumed with rubric {version}: piloting again")
                _start_pilot_round(conn, info, tt, round_)
                resumed.append(tt)
            else:
                _set_state(conn, info, tt, rubric_version=version)
    return resumed


def enroll(store: Store, campaign: str, rater_ids: Iterable[str]) -> int:
    """Add raters to a campaign; with qualification gold they first answer gold items. Returns newly enrolled."""
    rater_ids = list(dict.fromkeys(rater_ids))
    with write_transaction(store) as conn:
        info = get_campaign(conn, campaign)
        known = set(conn.execute(select(RaterRow.id).where(RaterRow.id.in_(rater_ids))).scalars())
        unknown = [r for r in rater_ids if r not in known]
        if unknown:
            raise CampaignError(f"unknown raters {unknown[:5]} (tether raters import first)")
        before = conn.execute(select(func.count()).select_from(RaterQualificationRow).where(
            RaterQualificationRow.campaign_id == info.id)).scalar_one()
        status = "qualifying" if info.settings.qualification_gold > 0 else "qualified"
        insert_ignore(conn, RaterQualificationRow.__table__, [
            {"campaign_id": info.id, "rater_id": r, "status": status, "gold_accuracy": None, "n_gold": 0,
             "since_assignment": 0, "reason": "enrolled", "updated_at": _now()} for r in rater_ids])
        after = conn.execute(select(func.count()).select_from(RaterQualificationRow).where(
            RaterQualificationRow.campaign_id == info.id)).scalar_one()
    return after - before
