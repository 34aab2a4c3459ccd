"""`/api/v1/plans`: submit a goal, read a plan, cancel it."""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import ValidationError

from app.extensions import db
from app.json_input import read_json_object
from app.metrics import GOALS_RECEIVED, VALIDATION_ERRORS
from app.models import Plan
from app.problems import ApiProblem
from app.schemas import GoalCreate, PlanCancel
from app.services import lifecycle
from app.services import plans as plan_service
from planning.errors import PlanningError
from tasks.chain import chain_task_ids, enqueue_plan_version, revoke

log = logging.getLogger(__name__)
bp = Blueprint("plans", __name__, url_prefix="/api/v1/plans")
GOAL_SCHEMA = GoalCreate()  # built once: a schema is reusable and its construction is not free


def json_body() -> dict:
    """The request's JSON object, or a 400/408/413/415 problem saying what is wrong with it."""
    if not request.is_json:
        raise ApiProblem(415, "unsupported-media-type", "Unsupported media type",
                         "send the goal as application/json")
    return read_json_object()  # size, read timeout, UTF-8, nesting, NaN/Infinity: app/json_input.py


def actor() -> str:
    return request.headers.get("X-Actor", "anonymous")[:200]


@bp.post("")
def create_plan():
    """Validate, store (one transaction), send the chain, answer: nothing else on this path."""
    body = json_body()
    task_ids = chain_task_ids()
    try:
        goal = GOAL_SCHEMA.load(body)
        version = plan_service.create_plan(session=db.session, goal_data=goal, actor=actor(),
                                           settings=current_app.config["PLANNING"], task_ids=task_ids)
    except (ValidationError, PlanningError):
        db.session.rollback()
        VALIDATION_ERRORS.inc()
        raise
    GOALS_RECEIVED.inc()
    plan_id, version_id, number = version.plan_id, version.id, version.version
    log.info("goal received: plan %s queued (version %s)", plan_id, number)
    status = "queued"
    try:
        enqueue_plan_version(version_id, task_ids=task_ids, plan_id=plan_id)
    except Exception:  # broker down: the plan is stored; the stalled-plan sweep will send it
        log.exception("could not enqueue plan %s; it will be resumed by the sweep", plan_id)
    if current_app.config["EMBEDDED"]:
        # Eager mode ran the whole chain inside enqueue: answer with where it ended.
        db.session.expire_all()
        status = db.session.get(Plan, plan_id).status
    body = {"id": plan_id, "status": status, "version": number}
    return body, 202, {"Location": f"/api/v1/plans/{plan_id}"}


@bp.get("/<plan_id>")
def get_plan(plan_id: str):
    """The plan; `?version=N` shows version N (404 problem naming it when the plan has none)."""
    plan = _plan_or_404(plan_id)
    return plan_service.plan_view(session=db.session, plan=plan, number=version_param("version"))


@bp.delete("/<plan_id>")
def cancel_plan(plan_id: str):
    plan = _plan_or_404(plan_id)
    body = request.get_json(silent=True) if request.data else {}
    options = PlanCancel().load(body or {})
    # A plan in a final state is a 409 naming its state and the allowed moves (none).
    version, task_ids = lifecycle.cancel_plan(session=db.session, plan_id=plan.id, actor=actor(),
                                              reason=options["reason"])
    try:
        revoke(task_ids)
    except Exception:  # broker away: the cancel is saved, and every stage checks it before running
        log.warning("could not revoke the pending stages of plan %s; they will find it cancelled", plan_id)
    return {"id": plan.id, "status": plan.status, "version": version.version, "version_status": version.status}


def version_param(name: str) -> int | None:
    """A version number from the query string: None when absent, a 422 naming `name` when not a whole number >= 1."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ApiProblem(422, "invalid-request", "The request is not valid", f"{name} must be a version number",
                         [{"field": name, "message": f"Not a version number: {raw!r} (a whole number, 1 or more)."}])
    return int(raw)


def _plan_or_404(plan_id: str):
    plan = plan_service.get_plan(session=db.session, plan_id=plan_id)
    if plan is None:
        raise ApiProblem(404, "plan-not-found", "Plan not found", f"no plan with id {plan_id!r}")
    return plan
