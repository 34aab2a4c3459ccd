"""The plan lifecycle at the API (embedded): states, approval, baseline, versions, diff, task uids, audit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, Plan, PlanTask, PlanVersion
from planning.identity import task_uid
from planning.lifecycle import PLAN_TRANSITIONS, VERSION_TRANSITIONS
from tests.conftest import load_example
from tests.security_support import admin_actor

DOCS = Path(__file__).resolve().parent.parent / "docs"
RISKY = "website-launch.json"  # has risks at alert level: waits in ready for a person
CALM = "explicit-api-hardening.json"  # no risk at alert level: auto-approvable


def post(client, example: str = RISKY) -> str:
    response = client.post("/api/v1/plans", json=load_example(example))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def audit_trail(app, plan_id: str) -> list[tuple[str, str]]:
    """(action, actor) of the plan's and its versions' audit rows, in order."""
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry.action, AuditEntry.actor).where(
            sa.or_(AuditEntry.entity_id == plan_id, AuditEntry.entity_id.like(f"{plan_id}/v%")))
            .order_by(AuditEntry.id)).all()
    return [tuple(row) for row in rows]


def add_version(app, plan_id: str, reason: str = "test: a second version") -> int:
    """A new version of the plan, planned by the pipeline (what a replan will do, issue 14)."""
    from app.extensions import db
    from tasks.chain import chain_task_ids, enqueue_plan_version

    with app.app_context():
        plan = db.session.get(Plan, plan_id)
        number = plan.current_version + 1
        task_ids = chain_task_ids()
        version_id = db.session.execute(sa.insert(PlanVersion).values(
            plan_id=plan_id, version=number, status="queued", reason=reason, task_ids=task_ids)
            .returning(PlanVersion.id)).scalar_one()
        plan.current_version = number
        db.session.commit()
        enqueue_plan_version(version_id, task_ids=task_ids)  # eager: planned before it returns
    return number


def configured_app(tmp_path, toml: str):
    from app import create_app
    from app.cli import upgrade_database

    config = tmp_path / "layer2.toml"
    config.write_text(toml)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/configured.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER2_CONFIG_FILE": str(config)})
    upgrade_database(app)
    return app


# the documented table is the code's table ------------------------------------------------------


def documented_transitions(heading: str) -> dict[str, tuple[str, ...]]:
    text = (DOCS / "lifecycle.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = tuple(re.findall(r"`([a-z_]+)`", cells[2]))
    return table


def test_lifecycle_doc_lists_every_state_and_transition():
    """docs/lifecycle.md's state tables say exactly what planning/lifecycle.py allows."""
    assert documented_transitions("Plan states") == PLAN_TRANSITIONS
    assert documented_transitions("Version states") == VERSION_TRANSITIONS
    text = (DOCS / "lifecycle.md").read_text()
    assert text.rstrip().endswith("## Execution feedback and progress") or "## Execution feedback and progress" in text


# approval ---------------------------------------------------------------------------------------


