"""Periodic work run by beat: resume plans whose messages were lost.

A restarted broker without persistence forgets queued messages, and a stage
killed at its hard time limit is acknowledged without a result. The database
remembers every unfinished plan version; this job re-sends the chain from the
first stage without a saved result. Stages are idempotent, so a resend that
races a slow worker duplicates nothing, and a stage that never finishes is
given up by the runner after a few attempts (so the sweep never loops).
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from app.extensions import db
from app.models import utcnow
from app.services.pipeline import first_unfinished_stage
from app.services.plans import stalled_versions
from tasks.chain import enqueue_plan_version

log = logging.getLogger(__name__)


@shared_task(name="layer2.resume_stalled_plans", queue="replan", acks_late=True)
def resume_stalled_plans() -> int:
    older_than = current_app.config["RESUME_STALLED_AFTER_SECONDS"]
    resumed = 0
    for version in stalled_versions(session=db.session, older_than_seconds=older_than):
        next_stage = first_unfinished_stage(version.id)
        if next_stage is None:
            continue
        version.updated_at = utcnow()  # so the next sweep waits again before resending
        db.session.commit()
        enqueue_plan_version(version.id, from_stage=next_stage)
        log.info("resumed plan version %s from stage %s", version.id, next_stage)
        resumed += 1
    return resumed
