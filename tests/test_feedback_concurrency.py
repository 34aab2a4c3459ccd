"""Concurrent feedback on the real PostgreSQL over HTTP: no lost update, one event per accepted request.

The API is served over a loopback port by a threaded server; the app runs Celery eagerly (the
plan is made inside its POST) but stores everything in a PostgreSQL database of its own.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from tests import farm
from tests.feedback_support import tiny_goal

pytestmark = pytest.mark.farm

THREADS = 16
ACCEPTED_PER_THREAD = 3


@pytest.fixture
def pg_api(pg_url):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": pg_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    server = farm.ApiServer(app)
    yield app, server.base_url
    server.stop()
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def _approved_plan(base_url: str) -> str:
    plan_id = requests.post(f"{base_url}/api/v1/plans", json=tiny_goal(), timeout=60).json()["id"]
    plan = requests.get(f"{base_url}/api/v1/plans/{plan_id}", timeout=10).json()
    if plan["status"] == "ready":
        assert requests.post(f"{base_url}/api/v1/plans/{plan_id}/approve", json={}, timeout=10).status_code == 200
    assert requests.get(f"{base_url}/api/v1/plans/{plan_id}", timeout=10).json()["status"] == "approved"
    return plan_id


def _events(app, plan_id: str) -> list:
    from app.extensions import db
    from app.models import FeedbackEvent, PlanTask

    with app.app_context():
        events = db.session.execute(sa.select(FeedbackEvent.seq, FeedbackEvent.task_key, FeedbackEvent.state)
                                    .where(FeedbackEvent.plan_id == plan_id).order_by(FeedbackEvent.id)).all()
        versions = dict(db.session.execute(sa.select(PlanTask.task_key, PlanTask.row_version)
                                           .where(PlanTask.plan_version_id.in_(
                                               sa.select(FeedbackEvent.plan_version_id)
                                               .where(FeedbackEvent.plan_id == plan_id)))).all())
        db.session.remove()
    return events, versions


def test_sixteen_clients_with_if_match_lose_no_update(pg_api):
    """Each client reads AC and the ETag, then sends AC + 1 with If-Match, retrying on 412: the final AC
    is the number of accepted requests, each of which left exactly one event and moved the counter by one."""
    app, base_url = pg_api
    plan_id = _approved_plan(base_url)
    accepted: list[int] = []
    refused = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        done = 0
        while done < ACCEPTED_PER_THREAD:
            progress = session.get(f"{base_url}/api/v1/plans/{plan_id}/progress", timeout=30)
            cost = progress.json()["evm"]["ac"]
            answer = session.put(f"{base_url}/api/v1/plans/{plan_id}", timeout=30,
                                 headers={"If-Match": progress.headers["ETag"]},
                                 json={"status_date": "2026-11-03T13:00:00Z",
                                       "updates": [{"task_id": "docs", "status": "in_progress",
                                                    "actual_cost": cost + 1}]})
            if answer.status_code == 200:
                with lock:
                    accepted.append(answer.json()["feedback_seq"])
                done += 1
            elif answer.status_code == 412:
                with lock:
                    refused[412] += 1
            else:
                with lock:
                    failures.append(f"{answer.status_code} {answer.text[:300]}")
                return

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    total = THREADS * ACCEPTED_PER_THREAD
    assert sorted(accepted) == list(range(1, total + 1))  # every accepted request moved the counter once
    progress = requests.get(f"{base_url}/api/v1/plans/{plan_id}/progress", timeout=10)
    assert progress.json()["evm"]["ac"] == total  # no lost update: every increment is there
    assert progress.headers["ETag"] == f'"feedback-{total}"'
    events, versions = _events(app, plan_id)
    assert [seq for seq, _, _ in events] == list(range(1, total + 1))  # exactly one event per accepted request
    assert [state["actual_cost"] for _, _, state in events] == [float(n) for n in range(1, total + 1)]
    assert versions["docs"] == total + 1
    assert refused[412] > 0  # the clients did race


def test_sixteen_clients_without_if_match_are_applied_one_at_a_time(pg_api):
    """Blind updates (no If-Match, default status date) all go through, serialized on the plan's row lock."""
    app, base_url = pg_api
    plan_id = _approved_plan(base_url)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        session = requests.Session()
        for round_ in range(3):
            answer = session.put(f"{base_url}/api/v1/plans/{plan_id}", timeout=30, json={"updates": [
                {"task_id": "build", "status": "in_progress", "note": f"client {number} round {round_}"},
                {"task_id": "docs", "status": "in_progress", "actual_cost": number * 10 + round_}]})
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [a.status_code for a in answers] == [200] * (THREADS * 3), [a.text[:200] for a in answers
                                                                        if a.status_code != 200][:3]
    events, versions = _events(app, plan_id)
    assert len(events) == THREADS * 3 * 2
    assert Counter(seq for seq, _, _ in events) == {seq: 2 for seq in range(1, THREADS * 3 + 1)}
    assert versions["build"] == versions["docs"] == THREADS * 3 + 1
    dates = [state["status_date"] for _, task, state in events if task == "docs"]
    assert dates == sorted(dates)  # the default status date is taken under the lock: in order


def test_idempotency_and_if_match_on_postgresql(pg_api):
    """The PostgreSQL path (one locking, one writing statement): a replay writes nothing, another body is a 422,
    a stale If-Match a 412, and a refused first request leaves no counter row behind."""
    app, base_url = pg_api
    plan_id = _approved_plan(base_url)
    url = f"{base_url}/api/v1/plans/{plan_id}"
    refused = requests.put(url, json={"updates": [{"task_id": "nope", "status": "in_progress"}]}, timeout=10)
    assert refused.status_code == 422
    assert requests.get(f"{url}/progress", timeout=10).headers["ETag"] == '"feedback-0"'
    body = {"status_date": "2026-11-03T12:00:00Z", "updates": [{"task_id": "design", "status": "completed"}]}
    first = requests.put(url, json=body, headers={"Idempotency-Key": "pg-1", "If-Match": '"feedback-0"'}, timeout=10)
    assert first.status_code == 200 and first.headers["ETag"] == '"feedback-1"'
    replay = requests.put(url, json=body, headers={"Idempotency-Key": "pg-1", "If-Match": '"feedback-0"'}, timeout=10)
    assert replay.status_code == 200 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = requests.put(url, json={**body, "status_date": "2026-11-03T13:00:00Z"},
                         headers={"Idempotency-Key": "pg-1"}, timeout=10)
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    stale = requests.put(url, json={"updates": [{"task_id": "build", "percent_complete": 5}]},
                         headers={"If-Match": '"feedback-0"'}, timeout=10)
    assert stale.status_code == 412
    events, versions = _events(app, plan_id)
    assert [(seq, task) for seq, task, _ in events] == [(1, "design")] and versions["design"] == 2
