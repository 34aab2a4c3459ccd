"""Embedded mode (SQLite + eager Celery): the same API and pipeline with no servers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from app.cli import main
from tests.conftest import EXAMPLES

PLAN_FIELDS = {"id", "version", "status", "version_status", "current_version", "baseline_version", "stages", "tasks",
               "critical_path", "makespan_hours", "finish", "phases", "milestones", "risks", "schedule_risk",
               "approval", "allocations", "cost", "solver", "warnings"}
TASK_FIELDS = {"id", "uid", "name", "phase", "depends_on", "duration", "start", "finish", "es", "ef", "ls", "lf",
               "total_float", "critical", "resources"}


def test_post_returns_202_and_the_plan_is_complete(client, example_goal):
    """POST answers 202 with Location and {id, status, version}; GET then returns every documented field."""
    response = client.post("/api/v1/plans", json=example_goal)
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"id", "status", "version"} and body["version"] == 1
    assert response.headers["Location"] == f"/api/v1/plans/{body['id']}"

    plan = client.get(response.headers["Location"]).get_json()
    assert plan["status"] == body["status"] == "ready" and plan["version_status"] == "ready"  # it has alerts
    assert PLAN_FIELDS <= set(plan)
    for task in plan["tasks"]:
        assert TASK_FIELDS <= set(task)
    assert all(stage["state"] == "succeeded" for stage in plan["stages"].values())
    assert set(plan["cost"]) >= {"total", "currency", "budget", "within_budget"}
    assert set(plan["solver"]) >= {"method", "status", "objective", "lower_bound", "gap", "seconds"}


def test_goal_can_ask_for_the_cheapest_schedule(client, example_goal):
    """schedule_objective "cost" goes through the whole pipeline; the solver block says what was asked."""
    plan_id = client.post("/api/v1/plans", json=example_goal | {"schedule_objective": "cost"}).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["version_status"] == "ready"
    assert plan["solver"]["requested_objective"] == "cost"
    assert plan["solver"]["solved_objective"] == "cost"  # the example's pools have prices


def test_schedule_respects_dependencies_and_capacities(client, example_goal):
    """Every task starts after its predecessors finish and no pool is over its capacity at any hour."""
    plan_id = client.post("/api/v1/plans", json=example_goal).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    tasks = {task["id"]: task for task in plan["tasks"]}
    for task in tasks.values():
        for dep in task["depends_on"]:
            assert task["start_hour"] >= tasks[dep]["finish_hour"]
            assert datetime.fromisoformat(task["start"]) >= datetime.fromisoformat(tasks[dep]["finish"])
    capacity = {pool["type"]: pool["capacity"] for pool in example_goal["resources"]}
    for hour in range(plan["makespan_hours"]):
        for resource, limit in capacity.items():
            used = sum(t["resources"].get(resource, 0) for t in tasks.values()
                       if t["start_hour"] <= hour < t["finish_hour"])
            assert used <= limit, (resource, hour)
    assert plan["makespan_hours"] == max(t["finish_hour"] for t in tasks.values())
    critical = [t for t in plan["critical_path"]]
    assert critical and all(tasks[t]["critical"] and tasks[t]["total_float"] == 0 for t in critical)


def test_cost_is_units_times_hours_times_rate(client, example_goal):
    """The plan's total cost is the sum over tasks of units x duration x the pool's hourly rate."""
    plan_id = client.post("/api/v1/plans", json=example_goal).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    rate = {pool["type"]: pool["cost_per_hour"] for pool in example_goal["resources"]}
    expected = sum(units * task["duration"] * rate[res] for task in plan["tasks"]
                   for res, units in task["resources"].items())
    assert plan["cost"]["total"] == pytest.approx(expected)
    assert plan["cost"]["within_budget"] is (expected <= example_goal["budget"] * 0.9)


def test_cancelled_plan_cannot_be_cancelled_again(client, example_goal):
    """DELETE on a ready plan cancels it (its planned version stays ready); a second DELETE is a 409
    problem naming the current state and the allowed moves (none: cancelled is final)."""
    plan_id = client.post("/api/v1/plans", json=example_goal).get_json()["id"]
    response = client.delete(f"/api/v1/plans/{plan_id}")
    assert response.status_code == 200
    assert response.get_json() == {"id": plan_id, "status": "cancelled", "version": 1, "version_status": "ready"}
    response = client.delete(f"/api/v1/plans/{plan_id}")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["current_state"] == "cancelled" and problem["allowed"] == []
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["status"] == "cancelled" and plan["version_status"] == "ready" and plan["tasks"]


def test_the_same_goal_gives_the_same_plan(client, example_goal):
    """Planning is reproducible: two submissions of one goal give identical schedules."""
    first, second = (client.post("/api/v1/plans", json=example_goal).get_json()["id"] for _ in range(2))
    plan_a, plan_b = (client.get(f"/api/v1/plans/{pid}").get_json() for pid in (first, second))
    assert [(t["id"], t["start"]) for t in plan_a["tasks"]] == [(t["id"], t["start"]) for t in plan_b["tasks"]]


def test_health_and_metrics(client, example_goal):
    """/health reports the embedded mode; /metrics exposes the layer2_ counters."""
    health = client.get("/health").get_json()
    assert health["status"] == "ok" and health["mode"] == "embedded"
    assert client.get("/health/planner").status_code == 200
    assert client.get("/health/coordinator").get_json()["layer8"] == {"configured": False}
    assert client.get("/health/nonsense").status_code == 404
    client.post("/api/v1/plans", json=example_goal)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "layer2_goals_received_total" in metrics
    assert 'layer2_stage_duration_seconds_count{stage="schedule"}' in metrics
    assert "layer2_plans_created_total" in metrics


@pytest.mark.parametrize("goal_file", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_cli_plans_every_example_goal(goal_file, capsys):
    """`layer2-planning plan` on each example goal exits 0 and prints a readable plan."""
    assert main(["plan", str(EXAMPLES / goal_file)]) == 0
    out = capsys.readouterr().out
    assert "Critical path:" in out and "Tasks (" in out and ("[ready]" in out or "[approved]" in out)
    assert "finish risk: P50" in out and "mitigation:" in out


def test_cli_json_output_is_the_plan_document(capsys):
    """`--json` prints the full plan document."""
    assert main(["plan", str(EXAMPLES / "website-launch.json"), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["version_status"] == "ready" and PLAN_FIELDS <= set(plan)


def test_cli_invalid_goal_exits_2_with_one_line(tmp_path, capsys):
    """An invalid goal gives exit code 2 and a one-line error naming the field."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "x", "strategy": "waterfall"}))
    assert main(["plan", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "strategy" in err[0]


def test_cli_unreadable_file_exits_2(tmp_path, capsys):
    """A missing file or broken JSON gives exit code 2 and a clear message."""
    assert main(["plan", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    assert main(["plan", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_console_script_is_installed():
    """The console script from setup.cfg runs (as a user would call it)."""
    result = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "plan" in result.stdout
