"""The farm with a real Layer 8 (the contract's test server on loopback): holds confirmed there, or a warning."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import load_example
from tests.farm import PLANNED, wait_for_plan
from tests.layer8_server import Layer8TestServer

pytestmark = pytest.mark.farm


def goal_for_layer8() -> dict:
    """The explicit-task example without its own pools, so Layer 8's pools serve the work."""
    goal = load_example("website-launch.json")
    goal.pop("resources")
    for task in goal["tasks"]:
        task["resources"] = {("qa" if "qa" in task["resources"] else "engineer"): 1}
    return goal


@pytest.fixture
def layer8():
    with Layer8TestServer() as server:
        yield server


def test_farm_allocations_are_confirmed_at_layer8(api_server, start_worker, layer8):
    """Workers allocate from Layer 8's pools and every such allocation is confirmed there."""
    start_worker("l8", LAYER8_BASE_URL=layer8.url)
    plan_id = requests.post(f"{api_server.base_url}/api/v1/plans", json=goal_for_layer8(), timeout=10).json()["id"]
    plan = wait_for_plan(api_server.base_url, plan_id)
    assert plan["status"] in PLANNED, plan.get("error")
    assert plan["integration"]["layer8"]["status"] == "ok"
    rows = plan["allocations"]
    assert rows and {row["source"] for row in rows} == {"layer8"}
    assert {row["status"] for row in rows} == {"confirmed"}
    held = {a["id"]: a for a in layer8.allocations()}
    assert {held[row["layer8_allocation_id"]]["status"] for row in rows} == {"confirmed"}


def test_farm_plans_without_layer8_and_says_so(api_server, start_worker, layer8):
    """With Layer 8 stopped the plan is still produced, nothing is shown confirmed, and a warning says why."""
    url = layer8.url
    layer8.stop()
    start_worker("l8-down", LAYER8_BASE_URL=url)
    plan_id = requests.post(f"{api_server.base_url}/api/v1/plans", json=goal_for_layer8(), timeout=10).json()["id"]
    plan = wait_for_plan(api_server.base_url, plan_id)
    assert plan["status"] in PLANNED, plan.get("error")
    assert plan["integration"]["layer8"]["status"] == "unavailable"
    assert all(row["status"] != "confirmed" for row in plan["allocations"])
    assert any("Layer 8" in warning for warning in plan["warnings"])
