"""Plan use cases behind the API: create, read, cancel. Session passed explicitly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Goal, Plan, PlanVersion, StageRun, new_id, utcnow
from app.services import audit, lifecycle, outbox
from app.stages import STAGE_NAMES
from planning.errors import PlanningError
from planning.goal import Goal as PlanningGoal
from planning.identity import task_uid
from planning.settings import PlanningSettings
from planning.stages.input import domain_library


@dataclass(frozen=True)
class NewVersion:
    id: int
    plan_id: str
    version: int


# Built once (values bound per call): the POST path runs these for every goal.
_INSERT_GOAL = sa.insert(Goal.__table__)
_INSERT_PLAN = sa.insert(Plan.__table__).values(status="queued", current_version=1)
_INSERT_VERSION = sa.insert(PlanVersion.__table__).values(
    version=1, status="queued", reason="initial plan").returning(PlanVersion.__table__.c.id)


def create_plan(*, session: Session, goal_data: dict, actor: str, settings: PlanningSettings,
                task_ids: list[str] | None = None) -> NewVersion:
    """Store the goal, the plan, version 1 (queued, with its chain's task ids) and the audit row
    in one transaction; the caller enqueues after the commit."""
    tasks = len(goal_data.get("tasks") or ())
    if tasks > settings.max_tasks_per_plan:  # refused now, not a 202 that decompose fails later
        raise PlanningError(f"the goal lists {tasks} tasks; at most {settings.max_tasks_per_plan} "
                            "(the setting max_tasks_per_plan)", "tasks")
    document = json.loads(json.dumps(goal_data, default=str))  # dates -> ISO strings
    goal = PlanningGoal.from_dict(document)  # meaning-level validation before any row is written
    library = domain_library(settings.domains_dir)
    if goal.domain is not None and goal.domain not in library:
        raise PlanningError(f"unknown domain {goal.domain!r}; known domains: {', '.join(library.ids)}", "domain")
    # Core inserts in one transaction: the ORM's unit of work cost more than the SQL on this path.
    now = utcnow()
    goal_id, plan_id = new_id(), new_id()
    sql = session.connection().execute  # Core on the connection: the ORM's bulk layer is slower here
    sql(_INSERT_GOAL, {"id": goal_id, "title": document["title"], "document": document, "created_at": now})
    sql(_INSERT_PLAN, {"id": plan_id, "goal_id": goal_id, "created_at": now, "updated_at": now})
    version_id = sql(_INSERT_VERSION, {"plan_id": plan_id, "task_ids": task_ids, "created_at": now,
                                       "updated_at": now}).scalar_one()
    audit.record(actor=actor, action="plan.create", entity="plan", entity_id=plan_id, after=document)
    outbox.emit(session.connection(), outbox.PLANS_CREATED, plan_id=plan_id, now=now, payloads={
        "plan_id": plan_id, "goal_id": goal_id, "title": document["title"], "status": "queued", "version": 1})
    session.commit()
    return NewVersion(id=version_id, plan_id=plan_id, version=1)


def get_plan(*, session: Session, plan_id: str) -> Plan | None:
    return session.get(Plan, plan_id)


def current_version(plan: Plan) -> PlanVersion:
    return next(v for v in plan.versions if v.version == plan.current_version)


def stage_states(*, session: Session, version: PlanVersion) -> dict:
    """Per stage: the latest run's state and times, or pending."""
    runs = session.execute(
        sa.select(StageRun).where(StageRun.plan_version_id == version.id).order_by(StageRun.id)
    ).scalars()
    states = {stage: {"state": "pending", "started_at": None, "finished_at": None, "attempts": 0}
              for stage in STAGE_NAMES}
    for run in runs:
        entry = states[run.stage]
        entry["attempts"] += 1
        if entry["state"] == "succeeded":
            continue  # a later duplicate delivery does not undo success
        entry.update(state=run.state, started_at=_iso(run.started_at), finished_at=_iso(run.finished_at),
                     worker=run.worker, error=run.error)
    if version.mode == "replan":  # the stages a replan does not re-run: their results are the replaced version's
        from app.stages import REPLAN_FROM, stages_before

        for stage in stages_before(REPLAN_FROM):
            if states[stage.name]["state"] == "pending":
                states[stage.name].update(state="copied", from_version=version.replan_of)
    if version.status == "cancelled":
        for entry in states.values():
            if entry["state"] == "pending":
                entry["state"] = "revoked"
    return states


def plan_view(*, session: Session, plan: Plan, number: int | None = None) -> dict:
    """The plan as GET shows it: `status` is the plan's lifecycle state, `version_status` the shown
    version's; the document is merged in once the version is planned (ready, or superseded since).

    `number` picks a version (default: the current one); lifecycle.VersionNotFound if it has none.
    """
    if number is None:
        version = current_version(plan)
    else:
        version = next((v for v in plan.versions if v.version == number), None)
        if version is None:
            raise lifecycle.VersionNotFound(plan.id, number)
    envelope = {
        "id": plan.id,
        "version": version.version,
        "mode": version.mode,
        "status": plan.status,
        "version_status": version.status,
        "current_version": plan.current_version,
        "baseline_version": plan.baseline_version,
        "created_at": _iso(version.created_at),
        "updated_at": _iso(max(version.updated_at, plan.updated_at)),
    }
    view = {**envelope,
            "stages": stage_states(session=session, version=version),
            "versions": [{"version": v.version, "status": v.status, "reason": v.reason} for v in plan.versions]}
    if version.error:
        view["error"] = version.error
    if version.mode == "replan":
        view["replan_of"] = version.replan_of
        view["replan_status_date"] = _iso(version.status_date)
        # what the replan's schedule stage says of it: moved tasks, completed / in progress / held, stability
        from app.models import StageResult

        schedule = session.execute(sa.select(StageResult.output).where(
            StageResult.plan_version_id == version.id, StageResult.stage == "schedule")).scalar()
        if schedule and schedule.get("replan"):
            view["replan"] = schedule["replan"]
    if version.status in lifecycle.PLANNED_VERSION_STATES and version.document:
        document = version.document
        view.update(document)
        view.update(envelope)
        view["approval"] = lifecycle.approval_view(session=session, plan_id=plan.id, version=version.version,
                                                   document=document)
        tasks = view.get("tasks") or []
        if tasks and "uid" not in tasks[0]:  # planned before task uids existed: the same uids, derived
            view["tasks"] = [{"uid": task_uid(plan.id, task["id"]), **task} for task in tasks]
    return view


def stalled_versions(*, session: Session, older_than_seconds: int) -> list[PlanVersion]:
    """Versions not finished and untouched for a while: their messages may have been lost."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    query = sa.select(PlanVersion).where(PlanVersion.status.in_(("queued", "planning")),
                                         PlanVersion.updated_at < cutoff)
    return list(session.execute(query).scalars())


def _iso(value) -> str | None:
    return value.isoformat() if value else None
