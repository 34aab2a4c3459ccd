"""Replanning an executing plan (issue 14): the triggers scan, manual replans, and version n+1.

- `scan` (beat, `layer2.replan_scan`): selects in SQL the executing plans with something new
  since they were last looked at (feedback, an escalated issue, a pool change), not debounced
  and with no replan already under way or awaiting approval; builds each one's
  `planning.replanning.PlanSnapshot` from its rows; `evaluate_triggers` + `should_replan`;
  stores the fired triggers (reason + evidence) under the unique (plan, window) key and
  returns what to enqueue (`layer2.replan(plan_id, trigger_id)`).
- `manual_replan` (`POST /api/v1/plans/{id}/replan`) and `start_replan` (the `layer2.replan`
  task) make version n+1 once: a PostgreSQL advisory lock per plan serialises them, a trigger
  already handled (a redelivered message) makes nothing, and a replan already under way, or
  made after the trigger fired, is joined instead of doubled.
- Version n+1 (`mode = "replan"`) copies the results of the stages a replan does not re-run
  (`app.stages.stages_before(REPLAN_FROM)`) and the task rows with their live state at the
  status date (the plan's latest reported status date, P6's data date), and runs the chain from
  `REPLAN_FROM` on the stage queues: the registry's replan mode of each stage does the rest.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from app.models import (
    Plan,
    PlanApproval,
    PlanIssue,
    PlanPoolChange,
    PlanProgress,
    PlanRisk,
    PlanTask,
    PlanVersion,
    ReplanTrigger,
    StageResult,
    utcnow,
)
from app.services import audit, outbox
from app.services.lifecycle import PLANNED_VERSION_STATES, lock_plan
from app.stages import REPLAN_FROM, stages_before
from planning.lifecycle import NotReplannable, check_replan
from planning.settings import PlanningSettings

log = logging.getLogger(__name__)

SCAN_ACTOR = "layer2-replan-scan"
# The scan runs alone: a second beat process (or a slow scan overlapping the next) skips its turn.
SCAN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"layer2:replan-scan").digest()[:8], "big", signed=True)
IN_FLIGHT = ("queued", "planning")


def plan_lock_key(plan_id: str) -> int:
    """The 64-bit key of a plan's replan advisory lock."""
    return int.from_bytes(hashlib.sha256(f"layer2:replan:{plan_id}".encode()).digest()[:8], "big", signed=True)


