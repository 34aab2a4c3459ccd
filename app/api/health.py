"""Health checks: the service and each component the spec names.

Each dependency check has its own limit (HEALTH_CHECK_SECONDS), so /health
answers within about two of them even when PostgreSQL and Redis are both frozen,
and says which one is down and why (503, with Retry-After).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app

from app.extensions import db
from app.timeouts import RETRY_AFTER_SECONDS, database_wait_limit, dependency_reason

bp = Blueprint("health", __name__)

# Seconds each dependency check may take before the dependency counts as unavailable.
HEALTH_CHECK_SECONDS = 1.0


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


def _broker_ok() -> tuple[bool, str]:
    celery_app = current_app.extensions["celery"]
    if celery_app.conf.task_always_eager:
        return True, "embedded (eager)"
    try:
        # One attempt; the transport's socket timeouts (LAYER2_BROKER_TIMEOUT) bound it.
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=HEALTH_CHECK_SECONDS)
        return True, "ok"
    except Exception as error:
        return False, dependency_reason(error)


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
    return _answer(body, {"database": _database_ok(), "broker": _broker_ok()})


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
