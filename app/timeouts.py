"""How long anything may wait on PostgreSQL or Redis, so no caller hangs on a dead dependency.

A frozen server (SIGSTOP, a paused VM, a half-open connection) still has its kernel
accept connections and acknowledge what we send, so no socket error ever comes:
only a wait limit on our side ends the wait. This module sets every such limit.

PostgreSQL (psycopg2). Connections the app makes are of `Layer2Connection`, and a
process-wide psycopg2 wait callback (`_wait`) does every network wait of those
connections with poll() and a deadline; when the deadline passes it raises
`psycopg2.OperationalError`, psycopg2 closes the connection and SQLAlchemy sees a
disconnect (the pool drops it; pre-ping replaces the others). The limits:

- connecting: `LAYER2_DB_CONNECT_TIMEOUT` (libpq's own connect_timeout is not used
  by psycopg2 once a wait callback is set, so the callback enforces it);
- one statement outside API requests (stage workers, the sweep, migrations):
  `LAYER2_DB_STATEMENT_TIMEOUT`, also sent to the server as `statement_timeout` so
  it stops work nobody waits for;
- an API request: all its database waits together (pre-ping, a reconnect, its
  queries) get `LAYER2_API_DB_TIMEOUT`, so a request answers 503 in time however
  many steps it takes.

No cancel request is sent when a wait gives up: libpq's PQcancel would itself
block on a frozen server. The server-side `statement_timeout` ends a slow query.

Redis (kombu / redis-py): `socket_timeout` and `socket_connect_timeout` of the
broker transport (`LAYER2_BROKER_TIMEOUT` for every connect and command) and a short
publish retry policy, so a publish (the API's enqueue, a worker's next stage) gives up
within about three of them instead of waiting for a frozen Redis forever.
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import time
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from flask import current_app, g, has_app_context, has_request_context

log = logging.getLogger(__name__)

# env var -> (field, default seconds, zero allowed)
TIMEOUT_ENV = {
    "LAYER2_DB_CONNECT_TIMEOUT": ("db_connect", "2", False),
    "LAYER2_DB_STATEMENT_TIMEOUT": ("db_statement", "60", True),
    "LAYER2_API_DB_TIMEOUT": ("api_db", "2", False),
    "LAYER2_BROKER_TIMEOUT": ("broker", "0.5", False),
}

# Seconds a client is told to wait (Retry-After) when a dependency is unavailable.
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Timeouts:
    db_connect: float = 2.0
    db_statement: float = 60.0  # 0: no limit
    api_db: float = 2.0
    broker: float = 0.5


# --- PostgreSQL -------------------------------------------------------------------------


def engine_options(database_url: str, timeouts: Timeouts) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS for this database URL."""
    options: dict = {"pool_pre_ping": True}
    if not database_url.startswith("postgresql"):
        return options  # SQLite: local file, nothing to wait for on the network
    from sqlalchemy.engine import make_url

    connect_args = {
        "connection_factory": connection_class(timeouts),
        # libpq's own limit (whole seconds, at least 2): applies only if another library's
        # wait callback replaced ours.
        "connect_timeout": max(2, math.ceil(timeouts.db_connect)),
    }
    if timeouts.db_statement > 0:
        # The server ends a statement nobody waits for any more. 0 sends no startup option
        # at all (for poolers that refuse it, such as PgBouncer without ignore_startup_parameters).
        server_options = f"-c statement_timeout={math.ceil(timeouts.db_statement * 1000)}"
        own = make_url(database_url).query.get("options")
        if own:  # keep options given in DATABASE_URL (connect_args would replace them)
            server_options = f"{own if isinstance(own, str) else ' '.join(own)} {server_options}"
        connect_args["options"] = server_options
    # A request waits at most LAYER2_API_DB_TIMEOUT for a free pooled connection (threaded servers).
    options.update(pool_timeout=timeouts.api_db, connect_args=connect_args)
    return options


class Layer2Connection(psycopg2.extensions.connection):
    """A psycopg2 connection whose network waits `_wait` limits (see `connection_class`)."""

    layer2_timeouts: Timeouts | None = None

    def __init__(self, *args, **kwargs):
        install_wait_callback()
        super().__init__(*args, **kwargs)


_CLASSES: dict[Timeouts, type[Layer2Connection]] = {}


def connection_class(timeouts: Timeouts) -> type[Layer2Connection]:
    """A connection class carrying these limits (one class per distinct set)."""
    if timeouts not in _CLASSES:
        _CLASSES[timeouts] = type("Layer2Connection", (Layer2Connection,), {"layer2_timeouts": timeouts})
    return _CLASSES[timeouts]


def install_wait_callback() -> None:
    """Make psycopg2 wait through `_wait` (process-wide; idempotent)."""
    current = psycopg2.extensions.get_wait_callback()
    if current is _wait:
        return
    if current is not None:  # someone else's (psycogreen): theirs stays, our limits do not apply
        log.warning("psycopg2 already has a wait callback (%r); database wait limits are off", current)
        return
    psycopg2.extensions.set_wait_callback(_wait)


