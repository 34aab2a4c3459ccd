"""The allocation stage's decision: which pool serves each task, with how many units, at what cost.

`allocate` is pure: it takes the pools (already merged from their sources) and the
availability windows, and returns plain data. See `levelling` for how conflicts are
resolved and `recommend` for the cost recommendations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

import numpy as np

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.resources import cost as costing
from planning.resources import recommend
from planning.resources.levelling import (
    OUTCOMES,
    Placement,
    Resolver,
    critical_path,
    find_conflicts,
    substitutes_for,
    worst_outcome,
)
from planning.resources.pools import AvailabilityWindow, Pool
from planning.resources.profile import Horizon, plan_calendar, profile_steps, profiles
from planning.settings import PlanningSettings


def allocate(goal: Goal, network: TaskNetwork, pools: Sequence[Pool],
             availability: Mapping[str, Sequence[AvailabilityWindow]], settings: PlanningSettings, *,
             project_start: date | None = None, requestable: Collection[str] = ()) -> dict:
    """Allocate every task's resource needs; see docs/plan-format.md for the result.

    `requestable` names the types Layer 8 manages: units it lacks are requested from it
    rather than reported short. `project_start` defaults to the goal's start, else today.
    """
    start = project_start or goal.start or date.today()
    warnings: list[str] = []
    by_type = {pool.type: pool for pool in pools}
    requested = {kind for task in network.tasks for kind in task.resources}
    largest = {kind: max(t.resources.get(kind, 0) for t in network.tasks) for kind in requested}
    subs = substitutes_for(by_type, goal.currency)
    for kind in sorted(requested - by_type.keys()):
        if subs.get(kind):
            by_type[kind] = Pool(type=kind, capacity=0, currency=goal.currency, source="assumed")
            warnings.append(f"resource type {kind!r} has no pool; its work goes to {', '.join(subs[kind])}")
        else:
            by_type[kind] = Pool(type=kind, capacity=largest[kind], currency=goal.currency, source="assumed")
            warnings.append(f"resource type {kind!r} has no pool; assumed {largest[kind]} unit(s) at no cost")

    cpm = critical_path(network)
    longest = max((task.duration_hours for task in network.tasks), default=1)
    horizon = Horizon(plan_calendar(settings), start, cpm.makespan + longest)
    capacity = profiles(by_type, availability, horizon, requested | by_type.keys())
    conflicts = find_conflicts(network, cpm, {kind: capacity[kind] for kind in requested}, horizon)
    resolution = Resolver(network, by_type, capacity, cpm, horizon, requestable=requestable,
                          currency=goal.currency).run()
    placements = resolution.placements
    for conflict in conflicts:
        conflict["resolution"] = worst_outcome([placements[tid].outcome for tid in conflict["task_ids"]])
        if conflict["resolution"] == "unchanged":
            conflict["resolution"] = "levelled"  # others in the window moved; these kept their start

    rows = allocation_rows(network, placements, by_type, horizon)
    cost, cost_warnings = costing.summarise(rows, by_type, currency=goal.currency, budget=goal.budget,
                                            reserve=settings.resource_buffer_percentage)
    warnings += cost_warnings
    finish = max((p.finish for p in placements.values()), default=0)
    deadline_hours = horizon.hours_until_end_of(goal.deadline) if goal.deadline else None
    deadline_met = None if deadline_hours is None else finish <= deadline_hours
    cheaper = recommend.cheaper_substitutes(rows, by_type, capacity, resolution.usage,
                                            currency=goal.currency, deadline_met=deadline_met)
    crashing = recommend.crashing_options(
        network, placements, by_type, capacity, resolution.usage, makespan=cpm.makespan, critical=cpm.critical,
        hours_per_day=settings.hours_per_day, currency=goal.currency,
        days_late=None if deadline_hours is None else (finish - deadline_hours) / settings.hours_per_day,
    )
    recommendations = recommend.over_budget(cost, cheaper) + cheaper + crashing

    if resolution.shortfalls:
        short = sorted({s["resource"] for s in resolution.shortfalls})
        warnings.append(f"{len(resolution.shortfalls)} task need(s) more {', '.join(short)} than is available "
                        "within their float; the schedule will delay them")
    if resolution.requests:
        warnings.append(f"{len(resolution.requests)} request(s) for more capacity to send to Layer 8; "
                        "until Layer 8 confirms them the schedule keeps within the current capacity")
    pool_rows = pool_entries(by_type, capacity, largest, {row["resource"] for row in rows}, warnings)
    return {
        "pools": pool_rows,
        "allocations": rows,
        "cost": cost,
        "shortfalls": resolution.shortfalls,
        "warnings": warnings,
        "conflicts": conflicts,
        "requests": resolution.requests,
        "recommendations": recommendations,
        "task_demands": {tid: demands_of(p) for tid, p in placements.items() if p.takes},
        # which goal pools did each role's work (the decomposition chose them; docs/decomposition.md "Resources")
        "role_map": network.notes.get("role_map", {}),
        "levelled": {
            "starts": {tid: p.start for tid, p in placements.items()},
            "outcomes": {outcome: sorted(t for t, p in placements.items() if p.outcome == outcome)
                         for outcome in OUTCOMES if any(p.outcome == outcome for p in placements.values())},
            "finish_hour": finish,
            "critical_path_hours": cpm.makespan,
            "deadline_hour": deadline_hours,
        },
    }


def allocation_rows(network: TaskNetwork, placements: Mapping[str, Placement], pools: Mapping[str, Pool],
                    horizon: Horizon) -> list[dict]:
    rows = []
    for task in network.tasks:
        placement = placements[task.id]
        for take in placement.takes:
            pool = pools[take.pool]
            row = {
                "task_id": task.id,
                "resource": take.pool,
                "units": take.units,
                "hours": placement.duration,
                "cost": round(costing.row_cost(pool, take.units, placement.duration), 2),
                "status": take.status,
                "requested_resource": take.requested,
                "source": pool.source,
                "currency": pool.currency,
                "start_hour": placement.start,
                "finish_hour": placement.finish,
                "from": horizon.first_day(placement.start).isoformat(),
                "to": horizon.last_day(placement.finish).isoformat(),
            }
            if take.pool != take.requested:
                row["substitute_for"] = take.requested
            rows.append(row)
    return rows


def demands_of(placement: Placement) -> dict[str, int]:
    """Units per serving pool, for a scheduler that honours substitution.

    Units requested from Layer 8 stay on the task's own pool: until Layer 8 grants them,
    the schedule must find them within the capacity there is.
    """
    out: dict[str, int] = {}
    for take in placement.takes:
        out[take.pool] = out.get(take.pool, 0) + take.units
    return out


def pool_entries(pools: Mapping[str, Pool], capacity: Mapping[str, np.ndarray], largest: Mapping[str, int],
                 used: set[str], warnings: list[str]) -> list[dict]:
    """The plan's pools: those of the goal and those that serve or are asked for.

    `capacity` is what the scheduler enforces, so it is at least the largest single need of
    the type (a smaller pool could never run that task); `available_capacity` then shows
    the real one and a warning says so.
    """
    out = []
    for name in sorted(pools):
        pool = pools[name]
        if pool.source != "goal" and name not in used and name not in largest:
            continue
        entry = pool.to_dict()
        need = largest.get(name, 0)
        if need > pool.capacity and pool.source != "assumed":
            entry["capacity"] = need
            entry["available_capacity"] = pool.capacity
            warnings.append(f"pool {name!r} has {pool.capacity} unit(s) but a task needs {need}; "
                            f"the schedule assumes {need}")
        elif need > pool.capacity:
            entry["capacity"] = need
        steps = profile_steps(capacity[name])
        if len(steps) > 1 or (steps and steps[0][1] != pool.capacity):
            entry["capacity_profile"] = steps
        out.append(entry)
    return out
