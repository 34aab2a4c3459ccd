"""The plan lifecycle over HTTP: approve, reject, the versions and what changed between two.

    POST /api/v1/plans/{id}/approve   {"comment"?, "version"?}   ready -> approved (the baseline)
    POST /api/v1/plans/{id}/reject    {"reason", "version"?}     ready -> rejected
    GET  /api/v1/plans/{id}/versions                             every version, headline numbers
    GET  /api/v1/plans/{id}/diff?from=N&to=M                     planning.progress.diff of two versions
    POST /api/v1/plans/{id}/replan    {"reason"}                 version n+1 from the status date (202)
    GET  /api/v1/plans/{id}/replans                              the replan triggers: why, when, which version

A move planning/lifecycle.py does not allow is a 409 naming the current state and the
allowed ones (app/problems.py). The actor is the X-Actor header until the API has security.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.api import read_schemas as read
from app.api.plans import ACTOR, LOCATION, _plan_or_404, actor, json_body, version_param
from app.extensions import db
from app.json_input import announces_body
from app.openapi import NOT_BLANK, operation
from app.pagination import link_headers, page_response, paginate
from app.problems import ApiProblem, flatten_marshmallow, problem_response
from app.security.policy import requires
from app.services import lifecycle, replanning
from planning.lifecycle import NotReplannable

log = logging.getLogger(__name__)
bp = Blueprint("lifecycle", __name__, url_prefix="/api/v1/plans",
               description="Approve, reject, replan; versions, what changed between two, why it was replanned")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class PlanApprove(Schema):
    class Meta:
        unknown = RAISE

    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    # The version the approver looked at: refused (409) if the plan has moved on since.
    version = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))
    override_validation = fields.Boolean(load_default=False, metadata={
        "description": "approve a version Layer 3 could not validate (`validation.state` unavailable); "
                       "without it such an approval is refused (409)"})


class PlanReject(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=[validate.Length(max=2000), _not_blank],
                           metadata={"pattern": NOT_BLANK})
    version = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))


class PlanReplan(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=[validate.Length(max=2000), _not_blank],
                           metadata={"pattern": NOT_BLANK})


APPROVE_SCHEMA, REJECT_SCHEMA, REPLAN_SCHEMA = PlanApprove(), PlanReject(), PlanReplan()


def _load(schema: Schema) -> dict:
    """The body through `schema`; an empty body is `{}`; field errors are a 422 naming each field."""
    body = json_body() if announces_body() else {}
    try:
        return schema.load(body)
    except ValidationError as error:
        errors = flatten_marshmallow(error.messages)
        raise ApiProblem(422, "invalid-request", "The request is not valid",
                         f"{len(errors)} field(s) failed validation", errors) from None


def _decision_body(decision: lifecycle.Decision) -> dict:
    plan = _plan_or_404(decision.plan_id)
    version = lifecycle.version_row(session=db.session, plan_id=plan.id, number=decision.version)
    approval = lifecycle.approval_view(session=db.session, plan_id=plan.id, version=decision.version,
                                       document=version.document or {})
    return {"id": plan.id, "status": plan.status, "version": decision.version,
            "baseline_version": plan.baseline_version, "approval": approval}


class DiffQuery(Schema):
    from_ = fields.Integer(data_key="from", validate=validate.Range(min=1, max=read.MAX_VERSION),
                           metadata={"description": "a version (default: the baseline, or the previous one)"})
    to = fields.Integer(validate=validate.Range(min=1, max=read.MAX_VERSION),
                        metadata={"description": "a version (default: the current)"})


@bp.post("/<plan_id>/approve")
@operation(summary="Approve the ready version: it becomes the baseline", body=PlanApprove, body_required=False,
           responses={200: read.DecisionRead},
           errors=(400, 404, 408, 409, 413, 415, 422), headers=ACTOR)
@requires("plans:approve", scope="plan")
def approve(plan_id: str):
    _plan_or_404(plan_id)
    options = _load(APPROVE_SCHEMA)
    decision = lifecycle.approve_plan(session=db.session, plan_id=plan_id, actor=actor(),
                                      comment=options["comment"], version=options["version"],
                                      override_validation=options["override_validation"])
    return _decision_body(decision)


@bp.post("/<plan_id>/reject")
@operation(summary="Reject the ready version, with a reason", body=PlanReject,
           responses={200: read.DecisionRead}, errors=(400, 404, 408, 409, 413, 415, 422),
           headers=ACTOR)
@requires("plans:approve", scope="plan")
def reject(plan_id: str):
    _plan_or_404(plan_id)
    options = _load(REJECT_SCHEMA)
    decision = lifecycle.reject_plan(session=db.session, plan_id=plan_id, actor=actor(),
                                     reason=options["reason"].strip(), version=options["version"])
    return _decision_body(decision)


@bp.post("/<plan_id>/replan")
@operation(body=PlanReplan, responses={202: (read.ReplanAcceptedRead, LOCATION)},
           errors=(400, 404, 408, 409, 413, 415, 422), headers=ACTOR)
@requires("plans:write", scope="plan")
def replan(plan_id: str):
    """Version n+1 from the plan's status date, now (not debounced); 202 with the new version's Location."""
    from tasks.replan import send_chain

    _plan_or_404(plan_id)
    options = _load(REPLAN_SCHEMA)
    started = replanning.manual_replan(session=db.session, plan_id=plan_id, reason=options["reason"].strip(),
                                       actor=actor())
    try:
        send_chain(started)
    except Exception:  # broker away: the version is stored, queued; the stalled-plan sweep sends it
        log.exception("could not send the replan chain of plan %s v%s; the sweep will", plan_id, started.version)
    db.session.expire_all()
    plan = _plan_or_404(plan_id)
    version = lifecycle.version_row(session=db.session, plan_id=plan_id, number=started.version)
    body = {"id": plan_id, "status": plan.status, "version": started.version, "version_status": version.status,
            "baseline_version": plan.baseline_version, "created": started.created, "trigger": started.trigger_id}
    return body, 202, {"Location": f"/api/v1/plans/{plan_id}?version={started.version}"}


@bp.get("/<plan_id>/replans")
@operation(query=read.PageQuery, responses={200: (read.ReplanListRead, link_headers())}, errors=(400, 404, 422))
@requires("plans:read", scope="plan")
def replans(plan_id: str):
    """The replan triggers, newest first, a page at a time."""
    _plan_or_404(plan_id)
    triggers, next_cursor = paginate("replans", replanning.triggers_of(session=db.session, plan_id=plan_id),
                                     key=lambda trigger: (-trigger["id"],))
    return page_response({"id": plan_id, "triggers": triggers,
                          "continuous_replanning": current_app.config["PLANNING"].enable_continuous_replanning},
                         next_cursor)


@bp.get("/<plan_id>/versions")
@operation(query=read.PageQuery, responses={200: (read.VersionListRead, link_headers())}, errors=(400, 404, 422))
@requires("plans:read", scope="plan")
def versions(plan_id: str):
    """Every version, oldest first, a page at a time."""
    plan = _plan_or_404(plan_id)
    body = lifecycle.list_versions(session=db.session, plan=plan)
    body["versions"], next_cursor = paginate("versions", body["versions"], key=lambda version: (version["version"],))
    return page_response(body, next_cursor)


@bp.get("/<plan_id>/diff")
@operation(summary="What changed between two versions", query=DiffQuery,
           responses={200: read.DiffRead}, errors=(400, 404, 409, 422))
@requires("plans:read", scope="plan")
def diff(plan_id: str):
    plan = _plan_or_404(plan_id)
    before, after = version_param("from"), version_param("to")
    default_before, default_after = lifecycle.default_diff_range(plan)
    before = default_before if before is None else before
    after = default_after if after is None else after
    if before is None:
        raise ApiProblem(422, "invalid-request", "The request is not valid",
                         "nothing to compare by default (one version, no other baseline): name the versions",
                         [{"field": "from", "message": "Missing: the plan has no earlier version to compare with."}])
    return lifecycle.diff_versions(session=db.session, plan=plan, before=before, after=after)


@bp.app_errorhandler(lifecycle.VersionNotFound)
def _version_not_found(error: lifecycle.VersionNotFound):
    return problem_response(404, "version-not-found", "Plan version not found", str(error),
                            extra={"version": error.number})


@bp.app_errorhandler(lifecycle.VersionNotPlanned)
def _version_not_planned(error: lifecycle.VersionNotPlanned):
    return problem_response(409, "version-not-planned", "The version has no plan", str(error),
                            extra={"version": error.number, "version_status": error.status})


@bp.app_errorhandler(lifecycle.VersionMismatch)
def _version_mismatch(error: lifecycle.VersionMismatch):
    return problem_response(409, "version-mismatch", "Not the current version", str(error),
                            extra={"version": error.asked, "current_version": error.current})


@bp.app_errorhandler(NotReplannable)
def _not_replannable(error: NotReplannable):
    return problem_response(409, "not-replannable", "The plan cannot be replanned", str(error),
                            extra={"current_state": error.current, "allowed": list(error.allowed)})


@bp.app_errorhandler(lifecycle.ValidationBlocksApproval)
def _validation_blocks(error: lifecycle.ValidationBlocksApproval):
    return problem_response(409, "validation-blocks-approval", "Layer 3's validation blocks approval", str(error),
                            errors=[{"field": "override_validation", "message": str(error)}],
                            extra={"version": error.number, "validation_state": error.state})


@bp.app_errorhandler(lifecycle.AlreadyDecided)
def _already_decided(error: lifecycle.AlreadyDecided):
    return problem_response(409, "already-decided", "The version is already decided", str(error),
                            extra={"version": error.number, "decision": error.decision})
