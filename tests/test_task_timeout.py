"""default_task_timeout_hours in the embedded app: a task left in progress past its finish opens an issue and fires.

The tiny plan of tests/feedback_support.py: design (0-8 h, critical) -> build (8-24 h, critical),
docs (8-16 h, 8 h float), from Monday 2026-11-02 09:00, 8 working hours a day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.feedback_support import approved_plan

MONDAY_NOON = "2026-11-02T12:00:00Z"
TUESDAY_15 = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # design, due Monday 17:00, 6 working hours over
WEDNESDAY_10 = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # 9 working hours over


def _scan(app, now: datetime, **settings):
    from app.extensions import db
    from app.services import replanning

    with app.app_context():
        result = replanning.scan(session=db.session, settings=replace(app.config["PLANNING"], **settings), now=now)
        db.session.remove()
    return result


def _timeout_issues(app, plan_id: str) -> list:
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import PlanIssue

    with app.app_context():
        rows = db.session.execute(sa.select(PlanIssue.task_key, PlanIssue.status, PlanIssue.severity).where(
            PlanIssue.plan_id == plan_id, PlanIssue.kind == "timeout")).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_a_task_past_its_finish_by_the_timeout_opens_an_issue_and_fires_a_replan(client, embedded_app):
    """design in progress 6 h past its finish: nothing under 8 h, an issue under 4 h; at 9 h over, 8 h fires too
    (task_timeout); reported complete, the next scan resolves the issue."""
    plan = approved_plan(client)
    fed = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": MONDAY_NOON, "updates": [
        {"task_id": "design", "status": "in_progress", "actual_start": "2026-11-02T09:00:00Z",
         "percent_complete": 30}]})
    assert fed.status_code == 200, fed.get_json()
    assert _scan(embedded_app, TUESDAY_15).timed_out == 0 and _timeout_issues(embedded_app, plan["id"]) == []
    assert _scan(embedded_app, TUESDAY_15, default_task_timeout_hours=4.0,
                 enable_continuous_replanning=False).timed_out == 1
    assert _timeout_issues(embedded_app, plan["id"]) == [("design", "open", "high")]  # critical: high
    later = _scan(embedded_app, WEDNESDAY_10)
    assert later.timed_out == 0  # already open: not twice
    triggers = client.get(f"/api/v1/plans/{plan['id']}/replans").get_json()["triggers"]
    assert any("task_timeout" in trigger["kinds"] for trigger in triggers)
    done = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": "2026-11-04T10:00:00Z", "updates": [
        {"task_id": "design", "status": "completed", "actual_finish": "2026-11-04T10:00:00Z"}]})
    assert done.status_code == 200, done.get_json()
    _scan(embedded_app, WEDNESDAY_10)
    assert _timeout_issues(embedded_app, plan["id"]) == [("design", "resolved", "high")]
