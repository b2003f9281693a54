"""Campaigns: settings, items (regular, gold, attention), rubric versions, enrolment, pause state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from tether.audit.config import AGREEMENT_FLOOR
from tether.io.errors import BadLine, InputError, bad_from_validation
from tether.io.jsonl import iter_jsonl
from tether.records import AuditRun, content_hash, default_pair_id
from tether.store import Conn, Store
from tether.store import collect_repo as repo
from tether.store.assignment_repo import withdraw_open_assignments
from tether.store.collect_repo import campaign_names as campaign_names  # re-exported for the web app
from tether.store.collect_repo import current_rubric, task_type_states

Answer = Literal["a", "b", "tie"]
Objective = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class CampaignError(ValueError):
    """A campaign operation that cannot be done as asked (unknown name, bad state)."""


DEFAULT_ASSIGNMENT_EXPIRY_HOURS = 24.0
DEFAULT_LINK_EXPIRY_DAYS = 30.0
NOT_STORED = {"link_expiry_days"}  # settings that are no campaign column


class CampaignSettings(BaseModel):
    """How a campaign runs; validated once, stored on the campaign row."""

    model_config = ConfigDict(extra="forbid")
    cli_names: ClassVar[dict[str, str]] = {"objectives": "objective", "pilot_items": "pilot",
                                           "agreement_threshold": "threshold"}

    name: StrictStr = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    description: StrictStr = ""
    objectives: list[Objective] = Field(default_factory=lambda: ["overall"], min_length=1,
                                        description="objective judged separately (repeat)")
    overlap: int = Field(default=3, ge=2, le=50, description="raters per pair (>= 2: both display orders)")
    pilot_items: int = Field(default=10, ge=0, description="pilot items per task type before scaling")
    agreement_threshold: float = Field(default=AGREEMENT_FLOOR, ge=-1.0, le=1.0,
                                       description="pause a task type whose pilot agreement is below this")
    gold_rate: float = Field(default=0.1, ge=0.0, le=0.5, description="share of tasks that are gold items")
    attention_rate: float = Field(default=0.05, ge=0.0, le=0.5, description="share of tasks that are attention checks")
    qualification_gold: int = Field(default=0, ge=0, description="gold items a rater answers before real work")
    pass_threshold: float = Field(default=0.8, ge=0.0, le=1.0, description="gold accuracy needed to qualify")
    queue_size: int = Field(default=5, ge=1, le=100, description="open tasks per rater at a time")
    assignment_expiry_hours: float = Field(default=DEFAULT_ASSIGNMENT_EXPIRY_HOURS, gt=0, le=24 * 365,
                                           description="an issued task not answered within this many hours "
                                                       "goes back to the pool")
    # not stored per campaign: read from tether.toml [campaign] when links are issued (tether raters import/link)
    link_expiry_days: float = Field(default=DEFAULT_LINK_EXPIRY_DAYS, gt=0, le=3650,
                                    description="sign-in links expire this many days after they are issued")
    interface: StrictStr = "tether-web"
    rule_raters: Literal["human", "all"] = Field(
        default="human", description="whose judgments the 0.4 rule runs on in this campaign: human raters, or all "
                                     "(an LLM judge too)")

    @model_validator(mode="after")
    def _distinct_objectives(self) -> CampaignSettings:
        if len(set(self.objectives)) != len(self.objectives):
            raise ValueError(f"objectives repeat: {self.objectives}")
        return self


MAX_SCALE_POINTS = 9  # a rating scale's points are picked with the number keys 1..9


class CampaignItem(BaseModel):
    """One line of a campaign's item file: a pair (task "pairwise") or one response to rate on a scale (task
    "rating"), its task type, and the expected answer for gold items (pairwise only)."""

    model_config = ConfigDict(extra="forbid")
    prompt: StrictStr
    task: Literal["pairwise", "rating"] = "pairwise"
    response_a: StrictStr | None = None
    response_b: StrictStr | None = None
    response: StrictStr | None = None
    scale: tuple[StrictInt, StrictInt] | None = None
    scale_labels: list[StrictStr] | None = None
    objectives: list[Objective] | None = None
    task_type: StrictStr = Field(default="default", min_length=1, max_length=128)
    pair_id: StrictStr | None = None
    kind: Literal["regular", "gold", "attention"] = "regular"
    expected: dict[Objective, Answer] | None = None

    @model_validator(mode="after")
    def _expected_only_for_checks(self) -> CampaignItem:
        if self.task == "rating":
            self._check_rating()
            return self
        for key in ("response", "scale", "scale_labels", "objectives"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key!r} is for rating items (\"task\": \"rating\"); a pair has response_a "
                                 "and response_b")
        if self.response_a is None or self.response_b is None:
            raise ValueError("a pairwise item needs response_a and response_b (a rating item: \"task\": "
                             "\"rating\" and response)")
        if self.kind == "regular" and self.expected:
            raise ValueError("'expected' is only for gold and attention items (set kind)")
        if self.kind != "regular" and not self.expected:
            raise ValueError(f"a {self.kind} item needs 'expected': {{objective: 'a' | 'b' | 'tie'}}")
        if self.response_a == self.response_b:
            raise ValueError("response_a and response_b are the same text")
        return self

    def _check_rating(self) -> None:
        if self.response is None:
            raise ValueError("a rating item needs 'response' (the one response rated)")
        if self.response_a is not None or self.response_b is not None:
            raise ValueError("a rating item has one 'response', not response_a / response_b")
        if self.kind != "regular" or self.expected:
            raise ValueError("rating items are regular items: gold and attention checks are pairwise")
        low, high = self.scale_range
        if not low < high or high - low + 1 > MAX_SCALE_POINTS:
            raise ValueError(f"scale [{low}, {high}]: need min < max and at most {MAX_SCALE_POINTS} points "
                             "(picked with the number keys)")
        if self.scale_labels is not None and len(self.scale_labels) != high - low + 1:
            raise ValueError(f"scale_labels: {len(self.scale_labels)} labels for a {high - low + 1}-point scale")
        if self.objectives is not None and (not self.objectives or len(set(self.objectives)) != len(self.objectives)):
            raise ValueError(f"objectives: a non-empty list without repeats, got {self.objectives}")

    @property
    def scale_range(self) -> tuple[int, int]:
        """A rating item's (min, max); the Rating format's default scale is 1..7."""
        return self.scale or (1, 7)

    @property
    def resolved_pair_id(self) -> str:
        if self.pair_id:
            return self.pair_id
        if self.task == "rating":
            return content_hash(self.prompt, self.response or "")  # the Rating format's default item_id
        return default_pair_id(self.prompt, self.response_a or "", self.response_b or "")

    def row(self) -> dict[str, object]:
        """The item as the store keeps it: a rating item's one response fills both response columns."""
        row: dict[str, object] = {"pair_id": self.resolved_pair_id, "prompt": self.prompt, "task": self.task,
                                  "task_type": self.task_type, "kind": self.kind, "expected": self.expected,
                                  "response_a": self.response_a, "response_b": self.response_b, "task_spec": None}
        if self.task == "rating":
            row.update(response_a=self.response, response_b=self.response,
                       task_spec={"scale": list(self.scale_range), "labels": self.scale_labels,
                                  "objectives": self.objectives})
        return row


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


