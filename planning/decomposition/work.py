"""The draft network strategies build and rearrange before it becomes a `TaskNetwork`.

Items are immutable; a strategy that changes one replaces it. Dependencies are
kept as ``preds[succ][pred] = (kind, lag_hours)`` so that adding, removing and
rewiring edges is cheap and duplicates cannot arise.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from planning.goal import Estimate

EdgeInfo = tuple[str, float]  # (dependency kind, lag in hours)
FS: EdgeInfo = ("FS", 0.0)


@dataclass(frozen=True)
class WorkItem:
    key: str
    name: str
    phase: str
    estimate: Estimate
    resources: Mapping[str, int]
    success_criteria: tuple[str, ...]
    risk_tags: tuple[str, ...]
    origin: str
    description: str = ""
    component: str | None = None  # component slug, None for goal-level work
    template: str | None = None  # domain template id it came from
    shared: bool = False
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    explicit: bool = False

    @property
    def team(self) -> str | None:
        """The resource type doing most of the work: the unit of a handoff."""
        if not self.resources:
            return None
        return max(sorted(self.resources), key=lambda resource_type: self.resources[resource_type])


@dataclass
class Draft:
    items: dict[str, WorkItem] = field(default_factory=dict)
    preds: dict[str, dict[str, EdgeInfo]] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    wbs: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # node id -> (name, parent)
    gates: dict[str, str] = field(default_factory=dict)  # phase id -> key of the task that closes it
    notes: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def copy(self) -> Draft:
        return Draft(
            items=dict(self.items),
            preds={key: dict(preds) for key, preds in self.preds.items()},
            parents=dict(self.parents),
            wbs=dict(self.wbs),
            gates=dict(self.gates),
            notes=dict(self.notes),
            warnings=list(self.warnings),
        )

    def add(self, item: WorkItem, parent: str | None) -> None:
        self.items[item.key] = item
        self.preds.setdefault(item.key, {})
        self.parents[item.key] = parent

    def remove(self, key: str) -> None:
        del self.items[key]
        del self.preds[key]
        del self.parents[key]
        for preds in self.preds.values():
            preds.pop(key, None)

    def link(self, pred: str, succ: str, info: EdgeInfo = FS) -> None:
        if pred != succ:
            self.preds[succ].setdefault(pred, info)

    def successors(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {key: [] for key in self.items}
        for succ, preds in self.preds.items():
            for pred in preds:
                out[pred].append(succ)
        return out

    def sources(self) -> list[str]:
        return [key for key in self.items if not self.preds[key]]

    def sinks(self) -> list[str]:
        has_successor = {pred for preds in self.preds.values() for pred in preds}
        return [key for key in self.items if key not in has_successor]

    def order(self) -> list[str]:
        """Topological order, ties broken by insertion order so output is stable and readable.

        Raises ValueError on a cycle; callers that can have one check with `find_cycle` first.
        """
        position = {key: index for index, key in enumerate(self.items)}
        successors = self.successors()
        indegree = {key: len(preds) for key, preds in self.preds.items()}
        ready = [(position[key], key) for key, degree in indegree.items() if degree == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, key = heapq.heappop(ready)
            out.append(key)
            for succ in successors[key]:
                indegree[succ] -= 1
                if indegree[succ] == 0:
                    heapq.heappush(ready, (position[succ], succ))
        if len(out) != len(self.items):
            raise ValueError("dependency cycle in draft network")
        return out


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_") or "x"


def unique_key(base: str, taken: Mapping[str, object] | set[str]) -> str:
    if base not in taken:
        return base
    counter = 2
    while f"{base}_{counter}" in taken:
        counter += 1
    return f"{base}_{counter}"


def scaled(estimate: Estimate, factor: float) -> Estimate:
    return Estimate(
        round(estimate.optimistic * factor, 2),
        round(estimate.most_likely * factor, 2),
        round(estimate.pessimistic * factor, 2),
    )


def sinks_within(draft: Draft, keys: Iterable[str]) -> list[str]:
    """Keys of the group that no other key of the group depends on."""
    group = set(keys)
    has_successor = {pred for key in group for pred in draft.preds[key] if pred in group}
    return [key for key in keys if key not in has_successor]


def sources_within(draft: Draft, keys: Iterable[str]) -> list[str]:
    group = set(keys)
    return [key for key in keys if not any(pred in group for pred in draft.preds[key])]
