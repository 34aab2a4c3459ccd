"""The task network: what decomposition produces and every later stage reads.

It round-trips through plain dicts (`to_dict` / `from_dict`) because the
workers hand it from stage to stage through the database as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planning.goal import Estimate
from planning.graph import find_cycle

DEPENDENCY_KINDS = ("FS", "SS", "FF")


@dataclass(frozen=True)
class Dependency:
    """`task_id` must happen before the owner, by kind (finish-to-start etc.) and lag in hours."""

    task_id: str
    kind: str = "FS"
    lag_hours: float = 0.0

    def to_dict(self) -> dict:
        return {"task_id": self.task_id, "kind": self.kind, "lag_hours": self.lag_hours}


@dataclass
class PlannedTask:
    id: str
    name: str
    estimate: Estimate
    description: str = ""
    parent: str | None = None
    phase: str = ""
    resources: dict[str, int] = field(default_factory=dict)
    depends_on: list[Dependency] = field(default_factory=list)
    success_criteria: list[str] = field(default_factory=list)
    risk_tags: list[str] = field(default_factory=list)
    origin: str = "explicit"  # "explicit", "domain:<method id>", "strategy:<name>"
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def duration_hours(self) -> int:
        """The planned duration: PERT mean rounded up to whole working hours."""
        mean = self.estimate.pert_mean
        return max(1, int(-(-mean // 1)))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "parent": self.parent,
            "phase": self.phase,
            "estimate": self.estimate.to_dict(),
            "resources": dict(self.resources),
            "depends_on": [dep.to_dict() for dep in self.depends_on],
            "success_criteria": list(self.success_criteria),
            "risk_tags": list(self.risk_tags),
            "origin": self.origin,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PlannedTask:
        est = data["estimate"]
        return cls(
            id=data["id"],
            name=data["name"],
            estimate=Estimate(est["optimistic"], est["most_likely"], est["pessimistic"]),
            description=data.get("description", ""),
            parent=data.get("parent"),
            phase=data.get("phase", ""),
            resources=dict(data.get("resources") or {}),
            depends_on=[Dependency(**dep) for dep in data.get("depends_on") or ()],
            success_criteria=list(data.get("success_criteria") or ()),
            risk_tags=list(data.get("risk_tags") or ()),
            origin=data.get("origin", "explicit"),
            inputs=list(data.get("inputs") or ()),
            outputs=list(data.get("outputs") or ()),
        )


@dataclass
class Phase:
    id: str
    name: str
    task_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "task_ids": list(self.task_ids)}


@dataclass
class Milestone:
    """A zero-duration event reached when all of `depends_on` are finished."""

    id: str
    name: str
    depends_on: list[str] = field(default_factory=list)
    phase: str | None = None
    due: str | None = None  # ISO date, for the goal deadline milestone

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "depends_on": list(self.depends_on),
            "phase": self.phase,
            "due": self.due,
        }


@dataclass
class TaskNetwork:
    tasks: list[PlannedTask]
    phases: list[Phase] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    strategy: str = "explicit"
    domain: str = "generic"
    warnings: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # strategy scores, domain match score, ...

    def task(self, task_id: str) -> PlannedTask:
        return self._index()[task_id]

    def _index(self) -> dict[str, PlannedTask]:
        return {task.id: task for task in self.tasks}

    def validate(self) -> None:
        """Raise ValueError on unknown dependency targets or a cycle (named)."""
        index = self._index()
        if len(index) != len(self.tasks):
            raise ValueError("duplicate task ids in network")
        successors: dict[str, list[str]] = {task.id: [] for task in self.tasks}
        for task in self.tasks:
            for dep in task.depends_on:
                if dep.task_id not in index:
                    raise ValueError(f"task {task.id!r} depends on unknown task {dep.task_id!r}")
                successors[dep.task_id].append(task.id)
        cycle = find_cycle(successors)
        if cycle:
            raise ValueError("dependency cycle: " + " -> ".join(cycle))

    def to_dict(self) -> dict:
        return {
            "tasks": [task.to_dict() for task in self.tasks],
            "phases": [phase.to_dict() for phase in self.phases],
            "milestones": [milestone.to_dict() for milestone in self.milestones],
            "strategy": self.strategy,
            "domain": self.domain,
            "warnings": list(self.warnings),
            "notes": dict(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> TaskNetwork:
        return cls(
            tasks=[PlannedTask.from_dict(task) for task in data["tasks"]],
            phases=[Phase(**phase) for phase in data.get("phases") or ()],
            milestones=[Milestone(**m) for m in data.get("milestones") or ()],
            strategy=data.get("strategy", "explicit"),
            domain=data.get("domain", "generic"),
            warnings=list(data.get("warnings") or ()),
            notes=dict(data.get("notes") or {}),
        )
