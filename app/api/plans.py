"""`/api/v1/plans`: submit a goal, read a plan, cancel it."""

from __future__ import annotations

import logging

from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate

from app.api import read_schemas as read
from app.extensions import db
from app.json_input import announces_body, read_json_object
from app.metrics import GOALS_RECEIVED, VALIDATION_ERRORS
from app.models import Plan
from app.openapi import operation
from app.pagination import encode_cursor, link_headers, page_params, page_response
from app.problems import ApiProblem
from app.schemas import GoalCreate, PlanCancel
from app.security.limits import check_goal_pools
from app.security.policy import requires, visible_plans
from app.services import lifecycle, listing
from app.services import plans as plan_service
from planning.errors import PlanningError
from planning.lifecycle import PLAN_STATES
from tasks.chain import chain_task_ids, enqueue_plan_version, revoke

log = logging.getLogger(__name__)
bp = Blueprint("plans", __name__, url_prefix="/api/v1/plans", description="Submit a goal, read, list and cancel plans")
GOAL_SCHEMA = GoalCreate()  # built once: a schema is reusable and its construction is not free


def json_body() -> dict:
    """The request's JSON object, or a 400/408/413/415 problem saying what is wrong with it."""
    if not request.is_json:
        raise ApiProblem(415, "unsupported-media-type", "Unsupported media type",
                         "send the goal as application/json")
    return read_json_object()  # size, read timeout, UTF-8, nesting, NaN/Infinity: app/json_input.py


def actor() -> str:
    """Who acts, for the audit log: the authenticated key or user (app/security), never a header the caller writes."""
    return g.principal.actor


LOCATION = {"Location": {"description": "the plan's URL", "schema": {"type": "string"}}}
ACTOR = {"X-Actor": {"description": "ignored: the audit log records the authenticated key or user",
                     "schema": {"type": "string"}}}


class PlanListQuery(read.PageQuery):
    status = fields.String(validate=validate.OneOf(PLAN_STATES), metadata={"description": "only plans in this state"})


@bp.get("")
@operation(query=PlanListQuery, responses={200: (read.PlanListRead, link_headers())}, errors=(422,))
@requires("plans:read")
def list_plans():
    """The plans, newest first, a page at a time (`limit`, `cursor`; `Link: rel="next"`)."""
    unknown = sorted(set(request.args) - {"status", "limit", "cursor"})
    status = request.args.get("status")
    if unknown or (status is not None and status not in PLAN_STATES):
        name = unknown[0] if unknown else "status"
        raise ApiProblem(422, "invalid-query", "Invalid query", f"{name}: not a filter of this list",
                         [{"field": name, "message": f"status must be one of {', '.join(PLAN_STATES)}"
                           if name == "status" else "unknown query parameter"}])
    page = page_params("plans")
    try:
        after = None if page.after is None else listing.plan_list_key(page.after)
    except ValueError:
        raise ApiProblem(422, "invalid-query", "Invalid query", "cursor: not a cursor of this list",
                         [{"field": "cursor", "message": "Not a cursor of this list."}]) from None
    plans, last = listing.list_plans(session=db.session, status=status, limit=page.limit, after=after,
                                     visible=visible_plans(g.principal))
    next_cursor = None if last is None else encode_cursor("plans", last)
    return page_response({"plans": plans}, next_cursor)


@bp.post("")
@operation(summary="Submit a goal: 202 with the plan's id; it is planned in the background", body=GoalCreate,
           responses={202: (read.PlanAcceptedRead, LOCATION)}, errors=(400, 408, 413, 415, 422),
           headers=ACTOR)
@requires("plans:write")
def create_plan():
    """Validate, store (one transaction), send the chain, answer: nothing else on this path."""
    body = json_body()
    task_ids = chain_task_ids()
    try:
        goal = GOAL_SCHEMA.load(body)
        check_goal_pools(goal)  # LAYER2_MAX_POOLS_PER_GOAL (app/security/limits.py)
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
@operation(query=read.VersionQuery, responses={200: read.PlanRead}, errors=(400, 404, 422))
@requires("plans:read", scope="plan")
def get_plan(plan_id: str):
    """The plan; `?version=N` shows version N (404 problem naming it when the plan has none)."""
    plan = _plan_or_404(plan_id)
    return plan_service.plan_view(session=db.session, plan=plan, number=version_param("version"))


@bp.delete("/<plan_id>")
@operation(summary="Cancel a plan: pending stages revoked, state cancelled", body=PlanCancel, body_required=False,
           responses={200: read.PlanCancelledRead},
           errors=(400, 404, 408, 409, 413, 415, 422),
           headers=ACTOR)
@requires("plans:write", scope="plan")
def cancel_plan(plan_id: str):
    plan = _plan_or_404(plan_id)
    # A body that is there is read as every body is (a malformed one was ignored and the plan cancelled anyway).
    body = json_body() if announces_body() else {}
    options = PlanCancel().load(body)
    # A plan in a final state is a 409 naming its state and the allowed moves (none).
    version, task_ids = lifecycle.cancel_plan(session=db.session, plan_id=plan.id, actor=actor(),
                                              reason=options["reason"])
    try:
        revoke(task_ids)
    except Exception:  # broker away: the cancel is saved, and every stage checks it before running
        log.warning("could not revoke the pending stages of plan %s; they will find it cancelled", plan_id)
    return {"id": plan.id, "status": plan.status, "version": version.version, "version_status": version.status}


@bp.get("/<plan_id>/resources")
@operation(query=read.VersionQuery, responses={200: read.PlanResourcesRead}, errors=(404, 422))
@requires("plans:read", scope="plan")
def get_plan_resources(plan_id: str):
    """The version's allocations, its Layer 8 holds and their state at Layer 8 now (the spec's troubleshooting call)."""
    from app.layer8 import layer8_client_for
    from app.services.plan_resources import plan_resources

    plan = _plan_or_404(plan_id)
    number = version_param("version") or plan.current_version
    version = lifecycle.version_row(session=db.session, plan_id=plan.id, number=number)
    head = {"plan_id": plan.id, "status": plan.status, "version": version.version, "version_status": version.status}
    document = version.document
    db.session.rollback()  # no transaction stays open while Layer 8 is asked
    return plan_resources(head=head, document=document, layer8_client=layer8_client_for(current_app))


def version_param(name: str) -> int | None:
    """A version number from the query string: None when absent, a 422 naming `name` when not a whole number >= 1."""
    raw = request.args.get(name)
    if raw is None:
        return None
    # Bounded: a number past the database's INTEGER answered 500 (OverflowError in the query; schemathesis).
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= read.MAX_VERSION:
        raise ApiProblem(422, "invalid-request", "The request is not valid", f"{name} must be a version number",
                         [{"field": name, "message": f"Not a version number: {raw!r} (a whole number, 1 to "
                                                     f"{read.MAX_VERSION})."}])
    return int(raw)


def _plan_or_404(plan_id: str):
    plan = plan_service.get_plan(session=db.session, plan_id=plan_id)
    if plan is None:
        raise ApiProblem(404, "plan-not-found", "Plan not found", f"no plan with id {plan_id!r}")
    return plan
