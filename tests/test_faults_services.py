"""Faults of the services the farm stands on (issue 10, F3-F5): PostgreSQL and Redis restarted,
frozen (SIGSTOP) or answering nothing, with the shipped timeouts (app/timeouts.py).

The tests start throwaway servers of their own on free loopback ports (never the shared
ones), hold a plan mid-pipeline with LAYER2_TESTONLY_STAGE_DELAY while they break one,
and check that

- every API call answers within 3 s while the service is away: 503
  `application/problem+json` `/problems/dependency-unavailable` with Retry-After when
  the call needs it, /health naming the dependency and why;
- the API and the workers recover by themselves once it is back;
- every plan completes (or fails with a stated reason), with exactly one stage result
  per stage, one set of task rows and no stage run left unfinished.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from tests import farm
from tests.farm import wait_for_plan

pytestmark = pytest.mark.farm

API_LIMIT_SECONDS = 3.0  # no API call may take longer while a dependency is away
INSTALL_HINT = "apt-get install postgresql redis-server"
STAGE_DELAY_SECONDS = 3.0  # how long the held stage sleeps (LAYER2_TESTONLY_STAGE_DELAY)


def _missing(what: str):
    message = f"{what} is not installed ({INSTALL_HINT})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- throwaway servers -------------------------------------------------------------------


def _postgres_bin_dir() -> Path | None:
    def version(path: Path) -> tuple:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own: initdb in a temp dir it owns, a free loopback
    port, its socket in that dir. As root it runs as the `postgres` user (runuser)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="layer2-pg-"))
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            shutil.chown(self.dir, self.user, self.user)
        self.data = self.dir / "data"
        self.port = farm.free_port()
        self.frozen: list[int] = []
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args) -> None:
        command = [str(self.bin / tool), *map(str, args)]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-w", "-t", "30", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def freeze(self) -> None:
        """SIGSTOP the postmaster, then every backend and helper: the whole server stops answering."""
        main = self.postmaster_pid()
        os.kill(main, signal.SIGSTOP)
        self.frozen = [main]
        for child in _children(main):
            os.kill(child, signal.SIGSTOP)
            self.frozen.append(child)

    def thaw(self) -> None:
        for pid in reversed(self.frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def destroy(self) -> None:
        self.thaw()
        if self.postmaster_pid() is not None:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    """A Redis of the test's own on a free loopback port, with AOF in its own dir (or none)."""

    def __init__(self, directory: Path, appendonly: bool = True):
        self.port = farm.free_port()
        self.dir = directory
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--dir", str(self.dir), "--maxmemory-policy", "noeviction",
                   "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError, redis.exceptions.BusyLoadingError):
                client.ping()
                return
            time.sleep(0.05)
        raise RuntimeError("throwaway redis did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def destroy(self) -> None:
        if self.process and self.process.poll() is None:
            self.thaw()
            self.kill()


@pytest.fixture
def throwaway_postgres():
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("the postgres user (PostgreSQL refuses to run as root)")
    server = ThrowawayPostgres(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def throwaway_redis(tmp_path):
    if shutil.which("redis-server") is None:
        _missing("redis-server")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = ThrowawayRedis(directory)
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def fresh_database(pg_url):
    """A database on the shared PostgreSQL of this test alone (so it can count every plan)."""
    url = farm.create_database()
    yield url
    farm.drop_database(url)


@pytest.fixture
def farm_for(pg_url, tmp_path):
    """farm_for(database_url, broker_url, **worker_env) -> (app, api server, worker); all stopped at the end."""
    started: list = []

    def make(database_url: str, broker_url: str, **worker_env):
        from app import create_app
        from app.cli import upgrade_database

        env = {"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url,
               "CELERY_KEY_PREFIX": f"layer2fault-{uuid.uuid4().hex[:8]}:", "PLANNING_SCHEDULE_TIME_LIMIT": "3"}
        app = create_app(dict(env))
        upgrade_database(app)
        server = farm.ApiServer(app)
        started.append((app, server, None))
        worker = farm.WorkerProcess(env, "fault", farm.ALL_QUEUES, tmp_path,
                                    {key: str(value) for key, value in worker_env.items()})
        started.append((None, None, worker))
        worker.wait_ready()
        return app, server, worker

    yield make
    for app, server, worker in reversed(started):
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()


# --- checks ---------------------------------------------------------------------------------


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    if os.environ.get("LAYER2_TEST_SHOW_TIMINGS"):
        print(f"{method} {url.split('/', 3)[-1][:40]} -> {response.status_code} in {time.monotonic() - started:.2f} s")
    return response, time.monotonic() - started


def assert_unavailable(method: str, url: str, dependency: str, **kwargs) -> dict:
    """The call answers 503 problem+json naming `dependency`, with Retry-After, within the limit."""
    response, seconds = timed(method, url, **kwargs)
    assert seconds < API_LIMIT_SECONDS, f"{method} {url} took {seconds:.2f} s"
    assert response.status_code == 503, (method, url, response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "/problems/dependency-unavailable" and body["status"] == 503
    assert body["dependency"] == dependency and body["reason"], body
    return body


def assert_health_names(base_url: str, dependency: str) -> dict:
    response, seconds = timed("GET", f"{base_url}/health")
    assert seconds < API_LIMIT_SECONDS, f"/health took {seconds:.2f} s"
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.json()
    assert body["status"] == "degraded" and body[dependency] == "unavailable", body
    assert set(body["reasons"]) == {dependency} and body["reasons"][dependency], body
    return body


def assert_answers(method: str, url: str, status: int, **kwargs) -> requests.Response:
    response, seconds = timed(method, url, **kwargs)
    assert seconds < API_LIMIT_SECONDS, f"{method} {url} took {seconds:.2f} s"
    assert response.status_code == status, (method, url, response.status_code, response.text[:500])
    return response


def wait_for_stage(base_url: str, plan_id: str, stage: str, timeout: float = 60.0) -> None:
    """Wait until `stage` of the plan runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        plan = requests.get(f"{base_url}/api/v1/plans/{plan_id}", timeout=10).json()
        if plan["stages"][stage]["state"] == "running":
            return
        assert plan["status"] not in farm.SETTLED, (plan.get("error"), plan["stages"])
        time.sleep(0.1)
    pytest.fail(f"stage {stage} of plan {plan_id} never ran")


def wait_for_log(worker: farm.WorkerProcess, *parts: str, timeout: float) -> str:
    """Wait until one line of the worker's log contains every part; returns that line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in worker.log_path.read_text().splitlines():
            if all(part in line for part in parts):
                return line
        time.sleep(0.2)
    pytest.fail(f"no line with {parts} in the worker log:\n{worker.log_path.read_text()[-3000:]}")


def post_plan(base_url: str, goal: dict) -> str:
    response = assert_answers("POST", f"{base_url}/api/v1/plans", 202, json=goal)
    return response.json()["id"]


def send_sweep(app) -> None:
    """What beat does every minute: the stalled-plan sweep, sent to the replan queue."""
    app.extensions["celery"].send_task("layer2.resume_stalled_plans", queue="replan")


def assert_plans_consistent(app, plans: dict[str, dict]) -> None:
    """Each plan finished: completed, failed with a reason, or cancelled; one result per stage at
    most (all of them when completed); one set of task rows; no stage run left running; and no
    plan in the database that the API did not accept."""
    from app.extensions import db
    from app.models import Plan, PlanTask, PlanVersion, StageResult, StageRun

    with app.app_context():
        assert set(db.session.execute(sa.select(Plan.id)).scalars()) == set(plans), "a plan nobody was told of"
        for plan_id, plan in plans.items():
            version = db.session.execute(sa.select(PlanVersion).where(PlanVersion.plan_id == plan_id)).scalar_one()
            assert version.status == plan["version_status"] in ("ready", "failed", "cancelled"), \
                (plan_id, version.status)
            stages = list(plan["stages"])
            results = Counter(db.session.execute(
                sa.select(StageResult.stage).where(StageResult.plan_version_id == version.id)).scalars())
            assert all(count == 1 for count in results.values()), results
            runs = db.session.execute(sa.select(StageRun).where(StageRun.plan_version_id == version.id)).scalars().all()
            assert not [(r.stage, r.state) for r in runs if r.state in ("running", "retrying")], "unfinished runs"
            task_keys = list(db.session.execute(
                sa.select(PlanTask.task_key).where(PlanTask.plan_version_id == version.id)).scalars())
            assert len(task_keys) == len(set(task_keys)), "task rows written twice"
            if version.status != "ready":
                assert version.error, f"plan {plan_id} is {version.status} without a reason"
                continue
            assert set(results) == set(stages), results
            assert Counter(r.stage for r in runs if r.state == "succeeded") == Counter(stages), \
                [(r.stage, r.state) for r in runs]
            assert sorted(task_keys) == sorted(task["id"] for task in plan["tasks"])


# --- F4: PostgreSQL restarted mid-pipeline -------------------------------------------------


def test_database_restart_mid_pipeline(throwaway_postgres, farm_for, example_goal):
    """PostgreSQL stopped while a stage runs: the API answers 503 problem+json at once, the stage's
    save fails and is retried, and after the restart the API and the plan carry on by themselves."""
    app, server, worker = farm_for(throwaway_postgres.url, farm.REDIS_URL,
                                   LAYER2_TESTONLY_STAGE_DELAY=f"schedule={STAGE_DELAY_SECONDS:g}")
    base = server.base_url
    plan_id = post_plan(base, example_goal)
    wait_for_stage(base, plan_id, "schedule")

    throwaway_postgres.stop()
    assert_unavailable("GET", f"{base}/api/v1/plans/{plan_id}", "database")
    assert_unavailable("POST", f"{base}/api/v1/plans", "database", json=example_goal)
    assert_unavailable("DELETE", f"{base}/api/v1/plans/{plan_id}", "database")
    assert_unavailable("GET", f"{base}/api/v1/resources", "database")
    assert_health_names(base, "database")
    # Stay down until the held stage has tried to save, failed, and been handed to Celery's retry.
    wait_for_log(worker, "layer2.schedule[", " retry: ", timeout=STAGE_DELAY_SECONDS + 30)
    throwaway_postgres.start()

    assert_answers("GET", f"{base}/health", 200)
    plan = wait_for_plan(base, plan_id, timeout=90)
    assert plan["status"] in farm.PLANNED, plan.get("error")
    assert plan["stages"]["schedule"]["attempts"] >= 2, plan["stages"]["schedule"]  # it was retried
    assert_plans_consistent(app, {plan_id: plan})


# --- F5: PostgreSQL frozen -------------------------------------------------------------------


def test_database_frozen_mid_pipeline(throwaway_postgres, farm_for, example_goal):
    """Every PostgreSQL process stopped (SIGSTOP) while a stage runs: no API call waits past the
    limit; /health names the database; after SIGCONT the held stage saves and the plan completes."""
    app, server, worker = farm_for(throwaway_postgres.url, farm.REDIS_URL,
                                   LAYER2_TESTONLY_STAGE_DELAY=f"schedule={STAGE_DELAY_SECONDS:g}")
    base = server.base_url
    plan_id = post_plan(base, example_goal)
    wait_for_stage(base, plan_id, "schedule")

    throwaway_postgres.freeze()
    try:
        assert_unavailable("GET", f"{base}/api/v1/plans/{plan_id}", "database")
        assert_unavailable("POST", f"{base}/api/v1/plans", "database", json=example_goal)
        assert_health_names(base, "database")
    finally:
        throwaway_postgres.thaw()

    assert_answers("GET", f"{base}/api/v1/plans/{plan_id}", 200)
    plan = wait_for_plan(base, plan_id, timeout=90)
    assert plan["status"] in farm.PLANNED, plan.get("error")
    assert_plans_consistent(app, {plan_id: plan})


# --- F4: a database that accepts connections and never answers -----------------------------


@pytest.fixture
def silent_port():
    """A loopback port whose kernel completes TCP handshakes that nobody ever answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


def test_database_that_never_answers(silent_port, tmp_path, example_goal):
    """Connections are accepted and never answered: every API call is a 503 within the limit,
    and the migration step gives up with one line and a non-zero exit instead of hanging."""
    from app import create_app
    from app.cli import UpgradeError, upgrade_database

    url = f"postgresql://postgres@127.0.0.1:{silent_port}/layer2"
    app = create_app({"DATABASE_URL": url, "CELERY_BROKER_URL": farm.REDIS_URL,
                      "CELERY_KEY_PREFIX": f"layer2fault-{uuid.uuid4().hex[:8]}:"})
    server = farm.ApiServer(app)
    try:
        base = server.base_url
        assert_unavailable("GET", f"{base}/api/v1/plans/{uuid.uuid4()}", "database")
        assert_unavailable("POST", f"{base}/api/v1/plans", "database", json=example_goal)
        assert_unavailable("GET", f"{base}/api/v1/resources", "database")
        body = assert_health_names(base, "database")
        assert "timeout" in body["reasons"]["database"]
        response, seconds = timed("GET", f"{base}/health/planner")
        assert response.status_code == 503 and seconds < API_LIMIT_SECONDS

        started = time.monotonic()
        with pytest.raises(UpgradeError, match="cannot migrate: the database .* is unavailable"):
            upgrade_database(app)
        assert time.monotonic() - started < 5
    finally:
        server.stop()
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    for port in (silent_port, closed_port):
        env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/layer2",
               "CELERY_BROKER_URL": farm.REDIS_URL}
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app:create_app", "db", "upgrade"],
                                cwd=farm.ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert time.monotonic() - started < 20  # interpreter start-up plus LAYER2_DB_CONNECT_TIMEOUT
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3, result.stderr
        assert "cannot migrate: the database" in result.stderr, result.stderr

    # The CLI's own migration (embedded serve on a PostgreSQL URL): one line, exit code 3.
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/layer2"}
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--port", str(farm.free_port())],
                            cwd=farm.ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3, result.stderr
    assert "layer2-planning: error: cannot migrate: the database" in result.stderr, result.stderr


# --- F5: Redis frozen ------------------------------------------------------------------------


def test_broker_frozen_mid_pipeline(fresh_database, throwaway_redis, farm_for, example_goal):
    """Redis stopped (SIGSTOP) while a stage runs: reads answer, a POST is stored and answered
    within the limit (the sweep sends what could not be sent), a cancel holds, /health names the
    broker; after SIGCONT the worker carries on and every plan finishes."""
    # The held stage must outlast the frozen section (a POST, two GETs, a DELETE and /health, each waiting
    # on the frozen broker up to its limit, and the rate limiter's fallback): ending while Redis is frozen,
    # its hand-off would be left to the sweep, and this test is about the worker carrying on by itself.
    app, server, worker = farm_for(fresh_database, throwaway_redis.url,
                                   LAYER2_TESTONLY_STAGE_DELAY=f"schedule={STAGE_DELAY_SECONDS + 7:g}",
                                   LAYER2_RESUME_STALLED_AFTER="0")
    base = server.base_url
    held = post_plan(base, example_goal)
    wait_for_stage(base, held, "schedule")
    doomed = post_plan(base, example_goal)  # queued behind `held` on the only worker

    throwaway_redis.freeze()
    try:
        posted = post_plan(base, example_goal)  # stored; its chain may not reach Redis
        assert_answers("GET", f"{base}/api/v1/plans/{posted}", 200)
        assert_answers("GET", f"{base}/api/v1/plans/{held}", 200)
        # The cancel is stored; revoking its queued messages needs Redis (503 if it could not).
        response, seconds = timed("DELETE", f"{base}/api/v1/plans/{doomed}")
        assert seconds < API_LIMIT_SECONDS and response.status_code in (200, 503), response.text
        if response.status_code == 503:
            assert response.json()["dependency"] == "broker"
        assert_health_names(base, "broker")
    finally:
        throwaway_redis.thaw()

    assert_answers("GET", f"{base}/health", 200)
    plans = {held: wait_for_plan(base, held, timeout=90)}
    send_sweep(app)  # resends the chain of a plan whose messages never reached Redis
    plans[posted] = wait_for_plan(base, posted, timeout=90)
    assert plans[held]["status"] in farm.PLANNED and plans[posted]["status"] in farm.PLANNED, plans
    plans[doomed] = wait_for_plan(base, doomed, timeout=10)
    assert plans[doomed]["status"] == "cancelled"
    assert_plans_consistent(app, plans)


# --- F3: Redis with AOF restarted ------------------------------------------------------------


def test_broker_with_aof_restarted_mid_pipeline(fresh_database, throwaway_redis, farm_for, example_goal):
    """Redis (AOF on) killed while a stage runs and started again on the same port and dir:
    queued and unacknowledged messages come back from the AOF, so the plans in flight complete
    without the sweep; the API and the worker reconnect by themselves."""
    app, server, worker = farm_for(fresh_database, throwaway_redis.url,
                                   LAYER2_TESTONLY_STAGE_DELAY=f"schedule={STAGE_DELAY_SECONDS + 2:g}",
                                   LAYER2_RESUME_STALLED_AFTER="0")
    base = server.base_url
    held = post_plan(base, example_goal)
    wait_for_stage(base, held, "schedule")
    queued = post_plan(base, example_goal)  # waits in Redis: the only worker is busy with `held`
    assert redis.Redis(port=throwaway_redis.port).llen(_key(app, "risk")) == 1

    throwaway_redis.kill()
    try:
        posted = post_plan(base, example_goal)  # stored, not sent: Redis is down
        assert_answers("GET", f"{base}/api/v1/plans/{held}", 200)
        assert_health_names(base, "broker")
    finally:
        throwaway_redis.start()

    assert_answers("GET", f"{base}/health", 200)
    after = post_plan(base, example_goal)  # the API's connection to Redis is back by itself
    plans = {plan_id: wait_for_plan(base, plan_id, timeout=90) for plan_id in (held, queued, after)}
    assert all(plan["status"] in farm.PLANNED for plan in plans.values()), plans
    assert requests.get(f"{base}/api/v1/plans/{posted}", timeout=10).json()["status"] == "queued"
    send_sweep(app)  # only the plan posted while Redis was down needs it
    plans[posted] = wait_for_plan(base, posted, timeout=90)
    assert plans[posted]["status"] in farm.PLANNED
    assert_plans_consistent(app, plans)


def _key(app, queue: str) -> str:
    return app.config["CELERY"]["broker_transport_options"].get("global_keyprefix", "") + queue
