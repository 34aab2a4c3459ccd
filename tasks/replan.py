"""The replan tasks on the `replan` queue: the beat scan, and making version n+1 of one plan.

`layer2.replan_scan` (beat) stores the fired triggers and sends `layer2.replan(plan_id, trigger_id)`
for each; `layer2.replan` makes the version once (app/services/replanning.py) and sends its chain
from the registry's REPLAN_FROM stage on the stage queues. Both are acknowledged late: a worker
killed mid-replan has its message redelivered, and the trigger's state makes the second delivery
do nothing more than the first would have.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from app import logs
from app.extensions import db
from app.services import replanning
from app.services.pipeline import TRANSIENT_ERRORS, first_unfinished_stage
from app.stages import REPLAN_FROM
from tasks.chain import enqueue_plan_version

log = logging.getLogger(__name__)


def _testonly_delay(name: str) -> float:
    spec = current_app.config.get("TESTONLY_STAGE_DELAY") or ""
    stage, _, seconds = spec.partition("=")
    return float(seconds) if stage == name and seconds else 0.0


def send_chain(started: replanning.ReplanStart) -> None:
    """Send the version's chain: from REPLAN_FROM with its stored task ids, or (a redelivery that found it still
    queued) from its first stage without a result."""
    if not started.send:
        return
    if started.task_ids:
        enqueue_plan_version(started.version_id, from_stage=REPLAN_FROM, task_ids=started.task_ids)
        return
    stage = first_unfinished_stage(started.version_id)
    db.session.rollback()
    if stage is not None:
        enqueue_plan_version(started.version_id, from_stage=stage)


@shared_task(name="layer2.replan", queue="replan", bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=8)
def replan(self, plan_id: str, trigger_id: int) -> int | None:
    logs.bind(plan_id=plan_id)  # its log lines and its chain's name the plan (unbound after the task)
    try:
        started = replanning.start_replan(session=db.session, plan_id=plan_id, trigger_id=trigger_id,
                                          testonly_delay=_testonly_delay("replan"))
    except TRANSIENT_ERRORS as error:
        raise self.retry(exc=error, countdown=min(20, 2 ** (self.request.retries + 1))) from error
    if started is None:
        return None
    send_chain(started)
    log.info("replan of plan %s (trigger %s): version %s %s", plan_id, trigger_id, started.version,
             "made" if started.created else "joined")
    return started.version


@shared_task(name="layer2.replan_scan", queue="replan", acks_late=True)
def replan_scan() -> dict:
    result = replanning.scan(session=db.session, settings=current_app.config["PLANNING"])
    if result.skipped:
        return {"skipped": True}
    for plan_id, trigger_id in [*result.triggers, *replanning.pending_triggers(session=db.session)]:
        replan.apply_async(args=(plan_id, trigger_id), queue="replan")
    if result.candidates:
        log.info("replan scan: %d candidate(s), %d fired, %d sent in %.3f s", result.candidates, result.fired,
                 len(result.triggers), result.seconds)
    return {"skipped": result.skipped, "candidates": result.candidates, "fired": result.fired,
            "sent": len(result.triggers), "seconds": round(result.seconds, 4)}
