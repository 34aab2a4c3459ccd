"""Small hand-checkable goals and networks for the resource allocation tests.

Every task's estimate is exact (o = m = p), so its duration is the number given.
The project starts on Monday 2027-01-04; 8-hour days, no holidays.
"""

from __future__ import annotations

from datetime import date

from planning.goal import Estimate, Goal
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.resources import Pool
from planning.settings import PlanningSettings

START = date(2027, 1, 4)
SETTINGS = PlanningSettings()


def task(task_id: str, hours: int, resources: dict[str, int] | None = None, deps: tuple[str, ...] = ()) -> PlannedTask:
    return PlannedTask(id=task_id, name=task_id, estimate=Estimate(hours, hours, hours),
                       resources=dict(resources or {}), depends_on=[Dependency(d) for d in deps])


def network(*tasks: PlannedTask, **notes) -> TaskNetwork:
    return TaskNetwork(tasks=list(tasks), notes=dict(notes))


def goal(budget: float | None = None, currency: str = "EUR", deadline: str | None = "2027-03-31",
         resources: list[dict] | None = None) -> Goal:
    return Goal.from_dict({"title": "Resource test", "start": START.isoformat(), "deadline": deadline,
                           "budget": budget, "currency": currency, "resources": resources or []})


def pool(kind: str, capacity: int, rate: float = 0.0, **fields) -> Pool:
    fields.setdefault("currency", "EUR")
    return Pool(type=kind, capacity=capacity, cost_rate=rate, **fields)


def rows_of(result: dict, task_id: str) -> list[dict]:
    return [row for row in result["allocations"] if row["task_id"] == task_id]
