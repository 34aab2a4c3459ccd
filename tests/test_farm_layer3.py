"""The farm with a real Layer 3 (the contract's test server on loopback): a worker of every queue validates."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import load_example
from tests.farm import wait_for_plan
from tests.layer3_server import Layer3TestServer

pytestmark = pytest.mark.farm


@pytest.fixture
def layer3():
    with Layer3TestServer() as server:
        yield server


def test_farm_validates_at_layer3_and_survives_it_failing(api_server, start_worker, layer3):
    """Workers send each version to Layer 3 on the validate queue: a required review is scheduled in before the
    version is ready; with Layer 3 answering 500 the next plan still completes, unvalidated and not auto-approved."""
    start_worker("l3", LAYER3_BASE_URL=layer3.url, LAYER3_TIMEOUT_SECONDS="1")
    layer3.answer("changes_required", requirements=[{"id": "REV", "kind": "review", "name": "Design review",
                                                     "estimate_hours": 6, "gates": ["$last"]}])
    base = api_server.base_url
    plan_id = requests.post(f"{base}/api/v1/plans", json=load_example("website-launch.json"), timeout=10).json()["id"]
    plan = wait_for_plan(base, plan_id)
    assert plan["version_status"] == "ready", plan.get("error")
    assert plan["status"] == "ready" and plan["validation"]["state"] == "changes_required"
    tasks = {task["id"]: task for task in plan["tasks"]}
    last = layer3.requests()[0]["tasks"][-1]["id"]
    assert "L3-REV" in tasks[last]["depends_on"] and tasks[last]["start_hour"] >= tasks["L3-REV"]["finish_hour"]
    assert plan["stages"]["validate"]["state"] == "succeeded"

    layer3.fault("error500", times=None)
    plan_id = requests.post(f"{base}/api/v1/plans", json=load_example("website-launch.json"), timeout=10).json()["id"]
    plan = wait_for_plan(base, plan_id)
    assert plan["version_status"] == "ready", plan.get("error")
    assert plan["validation"]["state"] == "unavailable" and "server_error" in plan["validation"]["reason"]
    assert plan["status"] == "ready" and plan["approval"]["auto_approvable"] is False
