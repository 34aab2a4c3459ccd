"""The goal as the planning code sees it: plain, validated dataclasses.

The HTTP edge checks types with marshmallow; this module checks meaning
(estimate ordering, references, cycles) so the CLI and the workers get the
same guarantees without Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from planning.errors import PlanningError
from planning.graph import find_cycle

STRATEGIES = ("hierarchical", "functional", "temporal", "resource_based", "risk_based", "hybrid")
DEFAULT_STRATEGY = "hybrid"
# what the schedule stage minimises (scheduling.solve's `objective`); see docs/goal-format.md
SCHEDULE_OBJECTIVES = ("makespan", "weighted_tardiness", "cost")
DEFAULT_SCHEDULE_OBJECTIVE = "makespan"
# Priorities: 1 (highest) to 5, or by name as trackers and other layers send them (docs/goal-format.md).
PRIORITY_NAMES = {"critical": 1, "high": 2, "medium": 3, "low": 4, "lowest": 5}
PRIORITY_BY_NUMBER = {number: name for name, number in PRIORITY_NAMES.items()}
DEFAULT_PRIORITY = 3


def parse_priority(value: object, field: str = "priority") -> int:
    """1..5 as given, or a name (any case, surrounding blanks ignored) as its number; PlanningError otherwise."""
    if isinstance(value, str):
        number = PRIORITY_NAMES.get(value.strip().lower())
        if number is None:
            raise PlanningError(f"priority must be 1-5 or one of {', '.join(PRIORITY_NAMES)}; got {value!r}", field)
        return number
    if isinstance(value, bool) or not isinstance(value, int) or value not in PRIORITY_BY_NUMBER:
        raise PlanningError(f"priority must be 1-5 or one of {', '.join(PRIORITY_NAMES)}; got {value!r}", field)
    return value


def priority_name(number: int) -> str:
    return PRIORITY_BY_NUMBER[number]


@dataclass(frozen=True)
class Estimate:
    """Three-point estimate in working hours."""

    optimistic: float
    most_likely: float
    pessimistic: float

    def __post_init__(self) -> None:
        if self.optimistic <= 0:
            raise PlanningError("estimates must be positive working hours", "optimistic")
        if not self.optimistic <= self.most_likely <= self.pessimistic:
            raise PlanningError(
                "estimate must satisfy optimistic <= most_likely <= pessimistic", "most_likely"
            )

    @property
    def pert_mean(self) -> float:
        return (self.optimistic + 4 * self.most_likely + self.pessimistic) / 6

    @property
    def pert_variance(self) -> float:
        return ((self.pessimistic - self.optimistic) / 6) ** 2

    def to_dict(self) -> dict:
        return {
            "optimistic": self.optimistic,
            "most_likely": self.most_likely,
            "pessimistic": self.pessimistic,
            "pert_mean": round(self.pert_mean, 4),
            "pert_variance": round(self.pert_variance, 4),
        }


@dataclass(frozen=True)
class ResourcePool:
    """A pool of interchangeable units (people, machines) with an hourly rate."""

    type: str
    capacity: int
    cost_per_hour: float = 0.0


@dataclass(frozen=True)
class GoalTask:
    """A task the caller already knows about; estimate may be filled in later."""

    id: str
    name: str
    estimate: Estimate | None = None
    depends_on: tuple[str, ...] = ()
    resources: dict[str, int] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    description: str = ""
    priority: int | None = None  # the goal's when None


@dataclass(frozen=True)
class Goal:
    title: str
    description: str = ""
    domain: str | None = None
    strategy: str = DEFAULT_STRATEGY
    priority: int = DEFAULT_PRIORITY
    start: date | None = None
    deadline: date | None = None
    budget: float | None = None
    currency: str = "USD"
    components: tuple[str, ...] = ()
    resources: tuple[ResourcePool, ...] = ()
    tasks: tuple[GoalTask, ...] = ()
    context: dict = field(default_factory=dict)
    schedule_objective: str = DEFAULT_SCHEDULE_OBJECTIVE
    # role (a domain's resource type, like `engineer`) -> the goal pools that do its work; wins over matching
    role_map: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_goal(self)

    @classmethod
    def from_dict(cls, data: dict) -> Goal:
        """Build from a type-checked dict (the marshmallow output or parsed JSON).

        Errors name the field path, for example ``tasks[2].estimate``.
        """
        tasks = []
        for index, raw in enumerate(data.get("tasks") or ()):
            estimate = None
            if raw.get("estimate") is not None:
                try:
                    estimate = Estimate(**raw["estimate"])
                except PlanningError as error:
                    raise PlanningError(
                        error.message, f"tasks[{index}].estimate.{error.field}"
                    ) from None
            tasks.append(
                GoalTask(
                    id=str(raw["id"]),
                    name=raw.get("name") or str(raw["id"]),
                    estimate=estimate,
                    depends_on=tuple(raw.get("depends_on") or ()),
                    resources=dict(raw.get("resources") or {}),
                    inputs=tuple(raw.get("inputs") or ()),
                    outputs=tuple(raw.get("outputs") or ()),
                    description=raw.get("description") or "",
                    priority=None if raw.get("priority") is None
                    else parse_priority(raw["priority"], f"tasks[{index}].priority"),
                )
            )
        return cls(
            title=data["title"],
            description=data.get("description") or "",
            domain=data.get("domain"),
            strategy=data.get("strategy") or DEFAULT_STRATEGY,
            priority=parse_priority(data.get("priority", DEFAULT_PRIORITY)),
            start=_as_date(data.get("start")),
            deadline=_as_date(data.get("deadline")),
            budget=data.get("budget"),
            currency=data.get("currency") or "USD",
            components=tuple(data.get("components") or ()),
            resources=tuple(ResourcePool(**pool) for pool in data.get("resources") or ()),
            tasks=tuple(tasks),
            context=dict(data.get("context") or {}),
            # goals stored before the field existed have none: they meant makespan
            schedule_objective=data.get("schedule_objective") or DEFAULT_SCHEDULE_OBJECTIVE,
            role_map={role: (pools,) if isinstance(pools, str) else tuple(pools)
                      for role, pools in (data.get("role_map") or {}).items()},
        )

    def pool(self, resource_type: str) -> ResourcePool | None:
        return next((p for p in self.resources if p.type == resource_type), None)


def _as_date(value) -> date | None:
    """Accept a date or an ISO string: stored goals carry dates as strings."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def validate_goal(goal: Goal) -> None:
    """Check what types alone cannot: references, uniqueness, cycles, dates."""
    if not goal.title.strip():
        raise PlanningError("title must not be blank", "title")
    if goal.strategy not in STRATEGIES:
        raise PlanningError(
            f"unknown strategy {goal.strategy!r}; expected one of {', '.join(STRATEGIES)}",
            "strategy",
        )
    if goal.start and goal.deadline and goal.deadline < goal.start:
        raise PlanningError("deadline is before start", "deadline")
    if goal.schedule_objective not in SCHEDULE_OBJECTIVES:
        raise PlanningError(
            f"unknown schedule_objective {goal.schedule_objective!r}; expected one of {', '.join(SCHEDULE_OBJECTIVES)}",
            "schedule_objective",
        )
    if goal.schedule_objective == "weighted_tardiness" and goal.deadline is None:
        # lateness is measured against the deadline: without one there is nothing to minimise
        raise PlanningError("the weighted_tardiness objective needs a deadline", "schedule_objective")
    if goal.priority not in PRIORITY_BY_NUMBER:
        raise PlanningError(f"priority must be 1-5 or one of {', '.join(PRIORITY_NAMES)}", "priority")
    if goal.budget is not None and goal.budget < 0:
        raise PlanningError("budget must not be negative", "budget")
    seen_pools: set[str] = set()
    for index, pool in enumerate(goal.resources):
        if pool.type in seen_pools:
            raise PlanningError(f"resource type {pool.type!r} listed twice", f"resources[{index}].type")
        seen_pools.add(pool.type)
        if pool.capacity < 1:
            raise PlanningError("capacity must be at least 1", f"resources[{index}].capacity")
        if pool.cost_per_hour < 0:
            raise PlanningError("cost_per_hour must not be negative", f"resources[{index}].cost_per_hour")
    for role, pools in goal.role_map.items():
        if not goal.resources:
            raise PlanningError("role_map names pools, so the goal must list its resources", f"role_map.{role}")
        if not pools:
            raise PlanningError(f"role_map gives no pool for {role!r}", f"role_map.{role}")
        for name in pools:
            if goal.pool(name) is None:
                raise PlanningError(f"role_map sends {role!r} work to {name!r}, which the goal's resources do not list",
                                    f"role_map.{role}")
    ids: dict[str, int] = {}
    for index, task in enumerate(goal.tasks):
        if task.id in ids:
            raise PlanningError(f"duplicate task id {task.id!r}", f"tasks[{index}].id")
        ids[task.id] = index
    for index, task in enumerate(goal.tasks):
        for dep in task.depends_on:
            if dep not in ids:
                raise PlanningError(
                    f"task {task.id!r} depends on unknown task {dep!r}", f"tasks[{index}].depends_on"
                )
        for resource_type, units in task.resources.items():
            if units < 1:
                raise PlanningError(
                    f"task {task.id!r} needs {units} units of {resource_type!r}; must be at least 1",
                    f"tasks[{index}].resources.{resource_type}",
                )
            pool = goal.pool(resource_type)
            if goal.resources and pool is None:
                raise PlanningError(
                    f"task {task.id!r} needs resource type {resource_type!r} that the goal does not list",
                    f"tasks[{index}].resources.{resource_type}",
                )
            if pool is not None and units > pool.capacity:
                raise PlanningError(
                    f"task {task.id!r} needs {units} {resource_type!r} but the pool has {pool.capacity}",
                    f"tasks[{index}].resources.{resource_type}",
                )
    cycle = find_cycle({task.id: [] for task in goal.tasks} | _successors(goal.tasks))
    if cycle:
        first = ids[cycle[0]]
        raise PlanningError("dependency cycle: " + " -> ".join(cycle), f"tasks[{first}].depends_on")


def _successors(tasks: tuple[GoalTask, ...]) -> dict[str, list[str]]:
    successors: dict[str, list[str]] = {task.id: [] for task in tasks}
    for task in tasks:
        for dep in task.depends_on:
            successors.setdefault(dep, []).append(task.id)
    return successors
