"""Layer 3 validation end to end in the embedded app, against the contract's test server on loopback, with faults."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from app.layer3 import Layer3Client, Layer3Error
from app.layer8 import CircuitBreaker
from tests.conftest import load_example
from tests.layer3_server import Layer3TestServer


@pytest.fixture
def layer3():
    with Layer3TestServer() as server:
        yield server


@pytest.fixture
def app(tmp_path, layer3):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/l3.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER3_BASE_URL": layer3.url, "LAYER3_TIMEOUT_SECONDS": "0.3"})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def planned(app) -> dict:
    client = app.test_client()
    plan_id = client.post("/api/v1/plans", json=load_example("website-launch.json")).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["version_status"] == "ready", plan.get("error")
    return plan


def errors(kind: str) -> float:
    return REGISTRY.get_sample_value("layer2_integration_errors_total",
                                     {"system": "layer3", "operation": "validate", "kind": kind}) or 0.0


def test_without_layer3_nothing_is_asked_and_the_plan_says_so(client):
    """LAYER3_BASE_URL unset: the plan is made as before and says `validation: {state: not_configured}`."""
    plan_id = client.post("/api/v1/plans", json=load_example("website-launch.json")).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["validation"] == {"state": "not_configured"}
    assert plan["status"] in ("ready", "approved") and "validate" in plan["stages"]


def test_the_plan_version_is_sent_once_with_its_idempotency_key(app, layer3):
    """Layer 3 receives the version's tasks, pools, risks and dates, keyed by plan and version."""
    plan = planned(app)
    [sent] = layer3.requests()
    assert sent["reference"] == f"{plan['id']}/v1" and layer3.state.keys == [f"{plan['id']}/v1"]
    assert [task["id"] for task in sent["tasks"]] == [task["id"] for task in plan["tasks"]]
    assert sent["risks"] and sent["resources"] and sent["project_start"] == plan["project_start"]
    assert plan["validation"]["state"] == "approved"


def test_requirements_are_scheduled_in_before_the_version_is_ready(app, layer3):
    """A required test gating the last task is a task of the plan, with a live row, and blocks auto-approval."""
    layer3.answer("changes_required", requirements=[{"id": "T1", "kind": "test", "name": "Load test",
                                                     "estimate_hours": 8, "gates": ["$last"], "after": ["$first"]}],
                  findings=[{"id": "F1", "severity": "medium", "task_id": "$first", "title": "No load profile"}])
    plan = planned(app)
    tasks = {task["id"]: task for task in plan["tasks"]}
    last = layer3.requests()[0]["tasks"][-1]["id"]
    assert "L3-T1" in tasks and "L3-T1" in tasks[last]["depends_on"]
    assert tasks[last]["start_hour"] >= tasks["L3-T1"]["finish_hour"]
    assert plan["status"] == "ready" and plan["approval"]["auto_approvable"] is False
    risk = next(risk for risk in plan["risks"] if risk["id"] == "L3-F1")
    assert risk["category"] == "external" and risk["evidence"]["finding"]["title"] == "No load profile"
    with app.app_context():
        from app.extensions import db
        from app.models import PlanTask

        keys = {row.task_key for row in db.session.query(PlanTask)}
    assert "L3-T1" in keys and set(tasks) == keys  # execution feedback can report on the required task


def test_a_rejected_plan_cannot_be_approved(app, layer3):
    """Rejected: approval answers 409 with Layer 3's reason; rejecting the plan is still possible."""
    layer3.answer("rejected", reason="Stores card numbers without a PCI review")
    plan = planned(app)
    client = app.test_client()
    assert plan["status"] == "ready" and plan["approval"]["validation"] == "approval"
    refused = client.post(f"/api/v1/plans/{plan['id']}/approve", json={"override_validation": True})
    assert refused.status_code == 409 and "PCI review" in refused.get_json()["detail"]
    assert client.post(f"/api/v1/plans/{plan['id']}/reject", json={"reason": "as Layer 3 says"}).status_code == 200


