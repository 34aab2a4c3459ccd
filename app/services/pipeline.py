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

from app.extensions import db
from app.metrics import PLANNING_ERRORS, PLANS_CREATED, STAGE_DURATION
from app.models import TERMINAL_STATES, Goal, Plan, PlanVersion, StageResult, StageRun, utcnow
from app.stages import Stage, get_stage
from planning.errors import PlanningError
from planning.goal import Goal as PlanningGoal
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
    STOP = "stop"  # plan failed, cancelled or gone: end the chain here
    POISON = "poison"  # the stage crashed its worker too often: plan failed, message to dead-letter


def run_stage(name: str, version_id: int, *, settings: PlanningSettings, worker: str | None = None,
              attempt: int = 1, testonly_delay: float = 0.0, testonly_crash: bool = False,
              dead_letter: Callable[[], None] | None = None) -> StageOutcome:
    """Run stage `name` of a version. `dead_letter` parks a poison message (before the plan is failed,
    so whoever sees the failure finds the message parked)."""
    stage = get_stage(name)
    begun = _begin(stage, version_id, settings=settings, worker=worker, attempt=attempt, dead_letter=dead_letter)
    if isinstance(begun, StageOutcome):
        return begun
    run_id, goal_document, facts = begun
    started = time.monotonic()
    try:
        data = StageInput(goal=PlanningGoal.from_dict(goal_document), settings=settings, **facts)
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
        return StageOutcome.STOP
    except SoftTimeLimitExceeded:
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: did not finish within its time limit of "
                                  f"{stage.soft_limit(settings):g} s", started)
        return StageOutcome.STOP
    except TRANSIENT_ERRORS as error:
        db.session.rollback()
        _mark_run(run_id, "retrying", str(error), started)
        raise
    except Exception as error:  # a bug: fail the plan readably rather than retry forever
        log.exception("stage %s of version %s crashed", name, version_id)
        db.session.rollback()
        _fail(version_id, run_id, f"{name}: internal error ({type(error).__name__})", started)
        return StageOutcome.STOP
    return _save(stage, version_id, run_id, output, started)


def _begin(stage: Stage, version_id: int, *, settings: PlanningSettings, worker: str | None,
           attempt: int, dead_letter: Callable[[], None] | None) -> StageOutcome | tuple[int, dict, dict]:
    """One transaction: check the version, record the run, read the stage's inputs.

    Returns the run id, the goal document and the version's facts for the StageInput.
    """
    session = db.session
    # Core statements, not the ORM's unit of work: this runs five times per plan.
    version = session.execute(
        sa.select(PlanVersion.status, PlanVersion.plan_id, PlanVersion.version, PlanVersion.created_at,
                  Goal.document.label("goal_document"))
        .join(Plan, Plan.id == PlanVersion.plan_id).join(Goal, Goal.id == Plan.goal_id)
        .where(PlanVersion.id == version_id)
    ).first()
    if version is None:
        session.rollback()
        log.warning("stage %s: plan version %s does not exist; dropping the message", stage.name, version_id)
        return StageOutcome.STOP
    if version.status in TERMINAL_STATES:
        session.rollback()
        return StageOutcome.STOP
    results = dict(session.execute(
        sa.select(StageResult.stage, StageResult.output)
        .where(StageResult.plan_version_id == version_id, StageResult.stage.in_((*stage.reads, stage.name)))
    ).all())
    if stage.name in results:
        session.rollback()
        log.info("stage %s of version %s already done; moving on", stage.name, version_id)
        return StageOutcome.CONTINUE
    runs = session.execute(
        sa.select(StageRun.id, StageRun.state).where(StageRun.plan_version_id == version_id,
                                                      StageRun.stage == stage.name)
    ).all()
    # A run still marked running belongs to a worker that died (or was killed at the hard limit).
    crashed = [run_id for run_id, state in runs if state == "running"]
    if crashed:
        session.execute(sa.update(StageRun).where(StageRun.id.in_(crashed))
                        .values(state="abandoned", finished_at=utcnow(), error="its worker died"))
    if sum(state in ("running", "abandoned") for _, state in runs) >= MAX_CRASHED_ATTEMPTS:
        session.commit()
        if dead_letter is not None:
            dead_letter()
        reason = (f"{stage.name}: gave up after {MAX_CRASHED_ATTEMPTS} attempts that never finished (the worker "
                  f"died or the stage passed its hard time limit of {stage.hard_limit(settings):g} s)")
        _set_failed(version_id, reason)
        return StageOutcome.POISON
    now = utcnow()
    run_id = session.execute(sa.insert(StageRun).values(
        plan_version_id=version_id, stage=stage.name, state="running", attempt=max(attempt, len(runs) + 1),
        worker=worker, started_at=now).returning(StageRun.id)).scalar_one()
    if version.status == "queued":
        session.execute(sa.update(Plan).where(Plan.id == version.plan_id).values(status="running", updated_at=now))
    session.execute(sa.update(PlanVersion).where(PlanVersion.id == version_id).values(
        status="running", updated_at=now))
    session.commit()
    facts = {"created_at": version.created_at, "results": results, "plan_id": version.plan_id,
             "version": version.version}
    return run_id, version.goal_document, facts


