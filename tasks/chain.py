"""Builds and sends the stage chain for a plan version, from any stage of the registry."""

from __future__ import annotations

import uuid

from celery import chain, current_app

from app import logs
from app.stages import STAGE_NAMES, stages_from


def chain_task_ids(from_stage: str = STAGE_NAMES[0]) -> list[str]:
    """Fresh task ids for the chain from `from_stage`: stored with the version before it is sent."""
    return [str(uuid.uuid4()) for _ in stages_from(from_stage)]


def enqueue_plan_version(version_id: int, *, from_stage: str = STAGE_NAMES[0],
                         task_ids: list[str] | None = None, plan_id: str | None = None) -> list[str]:
    """Send the chain from `from_stage` on; returns the task ids (for revoking).

    Every stage's message carries the request id and plan id of the logging context (and `plan_id`), so the
    stage's log lines name them (app/logs.py). In embedded mode (eager) this runs the whole pipeline before
    returning.
    """
    stages = stages_from(from_stage)
    task_ids = task_ids or chain_task_ids(from_stage)
    with logs.bound(plan_id=plan_id):
        headers = logs.context_headers()
    signatures = [current_app.signature(stage.task_name, queue=stage.name, task_id=task_id, headers=headers)
                  for stage, task_id in zip(stages, task_ids, strict=True)]
    signatures[0].args = (version_id,)
    chain(*signatures).apply_async()
    return task_ids


def revoke(task_ids: list[str]) -> None:
    """Tell every worker to drop these tasks if they have not started."""
    if task_ids and not current_app.conf.task_always_eager:
        current_app.control.revoke(task_ids)
