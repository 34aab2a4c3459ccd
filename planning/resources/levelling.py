"""Conflicts and their resolution, in the stated order.

A conflict is a window where the tasks' demand on a pool, with every task at its early
start, is above what the pool has. Tasks are then placed one at a time (serial schedule
generation, least latest start first) and each takes the first of:

1. **level within float**: the earliest start in [earliest, latest start] at which its own
   pools have room, so the project's critical-path length never grows;
2. **substitute**: the same window, with units from pools that declare they can stand in
   for the type (cheapest hourly rate first) making up what its own pool lacks;
3. **request**: at its earliest start, the units still missing are requested from Layer 8
   (only for types Layer 8 manages);
4. **shortfall**: otherwise it is reported short; the scheduler, which never exceeds a
   capacity, will delay it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from planning.network import TaskNetwork
from planning.resources.pools import Pool
from planning.resources.profile import Horizon, runs
from scheduling import Activity, CpmResult, Precedence, ProblemData, analyse_cpm

OUTCOMES = ("unchanged", "levelled", "substituted", "requested", "shortfall")  # in order of severity


@dataclass(frozen=True)
class Take:
    """`units` of pool `pool` serve the task's need for `requested`; `status` planned or requested."""

    pool: str
    requested: str
    units: int
    status: str = "planned"


@dataclass
class Placement:
    task_id: str
    start: int
    duration: int
    outcome: str
    takes: list[Take] = field(default_factory=list)

    @property
    def finish(self) -> int:
        return self.start + self.duration


@dataclass
class Resolution:
    placements: dict[str, Placement]
    requests: list[dict]
    shortfalls: list[dict]
    usage: dict[str, np.ndarray]


def network_problem(network: TaskNetwork) -> ProblemData:
    """The precedence network alone (no resources), for the critical path method."""
    activities = [Activity(key=t.id, duration=t.duration_hours, name=t.name) for t in network.tasks]
    precedences = [Precedence(pred=dep.task_id, succ=t.id, kind=dep.kind, lag=math.ceil(dep.lag_hours))
                   for t in network.tasks for dep in t.depends_on]
    return ProblemData(activities=activities, resources=[], precedences=precedences)


def critical_path(network: TaskNetwork) -> CpmResult:
    return analyse_cpm(network_problem(network))


def arc_lag(kind: str, lag: int, d_pred: int, d_succ: int) -> int:
    """Every precedence as S_succ >= S_pred + arc lag (as the scheduler models it)."""
    if kind == "FS":
        return d_pred + lag
    if kind == "SS":
        return lag
    return d_pred - d_succ + lag  # FF


class Precedences:
    """The network's precedences in topological order, for cheap forward passes with other durations."""

    def __init__(self, network: TaskNetwork):
        self.durations = {task.id: task.duration_hours for task in network.tasks}
        self.preds = {task.id: [(dep.task_id, dep.kind, math.ceil(dep.lag_hours)) for dep in task.depends_on]
                      for task in network.tasks}
        self.order = self._topological()

    def _topological(self) -> list[str]:
        waiting = {tid: len(preds) for tid, preds in self.preds.items()}
        succs: dict[str, list[str]] = {tid: [] for tid in self.preds}
        for tid, preds in self.preds.items():
            for pred, _, _ in preds:
                succs[pred].append(tid)
        ready = [tid for tid, count in waiting.items() if count == 0]
        order = []
        while ready:
            tid = ready.pop()
            order.append(tid)
            for succ in succs[tid]:
                waiting[succ] -= 1
                if waiting[succ] == 0:
                    ready.append(succ)
        return order

    def makespan(self, changed: Mapping[str, int]) -> int:
        """Length of the critical path with some durations changed (resources ignored)."""
        durations = {**self.durations, **changed}
        start: dict[str, int] = {}
        end = 0
        for tid in self.order:
            d = durations[tid]
            s = max([0] + [start[p] + arc_lag(kind, lag, durations[p], d) for p, kind, lag in self.preds[tid]])
            start[tid] = s
            end = max(end, s + d)
        return end


def substitutes_for(pools: Mapping[str, Pool], currency: str) -> dict[str, list[str]]:
    """For each type, the other pools that may stand in for it, cheapest (in the plan's currency) first."""
    out: dict[str, list[str]] = {}
    for pool in pools.values():
        for kind in pool.substitutes:
            out.setdefault(kind, []).append(pool.type)
    for names in out.values():
        names.sort(key=lambda name: (pools[name].currency != currency, pools[name].hourly_rate, name))
    return out


