"""Bad feedback is a 4xx problem+json naming the field, and writes nothing (issue 13: the table of cases).

One approved plan (tests/feedback_support.py) is set up once: `design` reported completed on
Monday 2026-11-02 17:00; `build` and `docs` not started. Every case below is sent against that
state and must leave every feedback table and live row exactly as it was.
"""

from __future__ import annotations

import json

import pytest

from tests.feedback_support import approved_plan, strict_json, written

STATUS_DATE = "2026-11-03T12:00:00Z"  # Tuesday, working hour 11


def _update(**fields) -> dict:
    return {"status_date": STATUS_DATE, "updates": [fields]}


# (case id, body (or raw bytes), extra headers, expected status, expected field or None)
CASES = [
    ("unknown task", _update(task_id="nope", status="in_progress"), {}, 422, "updates[0].task_id"),
    ("percent above 100", _update(task_id="build", percent_complete=101), {}, 422, "updates[0].percent_complete"),
    ("percent below 0", _update(task_id="build", percent_complete=-1), {}, 422, "updates[0].percent_complete"),
    ("percent as a string", _update(task_id="build", percent_complete="50"), {}, 422, "updates[0].percent_complete"),
    ("percent as a boolean", _update(task_id="build", percent_complete=True), {}, 422,
     "updates[0].percent_complete"),
    ("unknown status", _update(task_id="build", status="done"), {}, 422, "updates[0].status"),
    ("finish before start", _update(task_id="build", status="completed", actual_start="2026-11-03T11:00:00Z",
                                    actual_finish="2026-11-03T10:00:00Z"), {}, 422, "updates[0].actual_finish"),
    ("start after the status date", _update(task_id="build", status="in_progress",
                                            actual_start="2026-11-03T15:00:00Z"), {}, 422, "updates[0].actual_start"),
    ("finish after the status date", _update(task_id="docs", status="completed", actual_start="2026-11-03T09:00:00Z",
                                             actual_finish="2026-11-04T09:00:00Z"), {}, 422,
     "updates[0].actual_finish"),
    ("completed task sent back without reopen", _update(task_id="design", status="in_progress", percent_complete=50),
     {}, 409, "updates[0].status"),
    ("completed task sent to not_started without reopen", _update(task_id="design", status="not_started"), {}, 409,
     "updates[0].status"),
    ("reopen without a percentage", _update(task_id="design", status="in_progress", reopen=True), {}, 422,
     "updates[0].percent_complete"),
    ("duplicate task ids", {"status_date": STATUS_DATE, "updates": [
        {"task_id": "build", "percent_complete": 10}, {"task_id": "build", "percent_complete": 20}]}, {}, 422,
     "updates[1].task_id"),
    ("the same task by id and by uid", "SAME_TASK_BY_UID", {}, 422, "updates[1].task_id"),
    ("third update names its index", {"status_date": STATUS_DATE, "updates": [
        {"task_id": "build", "percent_complete": 10}, {"task_id": "docs", "percent_complete": 10},
        {"task_id": "design", "percent_complete": 250}]}, {}, 422, "updates[2].percent_complete"),
    ("updates missing", {"status_date": STATUS_DATE}, {}, 422, "updates"),
    ("updates not a list", {"updates": {"task_id": "build"}}, {}, 422, "updates"),
    ("updates empty", {"updates": []}, {}, 422, "updates"),
    ("an update not an object", {"updates": ["build"]}, {}, 422, "updates[0]"),
    ("unknown body field", {"updates": [{"task_id": "build", "percent_complete": 5}], "data_date": STATUS_DATE},
     {}, 422, "data_date"),
    ("unknown update field", _update(task_id="build", percent_complete=5, hours=3), {}, 422, "updates[0].hours"),
    ("task id missing", _update(percent_complete=5), {}, 422, "updates[0].task_id"),
    ("task id a number", _update(task_id=7, percent_complete=5), {}, 422, "updates[0].task_id"),
    ("status date not a date", {"status_date": "yesterday", "updates": [{"task_id": "build", "percent_complete": 5}]},
     {}, 422, "status_date"),
    ("status date out of range", {"status_date": "9999-01-01T00:00:00Z",
                                  "updates": [{"task_id": "build", "percent_complete": 5}]}, {}, 422, "status_date"),
    ("actual start not a date", _update(task_id="build", status="in_progress", actual_start=20261103), {}, 422,
     "updates[0].actual_start"),
    ("negative actual cost", _update(task_id="build", percent_complete=5, actual_cost=-10), {}, 422,
     "updates[0].actual_cost"),
    ("remaining hours not a number", _update(task_id="build", percent_complete=5, remaining_hours="x"), {}, 422,
     "updates[0].remaining_hours"),
    ("blocked without a reason", _update(task_id="build", status="blocked"), {}, 422, "updates[0].blocked_reason"),
    ("blocked reason on a task in progress", _update(task_id="build", status="in_progress", blocked_reason="x"),
     {}, 422, "updates[0].blocked_reason"),
    ("completed below 100 %", _update(task_id="build", status="completed", percent_complete=50), {}, 422,
     "updates[0].percent_complete"),
    ("in progress at 100 %", _update(task_id="build", status="in_progress", percent_complete=100), {}, 422,
     "updates[0].percent_complete"),
    ("not started with an actual start", _update(task_id="build", status="not_started",
                                                 actual_start="2026-11-03T09:00:00Z"), {}, 422,
     "updates[0].actual_start"),
    ("not started above 0 %", _update(task_id="build", status="not_started", percent_complete=10), {}, 422,
     "updates[0].percent_complete"),
    ("actual start before the project start", _update(task_id="build", status="in_progress",
                                                      actual_start="2026-10-30T09:00:00Z"), {}, 422,
     "updates[0].actual_start"),
    ("status date before the task's last report", {"status_date": "2026-11-02T12:00:00Z",
                                                   "updates": [{"task_id": "design", "actual_cost": 10}]}, {}, 422,
     "status_date"),
    ("reopen not a boolean", _update(task_id="design", status="in_progress", percent_complete=50, reopen="yes"),
     {}, 422, "updates[0].reopen"),
    ("note too long", _update(task_id="build", percent_complete=5, note="x" * 2001), {}, 422, "updates[0].note"),
    ("body is a list", [{"task_id": "build"}], {}, 400, None),
    ("malformed JSON", b'{"updates": [', {}, 400, None),
    ("not JSON at all", b"task=build", {"Content-Type": "text/plain"}, 415, None),
    ("oversize body", {"updates": [{"task_id": "build", "percent_complete": 5, "note": "x" * 2000}] * 130}, {}, 413,
     None),
    ("too many updates", {"updates": [{"task_id": f"t{i}", "percent_complete": 1} for i in range(501)]}, {}, 413,
     "updates"),
    ("idempotency key too long", _update(task_id="build", percent_complete=5), {"Idempotency-Key": "k" * 201}, 400,
     "Idempotency-Key"),
    ("stale If-Match", _update(task_id="build", percent_complete=5), {"If-Match": '"feedback-0"'}, 412, None),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.farm)])