class _RequestBudget:
    """The database waiting one API request may still do, kept in flask.g."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.spent = 0.0
        self.cap_deadline: float | None = None  # a tighter limit for one block (health checks)
        self.cap_seconds = 0.0

    def remaining(self) -> tuple[float, float, str]:
        """(seconds left, the limit they come from, its name)."""
        left, limit, setting = self.seconds - self.spent, self.seconds, "LAYER2_API_DB_TIMEOUT"
        if self.cap_deadline is not None and self.cap_deadline - time.monotonic() < left:
            left, limit, setting = self.cap_deadline - time.monotonic(), self.cap_seconds, "health check limit"
        return max(0.0, left), limit, setting


_G_KEY = "_layer2_db_budget"


def _request_budget(timeouts: Timeouts) -> _RequestBudget | None:
    """The current API request's budget (created on its first wait), else None."""
    if not has_app_context():
        return None
    budget = g.get(_G_KEY)
    # Flask-SQLAlchemy returns the request's connection after the request context is
    # gone (app-context teardown): the budget in g still applies then.
    if budget is None and has_request_context():
        budget = _RequestBudget(timeouts.api_db)
        setattr(g, _G_KEY, budget)
    return budget


@contextlib.contextmanager
def database_wait_limit(seconds: float):
    """Within an API request, end database waits `seconds` from now at the latest (health checks)."""
    if not has_request_context():
        yield
        return
    budget = g.get(_G_KEY)
    if budget is None:
        budget = _RequestBudget(current_app.config.get("TIMEOUTS", Timeouts()).api_db)
        setattr(g, _G_KEY, budget)
    previous = budget.cap_deadline, budget.cap_seconds
    budget.cap_deadline, budget.cap_seconds = time.monotonic() + seconds, seconds
    try:
        yield
    finally:
        budget.cap_deadline, budget.cap_seconds = previous


def _wait(conn) -> None:
    """psycopg2 wait callback: poll the connection until done or its deadline passes."""
    ext = psycopg2.extensions
    timeouts: Timeouts | None = getattr(conn, "layer2_timeouts", None)
    connecting = conn.status == ext.STATUS_SETUP
    left = limit = setting = None  # seconds this wait may take; the limit it comes from; its name
    budget = None
    if timeouts is not None:
        if connecting:
            left = limit = timeouts.db_connect
            setting = "LAYER2_DB_CONNECT_TIMEOUT"
        elif timeouts.db_statement > 0:
            left = limit = timeouts.db_statement
            setting = "LAYER2_DB_STATEMENT_TIMEOUT"
        budget = _request_budget(timeouts)
        if budget is not None:
            budget_left, budget_limit, budget_setting = budget.remaining()
            if left is None or budget_left < left:
                left, limit, setting = budget_left, budget_limit, budget_setting
    started = time.monotonic()
    deadline = None if left is None else started + left
    poller_events = {ext.POLL_READ: select.POLLIN, ext.POLL_WRITE: select.POLLOUT}
    try:
        while True:
            state = conn.poll()
            if state == ext.POLL_OK:
                return
            if state not in poller_events:
                raise psycopg2.OperationalError(f"bad state from poll: {state}")
            timeout_ms = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise psycopg2.OperationalError(_timeout_message(connecting, limit, setting))
                timeout_ms = max(1, math.ceil(left * 1000))
            poller = select.poll()
            poller.register(conn.fileno(), poller_events[state] | select.POLLERR | select.POLLHUP)
            poller.poll(timeout_ms)
    finally:
        if budget is not None:
            budget.spent += time.monotonic() - started


def _timeout_message(connecting: bool, limit: float, setting: str) -> str:
    # "timeout expired" is libpq's wording for a connect timeout; "could not receive data
    # from server" makes SQLAlchemy treat the query case as a disconnect too.
    if connecting:
        return f"timeout expired: no connection to the database within {limit:.3g} s ({setting})"
    return f"could not receive data from server: no answer within {limit:.3g} s ({setting})"


# --- Redis (Celery broker) -------------------------------------------------------------


def broker_transport_options(timeouts: Timeouts) -> dict:
    """Socket limits for kombu's Redis transport: no Redis call waits longer per attempt."""
    return {"socket_timeout": timeouts.broker, "socket_connect_timeout": timeouts.broker}


def publish_retry_policy() -> dict:
    """One retry, soon. A publish to a broker that is down or frozen waits at most three times
    LAYER2_BROKER_TIMEOUT (the publish, the reconnect's ping, the publish again) plus 0.1 s:
    1.6 s by default, so a POST answers within 3 s. The API stores a plan before it enqueues
    it, and the stalled-plan sweep resends what was never sent, so a POST need not wait for
    the broker to come back; a refused connection fails at once.
    """
    return {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.2}


def dependency_reason(error: BaseException) -> str:
    """One line saying why a dependency call failed (no SQL, no traceback)."""
    original = getattr(error, "orig", None) or error
    text = str(original).split("\n")[0].split("(Background on this error")[0]
    return " ".join(text.split())[:300] or type(original).__name__