def test_a_plan_is_ready_then_approved_and_becomes_the_baseline(embedded_app, client):
    """ready (pending approval) -> approve: approved, baseline 1, the decision merged into `approval`."""
    plan_id = post(client)
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert (plan["status"], plan["version_status"], plan["baseline_version"]) == ("ready", "ready", None)
    assert plan["approval"]["state"] == "pending" and plan["approval"]["auto_approvable"] is False
    assert plan["approval"]["blocked_by"] and plan["approval"]["by"] is None

    response = client.post(f"/api/v1/plans/{plan_id}/approve", json={"comment": "risks accepted"},
                           headers={"X-Actor": "alice"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["version"], body["baseline_version"]) == ("approved", 1, 1)
    approval = client.get(f"/api/v1/plans/{plan_id}").get_json()["approval"]
    # X-Actor is ignored: the audit log and the approval name the authenticated key (app/security)
    assert approval["state"] == "approved" and approval["by"] == admin_actor(embedded_app) and approval["at"]
    assert approval["auto"] is False and approval["comment"] == "risks accepted"
    assert approval["blocked_by"] == plan["approval"]["blocked_by"]  # the document's part is unchanged

    assert audit_trail(embedded_app, plan_id) == [
        ("plan.create", admin_actor(embedded_app)),
        ("plan_version.planning", "layer2-pipeline"), ("plan.planning", "layer2-pipeline"),
        ("plan_version.ready", "layer2-pipeline"), ("plan.ready", "layer2-pipeline"),
        ("plan.approved", admin_actor(embedded_app)),
    ]


def test_approving_twice_is_a_409_naming_the_allowed_moves(client):
    """The second approve is refused: the plan is approved and may only go to executing or cancelled."""
    plan_id = post(client)
    assert client.post(f"/api/v1/plans/{plan_id}/approve").status_code == 200  # no body at all is fine
    body = problem(client.post(f"/api/v1/plans/{plan_id}/approve", json={}), 409)
    assert body["type"] == "/problems/invalid-transition"
    assert body["current_state"] == "approved" and body["requested_state"] == "approved"
    assert body["allowed"] == ["executing", "cancelled"]
    assert "approved" in body["detail"] and "errors" not in body


def test_reject_needs_a_reason_and_is_final(embedded_app, client):
    """A reject without a (non-blank) reason is a 422 naming `reason`; with one the plan is rejected for good."""
    plan_id = post(client)
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 3}):
        assert [e["field"] for e in problem(client.post(f"/api/v1/plans/{plan_id}/reject", json=body), 422)
                ["errors"]] == ["reason"]
    assert client.get(f"/api/v1/plans/{plan_id}").get_json()["status"] == "ready"

    response = client.post(f"/api/v1/plans/{plan_id}/reject", json={"reason": "over budget"},
                           headers={"X-Actor": "bob"})
    assert response.status_code == 200 and response.get_json()["status"] == "rejected"
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["status"] == "rejected" and plan["version_status"] == "ready" and plan["baseline_version"] is None
    assert plan["approval"] | {"at": None} == {"state": "rejected", "by": admin_actor(embedded_app), "at": None,
                                               "auto": False,
                                               "comment": "over budget", "auto_approvable": False,
                                               "blocked_by": plan["approval"]["blocked_by"]}
    refused = problem(client.post(f"/api/v1/plans/{plan_id}/approve"), 409)
    assert refused["current_state"] == "rejected" and refused["allowed"] == []
    assert problem(client.delete(f"/api/v1/plans/{plan_id}"), 409)["current_state"] == "rejected"
    assert audit_trail(embedded_app, plan_id)[-1] == ("plan.rejected", admin_actor(embedded_app))


def test_bad_approval_bodies_are_named(client):
    """Unknown members and wrong types are 422s naming the field; non-JSON is a 415."""
    plan_id = post(client)
    assert [e["field"] for e in problem(client.post(f"/api/v1/plans/{plan_id}/approve", json={"by": "x"}), 422)
            ["errors"]] == ["by"]
    assert [e["field"] for e in problem(client.post(f"/api/v1/plans/{plan_id}/approve", json={"version": "1"}), 422)
            ["errors"]] == ["version"]
    problem(client.post(f"/api/v1/plans/{plan_id}/approve", data="yes", content_type="text/plain"), 415)
    problem(client.post("/api/v1/plans/nope/approve"), 404)
    assert client.get(f"/api/v1/plans/{plan_id}").get_json()["status"] == "ready"


def test_approving_another_version_than_the_current_one_is_refused(client):
    """`version` in the body must be the current version: approvers approve what they read."""
    plan_id = post(client)
    body = problem(client.post(f"/api/v1/plans/{plan_id}/approve", json={"version": 2}), 409)
    assert body["type"] == "/problems/version-mismatch" and body["current_version"] == 1
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={"version": 1}).status_code == 200


