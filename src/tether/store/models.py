"""SQLAlchemy 2 models: the store is the only state shared between stages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class PromptRow(Base):
    """Prompt texts, keyed by content hash so the same text is stored once."""

    __tablename__ = "prompts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class ResponseRow(Base):
    """Response texts, keyed by content hash."""

    __tablename__ = "responses"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class RaterRow(Base):
    __tablename__ = "raters"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RaterProfileRow(Base):
    __tablename__ = "rater_profiles"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComparisonRow(Base):
    """One judgment, with the display order the rater saw and canonical choice."""

    __tablename__ = "comparisons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(32), unique=True)
    pair_id: Mapped[str] = mapped_column(String(255), index=True)
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"))
    response_a_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    response_b_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    shown_first: Mapped[str] = mapped_column(String(1))
    choice: Mapped[str] = mapped_column(String(3))
    rater_id: Mapped[str] = mapped_column(ForeignKey("raters.id"), index=True)
    objective: Mapped[str] = mapped_column(String(64), default="overall")
    task_type: Mapped[str] = mapped_column(String(128), default="default")
    confidence: Mapped[float | None] = mapped_column(Float)
    campaign: Mapped[str | None] = mapped_column(String(255))
    interface: Mapped[str | None] = mapped_column(String(255))
    rubric_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column()
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_comparisons_task_objective", "task_type", "objective"),
        Index("ix_comparisons_campaign", "campaign"),
    )


class RatingRow(Base):
    """One judgment of one response on a scale (records.Rating); a conversation prompt is stored as its JSON."""

    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(32), unique=True)
    item_id: Mapped[str] = mapped_column(String(255), index=True)
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"))
    prompt_is_turns: Mapped[bool] = mapped_column(Boolean, default=False)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    score: Mapped[int] = mapped_column(Integer)
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    scale_labels: Mapped[list[Any] | None] = mapped_column(JSON)
    rater_id: Mapped[str] = mapped_column(ForeignKey("raters.id"), index=True)
    objective: Mapped[str] = mapped_column(String(64), default="overall")
    task_type: Mapped[str] = mapped_column(String(128), default="default")
    campaign: Mapped[str | None] = mapped_column(String(255), index=True)
    interface: Mapped[str | None] = mapped_column(String(255))
    rubric_version: Mapped[str | None] = mapped_column(String(64))
    rationale: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column()
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_ratings_task_objective", "task_type", "objective"),)


class PreferenceSetRow(Base):
    """A named, curated set of preference pairs (the audit's output, training's input)."""

    __tablename__ = "preference_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreferencePairRow(Base):
    __tablename__ = "preference_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("preference_sets.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(32))
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"))
    chosen_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    rejected_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    p_chosen: Mapped[float | None] = mapped_column(Float)
    tie: Mapped[bool] = mapped_column(Boolean, default=False)
    objective: Mapped[str] = mapped_column(String(64), default="overall")
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("set_id", "dedup_key", name="uq_preference_pairs_set_key"),)


class EventRow(Base):
    """A production event (already redacted), idempotent by (project, event_id)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), default="default")
    event_id: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(16))
    trace_id: Mapped[str] = mapped_column(String(256), index=True)
    timestamp: Mapped[datetime] = mapped_column()
    model: Mapped[str | None] = mapped_column(String(255))
    prompt: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(255))
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    corrected_response: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("project", "event_id", name="uq_events_project_event"),)


class OutcomeRow(Base):
    """An outcome (records.Outcome), idempotent by (project, outcome_id), joined to its generation by trace_id."""

    __tablename__ = "outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), default="default")
    outcome_id: Mapped[str] = mapped_column(String(256))
    trace_id: Mapped[str | None] = mapped_column(String(256), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    observed_at: Mapped[datetime | None] = mapped_column()
    generated_at: Mapped[datetime | None] = mapped_column()
    delay_seconds: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("project", "outcome_id", name="uq_outcomes_project_outcome"),)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(255))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    contracts: Mapped[list[Any] | None] = mapped_column(JSON)
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version", name="uq_model_versions_name_version"),)


class PromotionRow(Base):
    """Champion history per role: append-only, so every promotion, refusal and rollback stays on record."""

    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(64))
    checks: Mapped[list[Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    share: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoopTickRow(Base):
    """One `tether loop tick`: the triggers it evaluated, what it did, and the batch it left pending (if any)."""

    __tablename__ = "loop_ticks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16))  # idle / labelling / waiting / retrained / failed
    campaign: Mapped[str | None] = mapped_column(String(255))
    triggers: Mapped[list[Any] | None] = mapped_column(JSON)
    actions: Mapped[list[Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class LoopLockRow(Base):
    """At most one tick per role at a time: a tick inserts the role's row and deletes it when done."""

    __tablename__ = "loop_locks"
    role: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditRunRow(Base):
    """An audit as later stages read it; `result` is the audit's whole JSON, the other columns what they query."""

    __tablename__ = "audit_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(Text)
    n_comparisons: Mapped[int] = mapped_column(Integer)
    campaigns: Mapped[list[Any]] = mapped_column(JSON)
    blocked_task_types: Mapped[list[Any]] = mapped_column(JSON)
    verdicts: Mapped[dict[str, Any]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditRunCampaignRow(Base):
    """Which campaigns' comparisons an audit run covered: a campaign finds its latest audit by index, not by JSON."""

    __tablename__ = "audit_run_campaigns"
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id", ondelete="CASCADE"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


# Campaign tables live in their own module; importing it here keeps Base.metadata complete.
import tether.store.deploy_models  # noqa: E402, F401  (production-side tables, same reason)
from tether.store import collect_models  # noqa: E402, F401
