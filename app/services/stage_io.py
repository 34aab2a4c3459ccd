"""The I/O around some stages' pure functions, named by the registry (`app/stages.py`).

Kept out of the pure code: Layer 8 and the local pool table are read before the
allocate stage runs (over the plan's own window, from its start), and holds are made
and confirmed at Layer 8 for the scheduled dates once the plan document is built, before
it is saved (with an idempotency key, so a redelivered stage confirms the same hold, not
a new one). The row writers add the live rows beside a stage's saved result.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.extensions import db
from app.layer8 import layer8_client_for
from app.models import PlanRisk, PlanTask
from app.services.resources import gather_resource_sources, reserve_with_layer8
from planning.horizon import defer_beyond_horizon
from planning.identity import task_uid
from planning.stages.input import StageInput


def gather_allocation_sources(data: StageInput) -> dict:
    """The local pools and Layer 8's availability over the plan's own window (its start, not today)."""
    from planning.horizon import precedence_finish

    client = layer8_client_for(current_app)
    until = precedence_finish(data.network, data.start, data.settings) \
        if client is not None and "decompose" in data.results else None
    return gather_resource_sources(session=db.session, goal=data.goal, settings=data.settings,
                                   layer8_client=client, project_start=data.start, schedule_until=until)


def hold_scheduled_with_layer8(output: dict, data: StageInput, *, origin: date | None = None) -> dict:
    """Stage `validate`'s effect (the last stage): hold and confirm at Layer 8, for the days each task is scheduled,
    what the plan takes from it, within the planning horizon from `origin`. The rows Layer 8 holds say those days in
    `from`/`to`; the task rows follow the plan's rows."""
    for row in output["allocations"]:
        if row["status"] == "requested" or (row.get("source") == "layer8" and row["status"] == "planned"):
            row["from"] = datetime.fromisoformat(row["start"]).date().isoformat()
            row["to"] = datetime.fromisoformat(row["finish"]).date().isoformat()
    # Only what starts within the planning horizon (from `origin`: the plan's start, a replan's status date) is
    # held now; the rest is scheduled, and held when a replan's horizon reaches it (planning/horizon.py).
    horizon = defer_beyond_horizon(output["allocations"], origin or data.start, data.settings)
    near = [row for row in output["allocations"] if not row.get("beyond_horizon")]
    held = reserve_with_layer8(
        allocation={"allocations": near, "shortfalls": [], "warnings": output["warnings"],
                    "integration": output.get("integration", {})},
        layer8_client=layer8_client_for(current_app), reference=f"{data.plan_id}/v{data.version}")
    answered = iter(held["allocations"])
    rows = [row if row.get("beyond_horizon") else next(answered) for row in output["allocations"]]
    rows_of: dict[str, list[dict]] = {}
    for row in rows:
        rows_of.setdefault(row["task_id"], []).append(row)
    for task in output["tasks"]:
        task["allocations"] = rows_of.get(task["id"], [])
    return {**output, "allocations": rows, "warnings": held["warnings"], "integration": held.get("integration", {}),
            "horizon": horizon}


def save_task_rows(session: Session, version_id: int, output: dict, data: StageInput) -> None:
    """One live row per task, for execution feedback, with the task's uid (stable across versions)."""
    rows = [{"plan_version_id": version_id, "task_key": task["id"], "uid": task_uid(data.plan_id, task["id"]),
             "name": task["name"], "phase": task.get("phase", ""), "data": task} for task in output["tasks"]]
    if rows:
        session.connection().execute(sa.insert(PlanTask.__table__), rows)


def save_risk_rows(session: Session, version_id: int, output: dict, data: StageInput) -> None:
    """One live row per risk, for mitigations."""
    rows = [{"plan_version_id": version_id, "risk_key": risk["id"], "category": risk["category"],
             "status": risk["status"], "score": risk["score"], "rank": risk["rank"], "data": risk}
            for risk in output["risks"]]
    if rows:
        session.connection().execute(sa.insert(PlanRisk.__table__), rows)


# -- a replan (mode "replan" of the allocate and schedule stages; app/services/replanning.py) ----------------

def _replan_facts(data: StageInput):
    from app.models import PlanVersion

    version = db.session.execute(sa.select(PlanVersion.id, PlanVersion.replan_of, PlanVersion.status_date).where(
        PlanVersion.plan_id == data.plan_id, PlanVersion.version == data.version)).one()
    previous_id = db.session.execute(sa.select(PlanVersion.id).where(
        PlanVersion.plan_id == data.plan_id, PlanVersion.version == version.replan_of)).scalar_one()
    return version, previous_id


def release_document_holds(output: dict, data: StageInput) -> None:
    """The plan was cancelled (or failed) while validate held capacity for it: those holds are released."""
    from app.services.resources import _release_quietly

    client = layer8_client_for(current_app)
    held = sorted({row["layer8_allocation_id"] for row in output.get("allocations") or ()
                   if row.get("layer8_allocation_id")})
    if client is not None:
        for allocation_id in held:
            _release_quietly(client, allocation_id)