def test_failed_cancelled_and_queued_plans_cannot_be_approved(embedded_app, client, tmp_path):
    """approve on a failed, a cancelled and a queued plan: 409 naming each state and its allowed moves."""
    from app.extensions import db
    from app.services import plans as plan_service

    failing = configured_app(tmp_path, "[planning]\nmax_tasks_per_plan = 5\n")
    failing_client = failing.test_client()
    failed_id = post(failing_client, "software-delivery-portal.json")
    assert failing_client.get(f"/api/v1/plans/{failed_id}").get_json()["status"] == "failed"
    body = problem(failing_client.post(f"/api/v1/plans/{failed_id}/approve"), 409)
    assert body["current_state"] == "failed" and body["allowed"] == []
    assert ("plan.failed", "layer2-pipeline") in audit_trail(failing, failed_id)
    with failing.app_context():
        failing.extensions["sqlalchemy"].engine.dispose()

    cancelled_id = post(client)
    assert client.delete(f"/api/v1/plans/{cancelled_id}").status_code == 200
    body = problem(client.post(f"/api/v1/plans/{cancelled_id}/approve"), 409)
    assert body["current_state"] == "cancelled" and body["allowed"] == []

    with embedded_app.app_context():  # stored but never sent: it stays queued
        queued = plan_service.create_plan(session=db.session, goal_data=load_example(), actor="test",
                                          settings=embedded_app.config["PLANNING"])
    body = problem(client.post(f"/api/v1/plans/{queued.plan_id}/approve"), 409)
    assert body["current_state"] == "queued" and body["allowed"] == ["planning", "failed", "cancelled"]
    body = problem(client.post(f"/api/v1/plans/{queued.plan_id}/reject", json={"reason": "no"}), 409)
    assert body["current_state"] == "queued"
    assert "tasks" not in client.get(f"/api/v1/plans/{queued.plan_id}").get_json()  # nothing planned to show


def test_an_approved_plan_can_still_be_cancelled(embedded_app, client):
    """DELETE on an approved plan: cancelled; the planned version stays ready and readable."""
    plan_id = post(client)
    client.post(f"/api/v1/plans/{plan_id}/approve")
    response = client.delete(f"/api/v1/plans/{plan_id}", headers={"X-Actor": "carol"})
    assert response.get_json() == {"id": plan_id, "status": "cancelled", "version": 1, "version_status": "ready"}
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["status"] == "cancelled" and plan["baseline_version"] == 1 and plan["tasks"]
    assert audit_trail(embedded_app, plan_id)[-1] == ("plan.cancelled", admin_actor(embedded_app))


# auto-approval ----------------------------------------------------------------------------------


def test_a_plan_without_alerts_is_approved_automatically(embedded_app, client):
    """Default settings: no risk at alert level -> planning goes straight to approved, baselined, audited."""
    plan_id = post(client, CALM)
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert (plan["status"], plan["version_status"], plan["baseline_version"]) == ("approved", "ready", 1)
    approval = plan["approval"]
    assert approval["state"] == "approved" and approval["auto"] is True and approval["by"] == "layer2-auto-approval"
    assert approval["auto_approvable"] is True and approval["blocked_by"] == []
    assert audit_trail(embedded_app, plan_id)[-1] == ("plan.approved", "layer2-auto-approval")
    assert ("plan.ready", "layer2-pipeline") not in audit_trail(embedded_app, plan_id)
    body = problem(client.post(f"/api/v1/plans/{plan_id}/approve"), 409)
    assert body["current_state"] == "approved"


def test_auto_approval_can_be_turned_off(tmp_path):
    """auto_approve_low_risk_plans = false: the same plan waits in ready, auto_approvable but pending."""
    app = configured_app(tmp_path, "[planning]\nauto_approve_low_risk_plans = false\n")
    client = app.test_client()
    plan_id = post(client, CALM)
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert (plan["status"], plan["baseline_version"]) == ("ready", None)
    assert plan["approval"]["state"] == "pending" and plan["approval"]["auto_approvable"] is True
    assert client.post(f"/api/v1/plans/{plan_id}/approve").get_json()["baseline_version"] == 1
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


# versions, diff, uid ----------------------------------------------------------------------------


