"""Bad input: every malformed goal gets a 4xx problem+json naming the field, and no row is written."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, Goal, Plan, PlanVersion
from tests.conftest import load_example

BASE = load_example()


def goal_with(**changes) -> dict:
    goal = copy.deepcopy(BASE)
    goal.update(changes)
    return goal


def task_change(index: int, **changes) -> dict:
    goal = copy.deepcopy(BASE)
    goal["tasks"][index].update(changes)
    return goal


def without(key: str) -> dict:
    goal = copy.deepcopy(BASE)
    del goal[key]
    return goal


def cycle_goal() -> dict:
    goal = copy.deepcopy(BASE)
    goal["tasks"][0]["depends_on"] = ["launch"]  # requirements -> ... -> launch -> requirements
    return goal


# (case id, body, expected status, field the problem must name, words the message must contain)
CASES = [
    ("missing-title", without("title"), 422, "title", "required"),
    ("blank-title", goal_with(title="   "), 422, "title", "blank"),
    ("title-wrong-type", goal_with(title=42), 422, "title", "string"),
    ("unknown-strategy", goal_with(strategy="waterfall"), 422, "strategy", "one of"),
    ("unknown-domain", goal_with(domain="basket_weaving"), 422, "domain", "known domains"),
    ("unknown-top-level-field", goal_with(colour="blue"), 422, "colour", "unknown"),
    ("priority-out-of-range", goal_with(priority=9), 422, "priority", ""),
    ("priority-wrong-type", goal_with(priority=[1]), 422, "priority", "1-5"),
    ("priority-unknown-name", goal_with(priority="urgent"), 422, "priority", "critical"),
    ("bad-start-date", goal_with(start="next tuesday"), 422, "start", "date"),
    ("deadline-before-start", goal_with(deadline="2026-11-01"), 422, "deadline", "before start"),
    ("negative-budget", goal_with(budget=-5), 422, "budget", ""),
    ("bad-currency", goal_with(currency="euros"), 422, "currency", "ISO 4217"),
    ("components-not-list", goal_with(components="frontend"), 422, "components", "list"),
    ("resource-zero-capacity", goal_with(resources=[{"type": "engineer", "capacity": 0}]), 422,
     "resources[0].capacity", ""),
    ("resource-missing-type", goal_with(resources=[{"capacity": 2}]), 422, "resources[0].type", "required"),
    ("duplicate-resource-type", goal_with(resources=[{"type": "qa", "capacity": 1}, {"type": "qa", "capacity": 2}]),
     422, "resources[1].type", "twice"),
    ("task-missing-id", task_change(0, id=None), 422, "tasks[0].id", ""),
    ("zero-duration", task_change(1, estimate={"optimistic": 0, "most_likely": 4, "pessimistic": 8}), 422,
     "tasks[1].estimate.optimistic", ""),
    ("negative-duration", task_change(2, estimate={"optimistic": -3, "most_likely": 4, "pessimistic": 8}), 422,
     "tasks[2].estimate.optimistic", ""),
    ("estimate-out-of-order", task_change(2, estimate={"optimistic": 9, "most_likely": 4, "pessimistic": 8}), 422,
     "tasks[2].estimate.most_likely", "optimistic <= most_likely"),
    ("estimate-missing-part", task_change(2, estimate={"optimistic": 2, "most_likely": 4}), 422,
     "tasks[2].estimate.pessimistic", "required"),
    ("unknown-dependency", task_change(3, depends_on=["api-design", "nonexistent"]), 422, "tasks[3].depends_on",
     "nonexistent"),
    ("dependency-cycle", cycle_goal(), 422, "tasks[0].depends_on", "requirements -> "),
    ("duplicate-task-id", task_change(1, id="requirements"), 422, "tasks[1].id", "duplicate"),
    ("resource-units-zero", task_change(0, resources={"designer": 0}), 422, "tasks[0].resources.designer", ""),
    ("resource-type-not-in-goal", task_change(0, resources={"astronaut": 1}), 422, "tasks[0].resources.astronaut",
     "does not list"),
    ("units-above-capacity", task_change(0, resources={"designer": 3}), 422, "tasks[0].resources.designer",
     "pool has 1"),
    ("tasks-not-list", goal_with(tasks={"id": "a"}), 422, "tasks", "list"),
    ("context-not-object", goal_with(context=["x"]), 422, "context", ""),
    ("unknown-schedule-objective", goal_with(schedule_objective="fastest"), 422, "schedule_objective", "one of"),
    ("tardiness-without-deadline", goal_with(schedule_objective="weighted_tardiness", deadline=None), 422,
     "schedule_objective", "needs a deadline"),
]


def _count_rows(app) -> int:
    from app.extensions import db

    with app.app_context():
        return sum(db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
                   for model in (Goal, Plan, PlanVersion, AuditEntry))


@pytest.mark.parametrize("case_id, body, status, field, words", CASES, ids=[c[0] for c in CASES])
def test_malformed_goal_is_rejected_with_problem_json(embedded_app, client, case_id, body, status, field, words):
    """The goal is refused with problem+json naming the bad field, and nothing is stored."""
    response = client.post("/api/v1/plans", json=body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["title"] and problem["type"].startswith("/problems/")
    fields = {error["field"]: error["message"] for error in problem["errors"]}
    assert field in fields, fields
    assert words.lower() in fields[field].lower()
    assert _count_rows(embedded_app) == 0


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b"title=x", "application/x-www-form-urlencoded", 415),
    ],
    ids=["malformed-json", "json-array", "json-string", "form-encoded"],
)
def test_unparseable_body_is_a_400_problem(embedded_app, client, data, content_type, status):
    """A body that is not a JSON object is refused before validation, and nothing is stored."""
    response = client.post("/api/v1/plans", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"]
    assert _count_rows(embedded_app) == 0


def test_oversize_goal_is_a_413_problem(embedded_app, client):
    """A document above the size limit is refused with 413 problem+json."""
    goal = goal_with(description="x" * 4_100_000)  # LAYER2_MAX_GOAL_BYTES is 4 MB by default
    response = client.post("/api/v1/plans", json=goal)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert _count_rows(embedded_app) == 0


def test_unknown_plan_is_a_404_problem(client):
    """Reading or cancelling a plan that does not exist answers 404 problem+json."""
    for response in (client.get("/api/v1/plans/no-such-plan"), client.delete("/api/v1/plans/no-such-plan")):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert "no-such-plan" in response.get_json()["detail"]


def test_unknown_route_and_method_are_problems(client):
    """Even routing errors come back as problem+json, never HTML."""
    assert client.get("/api/v1/nothing-here").mimetype == "application/problem+json"
    response = client.put("/api/v1/plans")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