def setup(request, tmp_path_factory):
    """One app (Celery eager) on SQLite, then on PostgreSQL (its own path: one locking statement, one writing
    statement), one approved plan with `design` completed on Monday 17:00."""
    from app import create_app
    from app.cli import upgrade_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('feedback-validation')}/layer2.sqlite"
    else:
        url = request.getfixturevalue("pg_url")
    app = create_app({"DATABASE_URL": url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    client = app.test_client()
    plan = approved_plan(client)
    answer = client.put(f"/api/v1/plans/{plan['id']}", json={
        "status_date": "2026-11-02T17:00:00Z",
        "updates": [{"task_id": "design", "status": "completed", "actual_start": "2026-11-02T09:00:00Z",
                     "actual_finish": "2026-11-02T17:00:00Z", "actual_cost": 420}]})
    assert answer.status_code == 200, answer.get_json()
    yield app, client, plan
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.mark.parametrize(("body", "headers", "status", "field"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_feedback_is_refused_and_writes_nothing(setup, body, headers, status, field):
    app, client, plan = setup
    plan_id = plan["id"]
    if body == "SAME_TASK_BY_UID":
        uid = next(task["uid"] for task in plan["tasks"] if task["id"] == "build")
        body = {"status_date": STATUS_DATE, "updates": [{"task_id": "build", "percent_complete": 10},
                                                        {"task_id": uid, "percent_complete": 20}]}
    before = written(app, plan_id)
    if isinstance(body, bytes):
        answer = client.put(f"/api/v1/plans/{plan_id}", data=body,
                            headers={"Content-Type": "application/json", **headers})
    else:
        answer = client.put(f"/api/v1/plans/{plan_id}", data=json.dumps(body),
                            headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    problem = strict_json(answer.get_data(as_text=True))
    assert problem["status"] == status and problem["type"].startswith("/problems/")
    if field is not None:
        assert field in [error["field"] for error in problem.get("errors", [])], problem
    assert written(app, plan_id) == before


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_every_bad_field_is_named_not_just_the_first(setup):
    app, client, plan = setup
    answer = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": STATUS_DATE, "updates": [
        {"task_id": "build", "percent_complete": 120}, {"task_id": "docs", "actual_cost": -1},
        {"task_id": "ghost", "status": "in_progress"}]})
    assert answer.status_code == 422
    fields = [error["field"] for error in answer.get_json()["errors"]]
    assert fields == ["updates[0].percent_complete", "updates[1].actual_cost"]  # the body alone fails first
    answer = client.put(f"/api/v1/plans/{plan['id']}", json={"status_date": STATUS_DATE, "updates": [
        {"task_id": "ghost", "status": "in_progress"}, {"task_id": "build", "status": "blocked"}]})
    assert [e["field"] for e in answer.get_json()["errors"]] == ["updates[0].task_id", "updates[1].blocked_reason"]


def test_feedback_on_a_plan_that_is_not_approved_or_executing_is_a_409(setup):
    app, client, _ = setup
    plan = approved_plan(client)
    assert client.delete(f"/api/v1/plans/{plan['id']}").status_code == 200
    before = written(app, plan["id"])
    answer = client.put(f"/api/v1/plans/{plan['id']}", json=_update(task_id="build", percent_complete=5))
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["type"] == "/problems/plan-not-executing" and "cancelled" in problem["detail"]
    assert written(app, plan["id"]) == before


def test_feedback_on_an_unknown_plan_is_a_404(setup):
    _, client, _ = setup
    answer = client.put("/api/v1/plans/no-such-plan", json=_update(task_id="build", percent_complete=5))
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
