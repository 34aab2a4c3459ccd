"""Objective values of a schedule and cheap lower bounds on them (pure functions on a Core).

``starts`` is a list of start times indexed like the Core's activities.

- weighted tardiness: sum over activities of ``weight * max(0, finish - due)``, where the
  due date is the activity's own ``deadline`` (``Core.due``); activities without one add 0.
- resource availability cost: sum over resources of ``cost_per_unit * peak``, where the peak
  is the highest total demand on the resource at any time.
"""

from __future__ import annotations

import math

from .core import Core


def deadline_overrun(core: Core, starts: list[int]) -> int:
    """Time units past the core's hard deadlines (latest finishes), summed; 0 when all are met."""
    total = 0
    for i in range(core.n):
        dl = core.deadline[i]
        if dl is not None and starts[i] + core.dur[i] > dl:
            total += starts[i] + core.dur[i] - dl
    return total


def weighted_tardiness(core: Core, starts: list[int]) -> float:
    """Sum of weight x time units late past the due date; 0 when everything is on time."""
    total = 0.0
    for i in range(core.n):
        due = core.due[i]
        if due is None or not core.weight[i]:
            continue
        late = starts[i] + core.dur[i] - due
        if late > 0:
            total += core.weight[i] * late
    return total


def resource_peaks(core: Core, starts: list[int]) -> list[int]:
    """Per resource: the highest total demand of the activities running at the same time."""
    peaks = []
    for k in range(len(core.res_keys)):
        change: dict[int, int] = {}
        for i in range(core.n):
            r, d = core.demand[i][k], core.dur[i]
            if r and d:
                change[starts[i]] = change.get(starts[i], 0) + r
                change[starts[i] + d] = change.get(starts[i] + d, 0) - r
        load = peak = 0
        for t in sorted(change):
            load += change[t]
            peak = max(peak, load)
        peaks.append(peak)
    return peaks


def availability_cost(core: Core, starts: list[int]) -> float:
    """Sum over resources of cost_per_unit x peak usage (resource availability cost)."""
    return sum(c * p for c, p in zip(core.cost_per_unit, resource_peaks(core, starts), strict=True))


def weighted_tardiness_lower_bound(core: Core) -> float:
    """Tardiness of every activity at its earliest finish, resources ignored."""
    return weighted_tardiness(core, core.earliest_starts())


def peak_lower_bounds(core: Core, limit: int) -> list[int]:
    """Per resource, a peak no schedule finishing by ``limit`` can go below.

    The largest single demand, the load of the fixed activities at any time, and the
    work (duration x demand) spread evenly over ``[0, limit)``.
    """
    out = []
    for k in range(len(core.res_keys)):
        users = [i for i in range(core.n) if core.demand[i][k] and core.dur[i]]
        single = max((core.demand[i][k] for i in users), default=0)
        work = sum(core.dur[i] * core.demand[i][k] for i in users)
        spread = math.ceil(work / limit) if limit > 0 else 0
        fixed_load: dict[int, int] = {}
        for i in users:
            if core.fixed[i] is not None:
                for t in range(core.fixed[i], core.fixed[i] + core.dur[i]):
                    fixed_load[t] = fixed_load.get(t, 0) + core.demand[i][k]
        out.append(max(single, spread, max(fixed_load.values(), default=0)))
    return out


def availability_cost_lower_bound(core: Core, limit: int) -> float:
    return sum(c * p for c, p in zip(core.cost_per_unit, peak_lower_bounds(core, limit), strict=True))
