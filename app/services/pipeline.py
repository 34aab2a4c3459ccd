"""Runs one stage for one plan version: load once, call the pure function, save once.

Generic over the registry (`app/stages.py`): it knows no stage by name. Idempotent
by the unique (plan version, stage) key of `stage_results`: a redelivered message
finds the result saved and moves on, and two deliveries racing to save cannot both
win. Domain errors fail the plan and are not retried; transient errors (database,
broker) propagate so the task retries them; a stage that keeps killing its worker
is given up after MAX_CRASHED_ATTEMPTS.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace

import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import exc as sa_exc

from app import logs
from app.extensions import db
from app.metrics import PLANNING_ERRORS, plan_made, stage_saved
from app.models import Goal, Plan, PlanApproval, PlanVersion, StageResult, StageRun, utcnow
from app.services import outbox
from app.services.lifecycle import (
    AUDIT_TRANSITION,
    AUTO_APPROVAL_COMMENT,
    AUTO_APPROVER,
    PIPELINE_ACTOR,
    PLAN_FOLLOWS_VERSION,
    plan_audit,
    rebaseline,
    version_audit,
)
from app.stages import Stage, get_stage
from planning.errors import PlanningError
from planning.goal import Goal as PlanningGoal
from planning.lifecycle import (
    REPLANNABLE_PLAN_STATES,
    VERSION_DONE_STATES,
    check_plan_transition,
    check_version_transition,
)
from planning.settings import PlanningSettings
from planning.stages.input import StageInput

log = logging.getLogger(__name__)

# Errors worth a retry: the database or the broker went away for a moment.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
)

# Attempts whose worker died (or was killed at the hard time limit) before they
# finished: after this many the message is poison, and the plan fails instead
# of killing workers forever.
MAX_CRASHED_ATTEMPTS = 3


class StageOutcome(enum.Enum):
    CONTINUE = "continue"  # result saved (now or earlier): hand the id on
    STOP = "stop"  # the version was done already (cancelled, failed, ready) or is gone: skip, end the chain here
    FAILED = "failed"  # this stage failed the plan (reason on the plan row): end the chain as a failure
    POISON = "poison"  # the stage crashed its worker too often: plan failed, message to dead-letter


def run_stage(name: str, version_id: int, *, settings: PlanningSettings, worker: str | None = None,
              testonly_delay: float = 0.0, testonly_crash: bool = False,
              dead_letter: Callable[[], None] | None = None) -> StageOutcome:
    """Run stage `name` of a version. `dead_letter` parks a poison message (before the plan is failed,
    so whoever sees the failure finds the message parked)."""
    stage = get_stage(name)
    started = time.monotonic()  # a stage's time limit counts from here, loading included
    begun = _begin(stage, version_id, settings=settings, worker=worker, dead_letter=dead_letter)
    if isinstance(begun, StageOutcome):
        return begun
    run_id, goal_document, facts, mode = begun
    stage = stage.for_mode(mode)  # a version of another mode (a replan) may run another function
    log.debug("stage %s of version %s (mode %s): running, stage run %s", name, version_id, mode, run_id)
    try:
        data = StageInput(goal=PlanningGoal.from_dict(goal_document), settings=settings, started=started, **facts)
        if stage.gather is not None:
            data = replace(data, sources=stage.gather(data))
        output = stage.pure_function(data)
        if stage.effect is not None:
            output = stage.effect(output, data)
        if testonly_delay:
            time.sleep(testonly_delay)
        if testonly_crash:  # fault tests only: the worker process dies mid-stage, every time
            os._exit(1)
    except PlanningError as error:
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: {error.message}", started)
        return StageOutcome.FAILED
    except SoftTimeLimitExceeded:
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: did not finish within its time limit of "
                                  f"{stage.soft_limit(settings):g} s", started)
        return StageOutcome.FAILED
    except TRANSIENT_ERRORS as error:
        db.session.rollback()
        _mark_run(run_id, "retrying", str(error), started)
        raise
    except Exception as error:  # a bug: fail the plan readably rather than retry forever
        log.exception("stage %s of version %s crashed", name, version_id)
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: internal error ({type(error).__name__})", started)
        return StageOutcome.FAILED
    try:
        return _save(stage, version_id, run_id, output, started, data)
    except TRANSIENT_ERRORS:
        raise  # the database went away: the task retries it, as for the stage itself
    except Exception as error:  # the result could not be stored (a value the database refuses): never left running
        log.exception("stage %s of version %s could not save its result", name, version_id)
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: its result could not be saved ({type(error).__name__})", started)
        return StageOutcome.FAILED


# Built once and run on the session's connection (not through the ORM): the stage path runs
# these five times per plan, and building a statement or the ORM's bulk layer cost more CPU
# than the database spends answering. Values come as bind parameters.
_P = sa.bindparam
_LOAD_VERSION = (
    sa.select(PlanVersion.status, PlanVersion.plan_id, PlanVersion.version,
              # the moment the plan's dates derive from: a replan keeps its plan's (origin_at)
              sa.func.coalesce(PlanVersion.origin_at, PlanVersion.created_at).label("created_at"), PlanVersion.mode,
              Plan.status.label("plan_status"), Goal.document.label("goal_document"))
    .join(Plan, Plan.id == PlanVersion.plan_id).join(Goal, Goal.id == Plan.goal_id)
    .where(PlanVersion.id == _P("b_version_id"))
)
_LOAD_RESULTS = sa.select(StageResult.stage, StageResult.output).where(
    StageResult.plan_version_id == _P("b_version_id"), StageResult.stage.in_(_P("b_stages", expanding=True)))
# A run still marked running belongs to a worker that died (or was killed at the hard limit).
_ABANDON_CRASHED = (
    sa.update(StageRun)
    .where(StageRun.plan_version_id == _P("b_version_id"), StageRun.stage == _P("b_stage"), StageRun.state == "running")
    .values(state="abandoned", finished_at=_P("b_now"), error="its worker died").returning(StageRun.id)
)
_COUNT_CRASHED = sa.select(sa.func.count()).where(
    StageRun.plan_version_id == _P("b_version_id"), StageRun.stage == _P("b_stage"), StageRun.state == "abandoned")
_INSERT_RUN = sa.insert(StageRun).values(
    plan_version_id=_P("b_version_id"), stage=_P("b_stage"), state="running", worker=_P("b_worker"),
    started_at=_P("b_now"),
    attempt=sa.select(sa.func.count() + 1).where(StageRun.plan_version_id == _P("b_version_id"),
                                                  StageRun.stage == _P("b_stage")).scalar_subquery(),
).returning(StageRun.id)
# Saving takes the version's row lock first (a cancel waits for the save, or the save sees it).
_TOUCH_VERSION = (
    sa.update(PlanVersion).where(PlanVersion.id == _P("b_version_id"), PlanVersion.status == "planning")
    .values(updated_at=_P("b_now")).returning(PlanVersion.plan_id)
)
# planning -> ready, with the document: the version's plan is made.
_VERSION_READY = (
    sa.update(PlanVersion).where(PlanVersion.id == _P("b_version_id"), PlanVersion.status == "planning")
    .values(updated_at=_P("b_now"), document=_P("b_document", type_=PlanVersion.document.type), status="ready",
            completed_at=_P("b_now")).returning(PlanVersion.plan_id, PlanVersion.created_at)
)
# ready -> superseded: the plan's earlier ready versions, once a later one is ready.
_SUPERSEDE_EARLIER = (
    sa.update(PlanVersion)
    .where(PlanVersion.plan_id == _P("b_plan_id"), PlanVersion.version < _P("b_version"), PlanVersion.status == "ready")
    .values(status="superseded", updated_at=_P("b_now")).returning(PlanVersion.version)
)
_INSERT_RESULT = sa.insert(StageResult).values(
    plan_version_id=_P("b_version_id"), stage=_P("b_stage"), output=_P("b_output", type_=StageResult.output.type),
    created_at=_P("b_now"))
_RUN_SUCCEEDED = sa.update(StageRun).where(StageRun.id == _P("b_run_id")).values(
    state="succeeded", finished_at=_P("b_now"), duration_seconds=_P("b_duration"))
# The plan follows its version only from the state it was read in (compare and set: a cancel
# that lands in between wins, and the update then changes nothing).
_SET_PLAN_STATUS = (
    sa.update(Plan).where(Plan.id == _P("b_plan_id"), Plan.status == _P("b_from"))
    .values(status=_P("b_status"), updated_at=_P("b_now")).returning(Plan.id)
)
_APPROVE_PLAN = (
    sa.update(Plan).where(Plan.id == _P("b_plan_id"), Plan.status == _P("b_from"))
    .values(status="approved", baseline_version=_P("b_version"), updated_at=_P("b_now")).returning(Plan.id)
)
_INSERT_AUTO_APPROVAL = sa.insert(PlanApproval).values(
    plan_id=_P("b_plan_id"), version=_P("b_version"), decision="approved", actor=AUTO_APPROVER, auto=True,
    comment=AUTO_APPROVAL_COMMENT, at=_P("b_now"))
# The plan's row lock before a later version is approved automatically (feedback holds it while it writes).
_LOCK_PLAN_BASELINE = sa.select(Plan.status, Plan.baseline_version).where(Plan.id == _P("b_plan_id")).with_for_update()
_START_VERSION = (
    sa.update(PlanVersion).where(PlanVersion.id == _P("b_version_id"), PlanVersion.status == "queued")
    .values(status="planning", updated_at=_P("b_now")).returning(PlanVersion.id)
)


def _begin(stage: Stage, version_id: int, *, settings: PlanningSettings, worker: str | None,
           dead_letter: Callable[[], None] | None) -> StageOutcome | tuple[int, dict, dict, str]:
    """One transaction: check the version, record the run, read the stage's inputs.

    Returns the run id, the goal document, the version's facts for the StageInput and its mode.
    """
    session = db.session
    sql = session.connection().execute
    version = sql(_LOAD_VERSION, {"b_version_id": version_id}).first()
    if version is None:
        session.rollback()
        log.warning("stage %s: plan version %s does not exist; dropping the message", stage.name, version_id)
        return StageOutcome.STOP
    logs.bind(plan_id=version.plan_id)  # this stage's log lines name the plan (unbound after the task)
    if version.status in VERSION_DONE_STATES:
        session.rollback()
        return StageOutcome.STOP
    results = dict(sql(_LOAD_RESULTS, {"b_version_id": version_id,
                                                   "b_stages": [*stage.reads, stage.name]}).all())
    if stage.name in results:
        session.rollback()
        log.info("stage %s of version %s already done; moving on", stage.name, version_id)
        return StageOutcome.CONTINUE
    now = utcnow()
    keys = {"b_version_id": version_id, "b_stage": stage.name, "b_now": now}
    # Each attempt that never finished left a `running` row; only then can the count have grown.
    if sql(_ABANDON_CRASHED, keys).first() is not None:
        crashed = sql(_COUNT_CRASHED, keys).scalar_one()
        if crashed >= MAX_CRASHED_ATTEMPTS:
            session.commit()
            if dead_letter is not None:
                dead_letter()
            reason = (f"{stage.name}: gave up after {MAX_CRASHED_ATTEMPTS} attempts that never finished (the "
                      f"worker died or the stage passed its hard time limit of {stage.hard_limit(settings):g} s)")
            _set_failed(version_id, reason)
            return StageOutcome.POISON
    run_id = sql(_INSERT_RUN, {**keys, "b_worker": worker}).scalar_one()
    if version.status == "queued":
        _start_planning(sql, version_id, version, now)
    session.commit()
    facts = {"created_at": version.created_at, "results": results, "plan_id": version.plan_id,
             "version": version.version}
    return run_id, version.goal_document, facts, version.mode


def _save(stage: Stage, version_id: int, run_id: int, output: dict, started: float,
          data: StageInput) -> StageOutcome:
    """One transaction: the result, its rows, the run's success (and the document, for the last stage)."""
    session = db.session
    sql = session.connection().execute
    now = utcnow()
    keys = {"b_version_id": version_id, "b_stage": stage.name, "b_now": now}
    duration = round(time.monotonic() - started, 4)
    try:
        if stage.writes_document:
            check_version_transition("planning", "ready")
            plan_id, queued_at = sql(_VERSION_READY, {**keys, "b_document": output}).first() or (None, None)
        else:
            plan_id = sql(_TOUCH_VERSION, keys).scalar()
        if plan_id is None:
            # Cancelled (or failed by a racing delivery) while this stage ran: keep nothing (at Layer 8 neither).
            session.rollback()
            _mark_run(run_id, "abandoned", "the plan was cancelled or failed while the stage ran", started)
            if stage.undo is not None and _version_status(version_id) in ("cancelled", "failed"):
                stage.undo(output, data)  # not when a racing delivery made it ready: its holds are these
            return StageOutcome.STOP
        # The plan document is stored once, on the version; the stage's row only marks it done.
        stored = {"stored_as": "plan_versions.document"} if stage.writes_document else output
        sql(_INSERT_RESULT, {**keys, "b_output": stored})
        if stage.save_rows is not None:
            stage.save_rows(session, version_id, output, data)
        if stage.writes_document:
            _finish_planning(sql, plan_id, version_id, data, output, now)
        sql(_RUN_SUCCEEDED, {"b_run_id": run_id, "b_now": now, "b_duration": duration})
        session.commit()
    except sa_exc.IntegrityError:
        # Another delivery of this message saved the stage first; theirs stands.
        session.rollback()
        _mark_run(run_id, "duplicate", "another delivery saved this stage first", started)
        return StageOutcome.CONTINUE
    stage_saved(stage.name, duration, output)
    log.debug("stage %s of version %s: saved in %.3f s", stage.name, version_id, duration)
    if stage.writes_document:
        queued_at = queued_at if queued_at.tzinfo else queued_at.replace(tzinfo=now.tzinfo)  # SQLite: naive UTC
        plan_made(output, (now - queued_at).total_seconds())
        log.info("plan %s version %s made: %d tasks, %d risks, %d at alert level", plan_id, data.version,
                 len(output.get("tasks") or ()), len(output.get("risks") or ()), len(output.get("risk_alerts") or ()))
        if output.get("risk_alerts"):
            log.warning("plan %s version %s has risks at alert level: %s", plan_id, data.version,
                        ", ".join(str(alert) for alert in output["risk_alerts"]))
        unresolved = [c for c in output.get("resource_conflicts") or () if c.get("resolution") != "levelled"]
        if unresolved:
            log.warning("plan %s version %s has %d resource conflict(s) the schedule could not level: %s", plan_id,
                        data.version, len(unresolved), "; ".join(
                            f"{c.get('resource')} {c.get('from')}..{c.get('to')} (demand {c.get('demand')}, "
                            f"available {c.get('available')})" for c in unresolved))
    return StageOutcome.CONTINUE


