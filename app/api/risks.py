"""`/api/v1/plans/{id}/risks` and `/api/v1/risks/{id}/mitigate`."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from app.api import read_schemas as read
from app.api.plans import json_body
from app.extensions import db
from app.models import PlanRisk
from app.openapi import operation
from app.pagination import link_headers, page_response, paginate
from app.problems import ApiProblem
from app.security.policy import requires
from app.services import plans as plan_service
from app.services import risks as risk_service
from planning.settings import IMPACT_LEVELS

bp = Blueprint("risks", __name__, url_prefix="/api/v1", description="A plan's risks; recording a mitigation")

RISK_STATUSES = ("open", "mitigated", "closed", "realized")
CATEGORIES = ("technical", "resource", "timeline", "integration", "external")


class RiskListQuery(read.PageQuery):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(RISK_STATUSES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))


class RiskMitigate(Schema):
    class Meta:
        unknown = RAISE

    who = fields.String(required=True, validate=validate.Length(min=1, max=200))
    why = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    probability = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=1))
    impact = fields.String(required=True, validate=validate.OneOf(IMPACT_LEVELS))


@bp.get("/plans/<plan_id>/risks")
@operation(query=RiskListQuery, responses={200: (read.RiskListRead, link_headers())}, errors=(400, 404, 422))
@requires("plans:read", scope="plan")
def list_plan_risks(plan_id: str):
    """The current version's risks, ranked, a page at a time."""
    query = RiskListQuery().load(request.args.to_dict())
    filters = {name: query.get(name) for name in ("status", "category")}  # limit and cursor: paginate() reads them
    plan = plan_service.get_plan(session=db.session, plan_id=plan_id)
    if plan is None:
        raise ApiProblem(404, "plan-not-found", "Plan not found", f"no plan with id {plan_id!r}")
    version = plan_service.current_version(plan)
    risks, next_cursor = paginate("risks", risk_service.list_risks(session=db.session, version=version, **filters),
                                  key=lambda risk: (risk["rank"], risk["key"]))
    return page_response({"plan_id": plan.id, "version": version.version, "status": version.status,
                          "risks": risks}, next_cursor)


@bp.post("/risks/<risk_id>/mitigate")
@operation(summary="Record a mitigation of a risk", body=RiskMitigate,
           responses={200: read.RiskRead}, errors=(400, 404, 408, 413, 415, 422))
@requires("risks:mitigate", scope="risk")
def mitigate_risk(risk_id: str):
    body = RiskMitigate().load(json_body())
    row = db.session.get(PlanRisk, risk_id)
    if row is None:
        raise ApiProblem(404, "risk-not-found", "Risk not found", f"no risk with id {risk_id!r}")
    return risk_service.record_mitigation(session=db.session, row=row, **body)
