"""The format docs list every field the schemas accept and the plan carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.schemas import EstimateCreate, GoalCreate, GoalTaskCreate, ResourcePoolCreate

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("schema", [GoalCreate, GoalTaskCreate, ResourcePoolCreate, EstimateCreate])
def test_goal_format_documents_every_schema_field(schema):
    """docs/goal-format.md names every field the marshmallow schema accepts."""
    text = (DOCS / "goal-format.md").read_text()
    missing = [name for name in schema().fields if f"`{name}`" not in text and name not in text]
    assert missing == []


def test_plan_format_documents_every_plan_field(client, example_goal):
    """docs/plan-format.md names every top-level and task field of a real plan."""
    text = (DOCS / "plan-format.md").read_text()
    plan_id = client.post("/api/v1/plans", json=example_goal).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    missing = [key for key in plan if f"`{key}`" not in text]
    missing += [f"task.{key}" for key in plan["tasks"][0] if f"`{key}`" not in text]
    assert missing == []
