"""Shared fixtures: the embedded app (SQLite + eager) and the real farm (PostgreSQL, Redis, workers)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from flask import Flask

from tests import farm
from tests.security_support import AuthClient, install_requests_key, patch_requests

# Every Flask test client sends an admin key of its app, and every HTTP call to a test server one of the app
# it serves (tests/security_support.py): the API stays closed.
Flask.test_client_class = AuthClient
patch_requests()

# Requests per key per minute (app/security): the suite's clients (schemathesis: about 60 a second) go past the
# production default; tests/test_security.py checks the limit itself with a low one.
os.environ.setdefault("LAYER2_RATE_LIMIT", "1000000/minute")
# The suite runs with encryption at rest on (a fixed test key; the worker processes inherit it):
# descriptions, contexts and notes go through it everywhere. tests/test_encryption.py sets its own keys.
os.environ.setdefault("LAYER2_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS1sYXllcjItcGxhbm5pbmctMDA=")
# Plans in tests get 3 s of scheduling, not the production 10 s: the suite checks
# behaviour, and bench/ measures what more time buys.
os.environ.setdefault("PLANNING_SCHEDULE_TIME_LIMIT", "3")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "goals"


def load_example(name: str = "website-launch.json") -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def example_goal() -> dict:
    return load_example()


@pytest.fixture
def embedded_app(tmp_path):
    """A fresh embedded app: its own SQLite file, migrated, Celery eager."""
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/layer2.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def client(embedded_app):
    return embedded_app.test_client()


def _require_services() -> None:
    ok, reason = farm.services_available()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"integration services are down under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database of this test run's own (the farm fixtures migrate it), dropped at the end."""
    _require_services()
    url = farm.create_database()
    yield url
    farm.drop_database(url)


@pytest.fixture(autouse=True)
def _pg_http_credentials(request, monkeypatch):
    """The HTTP calls (requests) of a test on the run's PostgreSQL database carry an admin key of it
    (tests/security_support.py; a gunicorn the test starts, say); a test server's own app's key takes over."""
    if "pg_url" in request.fixturenames:
        install_requests_key(monkeypatch, request.getfixturevalue("pg_url"))


@pytest.fixture
def farm_env(pg_url) -> dict[str, str]:
    """Environment for one farm: our database, a Redis key prefix no other run shares."""
    return {
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": farm.REDIS_URL,
        "CELERY_KEY_PREFIX": f"layer2test-{uuid.uuid4().hex[:8]}:",
        "PLANNING_SCHEDULE_TIME_LIMIT": "3",
    }


@pytest.fixture
def farm_app(farm_env):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app(dict(farm_env))
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def api_server(farm_app):
    server = farm.ApiServer(farm_app)
    yield server
    server.stop()


@pytest.fixture
def start_worker(farm_env, tmp_path):
    """Start real `celery worker` processes; all are stopped at the end of the test."""
    workers: list[farm.WorkerProcess] = []

    def start(name: str = "w", queues: str = farm.ALL_QUEUES, **extra_env) -> farm.WorkerProcess:
        worker = farm.WorkerProcess(farm_env, name, queues, tmp_path, {k: str(v) for k, v in extra_env.items()})
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def start_beat(farm_env, tmp_path):
    """Start real `celery beat` processes; all are stopped at the end of the test."""
    beats: list[farm.BeatProcess] = []

    def start(name: str = "beat", **extra_env) -> farm.BeatProcess:
        beat = farm.BeatProcess(farm_env, name, tmp_path, {k: str(v) for k, v in extra_env.items()})
        beats.append(beat)
        beat.wait_ready()
        return beat

    yield start
    for beat in beats:
        beat.stop()