@pytest.mark.parametrize("fault", ["slow", "error500", "malformed", "lying", "other_plan", "unknown_task", "down"])
def test_layer3_faults_leave_a_plan_that_needs_an_overriding_approval(app, layer3, fault):
    """Slow, failing, malformed or lying Layer 3: the plan completes `unavailable`, is not auto-approved, and
    only an approval saying it overrides approves it."""
    if fault == "down":
        layer3.stop()
    else:
        layer3.fault(fault, times=None, delay=1.0)
    before = errors("server_error")
    plan = planned(app)
    assert plan["validation"]["state"] == "unavailable" and plan["validation"]["reason"]
    assert plan["status"] == "ready" and plan["approval"]["auto_approvable"] is False
    if fault == "error500":
        assert errors("server_error") == before + 1
    client = app.test_client()
    refused = client.post(f"/api/v1/plans/{plan['id']}/approve", json={})
    assert refused.status_code == 409 and refused.get_json()["errors"][0]["field"] == "override_validation"
    approved = client.post(f"/api/v1/plans/{plan['id']}/approve",
                           json={"override_validation": True, "comment": "release window"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["approval"]["comment"].startswith("[overrides the missing Layer 3 validation]")


def test_client_retries_with_backoff_then_opens_its_breaker(layer3):
    """5xx answers are retried with growing, jittered delays; repeated failures open the breaker (no traffic)."""
    sleeps: list[float] = []
    client = Layer3Client(layer3.url, timeout=0.3, max_attempts=3, backoff_base=0.1,
                          breaker=CircuitBreaker(failure_threshold=2, reset_timeout=60), sleep=sleeps.append,
                          jitter=lambda: 1.0)
    request = {"reference": "p/v1", "tasks": []}
    layer3.fault("error500", times=2)
    assert client.validate(request)["verdict"] == "approved" and sleeps == [0.1, 0.2]
    layer3.fault("error500", times=None)
    for _ in range(2):
        with pytest.raises(Layer3Error, match="server_error"):
            client.validate(request)
    sent = len(layer3.requests())
    with pytest.raises(Layer3Error, match="circuit_open"):
        client.validate(request)
    assert len(layer3.requests()) == sent
    client.close()


def test_a_replanned_version_is_validated_and_its_requirements_scheduled_from_the_status_date(app, layer3):
    """A replan's version goes to Layer 3 too: a required test gating `build` is scheduled after the status date,
    and the replanned version waits for a person (changes required), the plan staying executing on baseline 1."""
    from tests.feedback_support import approved_plan

    client = app.test_client()
    plan = approved_plan(client)  # approved by Layer 3: auto-approved (no alerts) or approved by hand
    fed = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": "2026-11-03T13:00:00Z", "updates": [
        {"task_id": "design", "status": "completed", "actual_finish": "2026-11-03T11:00:00Z"}]})
    assert fed.status_code == 200, fed.get_json()
    layer3.answer("changes_required", requirements=[{"id": "QA", "kind": "test", "name": "Regression tests",
                                                     "estimate_hours": 4, "gates": ["build"]}])
    answer = client.post(f"/api/v1/plans/{plan['id']}/replan", json={"reason": "design ran late"})
    assert answer.status_code == 202, answer.get_json()
    new = client.get(answer.headers["Location"]).get_json()
    assert new["version_status"] == "ready" and new["validation"]["state"] == "changes_required"
    tasks = {task["id"]: task for task in new["tasks"]}
    assert tasks["L3-QA"]["start"] >= "2026-11-03T13:00:00" and "L3-QA" in tasks["build"]["depends_on"]
    assert tasks["build"]["start_hour"] >= tasks["L3-QA"]["finish_hour"]
    assert [sent["reference"] for sent in layer3.requests()] == [f"{plan['id']}/v1", f"{plan['id']}/v2"]
    current = client.get(f"/api/v1/plans/{plan['id']}").get_json()
    assert current["status"] == "executing" and current["baseline_version"] == 1


def test_the_call_keeps_within_its_budget(layer3):
    """A Layer 3 that hangs is asked once more only while another attempt still fits the stage's budget."""
    client = Layer3Client(layer3.url, timeout=0.3, max_attempts=3, sleep=lambda _: None)
    layer3.fault("hang", times=None, delay=2.0)
    with pytest.raises(Layer3Error, match="timeout.*after 1 attempt"):
        client.validate({"reference": "p/v1", "tasks": []}, budget=0.5)
    with pytest.raises(Layer3Error, match="timeout.*after 3 attempt"):
        client.validate({"reference": "p/v1", "tasks": []}, budget=5.0)
    client.close()


def test_required_tasks_take_feedback_and_are_replanned_with_their_progress(app, layer3):
    """A required task is a task like the others: its progress is reported, and a replan (asked of Layer 3 again,
    which asks for it again) keeps it once, with its actual start, still gating what it gated."""
    from tests.feedback_support import tiny_goal

    layer3.answer("changes_required", requirements=[{"id": "QA", "kind": "test", "name": "Design review",
                                                     "estimate_hours": 4, "gates": ["build"], "after": ["design"]}])
    client = app.test_client()
    plan_id = client.post("/api/v1/plans", json=tiny_goal()).get_json()["id"]
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={}).status_code == 200
    fed = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-03T13:00:00Z", "updates": [
        {"task_id": "design", "status": "completed", "actual_finish": "2026-11-03T11:00:00Z"},
        {"task_id": "L3-QA", "status": "in_progress", "actual_start": "2026-11-03T11:00:00Z"}]})
    assert fed.status_code == 200, fed.get_json()
    answer = client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "design ran late"})
    assert answer.status_code == 202, answer.get_json()
    new = client.get(answer.headers["Location"]).get_json()
    assert new["version_status"] == "ready", new.get("error")
    assert new["validation"]["state"] == "changes_required"
    tasks = {task["id"]: task for task in new["tasks"]}
    assert [task["id"] for task in new["tasks"]].count("L3-QA") == 1
    assert tasks["L3-QA"]["start"] == "2026-11-03T11:00:00"  # in progress: keeps its actual start
    assert tasks["build"]["start_hour"] >= tasks["L3-QA"]["finish_hour"]
