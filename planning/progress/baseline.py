"""The performance measurement baseline: each task's planned value, time-phased over its scheduled hours.

Hours are working hours from the project start (the plan's `start_hour`/`finish_hour`).
A task's planned value is spread uniformly over [start, finish); a zero-duration task
(a milestone) earns all of it at its finish. So PV is piecewise linear, PV(0) = 0 (unless a
valued milestone sits at hour 0) and PV(finish) = BAC. See docs/lifecycle-formulas.md.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planning.progress.errors import ProgressError, check_id, check_number

VALUE_UNITS = ("cost", "hours")
#: Dataclass field -> the plan document's name for it, so errors point into the document.
_DOCUMENT_FIELDS = {"task_id": "id", "start_hours": "start_hour", "finish_hours": "finish_hour",
                    "total_float_hours": "total_float", "critical": "critical"}


@dataclass(frozen=True)
class TaskBaseline:
    """One task's planned value (money, or hours when the plan has no cost) and scheduled window."""

    task_id: str
    planned_cost: float
    start_hours: float
    finish_hours: float
    critical: bool = False
    total_float_hours: float = 0.0

    def __post_init__(self) -> None:
        check_id(self.task_id, "task_id")
        object.__setattr__(self, "planned_cost", check_number(self.planned_cost, "planned_cost"))
        object.__setattr__(self, "start_hours", check_number(self.start_hours, "start_hours"))
        object.__setattr__(self, "finish_hours",
                           check_number(self.finish_hours, "finish_hours", minimum=self.start_hours))
        object.__setattr__(self, "total_float_hours", check_number(self.total_float_hours, "total_float_hours"))
        if not isinstance(self.critical, bool):
            raise ProgressError(f"critical must be true or false, got {self.critical!r}", "critical")

    @property
    def duration_hours(self) -> float:
        return self.finish_hours - self.start_hours

    def planned_value(self, at_hours: float) -> float:
        """Value this task was planned to have earned by `at_hours`."""
        if at_hours >= self.finish_hours:
            return self.planned_cost
        if at_hours <= self.start_hours:
            return 0.0
        return self.planned_cost * (at_hours - self.start_hours) / self.duration_hours


@dataclass(frozen=True)
class _Curve:
    """PV at each breakpoint (just before it and at it) and its slope after it."""

    bac: float
    points: tuple[float, ...]
    before: tuple[float, ...]  # PV just before the point (milestones there not yet earned)
    at: tuple[float, ...]  # PV at the point
    slope: tuple[float, ...]  # dPV/dt from the point to the next one


def _curve(tasks: tuple[TaskBaseline, ...]) -> _Curve:
    """Sweep the breakpoints once, so PV(t) and its inverse cost a binary search, not a pass over tasks."""
    bac = sum(task.planned_cost for task in tasks)  # the same order as EV's sum, so EV <= BAC holds exactly
    rate: dict[float, float] = {}
    jump: dict[float, float] = {}
    active: dict[float, int] = {}
    for task in tasks:
        if task.duration_hours > 0:
            step = task.planned_cost / task.duration_hours
            rate[task.start_hours] = rate.get(task.start_hours, 0.0) + step
            rate[task.finish_hours] = rate.get(task.finish_hours, 0.0) - step
            active[task.start_hours] = active.get(task.start_hours, 0) + 1
            active[task.finish_hours] = active.get(task.finish_hours, 0) - 1
        else:
            jump[task.finish_hours] = jump.get(task.finish_hours, 0.0) + task.planned_cost
    points = sorted({0.0, *rate, *jump})
    before, at, slopes = [], [], []
    value = slope = 0.0
    running = 0
    previous = 0.0
    for point in points:
        value = min(bac, value + slope * (point - previous))  # clamps keep rounding drift from passing BAC
        before.append(value)
        value = min(bac, value + jump.get(point, 0.0))
        at.append(value)
        running += active.get(point, 0)
        # Adding and removing rates leaves rounding dust; with nothing running the slope is exactly 0.
        slope = max(0.0, slope + rate.get(point, 0.0)) if running else 0.0
        slopes.append(slope)
        previous = point
    return _Curve(bac, tuple(points), tuple(before), tuple(at), tuple(slopes))


