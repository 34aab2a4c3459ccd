"""Message topics on the real broker (docs/events.md): the outbox relay and the consumer as processes,
PostgreSQL, Redis (the shared one under a key prefix of the test's own, or a throwaway one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Exchange, Queue

from app.events.schemas import DEAD_LETTER, MESSAGE_SCHEMAS
from tests import farm
from tests.conftest import load_example

EXCHANGE = "layer2.events"
OUTGOING = ("plans.created", "plans.updated", "tasks.assigned", "risks.alerts")


class EventsProcess:
    """`layer2-planning relay` or `layer2-planning consume` in its own process group, logging to a file."""

    def __init__(self, command: str, env: dict[str, str], log_dir: Path, **extra_env: str):
        self.log_path = log_dir / f"{command}-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen([sys.executable, "-m", "app.cli", command], cwd=farm.ROOT,
                                        env={**os.environ, **env, **extra_env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(self, marker: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{marker!r} not in the log after {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        farm.stop_group(self.process, self.log, grace=15)


@pytest.fixture(autouse=True)
def _forget_our_keys(farm_env):
    """The shared Redis keeps nothing of ours after the test: bindings and queues under our key prefix."""
    yield
    import redis

    client = redis.Redis.from_url(farm.REDIS_URL)
    keys = list(client.scan_iter(match=f"{farm_env['CELERY_KEY_PREFIX']}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def start_events(farm_env, tmp_path):
    started: list[EventsProcess] = []

    def start(command: str, **extra_env: str) -> EventsProcess:
        process = EventsProcess(command, farm_env, tmp_path, **extra_env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _connection(url: str, prefix: str) -> Connection:
    return Connection(url, transport_options={"global_keyprefix": prefix})


def _bind(connection: Connection, name: str, routing_key: str) -> Queue:
    queue = Queue(name, Exchange(EXCHANGE, type="topic", durable=True), routing_key=routing_key, durable=True)
    queue(connection.default_channel).declare()
    return queue


def _drain(connection: Connection, queue: Queue) -> list[dict]:
    """Every message waiting on `queue`, acknowledged, as decoded JSON."""
    bound = queue(connection.default_channel)
    messages = []
    while (message := bound.get(no_ack=False)) is not None:
        messages.append(json.loads(message.body))
        message.ack()
    return messages


def _outbox(app, after: int = 0) -> list:
    """The outbox rows after id `after` (the farm tests share one database)."""
    from app.extensions import db
    from app.models import OutboxEvent

    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEvent.id, OutboxEvent.event_id, OutboxEvent.topic,
                                            OutboxEvent.plan_id, OutboxEvent.sent_at)
                                  .where(OutboxEvent.id > after).order_by(OutboxEvent.id)).all()
        db.session.remove()
    return rows


def _last_id(app) -> int:
    rows = _outbox(app)
    return rows[-1].id if rows else 0


def _wait_all_sent(app, timeout: float = 30.0, after: int = 0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _outbox(app, after)
        if rows and all(row.sent_at is not None for row in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"outbox not all sent after {timeout} s: {sum(r.sent_at is None for r in rows)} unsent")


def _post(base_url: str, goal: dict) -> str:
    response = requests.post(f"{base_url}/api/v1/plans", json=goal, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_every_outgoing_topic_reaches_a_bound_queue(farm_app, farm_env, api_server, start_worker, start_events):
    """A plan planned, approved and reported on: each of the four topics carries its events to a queue bound by
    routing key; every outbox row arrives once, under its id, and matches its topic's JSON Schema."""
    prefix = farm_env["CELERY_KEY_PREFIX"]
    with _connection(farm.REDIS_URL, prefix) as connection:
        queues = {topic: _bind(connection, f"test.{topic}", topic) for topic in OUTGOING}
        start_worker("events")
        relay = start_events("relay")
        relay.wait_for("relay: publishing")
        base = api_server.base_url
        plan_id = _post(base, load_example("website-launch.json"))
        plan = farm.wait_for_plan(base, plan_id)
        assert plan["status"] == "ready", plan.get("error")
        assert requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={}, timeout=10).status_code == 200
        first = next(task["id"] for task in plan["tasks"] if not task.get("depends_on"))
        answer = requests.put(f"{base}/api/v1/plans/{plan_id}", timeout=10,
                              json={"updates": [{"task_id": first, "status": "completed"}]})
        assert answer.status_code == 200, answer.text
        rows = _wait_all_sent(farm_app)
        # (the relay also sends what other farm tests left in the shared database's outbox)
        received = {topic: [message for message in _drain(connection, queue) if message["plan_id"] == plan_id]
                    for topic, queue in queues.items()}

    for topic, messages in received.items():
        assert messages, f"nothing on {topic}"
        for message in messages:
            jsonschema.validate(message, MESSAGE_SCHEMAS[topic])
            assert message["type"] == topic and message["plan_id"] == plan_id
    ids = [message["id"] for messages in received.values() for message in messages]
    assert sorted(ids) == sorted(row.event_id for row in rows if row.plan_id == plan_id)  # each once, none invented
    changes = [message["payload"]["change"] for message in received["plans.updated"]]
    assert changes == ["planning", "ready", "approved", "executing"]
    assigned = [message["payload"]["task"]["id"] for message in received["tasks.assigned"]]
    roots = {task["id"] for task in plan["tasks"] if not task.get("depends_on")}
    after_first = {task["id"] for task in plan["tasks"] if task.get("depends_on") == [first]}
    assert len(assigned) == len(set(assigned)) and set(assigned) == roots | after_first and after_first
    assert received["tasks.assigned"][0]["payload"]["resources"], "the assigned task's resources"
    assert {message["payload"]["risk"]["id"] for message in received["risks.alerts"]} == set(plan["risk_alerts"])


