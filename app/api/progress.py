"""Execution feedback and progress: `PUT /api/v1/plans/{id}`, progress, report, issues, one task's progress.

Feedback goes straight to the database in one transaction (app/services/feedback.py), never
through Celery; the reads assemble the pure progress figures (app/services/progress.py).
"""

from __future__ import annotations

import time
from datetime import datetime

from flask import current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from app.api import read_schemas as read
from app.api.plans import ACTOR, actor
from app.extensions import db
from app.json_input import parse_json, read_body
from app.metrics import (
    FEEDBACK_LATENCY,
    FEEDBACK_REQUESTS,
    FEEDBACK_UPDATES,
    PLAN_PROGRESS,
    TASKS_COMPLETED,
    TASKS_FAILED,
)
from app.models import ISSUE_STATES, PlanIssue
from app.openapi import operation
from app.pagination import link_headers, page_response, paginate
from app.problems import ApiProblem
from app.security.limits import check_feedback_updates
from app.security.policy import requires
from app.services import feedback as feedback_service
from app.services import plans as plan_service
from app.services import progress as progress_service
from app.services.progress import NoBaseline, etag
from planning.progress import STATUSES

bp = Blueprint("progress", __name__, url_prefix="/api/v1",
               description="Execution feedback, progress, the report, issues, one task's progress")

OUTCOMES = {400: "malformed", 404: "not_found", 409: "conflict", 412: "precondition_failed", 413: "too_large",
            415: "malformed", 422: "invalid"}


