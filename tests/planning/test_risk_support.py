"""Builders shared by the risk tests (no tests here): tasks, networks, a small serial scheduler."""

from __future__ import annotations

from datetime import date

from planning.goal import Estimate, Goal, GoalTask, ResourcePool
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.risk import ScheduleSnapshot
from planning.risk.monte_carlo import resource_order_edges
from planning.settings import PlanningSettings

SETTINGS = PlanningSettings()


def task(task_id: str, a: float = 8, m: float = 10, b: float = 12, deps: tuple = (), resources: dict | None = None,
         tags: tuple[str, ...] = ()) -> PlannedTask:
    """A planned task; `deps` holds ids (FS, no lag) or (id, kind, lag) triples."""
    links = [Dependency(d) if isinstance(d, str) else Dependency(*d) for d in deps]
    return PlannedTask(id=task_id, name=task_id.upper(), estimate=Estimate(a, m, b), resources=dict(resources or {}),
                       depends_on=links, risk_tags=list(tags))


def network(*tasks: PlannedTask) -> TaskNetwork:
    net = TaskNetwork(tasks=list(tasks))
    net.validate()
    return net


def schedule(net: TaskNetwork, capacities: dict[str, int] | None = None, deadline: int | None = None,
             critical: list[str] | None = None) -> ScheduleSnapshot:
    """Serial schedule in task order (FS links only); float against precedence and resource order."""
    capacities = dict(capacities or {})
    starts: dict[str, int] = {}
    finishes: dict[str, int] = {}
    busy: list[tuple[int, int, dict[str, int]]] = []
    for t in net.tasks:
        start = max((finishes[d.task_id] + int(d.lag_hours) for d in t.depends_on), default=0)
        duration = t.duration_hours
        while not _fits(busy, start, duration, t.resources, capacities):
            start += 1
        starts[t.id], finishes[t.id] = start, start + duration
        busy.append((start, start + duration, t.resources))
    makespan = max(finishes.values(), default=0)
    snapshot = ScheduleSnapshot(starts=starts, finishes=finishes, total_float={}, critical_path=[],
                                makespan=makespan, capacities=capacities, deadline_hours=deadline)
    # Float over the precedence links and the resource order the schedule implies.
    successors: dict[str, list[str]] = {t.id: [] for t in net.tasks}
    for t in net.tasks:
        for d in t.depends_on:
            successors[d.task_id].append(t.id)
    for before, after, _ in resource_order_edges(net.tasks, snapshot)[0]:
        successors[before].append(after)
    duration = {t.id: t.duration_hours for t in net.tasks}
    late_finish = {t.id: makespan for t in net.tasks}
    for t in sorted(net.tasks, key=lambda t: -starts[t.id]):
        for succ in successors[t.id]:
            late_finish[t.id] = min(late_finish[t.id], late_finish[succ] - duration[succ])
    floats = {t.id: late_finish[t.id] - finishes[t.id] for t in net.tasks}
    path = critical if critical is not None else [t.id for t in net.tasks if floats[t.id] == 0]
    return ScheduleSnapshot(starts=starts, finishes=finishes, total_float=floats, critical_path=path,
                            makespan=makespan, capacities=capacities, deadline_hours=deadline)


def _fits(busy: list, start: int, duration: int, needs: dict[str, int], capacities: dict[str, int]) -> bool:
    for hour in range(start, start + duration):
        for resource, units in needs.items():
            used = sum(n.get(resource, 0) for s, f, n in busy if s <= hour < f)
            if resource in capacities and used + units > capacities[resource]:
                return False
    return True


def goal(**fields) -> Goal:
    """A goal with a title and whatever else the test sets."""
    fields.setdefault("title", "Test goal")
    return Goal(**fields)


def goal_task(task_id: str, a: float = 8, m: float = 10, b: float = 12, deps: tuple[str, ...] = (),
              resources: dict | None = None, name: str | None = None) -> GoalTask:
    return GoalTask(id=task_id, name=name or task_id, estimate=Estimate(a, m, b), depends_on=deps,
                    resources=dict(resources or {}))


def pools(**capacities: int) -> tuple[ResourcePool, ...]:
    return tuple(ResourcePool(name, capacity, 50.0) for name, capacity in capacities.items())


START = date(2026, 12, 1)  # a Tuesday
