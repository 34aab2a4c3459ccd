"""Allocation from the goal's own resource pools, with cost and budget.

Each task is served by the pool of the type it asks for, with the units it
asks for; cost is units x hours x the pool's hourly rate. Capacity conflicts
are left to the scheduler, which never exceeds a pool's capacity.
"""

from __future__ import annotations

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.settings import PlanningSettings

DEFAULT_POOL_CAPACITY = 1


def allocate_from_goal_pools(goal: Goal, network: TaskNetwork, settings: PlanningSettings) -> dict:
    """Return {pools, allocations, cost, warnings} as plain data."""
    pools = {pool.type: {"type": pool.type, "capacity": pool.capacity, "cost_per_hour": pool.cost_per_hour,
                         "source": "goal"} for pool in goal.resources}
    warnings: list[str] = []
    for suggested in network.notes.get("suggested_pools", []):
        pools.setdefault(suggested["type"], {**suggested, "source": "suggested"})
    allocations = []
    total = 0.0
    for task in network.tasks:
        hours = task.duration_hours
        for resource_type, units in task.resources.items():
            pool = pools.get(resource_type)
            if pool is None:
                pool = {"type": resource_type, "capacity": max(units, DEFAULT_POOL_CAPACITY),
                        "cost_per_hour": 0.0, "source": "assumed"}
                pools[resource_type] = pool
                warnings.append(f"resource type {resource_type!r} has no pool; assumed {pool['capacity']} unit(s) at no cost")
            cost = units * hours * pool["cost_per_hour"]
            total += cost
            allocations.append({"task_id": task.id, "resource": resource_type, "units": units,
                                "hours": hours, "cost": round(cost, 2), "status": "planned"})
    budget = goal.budget
    reserve = settings.resource_buffer_percentage
    within = None if budget is None else total <= budget * (1 - reserve)
    if within is False:
        warnings.append(f"estimated cost {total:.2f} {goal.currency} exceeds the budget {budget:.2f} "
                        f"less the {reserve:.0%} reserve")
    return {
        "pools": sorted(pools.values(), key=lambda p: p["type"]),
        "allocations": allocations,
        "cost": {"total": round(total, 2), "currency": goal.currency, "budget": budget,
                 "reserve_percentage": reserve, "within_budget": within},
        "shortfalls": [],
        "warnings": warnings,
    }
