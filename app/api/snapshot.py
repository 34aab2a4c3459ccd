"""`GET /api/v1/metrics/snapshot`: the current metrics as JSON (app/services/snapshot.py)."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from app.api import read_schemas as read
from app.extensions import db
from app.models import utcnow
from app.openapi import operation
from app.security.policy import requires
from app.services import snapshot
from app.stages import STAGE_NAMES
from tasks.queues import QUEUE_NAMES

bp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics",
               description="The current metrics as JSON (Prometheus's text is at /metrics)")


@bp.get("/snapshot")
@operation(responses={200: read.MetricsSnapshotRead})
@requires("metrics:read")
def metrics_snapshot():
    """Goals, plans by state, stage latency percentiles, queue depths and error counts, now."""
    figures = snapshot.database_figures(session=db.session, stage_names=STAGE_NAMES)
    db.session.rollback()  # no transaction stays open while the broker is asked
    return {"generated_at": utcnow().isoformat(), "mode": "embedded" if current_app.config["EMBEDDED"] else "farm",
            **figures, "queues": snapshot.queue_depths(current_app.extensions["celery"], QUEUE_NAMES)}
