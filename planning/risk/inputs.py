"""What the later stages hand to the assessor: the schedule and the allocation, as plain data.

Times are working hours from the project start (integers, as the scheduler produces them).
Both validate themselves on construction and name the bad field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planning.errors import PlanningError


@dataclass(frozen=True)
class ScheduleSnapshot:
    """A resource-feasible schedule: start/finish/total float per task, in working hours."""

    starts: dict[str, int]
    finishes: dict[str, int]
    total_float: dict[str, int]
    critical_path: list[str]
    makespan: int
    capacities: dict[str, int] = field(default_factory=dict)
    deadline_hours: int | None = None

    def __post_init__(self) -> None:
        if set(self.starts) != set(self.finishes):
            raise PlanningError("starts and finishes must name the same tasks", "finishes")
        for task_id, start in self.starts.items():
            if start < 0:
                raise PlanningError(f"task {task_id!r} starts before the project", f"starts.{task_id}")
            if self.finishes[task_id] < start:
                raise PlanningError(f"task {task_id!r} finishes before it starts", f"finishes.{task_id}")
        for task_id in self.critical_path:
            if task_id not in self.starts:
                raise PlanningError(f"critical task {task_id!r} is not scheduled", "critical_path")
        if self.makespan < 0:
            raise PlanningError("makespan must not be negative", "makespan")
        for resource, capacity in self.capacities.items():
            if capacity < 0:
                raise PlanningError("capacity must not be negative", f"capacities.{resource}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "starts": dict(self.starts),
            "finishes": dict(self.finishes),
            "total_float": dict(self.total_float),
            "critical_path": list(self.critical_path),
            "makespan": self.makespan,
            "capacities": dict(self.capacities),
            "deadline_hours": self.deadline_hours,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScheduleSnapshot:
        return cls(
            starts=dict(data["starts"]),
            finishes=dict(data["finishes"]),
            total_float=dict(data.get("total_float") or {}),
            critical_path=list(data.get("critical_path") or ()),
            makespan=data["makespan"],
            capacities=dict(data.get("capacities") or {}),
            deadline_hours=data.get("deadline_hours"),
        )


SHORTFALL_KEYS = ("task_id", "resource", "needed", "available")


@dataclass(frozen=True)
class AllocationSummary:
    """What the allocate stage could not cover, and the plan's cost against the budget."""

    shortfalls: list[dict[str, Any]] = field(default_factory=list)
    total_cost: float | None = None
    budget: float | None = None
    currency: str = "USD"

    def __post_init__(self) -> None:
        for index, shortfall in enumerate(self.shortfalls):
            missing = [key for key in SHORTFALL_KEYS if key not in shortfall]
            if missing:
                raise PlanningError(f"shortfall lacks {', '.join(missing)}", f"shortfalls[{index}]")
        if self.total_cost is not None and self.total_cost < 0:
            raise PlanningError("total_cost must not be negative", "total_cost")
        if self.budget is not None and self.budget < 0:
            raise PlanningError("budget must not be negative", "budget")

    def to_dict(self) -> dict[str, Any]:
        return {
            "shortfalls": [dict(s) for s in self.shortfalls],
            "total_cost": self.total_cost,
            "budget": self.budget,
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AllocationSummary:
        return cls(
            shortfalls=[dict(s) for s in data.get("shortfalls") or ()],
            total_cost=data.get("total_cost"),
            budget=data.get("budget"),
            currency=data.get("currency") or "USD",
        )