def _advisory_lock(connection, key: int, *, wait: bool = True) -> bool:
    """A transaction-level advisory lock on PostgreSQL (released at commit or rollback, or when the
    connection dies); SQLite serialises writers itself, so there it is always granted."""
    if connection.dialect.name != "postgresql":
        return True
    if wait:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        return True
    return bool(connection.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


@dataclass(frozen=True)
class ReplanStart:
    """What a replan request led to: the version (made now, or joined) and whether its chain is to be sent."""

    plan_id: str
    version_id: int
    version: int
    created: bool
    send: bool  # send its chain now (made now, or still queued after a redelivery)
    trigger_id: int
    task_ids: list[str] | None = None


# -- making version n+1 ---------------------------------------------------------------------------------------

def manual_replan(*, session: Session, plan_id: str, reason: str, actor: str, now: datetime | None = None,
                  testonly_delay: float = 0.0) -> ReplanStart:
    """A person's replan: refused (NotReplannable, a 409) unless the plan is approved or executing; not debounced."""
    now = now or utcnow()
    try:
        _advisory_lock(session.connection(), plan_lock_key(plan_id))
        plan = lock_plan(session=session, plan_id=plan_id)
        check_replan(plan.status)
        trigger = ReplanTrigger(plan_id=plan_id, window_key=f"manual:{uuid.uuid4().hex}", source="manual",
                                kinds=["manual"], reason=reason, actor=actor, created_at=now, status="pending",
                                evidence=[{"kind": "manual", "reason": reason, "evidence": {"by": actor}}])
        session.add(trigger)
        session.flush()
        return _make_version(session, plan, trigger, now, testonly_delay)
    except BaseException:
        session.rollback()
        raise


def start_replan(*, session: Session, plan_id: str, trigger_id: int, now: datetime | None = None,
                 testonly_delay: float = 0.0) -> ReplanStart | None:
    """The `layer2.replan` task: version n+1 for a stored trigger, once (see the module docstring)."""
    now = now or utcnow()
    try:
        _advisory_lock(session.connection(), plan_lock_key(plan_id))
        trigger = session.execute(sa.select(ReplanTrigger).where(ReplanTrigger.id == trigger_id).with_for_update()
                                  .execution_options(populate_existing=True)).scalar_one_or_none()
        if trigger is None:
            session.rollback()
            return None
        if trigger.status != "pending":  # a redelivered message: this trigger was handled
            return _already_handled(session, trigger)
        plan = lock_plan(session=session, plan_id=plan_id)
        try:
            check_replan(plan.status)
        except NotReplannable as error:
            trigger.status, trigger.detail = "refused", str(error)
            session.commit()
            return None
        return _make_version(session, plan, trigger, now, testonly_delay)
    except BaseException:
        session.rollback()
        raise


def _already_handled(session: Session, trigger: ReplanTrigger) -> ReplanStart | None:
    if trigger.version is None:
        session.rollback()
        return None
    row = session.execute(sa.select(PlanVersion.id, PlanVersion.status).where(
        PlanVersion.plan_id == trigger.plan_id, PlanVersion.version == trigger.version)).one()
    result = ReplanStart(trigger.plan_id, row.id, trigger.version, created=False, send=row.status == "queued",
                         trigger_id=trigger.id)
    session.rollback()
    return result


def _make_version(session: Session, plan: Plan, trigger: ReplanTrigger, now: datetime,
                  testonly_delay: float) -> ReplanStart:
    """Under the plan's advisory lock and row lock: join a replan under way, or write version n+1 (committed)."""
    from tasks.chain import chain_task_ids

    connection = session.connection()
    versions = PlanVersion.__table__
    in_flight = connection.execute(
        sa.select(versions.c.id, versions.c.version, versions.c.status).where(
            versions.c.plan_id == plan.id, versions.c.status.in_(IN_FLIGHT)).order_by(versions.c.version.desc())
    ).first()
    later = None
    if in_flight is None and trigger.source != "manual":
        # Another replan made after this trigger fired already answers it (a manual replan racing the scan).
        later = connection.execute(
            sa.select(versions.c.id, versions.c.version, versions.c.status).where(
                versions.c.plan_id == plan.id, versions.c.mode == "replan", versions.c.created_at >= trigger.created_at)
            .order_by(versions.c.version.desc())).first()
    joined = in_flight or later
    if joined is not None:
        trigger.status, trigger.version = "merged", joined.version
        trigger.detail = f"joined version {joined.version}, " + ("under way" if in_flight else "made after it fired")
        session.commit()
        return ReplanStart(plan.id, joined.id, joined.version, created=False, send=False, trigger_id=trigger.id)

    previous = connection.execute(
        sa.select(versions.c.id, versions.c.version, versions.c.created_at, versions.c.origin_at)
        .where(versions.c.plan_id == plan.id, versions.c.status.in_(PLANNED_VERSION_STATES))
        .order_by(versions.c.version.desc())).first()
    baseline_id = connection.execute(sa.select(versions.c.id).where(
        versions.c.plan_id == plan.id, versions.c.version == plan.baseline_version)).scalar_one()
    reported = connection.execute(sa.select(PlanProgress.status_date).where(PlanProgress.plan_id == plan.id)).scalar()
    status_date = _utc(reported) or now
    number = plan.current_version + 1
    task_ids = chain_task_ids(REPLAN_FROM)
    reason = trigger.reason if len(trigger.reason) <= 200 else trigger.reason[:197] + "..."
    version_id = connection.execute(sa.insert(versions).values(
        plan_id=plan.id, version=number, status="queued", reason=reason, mode="replan", replan_of=previous.version,
        status_date=status_date, origin_at=previous.origin_at or previous.created_at, task_ids=task_ids,
        created_at=now, updated_at=now).returning(versions.c.id)).scalar_one()
    # The results of the stages a replan does not re-run: the replaced version's.
    results = StageResult.__table__
    copied = [stage.name for stage in stages_before(REPLAN_FROM)]
    connection.execute(sa.insert(results).from_select(
        ["plan_version_id", "stage", "output", "created_at"],
        sa.select(sa.literal(version_id), results.c.stage, results.c.output, sa.literal(now, sa.DateTime(True)))
        .where(results.c.plan_version_id == previous.id, results.c.stage.in_(copied))))
    # The task rows with their live state at the status date (the baseline's rows, under the plan's lock,
    # hold exactly the reports up to it); reports after it are carried over when the version is approved.
    tasks = PlanTask.__table__
    columns = ["task_key", "uid", "name", "phase", "data", "status", "percent_complete", "actual_start",
               "actual_finish", "remaining_hours", "actual_cost", "blocked_reason", "status_date"]
    connection.execute(sa.insert(tasks).from_select(
        ["plan_version_id", *columns, "row_version"],
        sa.select(sa.literal(version_id), *[tasks.c[name] for name in columns], sa.literal(1))
        .where(tasks.c.plan_version_id == baseline_id)))
    plan.current_version, plan.updated_at = number, now
    if trigger.source == "scan":
        plan.last_auto_replan_at = now
    trigger.status, trigger.version = "replanned", number
    audit.record(actor=trigger.actor, action="plan.replan", entity="plan", entity_id=plan.id,
                 before={"current_version": number - 1, "baseline_version": plan.baseline_version},
                 after={"version": number, "replaces": previous.version, "status_date": status_date.isoformat(),
                        "trigger": trigger.id, "kinds": trigger.kinds, "reason": trigger.reason})
    outbox.emit_plan_update(connection, plan.id, "replanning", now=now, status=plan.status, previous_status=plan.status,
                            version=number, version_status="queued", baseline_version=plan.baseline_version,
                            reason=trigger.reason, actor=trigger.actor)
    if testonly_delay:  # fault tests only: a worker killed here dies holding the lock; nothing is kept
        session.flush()
        time.sleep(testonly_delay)
    session.commit()
    return ReplanStart(plan.id, version_id, number, created=True, send=True, trigger_id=trigger.id,
                       task_ids=task_ids)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- the scan ---------------------------------------------------------------------------------------------------

@dataclass
class ScanResult:
    skipped: bool = False  # another scan held the lock
    candidates: int = 0  # executing plans with something new, not debounced, no replan pending
    fired: int = 0  # of those, plans where a trigger fired
    deferred: int = 0  # candidates left for the next scan (the time budget ran out)
    triggers: list[tuple[str, int]] = field(default_factory=list)  # (plan id, trigger id) to enqueue
    seconds: float = 0.0
    timed_out: int = 0  # timeout issues opened (tasks in progress default_task_timeout_hours past their finish)


_P = sa.bindparam
_PLANS, _PROGRESS, _VERSIONS = Plan.__table__, PlanProgress.__table__, PlanVersion.__table__
_APPROVALS, _ISSUES, _POOLS = PlanApproval.__table__, PlanIssue.__table__, PlanPoolChange.__table__
_PENDING = _VERSIONS.alias("pending")
_BASE = _VERSIONS.alias("base")
# Executing plans that need looking at, chosen by the database (indexes on plans.status, the progress row by
# plan, the versions by (plan, version), approvals by (plan, version), issues by (plan, status), pool changes
# by (plan, at)); a plan with nothing new since its last look costs no document load, no Python.
_CANDIDATES = (
    sa.select(_PLANS.c.id, _PLANS.c.baseline_version, _PLANS.c.replan_checked_at, _PLANS.c.last_auto_replan_at,
              _BASE.c.id.label("version_id"), _PROGRESS.c.status_date)
    .select_from(_PLANS.join(_PROGRESS, _PROGRESS.c.plan_id == _PLANS.c.id)
                 .join(_BASE, sa.and_(_BASE.c.plan_id == _PLANS.c.id, _BASE.c.version == _PLANS.c.baseline_version)))
    .where(
        _PLANS.c.status == "executing",
        sa.or_(_PLANS.c.last_auto_replan_at.is_(None), _PLANS.c.last_auto_replan_at <= _P("b_cutoff")),
        # no replan under way, nor one ready and waiting for a decision
        ~sa.exists().where(_PENDING.c.plan_id == _PLANS.c.id, _PENDING.c.version > _PLANS.c.baseline_version,
                           _PENDING.c.status.in_(("queued", "planning", "ready")),
                           ~sa.exists().where(_APPROVALS.c.plan_id == _PENDING.c.plan_id,
                                              _APPROVALS.c.version == _PENDING.c.version)),
        sa.or_(
            _PLANS.c.replan_checked_at.is_(None),
            _PROGRESS.c.updated_at > _PLANS.c.replan_checked_at,
            sa.exists().where(_ISSUES.c.plan_id == _PLANS.c.id, _ISSUES.c.status == "open",
                              _ISSUES.c.escalated_at > _PLANS.c.replan_checked_at),
            sa.exists().where(_ISSUES.c.plan_id == _PLANS.c.id, _ISSUES.c.status == "open",
                              _ISSUES.c.opened_at > _PLANS.c.replan_checked_at),  # a timeout, opened by the clock
            sa.exists().where(_POOLS.c.plan_id == _PLANS.c.id, _POOLS.c.at > _PLANS.c.replan_checked_at),
        ),
    )
    # the longest unseen first, so a backlog (after a deploy: every plan unseen) drains over a few scans
    .order_by(_PLANS.c.replan_checked_at.asc().nulls_first(), _PLANS.c.id)
)
#: A scan evaluates candidates for at most this long; the rest stay candidates for the next scan.
SCAN_BUDGET_SECONDS = 0.8
_MARK_CHECKED = sa.update(_PLANS).where(_PLANS.c.id.in_(_P("b_ids", expanding=True))).values(
    replan_checked_at=_P("b_now"))


def scan(*, session: Session, settings: PlanningSettings, now: datetime | None = None,
         limit: int | None = None, budget_seconds: float | None = SCAN_BUDGET_SECONDS) -> ScanResult:
    """Evaluate the triggers of the executing plans that need it; store what fired (committed).

    Returns the (plan, trigger) pairs to enqueue as `layer2.replan`. Does nothing when
    `enable_continuous_replanning` is off. Candidates are evaluated for at most
    `budget_seconds` (None: all); those left are marked unchecked and come first next time.
    """
    from planning.replanning import TriggerThresholds, evaluate_triggers, should_replan

    started = time.perf_counter()
    result = ScanResult()
    now = now or utcnow()
    connection = session.connection()
    if not _advisory_lock(connection, SCAN_LOCK_KEY, wait=False):
        session.rollback()
        result.skipped = True
        return result
    result.timed_out = _time_out_due(session, settings, now)  # issues with the clock, replanning on or off
    if not settings.enable_continuous_replanning:
        session.commit()
        return result
    _escalate_due(session, settings, now)
    interval = settings.replanning_interval_minutes
    query = _CANDIDATES if limit is None else _CANDIDATES.limit(limit)
    rows = connection.execute(query, {"b_cutoff": now - timedelta(minutes=interval)}).all()
    result.candidates = len(rows)
    thresholds = TriggerThresholds.from_settings(settings)
    evaluated = []
    for row in rows:
        if budget_seconds is not None and evaluated and time.perf_counter() - started > budget_seconds:
            result.deferred = len(rows) - len(evaluated)
            break
        evaluated.append(row.id)
        snapshot = _snapshot(session, row, settings, now)
        fired = evaluate_triggers(snapshot, thresholds)
        if not fired:  # the Monte Carlo only when nothing cheaper fired
            snapshot = _with_deadline_probability(session, row, snapshot, settings)
            fired = evaluate_triggers(snapshot, thresholds)
        if not fired or not should_replan(_utc(row.last_auto_replan_at), now, interval):
            continue
        result.fired += 1
        trigger_id = _store_trigger(session, row.id, fired, now, interval)
        if trigger_id is not None:
            result.triggers.append((row.id, trigger_id))
    if evaluated:
        connection.execute(_MARK_CHECKED, {"b_ids": evaluated, "b_now": now})
    session.commit()
    result.seconds = time.perf_counter() - started
    return result


#: A trigger still pending this long after it was stored lost its message (the broker was away): sent again.
RESEND_PENDING_AFTER = timedelta(minutes=2)


def pending_triggers(*, session: Session, now: datetime | None = None) -> list[tuple[str, int]]:
    """(plan, trigger) of scan triggers whose `layer2.replan` never ran; sending one twice makes one version."""
    now = now or utcnow()
    rows = session.execute(sa.select(ReplanTrigger.plan_id, ReplanTrigger.id).where(
        ReplanTrigger.status == "pending", ReplanTrigger.created_at < now - RESEND_PENDING_AFTER)
        .order_by(ReplanTrigger.id).limit(100)).all()
    session.rollback()
    return [(row.plan_id, row.id) for row in rows]


def window_key(now: datetime, interval_minutes: int) -> str:
    """The debounce window `now` falls in: one automatic replan per plan per window."""
    return f"auto:{int(now.timestamp() // (interval_minutes * 60))}"


def _store_trigger(session: Session, plan_id: str, fired, now: datetime, interval: int) -> int | None:
    """The fired triggers as one row under the unique (plan, window) key; None when the window has one already."""
    values = {"plan_id": plan_id, "window_key": window_key(now, interval), "source": "scan",
              "kinds": [trigger.kind for trigger in fired], "reason": " ".join(t.reason for t in fired)[:2000],
              "evidence": [trigger.to_dict() for trigger in fired], "actor": SCAN_ACTOR, "created_at": now,
              "status": "pending"}
    table = ReplanTrigger.__table__
    try:
        with session.begin_nested():
            return session.connection().execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()
    except sa_exc.IntegrityError:
        return None


def _snapshot(session: Session, row, settings: PlanningSettings, now: datetime):
    """The PlanSnapshot of one candidate, from its rows (the baseline document is cached per process)."""
    from app.services.progress import live_states, plan_baseline, progress_map
    from planning.replanning import IssueState, PoolChange, snapshot_from_progress
    from planning.risk.model import risk_id

    base = plan_baseline(session, plan_id=row.id, version=row.baseline_version, version_id=row.version_id,
                         settings=settings)
    at = _utc(row.status_date) or now
    at_hours = base.clock.hours(at)
    progress = progress_map(base, live_states(session, row.version_id), at_hours)
    realized: dict[str, list[str]] = {}
    for key, data in session.execute(sa.select(PlanRisk.risk_key, PlanRisk.data).where(
            PlanRisk.plan_version_id == row.version_id, PlanRisk.status == "realized")):
        for task in (data or {}).get("affected_tasks") or ():
            realized.setdefault(task, []).append(key)
    issues = []
    for issue in session.execute(sa.select(PlanIssue).where(PlanIssue.plan_id == row.id,
                                                            PlanIssue.status == "open")).scalars():
        # An escalated issue has happened and got worse: its alert (a risk) is realised by definition.
        risks = [*realized.get(issue.task_key, ()), *([risk_id("escalated_issue", issue.id)]
                                                       if issue.escalation_level else [])]
        issues.append(IssueState(issue.id, issue.task_key, issue.kind, issue.severity, issue.escalation_level,
                                 tuple(risks)))
    changes = sa.select(PlanPoolChange).where(PlanPoolChange.plan_id == row.id)
    if row.replan_checked_at is not None:
        changes = changes.where(PlanPoolChange.at > row.replan_checked_at)
    pools = [PoolChange(change.pool, change.old_capacity, change.new_capacity)
             for change in session.execute(changes.order_by(PlanPoolChange.id)).scalars()]
    used = {allocation.get("resource") for allocation in base.document.get("allocations") or ()} - {None}
    return snapshot_from_progress(row.id, base.baseline, progress, at_hours, issues=issues, changed_pools=pools,
                                  used_pools=used)


def _escalate_due(session: Session, settings: PlanningSettings, now: datetime) -> int:
    """Escalate the open issues of executing plans whose age passed another threshold (as a read of the plan
    would): an issue escalates with the clock, not with news, and the scan must see it (`realized_risk`)."""
    from app.services.feedback import count_issue, escalate
    from planning.progress import escalation_level

    rows = session.execute(
        sa.select(PlanIssue.plan_id, PlanIssue.opened_at, PlanIssue.severity, PlanIssue.escalation_level,
                  _BASE.c.id.label("version_id"))
        .join(_PLANS, _PLANS.c.id == PlanIssue.plan_id)
        .join(_BASE, sa.and_(_BASE.c.plan_id == _PLANS.c.id, _BASE.c.version == _PLANS.c.baseline_version))
        .where(PlanIssue.status == "open", _PLANS.c.status == "executing")).all()
    due: dict[str, int] = {}
    for row in rows:
        age = max(0.0, (now - _utc(row.opened_at)).total_seconds() / 3600.0)
        if escalation_level(row.severity, age, settings.escalation_thresholds,
                            settings.issue_escalation_max_level) > row.escalation_level:
            due[row.plan_id] = row.version_id
    raised = []
    for plan_id, version_id in sorted(due.items()):
        raised += escalate(session, plan_id=plan_id, version_id=version_id, settings=settings, now=now)
    session.flush()
    for issue in raised:
        count_issue("escalated", issue.severity)
    return len(raised)


# Executing plans with a task in progress, or an open timeout issue (to resolve once the task is no longer over).
_TASKS = PlanTask.__table__
_RUNNING = (
    sa.select(_PLANS.c.id, _PLANS.c.baseline_version, _BASE.c.id.label("version_id"))
    .join(_BASE, sa.and_(_BASE.c.plan_id == _PLANS.c.id, _BASE.c.version == _PLANS.c.baseline_version))
    .where(_PLANS.c.status == "executing", sa.or_(
        sa.exists().where(_TASKS.c.plan_version_id == _BASE.c.id, _TASKS.c.status == "in_progress"),
        sa.exists().where(_ISSUES.c.plan_id == _PLANS.c.id, _ISSUES.c.status == "open", _ISSUES.c.kind == "timeout")))
    .order_by(_PLANS.c.id)
)


def _time_out_due(session: Session, settings: PlanningSettings, now: datetime) -> int:
    """Open an issue (kind `timeout`) for each task of an executing plan still in progress
    `default_task_timeout_hours` working hours past its planned finish (planning.progress.overrun_hours), now;
    resolve the open ones whose task is no longer over. The issue is news: the plan is a scan candidate again,
    and the `task_timeout` trigger fires on the same measure. Returns the issues opened."""
    from app.services.feedback import _resolve, count_issue
    from app.services.progress import live_states, plan_baseline, progress_map
    from planning.progress.issues import overrun_hours, timed_out

    opened = 0
    for row in session.execute(_RUNNING).all():
        base = plan_baseline(session, plan_id=row.id, version=row.baseline_version, version_id=row.version_id,
                             settings=settings)
        at_hours = base.clock.hours(now)
        progress = progress_map(base, live_states(session, row.version_id), at_hours)
        open_now = {issue.task_key: issue for issue in session.execute(sa.select(PlanIssue).where(
            PlanIssue.plan_id == row.id, PlanIssue.status == "open", PlanIssue.kind == "timeout")).scalars()}
        over = {}
        for task in base.baseline.tasks:
            report = progress.get(task.task_id)
            hours = 0.0 if report is None else overrun_hours(report, at_hours, planned_finish_hours=task.finish_hours,
                                                              estimate_hours=task.duration_hours)
            if timed_out(hours, settings.default_task_timeout_hours):
                over[task.task_id] = (task, hours)
        for task_key, issue in open_now.items():
            if task_key not in over:
                _resolve(session, issue, who=SCAN_ACTOR, resolution="the task is no longer past its timeout", now=now)
        new = sorted(set(over) - set(open_now))
        if not new:
            continue
        ids = dict(session.execute(sa.select(PlanTask.task_key, PlanTask.id).where(
            PlanTask.plan_version_id == row.version_id, PlanTask.task_key.in_(new))).all())
        for task_key in new:
            task, hours = over[task_key]
            severity = "high" if task.critical else "medium"
            issue = PlanIssue(id=str(uuid.uuid4()), plan_id=row.id, plan_version_id=row.version_id,
                              plan_task_id=ids[task_key], task_key=task_key, kind="timeout", severity=severity,
                              status="open", float_used_hours=hours, opened_at=now, opened_by=SCAN_ACTOR,
                              status_date=now, escalation_level=0,
                              reason=f"still in progress {hours:.0f} working hours past its planned finish "
                                     f"(default_task_timeout_hours = {settings.default_task_timeout_hours:g})")
            session.add(issue)
            audit.record(actor=SCAN_ACTOR, action="issue.open", entity="issue", entity_id=issue.id,
                         after={"task": task_key, "kind": "timeout", "severity": severity})
            count_issue("opened", severity)
            opened += 1
    session.flush()
    return opened


#: Iterations of the scan's re-simulation of the remaining work (the report's use `monte_carlo_iterations`):
#: enough to tell a deadline chance under 0.8 from one above it, at a fraction of the cost.
SCAN_MONTE_CARLO_ITERATIONS = 500
#: SPI(t) below this counts as this in the screen before the re-simulation (a stalled plan is simulated).
SCREEN_MIN_SPI = 0.1


def _with_deadline_probability(session: Session, row, snapshot, settings: PlanningSettings):
    """The snapshot with the chance of meeting the deadline re-simulated with the actuals (as the report's
    forecast does, `planning.risk.reassess`) and the baseline's own; unchanged for a plan without a deadline."""
    from dataclasses import replace

    from app.services.progress import load_execution, plan_baseline, reassessment

    base = plan_baseline(session, plan_id=row.id, version=row.baseline_version, version_id=row.version_id,
                         settings=settings)
    risk = base.document.get("schedule_risk") or {}
    planned, deadline, p95 = risk.get("deadline_probability"), risk.get("deadline_hours"), risk.get("p95")
    if planned is None or deadline is None:  # no deadline: nothing to re-simulate
        return snapshot
    if p95 is not None and snapshot.spi_t and p95 / max(snapshot.spi_t, SCREEN_MIN_SPI) <= deadline:
        # The screen: even the plan's P95 stretched by the schedule performance so far (P95 / SPI(t)) meets the
        # deadline, so the re-simulated chance cannot have dropped much; the Monte Carlo is spared.
        return snapshot
    plan = session.get(Plan, row.id)
    quick = replace(settings, monte_carlo_iterations=min(settings.monte_carlo_iterations, SCAN_MONTE_CARLO_ITERATIONS))
    try:
        assessment = reassessment(session, load_execution(session, plan, quick), quick)["assessment"]
    except (LookupError, ValueError) as error:  # a plan without its stage results (or bad progress): not this one
        log.warning("replan scan: no deadline re-simulation for plan %s: %s", row.id, error)
        return snapshot
    chance = assessment.schedule_risk.deadline_probability if assessment.schedule_risk else None
    if chance is None:
        return snapshot
    return replace(snapshot, deadline_probability=float(chance), planned_deadline_probability=float(planned))


# -- pool changes (PUT /api/v1/resources) --------------------------------------------------------------------

def record_pool_changes(*, session: Session, plan_ids: list[str], before: dict, after: dict,
                        now: datetime | None = None) -> int:
    """Each capacity change of a pool the flagged plans use, for the scan (not committed)."""
    now = now or utcnow()
    changes = [(pool, int((before.get(pool) or {}).get("capacity") or 0), int((after.get(pool) or {}).get("capacity")
                                                                               or 0))
               for pool in sorted(before.keys() | after.keys())]
    changes = [change for change in changes if change[1] != change[2]]
    rows = [{"plan_id": plan_id, "pool": pool, "old_capacity": old, "new_capacity": new, "at": now}
            for plan_id in plan_ids for pool, old, new in changes]
    if rows:
        session.connection().execute(sa.insert(PlanPoolChange.__table__), rows)
    return len(rows)


def triggers_of(*, session: Session, plan_id: str) -> list[dict]:
    """The plan's replan triggers, newest first."""
    rows = session.execute(sa.select(ReplanTrigger).where(ReplanTrigger.plan_id == plan_id)
                           .order_by(ReplanTrigger.id.desc())).scalars()
    return [{"id": row.id, "source": row.source, "kinds": row.kinds, "reason": row.reason, "evidence": row.evidence,
             "actor": row.actor, "created_at": row.created_at.isoformat() if row.created_at else None,
             "status": row.status, "version": row.version, "detail": row.detail} for row in rows]
