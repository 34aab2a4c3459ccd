"""The outbox and the topics without a broker: which events the changes write, in their transaction; embedded
mode keeps them in the outbox; the consumer's handling of a message; docs/events.md shows the schemas."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import jsonschema
import sqlalchemy as sa

from app.events.schemas import DEAD_LETTER, MESSAGE_SCHEMAS
from app.services.outbox import assignable_tasks
from tests.feedback_support import approved_plan, tiny_goal

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _events(app) -> list[dict]:
    """The outbox as envelopes, oldest first, each checked against its topic's schema."""
    from app.extensions import db
    from app.models import OutboxEvent
    from app.services.outbox import envelope

    with app.app_context():
        rows = list(db.session.execute(sa.select(OutboxEvent).order_by(OutboxEvent.id)).scalars())
        assert all(row.sent_at is None for row in rows)  # embedded: nothing publishes them
        events = [envelope(row) for row in rows]
    for event in events:
        jsonschema.validate(event, MESSAGE_SCHEMAS[event["type"]])
    return events


def _summary(events: list[dict]) -> list[tuple]:
    out = []
    for event in events:
        payload = event["payload"]
        detail = payload.get("change") or (payload.get("task") or {}).get("id") or payload.get("source") or ""
        out.append((event["type"], detail))
    return out


def test_assignable_tasks_wait_for_every_predecessor():
    """A task is assignable when not started and every predecessor is completed; `after` keeps only the successors
    of the tasks just completed."""
    document = {"tasks": [{"id": "a"}, {"id": "b", "depends_on": ["a"]}, {"id": "c", "depends_on": ["a", "b"]},
                          {"id": "d"}]}
    assert [t["id"] for t in assignable_tasks(document, {})] == ["a", "d"]
    statuses = {"a": "completed", "b": "in_progress", "d": "not_started"}
    assert [t["id"] for t in assignable_tasks(document, statuses)] == ["d"]
    statuses = {"a": "completed", "b": "not_started"}
    assert [t["id"] for t in assignable_tasks(document, statuses, after=["a"])] == ["b"]
    statuses = {"a": "completed", "b": "completed"}
    assert [t["id"] for t in assignable_tasks(document, statuses, after=["b"])] == ["c"]


def test_a_plan_s_life_writes_its_events_in_order(client, embedded_app):
    """POST, planning, approval, feedback completing a task and finishing the plan, each write their events: plans.*,
    risks.alerts, tasks.assigned for the tasks whose predecessors are done, with their resources."""
    plan = approved_plan(client)
    plan_id = plan["id"]
    events = _events(embedded_app)
    assert all(event["plan_id"] == plan_id for event in events)
    summary = _summary(events)
    assert summary[0] == ("plans.created", "") and ("plans.updated", "planning") in summary
    approval = summary.index(("plans.updated", "approved"))
    assert summary[approval + 1] == ("tasks.assigned", "design")  # the only task without predecessors
    design = events[approval + 1]["payload"]
    assert design["resources"] and design["resources"][0]["resource"] == "designer"
    assert design["task"]["uid"] == next(t["uid"] for t in plan["tasks"] if t["id"] == "design")
    alerts = {e["payload"]["risk"]["id"] for e in events if e["type"] == "risks.alerts"}
    assert alerts == set(plan["risk_alerts"])

    answer = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-02T17:00:00Z",
                                                            "updates": [{"task_id": "design", "status": "completed"}]})
    assert answer.status_code == 200, answer.get_json()
    later = _summary(_events(embedded_app))[len(summary):]
    assert later == [("plans.updated", "executing"), ("tasks.assigned", "build"), ("tasks.assigned", "docs")]
    answer = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-04T17:00:00Z", "updates": [
        {"task_id": "build", "status": "completed"}, {"task_id": "docs", "status": "completed"}]})
    assert answer.status_code == 200, answer.get_json()
    assert _summary(_events(embedded_app))[len(summary) + 3:] == [("plans.updated", "completed")]


def test_a_refused_change_writes_no_event(client, embedded_app):
    """The event is written in the change's transaction: a refused approval (409) and a refused feedback (422)
    leave the outbox as it was."""
    plan = approved_plan(client)
    before = len(_events(embedded_app))
    assert client.post(f"/api/v1/plans/{plan['id']}/approve", json={}).status_code == 409
    refused = client.put(f"/api/v1/plans/{plan['id']}", json={"updates": [{"task_id": "design", "status": "nope"}]})
    assert refused.status_code == 422
    assert len(_events(embedded_app)) == before


