"""Periodic work run by beat: resume plans whose messages were lost.

Redis keeps nothing on disk here, so a restarted broker forgets queued
messages. The database remembers every unfinished plan version; this job
re-sends the chain from the first stage without a saved result. Stages are
idempotent, so a resend that races a slow worker duplicates nothing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from celery import shared_task
from flask import current_app

from app.extensions import db
from app.models import STAGES, StageResult, utcnow
from app.services.plans import stalled_versions
from tasks.chain import enqueue_plan_version

log = logging.getLogger(__name__)


@shared_task(name="layer2.resume_stalled_plans", queue="replan", acks_late=True)
def resume_stalled_plans() -> int:
    older_than = current_app.config["RESUME_STALLED_AFTER_SECONDS"]
    resumed = 0
    for version in stalled_versions(session=db.session, older_than_seconds=older_than):
        done = set(db.session.execute(
            sa.select(StageResult.stage).where(StageResult.plan_version_id == version.id)
        ).scalars())
        next_stage = next((stage for stage in STAGES if stage not in done), None)
        if next_stage is None:
            continue
        version.updated_at = utcnow()  # so the next sweep waits again before resending
        db.session.commit()
        enqueue_plan_version(version.id, from_stage=next_stage)
        log.info("resumed plan version %s from stage %s", version.id, next_stage)
        resumed += 1
    return resumed
