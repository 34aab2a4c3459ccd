"""The plans list: newest first, a keyset page at a time (app/pagination.py makes the cursor)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Goal, Plan


def plan_list_key(after: tuple) -> tuple[datetime, str]:
    """A cursor's key back as (created_at, id); ValueError when it is not one of this list's."""
    if len(after) != 2 or not all(isinstance(value, str) for value in after):
        raise ValueError("not a plans cursor")
    return datetime.fromisoformat(after[0]), after[1]


def list_plans(*, session: Session, status: str | None, limit: int, after: tuple[datetime, str] | None,
               visible=None) -> tuple[list[dict], tuple[str, str] | None]:
    """One page of plans and the key of its last one when there are more (None on the last page).

    `visible`: a WHERE clause on `plans` saying which the caller may see (app/security/policy.py).
    """
    query = sa.select(Plan.id, Plan.status, Plan.current_version, Plan.baseline_version, Plan.created_at,
                      Plan.updated_at, Goal.title).join(Goal, Goal.id == Plan.goal_id)
    if visible is not None:
        query = query.where(visible)
    if status:
        query = query.where(Plan.status == status)
    if after is not None:
        created_at, plan_id = after
        query = query.where(sa.or_(Plan.created_at < created_at,
                                   sa.and_(Plan.created_at == created_at, Plan.id < plan_id)))
    rows = session.execute(query.order_by(Plan.created_at.desc(), Plan.id.desc()).limit(limit + 1)).all()
    plans = [{"id": row.id, "title": row.title, "status": row.status, "current_version": row.current_version,
              "baseline_version": row.baseline_version, "created_at": _iso(row.created_at),
              "updated_at": _iso(row.updated_at)} for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return plans, (None if last is None else (last.created_at.isoformat(), last.id))


def _iso(value) -> str | None:
    return value.isoformat() if value else None
