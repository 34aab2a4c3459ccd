"""Turns a task network and its allocation into a scheduling problem and back.

The schedule is in whole working hours from the project start; dates are
applied in the plan document with the work calendar.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

from planning.errors import PlanningError
from planning.network import TaskNetwork
from planning.settings import PlanningSettings
from scheduling import Activity, Precedence, ProblemData, ProblemError, Resource, analyse_cpm, solve

# The renewable resource standing for the setting max_concurrent_tasks: each task holds one unit while it runs.
CONCURRENCY = "max_concurrent_tasks"


def build_problem(network: TaskNetwork, pools: list[dict], task_demands: dict[str, dict] | None = None,
                  max_concurrent: int | None = None, max_concurrent_from: int = 0) -> ProblemData:
    """Each task needs what the allocation gave it (a substitute pool, say), else what it asked for; and, when
    `max_concurrent` could bind (`concurrency_binds`), one unit of a resource of that capacity from hour
    `max_concurrent_from` on (a replan: what already happened before its status date is not re-judged)."""
    task_demands = task_demands or {}
    activities = [
        Activity(key=task.id, duration=task.duration_hours, demands=dict(task_demands.get(task.id, task.resources)),
                 name=task.name)
        for task in network.tasks
    ]
    used = {resource for activity in activities for resource in activity.demands}
    by_type = {pool["type"]: pool for pool in pools}
    resources = [
        Resource(key=key, capacity=int(by_type[key]["capacity"]), capacity_profile=_profile(by_type[key]))
        for key in sorted(used)
    ]
    if max_concurrent is not None and concurrency_binds(activities, by_type, max_concurrent):
        activities = [dataclasses.replace(activity, demands={**activity.demands, CONCURRENCY: 1})
                      for activity in activities]
        resources.append(Resource(key=CONCURRENCY, capacity=int(max_concurrent)) if max_concurrent_from <= 0 else
                         Resource(key=CONCURRENCY, capacity=len(activities),
                                  capacity_profile=[(int(max_concurrent_from), int(max_concurrent))]))
    precedences = [
        Precedence(pred=dep.task_id, succ=task.id, kind=dep.kind, lag=math.ceil(dep.lag_hours))
        for task in network.tasks
        for dep in task.depends_on
    ]
    try:
        return ProblemData(activities=activities, resources=resources, precedences=precedences)
    except ProblemError as error:
        raise PlanningError(str(error), getattr(error, "field", None)) from None


def concurrency_binds(activities: list[Activity], by_type: dict[str, dict], max_concurrent: int) -> bool:
    """Could more than `max_concurrent` tasks ever run at once? Not when there are no more tasks than that, nor when
    every task needs a pool and the pools' largest capacities add up to no more (the resource would only cost the
    solver time)."""
    if len(activities) <= max_concurrent:
        return False
    if any(not activity.demands for activity in activities):
        return True
    most = sum(max([int(by_type[key]["capacity"])] + [int(units) for _, units in by_type[key].get("capacity_profile")
                                                       or ()]) for key in {k for a in activities for k in a.demands})
    return most > max_concurrent


def _profile(pool: dict) -> list[tuple[int, int]] | None:
    """Availability that varies over time (from Layer 8), as scheduler steps.

    Beyond the window Layer 8 answered for, the pool's nominal capacity holds, so
    work that runs past the planning horizon is still schedulable.
    """
    steps = [(int(hour), int(units)) for hour, units in pool.get("capacity_profile") or ()]
    if not steps:
        return None
    if steps[-1][1] == 0:  # the end of the answered window, not a lasting lack of people
        steps[-1] = (steps[-1][0], int(pool["capacity"]))
    return steps


def stable_seed(network: TaskNetwork) -> int:
    """Same network, same seed: a plan is reproducible."""
    digest = hashlib.sha256(",".join(f"{t.id}:{t.duration_hours}" for t in network.tasks).encode())
    return int.from_bytes(digest.digest()[:4], "big")


def schedule_network(network: TaskNetwork, allocation: dict, settings: PlanningSettings, *,
                     objective: str = "makespan", deadline_hours: int | None = None,
                     time_limit: float | None = None) -> dict:
    """Schedule the network for the goal's `objective` (docs/goal-format.md, `schedule_objective`).

    `deadline_hours` (working hours from the project start to the end of the deadline day)
    is needed by "weighted_tardiness" only. `time_limit` (seconds for the solver) defaults to
    the setting `schedule_time_limit_seconds`.
    """
    capacities = {pool["type"]: int(pool["capacity"]) for pool in allocation["pools"]}
    data = build_problem(network, allocation["pools"], allocation.get("task_demands"),
                         max_concurrent=settings.max_concurrent_tasks)
    solved_objective, note, forced_lateness = objective, "", 0
    if objective == "weighted_tardiness":
        if deadline_hours is None:
            raise PlanningError("the weighted_tardiness objective needs a deadline", "schedule_objective")
        data, forced_lateness = _with_due_dates(network, data, deadline_hours)
    elif objective == "cost":
        data = _with_unit_costs(data, allocation["pools"])
        if not any(resource.cost_per_unit > 0 for resource in data.resources):
            # nothing to save: every schedule would cost 0, so ask for the shortest one instead
            solved_objective = "makespan"
            note = "no pool the tasks use has a price (cost_per_hour): scheduled for the shortest makespan"
    elif objective != "makespan":
        raise PlanningError(f"unknown schedule_objective {objective!r}", "schedule_objective")
    limit = settings.schedule_time_limit_seconds if time_limit is None else time_limit
    result = solve(data, time_limit=limit, seed=stable_seed(network),
                   objective=solved_objective)
    if not result.starts:
        raise PlanningError(f"no feasible schedule ({result.status.name.lower()})", "tasks")
    cpm = analyse_cpm(data, starts=result.starts)
    durations = {task.id: task.duration_hours for task in network.tasks}
    tasks = {
        key: {
            "start": start,
            "finish": start + durations[key],
            "es": cpm.es[key],
            "ef": cpm.ef[key],
            "ls": cpm.ls[key],
            "lf": cpm.lf[key],
            "total_float": cpm.total_float[key],
            "free_float": cpm.free_float[key],
            "critical": bool(cpm.critical[key]),
        }
        for key, start in result.starts.items()
    }
    # the solver only saw the clamped due dates: add back the lateness no schedule can avoid,
    # to its value and to its bound alike (both are then hours late against the real deadline)
    value = result.objective + forced_lateness
    lower_bound = result.lower_bound + forced_lateness
    gap = (value - lower_bound) / value if forced_lateness and value > 0 else result.gap
    solver = {
        "method": result.method,
        "status": result.status.name.lower(),
        "requested_objective": objective,
        "solved_objective": solved_objective,
        "objective": value,
        "lower_bound": lower_bound,
        "gap": max(gap, 0.0),
        "seconds": round(result.seconds, 3),
        # the setting as a renewable resource (each running task one unit); `binding` false when no schedule
        # could run more tasks at once anyway, and the resource was left out
        "max_concurrent_tasks": {"capacity": settings.max_concurrent_tasks,
                                 "binding": any(resource.key == CONCURRENCY for resource in data.resources)},
    }
    if note:
        solver["note"] = note
    if result.guards:  # a large project: the steps that chose a cheaper method (scheduling/guards.py)
        solver["size_guards"] = list(result.guards)
    return {
        "tasks": tasks,
        "critical_path": list(cpm.critical_path),
        "makespan_hours": result.makespan,
        "capacities": capacities,
        "solver": solver,
    }


def _with_due_dates(network: TaskNetwork, data: ProblemData, deadline_hours: int) -> tuple[ProblemData, int]:
    """The project's final tasks (no successor) get the deadline as a soft due date, weight 1 per hour late.

    The scheduler refuses a due date before a task's earliest finish, even a soft one, so
    each due date is max(deadline, earliest finish), and the lateness that clamp hides
    (earliest finish - deadline, which every schedule has) is returned to be added back.
    The earliest finishes come from `analyse_cpm` on `data` as built (no deadlines, no
    starts): that is the same precedence-only CPM the scheduler's validation checks against,
    so the clamped dates always pass it. Adding back is exact: a task that cannot make the
    deadline finishes at or after its earliest finish, so its real lateness is its lateness
    past the clamped date plus the constant (earliest finish - deadline).
    """
    has_successor = {dep.task_id for task in network.tasks for dep in task.depends_on}
    earliest_finish = analyse_cpm(data).ef
    finals = {task.id for task in network.tasks if task.id not in has_successor}
    activities = [
        dataclasses.replace(activity, deadline=max(deadline_hours, earliest_finish[activity.key]), weight=1.0)
        if activity.key in finals else activity
        for activity in data.activities
    ]
    forced = sum(max(0, earliest_finish[key] - deadline_hours) for key in finals)
    return _rebuilt(data, activities=activities), forced


def _with_unit_costs(data: ProblemData, pools: list[dict]) -> ProblemData:
    """Each resource's price of one unit of availability: its pool's hourly rate (`cost_per_hour`).

    An approximation: making one unit available really costs rate x the project's length
    (one person kept on the project for its duration), but under "cost" the makespan is held
    at the best one found, so rate x length and rate rank schedules alike (the length is a
    common factor). The value reported is then per hour of project, not a sum of money.
    """
    rate = {pool["type"]: float(pool.get("cost_per_hour") or 0.0) for pool in pools}
    resources = [dataclasses.replace(resource, cost_per_unit=rate.get(resource.key, 0.0))
                 for resource in data.resources]
    return _rebuilt(data, resources=resources)


def _rebuilt(data: ProblemData, **changes) -> ProblemData:
    try:
        return dataclasses.replace(data, **changes)  # validated again, as on construction
    except ProblemError as error:
        raise PlanningError(str(error), getattr(error, "field", None)) from None
