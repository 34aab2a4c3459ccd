"""Runs one stage for one plan version: load rows, call the pure function, save rows.

Idempotent by the unique (plan version, stage) key of `stage_results`: a
redelivered message finds the result saved and moves on, and two deliveries
racing to save cannot both win. Domain errors fail the plan and are not
retried; transient errors (database, broker) propagate so Celery retries them.
"""

from __future__ import annotations

import enum
import logging
import time

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from app.extensions import db
from app.metrics import PLANNING_ERRORS, PLANS_CREATED, STAGE_DURATION
from app.models import TERMINAL_STATES, PlanRisk, PlanTask, PlanVersion, StageResult, StageRun, utcnow
from app.services.stage_io import apply_effects, gather_inputs
from planning.errors import PlanningError
from planning.goal import Goal
from planning.settings import PlanningSettings
from planning.stages import STAGE_FUNCTIONS

log = logging.getLogger(__name__)

# Errors worth a retry: the database or the broker went away for a moment.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
)


class StageOutcome(enum.Enum):
    CONTINUE = "continue"  # result saved (now or earlier): hand the id on
    STOP = "stop"  # plan failed, cancelled or gone: end the chain here


def run_stage(
    stage: str,
    version_id: int,
    *,
    settings: PlanningSettings,
    worker: str | None = None,
    attempt: int = 1,
    testonly_delay: float = 0.0,
) -> StageOutcome:
    session = db.session
    version = session.get(PlanVersion, version_id)
    if version is None:
        log.warning("stage %s: plan version %s does not exist; dropping the message", stage, version_id)
        return StageOutcome.STOP
    if version.status in ("failed", "cancelled"):
        return StageOutcome.STOP
    if _has_result(version_id, stage):
        log.info("stage %s of version %s already done; moving on", stage, version_id)
        return StageOutcome.CONTINUE

    run = _start_run(version, stage, worker, attempt)
    started = time.monotonic()
    try:
        goal = Goal.from_dict(version.plan.goal.document)
        outputs = _load_outputs(version) | gather_inputs(stage, goal=goal, settings=settings)
        output = apply_effects(stage, STAGE_FUNCTIONS[stage](goal, outputs, settings), version=version)
        if testonly_delay:
            time.sleep(testonly_delay)
    except PlanningError as error:
        session.rollback()
        _fail(version_id, run.id, f"{stage}: {error.message}", started)
        return StageOutcome.STOP
    except TRANSIENT_ERRORS as error:
        session.rollback()
        _mark_run(run.id, "retrying", str(error), started)
        raise
    except Exception as error:  # a bug: fail the plan readably rather than retry forever
        log.exception("stage %s of version %s crashed", stage, version_id)
        session.rollback()
        _fail(version_id, run.id, f"{stage}: internal error ({type(error).__name__})", started)
        return StageOutcome.STOP
    return _save(version_id, run.id, stage, output, started)


def _has_result(version_id: int, stage: str) -> bool:
    query = sa.select(StageResult.id).where(StageResult.plan_version_id == version_id, StageResult.stage == stage)
    return db.session.execute(query).first() is not None


def _start_run(version: PlanVersion, stage: str, worker: str | None, attempt: int) -> StageRun:
    session = db.session
    # A run still marked running belongs to a worker that died: say so.
    session.execute(
        sa.update(StageRun)
        .where(StageRun.plan_version_id == version.id, StageRun.stage == stage,
               StageRun.state.in_(("running", "retrying")))
        .values(state="abandoned", finished_at=utcnow())
    )
    previous = session.execute(
        sa.select(sa.func.count()).where(StageRun.plan_version_id == version.id, StageRun.stage == stage)
    ).scalar_one()
    run = StageRun(plan_version_id=version.id, stage=stage, state="running",
                   attempt=max(attempt, previous + 1), worker=worker)
    session.add(run)
    if version.status == "queued":
        version.status = "running"
        version.plan.status = "running"
    version.updated_at = utcnow()
    session.commit()
    return run


def _load_outputs(version: PlanVersion) -> dict:
    rows = db.session.execute(sa.select(StageResult).where(StageResult.plan_version_id == version.id)).scalars()
    outputs = {row.stage: row.output for row in rows}
    outputs["_meta"] = {"planned_on": version.created_at.date().isoformat(),
                        "created_at": version.created_at.isoformat(), "plan_id": version.plan_id,
                        "version": version.version}
    return outputs


def _save(version_id: int, run_id: int, stage: str, output: dict, started: float) -> StageOutcome:
    session = db.session
    version = session.get(PlanVersion, version_id, with_for_update=True, populate_existing=True)
    if version.status in TERMINAL_STATES:
        # Cancelled (or failed by a racing delivery) while this stage ran: keep nothing.
        session.rollback()
        _mark_run(run_id, "abandoned", f"plan became {version.status} while the stage ran", started)
        return StageOutcome.STOP
    try:
        session.add(StageResult(plan_version_id=version_id, stage=stage, output=output))
        if stage == "decompose":
            for task in output["tasks"]:
                session.add(PlanTask(plan_version_id=version_id, task_key=task["id"], name=task["name"],
                                     phase=task.get("phase", ""), data=task))
        if stage == "finalize":
            for risk in output["risks"]:
                session.add(PlanRisk(plan_version_id=version_id, risk_key=risk["id"], category=risk["category"],
                                     status=risk["status"], score=risk["score"], rank=risk["rank"], data=risk))
            version.document = output
            version.status = "completed"
            version.completed_at = utcnow()
            version.plan.status = "completed"
        version.updated_at = utcnow()
        run = session.get(StageRun, run_id)
        run.state, run.finished_at = "succeeded", utcnow()
        run.duration_seconds = round(time.monotonic() - started, 4)
        session.commit()
        STAGE_DURATION.labels(stage).observe(run.duration_seconds)
        if stage == "finalize":
            PLANS_CREATED.inc()
    except sa_exc.IntegrityError:
        # Another delivery of this message saved the stage first; theirs stands.
        session.rollback()
        _mark_run(run_id, "duplicate", "another delivery saved this stage first", started)
    return StageOutcome.CONTINUE


def _mark_run(run_id: int, state: str, error: str | None, started: float) -> None:
    session = db.session
    try:
        run = session.get(StageRun, run_id)
        if run is not None:
            run.state, run.error, run.finished_at = state, error, utcnow()
            run.duration_seconds = round(time.monotonic() - started, 4)
            session.commit()
    except sa_exc.SQLAlchemyError:
        session.rollback()
        log.warning("could not record stage run %s as %s", run_id, state)


def _fail(version_id: int, run_id: int, reason: str, started: float) -> None:
    session = db.session
    version = session.get(PlanVersion, version_id)
    version.status = "failed"
    version.error = reason
    version.plan.status = "failed"
    session.commit()
    PLANNING_ERRORS.inc()
    _mark_run(run_id, "failed", reason, started)
    log.warning("plan version %s failed: %s", version_id, reason)
