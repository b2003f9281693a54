"""Tables for annotation campaigns: items, rubric versions, assignments, credentials, pause state.

Answers themselves are ordinary `comparisons` rows; these tables hold what the campaign
needs to issue work, check who may see it, and decide when a task type stops scaling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.store.models import Base, utcnow


class CampaignRow(Base):
    """A campaign: which objectives, how many raters per pair, how big the pilot is."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    objectives: Mapped[list[str]] = mapped_column(JSON)
    overlap: Mapped[int] = mapped_column(Integer, default=3)
    pilot_items: Mapped[int] = mapped_column(Integer, default=10)  # regular items per task type per pilot round
    agreement_threshold: Mapped[float] = mapped_column(Float)
    gold_rate: Mapped[float] = mapped_column(Float, default=0.1)
    attention_rate: Mapped[float] = mapped_column(Float, default=0.05)
    qualification_gold: Mapped[int] = mapped_column(Integer, default=0)  # gold answers before regular work
    pass_threshold: Mapped[float] = mapped_column(Float, default=0.8)
    queue_size: Mapped[int] = mapped_column(Integer, default=5)
    # an issued task not answered within this many hours goes back to the pool
    assignment_expiry_hours: Mapped[float] = mapped_column(Float, default=24.0, server_default="24")
    interface: Mapped[str] = mapped_column(String(255), default="tether-web")
    rule_raters: Mapped[str] = mapped_column(String(8), default="human", server_default="human")
    # Bumped at the start of every write transaction that issues work: serializes issuance
    # per campaign on PostgreSQL (row lock) and takes SQLite's write lock up front.
    lock_counter: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignItemRow(Base):
    """One pair in a campaign; gold and attention items carry the expected answer per objective."""

    __tablename__ = "campaign_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    pair_id: Mapped[str] = mapped_column(String(255))
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"))
    response_a_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    response_b_id: Mapped[str] = mapped_column(ForeignKey("responses.id"))
    task_type: Mapped[str] = mapped_column(String(128), default="default")
    kind: Mapped[str] = mapped_column(String(16), default="regular")  # regular / gold / attention
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # objective -> "a" / "b" / "tie"
    pilot_round: Mapped[int | None] = mapped_column(Integer)  # set when the item joins a pilot round
    position: Mapped[int] = mapped_column(Integer, default=0)  # input order, so pilots take the first items
    # "pairwise", or "rating": one response on a scale (its response_b_id repeats response_a_id)
    task: Mapped[str] = mapped_column(String(16), default="pairwise", server_default="pairwise")
    # a rating item's scale: {"scale": [min, max], "labels": [...] | null, "objectives": [...] | null}
    task_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("campaign_id", "pair_id", name="uq_campaign_items_pair"),
        Index("ix_campaign_items_campaign_task", "campaign_id", "task_type", "kind"),
        Index("ix_campaign_items_order", "campaign_id", "kind", "position"),
    )


class RubricVersionRow(Base):
    """A published rubric text; task_type '*' is the campaign default."""

    __tablename__ = "rubric_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    task_type: Mapped[str] = mapped_column(String(128), default="*")
    version: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "task_type", "version", name="uq_rubric_versions"),)


class TaskTypeStateRow(Base):
    """Where a task type stands in a campaign: piloting, active (scaling) or paused."""

    __tablename__ = "task_type_states"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    task_type: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pilot")  # pilot / active / paused
    pilot_round: Mapped[int] = mapped_column(Integer, default=1)
    rubric_version: Mapped[str | None] = mapped_column(String(64))
    agreement: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "task_type", name="uq_task_type_states"),)


class AssignmentRow(Base):
    """One pair issued to one rater, in the display order that rater sees; answers go to comparisons."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("campaign_items.id", ondelete="CASCADE"))
    rater_id: Mapped[str] = mapped_column(ForeignKey("raters.id"))
    objectives: Mapped[list[str]] = mapped_column(JSON)
    shown_first: Mapped[str] = mapped_column(String(1))
    phase: Mapped[str] = mapped_column(String(16))  # pilot / main / qualification / gold / attention
    rubric_version: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_shown_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    time_on_task_ms: Mapped[int | None] = mapped_column(Integer)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # objective -> canonical choice, confidence

    __table_args__ = (
        # No rater sees the same pair twice: enforced by the database, not only the scheduler.
        UniqueConstraint("item_id", "rater_id", name="uq_assignments_item_rater"),
        Index("ix_assignments_rater_open", "rater_id", "answered_at"),
        Index("ix_assignments_campaign", "campaign_id"),
        # ids only grow (never reused after a withdrawal): re-qualification counts answers after an id
        {"sqlite_autoincrement": True},
    )


class RaterTokenRow(Base):
    """A rater's personal sign-in token, stored only as a SHA-256 digest; refused after `expires_at`."""

    __tablename__ = "rater_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rater_id: Mapped[str] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()  # always set since 0006; a NULL one is refused
    revoked_at: Mapped[datetime | None] = mapped_column()


class AdminCredentialRow(Base):
    """A team member's admin credential, stored only as a SHA-256 digest."""

    __tablename__ = "admin_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class WebSessionRow(Base):
    """A signed-in browser session (rater or admin) with its CSRF token; the cookie value is hashed."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(8))  # rater / admin
    subject: Mapped[str] = mapped_column(String(255))  # rater id or admin name
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class RaterQualificationRow(Base):
    """A rater's qualification for a campaign, from gold accuracy (and the audit's agreement)."""

    __tablename__ = "rater_qualifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    rater_id: Mapped[str] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # qualifying / qualified / failed / requalify
    gold_accuracy: Mapped[float | None] = mapped_column(Float)
    n_gold: Mapped[int] = mapped_column(Integer, default=0)
    since_assignment: Mapped[int] = mapped_column(Integer, default=0)  # gold answers counted after this id
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "rater_id", name="uq_rater_qualifications"),)
