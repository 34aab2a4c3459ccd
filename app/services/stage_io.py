"""The I/O around some stages' pure functions, named by the registry (`app/stages.py`).

Kept out of the pure code: Layer 8 and the local pool table are read before the
allocate stage runs, and holds are confirmed at Layer 8 before its result is saved
(with an idempotency key, so a redelivered stage confirms the same hold, not a
new one). The row writers add the live rows beside a stage's saved result.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.extensions import db
from app.layer8 import layer8_client_for
from app.models import PlanRisk, PlanTask
from app.services.resources import gather_resource_sources, reserve_with_layer8
from planning.identity import task_uid
from planning.stages.input import StageInput


def gather_allocation_sources(data: StageInput) -> dict:
    """The local pools and Layer 8's availability over the plan's own window (its start, not today)."""
    return gather_resource_sources(session=db.session, goal=data.goal, settings=data.settings,
                                   layer8_client=layer8_client_for(current_app), project_start=data.start)


def confirm_layer8_holds(output: dict, data: StageInput) -> dict:
    return reserve_with_layer8(allocation=output, layer8_client=layer8_client_for(current_app),
                               reference=f"{data.plan_id}/v{data.version}")


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
