"""Turns a task network and its allocation into a scheduling problem and back.

The schedule is in whole working hours from the project start; dates are
applied in the plan document with the work calendar.
"""

from __future__ import annotations

import hashlib
import math

from planning.errors import PlanningError
from planning.network import TaskNetwork
from planning.settings import PlanningSettings
from scheduling import Activity, Precedence, ProblemData, ProblemError, Resource, analyse_cpm, solve


def build_problem(network: TaskNetwork, pools: list[dict], task_demands: dict[str, dict] | None = None) -> ProblemData:
    """Each task needs what the allocation gave it (a substitute pool, say), else what it asked for."""
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
    precedences = [
        Precedence(pred=dep.task_id, succ=task.id, kind=dep.kind, lag=math.ceil(dep.lag_hours))
        for task in network.tasks
        for dep in task.depends_on
    ]
    try:
        return ProblemData(activities=activities, resources=resources, precedences=precedences)
    except ProblemError as error:
        raise PlanningError(str(error), getattr(error, "field", None)) from None


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


def schedule_network(network: TaskNetwork, allocation: dict, settings: PlanningSettings) -> dict:
    capacities = {pool["type"]: int(pool["capacity"]) for pool in allocation["pools"]}
    data = build_problem(network, allocation["pools"], allocation.get("task_demands"))
    result = solve(data, time_limit=settings.schedule_time_limit_seconds, seed=stable_seed(network))
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
    return {
        "tasks": tasks,
        "critical_path": list(cpm.critical_path),
        "makespan_hours": result.makespan,
        "capacities": capacities,
        "solver": {
            "method": result.method,
            "status": result.status.name.lower(),
            "objective": result.objective,
            "lower_bound": result.lower_bound,
            "gap": result.gap,
            "seconds": round(result.seconds, 3),
        },
    }
