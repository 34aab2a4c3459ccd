"""The real farm: PostgreSQL, Redis and `celery worker` processes, driven over HTTP."""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa

from app.models import PlanTask, PlanVersion, StageResult, StageRun
from app.stages import STAGE_NAMES as STAGES
from tests.conftest import load_example
from tests.farm import PLANNED, wait_for_plan

pytestmark = pytest.mark.farm


def _rows(app, model, version_id: int):
    from app.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(model).where(model.plan_version_id == version_id)).scalars().all()


def _version_id(app, plan_id: str) -> int:
    from app.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(PlanVersion.id).where(PlanVersion.plan_id == plan_id)).scalar_one()


def test_goal_submitted_over_http_is_planned_by_workers(api_server, farm_app, start_worker, example_goal):
    """A goal POSTed to the API is planned by real workers on every stage queue and stored in PostgreSQL."""
    worker = start_worker("all")
    response = requests.post(f"{api_server.base_url}/api/v1/plans", json=example_goal, timeout=10)
    assert response.status_code == 202
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/plans/{body['id']}"
    assert body["status"] in ("queued", "planning") and body["version"] == 1

    plan = wait_for_plan(api_server.base_url, body["id"])
    assert plan["status"] in PLANNED and plan["version_status"] == "ready", plan.get("error")
    assert {task["id"] for task in plan["tasks"]} == {task["id"] for task in example_goal["tasks"]}
    assert plan["critical_path"] and plan["makespan_hours"] > 0
    for stage in STAGES:
        assert plan["stages"][stage]["state"] == "succeeded"
        assert plan["stages"][stage]["worker"].startswith(worker.name)

    version_id = _version_id(farm_app, body["id"])
    runs = _rows(farm_app, StageRun, version_id)
    assert sorted(run.stage for run in runs if run.state == "succeeded") == sorted(STAGES)
    assert len(_rows(farm_app, PlanTask, version_id)) == len(example_goal["tasks"])


def test_stages_can_run_on_separate_workers_per_queue(api_server, start_worker, example_goal):
    """With one worker per stage queue, each stage is run by the worker of its own queue."""
    workers = {stage: start_worker(stage, queues=stage) for stage in STAGES}
    plan_id = requests.post(f"{api_server.base_url}/api/v1/plans", json=example_goal, timeout=10).json()["id"]
    plan = wait_for_plan(api_server.base_url, plan_id)
    assert plan["status"] in PLANNED and plan["version_status"] == "ready", plan.get("error")
    for stage, worker in workers.items():
        assert plan["stages"][stage]["worker"].startswith(worker.name)


# kill -9 of a worker mid-stage (and the other worker faults) are in tests/test_faults_workers.py.


def test_cancel_revokes_pending_stages(api_server, farm_app, start_worker, example_goal):
    """DELETE while a stage runs: the plan is cancelled, later stages never run, no plan document is written."""
    start_worker("slow", LAYER2_TESTONLY_STAGE_DELAY="decompose=4")
    plan_id = requests.post(f"{api_server.base_url}/api/v1/plans", json=example_goal, timeout=10).json()["id"]
    wait_for_plan(api_server.base_url, plan_id, states=("planning",), timeout=30)
    response = requests.delete(f"{api_server.base_url}/api/v1/plans/{plan_id}", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"

    time.sleep(6)  # longer than the slow stage: it finishes, finds the plan cancelled, keeps nothing
    plan = requests.get(f"{api_server.base_url}/api/v1/plans/{plan_id}", timeout=10).json()
    assert plan["status"] == "cancelled"
    assert "tasks" not in plan
    for stage in ("allocate", "schedule", "finalize"):
        assert plan["stages"][stage]["state"] == "revoked"
    version_id = _version_id(farm_app, plan_id)
    assert {r.stage for r in _rows(farm_app, StageResult, version_id)} <= {"risk"}


def test_domain_error_fails_plan_without_retry(api_server, farm_app, start_worker, tmp_path):
    """A goal the pipeline cannot plan fails with a readable reason after exactly one attempt."""
    config = tmp_path / "layer2.toml"
    config.write_text("[planning]\nmax_tasks_per_plan = 5\n")
    start_worker("all", LAYER2_CONFIG_FILE=config)
    goal = load_example("software-delivery-portal.json")  # decomposes into dozens of tasks
    plan_id = requests.post(f"{api_server.base_url}/api/v1/plans", json=goal, timeout=10).json()["id"]
    plan = wait_for_plan(api_server.base_url, plan_id)
    assert plan["status"] == "failed"
    assert "decompose" in plan["error"] and "5" in plan["error"], plan["error"]
    runs = [r for r in _rows(farm_app, StageRun, _version_id(farm_app, plan_id)) if r.stage == "decompose"]
    assert [r.state for r in runs] == ["failed"]
    assert plan["stages"]["allocate"]["state"] == "pending"


def test_plan_is_ready_then_approved_over_http(api_server, farm_app, start_worker, example_goal):
    """On the farm: the workers leave the plan ready (it has alerts); an approve over HTTP makes it the baseline."""
    from app.extensions import db
    from app.models import AuditEntry

    start_worker("all")
    base = api_server.base_url
    plan_id = requests.post(f"{base}/api/v1/plans", json=example_goal, timeout=10).json()["id"]
    plan = wait_for_plan(base, plan_id)
    assert (plan["status"], plan["version_status"], plan["approval"]["state"]) == ("ready", "ready", "pending")
    assert all(task["uid"] for task in plan["tasks"])

    response = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={"comment": "go"},
                             headers={"X-Actor": "alice"}, timeout=10)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["baseline_version"]) == ("approved", 1)
    again = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", timeout=10)
    assert again.status_code == 409 and again.json()["allowed"] == ["executing", "cancelled"]
    versions = requests.get(f"{base}/api/v1/plans/{plan_id}/versions", timeout=10).json()["versions"]
    assert [(v["status"], v["approval"], v["baseline"]) for v in versions] == [("ready", "approved", True)]
    assert versions[0]["makespan_hours"] == plan["makespan_hours"]  # read from the JSONB document in SQL
    with farm_app.app_context():
        actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.entity_id == plan_id)
                                     .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["plan.create", "plan.planning", "plan.ready", "plan.approved"]
