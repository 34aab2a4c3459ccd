"""Idempotency-Key replays the stored answer and writes nothing; another body under the key is a 422; If-Match."""

from __future__ import annotations

from tests.feedback_support import approved_plan, written

BODY = {"status_date": "2026-11-03T12:00:00Z",
        "updates": [{"task_id": "design", "status": "completed", "actual_cost": 400},
                    {"task_id": "build", "percent_complete": 20, "actual_cost": 350}]}


def test_a_replay_gets_the_same_answer_and_writes_nothing(client, embedded_app):
    plan_id = approved_plan(client)["id"]
    first = client.put(f"/api/v1/plans/{plan_id}", json=BODY, headers={"Idempotency-Key": "req-1"})
    assert first.status_code == 200 and first.headers["ETag"] == '"feedback-1"'
    after_first = written(embedded_app, plan_id)
    assert after_first["events"] == 2 and after_first["seq"] == 1 and after_first["keys"] == 1
    replay = client.put(f"/api/v1/plans/{plan_id}", json=BODY, headers={"Idempotency-Key": "req-1"})
    assert replay.status_code == 200
    assert replay.get_json() == first.get_json()
    assert replay.headers["ETag"] == first.headers["ETag"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert written(embedded_app, plan_id) == after_first


def test_a_replay_is_answered_even_when_its_if_match_is_stale_by_then(client, embedded_app):
    """The retry of a request that went through carries the ETag it was sent with: still its stored answer."""
    plan_id = approved_plan(client)["id"]
    headers = {"Idempotency-Key": "req-2", "If-Match": '"feedback-0"'}
    first = client.put(f"/api/v1/plans/{plan_id}", json=BODY, headers=headers)
    assert first.status_code == 200
    replay = client.put(f"/api/v1/plans/{plan_id}", json=BODY, headers=headers)
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert written(embedded_app, plan_id)["events"] == 2


def test_the_same_key_with_another_body_is_a_422_and_writes_nothing(client, embedded_app):
    plan_id = approved_plan(client)["id"]
    assert client.put(f"/api/v1/plans/{plan_id}", json=BODY, headers={"Idempotency-Key": "req-3"}).status_code == 200
    before = written(embedded_app, plan_id)
    other = {**BODY, "updates": [{"task_id": "build", "percent_complete": 30}]}
    answer = client.put(f"/api/v1/plans/{plan_id}", json=other, headers={"Idempotency-Key": "req-3"})
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["errors"] == [{"field": "Idempotency-Key", "message": "already used with a different body"}]
    assert written(embedded_app, plan_id) == before


def test_keys_belong_to_one_plan(client):
    """The same key on another plan is another request."""
    first = approved_plan(client)["id"]
    second = approved_plan(client)["id"]
    assert client.put(f"/api/v1/plans/{first}", json=BODY, headers={"Idempotency-Key": "k"}).status_code == 200
    answer = client.put(f"/api/v1/plans/{second}", json=BODY, headers={"Idempotency-Key": "k"})
    assert answer.status_code == 200 and "Idempotent-Replayed" not in answer.headers
    assert answer.get_json()["plan_id"] == second


def test_a_refused_request_stores_no_key_so_its_corrected_retry_goes_through(client, embedded_app):
    plan_id = approved_plan(client)["id"]
    bad = {"updates": [{"task_id": "build", "percent_complete": 120}]}
    assert client.put(f"/api/v1/plans/{plan_id}", json=bad, headers={"Idempotency-Key": "k2"}).status_code == 422
    assert written(embedded_app, plan_id)["keys"] == 0
    good = {"updates": [{"task_id": "build", "percent_complete": 20}]}
    assert client.put(f"/api/v1/plans/{plan_id}", json=good, headers={"Idempotency-Key": "k2"}).status_code == 200


def test_if_match_stale_is_412_current_or_star_goes_through(client, embedded_app):
    plan_id = approved_plan(client)["id"]
    progress = client.get(f"/api/v1/plans/{plan_id}/progress")
    assert progress.headers["ETag"] == '"feedback-0"'
    update = {"updates": [{"task_id": "design", "percent_complete": 10}]}
    first = client.put(f"/api/v1/plans/{plan_id}", json=update, headers={"If-Match": progress.headers["ETag"]})
    assert first.status_code == 200 and first.headers["ETag"] == '"feedback-1"'
    before = written(embedded_app, plan_id)
    stale = client.put(f"/api/v1/plans/{plan_id}", json=update, headers={"If-Match": progress.headers["ETag"]})
    assert stale.status_code == 412 and stale.mimetype == "application/problem+json"
    assert stale.get_json()["type"] == "/problems/precondition-failed"
    assert written(embedded_app, plan_id) == before
    listed = client.put(f"/api/v1/plans/{plan_id}", json=update, headers={"If-Match": '"x", "feedback-1"'})
    assert listed.status_code == 200 and listed.headers["ETag"] == '"feedback-2"'
    star = client.put(f"/api/v1/plans/{plan_id}", json=update, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.headers["ETag"] == '"feedback-3"'
    assert client.get(f"/api/v1/plans/{plan_id}/progress").headers["ETag"] == '"feedback-3"'
