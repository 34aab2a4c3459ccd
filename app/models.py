"""Storage: goals, plans, immutable plan versions, stage results and runs, tasks, audit.

A plan version's `document` is written once, by the finalize stage, and never
changed: replanning writes a new version. Live execution state lives in
`plan_tasks`, whose `row_version` gives optimistic concurrency for feedback.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")

PLAN_STATES = ("queued", "running", "completed", "failed", "cancelled")
TERMINAL_STATES = ("completed", "failed", "cancelled")
STAGE_RUN_STATES = ("running", "succeeded", "failed", "retrying", "abandoned", "duplicate")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Goal(db.Model):
    __tablename__ = "goals"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(sa.String(500))
    document: Mapped[dict] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    goal_id: Mapped[str] = mapped_column(sa.ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    current_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    goal: Mapped[Goal] = relationship()
    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.version", cascade="all, delete-orphan"
    )


class PlanVersion(db.Model):
    __tablename__ = "plan_versions"
    __table_args__ = (sa.UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    reason: Mapped[str] = mapped_column(sa.String(200), default="initial plan")
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Celery task ids of the chain, so DELETE can revoke what has not run yet.
    task_ids: Mapped[list | None] = mapped_column(JSONDocument, nullable=True)
    document: Mapped[dict | None] = mapped_column(JSONDocument, nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    plan: Mapped[Plan] = relationship(back_populates="versions")


class StageResult(db.Model):
    """One stage's output for one plan version; the unique key makes stages idempotent."""

    __tablename__ = "stage_results"
    __table_args__ = (sa.UniqueConstraint("plan_version_id", "stage", name="uq_stage_results_version_stage"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(20))
    output: Mapped[dict] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class StageRun(db.Model):
    """One attempt at one stage: what the Flower dashboard shows, kept for good."""

    __tablename__ = "stage_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(20))
    state: Mapped[str] = mapped_column(sa.String(20))
    attempt: Mapped[int] = mapped_column(sa.Integer, default=1)
    worker: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class PlanTask(db.Model):
    """A task of a plan version with its live execution state."""

    __tablename__ = "plan_tasks"
    __table_args__ = (sa.UniqueConstraint("plan_version_id", "task_key", name="uq_plan_tasks_version_key"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    task_key: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(500))
    phase: Mapped[str] = mapped_column(sa.String(200), default="")
    data: Mapped[dict] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(sa.String(20), default="not_started")
    percent_complete: Mapped[float] = mapped_column(sa.Float, default=0.0)
    row_version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}


class PlanRisk(db.Model):
    """A risk of a plan version with its live state (mitigations change it; the snapshot keeps the original)."""

    __tablename__ = "plan_risks"
    __table_args__ = (sa.UniqueConstraint("plan_version_id", "risk_key", name="uq_plan_risks_version_key"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    risk_key: Mapped[str] = mapped_column(sa.String(100))
    category: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20))
    score: Mapped[float] = mapped_column(sa.Float)
    rank: Mapped[int] = mapped_column(sa.Integer)
    data: Mapped[dict] = mapped_column(JSONDocument)
    row_version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(100))
    entity: Mapped[str] = mapped_column(sa.String(50))
    entity_id: Mapped[str] = mapped_column(sa.String(100), index=True)
    before_digest: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    after_digest: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class ResourcePoolRecord(db.Model):
    """A pool of the local resource set (`/api/v1/resources`), the embedded default source."""

    __tablename__ = "resource_pools"
    __table_args__ = (sa.UniqueConstraint("type", name="uq_resource_pools_type"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    cost_rate: Mapped[float] = mapped_column(sa.Float, default=0.0)
    rate_unit: Mapped[str] = mapped_column(sa.String(10), default="hour")
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    hours_per_day: Mapped[int] = mapped_column(sa.Integer, default=8)
    # The types this pool may stand in for (a senior engineer pool lists "engineer").
    substitutes: Mapped[list] = mapped_column(JSONDocument, default=list)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict:
        return {"type": self.type, "capacity": self.capacity, "cost_rate": self.cost_rate,
                "rate_unit": self.rate_unit, "currency": self.currency, "hours_per_day": self.hours_per_day,
                "substitutes": list(self.substitutes or [])}
