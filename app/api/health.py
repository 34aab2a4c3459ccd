"""Health checks: the service, its dependencies, the workers of each queue, and each component the spec names.

`/health` checks the database and the broker, each within HEALTH_CHECK_SECONDS, and asks the workers which
queues they consume (a broadcast over the broker's control channel, answered by each worker's main process
within WORKERS_CHECK_SECONDS, while the database check runs), so it answers within about 2 s even when
PostgreSQL and Redis are both frozen. It is 503 (with Retry-After), naming the dependency and why, when the
database or the broker is down: what this process needs to accept and serve plans. A queue without a worker
is reported (`workers`, and `warnings`) but is no reason for 503 here: goals wait in the queue until a worker
comes (an autoscaler may be starting one), and a probe that failed the API for it would take the API down
with its workers. `/health/workers` is the farm's check: 503 when a queue has no worker.
"""

from __future__ import annotations

import concurrent.futures

import sqlalchemy as sa
from flask import Blueprint, current_app

from app.extensions import db
from app.timeouts import RETRY_AFTER_SECONDS, database_wait_limit, dependency_reason

bp = Blueprint("health", __name__)

# Seconds each dependency check may take before the dependency counts as unavailable.
HEALTH_CHECK_SECONDS = 1.0
# Seconds the workers have to answer which queues they consume (every reply that came by then counts).
WORKERS_CHECK_SECONDS = 1.0
EMBEDDED_WORKERS = "embedded (eager): the stages run inside the API process"
# Broker and workers are checked on a thread of their own while the request's thread checks the database.
_checks = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def _database_ok() -> tuple[bool, str]:
    with database_wait_limit(HEALTH_CHECK_SECONDS):
        try:
            db.session.execute(sa.text("SELECT 1"))
            return True, "ok"
        except Exception as error:  # report, never raise, from a health check
            reason = dependency_reason(error)
            try:
                db.session.rollback()
            except Exception:  # the connection is gone already; the reason above says why
                pass
            return False, reason


def _broker_ok(celery_app) -> tuple[bool, str]:
    if celery_app.conf.task_always_eager:
        return True, "embedded (eager)"
    try:
        # One attempt; the transport's socket timeouts (LAYER2_BROKER_TIMEOUT) bound it.
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=HEALTH_CHECK_SECONDS)
        return True, "ok"
    except Exception as error:
        return False, dependency_reason(error)


def _queue_workers(celery_app) -> dict[str, list[str]]:
    """Each queue's workers (host names), from the replies that came within WORKERS_CHECK_SECONDS."""
    from tasks.queues import QUEUE_NAMES

    replies = celery_app.control.inspect(timeout=WORKERS_CHECK_SECONDS).active_queues() or {}
    found: dict[str, list[str]] = {queue: [] for queue in QUEUE_NAMES}
    for worker, queues in sorted(replies.items()):
        for queue in queues or ():
            if queue.get("name") in found:
                found[queue["name"]].append(worker)
    return found


def _broker_and_workers(celery_app) -> tuple[tuple[bool, str], dict[str, list[str]] | str]:
    broker = _broker_ok(celery_app)
    if celery_app.conf.task_always_eager:
        return broker, EMBEDDED_WORKERS
    if not broker[0]:
        return broker, "unknown: the broker is unavailable"
    try:
        return broker, _queue_workers(celery_app)
    except Exception as error:  # report, never raise
        return broker, f"unknown: {dependency_reason(error)}"


def _check_broker_and_workers() -> concurrent.futures.Future:
    return _checks.submit(_broker_and_workers, current_app.extensions["celery"])


def _collect(future: concurrent.futures.Future) -> tuple[tuple[bool, str], dict[str, list[str]] | str]:
    try:
        return future.result(timeout=HEALTH_CHECK_SECONDS + WORKERS_CHECK_SECONDS + 0.5)
    except concurrent.futures.TimeoutError:
        return (False, "the broker did not answer in time"), "unknown: the broker did not answer in time"


def _workers_report(workers: dict[str, list[str]] | str) -> tuple[dict | str, list[str]]:
    """The body's `workers` and the queues without one."""
    if isinstance(workers, str):
        return workers, []
    idle = [queue for queue, names in workers.items() if not names]
    return {queue: names or "no worker" for queue, names in workers.items()}, idle


def _answer(body: dict, checks: dict[str, tuple[bool, str]]):
    reasons = {name: detail for name, (ok, detail) in checks.items() if not ok}
    for name, (ok, detail) in checks.items():
        body[name] = detail if ok else "unavailable"
    if reasons:
        body["status"] = "degraded"
        body["reasons"] = reasons
        return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return body, 200


@bp.get("/health")
def health():
    body = {"status": "ok", "mode": "embedded" if current_app.config["EMBEDDED"] else "farm"}
    pending = _check_broker_and_workers()
    database = _database_ok()
    broker, workers = _collect(pending)
    body["workers"], idle = _workers_report(workers)
    if idle:
        body["warnings"] = {"workers": f"no worker consumes {', '.join(idle)}: plans wait there until one does"}
    return _answer(body, {"database": database, "broker": broker})


@bp.get("/health/workers")
def workers_health():
    """The farm's check: 503 when the broker is down or a queue has no worker (or the workers could not be asked)."""
    broker, workers = _collect(_check_broker_and_workers())
    body = {"status": "ok", "mode": "embedded" if current_app.config["EMBEDDED"] else "farm"}
    body["workers"], idle = _workers_report(workers)
    reasons = {}
    if not broker[0]:
        reasons["broker"] = broker[1]
    elif idle:
        reasons["workers"] = f"no worker consumes {', '.join(idle)}"
    elif isinstance(workers, str) and not current_app.config["EMBEDDED"]:
        reasons["workers"] = workers
    body["broker"] = broker[1] if broker[0] else "unavailable"
    if reasons:
        body["status"], body["reasons"] = "degraded", reasons
        return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return body, 200


@bp.get("/health/<component>")
def component_health(component: str):
    from app.problems import ApiProblem

    if component not in ("planner", "decomposer", "coordinator", "risk"):
        raise ApiProblem(404, "unknown-component", "Unknown component",
                         "components: planner, decomposer, coordinator, risk")
    body = {"component": component, "status": "ok"}
    if component == "coordinator":
        # No call to Layer 8 here: its circuit state says how recent calls went, and plans are
        # still made from the other sources when it is down, so it never fails this check.
        from app.layer8 import layer8_client_for

        client = layer8_client_for(current_app)
        body["layer8"] = {"configured": False} if client is None else {
            "configured": True, "circuit": client.breaker.state}
    return _answer(body, {"database": _database_ok()})
