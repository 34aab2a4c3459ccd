"""One Celery task per registry stage, all alike: id in; run the stage; id out.

How a stage task ends, as a worker's events (and Flower) show it: SUCCESS with the version id when the
stage's result is saved (the chain goes on); FAILURE (`StageFailed`) when this stage failed the plan; SUCCESS
with `{"skipped": ...}` and the rest of the chain dropped when the version was already done (cancelled,
failed by another delivery, gone); REVOKED for the later stages of a cancelled plan (revoked by the DELETE).
Eager runs (embedded mode) end the chain with `Ignore` instead: the eager chain stops on it, and no events go out.
"""

from __future__ import annotations

import random

from celery import shared_task
from celery.exceptions import Ignore
from flask import current_app

from app.services.pipeline import TRANSIENT_ERRORS, StageOutcome, run_stage
from app.stages import REGISTRY, Stage
from tasks.queues import DEAD_LETTER_QUEUE

# Transient errors (database or broker away) are retried with capped exponential
# backoff and jitter: 2, 4, 8, 16, 20, 20... s, about two minutes in all. The cap
# stays well under the visibility timeout, so a retry held with its countdown is
# never redelivered to a second worker meanwhile.
MAX_RETRIES = 8
RETRY_BACKOFF_CAP_SECONDS = 20


class StageFailed(Exception):
    """This stage failed its plan version (the plan row says why): the task ends as FAILURE, the chain stops."""


STAGE_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": MAX_RETRIES,
    "throws": (StageFailed,),  # an expected failure: logged by Celery without a traceback (the plan row has why)
}


def _testonly_delay(stage: str) -> float:
    """Seconds to sleep in `stage`, from LAYER2_TESTONLY_STAGE_DELAY='stage=seconds' (fault tests only)."""
    spec = current_app.config.get("TESTONLY_STAGE_DELAY") or ""
    name, _, seconds = spec.partition("=")
    return float(seconds) if name == stage and seconds else 0.0


def _testonly_crash(stage: str) -> bool:
    """True when LAYER2_TESTONLY_STAGE_CRASH names `stage`: the worker process dies inside it (fault tests only)."""
    return current_app.config.get("TESTONLY_STAGE_CRASH") == stage


def _run(task, stage: Stage, version_id: int) -> int | dict:
    try:
        outcome = run_stage(stage.name, version_id, settings=current_app.config["PLANNING"],
                            worker=task.request.hostname,
                            testonly_delay=_testonly_delay(stage.name), testonly_crash=_testonly_crash(stage.name),
                            dead_letter=lambda: _dead_letter(task, stage, version_id))
    except TRANSIENT_ERRORS as error:
        if task.request.retries >= MAX_RETRIES:
            # Still failing after about two minutes: drop this message. The plan stays
            # unfinished in the database and the stalled-plan sweep resends it later.
            raise
        countdown = min(RETRY_BACKOFF_CAP_SECONDS, 2 ** (task.request.retries + 1)) * random.uniform(0.5, 1.0)
        raise task.retry(exc=error, countdown=countdown) from error
    if outcome is StageOutcome.CONTINUE:
        return version_id
    if task.request.is_eager:
        raise Ignore()  # the eager chain stops on it; nothing watches eager task states
    if outcome in (StageOutcome.FAILED, StageOutcome.POISON):
        raise StageFailed(f"stage {stage.name} failed plan version {version_id} (the plan's error says why)")
    task.request.chain = None  # nothing after this stage runs
    return {"skipped": f"plan version {version_id} was already done or is gone", "version_id": version_id}


def _dead_letter(task, stage: Stage, version_id: int) -> None:
    """Park the poison message on the dead-letter queue (no worker consumes it) for an operator."""
    task.app.send_task("layer2.dead_letter", args=(stage.name, version_id), queue=DEAD_LETTER_QUEUE,
                       headers={"original_task_id": task.request.id})


def _stage_task(stage: Stage):
    def run(self, version_id: int) -> int | dict:
        return _run(self, stage, version_id)

    run.__name__ = run.__qualname__ = stage.name
    run.__doc__ = f"Run the {stage.name} stage of a plan version."
    return shared_task(name=stage.task_name, queue=stage.name, **STAGE_TASK_OPTIONS)(run)


STAGE_TASKS = {stage.name: _stage_task(stage) for stage in REGISTRY}