def find_conflicts(network: TaskNetwork, cpm: CpmResult, capacity: Mapping[str, np.ndarray],
                   horizon: Horizon) -> list[dict]:
    """Windows where early-start demand is above the pool's capacity, per requested type."""
    demand = {kind: np.zeros_like(profile) for kind, profile in capacity.items()}
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for task in network.tasks:
        start, finish = cpm.es[task.id], cpm.ef[task.id]
        for kind, units in task.resources.items():
            demand[kind][start:finish] += units
            spans.setdefault(kind, []).append((start, finish, task.id))
    conflicts = []
    for kind in sorted(demand):
        for start, end in runs(demand[kind] > capacity[kind]):
            conflicts.append({
                "resource": kind,
                "from_hour": start,
                "to_hour": end,
                "from": horizon.first_day(start).isoformat(),
                "to": horizon.last_day(end).isoformat(),
                "demand": int(demand[kind][start:end].max()),
                "available": int(capacity[kind][start:end].min()),
                "task_ids": [tid for s, f, tid in spans[kind] if s < end and f > start],
            })
    return conflicts


class Resolver:
    """Places tasks in priority order, taking the first resolution that works (see module doc)."""

    def __init__(self, network: TaskNetwork, pools: Mapping[str, Pool], capacity: Mapping[str, np.ndarray],
                 cpm: CpmResult, horizon: Horizon, *, requestable: Collection[str], currency: str):
        self.network = network
        self.pools = pools
        self.capacity = capacity
        self.cpm = cpm
        self.horizon = horizon
        self.requestable = set(requestable)
        self.usage = {kind: np.zeros_like(profile) for kind, profile in capacity.items()}
        self.subs = substitutes_for(pools, currency)
        self.durations = {task.id: task.duration_hours for task in network.tasks}

    def free(self, kind: str, start: int, end: int) -> np.ndarray:
        return self.capacity[kind][start:end] - self.usage[kind][start:end]

    def run(self) -> Resolution:
        tasks = {task.id: task for task in self.network.tasks}
        order = {task.id: index for index, task in enumerate(self.network.tasks)}
        preds: dict[str, list[tuple[str, int]]] = {tid: [] for tid in tasks}
        succs: dict[str, list[str]] = {tid: [] for tid in tasks}
        for task in self.network.tasks:
            for dep in task.depends_on:
                lag = arc_lag(dep.kind, math.ceil(dep.lag_hours), self.durations[dep.task_id], self.durations[task.id])
                preds[task.id].append((dep.task_id, lag))
                succs[dep.task_id].append(task.id)
        waiting = {tid: len({p for p, _ in preds[tid]}) for tid in tasks}
        heap = [(self.cpm.ls[tid], self.cpm.es[tid], order[tid], tid) for tid in tasks if waiting[tid] == 0]
        heapq.heapify(heap)
        placements: dict[str, Placement] = {}
        requests: list[dict] = []
        shortfalls: list[dict] = []
        while heap:
            *_, tid = heapq.heappop(heap)
            earliest = max([0] + [placements[p].start + lag for p, lag in preds[tid]])
            placement = self.place(tasks[tid].resources, tid, earliest, requests, shortfalls)
            placements[tid] = placement
            for succ in dict.fromkeys(succs[tid]):
                waiting[succ] -= 1
                if waiting[succ] == 0:
                    heapq.heappush(heap, (self.cpm.ls[succ], self.cpm.es[succ], order[succ], succ))
        return Resolution(placements, requests, shortfalls, self.usage)

    def place(self, demands: Mapping[str, int], tid: str, earliest: int,
              requests: list[dict], shortfalls: list[dict]) -> Placement:
        duration = self.durations[tid]
        latest = max(earliest, self.cpm.ls[tid])
        if not demands:
            return Placement(tid, earliest, duration, "unchanged" if earliest == self.cpm.es[tid] else "levelled")
        start = self.first_fit(demands, duration, earliest, latest)
        if start is not None:
            takes = [Take(kind, kind, units) for kind, units in sorted(demands.items())]
            outcome = "unchanged" if start == self.cpm.es[tid] else "levelled"
            return self.commit(Placement(tid, start, duration, outcome, takes))
        for start in self.substitution_candidates(demands, duration, earliest, latest):
            takes = self.split(demands, start, duration)
            if takes is not None and not any(take.status != "planned" for take in takes):
                return self.commit(Placement(tid, start, duration, "substituted", takes))
        return self.unresolved(demands, tid, earliest, duration, requests, shortfalls)

    def first_fit(self, demands: Mapping[str, int], duration: int, lo: int, hi: int) -> int | None:
        """Earliest start in [lo, hi] at which every own pool has room for the whole duration."""
        fits = np.ones(hi - lo + duration, dtype=bool)
        for kind, units in demands.items():
            fits &= self.free(kind, lo, hi + duration) >= units
        bad = np.concatenate(([0], np.cumsum(~fits)))
        window_bad = bad[duration:duration + hi - lo + 1] - bad[:hi - lo + 1]
        hits = np.flatnonzero(window_bad == 0)
        return lo + int(hits[0]) if hits.size else None

    def window_min(self, kind: str, lo: int, hi: int, duration: int) -> np.ndarray:
        """For each start in [lo, hi], the least free units of `kind` over the task's duration (>= 0)."""
        free = self.free(kind, lo, hi + duration)
        return np.maximum(sliding_window_view(free, duration).min(axis=1), 0)

    def substitution_candidates(self, demands: Mapping[str, int], duration: int, lo: int, hi: int) -> list[int]:
        if not any(self.subs.get(kind) for kind in demands):
            return []
        feasible = np.ones(hi - lo + 1, dtype=bool)
        for kind, units in demands.items():
            total = self.window_min(kind, lo, hi, duration)
            for name in self.subs.get(kind, ()):
                total = total + self.window_min(name, lo, hi, duration)
            feasible &= total >= units
        return [lo + int(i) for i in np.flatnonzero(feasible)]

    def split(self, demands: Mapping[str, int], start: int, duration: int) -> list[Take] | None:
        """Own units first, then substitutes, then (as `requested` takes) what is still missing."""
        end = start + duration
        room: dict[str, int] = {}

        def available(kind: str) -> int:
            if kind not in room:
                room[kind] = max(0, int(self.free(kind, start, end).min()))
            return room[kind]

        takes: list[Take] = []
        short: dict[str, int] = {}
        for kind, units in sorted(demands.items()):
            own = min(units, available(kind))
            room[kind] -= own
            if own:
                takes.append(Take(kind, kind, own))
            if units > own:
                short[kind] = units - own
        for kind, missing in short.items():
            for name in self.subs.get(kind, ()):
                take = min(missing, available(name))
                if take:
                    room[name] -= take
                    missing -= take
                    takes.append(Take(name, kind, take))
                if not missing:
                    break
            if missing:
                takes.append(Take(kind, kind, missing, status="requested"))
        return takes

    def unresolved(self, demands: Mapping[str, int], tid: str, start: int, duration: int,
                   requests: list[dict], shortfalls: list[dict]) -> Placement:
        """No room within float, even with substitutes: request from Layer 8, else a shortfall."""
        end = start + duration
        takes = self.split(demands, start, duration) or []
        missing = {take.requested: take.units for take in takes if take.status == "requested"}
        if all(kind in self.requestable for kind in missing):
            for kind, units in sorted(missing.items()):
                requests.append({
                    "resource": kind, "units": units, "task_ids": [tid],
                    "from_hour": start, "to_hour": end,
                    "from": self.horizon.first_day(start).isoformat(), "to": self.horizon.last_day(end).isoformat(),
                })
            return self.commit(Placement(tid, start, duration, "requested", takes))
        # The scheduler will delay the task until its own pools have room: it is served by them alone.
        for kind, units in sorted(demands.items()):
            if kind in missing:
                own_free = max(0, int(self.free(kind, start, end).min()))
                substitutes = sum(take.units for take in takes if take.requested == kind and take.pool != kind)
                shortfalls.append({
                    "task_id": tid, "resource": kind, "needed": units, "available": own_free,
                    "substitutes_available": substitutes,
                    "from_hour": start, "to_hour": end,
                    "from": self.horizon.first_day(start).isoformat(), "to": self.horizon.last_day(end).isoformat(),
                })
        own = [Take(kind, kind, units) for kind, units in sorted(demands.items())]
        placement = Placement(tid, start, duration, "shortfall", own)
        # Book only what is free at the early start: where the task really lands is the scheduler's call.
        for take in own:
            free = np.maximum(self.free(take.pool, start, end), 0)
            self.usage[take.pool][start:end] += np.minimum(free, take.units)
        return placement

    def commit(self, placement: Placement) -> Placement:
        for take in placement.takes:
            if take.status == "planned":
                self.usage[take.pool][placement.start:placement.finish] += take.units
        return placement


def worst_outcome(outcomes: list[str]) -> str:
    return max(outcomes, key=OUTCOMES.index) if outcomes else "unchanged"
