"""Execution feedback: `PUT /api/v1/plans/{id}` (docs/lifecycle.md, "Execution feedback and progress").

One request is one transaction on the plan's row lock (`SELECT … FOR UPDATE`), so feedback on a
plan is applied one request at a time, whatever the number of API processes:

1. the body is checked alone (types, ranges, dates against each other): a 422 names every bad
   field, before any row is read;
2. the plan row is locked; an `Idempotency-Key` already answered gives its stored answer
   (the same body) or a 422 (another body), and writes nothing;
3. the plan must be `approved` or `executing` (409), `If-Match` must name the current feedback
   counter (412);
4. each update is merged with its task's live state and checked against it (unknown task,
   going back without `reopen`, a completed task below 100 %, …): any error and nothing is written;
5. the live rows are updated (row_version + 1 each), one `feedback_events` row is appended per
   update, issues are opened or resolved, the counter moves on, the plan goes approved →
   executing on its first feedback and → completed when every task is; the answer (the
   progress summary) is stored under the idempotency key in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from app.models import (
    AuditEntry,
    FeedbackEvent,
    IdempotencyKey,
    Plan,
    PlanIssue,
    PlanProgress,
    PlanRisk,
    PlanTask,
    PlanVersion,
    new_id,
)
from app.problems import ApiProblem
from app.security.context import current_principal, current_remote_addr, current_request_id, current_tenant
from app.security.encryption import encrypt_fields
from app.services import audit, outbox
from app.services.progress import (
    LIVE_COLUMNS,
    YEAR_RANGE,
    PlanBaseline,
    TaskState,
    as_utc,
    etag,
    iso,
    measure,
    plan_baseline,
    task_progress,
)
from planning.lifecycle import check_plan_transition
from planning.progress import STATUSES, escalation_level, issue_severity, slip_hours
from planning.settings import PlanningSettings

FEEDBACK_STATES = ("approved", "executing")
MAX_UPDATES = 500
MAX_BODY_BYTES = 256 * 1024
MAX_NOTE = 2000
MAX_REASON = 1000
MAX_AMOUNT = 1e12
MAX_KEY = 200
TROUBLE = ("blocked", "failed")
BODY_FIELDS = ("status_date", "updates")
UPDATE_FIELDS = ("task_id", "status", "percent_complete", "actual_start", "actual_finish", "remaining_hours",
                 "actual_cost", "note", "blocked_reason", "reopen")
#: What an escalated issue's risk alert says about its impact, by the issue's severity.
SEVERITY_IMPACT = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}


@dataclass(frozen=True)
class Update:
    index: int
    task_ref: str
    given: dict[str, Any]  # parsed values of the fields sent (null = not sent)
    sent: dict[str, Any]  # the update as sent, for the event row


@dataclass(frozen=True)
class Feedback:
    status_date: datetime
    status_date_given: bool
    updates: tuple[Update, ...]


@dataclass(frozen=True)
class FeedbackAnswer:
    status_code: int
    body: dict[str, Any]
    etag: str
    replayed: bool = False
    completed_tasks: int = 0
    failed_tasks: int = 0


class Errors:
    """Field errors collected over a whole request: every bad field is named, not just the first."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.conflict = False  # only conflicts with the stored state (going back): 409, not 422

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def add_conflict(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message, "conflict": True})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        conflicts = [e for e in self.items if e.get("conflict")]
        errors = [{"field": e["field"], "message": e["message"]} for e in self.items]
        if len(conflicts) == len(self.items):
            raise ApiProblem(409, "feedback-conflict", "The feedback conflicts with the task's state",
                             f"{len(errors)} update(s) conflict with the recorded state; nothing was written", errors)
        raise ApiProblem(422, "invalid-feedback", "The feedback is not valid",
                         f"{len(errors)} field(s) failed validation; nothing was written", errors)


# --------------------------------------------------------------------------- the body alone


