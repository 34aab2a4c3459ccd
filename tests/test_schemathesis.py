"""schemathesis (a client no one here wrote) drives every operation of the served OpenAPI document.

Against the embedded app (SQLite, eager Celery) and the farm (PostgreSQL, Redis, real workers): no server
error, no answer outside the document (status, content type, headers, body schema), every check on but
use_after_free (tests/schemathesis.toml says which expectations are widened, and why). Its own time budget
keeps each run to about 15 s (make test stays well under 15 minutes; longer one-off runs: the closing
notes). The statuses the app answered are recorded server-side and printed; that
each documented status is reachable is tests/test_openapi_statuses.py's deterministic check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from flask import request

from tests import farm
from tests.conftest import load_example
from tests.security_support import database_admin_key

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
MAX_SECONDS = 15  # schemathesis's own budget per run (--max-time); the whole test is about 5 s more

def _record_statuses(app) -> set[tuple[str, str, int]]:
    """(path template, method, status) of every answer the app gives from now on."""
    seen: set[tuple[str, str, int]] = set()

    @app.after_request
    def _record(response):
        if request.url_rule is not None:
            path = request.url_rule.rule.replace("<", "{").replace(">", "}")
            seen.add((path, request.method.lower(), response.status_code))
        return response

    return seen


def _seed(base_url: str, *, wait) -> dict[str, list[str]]:
    """A planned plan approved with a blocked task (an issue), a second plan awaiting approval: their ids."""
    goal = load_example()
    first = requests.post(f"{base_url}/api/v1/plans", json=goal, timeout=60).json()["id"]
    second = requests.post(f"{base_url}/api/v1/plans", json=goal, timeout=60).json()["id"]
    plan = wait(first)
    wait(second)
    assert requests.post(f"{base_url}/api/v1/plans/{first}/approve", json={}, timeout=30).status_code == 200
    task = plan["tasks"][0]
    requests.put(f"{base_url}/api/v1/plans/{first}", timeout=30,
                 json={"updates": [{"task_id": task["id"], "status": "blocked", "blocked_reason": "waiting"}]})
    risks = requests.get(f"{base_url}/api/v1/plans/{second}/risks", timeout=30).json()["risks"]
    issues = requests.get(f"{base_url}/api/v1/plans/{first}/issues", timeout=30).json()["issues"]
    return {"plan_id": [first, second], "risk_id": [risk["id"] for risk in risks[:3]],
            "issue_id": [issue["id"] for issue in issues], "uid": [t["uid"] for t in plan["tasks"][:3]]}


def _run_schemathesis(base_url: str, ids: dict, report: Path, database_url: str) -> dict:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
           "LAYER2_SCHEMATHESIS_IDS": json.dumps(ids), "PYTHONPATH": str(HERE.parent)}
    command = [SCHEMATHESIS, "--config-file", str(HERE / "schemathesis.toml"), "run",
               f"{base_url}/api/v1/openapi.json", "--checks", "all",
               # an admin key of the app (its ignored_auth check also sends each call without it: a 401)
               "--header", f"X-API-Key: {database_admin_key(database_url)}",
               # DELETE cancels a plan, which stays readable (tests/schemathesis.toml says more)
               "--exclude-checks", "use_after_free",
               "--max-examples", "15", "--max-time", str(MAX_SECONDS), "--seed", "15", "--workers", "1",
               "--report", "json", "--report-json-path", str(report), "--no-color"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=MAX_SECONDS + 120)
    summary = done.stdout[done.stdout.find("====="):][-6000:]
    assert report.exists(), f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-4000:]}"
    result = json.loads(report.read_text())
    assert done.returncode == 0 and not result["failures"] and not result["errors"], summary
    assert result["operations"]["tested"] == result["operations"]["total"], summary
    print(f"schemathesis: {result['test_cases']['generated']} cases over {result['operations']['tested']} "
          f"operations in {result['running_time']:.0f} s, 0 failures")
    return result


def _report_reached(base_url: str, seen: set) -> None:
    spec = requests.get(f"{base_url}/api/v1/openapi.json", timeout=10).json()
    documented = {(path, method, int(status)) for path, operations in spec["paths"].items()
                  for method, operation in operations.items() if method != "parameters"
                  for status in operation["responses"]}
    # not the document's own routes, nor the OPTIONS Flask answers by itself
    seen = {answer for answer in seen if answer[0] in spec["paths"] and answer[1] not in ("options", "head")}
    assert seen <= documented, f"answers outside the document: {sorted(seen - documented)}"
    print(f"schemathesis reached {len(seen)} of the {len(documented)} documented (operation, status) pairs; "
          f"not reached: {sorted(documented - seen)}")


def _no_stage_crashed(base_url: str) -> None:
    """A goal the API took must not crash a stage: no failed plan says "internal error" (each failed plan's
    reason is a planning verdict, such as an infeasible schedule)."""
    url, crashed = f"{base_url}/api/v1/plans?status=failed&limit=1000", []
    while url:
        answer = requests.get(url, timeout=30)
        for plan in answer.json()["plans"]:
            error = requests.get(f"{base_url}/api/v1/plans/{plan['id']}", timeout=30).json().get("error") or ""
            if "internal error" in error:
                crashed.append((plan["id"], error))
        link = answer.headers.get("Link")
        url = f"{base_url}{link.split('>')[0].lstrip('<')}" if link else None
    assert not crashed, crashed


def test_schemathesis_on_the_embedded_app(embedded_app, tmp_path):
    """Embedded (SQLite, eager): no 5xx, every answer as documented, every documented status reached."""
    seen = _record_statuses(embedded_app)
    server = farm.ApiServer(embedded_app)
    try:
        ids = _seed(server.base_url, wait=lambda plan_id: requests.get(
            f"{server.base_url}/api/v1/plans/{plan_id}", timeout=10).json())
        _run_schemathesis(server.base_url, ids, tmp_path / "schemathesis.json",
                          embedded_app.config["SQLALCHEMY_DATABASE_URI"])
        _report_reached(server.base_url, seen)
        _no_stage_crashed(server.base_url)
    finally:
        server.stop()


@pytest.mark.farm
def test_schemathesis_on_the_farm(farm_app, start_worker, tmp_path):
    """The farm (PostgreSQL, Redis, a worker of every queue): no 5xx, every answer as documented."""
    seen = _record_statuses(farm_app)
    server = farm.ApiServer(farm_app)
    try:
        start_worker()
        ids = _seed(server.base_url, wait=lambda plan_id: farm.wait_for_plan(server.base_url, plan_id))
        _run_schemathesis(server.base_url, ids, tmp_path / "schemathesis.json",
                          farm_app.config["SQLALCHEMY_DATABASE_URI"])
        _report_reached(server.base_url, seen)
        _no_stage_crashed(server.base_url)
    finally:
        server.stop()