def test_versions_diff_and_task_uids(embedded_app, client):
    """A second version: the first is superseded (still the baseline), uids stay, versions list and diff."""
    from app.extensions import db

    plan_id = post(client)
    client.post(f"/api/v1/plans/{plan_id}/approve", headers={"X-Actor": "alice"})
    assert add_version(embedded_app, plan_id) == 2

    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert (plan["status"], plan["version"], plan["version_status"]) == ("approved", 2, "ready")
    assert plan["baseline_version"] == 1 and plan["approval"]["state"] == "pending"
    first = client.get(f"/api/v1/plans/{plan_id}?version=1").get_json()
    assert (first["version"], first["version_status"], first["approval"]["state"]) == (1, "superseded", "approved")

    # uid: the same task has the same uid in both versions, in the live rows too, and none in another plan
    uids = {task["id"]: task["uid"] for task in first["tasks"]}
    assert uids == {task["id"]: task["uid"] for task in plan["tasks"]}
    assert uids == {task_id: task_uid(plan_id, task_id) for task_id in uids}
    assert len(set(uids.values())) == len(uids)
    with embedded_app.app_context():
        rows = db.session.execute(sa.select(PlanVersion.version, PlanTask.task_key, PlanTask.uid)
                                  .join(PlanVersion, PlanVersion.id == PlanTask.plan_version_id)
                                  .where(PlanVersion.plan_id == plan_id)).all()
    assert {(v, key): uid for v, key, uid in rows} == {(v, key): uid for v in (1, 2) for key, uid in uids.items()}
    other = client.get(f"/api/v1/plans/{post(client)}").get_json()
    assert not set(uids.values()) & {task["uid"] for task in other["tasks"]}

    listing = client.get(f"/api/v1/plans/{plan_id}/versions").get_json()
    assert (listing["current_version"], listing["baseline_version"], listing["status"]) == (2, 1, "approved")
    v1, v2 = listing["versions"]
    assert (v1["version"], v1["status"], v1["approval"], v1["baseline"]) == (1, "superseded", "approved", True)
    assert (v2["version"], v2["status"], v2["approval"], v2["baseline"]) == (2, "ready", "pending", False)
    assert v2["reason"] == "test: a second version" and v2["created_at"] and v2["completed_at"]
    assert v1["makespan_hours"] == first["makespan_hours"] and v1["finish"] == first["finish"]
    assert v1["cost_total"] == pytest.approx(first["cost"]["total"]) and v1["currency"] == first["cost"]["currency"]
    assert v1["p80_hours"] == pytest.approx(first["schedule_risk"]["p80"])
    assert v1["p80_date"] == first["schedule_risk"]["p80_date"]

    # Same goal, same plan: nothing changed. Then make version 2 differ (a stand-in for a replan).
    same = client.get(f"/api/v1/plans/{plan_id}/diff").get_json()
    assert (same["from"], same["to"], same["tasks_changed"], same["tasks_added"]) == (1, 2, [], [])
    moved = plan["tasks"][-1]["id"]
    with embedded_app.app_context():
        version = db.session.execute(sa.select(PlanVersion).where(
            PlanVersion.plan_id == plan_id, PlanVersion.version == 2)).scalar_one()
        document = dict(version.document)
        document["tasks"] = [task | {"start_hour": task["start_hour"] + 8, "finish_hour": task["finish_hour"] + 8}
                             if task["id"] == moved else task for task in document["tasks"]]
        document["makespan_hours"] = max(document["makespan_hours"], max(t["finish_hour"] for t in document["tasks"]))
        version.document = document
        db.session.commit()
    diff = client.get(f"/api/v1/plans/{plan_id}/diff?from=1&to=2").get_json()
    [changed] = diff["tasks_changed"]
    assert changed["id"] == moved and changed["start_shift_hours"] == 8 and "start" in changed["changed"]
    assert diff["makespan_hours"]["before"] == first["makespan_hours"]
    backwards = client.get(f"/api/v1/plans/{plan_id}/diff?from=2&to=1").get_json()
    assert backwards["tasks_changed"][0]["start_shift_hours"] == -8

    assert audit_trail(embedded_app, plan_id)[-3:] == [
        ("plan_version.planning", "layer2-pipeline"), ("plan_version.ready", "layer2-pipeline"),
        ("plan_version.superseded", "layer2-pipeline")]