def parse_datetime(value: Any, field: str, errors: Errors) -> datetime | None:
    if not isinstance(value, str):
        errors.add(field, f"must be an ISO 8601 date-time string, got {json.dumps(value)[:60]}")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.add(field, f"{value[:60]!r} is not an ISO 8601 date-time")
        return None
    if not YEAR_RANGE[0] <= moment.year <= YEAR_RANGE[1]:
        errors.add(field, f"must lie between the years {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
        return None
    return as_utc(moment)


def _number(value: Any, field: str, errors: Errors, *, maximum: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.add(field, f"must be a number, got {json.dumps(value)[:60]}")
        return None
    if not 0 <= value <= maximum:
        errors.add(field, f"must be between 0 and {maximum:g}, got {value!r}")
        return None
    return float(value)


def _text(value: Any, field: str, errors: Errors, *, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "must be a non-empty string")
        return None
    if len(value) > limit:
        errors.add(field, f"must be at most {limit} characters, got {len(value)}")
        return None
    return value


def parse_feedback(body: Any, *, now: datetime) -> Feedback:
    """Check the body alone; ApiProblem 422 (413 for too many updates) naming every bad field."""
    errors = Errors()
    if not isinstance(body, dict):
        raise ApiProblem(400, "malformed-json", "Malformed JSON", "the request body must be a JSON object")
    for key in body:
        if key not in BODY_FIELDS:
            errors.add(str(key), f"unknown field; a feedback body has {', '.join(BODY_FIELDS)}")
    status_date, given = as_utc(now), False
    if body.get("status_date") is not None:
        parsed = parse_datetime(body["status_date"], "status_date", errors)
        status_date, given = (parsed, True) if parsed is not None else (status_date, False)
    raw_updates = body.get("updates")
    updates: list[Update] = []
    if raw_updates is None:
        errors.add("updates", "required: a list of task updates")
    elif not isinstance(raw_updates, list):
        errors.add("updates", "must be a list of task updates")
    elif not raw_updates:
        errors.add("updates", "must hold at least one update")
    elif len(raw_updates) > MAX_UPDATES:
        raise ApiProblem(413, "feedback-too-large", "Too many updates",
                         f"{len(raw_updates)} updates in one request; send at most {MAX_UPDATES}",
                         [{"field": "updates", "message": f"at most {MAX_UPDATES} updates per request"}])
    else:
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_updates):
            update = _parse_update(index, raw, status_date, errors)
            if update is None:
                continue
            if update.task_ref in seen:
                errors.add(f"updates[{index}].task_id", f"task {update.task_ref!r} is already updated by "
                                                        f"updates[{seen[update.task_ref]}]; one update per task")
                continue
            seen[update.task_ref] = index
            updates.append(update)
    errors.raise_if_any()
    return Feedback(status_date, given, tuple(updates))


def _parse_update(index: int, raw: Any, status_date: datetime, errors: Errors) -> Update | None:
    where = f"updates[{index}]"
    if not isinstance(raw, dict):
        errors.add(where, "must be an object")
        return None
    before = len(errors.items)
    for key in raw:
        if key not in UPDATE_FIELDS:
            errors.add(f"{where}.{key}", f"unknown field; an update has {', '.join(UPDATE_FIELDS)}")
    task_ref = raw.get("task_id")
    if task_ref is None:
        errors.add(f"{where}.task_id", "required: the task's id or uid")
    elif not isinstance(task_ref, str) or not task_ref or len(task_ref) > MAX_KEY:
        errors.add(f"{where}.task_id", f"must be a task id or uid (a string of 1 to {MAX_KEY} characters)")
        task_ref = None
    given: dict[str, Any] = {}
    value = raw.get("status")
    if value is not None:
        if value in STATUSES:
            given["status"] = value
        else:
            errors.add(f"{where}.status", f"must be one of {', '.join(STATUSES)}, got {json.dumps(value)[:60]}")
    if raw.get("percent_complete") is not None:
        given["percent_complete"] = _number(raw["percent_complete"], f"{where}.percent_complete", errors,
                                            maximum=100.0)
    for name in ("remaining_hours", "actual_cost"):
        if raw.get(name) is not None:
            given[name] = _number(raw[name], f"{where}.{name}", errors, maximum=MAX_AMOUNT)
    for name in ("actual_start", "actual_finish"):
        if raw.get(name) is not None:
            given[name] = parse_datetime(raw[name], f"{where}.{name}", errors)
            if given[name] is not None and given[name] > status_date:
                errors.add(f"{where}.{name}", f"{iso(given[name])} is after the status date {iso(status_date)}: "
                                              "feedback reports what has happened by the status date")
    if given.get("actual_start") and given.get("actual_finish") and given["actual_finish"] < given["actual_start"]:
        errors.add(f"{where}.actual_finish", f"{iso(given['actual_finish'])} is before the actual start "
                                             f"{iso(given['actual_start'])}")
    if raw.get("note") is not None:
        given["note"] = _text(raw["note"], f"{where}.note", errors, limit=MAX_NOTE)
    if raw.get("blocked_reason") is not None:
        given["blocked_reason"] = _text(raw["blocked_reason"], f"{where}.blocked_reason", errors, limit=MAX_REASON)
    if raw.get("reopen") is not None:
        if isinstance(raw["reopen"], bool):
            given["reopen"] = raw["reopen"]
        else:
            errors.add(f"{where}.reopen", f"must be true or false, got {json.dumps(raw['reopen'])[:60]}")
    if len(errors.items) > before or task_ref is None:
        return None
    return Update(index, task_ref, given, dict(raw))


# --------------------------------------------------------------------------- against the stored state


def merge(update: Update, current: TaskState, *, task_id: str, base: PlanBaseline, status_date: datetime,
          errors: Errors) -> TaskState:
    """The task's state after `update`; errors name `updates[i].<field>` (see docs/lifecycle.md for the rules)."""
    where = f"updates[{update.index}]"
    given = update.given
    reopen = given.get("reopen", False)
    percent = given.get("percent_complete")
    status = given.get("status")
    if status is None:  # MS Project: entering a percentage moves the status along with it
        if percent == 100:
            status = "completed"
        elif percent is not None and percent > 0 and current.status == "not_started":
            status = "in_progress"
        else:
            status = current.status
    if current.status_date is not None and status_date < current.status_date:
        errors.add("status_date", f"{iso(status_date)} is before task {task_id!r}'s last report "
                                  f"({iso(current.status_date)}); reports on a task come in status-date order")
    started = current.actual_start is not None or current.percent_complete > 0 or current.status != "not_started"
    if current.status == "completed" and status != "completed" and not reopen:
        errors.add_conflict(f"{where}.status", f"task {task_id!r} is completed; send \"reopen\": true to move it "
                                               f"back to {status}")
    elif status == "not_started" and started and current.status != "not_started" and not reopen:
        errors.add_conflict(f"{where}.status", f"task {task_id!r} has started; send \"reopen\": true to move it "
                                               "back to not_started")
    reopened = reopen and (current.status == "completed" and status != "completed"
                           or status == "not_started" and started)

    actual_start = given.get("actual_start", None if reopened and status == "not_started" else current.actual_start)
    actual_finish = given.get("actual_finish",
                              current.actual_finish if status == current.status and not reopened else None)
    remaining = given.get("remaining_hours", current.remaining_hours)
    cost = given.get("actual_cost", current.actual_cost)
    blocked_reason = given.get("blocked_reason", current.blocked_reason if current.status == "blocked" else None)
    planned_start = base.planned_start[task_id]

    if status == "completed":
        if percent is not None and percent != 100:
            errors.add(f"{where}.percent_complete", f"a completed task is 100 % complete, got {percent:g}")
        if given.get("remaining_hours"):
            errors.add(f"{where}.remaining_hours", "a completed task has no remaining hours")
        percent, remaining = 100.0, 0.0
        if actual_finish is None:
            actual_finish = status_date  # documented default: finished on the status date
        if actual_start is None:  # documented default (MS Project): started when planned, or at its finish
            actual_start = min(planned_start, actual_finish)
    elif status == "not_started":
        if percent:
            errors.add(f"{where}.percent_complete", f"a task not started is 0 % complete, got {percent:g}")
        for name in ("actual_start", "actual_finish"):
            if given.get(name) is not None:
                errors.add(f"{where}.{name}", "a task not started has no actual start or finish")
        percent, actual_start, actual_finish = 0.0, None, None
    else:  # in_progress, blocked, failed
        if percent is None:
            percent = current.percent_complete if not (reopened and current.status == "completed") else None
        if percent is None:
            errors.add(f"{where}.percent_complete", "reopening a completed task needs its percent_complete "
                                                    "(below 100)")
            percent = 0.0
        elif percent >= 100:
            errors.add(f"{where}.percent_complete", f"a task that is {status} is below 100 % complete; "
                                                    "send status completed when it is done")
        if status != "failed" and given.get("actual_finish") is not None:
            errors.add(f"{where}.actual_finish", f"a task that is {status} has not finished; only completed "
                                                 "and failed tasks have an actual finish")
        if status != "failed":
            actual_finish = None
        if actual_start is None and (status == "in_progress" or percent > 0):
            # documented default: started when planned, unless that is after the status date
            actual_start = min(planned_start, status_date)
    if status == "blocked":
        if blocked_reason is None:
            errors.add(f"{where}.blocked_reason", "a blocked task needs its blocked_reason")
    else:
        if given.get("blocked_reason") is not None:
            errors.add(f"{where}.blocked_reason", f"only a blocked task has a blocked_reason (status is {status})")
        blocked_reason = None
    if actual_start is not None and actual_start > status_date:
        errors.add(f"{where}.actual_start", f"{iso(actual_start)} is after the status date {iso(status_date)}")
    if actual_finish is not None and actual_start is not None and actual_finish < actual_start:
        errors.add(f"{where}.actual_finish" if "actual_finish" in given else f"{where}.actual_start",
                   f"the actual finish {iso(actual_finish)} is before the actual start {iso(actual_start)}")
    for name, moment in (("actual_start", actual_start), ("actual_finish", actual_finish)):
        if moment is not None and moment.date() < base.clock.start:
            errors.add(f"{where}.{name}", f"{iso(moment)} is before the project start {base.clock.start.isoformat()}")
    return TaskState(status=status, percent_complete=float(percent), actual_start=actual_start,
                     actual_finish=actual_finish, remaining_hours=remaining, actual_cost=cost,
                     blocked_reason=blocked_reason, status_date=status_date)


# --------------------------------------------------------------------------- the transaction


def request_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse_if_match(header: str | None) -> list[str] | None:
    if header is None:
        return None
    return [part.strip() for part in header.split(",") if part.strip()]


# The plan row, locked, with its baseline version.
_LOCK_PLAN = (
    sa.select(Plan.id, Plan.status, PlanVersion.id.label("vid"), PlanVersion.version,
              PlanVersion.document.isnot(None).label("has_document"))
    .join(PlanVersion, sa.and_(PlanVersion.plan_id == Plan.id,
                               PlanVersion.version == sa.func.coalesce(Plan.baseline_version, Plan.current_version)))
    .where(Plan.id == sa.bindparam("b_plan_id"))
    .with_for_update(of=Plan)
)
# Its feedback counter and whether it has open issues: a statement of its own, after the lock is granted, since
# under READ COMMITTED a statement that waited for a lock still reads its other tables as they were before.
_PLAN_PROGRESS = sa.select(
    sa.select(PlanProgress.feedback_seq).where(PlanProgress.plan_id == sa.bindparam("b_plan_id"))
    .scalar_subquery().label("feedback_seq"),
    sa.select(PlanProgress.status_date).where(PlanProgress.plan_id == sa.bindparam("b_plan_id"))
    .scalar_subquery().label("latest"),
    sa.select(PlanProgress.completed_at).where(PlanProgress.plan_id == sa.bindparam("b_plan_id"))
    .scalar_subquery().label("completed_at"),
    sa.select(sa.func.count()).where(PlanIssue.plan_id == sa.bindparam("b_plan_id"), PlanIssue.status == "open")
    .scalar_subquery().label("open_issues"),
)
_TASKS = sa.select(*LIVE_COLUMNS).where(PlanTask.plan_version_id == sa.bindparam("b_version_id"))
_TASK_TABLE = PlanTask.__table__
_UPDATE_TASK = (
    sa.update(_TASK_TABLE)
    .where(_TASK_TABLE.c.id == sa.bindparam("b_id"), _TASK_TABLE.c.row_version == sa.bindparam("b_rv"))
    .values(status=sa.bindparam("b_status"), percent_complete=sa.bindparam("b_percent"),
            actual_start=sa.bindparam("b_start"), actual_finish=sa.bindparam("b_finish"),
            remaining_hours=sa.bindparam("b_remaining"), actual_cost=sa.bindparam("b_cost"),
            blocked_reason=sa.bindparam("b_reason"), status_date=sa.bindparam("b_status_date"),
            row_version=_TASK_TABLE.c.row_version + 1)
)
# PostgreSQL: the plan and its counter row locked together, in one trip. Both rows are locked, so a
# statement that waited for the lock re-reads both as committed by the request before it.
_LOCK_PG = sa.text("""
    SELECT p.status, v.id AS vid, v.version, v.document IS NOT NULL AS has_document,
           pp.feedback_seq, pp.status_date AS latest, pp.completed_at, pp.started_at,
           (SELECT count(*) FROM plan_issues i WHERE i.plan_id = p.id AND i.status = 'open') AS open_issues
    FROM plans p
    JOIN plan_versions v ON v.plan_id = p.id AND v.version = coalesce(p.baseline_version, p.current_version)
    JOIN plan_progress pp ON pp.plan_id = p.id
    WHERE p.id = :plan_id
    FOR UPDATE OF p, pp
""")
# A plan's counter row, made by its first feedback request (rolled back with it if the request is refused).
_CREATE_PROGRESS_PG = sa.text("""
    INSERT INTO plan_progress (plan_id, plan_version_id, feedback_seq, updated_at)
    SELECT p.id, v.id, 0, :now FROM plans p
    JOIN plan_versions v ON v.plan_id = p.id AND v.version = coalesce(p.baseline_version, p.current_version)
    WHERE p.id = :plan_id
    ON CONFLICT (plan_id) DO NOTHING
""")
# PostgreSQL: all the writes of an accepted request in one statement: the live rows (checked against their
# row_version), one event per update, the counter, the audit row. Each CTE runs once, whatever the SELECT reads.
_WRITE_PG = sa.text("""
    WITH rows AS (
        UPDATE plan_tasks AS t SET status = v.status, percent_complete = v.percent, actual_start = v.start,
            actual_finish = v.finish, remaining_hours = v.remaining, actual_cost = v.cost,
            blocked_reason = v.reason, status_date = :status_date, row_version = t.row_version + 1
        FROM unnest(CAST(:ids AS integer[]), CAST(:rvs AS integer[]), CAST(:statuses AS varchar[]),
                    CAST(:percents AS float8[]), CAST(:starts AS timestamptz[]), CAST(:finishes AS timestamptz[]),
                    CAST(:remaining AS float8[]), CAST(:costs AS float8[]), CAST(:reasons AS text[]))
            AS v(id, rv, status, percent, start, finish, remaining, cost, reason)
        WHERE t.id = v.id AND t.row_version = v.rv
        RETURNING t.id
    ), events AS (
        INSERT INTO feedback_events (plan_id, plan_version_id, plan_task_id, task_key, seq, status_date, recorded_at,
                                     actor, idempotency_key, "update", state)
        SELECT :plan_id, :version_id, x.task_id, x.task_key, :seq, :status_date, :now, :actor, :key, x.sent, x.state
        FROM unnest(CAST(:ids AS integer[]), CAST(:task_keys AS varchar[]), CAST(:sent AS jsonb[]),
                    CAST(:after AS jsonb[])) WITH ORDINALITY AS x(task_id, task_key, sent, state, n)
        ORDER BY x.n
        RETURNING id
    ), counter AS (
        UPDATE plan_progress SET feedback_seq = :seq, status_date = :latest, updated_at = :now,
            completed_at = :completed_at, started_at = coalesce(started_at, :now)
        WHERE plan_id = :plan_id
    ), audit AS (
        INSERT INTO audit_log (at, actor, action, entity, entity_id, before_digest, after_digest, tenant, request_id,
                               remote_addr)
        VALUES (:now, :actor, 'plan.feedback', 'plan', :plan_id, NULL, :digest, :audit_tenant, :audit_request_id,
                :audit_remote_addr)
    )
    SELECT (SELECT count(*) FROM rows) AS updated, (SELECT array_agg(id ORDER BY id) FROM events) AS events
""")
_INSERT_EVENTS = sa.insert(FeedbackEvent.__table__).returning(FeedbackEvent.__table__.c.id,
                                                              sort_by_parameter_order=True)
_INSERT_PROGRESS = sa.insert(PlanProgress.__table__)
_UPDATE_PROGRESS = (sa.update(PlanProgress.__table__).where(PlanProgress.__table__.c.plan_id == sa.bindparam("b_plan"))
                    .values(feedback_seq=sa.bindparam("b_seq"), status_date=sa.bindparam("b_latest"),
                            updated_at=sa.bindparam("b_now"), completed_at=sa.bindparam("b_completed")))
_INSERT_AUDIT = sa.insert(AuditEntry.__table__)


def apply_feedback(*, session: Session, plan_id: str, body: Any, actor: str, settings: PlanningSettings,
                   if_match: str | None = None, idempotency_key: str | None = None,
                   now: datetime | None = None) -> FeedbackAnswer:
    """Apply one feedback request in one transaction; see the module docstring for the order of checks."""
    now = as_utc(now or datetime.now(UTC))
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_KEY and idempotency_key.isprintable()):
        raise ApiProblem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                         f"an Idempotency-Key is 1 to {MAX_KEY} printable characters",
                         [{"field": "Idempotency-Key", "message": f"must be 1 to {MAX_KEY} printable characters"}])
    feedback = parse_feedback(body, now=now)
    digest = request_digest(body)
    try:
        answer = _apply(session, plan_id, feedback, digest, actor, settings, if_match, idempotency_key, now)
    except Exception:
        session.rollback()
        raise
    return answer


