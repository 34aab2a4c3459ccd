"""Replanning in embedded mode (SQLite + eager Celery): manual replans, the scan, exactly once, approval.

The tiny plan of tests/feedback_support.py: design (0-8 h, critical) -> build (8-24 h, critical),
docs (8-16 h, 8 h float), from Monday 2026-11-02 09:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.feedback_support import approved_plan, tiny_goal
from tests.security_support import admin_actor

STATUS_DATE = "2026-11-03T13:00:00Z"  # Tuesday 13:00: working hour 12
SLIP = {"status_date": STATUS_DATE, "updates": [
    {"task_id": "design", "status": "completed", "actual_finish": "2026-11-03T11:00:00Z", "actual_cost": 500},
    {"task_id": "docs", "percent_complete": 10}]}


def _tasks(plan: dict) -> dict:
    return {task["id"]: task for task in plan["tasks"]}


def _executing(client) -> dict:
    plan = approved_plan(client)
    answer = client.put(f"/api/v1/plans/{plan['id']}", json=SLIP)
    assert answer.status_code == 200, answer.get_json()
    return plan


def _versions(app, plan_id: str) -> list[tuple[int, str, str]]:
    from app.extensions import db
    from app.models import PlanVersion

    with app.app_context():
        rows = db.session.execute(sa.select(PlanVersion.version, PlanVersion.status, PlanVersion.mode)
                                  .where(PlanVersion.plan_id == plan_id).order_by(PlanVersion.version)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_manual_replan_writes_the_next_version_from_the_status_date(client):
    """202 + Location of v2; completed work keeps its actual dates, the running task its actual start, nothing
    else starts before the status date, the finish moves; the plan stays executing on baseline 1."""
    plan = _executing(client)
    plan_id, before = plan["id"], _tasks(plan)
    answer = client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "design ran late"},
                         headers={"X-Actor": "pm"})
    assert answer.status_code == 202, answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/plans/{plan_id}?version=2"
    body = answer.get_json()
    assert body["version"] == 2 and body["created"] is True and body["status"] == "executing"
    new = client.get(answer.headers["Location"]).get_json()
    assert new["version_status"] == "ready" and new["mode"] == "replan" and new["replan_of"] == 1
    assert new["stages"]["decompose"]["state"] == "copied" and new["stages"]["schedule"]["state"] == "succeeded"
    after = _tasks(new)
    assert after["design"]["start"] == before["design"]["start"]  # actual start (as planned: not reported)
    assert after["design"]["finish"] == "2026-11-03T11:00:00"  # actual finish
    assert after["docs"]["start"] == before["docs"]["start"]  # in progress: keeps its actual start
    assert after["build"]["start"] >= "2026-11-03T13:00:00"  # not started: not before the status date
    assert new["finish"] > plan["finish"] and new["makespan_hours"] > plan["makespan_hours"]
    current = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert current["status"] == "executing" and current["baseline_version"] == 1 and current["current_version"] == 2
    listed = client.get(f"/api/v1/plans/{plan_id}/versions").get_json()["versions"]
    assert [(v["version"], v["approval"], v["baseline"]) for v in listed] == [(1, "approved", True),
                                                                             (2, "pending", False)]
    diff = client.get(f"/api/v1/plans/{plan_id}/diff").get_json()  # baseline 1 -> current 2
    assert diff["from"] == 1 and diff["to"] == 2
    assert {task["id"] for task in diff["tasks_changed"]} >= {"build"}
    assert new["replan"]["status_hours"] == 12 and new["replan"]["completed"] == ["design"]
    # risk re-assessed with the actuals: the Monte Carlo runs the remaining work from the status date
    assert new["schedule_risk"]["origin_hours"] == 12 and "design" not in new["schedule_risk"]["criticality"]
    assert new["replan"]["in_progress"] == ["docs"] and new["replan"]["moved_count"] >= 1
    triggers = client.get(f"/api/v1/plans/{plan_id}/replans").get_json()["triggers"]
    assert triggers[0]["source"] == "manual" and triggers[0]["status"] == "replanned" and triggers[0]["version"] == 2
    # X-Actor is ignored: the trigger names the authenticated key (app/security)
    assert triggers[0]["reason"] == "design ran late" and triggers[0]["actor"] == admin_actor(client.application)


def test_feedback_during_a_replan_is_carried_to_the_new_baseline_when_it_is_approved(client, embedded_app):
    """A report on the old baseline after the replan's status date lands on v2's rows at approval; later reports go
    to v2; every event is kept; approving again is a 409."""
    plan = _executing(client)
    plan_id = plan["id"]
    assert client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "slip"}).status_code == 202
    late = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-03T15:00:00Z",
                                                        "updates": [{"task_id": "docs", "percent_complete": 40}]})
    assert late.status_code == 200 and late.get_json()["baseline_version"] == 1
    approved = client.post(f"/api/v1/plans/{plan_id}/approve", json={"comment": "new dates", "version": 2},
                           headers={"X-Actor": "alice"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "executing" and approved.get_json()["baseline_version"] == 2
    assert approved.get_json()["approval"]["state"] == "approved"
    progress = client.get(f"/api/v1/plans/{plan_id}/progress").get_json()
    assert progress["baseline_version"] == 2 and progress["feedback_seq"] == 2
    assert progress["tasks_by_status"]["completed"] == 1 and progress["tasks_by_status"]["in_progress"] == 1
    docs_uid = _tasks(plan)["docs"]["uid"]
    task = client.get(f"/api/v1/tasks/{docs_uid}/progress").get_json()
    assert task["state"]["percent_complete"] == 40 and len(task["events"]) == 2
    more = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-03T16:00:00Z",
                                                        "updates": [{"task_id": docs_uid, "percent_complete": 60}]})
    assert more.status_code == 200 and more.get_json()["baseline_version"] == 2
    assert client.get(f"/api/v1/tasks/{docs_uid}/progress").get_json()["state"]["percent_complete"] == 60
    again = client.post(f"/api/v1/plans/{plan_id}/approve", json={})
    assert again.status_code == 409 and again.get_json()["current_state"] == "executing"
    assert _versions(embedded_app, plan_id) == [(1, "superseded", "plan"), (2, "ready", "replan")]


def test_rejecting_a_replanned_version_keeps_the_old_baseline(client):
    plan = _executing(client)
    plan_id = plan["id"]
    client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "slip"})
    rejected = client.post(f"/api/v1/plans/{plan_id}/reject", json={"reason": "no"})
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["status"] == "executing" and rejected.get_json()["baseline_version"] == 1
    assert client.post(f"/api/v1/plans/{plan_id}/reject", json={"reason": "no"}).status_code == 409
    fed = client.put(f"/api/v1/plans/{plan_id}", json={"updates": [{"task_id": "docs", "percent_complete": 50}]})
    assert fed.status_code == 200 and fed.get_json()["baseline_version"] == 1


def test_replan_is_refused_unless_the_plan_is_under_way_and_needs_a_reason(client, embedded_app):
    embedded_app.config["PLANNING"] = embedded_app.config["PLANNING"].__class__(auto_approve_low_risk_plans=False)
    plan_id = client.post("/api/v1/plans", json=tiny_goal()).get_json()["id"]
    refused = client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "why not"})
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "/problems/not-replannable"
    assert refused.get_json()["current_state"] == "ready"
    assert refused.get_json()["allowed"] == ["approved", "executing"]
    missing = client.post(f"/api/v1/plans/{plan_id}/replan", json={})
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "reason"
    assert client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "  "}).status_code == 422
    assert client.post("/api/v1/plans/nope/replan", json={"reason": "x"}).status_code == 404
    assert _versions(embedded_app, plan_id) == [(1, "ready", "plan")]


def test_an_approved_plan_without_feedback_replans_from_now(client):
    plan = approved_plan(client)
    answer = client.post(f"/api/v1/plans/{plan['id']}/replan", json={"reason": "pool changed"})
    assert answer.status_code == 202
    assert client.get(answer.headers["Location"]).get_json()["version_status"] == "ready"
    assert client.get(f"/api/v1/plans/{plan['id']}").get_json()["status"] == "approved"


def _scan(app, **settings):
    from dataclasses import replace

    from app.extensions import db
    from app.services import replanning

    with app.app_context():
        result = replanning.scan(session=db.session, settings=replace(app.config["PLANNING"], **settings))
        db.session.remove()
    return result


def test_the_scan_fires_on_a_late_critical_task_and_stores_why(client, embedded_app):
    """SPI(t) and the late critical task fire; the trigger keeps reason and evidence; the replan (eager) makes v2;
    a second scan finds nothing new; continuous replanning off scans nothing."""
    from app.extensions import db
    from app.services import replanning
    from tasks.replan import replan

    plan = _executing(client)
    plan_id = plan["id"]
    assert _scan(embedded_app, enable_continuous_replanning=False).candidates == 0
    with embedded_app.app_context():
        result = replanning.scan(session=db.session, settings=embedded_app.config["PLANNING"])
        assert result.candidates == 1 and result.fired == 1 and len(result.triggers) == 1
        (scanned_plan, trigger_id), = result.triggers
        replan.apply(args=(scanned_plan, trigger_id))
        db.session.remove()
    triggers = client.get(f"/api/v1/plans/{plan_id}/replans").get_json()["triggers"]
    assert len(triggers) == 1 and triggers[0]["source"] == "scan" and triggers[0]["status"] == "replanned"
    assert "critical_task_late" in triggers[0]["kinds"] and "schedule_performance" in triggers[0]["kinds"]
    late = next(e for e in triggers[0]["evidence"] if e["kind"] == "critical_task_late")
    assert late["evidence"]["tasks"][0]["task_id"] in ("design", "build")
    assert client.get(f"/api/v1/plans/{plan_id}").get_json()["current_version"] == 2
    again = _scan(embedded_app)
    assert again.candidates == 0 and again.triggers == []  # nothing new; and v2 awaits a decision


def test_a_trigger_whose_message_was_lost_is_sent_again(client, embedded_app):
    """The scan stored a trigger but `layer2.replan` never ran (the broker was away): a later scan sends it again."""
    from app.extensions import db
    from app.services import replanning

    plan = _executing(client)
    with embedded_app.app_context():
        (_, trigger_id), = replanning.scan(session=db.session, settings=embedded_app.config["PLANNING"]).triggers
        assert replanning.pending_triggers(session=db.session) == []  # not yet: its message may be on its way
        later = datetime.now(UTC) + replanning.RESEND_PENDING_AFTER + timedelta(seconds=1)
        assert replanning.pending_triggers(session=db.session, now=later) == [(plan["id"], trigger_id)]
        db.session.remove()


def test_one_version_per_trigger_and_a_manual_replan_racing_the_scan_makes_one(client, embedded_app):
    """A redelivered replan message makes nothing more; a scan trigger whose replan comes after a manual one joins
    it; the unique window key keeps one automatic trigger per plan per window."""
    from app.extensions import db
    from app.models import ReplanTrigger
    from app.services import replanning

    plan = _executing(client)
    plan_id = plan["id"]
    with embedded_app.app_context():
        result = replanning.scan(session=db.session, settings=embedded_app.config["PLANNING"])
        (_, trigger_id), = result.triggers
        manual = client.post(f"/api/v1/plans/{plan_id}/replan", json={"reason": "now"})
        assert manual.status_code == 202 and manual.get_json()["version"] == 2
        joined = replanning.start_replan(session=db.session, plan_id=plan_id, trigger_id=trigger_id)
        assert joined.created is False and joined.version == 2 and joined.send is False
        redelivered = replanning.start_replan(session=db.session, plan_id=plan_id, trigger_id=trigger_id)
        assert redelivered.created is False and redelivered.version == 2
        trigger = db.session.get(ReplanTrigger, trigger_id)
        assert trigger.status == "merged" and trigger.version == 2
        window = replanning.window_key(trigger.created_at, embedded_app.config["PLANNING"].replanning_interval_minutes)
        assert trigger.window_key == window
        db.session.remove()
    assert _versions(embedded_app, plan_id) == [(1, "superseded", "plan"), (2, "ready", "replan")]


def test_the_scan_debounces_per_plan_and_sees_pool_changes(client, embedded_app):
    """After an approved replan, new evidence within the interval waits; a pool change is a trigger of its own."""
    from app.extensions import db
    from app.models import Plan
    from app.services import replanning

    plan = _executing(client)
    plan_id = plan["id"]
    with embedded_app.app_context():
        settings = embedded_app.config["PLANNING"]
        (_, trigger_id), = replanning.scan(session=db.session, settings=settings).triggers
        started = replanning.start_replan(session=db.session, plan_id=plan_id, trigger_id=trigger_id)
        assert started.created
        db.session.remove()
    from tasks.replan import send_chain

    with embedded_app.app_context():
        send_chain(started)
        db.session.remove()
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={}).status_code == 200
    client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-03T16:00:00Z",
                                                 "updates": [{"task_id": "docs", "percent_complete": 20}]})
    assert _scan(embedded_app).candidates == 0  # debounced: one automatic replan per plan per interval
    pools = client.get("/api/v1/resources").get_json()["resources"]
    answer = client.put("/api/v1/resources", json={"resources": [
        {"type": "engineer", "capacity": 2, "cost_rate": 100, "rate_unit": "hour", "currency": "EUR",
         "hours_per_day": 8, "substitutes": []}, *[p for p in pools if p["type"] != "engineer"]]})
    assert answer.status_code == 200, answer.get_json()
    with embedded_app.app_context():
        db.session.execute(sa.update(Plan).where(Plan.id == plan_id).values(
            last_auto_replan_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
        later = replanning.scan(session=db.session, settings=settings)
        db.session.remove()
    assert later.candidates == 1


def test_beat_declares_the_scan_only_when_continuous_replanning_is_on():
    from planning.settings import PlanningSettings
    from tasks.beat import beat_schedule

    on = beat_schedule(PlanningSettings(replan_scan_seconds=5))
    assert on["replan-scan"]["task"] == "layer2.replan_scan" and on["replan-scan"]["schedule"] == 5.0
    assert on["replan-scan"]["options"]["queue"] == "replan"
    assert "replan-scan" not in beat_schedule(PlanningSettings(enable_continuous_replanning=False))
    assert "resume-stalled-plans" in beat_schedule(PlanningSettings(enable_continuous_replanning=False))


@pytest.mark.parametrize(("env", "message"), [
    ({"PLANNING_REPLAN_SPI_THRESHOLD": "0"}, "replan_spi_t_threshold"),
    ({"PLANNING_REPLAN_CPI_THRESHOLD": "abc"}, "PLANNING_REPLAN_CPI_THRESHOLD"),
    ({"PLANNING_REPLAN_DEADLINE_PROBABILITY": "1.5"}, "replan_deadline_probability_threshold"),
    ({"PLANNING_REPLAN_SCAN_SECONDS": "0.5"}, "replan_scan_seconds"),
    ({"PLANNING_ENABLE_CONTINUOUS_REPLANNING": "maybe"}, "PLANNING_ENABLE_CONTINUOUS_REPLANNING"),
    ({"PLANNING_REPLANNING_INTERVAL": "0"}, "replanning_interval_minutes"),
])
def test_replanning_settings_are_validated(env, message):
    from app.config import ConfigError, build_planning_settings

    with pytest.raises(ConfigError, match=message):
        build_planning_settings(env)


def test_replanning_settings_reach_the_trigger_thresholds():
    from app.config import build_planning_settings
    from planning.replanning import TriggerThresholds

    settings = build_planning_settings({"PLANNING_REPLAN_SPI_THRESHOLD": "0.8", "PLANNING_REPLAN_CPI_THRESHOLD": "0.7",
                                        "PLANNING_ENABLE_CONTINUOUS_REPLANNING": "off",
                                        "PLANNING_REPLAN_SCAN_SECONDS": "5"})
    thresholds = TriggerThresholds.from_settings(settings)
    assert (thresholds.spi_t, thresholds.cpi) == (0.8, 0.7)
    assert settings.enable_continuous_replanning is False and settings.replan_scan_seconds == 5.0


def test_the_stability_tolerance_setting_is_validated_and_read_by_the_replan_stage():
    from planning.settings import PlanningSettings

    assert PlanningSettings(replan_stability_tolerance=8).replan_stability_tolerance == 8
    with pytest.raises(ValueError, match="replan_stability_tolerance"):
        PlanningSettings(replan_stability_tolerance=-1)


def test_the_scan_re_simulates_the_deadline_when_nothing_cheaper_fires(client, embedded_app):
    """With the other triggers out of reach, a slip that makes the deadline unlikely fires deadline_probability,
    with the chance now and when planned as evidence."""
    from app.extensions import db
    from app.services import replanning

    goal = tiny_goal()
    goal["deadline"] = "2026-11-04"  # the plan finishes Wednesday 17:00: on time only as planned
    plan = approved_plan(client, goal)
    assert client.put(f"/api/v1/plans/{plan['id']}", json=SLIP).status_code == 200
    from dataclasses import replace

    with embedded_app.app_context():
        settings = replace(embedded_app.config["PLANNING"], replan_spi_t_threshold=0.01, replan_cpi_threshold=0.01,
                           replan_late_tolerance_hours=1000.0, default_task_timeout_hours=1e6)  # (docs: weeks ago)
        result = replanning.scan(session=db.session, settings=settings)
        assert result.fired == 1, result
        db.session.remove()
    trigger = client.get(f"/api/v1/plans/{plan['id']}/replans").get_json()["triggers"][0]
    assert trigger["kinds"] == ["deadline_probability"]
    evidence = trigger["evidence"][0]["evidence"]
    assert evidence["deadline_probability"] < 0.8 and evidence["planned_deadline_probability"] >= 0.8


def test_a_replan_makes_new_layer8_holds_and_releases_the_replaced_versions(tmp_path):
    """Against the contract's Layer 8 test server: v1's confirmed holds are released, v2's are confirmed."""
    from app import create_app
    from app.cli import upgrade_database
    from tests.layer8_server import Layer8TestServer
    from tests.test_farm_layer8 import goal_for_layer8

    with Layer8TestServer() as layer8:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/l8.sqlite", "CELERY_BROKER_URL": None,
                          "CELERY_KEY_PREFIX": None, "LAYER8_BASE_URL": layer8.url})
        upgrade_database(app)
        client = app.test_client()
        plan = approved_plan(client, goal_for_layer8())
        first = {row["layer8_allocation_id"] for row in plan["allocations"] if row.get("layer8_allocation_id")}
        assert first and {layer8.allocation(a)["status"] for a in first} == {"confirmed"}
        task = plan["critical_path"][0]
        fed = client.put(f"/api/v1/plans/{plan['id']}", json={"updates": [{"task_id": task, "percent_complete": 10}]})
        assert fed.status_code == 200, fed.get_json()
        answer = client.post(f"/api/v1/plans/{plan['id']}/replan", json={"reason": "holds"})
        new = client.get(answer.headers["Location"]).get_json()
        assert new["version_status"] == "ready", new.get("error")
        second = {row["layer8_allocation_id"] for row in new["allocations"] if row.get("layer8_allocation_id")}
        assert second and not second & first
        assert {layer8.allocation(a)["status"] for a in second} == {"confirmed"}
        assert {layer8.allocation(a)["status"] for a in first} == {"released"}
        assert new["integration"]["layer8"]["released_from_replaced_version"]["released"] == len(first)
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def test_the_scan_escalates_aging_issues_and_fires_on_the_realised_risk(client, embedded_app):
    """An issue escalates with the clock: the scan escalates it (as a read would), which makes the plan a candidate,
    and an escalated issue is a realised risk."""
    from app.extensions import db
    from app.models import PlanIssue

    plan = approved_plan(client)
    fed = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": "2026-11-02T17:00:00Z", "updates": [
        {"task_id": "design", "status": "completed"},
        {"task_id": "docs", "status": "blocked", "blocked_reason": "no brand guide"}]})
    assert fed.status_code == 200, fed.get_json()
    first = _scan(embedded_app)
    assert first.candidates == 1 and first.triggers == []  # on time, docs has float: nothing fires
    with embedded_app.app_context():
        db.session.execute(sa.update(PlanIssue).values(opened_at=datetime.now(UTC) - timedelta(hours=100)))
        db.session.commit()
        db.session.remove()
    second = _scan(embedded_app)
    assert second.candidates == 1 and len(second.triggers) == 1
    trigger = client.get(f"/api/v1/plans/{plan['id']}/replans").get_json()["triggers"][0]
    assert "realized_risk" in trigger["kinds"]
    issue = client.get(f"/api/v1/plans/{plan['id']}/issues").get_json()
    issues = issue["issues"] if isinstance(issue, dict) else issue
    assert issues[0]["escalation_level"] >= 1
    # the replan made from it; approved, the issue and its alert follow to the new baseline
    with embedded_app.app_context():
        from tasks.replan import replan

        (plan_id, trigger_id), = second.triggers
        replan.apply(args=(plan_id, trigger_id))
        db.session.remove()
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={}).status_code == 200
    risks = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()
    risks = risks["risks"] if isinstance(risks, dict) else risks
    alert = [risk for risk in risks if risk["rule"] == "escalated_issue"]
    assert alert and alert[0]["status"] == "open"
    resolved = client.post(f"/api/v1/issues/{issues[0]['id']}/resolve", json={"who": "pm", "resolution": "guide in"})
    assert resolved.status_code == 200, resolved.get_json()
    risks = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()
    risks = risks["risks"] if isinstance(risks, dict) else risks
    assert [risk["status"] for risk in risks if risk["rule"] == "escalated_issue"] == ["closed"]