def _version_status(version_id: int) -> str | None:
    status = db.session.execute(sa.select(PlanVersion.status).where(PlanVersion.id == version_id)).scalar()
    db.session.rollback()
    return status


def _start_planning(sql, version_id: int, version, now) -> None:
    """queued -> planning, for the version and (while it is first planned) the plan; audited."""
    check_version_transition("queued", "planning")
    if sql(_START_VERSION, {"b_version_id": version_id, "b_now": now}).first() is None:
        return  # another delivery started it first
    audits = [version_audit(version.plan_id, version.version, "queued", "planning", actor=PIPELINE_ACTOR, now=now)]
    status, change = version.plan_status, "version_planning"
    if version.plan_status == "queued":  # a later version (a replan) leaves the plan where it is
        check_plan_transition(version.plan_status, "planning")
        if sql(_SET_PLAN_STATUS, {"b_plan_id": version.plan_id, "b_from": version.plan_status,
                                  "b_status": "planning", "b_now": now}).first() is not None:
            audits.append(plan_audit(version.plan_id, version.plan_status, "planning", actor=PIPELINE_ACTOR, now=now))
            status, change = "planning", "planning"
    sql(AUDIT_TRANSITION, audits)
    outbox.emit_plan_update(sql.__self__, version.plan_id, change, now=now, status=status,
                            previous_status=version.plan_status, version=version.version, version_status="planning")


