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
from app.security.context import current_principal, current_remote_addr, current_request_id, current_tenant
from app.security.encryption import EncryptedJSON

# The lifecycle's states and transitions: one table, planning/lifecycle.py (re-exported here).
from planning.lifecycle import PLAN_STATES, VERSION_DONE_STATES, VERSION_STATES  # noqa: F401

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")

STAGE_RUN_STATES = ("running", "succeeded", "failed", "retrying", "abandoned", "duplicate")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Goal(db.Model):
    __tablename__ = "goals"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(sa.String(500))
    # description and context (free text) encrypted at rest when LAYER2_ENCRYPTION_KEYS is set (app/security)
    document: Mapped[dict] = mapped_column(EncryptedJSON("description", "context"))
    # The caller's tenant (app/security): never from the body.
    tenant: Mapped[str] = mapped_column(sa.String(100), default=current_tenant, server_default="default")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    goal_id: Mapped[str] = mapped_column(sa.ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    # The tenant of the caller who submitted it (app/security): its tasks, risks, issues and feedback are the
    # tenant's too; another tenant's caller gets a 404.
    tenant: Mapped[str] = mapped_column(sa.String(100), default=current_tenant, server_default="default", index=True)
    current_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The approved version: what progress is measured against (docs/lifecycle.md).
    baseline_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # Replanning (app/services/replanning.py): when the beat scan last evaluated the plan's triggers,
    # and when it last started an automatic replan (the debounce).
    replan_checked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_auto_replan_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
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
    # Deferred: listing a plan's versions does not load every document; reading one loads it.
    document: Mapped[dict | None] = mapped_column(JSONDocument, nullable=True, deferred=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # "plan" (made from the goal) or "replan" (made from an executing plan's status date): a stage of
    # the registry may run another function for a mode (app/stages.py).
    mode: Mapped[str] = mapped_column(sa.String(20), default="plan", server_default="plan")
    # A replan: the version it replaces, its status date, and the moment the plan's dates derive from
    # (the first version's, so the project start and working hours stay those of the plan).
    replan_of: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    status_date: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    origin_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    plan: Mapped[Plan] = relationship(back_populates="versions")


class PlanApproval(db.Model):
    """The one decision on one plan version: approved (by a person or automatically) or rejected.

    Kept beside the immutable document; the plan view merges it into `approval`.
    """

    __tablename__ = "plan_approvals"
    __table_args__ = (sa.UniqueConstraint("plan_id", "version", name="uq_plan_approvals_plan_version"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(sa.Integer)
    decision: Mapped[str] = mapped_column(sa.String(20))  # approved | rejected
    actor: Mapped[str] = mapped_column(sa.String(200))
    auto: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # the comment, or the rejection's reason
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


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
    # uuid5 of (plan id, task id): the same task keeps it in every version of its plan.
    uid: Mapped[str] = mapped_column(sa.String(36), index=True)
    name: Mapped[str] = mapped_column(sa.String(500))
    phase: Mapped[str] = mapped_column(sa.String(200), default="")
    data: Mapped[dict] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(sa.String(20), default="not_started")
    percent_complete: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # Execution feedback (app/services/feedback.py): the latest reported actuals.
    actual_start: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    actual_finish: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    remaining_hours: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    actual_cost: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    blocked_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    status_date: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
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


def _audit_tenant(context) -> str | None:
    """An audit row's tenant: the caller's; outside a request (a worker, the beat) that of the plan the row is
    about; else NULL (the resource pools are the service's)."""
    principal = current_principal()
    if principal is not None:
        return principal.tenant
    row = context.get_current_parameters()
    # the pipeline's statement binds its values as b_<column> (app/services/lifecycle.py AUDIT_TRANSITION)
    entity, entity_id = row.get("entity", row.get("b_entity")), row.get("entity_id", row.get("b_entity_id"))
    if entity not in ("plan", "plan_version") or not entity_id:
        return None
    plan_id = str(entity_id).split("/", 1)[0]
    return context.connection.execute(sa.select(Plan.tenant).where(Plan.id == plan_id)).scalar()


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
    # From the request (app/security/context.py) whatever statement inserts the row; NULL outside a request.
    tenant: Mapped[str | None] = mapped_column(sa.String(100), default=_audit_tenant, nullable=True)
    request_id: Mapped[str | None] = mapped_column(sa.String(200), default=current_request_id, nullable=True)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64), default=current_remote_addr, nullable=True)
    # The hash chain, set by the database's trigger (migrations/versions/0008_security.py): the row's place in
    # the chain, the previous row's hash, and sha256 over both and this row's fields. Append-only: the trigger
    # refuses UPDATE and DELETE.
    seq: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True,
                                            unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


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


# Ids of append-only logs: 64-bit on PostgreSQL; SQLite only autoincrements an INTEGER key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class PlanProgress(db.Model):
    """Per plan under execution: the feedback counter (the ETag of `PUT /plans/{id}`) and when it ran."""

    __tablename__ = "plan_progress"

    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    feedback_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    status_date: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class FeedbackEvent(db.Model):
    """One task update of one feedback request, appended and never changed."""

    __tablename__ = "feedback_events"
    __table_args__ = (sa.Index("ix_feedback_events_plan_status_date", "plan_id", "status_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    plan_task_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_tasks.id", ondelete="CASCADE"), index=True)
    task_key: Mapped[str] = mapped_column(sa.String(200))
    seq: Mapped[int] = mapped_column(sa.Integer)  # the plan's feedback counter this request moved it to
    status_date: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(200))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    update: Mapped[dict] = mapped_column(EncryptedJSON("note"))  # the update as sent (its note encrypted at rest)
    state: Mapped[dict] = mapped_column(JSONDocument)  # the task's live state after it


class IdempotencyKey(db.Model):
    """A feedback request's `Idempotency-Key` with its body's digest and the answer given."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("plan_id", "key", name="uq_idempotency_keys_plan_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    request_digest: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    response: Mapped[dict] = mapped_column(JSONDocument)
    etag: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


ISSUE_STATES = ("open", "resolved")


class PlanIssue(db.Model):
    """A blocked or failed task of a plan under execution, until someone resolves it."""

    __tablename__ = "plan_issues"
    __table_args__ = (sa.Index("ix_plan_issues_plan_status", "plan_id", "status"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    plan_version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    plan_task_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_tasks.id", ondelete="CASCADE"), index=True)
    task_key: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))  # blocked | failed
    severity: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    float_used_hours: Mapped[float] = mapped_column(sa.Float, default=0.0)
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    opened_by: Mapped[str] = mapped_column(sa.String(200))
    status_date: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))  # the report that opened it
    escalation_level: Mapped[int] = mapped_column(sa.Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    resolution: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    row_version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}


class ReplanTrigger(db.Model):
    """Why a plan was (to be) replanned: the scan's fired triggers, or a person's reason.

    The unique (plan, window) key makes one automatic replan per plan per debounce window
    whatever the number of beat processes; `version` is the version it made (or joined).
    """

    __tablename__ = "replan_triggers"
    __table_args__ = (sa.UniqueConstraint("plan_id", "window_key", name="uq_replan_triggers_plan_window"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    window_key: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(20))  # scan | manual
    kinds: Mapped[list] = mapped_column(JSONDocument, default=list)  # the fired trigger kinds
    reason: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[list] = mapped_column(JSONDocument, default=list)  # Trigger.to_dict() of each
    actor: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # pending -> replanned (made `version`) | merged (another replan made `version` meanwhile) | refused
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class PlanPoolChange(db.Model):
    """A local pool's capacity change that touched a plan (`PUT /api/v1/resources` flags it): a replan trigger."""

    __tablename__ = "plan_pool_changes"
    __table_args__ = (sa.Index("ix_plan_pool_changes_plan_at", "plan_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    pool: Mapped[str] = mapped_column(sa.String(100))
    old_capacity: Mapped[int] = mapped_column(sa.Integer)
    new_capacity: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class OutboxEvent(db.Model):
    """An outgoing event, written in the same transaction as the change it reports (the transactional
    outbox); the relay publishes it to the topic exchange and sets `sent_at` (docs/events.md)."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_unsent", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)  # the envelope's id: consumers dedup by it
    topic: Mapped[str] = mapped_column(sa.String(100))  # the routing key and the envelope's type
    schema_version: Mapped[int] = mapped_column(sa.Integer)
    plan_id: Mapped[str | None] = mapped_column(sa.String(36), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    payload: Mapped[dict] = mapped_column(JSONDocument)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class InboxMessage(db.Model):
    """An incoming message already handled (applied or dead-lettered), by its topic and id: a redelivery is
    recognised and dropped. Feedback messages use the feedback idempotency keys instead."""

    __tablename__ = "inbox"
    __table_args__ = (sa.UniqueConstraint("topic", "message_id", name="uq_inbox_topic_message"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(sa.String(100))
    message_id: Mapped[str] = mapped_column(sa.String(200))
    outcome: Mapped[str] = mapped_column(sa.String(20))  # applied | dead_lettered
    result: Mapped[dict | None] = mapped_column(JSONDocument, nullable=True)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ApiKey(db.Model):
    """An API key (app/security/keys.py): only its lookup prefix and sha256 are stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    tenant: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # An executor key's execution layer: the resource types of the tasks it may report on (NULL: all).
    task_scope: Mapped[list | None] = mapped_column(JSONDocument, nullable=True)


class PlanAccess(db.Model):
    """A plan's ACL: when a plan has rows here, only the named owners and teams of its tenant (and the tenant's
    admins) see it; a plan without rows is open to its whole tenant."""

    __tablename__ = "plan_access"
    __table_args__ = (sa.UniqueConstraint("plan_id", "kind", "name", name="uq_plan_access"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # owner | team
    name: Mapped[str] = mapped_column(sa.String(200))
