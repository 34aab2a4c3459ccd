"""The whole flow on the real farm over HTTP: plan (workers) -> approve -> feedback -> progress and report."""

from __future__ import annotations

import pytest
import requests

from tests.farm import PLANNED, wait_for_plan
from tests.feedback_support import strict_json

pytestmark = pytest.mark.farm


def test_plan_approve_feedback_progress_report_over_http(api_server, start_worker, example_goal):
    start_worker("all")
    base = api_server.base_url
    plan_id = requests.post(f"{base}/api/v1/plans", json=example_goal, timeout=10).json()["id"]
    plan = wait_for_plan(base, plan_id)
    assert plan["status"] in PLANNED, plan.get("error")
    if plan["status"] == "ready":
        approved = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={"comment": "go"}, timeout=10)
        assert approved.status_code == 200, approved.text
    assert requests.get(f"{base}/api/v1/plans/{plan_id}", timeout=10).json()["status"] == "approved"

    tasks = {task["id"]: task for task in plan["tasks"]}
    first, second = plan["critical_path"][:2]
    etag = requests.get(f"{base}/api/v1/plans/{plan_id}/progress", timeout=10).headers["ETag"]
    status_date = tasks[second]["start"] + "Z"
    answer = requests.put(f"{base}/api/v1/plans/{plan_id}", timeout=10,
                          headers={"If-Match": etag, "Idempotency-Key": "farm-1", "X-Actor": "site-lead"},
                          json={"status_date": status_date, "updates": [
                              {"task_id": first, "status": "completed", "actual_finish": tasks[first]["finish"] + "Z",
                               "actual_cost": 1000},
                              {"task_id": tasks[second]["uid"], "status": "in_progress", "percent_complete": 10}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "executing" and answer.headers["ETag"] != etag
    replay = requests.put(f"{base}/api/v1/plans/{plan_id}", timeout=10, data=answer.request.body,
                          headers={"Idempotency-Key": "farm-1", "Content-Type": "application/json"})
    assert replay.status_code == 200 and replay.json() == answer.json()

    progress = strict_json(requests.get(f"{base}/api/v1/plans/{plan_id}/progress", timeout=10).text)
    assert progress["status"] == "executing" and progress["feedback_seq"] == 1
    assert progress["tasks_by_status"]["completed"] == 1 and progress["tasks_by_status"]["in_progress"] == 1
    assert progress["evm"]["ev"] > 0 and progress["evm"]["ac"] >= 1000
    assert 0 < progress["percent_complete"] < 100

    report = strict_json(requests.get(f"{base}/api/v1/plans/{plan_id}/report", timeout=60).text)
    monte_carlo = report["forecast"]["monte_carlo"]
    assert monte_carlo["p50"] <= monte_carlo["p80"] <= monte_carlo["p95"]
    assert monte_carlo["origin_hours"] == progress["as_of_hours"]
    assert report["critical_path_now"] and first not in report["critical_path_now"]
    assert len(report["s_curve"]["points"]) >= 2 and report["baseline_vs_current"]["tasks"]

    uid = tasks[second]["uid"]
    task = strict_json(requests.get(f"{base}/api/v1/tasks/{uid}/progress", timeout=60).text)
    assert task["state"]["status"] == "in_progress" and len(task["events"]) == 1

    finish = plan["finish"] + "Z"
    done = requests.put(f"{base}/api/v1/plans/{plan_id}", timeout=10, json={
        "status_date": finish, "updates": [{"task_id": task_id, "status": "completed"} for task_id in tasks]})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["progress"]["percent_complete"] == 100.0
    assert requests.get(f"{base}/api/v1/plans/{plan_id}", timeout=10).json()["status"] == "completed"