def get_campaign(conn: Conn, name: str, *, lock: bool = False) -> CampaignInfo:
    """Load a campaign by name (`lock`: serialize issuance on it first); CampaignError if there is none."""
    row = repo.campaign_row(conn, name, lock=lock)
    if row is None:
        raise CampaignError(f"no campaign named {name!r} (tether campaign create)")
    fields = set(CampaignSettings.model_fields)
    return CampaignInfo(id=row["id"], settings=CampaignSettings.model_validate(
        {k: v for k, v in row.items() if k in fields}))


def create_campaign(store: Store, settings: CampaignSettings, items: Iterable[CampaignItem], rubric: str,
                    *, rubric_version: str = "v1") -> CampaignInfo:
    """Create a campaign with its items and first rubric; every task type starts in its pilot."""
    items = list(items)
    for item in items:
        missing = set(item.expected or {}) - set(settings.objectives)
        if missing:
            raise CampaignError(f"item {item.resolved_pair_id}: expected answer for unknown objective "
                                f"{sorted(missing)} (campaign objectives: {settings.objectives})")
        unknown = set(item.objectives or ()) - set(settings.objectives)
        if unknown:
            raise CampaignError(f"item {item.resolved_pair_id}: objectives {sorted(unknown)} are not campaign "
                                f"objectives ({settings.objectives})")
    tasks_by_type: dict[str, set[str]] = {}
    for item in items:
        tasks_by_type.setdefault(item.task_type, set()).add(item.task)
    mixed = sorted(t for t, tasks in tasks_by_type.items() if len(tasks) > 1)
    if mixed:
        raise CampaignError(f"task types {mixed} mix pairwise and rating items: give each kind its own task type "
                            "(agreement is judged per task type)")
    if not rubric.strip():
        raise CampaignError("the rubric text is empty")
    n_gold = sum(i.kind == "gold" for i in items)
    if settings.qualification_gold > n_gold:
        raise CampaignError(f"qualification_gold={settings.qualification_gold} but the items hold only {n_gold} "
                            "gold items")
    rows = [i.row() for i in items]
    seen: set[str] = set()
    for pos, row in enumerate(rows):
        if row["pair_id"] in seen:
            raise CampaignError(f"item {pos + 1}: pair {row['pair_id']} appears twice")
        seen.add(row["pair_id"])
    with store.write_transaction() as conn:
        if not repo.add_campaign(conn, settings.model_dump(exclude=NOT_STORED), rows, rubric_version, rubric):
            raise CampaignError(f"campaign {settings.name!r} already exists")
        info = get_campaign(conn, settings.name)
        for task_type in sorted({i.task_type for i in items}):
            _start_pilot_round(conn, info, task_type, 1)
    return info