def replace_layer8_holds(output: dict, data: StageInput) -> dict:
    """Stage `validate`'s effect in a replan: the new version's holds are made (as for any version, for its
    scheduled dates), then the replaced version's are released."""
    from app.services.resources import _release_quietly, version_holds

    version, previous_id = _replan_facts(data)
    status_date = version.status_date.date() if version.status_date is not None else None
    confirmed = hold_scheduled_with_layer8(output, data, origin=status_date)  # the next horizon, re-detailed
    client = layer8_client_for(current_app)
    if client is None:
        return confirmed
    held = version_holds(session=db.session, version_ids=[previous_id])
    released = sum(_release_quietly(client, allocation_id) for allocation_id in held)
    integration = confirmed.setdefault("integration", {}).setdefault("layer8", {})
    integration["released_from_replaced_version"] = {"holds": len(held), "released": released}
    return confirmed


def gather_replan(data: StageInput) -> dict:
    """`sources["replan"]` for planning.replanning.stage.replan_tasks: the replaced version's schedule, and
    each task's progress at the version's status date (its own task rows, copied then), in working hours
    from the plan's start."""
    import dataclasses
    import math

    from app.models import StageResult
    from app.services.progress import PlanClock, TaskState, task_progress
    from planning.work_calendar import calendar_for

    version, previous_id = _replan_facts(data)
    previous = db.session.execute(sa.select(StageResult.output).where(
        StageResult.plan_version_id == previous_id, StageResult.stage == "schedule")).scalar_one()
    clock = PlanClock(calendar_for(data.settings), data.start)
    status_hours = max(0, math.ceil(clock.hours(version.status_date) - 1e-9))
    progress, risk_progress = {}, {}
    for row in db.session.execute(sa.select(PlanTask).where(PlanTask.plan_version_id == version.id)).scalars():
        state = TaskState.from_row(row)
        if not state.reported:
            continue
        report = task_progress(row.task_key, state, clock, status_hours)
        progress[row.task_key] = {key: value for key, value in dataclasses.asdict(report).items() if key != "task_id"}
        # what planning.risk.reassess reads (finalize's replan mode), as the progress report gives it
        risk_progress[row.task_key] = {"percent_complete": 100.0 if report.status == "completed"
                                       else report.percent_complete,
                                       "actual_hours": report.actual_hours or 0.0, "status": report.status}
    db.session.rollback()  # reads only: end the transaction before the solver runs
    return {"replan": {"previous_schedule": previous, "progress": progress, "status_hours": status_hours,
                       "risk_progress": risk_progress}}


# -- Layer 3 validation (stage `validate`; docs/layer3-contract.md) ---------------------------------------

# Seconds the validate stage gives Layer 3's answer, retries included (its time limit, app/stages.py, leaves
# room for this and for scheduling Layer 3's requirements in).
LAYER3_BUDGET_SECONDS = 10.0

def gather_validation(data: StageInput) -> dict:
    """`sources["layer3"]` for planning.stages.validate: Layer 3's checked answer on finalize's document, or why
    there is none (not configured: no call at all; unavailable: the failure, which never fails the plan)."""
    from app.layer3 import Layer3Error, layer3_client_for
    from planning.validation import validation_request

    client = layer3_client_for(current_app)
    if client is None:
        return {"layer3": {"state": "not_configured"}}
    request = validation_request(data.result("finalize"), plan_id=data.plan_id, version=data.version)
    db.session.rollback()  # no transaction stays open across the call to Layer 3
    try:
        answer = client.validate(request, budget=LAYER3_BUDGET_SECONDS)
    except Layer3Error as error:
        return {"layer3": {"state": "unavailable", "reason": f"Layer 3 could not validate the plan ({error})"}}
    return {"layer3": {"state": "answered", "answer": answer}}


def gather_replan_validation(data: StageInput) -> dict:
    """A replanned version's validation: the replan's sources too (its requirements are scheduled as it was)."""
    return {**gather_replan(data), **gather_validation(data)}


def save_validation_rows(session: Session, version_id: int, output: dict, data: StageInput) -> None:
    """The risks' rows (finalize's and Layer 3's findings), and a task row for each task Layer 3 required.

    Finalize's draft of the document gives way to a marker in the same transaction: the document is stored once,
    on the version."""
    from app.models import StageResult
    from planning.stages.validate import revised_results

    revised = revised_results(output, data.result("decompose"), data.result("schedule"))
    revised["finalize"] = {"stored_as": "plan_versions.document", "validated_by": "validate"}
    for stage, result in revised.items():  # what Layer 3's requirements changed, for progress and replans
        session.connection().execute(sa.update(StageResult).where(
            StageResult.plan_version_id == version_id, StageResult.stage == stage).values(output=result))
    save_risk_rows(session, version_id, output, data)
    added = [task for task in output["tasks"] if str(task.get("origin", "")).startswith("layer3:")]
    if added:  # a replan's version has the rows of the tasks an earlier version added (copied with the others)
        have = set(session.connection().execute(sa.select(PlanTask.task_key).where(
            PlanTask.plan_version_id == version_id, PlanTask.task_key.in_([task["id"] for task in added]))).scalars())
        save_task_rows(session, version_id, {"tasks": [task for task in added if task["id"] not in have]}, data)
