"""The allocate stage's entry points: pools from their sources, then `planning.resources.allocator`.

`allocate_from_goal_pools` plans from the goal's own pools (and the decomposition's
suggestions) alone; `allocate_with_sources` adds the local pool and Layer 8's
availability, which the caller fetched. Both return the same plain-data shape:
`pools`, `allocations`, `cost`, `shortfalls`, `warnings` (what the schedule and plan
document read), plus `conflicts`, `requests`, `recommendations`, `task_demands`,
`levelled` and `integration`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.resources import allocate, read_sources
from planning.settings import PlanningSettings


def allocate_from_goal_pools(goal: Goal, network: TaskNetwork, settings: PlanningSettings) -> dict:
    """Allocate from the goal's pools and the decomposition's suggested pools."""
    return allocate_with_sources(goal, network, settings, local_pools=[], layer8=None)


def allocate_with_sources(goal: Goal, network: TaskNetwork, settings: PlanningSettings, *,
                          local_pools: Sequence[Mapping], layer8: Mapping | None,
                          project_start: date | None = None,
                          role_of: Callable[[str], str | None] | None = None) -> dict:
    """Allocate from the goal's pools, then Layer 8's, then the local pool's, then the suggestions.

    `layer8` is Layer 8's availability answer as fetched, `None` when Layer 8 is not
    configured, or `{"error": ..., "kind": ...}` when it could not be reached: the plan is
    then made from the other sources and carries a warning.
    """
    sources = read_sources(goal, network, local_pools=local_pools, layer8=layer8, role_of=role_of)
    result = allocate(goal, network, sources.pools, sources.availability, settings,
                      project_start=project_start, requestable=sources.requestable)
    result["warnings"] = sources.warnings + result["warnings"]
    for role, pools in sorted(sources.role_pools.items()):  # roles done by Layer 8 or local pools in other words
        hours = {pool: 0.0 for pool in pools}
        for row in result["allocations"]:
            if row["requested_resource"] == role and row["resource"] in hours:
                hours[row["resource"]] += row["units"] * row["hours"]
        result["role_map"] = {**result["role_map"], role: {"pools": pools, "how": "role vocabulary",
                                                           "unit_hours": hours}}
    result["integration"] = {**sources.integration,
                             "sources": {pool["type"]: pool["source"] for pool in result["pools"]}}
    return result