def _apply(session: Session, plan_id: str, feedback: Feedback, digest: str, actor: str,
           settings: PlanningSettings, if_match: str | None, idempotency_key: str | None,
           now: datetime) -> FeedbackAnswer:
    # Core statements on the session's connection: the plan's lock is held from the first to the commit,
    # so every round trip in between is paid by every request queued on it.
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    plan = _lock(connection, plan_id, now, postgresql)
    if plan is None:
        raise ApiProblem(404, "plan-not-found", "Plan not found", f"no plan with id {plan_id!r}")
    if not feedback.status_date_given:
        # "now" is when the request is applied, under the lock: requests queued on the lock keep their order.
        now = as_utc(datetime.now(UTC))
        feedback = replace(feedback, status_date=max(now, feedback.status_date))
    if idempotency_key is not None:
        stored = session.execute(sa.select(IdempotencyKey).where(IdempotencyKey.plan_id == plan_id,
                                                                  IdempotencyKey.key == idempotency_key)).scalar()
        if stored is not None:
            session.rollback()
            if stored.request_digest != digest:
                raise ApiProblem(422, "idempotency-key-reused", "Idempotency-Key reused with another body",
                                 f"the Idempotency-Key {idempotency_key!r} was used for a different feedback "
                                 "request on this plan; use a new key for a new request",
                                 [{"field": "Idempotency-Key", "message": "already used with a different body"}])
            return FeedbackAnswer(stored.status_code, stored.response, stored.etag, replayed=True)
    if plan.status not in FEEDBACK_STATES:
        raise ApiProblem(409, "plan-not-executing", "The plan does not take feedback",
                         f"plan {plan_id} is {plan.status}; feedback is taken only on an approved or executing plan")
    if not plan.has_document:
        raise ApiProblem(409, "plan-not-executing", "The plan does not take feedback",
                         f"plan {plan_id}'s version {plan.version} has no document")
    seq = plan.feedback_seq or 0
    expected = parse_if_match(if_match)
    if expected is not None and "*" not in expected and etag(seq) not in expected:
        raise ApiProblem(412, "precondition-failed", "Precondition failed",
                         f"If-Match {if_match} does not match the plan's feedback ETag {etag(seq)}: "
                         "read the progress again and resend")
    base = plan_baseline(session, plan_id=plan_id, version=plan.version, version_id=plan.vid, settings=settings)
    rows = {row.task_key: row for row in connection.execute(_TASKS, {"b_version_id": plan.vid})}
    states = {key: TaskState.from_row(row) for key, row in rows.items()}

    errors = Errors()
    changes: list[tuple[Update, str, TaskState, TaskState]] = []
    claimed: dict[str, int] = {}
    principal = current_principal()  # an executor key may be limited to its layer's tasks (app/security)
    for update in feedback.updates:
        task_id = base.task_id_of(update.task_ref)
        if task_id is None or task_id not in rows or (
                principal is not None and not principal.may_touch(base.tasks.get(task_id))):
            errors.add(f"updates[{update.index}].task_id", f"plan {plan_id} has no task {update.task_ref!r} "
                                                           "(neither a task id nor a task uid)")
            continue
        if task_id in claimed:
            errors.add(f"updates[{update.index}].task_id", f"task {task_id!r} is already updated by "
                                                           f"updates[{claimed[task_id]}] (by id or uid)")
            continue
        claimed[task_id] = update.index
        after = merge(update, states[task_id], task_id=task_id, base=base, status_date=feedback.status_date,
                      errors=errors)
        changes.append((update, task_id, states[task_id], after))
    errors.raise_if_any()

    new_seq = seq + 1
    for (_, task_id, _, after) in changes:
        states[task_id] = after
    new_status, moves = _plan_moves(plan.status, states)
    completed_at = now if new_status == "completed" else plan.completed_at
    latest = max(as_utc(plan.latest) or feedback.status_date, feedback.status_date)
    audit_after = {"seq": new_seq, "tasks": [task_id for _, task_id, _, _ in changes]}
    if postgresql:
        events = _write_pg(connection, plan_id, plan.vid, changes, rows, new_seq, feedback.status_date, latest,
                           completed_at, now, actor, idempotency_key, audit.digest(audit_after))
    else:
        events = _write(connection, plan_id, plan, changes, rows, new_seq, feedback.status_date, latest,
                        completed_at, now, actor, idempotency_key, audit_after)
    opened_issues = _issues_for(session, plan_id, plan.vid, base, changes, rows, feedback.status_date, actor, now)
    opened = [issue_id for issue_id, _ in opened_issues]
    _move_plan(connection, plan_id, moves, actor, now)
    _emit_events(connection, plan_id, plan, base, changes, states, moves, actor, now)
    escalated = []
    if plan.open_issues:  # an issue opened just now is 0 hours old: nothing to escalate
        escalated = [issue.severity for issue in escalate(session, plan_id=plan_id, version_id=plan.vid,
                                                          settings=settings, now=now)]

    def answer_body() -> dict[str, Any]:
        summary = measure(base, states, feedback.status_date)
        return {
            "plan_id": plan_id, "status": new_status, "baseline_version": plan.version, "feedback_seq": new_seq,
            "status_date": iso(feedback.status_date), "updated": len(changes), "events": list(events),
            "issues_opened": opened,
            "progress": {key: summary[key] for key in ("as_of", "percent_complete", "tasks_by_status",
                                                       "schedule_variance_hours", "budget_variance")}
            | {"spi": summary["evm"]["spi"], "cpi": summary["evm"]["cpi"],
               "spi_t": summary["earned_schedule"]["spi_t"], "undefined": summary["undefined"]},
        }

    tag = etag(new_seq)
    body = None
    if idempotency_key is not None:  # the stored answer is written with the rest: computed under the lock
        body = answer_body()
        session.execute(sa.insert(IdempotencyKey).values(plan_id=plan_id, key=idempotency_key, request_digest=digest,
                                                          status_code=200, response=body, etag=tag, created_at=now))
    try:
        session.commit()
    except sa_exc.IntegrityError:
        # Two requests with one new key at once where the database takes no row lock (SQLite): the first won.
        session.rollback()
        stored = session.execute(sa.select(IdempotencyKey).where(IdempotencyKey.plan_id == plan_id,
                                                                  IdempotencyKey.key == idempotency_key)).scalar()
        if stored is None:
            raise
        return FeedbackAnswer(stored.status_code, stored.response, stored.etag, replayed=True)
    if body is None:  # otherwise after the commit, with the lock released: the states are in memory
        body = answer_body()
    for _, severity in opened_issues:
        count_issue("opened", severity)
    for severity in escalated:
        count_issue("escalated", severity)
    completed = sum(1 for _, _, before, after in changes if after.status == "completed" != before.status)
    failed = sum(1 for _, _, before, after in changes if after.status == "failed" != before.status)
    return FeedbackAnswer(200, body, tag, completed_tasks=completed, failed_tasks=failed)


