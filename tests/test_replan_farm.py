"""Replanning on the real farm: worker processes, real `celery beat` processes (a 1 s scan), PostgreSQL, Redis.

The tiny plan of tests/feedback_support.py (design -> build critical, docs with 8 h float, from
Monday 2026-11-02 09:00): design reported finished Tuesday 11:00 instead of Monday 17:00 makes
the critical path late, so the scan's triggers fire.
"""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest
import requests

from tests.farm import PLANNED, wait_for_plan
from tests.feedback_support import tiny_goal

pytestmark = pytest.mark.farm

SCAN = {"PLANNING_REPLAN_SCAN_SECONDS": "1", "PLANNING_REPLANNING_INTERVAL": "1"}
SLIP = {"status_date": "2026-11-03T13:00:00Z", "updates": [
    {"task_id": "design", "status": "completed", "actual_finish": "2026-11-03T11:00:00Z", "actual_cost": 500},
    {"task_id": "docs", "percent_complete": 10}]}


def _approved(base: str) -> dict:
    plan_id = requests.post(f"{base}/api/v1/plans", json=tiny_goal(), timeout=10).json()["id"]
    plan = wait_for_plan(base, plan_id, timeout=60)
    assert plan["status"] in PLANNED, plan.get("error")
    if plan["status"] == "ready":
        answer = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={}, timeout=10)
        assert answer.status_code == 200, answer.text
    return requests.get(f"{base}/api/v1/plans/{plan_id}", timeout=10).json()


def _wait_version(base: str, plan_id: str, number: int, timeout: float = 40.0) -> dict:
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        answer = requests.get(f"{base}/api/v1/plans/{plan_id}?version={number}", timeout=10)
        if answer.status_code == 200:
            seen = answer.json()
            if seen["version_status"] in ("ready", "superseded", "failed"):
                return seen
        time.sleep(0.3)
    raise AssertionError(f"version {number} of {plan_id} not planned in {timeout} s: {seen.get('version_status')} "
                         f"{seen.get('stages')}")


def _versions(pg_url: str, plan_id: str) -> list[tuple[int, str, str]]:
    connection = psycopg2.connect(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version, status, mode FROM plan_versions WHERE plan_id = %s ORDER BY version",
                           (plan_id,))
            return cursor.fetchall()
    finally:
        connection.close()


def test_beat_replans_a_slipping_plan_keeping_what_happened(api_server, start_worker, start_beat):
    """plan -> approve -> feedback that slips the critical path -> the beat's scan makes v2: completed work
    unchanged, the finish moved, the plan executing on baseline 1 until v2 is approved."""
    start_worker("all", **SCAN)
    start_beat("beat", **SCAN)
    base = api_server.base_url
    plan = _approved(base)
    plan_id, before = plan["id"], {task["id"]: task for task in plan["tasks"]}
    assert requests.put(f"{base}/api/v1/plans/{plan_id}", json=SLIP, timeout=10).status_code == 200
    new = _wait_version(base, plan_id, 2)
    assert new["version_status"] == "ready" and new["mode"] == "replan", new.get("error")
    after = {task["id"]: task for task in new["tasks"]}
    assert after["design"]["start"] == before["design"]["start"] and after["design"]["finish"] == "2026-11-03T11:00:00"
    assert after["docs"]["start"] == before["docs"]["start"]
    assert after["build"]["start"] >= "2026-11-03T13:00:00" and new["finish"] > plan["finish"]
    current = requests.get(f"{base}/api/v1/plans/{plan_id}", timeout=10).json()
    assert current["status"] == "executing" and current["current_version"] == 2
    triggers = requests.get(f"{base}/api/v1/plans/{plan_id}/replans", timeout=10).json()["triggers"]
    assert [t["status"] for t in triggers] == ["replanned"] and "critical_task_late" in triggers[0]["kinds"]
    if new["approval"]["state"] == "approved":  # auto-approval applies to a replan as to a first plan
        assert current["baseline_version"] == 2 and new["approval"]["auto"] is True
    else:
        assert current["baseline_version"] == 1 and new["approval"]["state"] == "pending"
        approved = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={"version": 2}, timeout=10)
        assert approved.status_code == 200 and approved.json()["baseline_version"] == 2
        assert approved.json()["status"] == "executing"


