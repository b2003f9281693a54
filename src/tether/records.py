"""The typed records every stage of Tether reads and writes.

Validation lives here once: a record that exists is valid. Records keep unknown keys
(`model_extra`) so nothing a user wrote is dropped on the way through Tether.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = [
    "Choice",
    "Side",
    "EventType",
    "Direction",
    "Prompt",
    "Comparison",
    "Rating",
    "Turn",
    "PreferencePair",
    "Rater",
    "AI_INTERFACES",
    "AI_KIND",
    "LLM_JUDGE_INTERFACE",
    "RaterProfile",
    "RewardContract",
    "Outcome",
    "OutcomeKind",
    "outcome_kind_of",
    "Event",
    "ModelVersion",
    "AuditRun",
    "Promotion",
    "content_hash",
    "default_pair_id",
]

Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _no_bool(v: Any) -> Any:
    if isinstance(v, bool):  # JSON true would otherwise pass as the number 1
        raise ValueError("must be a number or a string, not a boolean")
    return v


NumberOrText = Annotated[float | StrictStr, BeforeValidator(_no_bool)]


def content_hash(*parts: str) -> str:
    """Stable 128-bit hex digest of the given strings (unit-separator joined)."""
    # one join, one encode, one C call: the same bytes as hashing the parts one by one (hot on import)
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def default_pair_id(prompt: str, response_a: str, response_b: str) -> str:
    """FORMATS.md default: a hash of prompt, response_a and response_b."""
    return content_hash(prompt, response_a, response_b)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # naive timestamps are taken as UTC, the store's clock
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time; a ValueError makes it a validation error
        raise ValueError("out of range once converted to UTC (years 1-9999)") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]  # naive means UTC; aware is converted to UTC


class Choice(StrEnum):
    A = "a"
    B = "b"
    TIE = "tie"


class Side(StrEnum):
    A = "a"
    B = "b"

    @property
    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A


class EventType(StrEnum):
    GENERATION = "generation"
    FEEDBACK = "feedback"
    CORRECTION = "correction"
    OUTCOME = "outcome"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


def _check_integers(value: Any, where: str) -> None:
    """Refuse integers outside 64 bits anywhere in free metadata: stored, they would break every later export."""
    if not _has_big_integer(value):
        return  # the common case: no paths to build
    stack = [(value, where)]
    while stack:  # iterative: metadata may nest deeply
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**64:
            raise ValueError(f"{path or 'value'}: integer {item} does not fit in 64 bits")


def _has_big_integer(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not -(2**63) <= item < 2**64:  # (a bool is always in range)
            return True
    return False


class _Record(BaseModel):
    """Frozen, keeps unknown keys as metadata, strict about strings (no 1 -> "1")."""

    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, v: Any) -> Any:
        # PostgreSQL cannot store NUL in text; refuse it here, naming the key, for every backend alike
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("contains a NUL character (\\x00), which cannot be stored")
        return v

    @model_validator(mode="after")
    def _bounded_extras(self) -> Any:
        _check_integers(self.model_extra, "")
        return self

    @property
    def extras(self) -> dict[str, Any]:
        """Unknown keys the record was created with (kept as metadata)."""
        return dict(self.model_extra or {})


class Prompt(_Record):
    text: StrictStr
    domain: StrictStr | None = None
    task_type: StrictStr = "default"
    language: StrictStr | None = None

    @property
    def id(self) -> str:
        return content_hash(self.text)


class Comparison(_Record):
    """One human or model judgment of two responses (FORMATS.md, Comparison v1).

    `choice` is canonical (`a`/`b`), never in display terms; `shown_first` records the
    display order the rater actually saw.
    """

    prompt: StrictStr
    response_a: StrictStr
    response_b: StrictStr
    shown_first: Side
    choice: Choice
    rater: StrictStr = Field(min_length=1)
    pair_id: StrictStr | None = None
    objective: StrictStr = "overall"
    task_type: StrictStr = "default"
    confidence: Unit | None = None
    campaign: StrictStr | None = None
    interface: StrictStr | None = None
    rubric_version: StrictStr | None = None
    created_at: UtcDatetime | None = None

    @field_validator("shown_first", "choice", mode="before")
    @classmethod
    def _enum_from_str_only(cls, v: Any) -> Any:
        if not isinstance(v, str | Side | Choice):
            raise ValueError(f"must be a string, got {type(v).__name__}")
        return v

    @model_validator(mode="after")
    def _fill_pair_id(self) -> Comparison:
        if self.pair_id is None:
            object.__setattr__(self, "pair_id", default_pair_id(self.prompt, self.response_a, self.response_b))
        return self

    @property
    def shown_second(self) -> Side:
        return self.shown_first.other

    @property
    def picked_first_shown(self) -> bool | None:
        """True if the rater preferred the response shown first; None for a tie."""
        if self.choice is Choice.TIE:
            return None
        return self.choice.value == self.shown_first.value

    def dedup_key(self) -> str:
        """Identity of a judgment: re-importing the same judgment stores it once."""
        return content_hash(
            self.pair_id or "",
            self.rater,
            self.objective,
            self.shown_first.value,
            self.campaign or "",
            self.interface or "",
            self.rubric_version or "",
            self.created_at.isoformat() if self.created_at else "",
        )


class Turn(_Record):
    """One turn of a conversation prompt (FORMATS.md, Rating: `prompt` as a list of turns)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: StrictStr = Field(min_length=1, max_length=64)
    content: StrictStr