def test_version_parameters_are_checked(embedded_app, client, tmp_path):
    """?version / from / to: 404 naming an absent version, 422 naming a malformed one, 409 for one without a plan."""
    plan_id = post(client)
    body = problem(client.get(f"/api/v1/plans/{plan_id}?version=3"), 404)
    assert body["type"] == "/problems/version-not-found" and body["version"] == 3 and "3" in body["detail"]
    for bad in ("x", "0", "-1", "1.5", ""):
        assert [e["field"] for e in problem(client.get(f"/api/v1/plans/{plan_id}?version={bad}"), 422)
                ["errors"]] == ["version"]
    assert client.get(f"/api/v1/plans/{plan_id}?version=1").get_json()["version"] == 1
    assert problem(client.get(f"/api/v1/plans/{plan_id}/diff?from=1&to=7"), 404)["version"] == 7
    assert [e["field"] for e in problem(client.get(f"/api/v1/plans/{plan_id}/diff?from=one"), 422)
            ["errors"]] == ["from"]
    assert [e["field"] for e in problem(client.get(f"/api/v1/plans/{plan_id}/diff"), 422)["errors"]] == ["from"]
    problem(client.get("/api/v1/plans/nope/versions"), 404)

    # A version that failed has no plan to compare: 409 naming its state.
    failing = configured_app(tmp_path, "[planning]\nmax_tasks_per_plan = 5\n")
    failing_client = failing.test_client()
    failed_id = post(failing_client, "software-delivery-portal.json")
    body = problem(failing_client.get(f"/api/v1/plans/{failed_id}/diff?from=1&to=1"), 409)
    assert body["type"] == "/problems/version-not-planned" and body["version_status"] == "failed"
    [entry] = failing_client.get(f"/api/v1/plans/{failed_id}/versions").get_json()["versions"]
    assert entry["status"] == "failed" and entry["approval"] is None and entry["makespan_hours"] is None
    assert "decompose" in entry["error"]
    with failing.app_context():
        failing.extensions["sqlalchemy"].engine.dispose()


def test_migration_renames_states_and_backfills_task_uids(tmp_path):
    """0004_lifecycle on rows made before it: running -> planning, completed -> ready, uid per task row."""
    from flask_migrate import upgrade

    from app import MIGRATIONS_DIR, create_app
    from app.extensions import db

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/old.sqlite", "CELERY_BROKER_URL": None})
    plan_id = "11111111-2222-3333-4444-555555555555"
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0003")
        with db.engine.begin() as connection:
            run = connection.exec_driver_sql
            run("INSERT INTO goals (id, title, document, created_at) VALUES ('g', 't', '{}', '2026-01-01')")
            for pid, status in ((plan_id, "completed"), ("p-running", "running")):
                run(f"INSERT INTO plans (id, goal_id, status, current_version, created_at, updated_at) "
                    f"VALUES ('{pid}', 'g', '{status}', 1, '2026-01-01', '2026-01-01')")
                run(f"INSERT INTO plan_versions (plan_id, version, status, reason, created_at, updated_at) "
                    f"VALUES ('{pid}', 1, '{status}', 'initial plan', '2026-01-01', '2026-01-01')")
            version_id = run(f"SELECT id FROM plan_versions WHERE plan_id = '{plan_id}'").scalar()
            for key in ("design", "build"):
                run(f"INSERT INTO plan_tasks (plan_version_id, task_key, name, phase, data, status, "
                    f"percent_complete, row_version) VALUES ({version_id}, '{key}', '{key}', '', '{{}}', "
                    f"'not_started', 0, 1)")
        upgrade(directory=str(MIGRATIONS_DIR), revision="0004_lifecycle")
        with db.engine.connect() as connection:
            run = connection.exec_driver_sql
            assert dict(run("SELECT id, status FROM plans").all()) == {plan_id: "ready", "p-running": "planning"}
            assert sorted(run("SELECT status FROM plan_versions").scalars()) == ["planning", "ready"]
            assert dict(run("SELECT task_key, uid FROM plan_tasks").all()) == {
                key: task_uid(plan_id, key) for key in ("design", "build")}
        db.engine.dispose()