def test_two_beat_processes_make_one_version(api_server, start_worker, start_beat, pg_url):
    start_worker("all", **SCAN)
    first, second = start_beat("beat1", **SCAN), start_beat("beat2", **SCAN)
    base = api_server.base_url
    plan_id = _approved(base)["id"]
    assert requests.put(f"{base}/api/v1/plans/{plan_id}", json=SLIP, timeout=10).status_code == 200
    _wait_version(base, plan_id, 2)
    time.sleep(4)  # both beats go on scanning
    assert first.sent("layer2.replan_scan") >= 3 and second.sent("layer2.replan_scan") >= 3
    assert [row[0] for row in _versions(pg_url, plan_id)] == [1, 2]
    triggers = requests.get(f"{base}/api/v1/plans/{plan_id}/replans", timeout=10).json()["triggers"]
    assert [t["status"] for t in triggers if t["status"] == "replanned"] == ["replanned"]


def test_a_replan_worker_killed_mid_replan_makes_one_version_after_redelivery(api_server, start_worker, start_beat,
                                                                               pg_url):
    """kill -9 of the whole replan worker while it holds the plan's lock: the message comes back after the
    visibility timeout (30 s here) to another worker, which makes v2, once."""
    fast = {**SCAN, "CELERY_VISIBILITY_TIMEOUT": "30"}
    start_worker("stages", queues="risk,decompose,allocate,schedule,finalize,validate", **fast)
    doomed = start_worker("replan", queues="replan", LAYER2_TESTONLY_STAGE_DELAY="replan=30", **fast)
    start_beat("beat", **fast)
    base = api_server.base_url
    plan_id = _approved(base)["id"]
    assert requests.put(f"{base}/api/v1/plans/{plan_id}", json=SLIP, timeout=10).status_code == 200
    deadline = time.monotonic() + 20
    while "layer2.replan[" not in doomed.log_path.read_text():
        assert time.monotonic() < deadline, doomed.log_path.read_text()[-2000:]
        time.sleep(0.2)
    time.sleep(1)  # inside the replan's transaction, holding the plan's advisory lock
    doomed.kill_hard()
    assert [row[0] for row in _versions(pg_url, plan_id)] == [1]
    start_worker("replan2", queues="replan", **fast)
    new = _wait_version(base, plan_id, 2, timeout=45)
    assert new["version_status"] == "ready", new.get("error")
    time.sleep(2)
    assert [row[0] for row in _versions(pg_url, plan_id)] == [1, 2]
    triggers = requests.get(f"{base}/api/v1/plans/{plan_id}/replans", timeout=10).json()["triggers"]
    assert [t["status"] for t in triggers] == ["replanned"]


def test_feedback_racing_replans_loses_no_event_and_versions_have_no_gap(api_server, start_worker, start_beat,
                                                                         pg_url):
    """16 feedback requests on one task while the beat and manual requests replan: every request is applied and
    kept as an event, the task's latest report reaches the new baseline, versions run 1, 2, ... with no gap."""
    start_worker("all", **SCAN)
    start_beat("beat", **SCAN)
    base = api_server.base_url
    plan_id = _approved(base)["id"]
    assert requests.put(f"{base}/api/v1/plans/{plan_id}", json=SLIP, timeout=10).status_code == 200
    answers: list[int] = []

    def report() -> None:
        for step in range(16):
            minute = f"{step:02d}"
            answer = requests.put(f"{base}/api/v1/plans/{plan_id}", timeout=10, json={
                "status_date": f"2026-11-03T14:{minute}:00Z",
                "updates": [{"task_id": "docs", "percent_complete": 11 + step}]})
            answers.append(answer.status_code)
            time.sleep(0.15)

    def replan() -> None:
        for _ in range(3):
            answer = requests.post(f"{base}/api/v1/plans/{plan_id}/replan", json={"reason": "racing"}, timeout=30)
            assert answer.status_code == 202, answer.text
            time.sleep(0.6)

    threads = [threading.Thread(target=report), threading.Thread(target=replan)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * 16
    numbers = [row[0] for row in _versions(pg_url, plan_id)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 2
    last = _wait_version(base, plan_id, numbers[-1])
    assert last["version_status"] == "ready", last.get("error")
    current = requests.get(f"{base}/api/v1/plans/{plan_id}", timeout=10).json()
    if current["baseline_version"] != numbers[-1]:
        approved = requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={}, timeout=10)
        assert approved.status_code == 200, approved.text
    progress = requests.get(f"{base}/api/v1/plans/{plan_id}/progress", timeout=10).json()
    assert progress["baseline_version"] == numbers[-1] and progress["feedback_seq"] == 17
    docs_uid = next(task["uid"] for task in last["tasks"] if task["id"] == "docs")
    task = requests.get(f"{base}/api/v1/tasks/{docs_uid}/progress", timeout=60).json()
    assert task["state"]["percent_complete"] == 26 and len(task["events"]) == 17
