"""The five stage tasks: ids in; run the stage; id out. All alike, all thin."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import Ignore
from flask import current_app

from app.services.pipeline import TRANSIENT_ERRORS, StageOutcome, run_stage

STAGE_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}


def _testonly_delay(stage: str) -> float:
    """Seconds to sleep in `stage`, from LAYER2_TESTONLY_STAGE_DELAY='stage=seconds' (fault tests only)."""
    spec = current_app.config.get("TESTONLY_STAGE_DELAY") or ""
    name, _, seconds = spec.partition("=")
    return float(seconds) if name == stage and seconds else 0.0


def _run(task, stage: str, version_id: int) -> int:
    outcome = run_stage(
        stage,
        version_id,
        settings=current_app.config["PLANNING"],
        worker=task.request.hostname,
        attempt=task.request.retries + 1,
        testonly_delay=_testonly_delay(stage),
    )
    if outcome is StageOutcome.STOP:
        raise Ignore()  # ends the chain without retrying: the plan row says why
    return version_id


@shared_task(name="layer2.risk", queue="risk", **STAGE_TASK_OPTIONS)
def risk(self, version_id: int) -> int:
    return _run(self, "risk", version_id)


@shared_task(name="layer2.decompose", queue="decompose", **STAGE_TASK_OPTIONS)
def decompose(self, version_id: int) -> int:
    return _run(self, "decompose", version_id)


@shared_task(name="layer2.allocate", queue="allocate", **STAGE_TASK_OPTIONS)
def allocate(self, version_id: int) -> int:
    return _run(self, "allocate", version_id)


@shared_task(name="layer2.schedule", queue="schedule", **STAGE_TASK_OPTIONS)
def schedule(self, version_id: int) -> int:
    return _run(self, "schedule", version_id)


@shared_task(name="layer2.finalize", queue="finalize", **STAGE_TASK_OPTIONS)
def finalize(self, version_id: int) -> int:
    return _run(self, "finalize", version_id)