def _lock(connection, plan_id: str, now: datetime, postgresql: bool):
    """Lock the plan; its status, baseline version, feedback counter and open issue count (None: no such plan)."""
    if postgresql:
        plan = connection.execute(_LOCK_PG, {"plan_id": plan_id}).one_or_none()
        if plan is None:  # no counter row yet (first feedback), or no plan
            connection.execute(_CREATE_PROGRESS_PG, {"plan_id": plan_id, "now": now})
            plan = connection.execute(_LOCK_PG, {"plan_id": plan_id}).one_or_none()
        return plan
    plan = connection.execute(_LOCK_PLAN, {"b_plan_id": plan_id}).one_or_none()
    if plan is None:
        return None
    counter = connection.execute(_PLAN_PROGRESS, {"b_plan_id": plan_id}).one()
    return SimpleNamespace(**plan._asdict(), **counter._asdict())


def _write_pg(connection, plan_id: str, version_id: int, changes, rows, seq: int, status_date: datetime,
              latest: datetime, completed_at, now: datetime, actor: str, key: str | None, digest: str) -> list[int]:
    states = [after for _, _, _, after in changes]
    result = connection.execute(_WRITE_PG, {
        "ids": [rows[task_id].id for _, task_id, _, _ in changes],
        "rvs": [rows[task_id].row_version for _, task_id, _, _ in changes],
        "task_keys": [task_id for _, task_id, _, _ in changes],
        "statuses": [s.status for s in states], "percents": [s.percent_complete for s in states],
        "starts": [s.actual_start for s in states], "finishes": [s.actual_finish for s in states],
        "remaining": [s.remaining_hours for s in states], "costs": [s.actual_cost for s in states],
        "reasons": [s.blocked_reason for s in states],
        # SQL text: the `update` column's type does not run here, so its note is encrypted by hand
        "sent": [orjson.dumps(encrypt_fields(update.sent, ("note",))).decode() for update, _, _, _ in changes],
        "after": [orjson.dumps(s.to_dict()).decode() for s in states],
        "plan_id": plan_id, "version_id": version_id, "seq": seq, "status_date": status_date, "latest": latest,
        "completed_at": completed_at, "now": now, "actor": actor, "key": key, "digest": digest,
        # the audit row's context (app/security/context.py; the ORM's column defaults do not reach this text)
        "audit_tenant": current_tenant(), "audit_request_id": current_request_id(),
        "audit_remote_addr": current_remote_addr()}).one()
    if result.updated != len(changes):  # only a writer that bypasses the plan's lock could cause this
        raise ApiProblem(409, "feedback-conflict", "Concurrent change",
                         "a task row changed under this request; nothing was written: resend it")
    return list(result.events)