def test_cancel_and_failure_are_plan_updates(client, embedded_app):
    """Cancelling a plan and a plan that fails planning each write a plans.updated with the state and the reason."""
    plan = approved_plan(client)
    assert client.delete(f"/api/v1/plans/{plan['id']}", json={"reason": "budget cut"}).status_code == 200
    cancelled = _events(embedded_app)[-1]
    assert cancelled["type"] == "plans.updated"
    assert cancelled["payload"]["change"] == "cancelled" and cancelled["payload"]["reason"] == "budget cut"
    assert cancelled["payload"]["previous_status"] == "approved"
    from app.extensions import db
    from app.services import plans as plan_service
    from app.services.pipeline import fail_version

    with embedded_app.app_context():  # stored, never sent, then failed as the pipeline fails a version
        version = plan_service.create_plan(session=db.session, goal_data=tiny_goal(), actor="test",
                                           settings=embedded_app.config["PLANNING"])
        fail_version(version.id, "decompose: too many tasks")
    failed = _events(embedded_app)[-1]
    assert failed["plan_id"] == version.plan_id and failed["payload"]["change"] == "failed"
    assert failed["payload"]["previous_status"] == "queued"
    assert failed["payload"]["reason"] == "decompose: too many tasks"


def test_an_escalated_issue_is_a_risk_alert_event(client, embedded_app):
    """An open issue that escalates writes a risks.alerts event (source escalation) naming the issue."""
    from app.extensions import db
    from app.models import PlanIssue

    plan = approved_plan(client)
    client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": "2026-11-03T10:00:00Z", "updates": [
        {"task_id": "design", "status": "completed"},
        {"task_id": "build", "status": "blocked", "blocked_reason": "vendor API down"}]})
    issue = client.get(f"/api/v1/plans/{plan['id']}/issues").get_json()["issues"][0]
    with embedded_app.app_context():
        row = db.session.get(PlanIssue, issue["id"])
        row.opened_at = row.opened_at - timedelta(hours=5)
        db.session.commit()
    client.get(f"/api/v1/plans/{plan['id']}/issues")  # a read escalates what is due
    alert = _events(embedded_app)[-1]
    assert alert["type"] == "risks.alerts" and alert["payload"]["source"] == "escalation"
    assert alert["payload"]["issue"]["id"] == issue["id"] and alert["payload"]["issue"]["level"] == 2
    assert alert["payload"]["risk"]["affected_tasks"] == ["build"]


