"""Builds and sends the stage chain for a plan version."""

from __future__ import annotations

import uuid

from celery import chain, current_app

from app.models import STAGES


def enqueue_plan_version(version_id: int, *, from_stage: str = STAGES[0]) -> list[str]:
    """Send the chain from `from_stage` on; returns the task ids (for revoking).

    In embedded mode (eager) this runs the whole pipeline before returning.
    """
    stages = STAGES[STAGES.index(from_stage):]
    task_ids = [str(uuid.uuid4()) for _ in stages]
    signatures = [
        current_app.signature(f"layer2.{stage}", queue=stage, task_id=task_id)
        for stage, task_id in zip(stages, task_ids, strict=True)
    ]
    signatures[0].args = (version_id,)
    chain(*signatures).apply_async()
    return task_ids


def revoke(task_ids: list[str]) -> None:
    """Tell every worker to drop these tasks if they have not started."""
    if task_ids and not current_app.conf.task_always_eager:
        current_app.control.revoke(task_ids)
