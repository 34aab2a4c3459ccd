"""Health checks: the service and each component the spec names."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app

from app.extensions import db

bp = Blueprint("health", __name__)


def _database_ok() -> tuple[bool, str]:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return True, "ok"
    except Exception as error:  # report, never raise, from a health check
        db.session.rollback()
        return False, type(error).__name__


def _broker_ok() -> tuple[bool, str]:
    celery_app = current_app.extensions["celery"]
    if celery_app.conf.task_always_eager:
        return True, "embedded (eager)"
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, type(error).__name__


@bp.get("/health")
def health():
    database, database_detail = _database_ok()
    broker, broker_detail = _broker_ok()
    healthy = database and broker
    body = {
        "status": "ok" if healthy else "degraded",
        "mode": "embedded" if current_app.config["EMBEDDED"] else "farm",
        "database": database_detail,
        "broker": broker_detail,
    }
    return body, 200 if healthy else 503


@bp.get("/health/<component>")
def component_health(component: str):
    from app.problems import ApiProblem

    if component not in ("planner", "decomposer", "coordinator", "risk"):
        raise ApiProblem(404, "unknown-component", "Unknown component",
                         "components: planner, decomposer, coordinator, risk")
    database, detail = _database_ok()
    body = {"component": component, "status": "ok" if database else "degraded", "database": detail}
    if component == "coordinator":
        # No call to Layer 8 here: its circuit state says how recent calls went, and plans are
        # still made from the other sources when it is down, so it never fails this check.
        from app.layer8 import layer8_client_for

        client = layer8_client_for(current_app)
        body["layer8"] = {"configured": False} if client is None else {
            "configured": True, "circuit": client.breaker.state}
    return body, 200 if database else 503