def _save(stage: Stage, version_id: int, run_id: int, output: dict, started: float) -> StageOutcome:
    """One transaction: the result, its rows, the run's success (and the document, for the last stage)."""
    session = db.session
    # Locks the version row: a cancel waits for this save, or this save sees the cancel.
    status, plan_id = session.execute(sa.select(PlanVersion.status, PlanVersion.plan_id)
                                      .where(PlanVersion.id == version_id).with_for_update()).one()
    if status in TERMINAL_STATES:
        # Cancelled (or failed by a racing delivery) while this stage ran: keep nothing.
        session.rollback()
        _mark_run(run_id, "abandoned", f"plan became {status} while the stage ran", started)
        return StageOutcome.STOP
    duration = round(time.monotonic() - started, 4)
    try:
        now = utcnow()
        # The plan document is stored once, on the version; the stage's row only marks it done.
        stored = {"stored_as": "plan_versions.document"} if stage.writes_document else output
        session.execute(sa.insert(StageResult).values(plan_version_id=version_id, stage=stage.name, output=stored,
                                                      created_at=now))
        if stage.save_rows is not None:
            stage.save_rows(session, version_id, output)
        if stage.writes_document:
            session.execute(sa.update(PlanVersion).where(PlanVersion.id == version_id).values(
                document=output, status="completed", completed_at=now, updated_at=now))
            session.execute(sa.update(Plan).where(Plan.id == plan_id).values(status="completed", updated_at=now))
        else:
            session.execute(sa.update(PlanVersion).where(PlanVersion.id == version_id).values(updated_at=now))
        session.execute(sa.update(StageRun).where(StageRun.id == run_id)
                        .values(state="succeeded", finished_at=now, duration_seconds=duration))
        session.commit()
    except sa_exc.IntegrityError:
        # Another delivery of this message saved the stage first; theirs stands.
        session.rollback()
        _mark_run(run_id, "duplicate", "another delivery saved this stage first", started)
        return StageOutcome.CONTINUE
    STAGE_DURATION.labels(stage.name).observe(duration)
    if stage.writes_document:
        PLANS_CREATED.inc()
    return StageOutcome.CONTINUE


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
    session = db.session
    version = session.get(PlanVersion, version_id, with_for_update=True, populate_existing=True)
    if version is not None and version.status not in TERMINAL_STATES:
        version.status, version.error, version.updated_at = "failed", reason, utcnow()
        session.execute(sa.update(Plan).where(Plan.id == version.plan_id).values(status="failed"))
        PLANNING_ERRORS.inc()
        log.warning("plan version %s failed: %s", version_id, reason)
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