class Rating(_Record):
    """One human or model judgment of one response on a scale (FORMATS.md, Rating v1)."""

    prompt: StrictStr | list[Turn]
    response: StrictStr
    score: StrictInt
    scale_min: StrictInt = 1
    scale_max: StrictInt = 7
    scale_labels: list[StrictStr] | None = None
    rater: StrictStr = Field(min_length=1)
    objective: StrictStr = "overall"
    task_type: StrictStr = "default"
    campaign: StrictStr | None = None
    interface: StrictStr | None = None
    rubric_version: StrictStr | None = None
    created_at: UtcDatetime | None = None
    rationale: StrictStr | None = None
    item_id: StrictStr | None = None

    @model_validator(mode="after")
    def _on_scale(self) -> Rating:
        if not self.scale_min < self.scale_max:
            raise ValueError(f"scale_min ({self.scale_min}) must be below scale_max ({self.scale_max})")
        if not self.scale_min <= self.score <= self.scale_max:
            raise ValueError(f"score {self.score} is outside the scale {self.scale_min}..{self.scale_max}")
        points = self.scale_max - self.scale_min + 1
        if self.scale_labels is not None and len(self.scale_labels) != points:
            raise ValueError(f"scale_labels: {len(self.scale_labels)} labels for a {points}-point scale")
        if self.item_id is None:
            object.__setattr__(self, "item_id", content_hash(self.prompt_text, self.response))
        return self

    @property
    def prompt_text(self) -> str:
        """The prompt as one string: itself, or a conversation as its JSON list of turns."""
        if isinstance(self.prompt, str):
            return self.prompt
        return json.dumps([t.model_dump() for t in self.prompt], ensure_ascii=False, separators=(",", ":"))

    def dedup_key(self) -> str:
        """Identity of a judgment: re-importing the same rating stores it once."""
        return content_hash(self.item_id or "", self.rater, self.objective, self.campaign or "",
                            self.interface or "", self.rubric_version or "",
                            self.created_at.isoformat() if self.created_at else "")


class PreferencePair(_Record):
    """A curated training pair (FORMATS.md, Preference pair v1; TRL explicit-prompt vocabulary)."""

    prompt: StrictStr
    chosen: StrictStr
    rejected: StrictStr
    weight: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 1.0
    p_chosen: Annotated[float, Field(ge=0.5, le=1.0, allow_inf_nan=False)] | None = None
    tie: StrictBool = False
    objective: StrictStr = "overall"
    provenance: dict[str, Any] = Field(default_factory=dict)

    def dedup_key(self) -> str:
        return content_hash(self.prompt, self.chosen, self.rejected, self.objective)


# AI feedback (RLAIF): a rater is a model when its judgments came through one of these interfaces or its Rater
# record says `kind: "ai"`. The audit reports such raters apart from people and keeps them out of the 0.4 rule.
LLM_JUDGE_INTERFACE = "llm-judge"
AI_INTERFACES = frozenset({LLM_JUDGE_INTERFACE})
AI_KIND = "ai"


class Rater(_Record):
    """A rater (a person, or a model used as a judge) with profile attributes."""

    id: StrictStr = Field(min_length=1)
    name: StrictStr | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_ai(self) -> bool:
        """A model, not a person: `attributes.kind == "ai"` (set by `tether raters judge --store`)."""
        return self.attributes.get("kind") == AI_KIND


class RaterProfile(_Record):
    """A written target population raters are recruited against."""

    name: StrictStr = Field(min_length=1)
    description: StrictStr = ""
    attributes: dict[str, Any] = Field(default_factory=dict)


class RewardContract(_Record):
    """What a reward model's number means: every consumer reads this instead of guessing."""

    name: StrictStr
    objective: StrictStr
    direction: Direction = Direction.HIGHER_IS_BETTER
    scale: StrictStr = "logit"
    normalization: dict[str, float] = Field(default_factory=dict)
    data_fingerprint: StrictStr | None = None


class OutcomeKind(StrEnum):
    BINARY = "binary"  # worked or not: tests passed, ticket resolved (value 1 / 0)
    NUMERIC = "numeric"  # a measured amount: revenue, minutes saved, a score
    CATEGORICAL = "categorical"  # a label: "resolved", "escalated"


def outcome_kind_of(value: float | str) -> OutcomeKind:
    """The kind a value implies when none is given: 0/1 binary, other numbers numeric, text categorical."""
    if isinstance(value, str):
        return OutcomeKind.CATEGORICAL
    return OutcomeKind.BINARY if value in (0, 1) else OutcomeKind.NUMERIC