def _start_pilot_round(conn: Conn, info: CampaignInfo, task_type: str, round_: int) -> None:
    """Mark the next unused regular items of a task type as this pilot round; none left -> active."""
    if not repo.start_pilot_round(conn, info.id, task_type, round_, info.settings.pilot_items):
        # nothing to pilot on (pilot_items = 0 or items used up): the task type runs as is
        repo.set_task_type_state(conn, info.id, task_type, status="active",
                                 reason="no items for a pilot round (pilot_items=0 or all used)")


@dataclass(frozen=True)
class StoredItem:
    """A campaign item as raters get it, with the rubric its task type uses now."""

    pair_id: str
    task_type: str
    kind: str  # regular / gold / attention
    prompt: str
    response_a: str
    response_b: str
    rubric_version: str
    rubric: str


def stored_items(store: Store, campaign: str) -> tuple[CampaignInfo, list[StoredItem]]:
    """A campaign's settings and items (input order), each with its task type's current rubric."""
    with store.connect() as conn:
        info = get_campaign(conn, campaign)
        rows = repo.campaign_items(conn, info.id)
        rubrics = {tt: current_rubric(conn, info.id, tt) for tt in {r["task_type"] for r in rows}}
    return info, [StoredItem(**r, rubric_version=rubrics[r["task_type"]][0], rubric=rubrics[r["task_type"]][1])
                  for r in rows]


def audit_blocks(conn: Conn, info: CampaignInfo, run: AuditRun | None) -> dict[str, str]:
    """Task types of this campaign that `run` (its latest audit) blocked by the 0.4 rule, each with the reason;
    a rubric version published after the run answers the audit, so its task types are piloted again instead."""
    if run is None:
        return {}
    states = task_type_states(conn, info.id)
    out = {}
    for tt in run.blocked_task_types:
        if tt in states and repo.rubric_published_at(conn, info.id, tt) <= run.created_at:
            alpha = run.verdicts.get(tt, {}).get("alpha")
            shown = "n/a" if alpha is None else f"{alpha:.2f}"
            out[tt] = f"blocked by audit run {run.id}: agreement {shown} below the 0.4 rule; publish a revised rubric"
    return out


def pause_task_type(store: Store, campaign: str, task_type: str, reason: str,
                    agreement: float | None = None, *, conn: Conn | None = None) -> int:
    """Pause a task type: no new assignments until a new rubric version is published; returns withdrawn."""
    if conn is None:
        with store.write_transaction() as c:
            return pause_task_type(store, campaign, task_type, reason, agreement, conn=c)
    info = get_campaign(conn, campaign)
    if task_type not in task_type_states(conn, info.id):
        raise CampaignError(f"campaign {campaign!r} has no task type {task_type!r}")
    repo.set_task_type_state(conn, info.id, task_type, status="paused", reason=reason, agreement=agreement)
    return withdraw_open_assignments(conn, info.id, task_type)


def publish_rubric(store: Store, campaign: str, text: str, *, version: str, task_type: str = "*") -> list[str]:
    """Publish a rubric version; paused task types it covers resume with a fresh pilot round. Returns them."""
    if not text.strip():
        raise CampaignError("the rubric text is empty")
    resumed: list[str] = []
    with store.write_transaction() as conn:
        info = get_campaign(conn, campaign)
        states = task_type_states(conn, info.id)
        if task_type != "*" and task_type not in states:
            raise CampaignError(f"campaign {campaign!r} has no task type {task_type!r}")
        if not repo.add_rubric(conn, info.id, task_type, version, text):
            raise CampaignError(f"rubric version {version!r} for task type {task_type!r} already published")
        for tt, state in states.items():
            if task_type not in ("*", tt):
                continue
            # a task type with its own rubric keeps it when only the default changes
            if task_type == "*" and current_rubric(conn, info.id, tt)[0] != version:
                continue
            if state.status == "paused":
                round_ = state.pilot_round + 1
                repo.set_task_type_state(conn, info.id, tt, status="pilot", pilot_round=round_, rubric_version=version,
                                         reason=f"resumed with rubric {version}: piloting again")
                _start_pilot_round(conn, info, tt, round_)
                resumed.append(tt)
            else:
                repo.set_task_type_state(conn, info.id, tt, rubric_version=version)
    return resumed


def enroll(store: Store, campaign: str, rater_ids: Iterable[str]) -> int:
    """Add raters to a campaign; with qualification gold they first answer gold items. Returns newly enrolled."""
    rater_ids = list(dict.fromkeys(rater_ids))
    with store.write_transaction() as conn:
        info = get_campaign(conn, campaign)
        known = repo.known_raters(conn, rater_ids)
        unknown = [r for r in rater_ids if r not in known]
        if unknown:
            raise CampaignError(f"unknown raters {unknown[:5]} (tether raters import first)")
        return repo.enroll(conn, info.id, rater_ids, "qualifying" if info.settings.qualification_gold > 0
                           else "qualified")