def _write(connection, plan_id: str, plan, changes, rows, seq: int, status_date: datetime, latest: datetime,
           completed_at, now: datetime, actor: str, key: str | None, audit_after: dict) -> list[int]:
    """The same writes as `_WRITE_PG`, statement by statement (SQLite: embedded mode)."""
    _update_rows(connection, [(rows[task_id], after) for _, task_id, _, after in changes])
    events = connection.execute(_INSERT_EVENTS, [
        {"plan_id": plan_id, "plan_version_id": plan.vid, "plan_task_id": rows[task_id].id, "task_key": task_id,
         "seq": seq, "status_date": status_date, "recorded_at": now, "actor": actor,
         "idempotency_key": key, "update": update.sent, "state": after.to_dict()}
        for update, task_id, _, after in changes]).scalars().all()
    if plan.feedback_seq is None:
        connection.execute(_INSERT_PROGRESS, {
            "plan_id": plan_id, "plan_version_id": plan.vid, "feedback_seq": seq, "started_at": now,
            "completed_at": completed_at, "status_date": status_date, "updated_at": now})
    else:
        connection.execute(_UPDATE_PROGRESS, {"b_plan": plan_id, "b_seq": seq, "b_now": now,
                                              "b_completed": completed_at, "b_latest": latest})
    connection.execute(_INSERT_AUDIT, _audit_row(actor, "plan.feedback", plan_id, now, None, audit_after))
    return list(events)


