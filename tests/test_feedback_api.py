"""Execution feedback that is accepted: defaults, the plan's state moves, events, issues, escalation, metrics."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.feedback_support import approved_plan, written


def _put(client, plan_id, updates, status_date="2026-11-03T12:00:00Z", **headers):
    return client.put(f"/api/v1/plans/{plan_id}", json={"status_date": status_date, "updates": updates},
                      headers=headers)


def _task(client, plan, task_id) -> dict:
    uid = next(task["uid"] for task in plan["tasks"] if task["id"] == task_id)
    answer = client.get(f"/api/v1/tasks/{uid}/progress")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_defaults_completed_without_dates_and_percent_without_status(client):
    plan = approved_plan(client)
    answer = _put(client, plan["id"], [
        {"task_id": "design", "status": "completed"},  # no dates: started when planned, finished on the status date
        {"task_id": "build", "percent_complete": 25},  # no status: in progress, started when planned
        {"task_id": "docs", "percent_complete": 100},  # 100 % without status: completed
    ], status_date="2026-11-03T12:00:00Z")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["progress"]["tasks_by_status"] == {
        "not_started": 0, "in_progress": 1, "completed": 2, "blocked": 0, "failed": 0}
    design = _task(client, plan, "design")["state"]
    assert design["actual_start"] == "2026-11-02T09:00:00Z" and design["actual_finish"] == "2026-11-03T12:00:00Z"
    assert design["percent_complete"] == 100.0
    build = _task(client, plan, "build")["state"]
    assert build["status"] == "in_progress" and build["actual_start"] == "2026-11-03T09:00:00Z"
    docs = _task(client, plan, "docs")["state"]
    assert docs["status"] == "completed" and docs["actual_finish"] == "2026-11-03T12:00:00Z"


def test_a_start_planned_after_the_status_date_defaults_to_the_status_date(client):
    plan = approved_plan(client)
    assert _put(client, plan["id"], [{"task_id": "build", "status": "in_progress"}],
                status_date="2026-11-02T15:00:00Z").status_code == 200  # planned Tuesday 09:00
    assert _task(client, plan, "build")["state"]["actual_start"] == "2026-11-02T15:00:00Z"


def test_tasks_are_named_by_id_or_uid_and_naive_times_are_utc(client):
    plan = approved_plan(client)
    uid = next(task["uid"] for task in plan["tasks"] if task["id"] == "build")
    answer = _put(client, plan["id"], [{"task_id": uid, "status": "in_progress", "actual_start": "2026-11-03T10:00:00",
                                        "percent_complete": 5}], status_date="2026-11-03T12:00:00+01:00")
    assert answer.status_code == 200, answer.get_json()
    state = _task(client, plan, "build")["state"]
    assert state["actual_start"] == "2026-11-03T10:00:00Z" and state["status_date"] == "2026-11-03T11:00:00Z"


def test_first_feedback_executes_the_plan_and_the_last_completion_completes_it(client, embedded_app):
    plan = approved_plan(client)
    plan_id = plan["id"]
    first = _put(client, plan_id, [{"task_id": "design", "status": "completed"}], "2026-11-02T17:00:00Z")
    assert first.get_json()["status"] == "executing"
    assert client.get(f"/api/v1/plans/{plan_id}").get_json()["status"] == "executing"
    last = _put(client, plan_id, [{"task_id": "build", "status": "completed"},
                                  {"task_id": "docs", "status": "completed"}], "2026-11-04T17:00:00Z")
    assert last.status_code == 200 and last.get_json()["status"] == "completed"
    assert last.get_json()["progress"]["percent_complete"] == 100.0
    assert client.get(f"/api/v1/plans/{plan_id}").get_json()["status"] == "completed"
    again = _put(client, plan_id, [{"task_id": "build", "actual_cost": 1}], "2026-11-05T09:00:00Z")
    assert again.status_code == 409 and "completed" in again.get_json()["detail"]

    from app.extensions import db
    from app.models import AuditEntry

    with embedded_app.app_context():
        actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.entity_id == plan_id)
                                     .order_by(AuditEntry.id)).scalars().all()
    assert actions.count("plan.feedback") == 2
    assert actions.index("plan.execute") < actions.index("plan.complete")


def test_events_are_appended_never_overwritten_and_rows_carry_a_version(client, embedded_app):
    plan = approved_plan(client)
    plan_id = plan["id"]
    _put(client, plan_id, [{"task_id": "build", "percent_complete": 10, "note": "kick-off done"}],
         "2026-11-03T10:00:00Z")
    _put(client, plan_id, [{"task_id": "build", "percent_complete": 30}], "2026-11-03T14:00:00Z")
    task = _task(client, plan, "build")
    assert [event["state"]["percent_complete"] for event in task["events"]] == [10.0, 30.0]
    assert task["events"][0]["update"] == {"task_id": "build", "percent_complete": 10, "note": "kick-off done"}
    assert [event["seq"] for event in task["events"]] == [1, 2]
    assert task["state"]["row_version"] == 3
    assert written(embedded_app, plan_id)["events"] == 2


def test_reopen_moves_a_completed_task_back(client):
    plan = approved_plan(client)
    plan_id = plan["id"]
    _put(client, plan_id, [{"task_id": "design", "status": "completed"}], "2026-11-02T17:00:00Z")
    answer = _put(client, plan_id, [{"task_id": "design", "status": "in_progress", "percent_complete": 80,
                                     "reopen": True}], "2026-11-03T09:30:00Z")
    assert answer.status_code == 200, answer.get_json()
    state = _task(client, plan, "design")["state"]
    assert state["status"] == "in_progress" and state["actual_finish"] is None
    assert state["actual_start"] == "2026-11-02T09:00:00Z"


def test_blocked_and_failed_tasks_open_issues_that_resolve(client):
    plan = approved_plan(client)
    plan_id = plan["id"]
    answer = _put(client, plan_id, [
        {"task_id": "design", "status": "completed"},
        {"task_id": "build", "status": "blocked", "blocked_reason": "no test environment"},
        {"task_id": "docs", "status": "failed", "percent_complete": 40}], "2026-11-03T13:00:00Z")
    assert answer.status_code == 200, answer.get_json()
    assert len(answer.get_json()["issues_opened"]) == 2
    issues = {i["task_id"]: i for i in client.get(f"/api/v1/plans/{plan_id}/issues").get_json()["issues"]}
    # build is critical (no float) and blocked while its 16 hours no longer fit before hour 24: critical
    assert issues["build"]["kind"] == "blocked" and issues["build"]["severity"] == "critical"
    assert issues["build"]["reason"] == "no test environment"
    assert issues["docs"]["kind"] == "failed" and issues["docs"]["severity"] in ("high", "critical")
    # build unblocked by feedback: its issue resolves itself
    _put(client, plan_id, [{"task_id": "build", "status": "in_progress", "percent_complete": 10}],
         "2026-11-03T15:00:00Z")
    issues = {i["task_id"]: i for i in client.get(f"/api/v1/plans/{plan_id}/issues").get_json()["issues"]}
    assert issues["build"]["status"] == "resolved" and "in_progress" in issues["build"]["resolution"]
    assert [i["task_id"] for i in client.get(f"/api/v1/plans/{plan_id}/issues?status=open").get_json()["issues"]] \
        == ["docs"]
    resolved = client.post(f"/api/v1/issues/{issues['docs']['id']}/resolve",
                           json={"who": "pm", "resolution": "rescoped: docs move to the next release"})
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    twice = client.post(f"/api/v1/issues/{issues['docs']['id']}/resolve", json={"who": "pm", "resolution": "again"})
    assert twice.status_code == 409
    assert client.post("/api/v1/issues/nope/resolve", json={"who": "pm", "resolution": "x"}).status_code == 404
    bad = client.post(f"/api/v1/issues/{issues['docs']['id']}/resolve", json={"who": ""})
    assert bad.status_code == 422
    assert client.get(f"/api/v1/plans/{plan_id}/issues?status=open").get_json()["issues"] == []


def test_an_old_open_issue_escalates_raises_a_risk_alert_and_shows_in_the_report(client, embedded_app):
    plan = approved_plan(client)
    plan_id = plan["id"]
    _put(client, plan_id, [{"task_id": "design", "status": "completed"},
                           {"task_id": "build", "status": "blocked", "blocked_reason": "vendor API down"}],
         "2026-11-03T10:00:00Z")
    issue = client.get(f"/api/v1/plans/{plan_id}/issues").get_json()["issues"][0]
    assert issue["severity"] == "critical" and issue["escalation_level"] == 0

    from app.extensions import db
    from app.models import PlanIssue

    with embedded_app.app_context():  # opened 5 hours ago: past two 2-hour thresholds for "critical"
        row = db.session.get(PlanIssue, issue["id"])
        row.opened_at = row.opened_at - timedelta(hours=5)
        db.session.commit()
    escalated = client.get(f"/api/v1/plans/{plan_id}/issues").get_json()["issues"][0]
    assert escalated["escalation_level"] == 2 and escalated["escalated_at"]
    risks = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"]
    alert = next(r for r in risks if r["rule"] == "escalated_issue")
    assert alert["status"] == "open" and alert["affected_tasks"] == ["build"] and alert["impact"] == "Critical"
    report = client.get(f"/api/v1/plans/{plan_id}/report").get_json()
    assert alert["key"] in report["risk_alerts"]
    assert [e["id"] for e in report["escalations"]] == [issue["id"]]
    # resolving the issue closes its alert
    client.post(f"/api/v1/issues/{issue['id']}/resolve", json={"who": "pm", "resolution": "vendor back"})
    risks = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"]
    assert next(r for r in risks if r["rule"] == "escalated_issue")["status"] == "closed"
    assert alert["key"] not in client.get(f"/api/v1/plans/{plan_id}/report").get_json()["risk_alerts"]


def test_feedback_metrics_are_exported_without_a_plan_label(client):
    plan = approved_plan(client)
    _put(client, plan["id"], [{"task_id": "design", "status": "completed"},
                              {"task_id": "docs", "status": "failed", "percent_complete": 10}])
    _put(client, plan["id"], [{"task_id": "build", "percent_complete": 500}])
    text = client.get("/metrics").get_data(as_text=True)
    for name in ("layer2_plan_progress_percentage_bucket", "layer2_tasks_completed_total", "layer2_tasks_failed_total",
                 'layer2_feedback_requests_total{outcome="accepted"}',
                 'layer2_feedback_requests_total{outcome="invalid"}',
                 "layer2_feedback_request_duration_seconds_bucket", "layer2_feedback_updates_total",
                 'layer2_issues_total{event="opened"'):
        assert name in text, name
    feedback_lines = [line for line in text.splitlines()
                      if line.startswith(("layer2_plan_progress", "layer2_feedback", "layer2_tasks_", "layer2_issues"))]
    assert feedback_lines and not any(plan["id"] in line for line in feedback_lines)


def test_escalation_settings_are_read_from_the_planning_table_and_validated(tmp_path):
    import pytest

    from app.config import ConfigError, build_planning_settings

    config = tmp_path / "layer2.toml"
    config.write_text("[planning]\nissue_escalation_hours_high = 4\nissue_escalation_max_level = 5\n")
    settings = build_planning_settings({"LAYER2_CONFIG_FILE": str(config)})
    assert settings.escalation_thresholds == {"low": 72.0, "medium": 24.0, "high": 4, "critical": 2.0}
    assert settings.issue_escalation_max_level == 5
    for line, named in (("issue_escalation_hours_critical = 0", "issue_escalation_hours_critical"),
                        ("issue_escalation_hours_low = -3", "issue_escalation_hours_low"),
                        ("issue_escalation_max_level = 0", "issue_escalation_max_level")):
        config.write_text(f"[planning]\n{line}\n")
        with pytest.raises(ConfigError, match=named):
            build_planning_settings({"LAYER2_CONFIG_FILE": str(config)})
