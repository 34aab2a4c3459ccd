"""Wait limits on PostgreSQL and Redis (app/timeouts.py) and the 503 they turn into at the API edge.

No servers needed: a listening socket that never answers stands in for a frozen database.
The real servers, restarted and frozen, are in tests/test_faults_services.py.
"""

from __future__ import annotations

import socket
import time

import psycopg2
import pytest
from sqlalchemy import exc as sa_exc

from app.config import JSON_COLUMN_CODEC, ConfigError, load_config
from app.timeouts import Timeouts, connection_class, engine_options


@pytest.fixture
def silent_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def test_defaults_and_overrides():
    """The shipped limits, and each one settable by its environment variable."""
    config = load_config(env={})
    assert config["TIMEOUTS"] == Timeouts(db_connect=2.0, db_statement=60.0, api_db=2.0, broker=0.5)
    config = load_config(env={"LAYER2_DB_CONNECT_TIMEOUT": "1.5", "LAYER2_API_DB_TIMEOUT": "2.5",
                              "LAYER2_DB_STATEMENT_TIMEOUT": "0", "LAYER2_BROKER_TIMEOUT": "0.25"})
    assert config["TIMEOUTS"] == Timeouts(db_connect=1.5, db_statement=0.0, api_db=2.5, broker=0.25)


@pytest.mark.parametrize(("name", "value"), [("LAYER2_DB_CONNECT_TIMEOUT", "0"), ("LAYER2_API_DB_TIMEOUT", "soon"),
                                             ("LAYER2_BROKER_TIMEOUT", "-1"), ("LAYER2_DB_STATEMENT_TIMEOUT", "inf")])
def test_bad_limit_stops_start_up_naming_it(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(env={name: value})


def test_engine_and_broker_options():
    """PostgreSQL gets the limited connection class, the server-side statement_timeout and a pool
    timeout; SQLite only pre-ping; Redis gets socket limits and a short publish retry."""
    postgres = load_config(env={"DATABASE_URL": "postgresql://u@db/x?options=-c%20search_path%3Dplan",
                                "CELERY_BROKER_URL": "redis://r:6379/0"})
    options = postgres["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] and options["pool_timeout"] == 2.0
    assert options["connect_args"]["connection_factory"].layer2_timeouts == postgres["TIMEOUTS"]
    assert options["connect_args"]["options"] == "-c search_path=plan -c statement_timeout=60000"
    transport = postgres["CELERY"]["broker_transport_options"]
    assert transport["socket_timeout"] == transport["socket_connect_timeout"] == 0.5
    assert postgres["CELERY"]["task_publish_retry_policy"]["max_retries"] == 1
    assert "options" not in engine_options("postgresql+psycopg2://u@db/x", Timeouts(db_statement=0))["connect_args"]
    assert load_config(env={})["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True, **JSON_COLUMN_CODEC}


def test_connecting_to_a_server_that_never_answers_gives_up_in_time(silent_port):
    """The kernel accepts the connection and nobody answers: the connect limit ends the wait."""
    factory = connection_class(Timeouts(db_connect=0.3))
    started = time.monotonic()
    with pytest.raises(psycopg2.OperationalError, match=r"timeout expired.*0\.3 s.*LAYER2_DB_CONNECT_TIMEOUT"):
        psycopg2.connect(host="127.0.0.1", port=silent_port, user="x", dbname="x", connection_factory=factory)
    assert time.monotonic() - started < 2


def _raising_client(app, error: Exception):
    """The app with one more route that raises `error`, as a handler meeting a dead dependency would."""

    def fail():
        raise error

    app.add_url_rule("/test-only/raise", "test_only_raise", fail)
    return app.test_client()


@pytest.mark.parametrize("error", [
    sa_exc.OperationalError("SELECT 1", {}, psycopg2.OperationalError("could not receive data from server")),
    sa_exc.InterfaceError("SELECT 1", {}, psycopg2.InterfaceError("connection already closed")),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
])
def test_database_errors_are_503_problems(embedded_app, error):
    """A database error at the API edge is a 503 dependency-unavailable problem with Retry-After, not a 500."""
    response = _raising_client(embedded_app, error).get("/test-only/raise")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["type"] == "/problems/dependency-unavailable" and body["dependency"] == "database"
    assert body["reason"] and "SELECT" not in body["detail"] and "Background" not in body["detail"]


def test_broker_errors_are_503_problems(embedded_app):
    """A broker error that escapes a handler is a 503 naming the broker."""
    from kombu.exceptions import OperationalError

    error = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    response = _raising_client(embedded_app, error).get("/test-only/raise")
    assert response.status_code == 503 and response.get_json()["dependency"] == "broker"
    assert "Connection refused" in response.get_json()["reason"]


def test_health_names_the_database_and_why(client, monkeypatch):
    from app.api import health

    monkeypatch.setattr(health, "_database_ok", lambda: (False, "Connection refused"))
    response = client.get("/health")
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "degraded" and body["database"] == "unavailable"
    assert body["reasons"] == {"database": "Connection refused"} and body["broker"] == "embedded (eager)"
    assert client.get("/health/planner").get_json()["reasons"] == {"database": "Connection refused"}