class IssueResolve(Schema):
    class Meta:
        unknown = RAISE

    who = fields.String(required=True, validate=validate.Length(min=1, max=200))
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class FeedbackUpdateCreate(Schema):
    """One task's update (documentation of what app/services/feedback.py parses)."""

    task_id = fields.String(required=True, validate=validate.Length(min=1, max=feedback_service.MAX_KEY),
                            metadata={"description": "the task's id in the plan, or its uid"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    percent_complete = fields.Float(validate=validate.Range(min=0, max=100))
    actual_start = fields.DateTime()
    actual_finish = fields.DateTime()
    remaining_hours = fields.Float(validate=validate.Range(min=0, max=feedback_service.MAX_AMOUNT))
    actual_cost = fields.Float(validate=validate.Range(min=0, max=feedback_service.MAX_AMOUNT))
    note = fields.String(validate=validate.Length(max=feedback_service.MAX_NOTE))
    blocked_reason = fields.String(validate=validate.Length(max=feedback_service.MAX_REASON))
    reopen = fields.Boolean()


class FeedbackCreate(Schema):
    class Meta:
        unknown = RAISE

    status_date = fields.DateTime(metadata={"description": "what the updates report is true at (default: now)"})
    updates = fields.List(fields.Nested(FeedbackUpdateCreate), required=True,
                          validate=validate.Length(min=1, max=feedback_service.MAX_UPDATES))


# Printable ASCII, neither starting nor ending with a space (HTTP strips those); the API also takes Latin-1 letters.
IDEMPOTENCY_KEY = r"^[!-~]([ -~]{0,198}[!-~])?$"
FEEDBACK_HEADERS = {
    **ACTOR,
    "If-Match": {"description": "the ETag of the progress this feedback was based on (412 if it moved on)",
                 "schema": {"type": "string"}},
    "Idempotency-Key": {"description": "1-200 printable characters: the same key answers the first answer again",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY}},
}
ETAG = {"ETag": {"description": "the plan's feedback sequence, for If-Match", "schema": {"type": "string"}}}


def _feedback_body():
    if request.content_length is not None and request.content_length > feedback_service.MAX_BODY_BYTES:
        raise _too_large(request.content_length)
    if not request.is_json:
        raise ApiProblem(415, "unsupported-media-type", "Unsupported media type",
                         "send the feedback as application/json")
    data = read_body()  # the read timeout (408) and the chunked size limit of every body (app/json_input.py)
    if len(data) > feedback_service.MAX_BODY_BYTES:
        raise _too_large(len(data))
    return parse_json(data)


def _too_large(size: int) -> ApiProblem:
    return ApiProblem(413, "feedback-too-large", "Feedback body too large",
                      f"{size} bytes; a feedback request may carry at most {feedback_service.MAX_BODY_BYTES} bytes "
                      f"(and {feedback_service.MAX_UPDATES} updates): split it")


@bp.put("/plans/<plan_id>")
@operation(body=FeedbackCreate, responses={200: (read.FeedbackAnswerRead, ETAG)},
           errors=(400, 404, 408, 409, 412, 413, 415, 422), headers=FEEDBACK_HEADERS)
@requires("feedback:write", scope="plan")
def put_feedback(plan_id: str):
    """Execution feedback: task updates applied in one transaction; answers the progress summary and a new ETag."""
    started = time.perf_counter()
    outcome = "error"
    try:
        body = _feedback_body()
        check_feedback_updates(body)  # LAYER2_MAX_FEEDBACK_UPDATES (app/security/limits.py)
        answer = feedback_service.apply_feedback(
            session=db.session, plan_id=plan_id, body=body, actor=actor(), settings=current_app.config["PLANNING"],
            if_match=request.headers.get("If-Match"), idempotency_key=request.headers.get("Idempotency-Key"))
        outcome = "replayed" if answer.replayed else "accepted"
    except ApiProblem as problem:
        outcome = OUTCOMES.get(problem.status, "error")
        raise
    finally:
        FEEDBACK_REQUESTS.labels(outcome=outcome).inc()
        FEEDBACK_LATENCY.labels(outcome=outcome).observe(time.perf_counter() - started)
    if not answer.replayed:
        FEEDBACK_UPDATES.inc(answer.body["updated"])
        TASKS_COMPLETED.inc(answer.completed_tasks)
        TASKS_FAILED.inc(answer.failed_tasks)
        percent = answer.body["progress"]["percent_complete"]
        if percent is not None:
            PLAN_PROGRESS.labels(state=answer.body["status"]).observe(percent)
    response = jsonify(answer.body)
    response.status_code = answer.status_code
    response.headers["ETag"] = answer.etag
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _as_of() -> datetime | None:
    unknown = sorted(set(request.args) - {"as_of"})
    if unknown:
        raise ApiProblem(422, "invalid-query", "Invalid query", f"unknown query parameter {unknown[0]!r}",
                         [{"field": name, "message": "unknown query parameter"} for name in unknown])
    value = request.args.get("as_of")
    if value is None:
        return None
    errors = feedback_service.Errors()
    moment = feedback_service.parse_datetime(value, "as_of", errors)
    if moment is None:
        raise ApiProblem(422, "invalid-query", "Invalid query", errors.items[0]["message"], errors.items)
    return moment


def _execution(plan_id: str, as_of: datetime | None):
    plan = plan_service.get_plan(session=db.session, plan_id=plan_id)
    if plan is None:
        raise ApiProblem(404, "plan-not-found", "Plan not found", f"no plan with id {plan_id!r}")
    return _execution_of(plan, as_of)


def _execution_of(plan, as_of: datetime | None):
    settings = current_app.config["PLANNING"]
    try:
        execution = progress_service.load_execution(db.session, plan, settings, as_of=as_of)
    except NoBaseline as error:
        raise ApiProblem(409, "no-baseline", "Nothing to measure yet", str(error)) from None
    feedback_service.refresh_escalations(session=db.session, plan_id=plan.id,
                                         version_id=execution.base.version_id, settings=settings)
    return execution


@bp.get("/plans/<plan_id>/progress")
@operation(query=read.AsOfQuery, responses={200: (read.ProgressRead, ETAG)}, errors=(400, 404, 409, 422))
@requires("progress:read", scope="plan")
def get_progress(plan_id: str):
    """Progress at `as_of` (default: the latest status date): EVM, Earned Schedule, counts by status."""
    execution = _execution(plan_id, _as_of())
    response = jsonify(progress_service.progress_view(execution))
    response.headers["ETag"] = etag(execution.feedback_seq)
    return response


@bp.get("/plans/<plan_id>/report")
@operation(query=read.AsOfQuery, responses={200: (read.ReportRead, ETAG)}, errors=(400, 404, 409, 422))
@requires("progress:read", scope="plan")
def get_report(plan_id: str):
    """Progress plus the S-curve, forecasts, the critical path now, open issues, re-assessed risks, baseline vs now."""
    execution = _execution(plan_id, _as_of())
    response = jsonify(progress_service.report(db.session, execution, current_app.config["PLANNING"]))
    response.headers["ETag"] = etag(execution.feedback_seq)
    return response


class IssueListQuery(read.PageQuery):
    status = fields.String(validate=validate.OneOf(ISSUE_STATES))


@bp.get("/plans/<plan_id>/issues")
@operation(query=IssueListQuery, responses={200: (read.IssueListRead, link_headers())},
           errors=(400, 404, 409, 422))
@requires("progress:read", scope="plan")
def list_issues(plan_id: str):
    """The plan's issues, oldest first, a page at a time."""
    status = request.args.get("status")
    if set(request.args) - {"status", "limit", "cursor"} or (status is not None and status not in ISSUE_STATES):
        raise ApiProblem(422, "invalid-query", "Invalid query", f"status must be one of {', '.join(ISSUE_STATES)}",
                         [{"field": "status", "message": f"must be one of {', '.join(ISSUE_STATES)}"}])
    execution = _execution(plan_id, None)
    query = db.select(PlanIssue).where(PlanIssue.plan_id == plan_id)
    if status:
        query = query.where(PlanIssue.status == status)
    issues = db.session.execute(query.order_by(PlanIssue.opened_at, PlanIssue.id)).scalars()
    page, next_cursor = paginate("issues", [progress_service.issue_view(issue) for issue in issues],
                                 key=lambda issue: (issue["opened_at"] or "", issue["id"]))
    return page_response({"plan_id": plan_id, "status": execution.plan.status, "issues": page}, next_cursor)


@bp.post("/issues/<issue_id>/resolve")
@operation(summary="Resolve an issue", body=IssueResolve,
           responses={200: read.IssueRead}, errors=(400, 404, 408, 409, 413, 415, 422))
@requires("issues:resolve", scope="issue")
def resolve_issue(issue_id: str):
    from app.api.plans import json_body

    body = IssueResolve().load(json_body())
    issue = db.session.get(PlanIssue, issue_id)
    if issue is None:
        raise ApiProblem(404, "issue-not-found", "Issue not found", f"no issue with id {issue_id!r}")
    issue = feedback_service.resolve_issue(session=db.session, issue=issue, who=body["who"],
                                           resolution=body["resolution"])
    return progress_service.issue_view(issue)


@bp.get("/tasks/<uid>/progress")
@operation(query=read.AsOfQuery, responses={200: read.TaskProgressRead}, errors=(400, 404, 422))
@requires("progress:read", scope="task")
def get_task_progress(uid: str):
    """One task: its state and events, planned vs actual, float left, whether it is critical now."""
    as_of = _as_of()
    found = progress_service.find_task(db.session, uid)
    if found is None:
        raise ApiProblem(404, "task-not-found", "Task not found", f"no task with uid {uid!r}")
    plan, row = found
    execution = _execution_of(plan, as_of)
    task_key = next(key for key, live in execution.rows.items() if live.id == row.id)
    return progress_service.task_view(db.session, execution, task_key, current_app.config["PLANNING"])
