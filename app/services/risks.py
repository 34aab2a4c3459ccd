"""Risk use cases behind the API: list a plan's live risks, record a mitigation."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import PlanRisk, PlanVersion, utcnow
from app.services import audit
from planning.risk import Risk, mitigate


def list_risks(*, session: Session, version: PlanVersion, status: str | None = None,
               category: str | None = None) -> list[dict]:
    query = sa.select(PlanRisk).where(PlanRisk.plan_version_id == version.id)
    if status:
        query = query.where(PlanRisk.status == status)
    if category:
        query = query.where(PlanRisk.category == category)
    rows = session.execute(query.order_by(PlanRisk.rank, PlanRisk.risk_key)).scalars()
    return [risk_view(row) for row in rows]


def risk_view(row: PlanRisk) -> dict:
    """The risk as stored, with `id` the global id the mitigate call takes and `key` its id within the plan."""
    return {**row.data, "id": row.id, "key": row.risk_key, "plan_version_id": row.plan_version_id}


def record_mitigation(*, session: Session, row: PlanRisk, who: str, why: str, probability: float,
                      impact: str) -> dict:
    """Apply the mitigation with the assessor's rules (PlanningError on bad values) and keep its history."""
    before = dict(row.data)
    updated = mitigate(Risk.from_dict(row.data), who=who, why=why, new_probability=probability,
                       new_impact=impact, at=utcnow())
    data = updated.to_dict()
    row.data, row.status, row.score = data, data["status"], data["score"]
    audit.record(actor=who, action="risk.mitigate", entity="risk", entity_id=row.id, before=before, after=data)
    session.commit()
    return risk_view(row)