def _finish_planning(sql, plan_id: str, version_id: int, data: StageInput, document: dict, now) -> None:
    """The version is ready (its document just saved): earlier ready versions are superseded, and a plan
    being planned becomes ready, or approved (and baselined) when it may be approved automatically.
    Its events go to the outbox: the plan's change, the risks at alert level, the tasks that may start."""
    number = data.version
    connection = sql.__self__
    outbox.emit_assessment_alerts(connection, plan_id=plan_id, version=number, document=document, now=now)
    audits = [version_audit(plan_id, number, "planning", "ready", actor=PIPELINE_ACTOR, now=now)]
    for (earlier,) in sql(_SUPERSEDE_EARLIER, {"b_plan_id": plan_id, "b_version": number, "b_now": now}).all():
        check_version_transition("ready", "superseded")
        audits.append(version_audit(plan_id, earlier, "ready", "superseded", actor=PIPELINE_ACTOR, now=now,
                                    by_version=number))
    auto = data.settings.auto_approve_low_risk_plans and bool((document.get("approval") or {}).get("auto_approvable"))
    plan = sql(_LOCK_PLAN_BASELINE, {"b_plan_id": plan_id}).one()
    if plan.status in REPLANNABLE_PLAN_STATES and plan.baseline_version is not None:
        # A later version of a plan under way (a replan): the plan stays where it is; the version waits for
        # approval on the old baseline, or, when it may be approved automatically, becomes the baseline now.
        if auto:
            rebaseline(connection, plan_id=plan_id, old=plan.baseline_version, new=number, actor=AUTO_APPROVER,
                       auto=True, comment=AUTO_APPROVAL_COMMENT, now=now)
        sql(AUDIT_TRANSITION, audits)
        outbox.emit_plan_update(connection, plan_id, "rebaselined" if auto else "version_ready", now=now,
                                status=plan.status, previous_status=plan.status, version=number, version_status="ready",
                                baseline_version=number if auto else plan.baseline_version,
                                actor=AUTO_APPROVER if auto else None)
        if auto:
            outbox.emit_assignable_tasks(connection, plan_id=plan_id, version=number, version_id=version_id,
                                         document=document, now=now)
        return
    target = "approved" if auto else "ready"
    check_plan_transition("planning", target)
    keys = {"b_plan_id": plan_id, "b_from": "planning", "b_version": number, "b_now": now}
    if auto:
        moved = sql(_APPROVE_PLAN, keys).first() is not None
        if moved:
            sql(_INSERT_AUTO_APPROVAL, keys)
    else:
        moved = sql(_SET_PLAN_STATUS, {**keys, "b_status": "ready"}).first() is not None
    if moved:
        audits.append(plan_audit(plan_id, "planning", target, actor=AUTO_APPROVER if auto else PIPELINE_ACTOR,
                                 now=now, version=number))
        outbox.emit_plan_update(connection, plan_id, target, now=now, status=target, previous_status="planning",
                                version=number, version_status="ready", baseline_version=number if auto else None,
                                actor=AUTO_APPROVER if auto else None)
        if auto:
            outbox.emit_assignable_tasks(connection, plan_id=plan_id, version=number, version_id=version_id,
                                         document=document, statuses={}, now=now)
    sql(AUDIT_TRANSITION, audits)


