"""Replanning a task network: the schedule stage's counterpart for an executing plan.

`replan_network` is `schedule_network` (planning/schedule_adapter.py) for the remaining
work: it builds the problem from the network and its (new) allocation, applies the status
date (`replan_input`), adds the objective's due dates or unit costs as the schedule stage
does, and solves with the warm start and the stability pass (`replan_schedule`). Its result
has the schedule stage's shape, so the finalize stage can build the next version's document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planning.errors import PlanningError
from planning.network import TaskNetwork
from planning.progress.status import TaskProgress
from planning.replanning.status_date import (
    IN_PROGRESS,
    ReplanResult,
    replan_input,
    replan_schedule,
    task_state,
    with_data,
)
from planning.schedule_adapter import _with_due_dates, _with_unit_costs, build_problem, stable_seed
from planning.settings import PlanningSettings


def replan_network(network: TaskNetwork, allocation: Mapping[str, Any], previous_schedule: Mapping[str, Any],
                   progress: Mapping[str, TaskProgress], status_hours: int, settings: PlanningSettings, *,
                   objective: str = "makespan", deadline_hours: int | None = None, logic: str = "retained",
                   not_before: Mapping[str, int] | None = None, warm_start: bool = True,
                   time_limit: float | None = None, stability_tolerance: float | None = None) -> dict:
    """The replanned schedule (the schedule stage's shape plus a `replan` block; docs/lifecycle.md (The replan rules)).

    `allocation` is the allocate stage's result for the new version (pools as they are now);
    `previous_schedule` the schedule stage's result (or the plan document) of the version
    being replaced. `time_limit` defaults to `settings.schedule_time_limit_seconds`, and
    `stability_tolerance` to the `replan_stability_tolerance` setting when it exists, else 0.
    """
    return replan_network_result(network, allocation, previous_schedule, progress, status_hours, settings,
                                 objective=objective, deadline_hours=deadline_hours, logic=logic,
                                 not_before=not_before, warm_start=warm_start, time_limit=time_limit,
                                 stability_tolerance=stability_tolerance).schedule


def replan_network_result(network: TaskNetwork, allocation: Mapping[str, Any], previous_schedule: Mapping[str, Any],
                          progress: Mapping[str, TaskProgress], status_hours: int, settings: PlanningSettings, *,
                          objective: str = "makespan", deadline_hours: int | None = None, logic: str = "retained",
                          not_before: Mapping[str, int] | None = None, warm_start: bool = True,
                          time_limit: float | None = None,
                          stability_tolerance: float | None = None) -> ReplanResult:
    """`replan_network` with the whole ReplanResult (moved tasks, the solver's result, the stability pass)."""
    pools = list(allocation["pools"])
    # max_concurrent_tasks from the status date on, and never below the tasks already running then
    running = sum(1 for report in progress.values() if task_state(report) == IN_PROGRESS)
    problem = build_problem(network, pools, allocation.get("task_demands"),
                            max_concurrent=max(settings.max_concurrent_tasks, running),
                            max_concurrent_from=status_hours)
    replan = replan_input(previous_schedule, problem, progress, status_hours, logic=logic, not_before=not_before)
    solved, note, forced = objective, "", 0
    if objective == "weighted_tardiness":
        if deadline_hours is None:
            raise PlanningError("the weighted_tardiness objective needs a deadline", "schedule_objective")
        data, forced = _with_due_dates(network, replan.data, deadline_hours)
        replan = with_data(replan, data)
    elif objective == "cost":
        data = _with_unit_costs(replan.data, pools)
        if any(resource.cost_per_unit > 0 for resource in data.resources):
            replan = with_data(replan, data)
        else:
            solved = "makespan"
            note = "no pool the tasks use has a price (cost_per_hour): scheduled for the shortest makespan"
    elif objective != "makespan":
        raise PlanningError(f"unknown schedule_objective {objective!r}", "schedule_objective")
    limit = settings.schedule_time_limit_seconds if time_limit is None else time_limit
    if stability_tolerance is None:
        stability_tolerance = getattr(settings, "replan_stability_tolerance", 0.0)
    result = replan_schedule(replan, time_limit=limit, seed=stable_seed(network), objective=solved,
                             warm_start=warm_start, stability_tolerance=stability_tolerance)
    schedule = result.schedule
    schedule["capacities"] = {pool["type"]: int(pool["capacity"]) for pool in pools}
    block = schedule["solver"]
    block["requested_objective"] = objective
    if forced:
        # as in schedule_network: the lateness no schedule can avoid goes back into value and bound
        block["objective"] += forced
        block["lower_bound"] += forced
        block["gap"] = max((block["objective"] - block["lower_bound"]) / block["objective"], 0.0) \
            if block["objective"] > 0 else 0.0
    if note:
        block["note"] = f"{note}; {block['note']}" if "note" in block else note
    return result
