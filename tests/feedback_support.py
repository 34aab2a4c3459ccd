"""Shared by the execution feedback tests: a small goal whose schedule and costs are known by hand.

The goal has fixed estimates (optimistic = most likely = pessimistic), so the plan is:

    task    pool         hours  cost        start             finish            float
    design  designer 50/h   8    400 EUR   Mon 2026-11-02 09  Mon 2026-11-02 17   0 (critical)
    build   engineer 100/h 16   1600 EUR   Tue 2026-11-03 09  Wed 2026-11-04 17   0 (critical)
    docs    designer 50/h   8    400 EUR   Tue 2026-11-03 09  Tue 2026-11-03 17   8

BAC 2,400 EUR, planned finish at working hour 24 (Wednesday 17:00). PV grows 50/h over hours
0-8 (design), then 150/h over 8-16 (build 100 + docs 50), then 100/h over 16-24 (build).
"""

from __future__ import annotations

import copy

import sqlalchemy as sa

TINY_GOAL = {
    "title": "Tiny feedback plan",
    "start": "2026-11-02",
    "deadline": "2026-11-30",
    "budget": 10000,
    "currency": "EUR",
    "resources": [
        {"type": "engineer", "capacity": 1, "cost_per_hour": 100},
        {"type": "designer", "capacity": 1, "cost_per_hour": 50},
    ],
    "tasks": [
        {"id": "design", "name": "Design", "estimate": {"optimistic": 8, "most_likely": 8, "pessimistic": 8},
         "resources": {"designer": 1}},
        {"id": "build", "name": "Build", "estimate": {"optimistic": 16, "most_likely": 16, "pessimistic": 16},
         "depends_on": ["design"], "resources": {"engineer": 1}},
        {"id": "docs", "name": "Docs", "estimate": {"optimistic": 8, "most_likely": 8, "pessimistic": 8},
         "depends_on": ["design"], "resources": {"designer": 1}},
    ],
}


def tiny_goal() -> dict:
    return copy.deepcopy(TINY_GOAL)


def approved_plan(client, goal: dict | None = None) -> dict:
    """POST the goal (embedded: planned inside the call), approve it if it waits for a person; the plan."""
    plan_id = client.post("/api/v1/plans", json=goal or tiny_goal()).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    if plan["status"] == "ready":
        answer = client.post(f"/api/v1/plans/{plan_id}/approve", json={})
        assert answer.status_code == 200, answer.get_json()
        plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["status"] == "approved", plan["status"]
    return plan


def written(app, plan_id: str) -> dict:
    """Everything feedback writes for a plan, to check that a refused request wrote nothing."""
    from app.extensions import db
    from app.models import FeedbackEvent, IdempotencyKey, Plan, PlanIssue, PlanProgress, PlanTask, PlanVersion

    with app.app_context():
        session = db.session
        tasks = session.execute(
            sa.select(PlanTask.task_key, PlanTask.status, PlanTask.percent_complete, PlanTask.actual_start,
                      PlanTask.actual_finish, PlanTask.actual_cost, PlanTask.row_version)
            .join(PlanVersion, PlanVersion.id == PlanTask.plan_version_id)
            .where(PlanVersion.plan_id == plan_id).order_by(PlanTask.task_key)).all()
        state = {
            "plan_status": session.get(Plan, plan_id).status,
            "seq": session.execute(sa.select(PlanProgress.feedback_seq)
                                   .where(PlanProgress.plan_id == plan_id)).scalar(),
            "events": session.execute(sa.select(sa.func.count()).select_from(FeedbackEvent)
                                      .where(FeedbackEvent.plan_id == plan_id)).scalar(),
            "keys": session.execute(sa.select(sa.func.count()).select_from(IdempotencyKey)
                                    .where(IdempotencyKey.plan_id == plan_id)).scalar(),
            "issues": session.execute(sa.select(sa.func.count()).select_from(PlanIssue)
                                      .where(PlanIssue.plan_id == plan_id)).scalar(),
            "tasks": [tuple(row) for row in tasks],
        }
        session.remove()
    return state


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (which Python's json would accept)."""
    import json

    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(text, parse_constant=refuse)
