"""A restarted broker loses nothing: the stalled-plan sweep resends what Redis forgot."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
import requests

from tests import farm
from tests.farm import wait_for_plan

pytestmark = pytest.mark.farm


class ThrowawayRedis:
    """A Redis of the test's own on a free loopback port, killed and restarted by pid only."""

    def __init__(self):
        self.port = farm.free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def throwaway_redis():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = ThrowawayRedis()
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


def test_plan_queued_before_a_broker_restart_is_resumed(pg_url, throwaway_redis, tmp_path, example_goal):
    """Messages lost with a restarted Redis are resent by the sweep, and the plan completes."""
    from app import create_app
    from app.cli import upgrade_database

    env = {"DATABASE_URL": pg_url, "CELERY_BROKER_URL": throwaway_redis.url, "CELERY_KEY_PREFIX": "restart:",
           "LAYER2_RESUME_STALLED_AFTER": "0", "PLANNING_SCHEDULE_TIME_LIMIT": "5"}
    app = create_app(dict(env))
    upgrade_database(app)
    server = farm.ApiServer(app)
    try:
        # No worker yet: the chain's first message waits in Redis.
        plan_id = requests.post(f"{server.base_url}/api/v1/plans", json=example_goal, timeout=10).json()["id"]
        assert redis.Redis(port=throwaway_redis.port).keys("restart:*"), "the message should be in Redis"

        throwaway_redis.kill()
        throwaway_redis.start()  # empty: the queued message is gone
        assert redis.Redis(port=throwaway_redis.port).keys("restart:*") == []

        worker = farm.WorkerProcess(env, "after-restart", log_dir=tmp_path)
        worker.wait_ready()
        try:
            time.sleep(2)
            assert requests.get(f"{server.base_url}/api/v1/plans/{plan_id}", timeout=10).json()["status"] == "queued"
            # What beat does every minute, sent through the broker to the replan queue.
            app.extensions["celery"].send_task("layer2.resume_stalled_plans", queue="replan")
            plan = wait_for_plan(server.base_url, plan_id, timeout=60)
            assert plan["status"] in farm.PLANNED, plan.get("error")
        finally:
            worker.stop()
    finally:
        server.stop()
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
