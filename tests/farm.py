"""Helpers for tests of the real farm: databases, Redis, worker and API processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("LAYER2_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LAYER2_TEST_REDIS", "redis://127.0.0.1:6379/0")
ALL_QUEUES = "risk,decompose,allocate,schedule,finalize,validate,replan"


def services_available() -> tuple[bool, str]:
    for host, port, name in (("127.0.0.1", 5432, "PostgreSQL"), ("127.0.0.1", 6379, "Redis")):
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False, f"{name} is not reachable on {host}:{port} (run scripts/ensure-services.sh)"
    return True, ""


def create_database() -> str:
    name = f"layer2_test_{uuid.uuid4().hex[:10]}"
    connection = psycopg2.connect(PG_ADMIN_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = psycopg2.connect(PG_ADMIN_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, log, grace: float = 20.0) -> None:
    """SIGTERM to the process group (a worker's pool children too), SIGKILL after `grace` seconds; closes the log."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log.close()


class CeleryProcess:
    """A real `celery` process (worker or beat) in its own process group, so a test can kill -9 all of it."""

    kind = "celery"
    ready_marker = ""

    def __init__(self, env: dict[str, str], name: str, arguments: list[str], log_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None):
        self.name = name  # unique per process: it names the log file (and a worker's hostname)
        self.log_path = (log_dir or Path("/tmp")) / f"{self.kind}-{self.name}.log"
        full_env = {**os.environ, **env, **(extra_env or {})}
        command = [sys.executable, "-m", "celery", "-A", "tasks.worker:celery_app", *arguments]
        self.log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.log_path.read_text()[-3000:]}")
            if self.ready_marker in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} not ready after {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        stop_group(self.process, self.log)


class WorkerProcess(CeleryProcess):
    """A real `celery worker` (prefork, one pool process) on the given queues."""

    kind, ready_marker = "worker", " ready."

    def __init__(self, env: dict[str, str], name: str, queues: str = ALL_QUEUES, log_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None):
        unique = f"{name}-{uuid.uuid4().hex[:6]}"
        super().__init__(env, unique, ["worker", "-Q", queues, "-c", "1", "-P", "prefork", "--hostname",
                                       f"{unique}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
                         log_dir, extra_env)

    def pool_children(self) -> list[int]:
        """Pids of the worker's pool processes: the children of its main process (from /proc)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the process went away while we looked
            if ppid == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def kill_pool_child(self) -> int:
        """SIGKILL the single pool child (`-c 1`) while the main process lives on; returns its pid."""
        children = self.pool_children()
        if len(children) != 1:
            raise RuntimeError(f"expected one pool child of {self.process.pid}, found {children}")
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def terminate_main(self) -> None:
        """SIGTERM to the main process only: Celery's warm shutdown (finish the running task, then exit)."""
        os.kill(self.process.pid, signal.SIGTERM)

    def kill_hard(self) -> None:
        """SIGKILL the whole process group: main process and pool children die mid-task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class BeatProcess(CeleryProcess):
    """A real `celery beat` process with its own schedule and pid files."""

    kind, ready_marker = "beat", "beat: Starting..."

    def __init__(self, env: dict[str, str], name: str, log_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None):
        directory = log_dir or Path("/tmp")
        unique = f"{name}-{uuid.uuid4().hex[:6]}"
        super().__init__(env, unique, ["beat", "-l", "INFO", "-s", str(directory / f"beat-{unique}.schedule"),
                                       "--pidfile", str(directory / f"beat-{unique}.pid")], log_dir, extra_env)

    def sent(self, task: str) -> int:
        """How many times it has sent `task` (from its log)."""
        if not self.log_path.exists():
            return 0
        return sum(1 for line in self.log_path.read_text().splitlines()
                   if "Sending due task" in line and f"({task})" in line)


class ApiServer:
    """The Flask app served over real HTTP on a loopback port, in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.port}"
        from tests.security_support import register_server

        register_server(self.port, app)  # the test's HTTP calls to it carry an admin key of its app

    def stop(self) -> None:
        self.server.shutdown()


def broker_leftovers(prefix: str, *, keep: tuple[str, ...] = ("dead_letter",)) -> dict[str, int]:
    """Messages still in Redis under this key prefix: non-empty queues (bar `keep`) and unacknowledged ones."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    left: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}*"):
        name = key.decode()[len(prefix):]
        kind = client.type(key).decode()
        if kind == "list" and name not in keep and client.llen(key):
            left[name] = client.llen(key)
        elif name == "unacked" and kind == "hash" and client.hlen(key):
            left[name] = client.hlen(key)
    return left


# Plan states (planning/lifecycle.py) in which a plan's first planning has ended: planned (ready for
# approval, or approved automatically when no risk is at alert level), failed or cancelled.
PLANNED = ("ready", "approved")
SETTLED = (*PLANNED, "failed", "cancelled")


def wait_for_plan(base_url: str, plan_id: str, *, states=SETTLED,
                  timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    plan: dict = {}
    while time.monotonic() < deadline:
        plan = requests.get(f"{base_url}/api/v1/plans/{plan_id}", timeout=10).json()
        if plan["status"] in states:
            return plan
        time.sleep(0.3)
    raise AssertionError(f"plan {plan_id} did not reach {states} in {timeout} s; last seen: {plan.get('status')} "
                         f"{plan.get('stages')}")