class Outcome(_Record):
    """What actually happened to a generation (tests passed, ticket resolved, conversion): FORMATS.md, Outcome.

    One representation for every source (an `outcome` event through the ingestion API or SDK, the code sandbox,
    a grader). Joined to its generation by `trace_id`; `delay_seconds` is `observed_at - generated_at`, known
    once both are (an outcome may arrive minutes or weeks after the generation, or before it is logged)."""

    outcome_id: StrictStr = Field(min_length=1, max_length=256)
    name: StrictStr = Field(min_length=1, max_length=255)
    value: NumberOrText
    kind: OutcomeKind | None = None
    source: StrictStr = Field("event", min_length=1, max_length=255)
    trace_id: StrictStr | None = Field(None, max_length=256)
    observed_at: UtcDatetime | None = None
    generated_at: UtcDatetime | None = None
    delay_seconds: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _derived(self) -> Outcome:
        if self.kind is None:
            object.__setattr__(self, "kind", outcome_kind_of(self.value))
        if self.kind == OutcomeKind.BINARY and self.value not in (0, 1):
            raise ValueError(f"value: a binary outcome is 1 or 0, got {self.value!r}")
        if self.kind == OutcomeKind.NUMERIC and isinstance(self.value, str):
            raise ValueError(f"value: a numeric outcome is a number, got {self.value!r}")
        if self.delay_seconds is None and self.observed_at is not None and self.generated_at is not None:
            object.__setattr__(self, "delay_seconds", (self.observed_at - self.generated_at).total_seconds())
        return self


_REQUIRED_BY_TYPE: dict[EventType, tuple[str, ...]] = {
    EventType.GENERATION: ("model", "prompt", "response"),
    EventType.FEEDBACK: ("name", "value"),
    EventType.OUTCOME: ("name", "value"),
    EventType.CORRECTION: ("corrected_response",),
}


class Event(_Record):
    """A production event (FORMATS.md, Event v2: v1 narrowed by `tether.deploy.event_rules`)."""

    event_id: StrictStr = Field(min_length=1, max_length=256)
    type: EventType
    trace_id: StrictStr = Field(min_length=1, max_length=256)
    timestamp: UtcDatetime
    model: StrictStr | None = None
    prompt: StrictStr | None = None
    response: StrictStr | None = None
    value: NumberOrText | None = None
    name: StrictStr | None = None
    corrected_response: StrictStr | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes", mode="after")
    @classmethod
    def _bounded_attributes(cls, v: dict[str, Any]) -> dict[str, Any]:
        _check_integers(v, "")
        return v

    @model_validator(mode="after")
    def _required_for_type(self) -> Event:
        missing = [k for k in _REQUIRED_BY_TYPE[self.type] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} required for type {self.type.value!r}")
        if self.type == EventType.OUTCOME:  # it is also stored as an Outcome: refuse now what that would refuse
            kind, source = self.attributes.get("kind"), self.attributes.get("source")
            if kind is not None and kind not in {k.value for k in OutcomeKind}:
                raise ValueError(f"attributes.kind: an outcome kind is binary, numeric or categorical, got {kind!r}")
            if kind == OutcomeKind.BINARY and self.value not in (0, 1):
                raise ValueError(f"value: a binary outcome is 1 or 0, got {self.value!r}")
            if kind == OutcomeKind.NUMERIC and isinstance(self.value, str):
                raise ValueError(f"value: a numeric outcome is a number, got {self.value!r}")
            if source is not None and not (isinstance(source, str) and 0 < len(source) <= 255):
                raise ValueError("attributes.source: a non-empty string of at most 255 characters")
        return self


class ModelVersion(_Record):
    """A versioned artefact (policy or reward model) in the registry, with its lineage.

    `lineage` says what it was trained on (preference set or file, pair count and fingerprint, the audit run that
    curated it); `config` the hyper-parameters; `gate` the last gate result; `version` is assigned by the store."""

    name: StrictStr
    version: StrictStr = ""
    kind: Literal["policy", "reward", "cost", "encoder"]
    path: StrictStr
    parent: StrictStr | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    contracts: list[RewardContract] = Field(default_factory=list)
    gate: dict[str, Any] | None = None
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


class AuditRun(_Record):
    """One audit of a set of comparisons, as later stages read it: which campaigns and task types it covered, and
    the 0.4 rule's verdicts (campaigns pause the blocked task types of the latest run that covered them)."""

    id: int | None = None
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    source: StrictStr = "store"
    n_comparisons: int = 0
    campaigns: list[StrictStr] = Field(default_factory=list)
    blocked_task_types: list[StrictStr] = Field(default_factory=list)
    verdicts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)


class Promotion(_Record):
    """One decision about which model version serves a role (e.g. the project's reward model): a promotion, a
    refusal with the checks that failed, a rollback, or a canary (a challenger given `share` of the traffic beside the
    champion, until the next decision). The role's champion is the newest promotion or rollback."""

    id: int | None = None
    role: StrictStr = Field(min_length=1)
    action: Literal["promote", "refuse", "rollback", "canary"]
    kind: Literal["policy", "reward", "cost", "encoder"] = "reward"
    path: StrictStr
    model: StrictStr | None = None   # registry name and version, when the folder was recorded
    version: StrictStr | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    reason: StrictStr = ""
    share: float | None = Field(None, gt=0, lt=1)  # canary only
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