def _mark_run(run_id: int, state: str, error: str | None, started: float) -> None:
    session = db.session
    try:
        session.execute(sa.update(StageRun).where(StageRun.id == run_id).values(
            state=state, error=error, finished_at=utcnow(), duration_seconds=round(time.monotonic() - started, 4)))
        session.commit()
    except sa_exc.SQLAlchemyError:
        session.rollback()
        log.warning("could not record stage run %s as %s", run_id, state)


def _set_failed(version_id: int, reason: str) -> None:
    """The version fails (and the plan, while it is first being planned); both audited."""
    session = db.session
    version = session.get(PlanVersion, version_id, with_for_update=True, populate_existing=True)
    if version is not None and version.status not in VERSION_DONE_STATES:
        now = utcnow()
        check_version_transition(version.status, "failed")
        audits = [version_audit(version.plan_id, version.version, version.status, "failed", actor=PIPELINE_ACTOR,
                                now=now, reason=reason)]
        version.status, version.error, version.updated_at = "failed", reason, now
        plan = session.get(Plan, version.plan_id, with_for_update=True, populate_existing=True)
        previous, change = plan.status, "version_failed"
        if plan.status in PLAN_FOLLOWS_VERSION:
            check_plan_transition(plan.status, "failed")
            audits.append(plan_audit(plan.id, plan.status, "failed", actor=PIPELINE_ACTOR, now=now, reason=reason))
            plan.status, plan.updated_at, change = "failed", now, "failed"
        session.execute(AUDIT_TRANSITION, audits)
        outbox.emit_plan_update(session, plan.id, change, now=now, status=plan.status, previous_status=previous,
                                version=version.version, version_status="failed",
                                baseline_version=plan.baseline_version, reason=reason)
        PLANNING_ERRORS.inc()
        log.error("plan %s version %s failed: %s", version.plan_id, version.version, reason)
    session.commit()


def _fail(version_id: int, run_id: int, reason: str, started: float) -> None:
    _set_failed(version_id, reason)
    _mark_run(run_id, "failed", reason, started)


def fail_version(version_id: int, reason: str) -> None:
    """Fail a version from outside a stage run (retries exhausted, a poison message)."""
    _set_failed(version_id, reason)


def first_unfinished_stage(version_id: int) -> str | None:
    """The first registry stage of this version without a saved result, or None when all are done."""
    from app.stages import STAGE_NAMES

    done = set(db.session.execute(
        sa.select(StageResult.stage).where(StageResult.plan_version_id == version_id)).scalars())
    return next((name for name in STAGE_NAMES if name not in done), None)