def _update_rows(connection, changed: list[tuple[Any, TaskState]]) -> None:
    """Write the new live states, each row's version + 1, checking that no row changed since it was read."""
    result = connection.execute(_UPDATE_TASK, [
        {"b_id": row.id, "b_rv": row.row_version, "b_status": s.status, "b_percent": s.percent_complete,
         "b_start": s.actual_start, "b_finish": s.actual_finish, "b_remaining": s.remaining_hours,
         "b_cost": s.actual_cost, "b_reason": s.blocked_reason, "b_status_date": s.status_date}
        for row, s in changed])
    matched = result.rowcount if connection.dialect.supports_sane_multi_rowcount else len(changed)
    if matched != len(changed):  # only a writer that bypasses the plan's lock could cause this
        raise ApiProblem(409, "feedback-conflict", "Concurrent change",
                         "a task row changed under this request; nothing was written: resend it")


def _audit_row(actor: str, action: str, entity_id: str, now: datetime, before, after) -> dict[str, Any]:
    return {"actor": actor, "action": action, "entity": "plan", "entity_id": entity_id, "at": now,
            "before_digest": audit.digest(before), "after_digest": audit.digest(after)}


def _plan_moves(status: str, states: dict[str, TaskState]) -> tuple[str, list[tuple[str, str]]]:
    """approved -> executing on the first feedback; -> completed when every task is (checked against the table)."""
    moves = []
    targets = ["executing"] if status == "approved" else []
    if states and all(state.status == "completed" for state in states.values()):
        targets.append("completed")
    for target in targets:
        check_plan_transition(status, target)
        moves.append((status, target))
        status = target
    return status, moves


