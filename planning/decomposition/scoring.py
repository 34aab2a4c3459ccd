"""The numbers hybrid compares candidates by.

score = simulated_hours + 2 * chain_sigma_hours + HANDOFF_HOURS * handoffs, in working hours;
lower is better.

- simulated_hours: length of a resource-constrained list schedule of the
  network on PERT means with the goal's (or the suggested) pool capacities,
  so a network that ignores contention gains nothing from it;
- chain_sigma_hours: square root of the summed PERT variances along the
  schedule's critical chain (what each start waited for, back from the end),
  so the first two terms approximate a 97.7% completion estimate;
- handoffs: dependencies between tasks that share no resource type (the
  work passes to other people), each costing an hour of coordination.

Plain CPM length and the busiest pool's work over its capacity are reported
too, for reading, but do not enter the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from planning.decomposition.simulation import simulate
from planning.decomposition.work import Draft, WorkItem

HANDOFF_HOURS = 1.0
SIGMA_WEIGHT = 2.0


def is_handoff(pred: WorkItem, succ: WorkItem) -> bool:
    """Work passes between people: the two tasks share no resource type (and both need someone)."""
    return bool(pred.resources) and bool(succ.resources) and not (pred.resources.keys() & succ.resources.keys())


def score(draft: Draft, capacities: Mapping[str, int]) -> dict:
    items = draft.items
    simulation = simulate(draft, capacities)
    duration = {key: item.estimate.pert_mean for key, item in items.items()}
    finish: dict[str, float] = {}
    start: dict[str, float] = {}
    for key in simulation.order:  # a topological order
        earliest = 0.0
        for pred, (kind, lag) in draft.preds[key].items():
            if kind == "SS":
                earliest = max(earliest, start[pred] + lag)
            elif kind == "FF":
                earliest = max(earliest, finish[pred] + lag - duration[key])
            else:
                earliest = max(earliest, finish[pred] + lag)
        start[key], finish[key] = earliest, earliest + duration[key]
    chain = simulation.critical_chain()
    sigma = math.sqrt(sum(items[key].estimate.pert_variance for key in chain))
    work: dict[str, float] = {}
    for item in items.values():
        for resource_type, units in item.resources.items():
            work[resource_type] = work.get(resource_type, 0.0) + duration[item.key] * units
    resource_bound = max(
        (hours / max(1, capacities.get(resource_type, 1)) for resource_type, hours in work.items()), default=0.0
    )
    handoffs = sum(1 for succ, preds in draft.preds.items() for pred in preds if is_handoff(items[pred], items[succ]))
    simulated = simulation.makespan
    return {
        "score": round(simulated + SIGMA_WEIGHT * sigma + HANDOFF_HOURS * handoffs, 2),
        "simulated_hours": round(simulated, 2),
        "chain_sigma_hours": round(sigma, 2),
        "handoffs": handoffs,
        "cpm_hours": round(max(finish.values(), default=0.0), 2),
        "resource_bound_hours": round(resource_bound, 2),
        "critical_chain_tasks": len(chain),
        "tasks": len(items),
    }