def test_events_command_prints_the_outbox_and_the_processes_need_a_broker(tmp_path, monkeypatch, capsys):
    """Embedded mode: `layer2-planning events` prints the outbox as JSON lines; relay and consume refuse (exit 2)
    and say where the events are."""
    from app import create_app
    from app.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/events.sqlite")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("LAYER2_EVENTS_BROKER_URL", raising=False)
    assert main(["events"]) == 0  # migrates the embedded database
    app = create_app()
    approved_plan(app.test_client())
    capsys.readouterr()
    assert main(["events", "--topic", "tasks.assigned"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["payload"]["task"]["id"] for line in lines] == ["design"] and lines[0]["sent_at"] is None
    for command in ("relay", "consume"):
        assert main([command]) == 2
        assert "layer2-planning events" in capsys.readouterr().err


def test_consumer_handles_goal_messages_once_and_dead_letters_bad_ones(embedded_app):
    """The consumer's handler (no broker): a goal message makes one plan even when delivered twice; an invalid goal,
    a message without an id and a non-object are dead-lettered with problem documents naming the fields."""
    from app.events.consumer import handle
    from app.extensions import db
    from app.models import Plan

    parked: list[dict] = []
    message = json.dumps({"id": str(uuid.uuid4()), "type": "goals.created", "payload": tiny_goal()})
    with embedded_app.app_context():
        first = handle(embedded_app, "goals.created", message.encode(), parked.append)
        again = handle(embedded_app, "goals.created", message.encode(), parked.append)
        bad_goal = {**tiny_goal(), "budget": -5}
        invalid = handle(embedded_app, "goals.created", json.dumps({"id": "m-2", "payload": bad_goal}), parked.append)
        no_id = handle(embedded_app, "goals.created", json.dumps({"payload": tiny_goal()}), parked.append)
        not_object = handle(embedded_app, "goals.created", b"[1, 2]", parked.append)
        plans = db.session.execute(sa.select(sa.func.count()).select_from(Plan)).scalar()
    assert (first.status, again.status) == ("applied", "duplicate")
    assert again.result["plan_id"] == first.result["plan_id"]
    assert plans == 1
    assert [o.status for o in (invalid, no_id, not_object)] == ["dead_lettered"] * 3
    assert [p["status"] for p in parked] == [422, 422, 400]
    assert parked[0]["errors"] == [{"field": "budget", "message": parked[0]["errors"][0]["message"]}]
    assert {e["field"] for e in parked[1]["errors"]} == {"id"}
    for problem in parked:
        jsonschema.validate({"topic": "goals.created", "problem": problem, "message": "", "dead_lettered_at":
                             "2026-12-02T00:00:00+00:00"}, DEAD_LETTER)


def test_events_doc_shows_every_message_schema():
    """docs/events.md holds each topic's JSON Schema exactly as app/events/schemas.py defines it."""
    text = (DOCS / "events.md").read_text()
    for topic, schema in MESSAGE_SCHEMAS.items():
        match = re.search(rf"### `{re.escape(topic)}`.*?```json\n(.*?)\n```", text, re.S)
        assert match, f"no schema for {topic}"
        assert json.loads(match.group(1)) == schema, topic


def test_procfiles_and_compose_run_the_relay_and_the_consumer():
    """Both Procfiles and the compose file start `layer2-planning relay` and `layer2-planning consume`."""
    import yaml

    root = DOCS.parent
    for name in ("Procfile", "Procfile.per-stage"):
        entries = dict(line.split(":", 1) for line in (root / name).read_text().splitlines()
                       if line.strip() and not line.startswith("#"))
        assert "layer2-planning relay" in entries["relay"] and "layer2-planning consume" in entries["consume"]
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    assert services["relay"]["command"] == "layer2-planning relay"
    assert services["consume"]["command"] == "layer2-planning consume"
    assert services["relay"]["image"] == services["api"]["image"]


def test_a_replan_and_its_decision_are_plan_updates(client, embedded_app):
    """A replan writes the new version's updates (replanning, version_planning, version_ready); approving it
    re-baselines the plan and assigns again, on version 2, the tasks that may start; rejecting one is an update."""
    plan = approved_plan(client)
    plan_id = plan["id"]
    slip = {"status_date": "2026-11-03T13:00:00Z", "updates": [{"task_id": "design", "status": "completed"},
                                                                 {"task_id": "docs", "percent_complete": 10}]}
    assert client.put(f"/api/v1/plans/{plan_id}", json=slip).status_code == 200
    start = len(_events(embedded_app))
    assert client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "slip"}).status_code == 202
    replan = _events(embedded_app)[start:]
    changes = [e["payload"]["change"] for e in replan if e["type"] == "plans.updated"]
    assert changes == ["replanning", "version_planning", "version_ready"]
    assert all(e["payload"]["version"] == 2 for e in replan)
    assert replan[0]["payload"]["reason"] == "slip" and replan[0]["payload"]["status"] == "executing"
    start += len(replan)
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={"version": 2}).status_code == 200
    decided = _summary(_events(embedded_app)[start:])
    assert decided == [("plans.updated", "rebaselined"), ("tasks.assigned", "build")]
    assert _events(embedded_app)[-1]["payload"]["version"] == 2

    other = approved_plan(client)
    assert client.put(f"/api/v1/plans/{other['id']}", json=slip).status_code == 200
    assert client.post(f"/api/v1/plans/{other['id']}/replan", json={"reason": "slip"}).status_code == 202
    assert client.post(f"/api/v1/plans/{other['id']}/reject", json={"reason": "no"}).status_code == 200
    rejected = _events(embedded_app)[-1]["payload"]
    assert (rejected["change"], rejected["version"], rejected["baseline_version"]) == ("version_rejected", 2, 1)