@dataclass(frozen=True)
class Baseline:
    """The tasks' planned values; `unit` is "cost" (in `currency`) or "hours" (planned working hours)."""

    tasks: tuple[TaskBaseline, ...]
    currency: str | None
    unit: str = "cost"
    uncosted: tuple[str, ...] = ()  # tasks with no cost of their own: planned value 0
    notes: tuple[str, ...] = ()  # conventions applied when this was built, for the reader of a report
    _curve: _Curve = field(init=False, repr=False, compare=False)
    _by_id: dict[str, TaskBaseline] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        seen: set[str] = set()
        for index, task in enumerate(self.tasks):
            if not isinstance(task, TaskBaseline):
                raise ProgressError(f"tasks[{index}] must be a TaskBaseline", f"tasks[{index}]")
            if task.task_id in seen:
                raise ProgressError(f"task id {task.task_id!r} appears twice", f"tasks[{index}].task_id")
            seen.add(task.task_id)
        if self.unit not in VALUE_UNITS:
            raise ProgressError(f"unit must be one of {', '.join(VALUE_UNITS)}, got {self.unit!r}", "unit")
        if self.unit == "cost":
            check_id(self.currency, "currency")
        object.__setattr__(self, "_by_id", {task.task_id: task for task in self.tasks})
        object.__setattr__(self, "uncosted", tuple(self.uncosted))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "_curve", _curve(self.tasks))

    @property
    def bac(self) -> float:
        """Budget at completion: the sum of the planned values."""
        return self._curve.bac

    @property
    def finish_hours(self) -> float:
        """The planned duration (PD): the latest finish."""
        return max((task.finish_hours for task in self.tasks), default=0.0)

    def task(self, task_id: str) -> TaskBaseline | None:
        return self._by_id.get(task_id)

    def planned_value(self, at_hours: float) -> float:
        """PV: the value the baseline planned to have earned by `at_hours`."""
        at_hours = check_number(at_hours, "at_hours")
        curve = self._curve
        if at_hours >= self.finish_hours:
            return curve.bac  # exactly, not a sum of rounded slopes
        index = bisect_right(curve.points, at_hours) - 1
        return min(curve.bac, curve.at[index] + curve.slope[index] * (at_hours - curve.points[index]))

    def time_of_value(self, value: float) -> float:
        """The latest time by which the baseline planned to earn no more than `value` (PV's inverse; Lipke's ES)."""
        value = check_number(value, "ev")
        curve = self._curve
        if value >= curve.bac:
            return self.finish_hours
        # before[0] <= at[0] <= before[1] <= at[1] <= ...: the first entry above `value` says where PV passes it.
        crossing = bisect_right(curve.before, value)
        jumping = bisect_right(curve.at, value)
        if jumping < crossing:  # a milestone's value at points[jumping] carries PV past `value`
            return curve.points[jumping]
        if crossing >= len(curve.points):
            return self.finish_hours
        start, end = curve.points[crossing - 1], curve.points[crossing]
        low, high = curve.at[crossing - 1], curve.before[crossing]
        return start + (end - start) * (value - low) / (high - low)

    @classmethod
    def from_plan_document(cls, doc: Mapping[str, Any], unit: str | None = None) -> Baseline:
        """The baseline of a plan document (docs/plan-format.md): cost per task from its `cost` block."""
        raw_tasks = doc.get("tasks")
        if not isinstance(raw_tasks, list):
            raise ProgressError("the plan document has no task list", "tasks")
        cost_block = doc.get("cost") or {}
        currency = cost_block.get("currency")
        costs = _task_costs(doc, currency)
        costed = sum(costs.values()) > 0
        unit = unit or ("cost" if costed else "hours")
        tasks, uncosted = [], []
        for index, raw in enumerate(raw_tasks):
            if not isinstance(raw, Mapping):
                raise ProgressError(f"tasks[{index}] must be an object", f"tasks[{index}]")
            start, finish = raw.get("start_hour"), raw.get("finish_hour")
            if unit == "cost":
                value = costs.get(raw.get("id"), 0.0)
                if value == 0:
                    uncosted.append(raw.get("id"))
            else:  # a work-hour baseline on the tasks' scheduled working hours
                value = max(0.0, finish - start) if _numbers(start, finish) else 0.0  # the window check says why
            try:
                tasks.append(TaskBaseline(raw.get("id"), value, start, finish, raw.get("critical", False),
                                          raw.get("total_float", 0)))
            except ProgressError as error:
                name = _DOCUMENT_FIELDS.get(error.field or "", error.field)
                raise ProgressError(error.message, f"tasks[{index}].{name}") from error
        notes = []
        if unit == "hours":
            notes.append("the plan has no cost: value is measured in planned working hours (PMI allows work-hours)"
                         if not costed else "value is measured in planned working hours, as asked")
        elif uncosted:
            notes.append(f"{len(uncosted)} task(s) carry no cost, so their planned value is 0: {', '.join(uncosted)}")
        for code, amount in sorted((cost_block.get("not_converted") or {}).items()):
            notes.append(f"{amount:,.2f} {code} of cost is not in {currency} and not in the baseline")
        return cls(tuple(tasks), currency, unit, tuple(uncosted) if unit == "cost" else (), tuple(notes))


def _task_costs(doc: Mapping[str, Any], currency: str | None) -> dict[str, float]:
    """Cost per task in the plan's currency: `cost.by_task`, else the allocation rows in that currency."""
    by_task = (doc.get("cost") or {}).get("by_task")
    if isinstance(by_task, Mapping):
        return {task_id: float(amount) for task_id, amount in by_task.items() if _numbers(amount)}
    costs: dict[str, float] = {}
    for row in doc.get("allocations") or []:
        # A row in another currency cannot be added without an exchange rate (as in the plan's own total).
        task_id = row.get("task_id")
        if isinstance(task_id, str) and _numbers(row.get("cost")) and row.get("currency", currency) == currency:
            costs[task_id] = costs.get(task_id, 0.0) + float(row["cost"])
    return costs


def _numbers(*values: object) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