def _emit_events(connection, plan_id: str, plan, base: PlanBaseline, changes, states: dict[str, TaskState],
                 moves: list[tuple[str, str]], actor: str, now: datetime) -> None:
    """The request's events, in its transaction: the plan's moves (executing, completed) and the tasks whose last
    predecessor it completed (`tasks.assigned`)."""
    for before, target in moves:
        outbox.emit_plan_update(connection, plan_id, target, now=now, status=target, previous_status=before,
                                version=plan.version, version_status=None, baseline_version=plan.version,
                                actor=actor)
    completed = [task_id for _, task_id, before, after in changes
                 if after.status == "completed" != before.status]
    if completed:
        outbox.emit_assignable_tasks(connection, plan_id=plan_id, version=plan.version, version_id=plan.vid,
                                     document=base.document, statuses={k: s.status for k, s in states.items()},
                                     after=completed, now=now)


def _move_plan(connection, plan_id: str, moves: list[tuple[str, str]], actor: str, now: datetime) -> None:
    for before, target in moves:
        connection.execute(sa.update(Plan.__table__).where(Plan.__table__.c.id == plan_id)
                           .values(status=target, updated_at=now))
        action = "plan.execute" if target == "executing" else "plan.complete"
        connection.execute(_INSERT_AUDIT, _audit_row(actor, action, plan_id, now, {"status": before},
                                                     {"status": target}))


# --------------------------------------------------------------------------- issues


def _issues_for(session: Session, plan_id: str, version_id: int, base: PlanBaseline, changes, rows, status_date,
                actor: str, now: datetime) -> list[tuple[str, str]]:
    """Open an issue when a task becomes blocked or failed; resolve it when the task leaves that state."""
    troubled = [(task_id, before, after) for _, task_id, before, after in changes
                if before.status in TROUBLE or after.status in TROUBLE]
    if not troubled:
        return []
    ids = [rows[task_id].id for task_id, _, _ in troubled]
    existing = {issue.plan_task_id: issue for issue in session.execute(
        sa.select(PlanIssue).where(PlanIssue.plan_task_id.in_(ids), PlanIssue.status == "open")).scalars()}
    at_hours = base.clock.hours(status_date)
    opened = []
    for task_id, _, after in troubled:
        issue = existing.get(rows[task_id].id)
        if after.status in TROUBLE:
            report = task_progress(task_id, after, base.clock, at_hours)
            planned = base.baseline.task(task_id)
            used = slip_hours(planned, report, at_hours)
            severity = issue_severity(planned, report, used)
            reason = after.blocked_reason if after.status == "blocked" else "the task failed"
            if issue is not None and issue.kind == after.status:
                issue.severity, issue.float_used_hours, issue.reason = severity, used, reason
                continue
            if issue is not None:  # blocked -> failed (or back): the old issue gives way to the new one
                _resolve(session, issue, who=actor, resolution=f"the task is now {after.status}", now=now)
            new = PlanIssue(id=new_id(), plan_id=plan_id, plan_version_id=version_id, plan_task_id=rows[task_id].id,
                            task_key=task_id, kind=after.status, severity=severity, status="open", reason=reason,
                            float_used_hours=used, opened_at=now, opened_by=actor, status_date=status_date,
                            escalation_level=0)
            session.add(new)
            opened.append((new.id, severity))
            audit.record(actor=actor, action="issue.open", entity="issue", entity_id=new.id,
                         after={"task": task_id, "kind": after.status, "severity": severity})
        elif issue is not None:
            _resolve(session, issue, who=actor, resolution=f"feedback reported the task {after.status}", now=now)
    session.flush()
    return opened


def _resolve(session: Session, issue: PlanIssue, *, who: str, resolution: str, now: datetime) -> None:
    issue.status, issue.resolved_at, issue.resolved_by, issue.resolution = "resolved", now, who, resolution
    audit.record(actor=who, action="issue.resolve", entity="issue", entity_id=issue.id,
                 after={"resolution": resolution})
    if issue.escalation_level:
        _close_alert(session, issue, who=who, why=f"issue resolved: {resolution}", now=now)


