"""Stable identities: a task's `uid` is the same in every version of its plan, and unique across plans.

`uid = uuid5(TASK_NAMESPACE, "<plan id>/<task id>")`. A plan id is a UUID (no `/`), so the
pair is read back unambiguously; the same task id in two plans gives two uids, and a replan
that keeps a task id keeps its uid, so execution feedback and the version diff can follow it.
"""

from __future__ import annotations

import uuid

# Fixed for good: changing it would change every uid ever handed out.
TASK_NAMESPACE = uuid.UUID("6f1c1c52-3d5e-5b8e-9a57-2a9c0d3e4b10")


def task_uid(plan_id: str, task_id: str) -> str:
    return str(uuid.uuid5(TASK_NAMESPACE, f"{plan_id}/{task_id}"))