@pytest.fixture
def throwaway_redis(tmp_path):
    """A Redis of the test's own on a free port, with an append-only file so a restart keeps what it held."""
    port = farm.free_port()
    directory = tmp_path / "redis"
    directory.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
               "--appendfsync", "always", "--dir", str(directory)]
    state = {"process": None}

    def start() -> None:
        state["process"] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                redis.Redis(port=port, socket_timeout=0.5).ping()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("the throwaway redis-server did not start")

    def stop() -> None:
        process = state["process"]
        process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        process.wait(timeout=10)

    start()
    yield SimpleRedis(f"redis://127.0.0.1:{port}/0", start, stop)
    if state["process"].poll() is None:
        stop()


class SimpleRedis:
    def __init__(self, url, start, stop):
        self.url, self.start, self.stop = url, start, stop


def test_broker_outage_delays_events_and_loses_none(farm_app, farm_env, throwaway_redis, start_events):
    """The events broker (a throwaway Redis) stops while plans are made and cancelled: the changes succeed, their
    events wait in the outbox, and after the restart every event arrives exactly once, by id (two relays share
    the outbox: SKIP LOCKED gives each row to one)."""
    prefix = farm_env["CELERY_KEY_PREFIX"]
    with _connection(throwaway_redis.url, prefix) as connection:
        queue = _bind(connection, "test.all", "#")
    relays = [start_events("relay", LAYER2_EVENTS_BROKER_URL=throwaway_redis.url, LAYER2_RELAY_BATCH="2")
              for _ in range(2)]
    for relay in relays:
        relay.wait_for("relay: publishing")
    client = farm_app.test_client()  # the API in this process; its Celery broker is the shared Redis
    goal = load_example("website-launch.json")

    def make_changes() -> None:
        for _ in range(3):
            response = client.post("/api/v1/plans", json=goal)
            assert response.status_code == 202, response.get_json()
        plan_id = response.get_json()["id"]
        assert client.delete(f"/api/v1/plans/{plan_id}").status_code == 200

    mark = _last_id(farm_app)
    make_changes()
    before = _wait_all_sent(farm_app, after=mark)
    throwaway_redis.stop()
    make_changes()
    time.sleep(2.0)  # the relay tries, fails and backs off
    waiting = [row for row in _outbox(farm_app, mark) if row.sent_at is None]
    assert len(waiting) == 4, "the changes made during the outage wait in the outbox"
    throwaway_redis.start()
    rows = _wait_all_sent(farm_app, timeout=30, after=mark)
    assert any("retrying" in relay.log_path.read_text() for relay in relays)
    with _connection(throwaway_redis.url, prefix) as connection:
        messages = _drain(connection, queue)
    ids = [message["id"] for message in messages]  # (and what other farm tests left unsent in the shared database)
    assert len(ids) == len(set(ids)), "no event twice"
    ours = {row.event_id for row in rows}
    assert len(ours) == len(before) + 4 and ours <= set(ids), "every event of the changes arrived"


def test_a_relay_dying_before_it_marks_a_batch_sent_republishes_it_under_the_same_ids(farm_app, farm_env,
                                                                                    start_events):
    """At least once, never invented: a relay killed between publishing and committing leaves the batch unsent; the
    next relay publishes it again, and every copy carries its event's id (consumers deduplicate by it)."""
    prefix = farm_env["CELERY_KEY_PREFIX"]
    with _connection(farm.REDIS_URL, prefix) as connection:
        queue = _bind(connection, "test.crash", "plans.*")
        mark = _last_id(farm_app)
        client = farm_app.test_client()
        for _ in range(2):
            assert client.post("/api/v1/plans", json=load_example("website-launch.json")).status_code == 202
        ours = {row.event_id for row in _outbox(farm_app, mark)}
        crashing = start_events("relay", LAYER2_TESTONLY_RELAY_CRASH="1", LAYER2_RELAY_BATCH="10000")
        crashing.process.wait(timeout=30)
        assert crashing.process.returncode == 1
        assert all(row.sent_at is None for row in _outbox(farm_app, mark)), "nothing was marked sent"
        start_events("relay").wait_for("relay: publishing")
        _wait_all_sent(farm_app, after=mark)
        ids = [message["id"] for message in _drain(connection, queue)]
    assert ours <= set(ids), "none lost"
    assert all(ids.count(event_id) == 2 for event_id in set(ids)), "each event twice, under its own id"


