"""A resource-constrained list schedule on PERT means: how long a draft network really takes.

Serial schedule generation: tasks in order of longest remaining path, each
placed at the earliest time its predecessors allow on the resource lanes
(one lane per unit of capacity) that free up first, preferring a lane last
used for the same component. Hybrid scores every candidate with it and the
resource-based strategy turns its lane assignments into dependencies.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from planning.decomposition.work import Draft


@dataclass
class Placement:
    lanes: list[tuple[str, int, str | None]]  # (resource type, lane index, previous task on that lane)


@dataclass
class Simulation:
    start: dict[str, float] = field(default_factory=dict)
    finish: dict[str, float] = field(default_factory=dict)
    binding: dict[str, str | None] = field(default_factory=dict)  # what the start waited for last
    placements: dict[str, Placement] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # placement order
    lanes: dict[str, int] = field(default_factory=dict)  # lanes per resource type

    @property
    def makespan(self) -> float:
        return max(self.finish.values(), default=0.0)

    def critical_chain(self) -> list[str]:
        """From the last finisher back through whatever held each start: predecessor or lane."""
        key = max(self.finish, key=self.finish.__getitem__) if self.finish else None
        chain = []
        while key is not None:
            chain.append(key)
            key = self.binding[key]
        return chain


class _Lane:
    __slots__ = ("index", "free_at", "last", "component")

    def __init__(self, index: int):
        self.index = index
        self.free_at = 0.0
        self.last: str | None = None
        self.component: str | None = None


def simulate(draft: Draft, capacities: Mapping[str, int]) -> Simulation:
    items, preds = draft.items, draft.preds
    order = draft.order()
    successors = draft.successors()
    duration = {key: items[key].estimate.pert_mean for key in order}
    tail: dict[str, float] = {}
    for key in reversed(order):
        tail[key] = duration[key] + max((tail[succ] for succ in successors[key]), default=0.0)
    position = {key: index for index, key in enumerate(order)}
    waiting = {key: len(preds[key]) for key in order}
    ready = [(-tail[key], position[key], key) for key in order if waiting[key] == 0]
    heapq.heapify(ready)
    lanes: dict[str, list[_Lane]] = {}
    result = Simulation()
    start, finish, binding = result.start, result.finish, result.binding
    while ready:
        _, _, key = heapq.heappop(ready)
        item = items[key]
        earliest, because = 0.0, None
        for pred, (kind, lag) in preds[key].items():
            if kind == "SS":
                bound = start[pred] + lag
            elif kind == "FF":
                bound = finish[pred] + lag - duration[key]
            else:
                bound = finish[pred] + lag
            if bound > earliest:
                earliest, because = bound, pred
        chosen: list[tuple[str, _Lane]] = []
        for resource_type, units in sorted(item.resources.items()):
            team = lanes.get(resource_type)
            if team is None:
                count = max(units, capacities.get(resource_type, 1))
                team = lanes[resource_type] = [_Lane(i) for i in range(count)]
            ranked = sorted(
                team, key=lambda lane: (max(lane.free_at, earliest), lane.component != item.component, lane.index)
            )
            chosen += [(resource_type, lane) for lane in ranked[:units]]
        begin = earliest
        for _, lane in chosen:
            if lane.free_at > begin:
                begin, because = lane.free_at, lane.last
        start[key], finish[key], binding[key] = begin, begin + duration[key], because
        result.placements[key] = Placement([(t, lane.index, lane.last) for t, lane in chosen])
        result.order.append(key)
        for _, lane in chosen:
            lane.free_at, lane.last, lane.component = finish[key], key, item.component
        for succ in successors[key]:
            waiting[succ] -= 1
            if waiting[succ] == 0:
                heapq.heappush(ready, (-tail[succ], position[succ], succ))
    result.lanes = {resource_type: len(team) for resource_type, team in sorted(lanes.items())}
    return result
