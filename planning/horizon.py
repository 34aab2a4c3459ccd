"""The planning horizon (`planning_horizon_days`): how far ahead a plan is committed, not how far it is scheduled.

Every task is scheduled, whatever its date. Only the tasks that start within the horizon (from the plan's
start; for a replan, from its status date) are held at Layer 8; the holds of the tasks beyond it are deferred,
and the row says from which day the horizon reaches it (`hold_from`). A replan re-details the next horizon from
its status date. The Layer 8 availability window still covers the whole schedule as far as it can be known
before scheduling: to the deadline, the horizon, or the precedence-only finish of the network, whichever is
latest (docs/lifecycle.md, "The planning horizon").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from planning.graph import topological_order
from planning.network import TaskNetwork
from planning.settings import PlanningSettings
from planning.work_calendar import calendar_for


def horizon_end(origin: date, settings: PlanningSettings) -> date:
    """The last day within the horizon that starts on `origin`."""
    return origin + timedelta(days=settings.planning_horizon_days)


def defer_beyond_horizon(allocations: list[dict], origin: date, settings: PlanningSettings) -> dict:
    """Mark the rows of tasks that start after the horizon: not held now (`beyond_horizon`, `hold_from`).

    Changes the rows in place; returns the `horizon` block of the plan document."""
    end = horizon_end(origin, settings)
    deferred = 0
    for row in allocations:
        starts = datetime.fromisoformat(row["start"]).date() if row.get("start") else None
        if starts is not None and starts > end:
            row["beyond_horizon"] = True
            row["hold_from"] = (starts - timedelta(days=settings.planning_horizon_days)).isoformat()
            deferred += 1
        else:
            row.pop("beyond_horizon", None)
            row.pop("hold_from", None)
    return {"days": settings.planning_horizon_days, "from": origin.isoformat(), "until": end.isoformat(),
            "deferred_allocations": deferred}


def precedence_finish(network: TaskNetwork, start: date, settings: PlanningSettings) -> date:
    """The day the network would end with unlimited resources (the longest dependency chain): no schedule of it
    ends earlier."""
    successors: dict[str, list[str]] = {task.id: [] for task in network.tasks}
    for task in network.tasks:
        for dependency in task.depends_on:
            successors.setdefault(dependency.task_id, []).append(task.id)
    by_id = {task.id: task for task in network.tasks}
    finish: dict[str, float] = {}
    for task_id in topological_order(successors):
        task = by_id.get(task_id)
        if task is None:
            continue
        begin = 0.0
        for dependency in task.depends_on:
            before = by_id.get(dependency.task_id)
            if before is None or dependency.task_id not in finish:
                continue
            lag = dependency.lag_hours
            if dependency.kind == "SS":
                begin = max(begin, finish[dependency.task_id] - before.duration_hours + lag)
            elif dependency.kind == "FF":
                begin = max(begin, finish[dependency.task_id] + lag - task.duration_hours)
            else:
                begin = max(begin, finish[dependency.task_id] + lag)
        finish[task_id] = begin + task.duration_hours
    hours = max(finish.values(), default=0.0)
    return calendar_for(settings).to_datetime(start, int(-(-hours // 1)), as_finish=True).date()