def resolve_issue(*, session: Session, issue: PlanIssue, who: str, resolution: str) -> PlanIssue:
    if issue.status != "open":
        raise ApiProblem(409, "issue-resolved", "Issue already resolved",
                         f"issue {issue.id} was resolved at {iso(issue.resolved_at)} by {issue.resolved_by}")
    _resolve(session, issue, who=who, resolution=resolution, now=as_utc(datetime.now(UTC)))
    session.commit()
    return issue


def escalate(session: Session, *, plan_id: str, version_id: int, settings: PlanningSettings,
             now: datetime) -> list[PlanIssue]:
    """Raise the escalation level of open issues whose age passed another threshold; each raise is a risk alert.

    Age is wall-clock hours since the issue opened; the thresholds per severity are the
    `[planning] issue_escalation_hours_*` settings. Adds (does not commit) to the session.
    """
    raised = []
    thresholds = settings.escalation_thresholds
    for issue in session.execute(sa.select(PlanIssue).where(PlanIssue.plan_id == plan_id,
                                                            PlanIssue.status == "open")).scalars():
        age = max(0.0, (now - as_utc(issue.opened_at)).total_seconds() / 3600.0)
        level = escalation_level(issue.severity, age, thresholds, settings.issue_escalation_max_level)
        if level <= issue.escalation_level:
            continue
        issue.escalation_level, issue.escalated_at = level, now
        audit.record(actor="escalation", action="issue.escalate", entity="issue", entity_id=issue.id,
                     after={"level": level, "age_hours": round(age, 2)})
        risk = _raise_alert(session, issue, version_id, level, age, settings, now)
        version = session.execute(sa.select(PlanVersion.version).where(PlanVersion.id == version_id)).scalar()
        outbox.emit(session, outbox.RISKS_ALERTS, plan_id=plan_id, now=now, payloads=outbox.risk_alert(
            plan_id, version, risk, source="escalation",
            issue={"id": issue.id, "task_id": issue.task_key, "kind": issue.kind, "severity": issue.severity,
                   "level": level, "age_hours": round(age, 2), "reason": issue.reason}))
        raised.append(issue)
    return raised


def _alert_id(issue: PlanIssue) -> str:
    from planning.risk.model import risk_id

    return risk_id("escalated_issue", issue.id)


def _raise_alert(session: Session, issue: PlanIssue, version_id: int, level: int, age: float,
                 settings: PlanningSettings, now: datetime) -> dict:
    """The escalated issue as a risk at alert level on the plan's live risks (`GET /plans/{id}/risks`); returns it."""
    from planning.risk import Risk
    from planning.risk.model import IMPACT_SCALE

    impact = max(SEVERITY_IMPACT[issue.severity], settings.risk_threshold_impact, key=IMPACT_SCALE.__getitem__)
    probability = max(settings.risk_threshold_probability, 0.9)
    why = f"issue {issue.id} on {issue.task_key} ({issue.kind}, {issue.severity}) open {age:.1f} h: escalation {level}"
    key = _alert_id(issue)
    row = session.execute(sa.select(PlanRisk).where(PlanRisk.plan_version_id == version_id,
                                                    PlanRisk.risk_key == key)).scalar()
    if row is None:
        risk = Risk(id=key, rule="escalated_issue", category="timeline",
                    title=f"Escalated issue: {issue.task_key} is {issue.kind}",
                    description=f"{issue.reason} (an open {issue.severity} issue; its alert is raised to the plan's "
                                "alert threshold because it escalated)",
                    probability=probability, impact=impact, affected_tasks=(issue.task_key,),
                    owner="project_manager", status="open", rank=0,
                    evidence={"issue_id": issue.id, "severity": issue.severity, "level": level,
                              "age_hours": round(age, 2)})
        risk = risk.changed(probability=probability, impact=impact, status="open", who="escalation", why=why, at=now)
        data = risk.to_dict()
        session.add(PlanRisk(plan_version_id=version_id, risk_key=key, category="timeline", status="open",
                             score=data["score"], rank=0, data=data))
    else:
        risk = Risk.from_dict(row.data)
        risk = replace(risk, evidence={**risk.evidence, "level": level, "age_hours": round(age, 2)})
        risk = risk.changed(probability=probability, impact=impact, status="open", who="escalation", why=why, at=now)
        data = risk.to_dict()
        row.data, row.status, row.score = data, "open", data["score"]
    return data


def _close_alert(session: Session, issue: PlanIssue, *, who: str, why: str, now: datetime) -> None:
    from planning.risk import Risk

    row = session.execute(sa.select(PlanRisk).where(PlanRisk.plan_version_id == issue.plan_version_id,
                                                    PlanRisk.risk_key == _alert_id(issue))).scalar()
    if row is None or row.status == "closed":
        return
    risk = Risk.from_dict(row.data)
    risk = risk.changed(probability=risk.probability, impact=risk.impact, status="closed", who=who, why=why, at=now)
    row.data, row.status = risk.to_dict(), "closed"


def refresh_escalations(*, session: Session, plan_id: str, version_id: int, settings: PlanningSettings) -> None:
    """Escalate what is due now (on every read of a plan's issues, progress or report), in its own commit."""
    raised = escalate(session, plan_id=plan_id, version_id=version_id, settings=settings,
                      now=as_utc(datetime.now(UTC)))
    if raised:
        session.commit()
        for issue in raised:
            count_issue("escalated", issue.severity)


def count_issue(what: str, severity: str) -> None:
    from app.metrics import ISSUES

    ISSUES.labels(event=what, severity=severity).inc()