def _publish(connection: Connection, topic: str, body, *, raw: bool = False) -> None:
    producer = connection.Producer(serializer="json")
    exchange = Exchange(EXCHANGE, type="topic", durable=True)
    if raw:
        producer.publish(body, exchange=exchange, routing_key=topic, content_type="application/json",
                         content_encoding="utf-8", declare=[exchange])
    else:
        producer.publish(body, exchange=exchange, routing_key=topic, declare=[exchange])


def _wait(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout} s")


def test_consumer_takes_goals_feedback_and_availability_and_dead_letters_the_invalid(
        farm_app, farm_env, api_server, start_worker, start_events):
    """goals.created makes one plan per message id (a duplicate makes none); an invalid goal and a broken message go
    to the dead-letter queue with their problem documents; a feedback message sent twice is applied once;
    resources.availability changes the named pool."""
    from app.extensions import db
    from app.models import FeedbackEvent, Goal, Plan

    prefix = farm_env["CELERY_KEY_PREFIX"]
    base = api_server.base_url
    start_worker("consumer")
    consumer = start_events("consume")
    consumer.wait_for("consumer: consuming")

    title = f"events consumer {uuid.uuid4().hex[:8]}"  # the farm tests share one database

    def plans() -> list[str]:
        with farm_app.app_context():
            ids = list(db.session.execute(sa.select(Plan.id).join(Goal, Goal.id == Plan.goal_id)
                                          .where(Goal.title == title)).scalars())
            db.session.remove()
        return ids

    with _connection(farm.REDIS_URL, prefix) as connection:
        dead = Queue("layer2.dead_letter", Exchange(EXCHANGE, type="topic", durable=True),
                     routing_key="dead_letter.#", durable=True)
        goal = {**load_example("website-launch.json"), "title": title}
        message = {"id": str(uuid.uuid4()), "type": "goals.created", "payload": goal}
        _publish(connection, "goals.created", message)
        _publish(connection, "goals.created", message)  # the same message again: no second plan
        invalid = {**goal, "tasks": [{**goal["tasks"][0], "estimate": {"optimistic": -1}}], "title": ""}
        _publish(connection, "goals.created", {"id": str(uuid.uuid4()), "payload": invalid})
        _publish(connection, "goals.created", b'{"id": "x", "payload": {NaN}}', raw=True)
        parked = _wait(lambda: _drain(connection, dead) or None, what="dead letters")
        while len(parked) < 2:
            parked += _wait(lambda: _drain(connection, dead) or None, what="the second dead letter")
        assert len(plans()) == 1
        for letter in parked:
            jsonschema.validate(letter, DEAD_LETTER)
            assert letter["topic"] == "goals.created"
        by_status = {letter["problem"]["status"]: letter for letter in parked}
        assert by_status[422]["problem"]["type"] == "/problems/invalid-goal"
        fields = {error["field"] for error in by_status[422]["problem"]["errors"]}
        assert "title" in fields and any(field.startswith("tasks[0].estimate") for field in fields)
        assert by_status[400]["problem"]["type"] == "/problems/malformed-json"

        plan_id = plans()[0]
        plan = farm.wait_for_plan(base, plan_id)
        assert plan["status"] == "ready", plan.get("error")
        assert requests.post(f"{base}/api/v1/plans/{plan_id}/approve", json={}, timeout=10).status_code == 200
        first = next(task["id"] for task in plan["tasks"] if not task.get("depends_on"))
        feedback = {"id": str(uuid.uuid4()), "type": "execution.feedback",
                    "payload": {"plan_id": plan_id, "feedback": {"updates": [
                        {"task_id": first, "status": "in_progress", "percent_complete": 40}]}}}
        _publish(connection, "execution.feedback", feedback)
        _publish(connection, "execution.feedback", feedback)
        resources = {"id": str(uuid.uuid4()), "payload": {"resources": [{"type": "qa_tester", "capacity": 7}]}}
        _publish(connection, "resources.availability", resources)
        pools = _wait(lambda: [pool for pool in requests.get(f"{base}/api/v1/resources", timeout=10).json()["resources"]
                               if pool["type"] == "qa_tester"], what="the pool from resources.availability")
        assert pools[0]["capacity"] == 7
        _wait(lambda: consumer.log_path.read_text().count("execution.feedback message ") == 2,
              what="both feedback messages taken")
        progress = requests.get(f"{base}/api/v1/plans/{plan_id}/progress", timeout=10)
        assert progress.headers["ETag"] == '"feedback-1"', "the feedback was applied once"
        with farm_app.app_context():
            events = db.session.execute(sa.select(sa.func.count()).select_from(FeedbackEvent)
                                        .where(FeedbackEvent.plan_id == plan_id)).scalar()
            status = db.session.get(Plan, plan_id).status
            db.session.remove()
        assert events == 1 and status == "executing"
        assert not _drain(connection, dead), "nothing else was dead-lettered"
