"""The transactional outbox: every outgoing event is one row written by `emit`, in the transaction of the
change it reports, so an event exists exactly when its change was committed (docs/events.md).

The relay (`app/events/relay.py`) publishes the unsent rows to the topic exchange and marks them sent.
An event is an envelope `{id, type, version, occurred_at, plan_id, payload}`; `id` is a uuid fixed
when the row is written, so a row published twice (a relay that died between publishing and
marking) reaches consumers under the same id, and they deduplicate by it.

The payload builders here say what each topic carries; the services call `emit` with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from app.models import OutboxEvent, PlanTask, utcnow

PLANS_CREATED = "plans.created"
PLANS_UPDATED = "plans.updated"
TASKS_ASSIGNED = "tasks.assigned"
RISKS_ALERTS = "risks.alerts"
OUTGOING_TOPICS = (PLANS_CREATED, PLANS_UPDATED, TASKS_ASSIGNED, RISKS_ALERTS)
#: The schema version of each topic's payload (docs/events.md); raised on an incompatible change.
SCHEMA_VERSIONS = {PLANS_CREATED: 1, PLANS_UPDATED: 1, TASKS_ASSIGNED: 1, RISKS_ALERTS: 1}

_INSERT = sa.insert(OutboxEvent.__table__)


def emit(target, topic: str, *, plan_id: str | None, payloads: Iterable[dict] | dict,
         now: datetime | None = None) -> list[str]:
    """Write one event per payload on `topic` in the caller's transaction (a Session or a Connection;
    not committed here). Returns the event ids."""
    if topic not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown outgoing topic {topic!r}")
    payloads = [payloads] if isinstance(payloads, dict) else list(payloads)
    if not payloads:
        return []
    now = now or utcnow()
    rows = [{"event_id": str(uuid.uuid4()), "topic": topic, "schema_version": SCHEMA_VERSIONS[topic],
             "plan_id": plan_id, "occurred_at": now, "payload": payload, "sent_at": None} for payload in payloads]
    target.execute(_INSERT, rows if len(rows) > 1 else rows[0])
    return [row["event_id"] for row in rows]


def envelope(row) -> dict:
    """The message body of an outbox row (what the relay publishes)."""
    occurred = row.occurred_at
    return {"id": row.event_id, "type": row.topic, "version": row.schema_version,
            "occurred_at": occurred.isoformat() if occurred else None, "plan_id": row.plan_id,
            "payload": row.payload}


# -- payloads -------------------------------------------------------------------------------------

def plan_update(plan_id: str, change: str, *, status: str, version: int, version_status: str | None,
                previous_status: str | None = None, baseline_version: int | None = None,
                reason: str | None = None, actor: str | None = None) -> dict:
    """A `plans.updated` payload: what changed (`change`), and the plan's and the version's state after it."""
    payload = {"plan_id": plan_id, "change": change, "status": status, "previous_status": previous_status,
               "version": version, "version_status": version_status, "baseline_version": baseline_version}
    if reason is not None:
        payload["reason"] = reason
    if actor is not None:
        payload["actor"] = actor
    return payload


def emit_plan_update(target, plan_id: str, change: str, *, now: datetime | None = None, **state) -> None:
    emit(target, PLANS_UPDATED, plan_id=plan_id, payloads=plan_update(plan_id, change, **state), now=now)


def assignable_tasks(document: dict, statuses: dict[str, str], *, after: Iterable[str] | None = None) -> list[dict]:
    """The document's tasks that may start now: not started, every predecessor completed.

    `after`: only the successors of these tasks (the ones just completed), so a task is
    assigned when its last predecessor completes, not again on every report.
    """
    just_done = set(after) if after is not None else None
    ready = []
    for task in document.get("tasks") or ():
        if statuses.get(task["id"], "not_started") != "not_started":
            continue
        predecessors = list(task.get("depends_on") or ())
        if just_done is not None and not just_done.intersection(predecessors):
            continue
        if all(statuses.get(p) == "completed" for p in predecessors):
            ready.append(task)
    return ready


_RESOURCE_FIELDS = ("resource", "units", "hours", "from", "to", "start", "finish", "status", "source",
                    "requested_resource", "layer8_allocation_id")


def task_assignment(plan_id: str, version: int, task: dict, document: dict) -> dict:
    """A `tasks.assigned` payload: the task, its planned window and the resources allocated to it."""
    allocations = task.get("allocations")
    if allocations is None:
        allocations = [row for row in document.get("allocations") or () if row.get("task_id") == task["id"]]
    return {
        "plan_id": plan_id, "version": version,
        "task": {"id": task["id"], "uid": task.get("uid"), "name": task.get("name"), "phase": task.get("phase"),
                 "start": task.get("start"), "finish": task.get("finish"), "duration_hours": task.get("duration"),
                 "critical": task.get("critical"), "depends_on": list(task.get("depends_on") or ())},
        "resources": [{name: row[name] for name in _RESOURCE_FIELDS if name in row} for row in allocations],
    }


def emit_assignable_tasks(target, *, plan_id: str, version: int, version_id: int, document: dict,
                          statuses: dict[str, str] | None = None, after: Iterable[str] | None = None,
                          now: datetime | None = None) -> int:
    """One `tasks.assigned` event per task that may start now (live statuses read from `plan_tasks` unless
    given). Returns how many."""
    if statuses is None:
        statuses = dict(target.execute(sa.select(PlanTask.task_key, PlanTask.status).where(
            PlanTask.plan_version_id == version_id)).all())
    tasks = assignable_tasks(document, statuses, after=after)
    emit(target, TASKS_ASSIGNED, plan_id=plan_id,
         payloads=[task_assignment(plan_id, version, task, document) for task in tasks], now=now)
    return len(tasks)


def risk_alert(plan_id: str, version: int, risk: dict, *, source: str, issue: dict | None = None) -> dict:
    """A `risks.alerts` payload: a risk at alert level (`source` "assessment"), or an escalated issue's alert
    (`source` "escalation", with the issue)."""
    payload = {"plan_id": plan_id, "version": version, "source": source, "risk": risk}
    if issue is not None:
        payload["issue"] = issue
    return payload


def emit_assessment_alerts(target, *, plan_id: str, version: int, document: dict,
                           now: datetime | None = None) -> int:
    """One `risks.alerts` event per risk of the plan document at alert level (its `risk_alerts`)."""
    alert_ids = set(document.get("risk_alerts") or ())
    risks = [risk for risk in document.get("risks") or () if risk.get("id") in alert_ids]
    emit(target, RISKS_ALERTS, plan_id=plan_id,
         payloads=[risk_alert(plan_id, version, risk, source="assessment") for risk in risks], now=now)
    return len(risks)
