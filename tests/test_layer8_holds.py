"""Layer 8 holds follow the plan (issue 12), against the contract's test server on loopback.

The availability window starts at the plan's own start, holds are made for the days the
schedule gives each task (not the allocation stage's early starts), and a cancelled plan
releases them. The embedded app (SQLite, eager Celery) runs the whole pipeline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from tests.layer8_server import Layer8TestServer

ONE_ENGINEER = [{"type": "engineer", "capacity": 1, "cost_rate": 80.0, "rate_unit": "hour", "currency": "USD",
                 "hours_per_day": 8, "substitutes": []}]
TWO_DAYS = {"optimistic": 16, "most_likely": 16, "pessimistic": 16}
# Two equal jobs for Layer 8's one engineer, then a release: the allocation stage has both jobs start on the
# first day (and asks Layer 8 for a second engineer); the schedule runs them one after the other.
GOAL = {"title": "Two jobs for one engineer", "start": "2027-03-01", "tasks": [
    {"id": "importer", "name": "Build the importer", "estimate": TWO_DAYS, "resources": {"engineer": 1}},
    {"id": "exporter", "name": "Build the exporter", "estimate": TWO_DAYS, "resources": {"engineer": 1}},
    {"id": "release", "name": "Release both", "estimate": {"optimistic": 8, "most_likely": 8, "pessimistic": 8},
     "depends_on": ["importer", "exporter"], "resources": {"engineer": 1}}]}


@pytest.fixture
def layer8():
    with Layer8TestServer(ONE_ENGINEER) as server:
        yield server


@pytest.fixture
def app(tmp_path, layer8):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/l8.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER8_BASE_URL": layer8.url})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def planned(app, goal: dict) -> dict:
    client = app.test_client()
    plan_id = client.post("/api/v1/plans", json=goal).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["version_status"] == "ready", plan.get("error")
    return plan


def test_the_availability_window_starts_at_the_goals_start(app, layer8):
    """A goal with a start asks Layer 8 for availability from that start, not from the day it is planned."""
    planned(app, GOAL)
    assert [start for start, _ in layer8.availability_windows()] == [date(2027, 3, 1)]


def test_without_a_start_the_window_starts_on_the_day_the_plan_was_made(app, layer8):
    """A resumed or replayed allocate stage of a goal without start asks from the plan's creation day, not today."""
    from app.services.stage_io import gather_allocation_sources
    from planning.goal import Goal
    from planning.settings import PlanningSettings
    from planning.stages.input import StageInput

    goal = Goal.from_dict({key: value for key, value in GOAL.items() if key != "start"})
    made = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with app.test_request_context():
        gather_allocation_sources(StageInput(goal=goal, settings=PlanningSettings(), created_at=made, plan_id="p"))
    assert [start for start, _ in layer8.availability_windows()] == [date(2026, 6, 1)]


def test_holds_are_made_for_the_scheduled_dates(app, layer8):
    """Every hold Layer 8 has covers exactly the days its task is scheduled, also where the schedule moved the task
    after the allocation stage's early start (which Layer 8 could not have held: its one engineer was taken)."""
    from app.extensions import db
    from app.models import StageResult

    plan = planned(app, GOAL)
    with app.app_context():
        early = db.session.execute(sa.select(StageResult.output).where(StageResult.stage == "allocate")).scalar()
    early_window = {row["task_id"]: (row["from"], row["to"]) for row in early["allocations"]}
    rows = plan["allocations"]
    assert {row["status"] for row in rows} == {"confirmed"}
    for row in rows:
        held = layer8.allocation(row["layer8_allocation_id"])
        scheduled = (row["start"][:10], row["finish"][:10])
        assert (held["from"], held["to"]) == scheduled == (row["from"], row["to"]), row["task_id"]
        assert held["status"] == "confirmed" and held["reference"] == f"{plan['id']}/v1"
    moved = [row["task_id"] for row in rows if early_window[row["task_id"]] != (row["from"], row["to"])]
    assert moved, "the schedule moved no task: the case does not tell the two windows apart"
    task_rows = [row for task in plan["tasks"] for row in task["allocations"]]
    assert sorted(map(str, task_rows)) == sorted(map(str, rows))  # the tasks show the same rows


def test_a_cancelled_plan_releases_its_holds(app, layer8):
    """DELETE on a planned plan releases at Layer 8 every hold it made; another plan's holds stay."""
    plan = planned(app, GOAL)
    other = planned(app, {**GOAL, "start": "2027-04-05"})
    assert {hold["status"] for hold in layer8.holds_of(plan["id"])} == {"confirmed"}
    answer = app.test_client().delete(f"/api/v1/plans/{plan['id']}")
    assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
    assert len(layer8.holds_of(plan["id"])) == 3
    assert {hold["status"] for hold in layer8.holds_of(plan["id"])} == {"released"}
    assert {hold["status"] for hold in layer8.holds_of(other["id"])} == {"confirmed"}


def test_holds_made_by_a_validate_that_the_cancel_overtook_are_released(tmp_path, layer8):
    """DELETE while validate (the last stage) runs, after it held capacity and before it saves: the save keeps
    nothing and the holds it made are released."""
    import threading
    import time

    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/race.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER8_BASE_URL": layer8.url,
                      "TESTONLY_STAGE_DELAY": "validate=3"})
    upgrade_database(app)
    posted = threading.Thread(target=lambda: app.test_client().post("/api/v1/plans", json=GOAL))
    posted.start()
    deadline = time.monotonic() + 30
    while not layer8.allocations("confirmed") and time.monotonic() < deadline:
        time.sleep(0.05)
    held = layer8.allocations("confirmed")
    assert held, "validate made no hold"
    plan_id = held[0]["reference"].split("/")[0]
    answer = app.test_client().delete(f"/api/v1/plans/{plan_id}")
    posted.join(30)
    assert answer.status_code == 200 and answer.get_json()["version_status"] == "cancelled"
    assert {hold["status"] for hold in layer8.holds_of(plan_id)} == {"released"}
    plan = app.test_client().get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["status"] == "cancelled" and "tasks" not in plan
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_only_what_starts_within_the_planning_horizon_is_held(tmp_path, layer8):
    """planning_horizon_days = 1: every task is scheduled, only the first job (starting within a day) is held; the
    later rows say when the horizon reaches them; the availability window still covers the whole schedule."""
    from app import create_app
    from app.cli import upgrade_database
    from planning.settings import PlanningSettings

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/horizon.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER8_BASE_URL": layer8.url,
                      "PLANNING": PlanningSettings(planning_horizon_days=1)})
    upgrade_database(app)
    plan = planned(app, GOAL)
    rows = {row["task_id"]: row for row in plan["allocations"]}
    near = [task for task, row in rows.items() if row["start"][:10] == "2027-03-01"]
    assert len(near) == 1 and rows[near[0]]["status"] == "confirmed" and not rows[near[0]].get("beyond_horizon")
    for task in set(rows) - set(near):
        assert rows[task]["beyond_horizon"] is True and rows[task]["status"] != "confirmed"
        assert rows[task]["hold_from"] == str(date.fromisoformat(rows[task]["start"][:10]).replace(
            day=int(rows[task]["start"][8:10]) - 1))
    assert len(layer8.holds_of(plan["id"])) == 1
    assert plan["horizon"] == {"days": 1, "from": "2027-03-01", "until": "2027-03-02", "deferred_allocations": 2}
    assert layer8.availability_windows()[-1] == (date(2027, 3, 1), date(2027, 3, 3))  # the precedence-only finish
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