def test_consumer_applies_an_availability_message_once_and_merges_or_replaces(embedded_app):
    """resources.availability: `merge` changes the pools named and keeps the others, a redelivered message changes
    nothing, `replace` replaces the set, an invalid pool is dead-lettered naming its field."""
    from app.events.consumer import handle
    from app.extensions import db
    from app.services.resources import list_pools

    parked: list[dict] = []

    def send(payload: dict, message_id: str | None = None):
        body = json.dumps({"id": message_id or str(uuid.uuid4()), "payload": payload})
        with embedded_app.app_context():
            outcome = handle(embedded_app, "resources.availability", body, parked.append)
            pools = {pool.type: pool.capacity for pool in list_pools(session=db.session)}
            db.session.remove()
        return outcome, pools

    outcome, pools = send({"resources": [{"type": "engineer", "capacity": 3}], "mode": "replace"})
    assert outcome.status == "applied" and pools == {"engineer": 3}
    outcome, pools = send({"resources": [{"type": "designer", "capacity": 2}]}, "m-1")
    assert pools == {"engineer": 3, "designer": 2}
    send({"resources": [{"type": "designer", "capacity": 5}]})
    outcome, pools = send({"resources": [{"type": "designer", "capacity": 2}]}, "m-1")  # the old message again
    assert outcome.status == "duplicate" and pools == {"engineer": 3, "designer": 5}
    outcome, pools = send({"resources": [{"type": "designer", "capacity": -1}]})
    assert outcome.status == "dead_lettered" and pools["designer"] == 5
    assert parked[0]["errors"][0]["field"] == "resources[0].capacity"


def test_consumer_dead_letters_feedback_the_api_would_refuse(client, embedded_app):
    """execution.feedback that PUT would refuse (no such plan, a plan not under way, a bad update, no plan_id) is
    parked with the problem the API answers; nothing is written."""
    from app.events.consumer import handle

    plan_id = client.post("/api/v1/plans", json={**tiny_goal(), "budget": 1}).get_json()["id"]  # ready: over budget
    parked: list[dict] = []
    messages = [
        {"plan_id": "nope", "feedback": {"updates": [{"task_id": "design", "status": "completed"}]}},
        {"plan_id": plan_id, "feedback": {"updates": [{"task_id": "design", "status": "completed"}]}},
        {"plan_id": plan_id, "feedback": {"updates": [{"task_id": "design", "percent_complete": 140}]}},
        {"feedback": {"updates": []}, "extra": 1},
    ]
    with embedded_app.app_context():
        outcomes = [handle(embedded_app, "execution.feedback", json.dumps({"id": str(uuid.uuid4()), "payload": m}),
                           parked.append).status for m in messages]
    assert outcomes == ["dead_lettered"] * 4
    assert [(p["status"], p["type"]) for p in parked] == [
        (404, "/problems/plan-not-found"), (409, "/problems/plan-not-executing"), (422, "/problems/invalid-feedback"),
        (422, "/problems/invalid-feedback")]
    assert parked[2]["errors"][0]["field"] == "updates[0].percent_complete"
    assert {e["field"] for e in parked[3]["errors"]} == {"payload.extra", "payload.plan_id"}


def test_events_settings_are_validated():
    """The events settings: the broker defaults to Celery's, AMQP gets publisher confirms, a bad batch size or
    broker URL stops start-up naming the setting."""
    import pytest

    from app.config import ConfigError, load_config

    farm = load_config(env={"CELERY_BROKER_URL": "redis://h:6379/0", "CELERY_KEY_PREFIX": "p:"})["EVENTS"]
    assert farm["broker_url"] == "redis://h:6379/0" and farm["exchange"] == "layer2.events"
    assert farm["transport_options"]["global_keyprefix"] == "p:" and "confirm_publish" not in farm["transport_options"]
    amqp = load_config(env={"LAYER2_EVENTS_BROKER_URL": "amqp://guest@h//"})["EVENTS"]
    assert amqp["transport_options"]["confirm_publish"] is True
    assert load_config(env={})["EVENTS"]["broker_url"] is None  # embedded: the events stay in the outbox
    for env, name in (({"LAYER2_RELAY_BATCH": "0"}, "LAYER2_RELAY_BATCH"),
                      ({"LAYER2_EVENTS_BROKER_URL": "http://x"}, "LAYER2_EVENTS_BROKER_URL"),
                      ({"LAYER2_RELAY_POLL_SECONDS": "-1"}, "LAYER2_RELAY_POLL_SECONDS")):
        with pytest.raises(ConfigError, match=name):
            load_config(env=env)
