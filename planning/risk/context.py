"""One view of the work for every rule, whether it comes from the goal alone or from a plan.

The pre-assessment sees only the goal: its listed tasks (estimates optional), its pools,
budget and dates, and risk tags inferred from its text by keyword (`TAG_KEYWORDS`). After
scheduling the rules see the task network (tags from decomposition), the schedule, the
allocation and the Monte Carlo result. Rules read a `RiskContext` and never care which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from planning.goal import Estimate, Goal
from planning.graph import topological_order
from planning.network import TaskNetwork
from planning.risk.inputs import AllocationSummary, ScheduleSnapshot
from planning.risk.monte_carlo import ScheduleRisk
from planning.settings import PlanningSettings

#: Words in a goal's text that suggest a risk tag (pre-assessment only; plans use the
#: tags decomposition puts on tasks). Matched case-insensitively at word starts. The tag
#: names are decomposition's (planning/decomposition/vocabulary.py, RISK_TAGS).
TAG_KEYWORDS: dict[str, tuple[str, ...]] = {
    "new_technology": ("new technology", "new framework", "prototype", "proof of concept",
                       "experimental", "unproven", "first time", "research"),
    "external_dependency": ("external system", "external service", "external api", "upstream",
                            "partner system", "webhook"),
    "integration": ("integrat", "interface", "interoperab", "end-to-end"),
    "cross_layer": ("cross-layer", "cross layer", "layer 1", "layer 3", "layer 4", "layer 8"),
    "data_migration": ("migrat", "legacy data", "etl", "data import"),
    "security": ("security", "authenticat", "authoriz", "encrypt", "penetration", "vulnerab",
                 "oauth", "single sign-on", "secrets"),
    "compliance": ("compliance", "gdpr", "hipaa", "pci", "sox", "regulat", "audit", "certif",
                   "legal"),
    "third_party": ("third-party", "third party", "vendor", "supplier", "contractor", "outsourc",
                    "licens"),
    "performance": ("latency", "throughput", "scalab", "load test", "high availability", "performance"),
    "model_quality": ("machine learning", "ml model", "model accuracy", "classifier", "predictive model"),
    "data_quality": ("data quality", "data cleansing", "labelling", "labeling", "dirty data"),
    "procurement": ("procure", "purchas", "hardware", "long-lead"),
    "stakeholder_approval": ("approv", "sign-off", "signoff", "ethics"),
    "irreversible": ("cutover", "go-live", "go live", "decommission", "irreversib"),
    "scope_uncertainty": ("tbd", "to be decided", "unclear", "discovery", "explorat"),
}
#: Flags in `goal.context` (as the domain library uses them) that imply a tag.
CONTEXT_FLAGS: dict[str, str] = {"regulated": "compliance", "human_participants": "compliance"}
_TAG_PATTERNS = {
    tag: re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + ")", re.IGNORECASE)
    for tag, words in TAG_KEYWORDS.items()
}


def infer_tags(text: str) -> list[str]:
    """Risk tags whose keywords occur in `text`, in `TAG_KEYWORDS` order."""
    return [tag for tag, pattern in _TAG_PATTERNS.items() if pattern.search(text)]


@dataclass(slots=True)
class TaskView:
    """What a rule needs to know about one task (not frozen: built 50 at a time, per assessment)."""

    id: str
    name: str
    estimate: Estimate | None
    resources: dict[str, int]
    predecessors: tuple[tuple[str, str, float], ...]  # (task id, kind, lag hours)
    tags: frozenset[str]

    @property
    def mean_hours(self) -> float:
        return self.estimate.pert_mean if self.estimate else 0.0


@dataclass
class RiskContext:
    """Everything the rules may read. Fields after `settings` are None before scheduling."""

    goal: Goal
    tasks: list[TaskView]
    settings: PlanningSettings
    goal_tags: frozenset[str] = frozenset()  # tags of the goal as a whole (pre-assessment)
    deadline_hours: float | None = None  # from the project start
    origin_hours: float = 0.0  # "now": 0 before work starts, later on reassessment
    critical: frozenset[str] = frozenset()
    critical_length: float = 0.0  # deterministic finish, hours from the project start
    total_float: dict[str, float] = field(default_factory=dict)
    snapshot: ScheduleSnapshot | None = None
    allocation: AllocationSummary | None = None
    schedule_risk: ScheduleRisk | None = None
    performance: dict[str, Any] | None = None  # earned-value figures, reassessment only
    cost_estimate: float | None = None  # forecast cost of the whole plan, in `budget`'s currency
    budget: float | None = None
    currency: str = "USD"

    def available(self) -> set[str]:
        """What the rules may rely on: the names used in `RuleSpec.needs`."""
        present = {
            "deadline": self.deadline_hours is not None,
            "schedule": self.snapshot is not None,
            "monte_carlo": self.schedule_risk is not None,
            "allocation": self.allocation is not None,
            "cost": self.cost_estimate is not None and self.budget is not None,
            "progress": self.performance is not None,
        }
        return {name for name, here in present.items() if here}

    def tagged(self, *tags: str) -> list[str]:
        """Ids of tasks carrying any of `tags`, in task order."""
        wanted = set(tags)
        return [task.id for task in self.tasks if task.tags & wanted]

    def capacity(self, resource: str) -> int | None:
        if self.snapshot is not None and resource in self.snapshot.capacities:
            return self.snapshot.capacities[resource]
        pool = self.goal.pool(resource)
        return pool.capacity if pool else None


def goal_context(goal: Goal, settings: PlanningSettings, start: date | None = None) -> RiskContext:
    """The pre-assessment view: the goal's own tasks, with tags inferred from their text.

    `start` stands in for a goal without a start date (the day it is planned).
    """
    tasks = [
        TaskView(
            id=task.id,
            name=task.name,
            estimate=task.estimate,
            resources=dict(task.resources),
            predecessors=tuple((dep, "FS", 0.0) for dep in task.depends_on),
            tags=frozenset(infer_tags(f"{task.name} {task.description}")),
        )
        for task in goal.tasks
    ]
    goal_text = " ".join([goal.title, goal.description, *goal.components])
    goal_tags = set(infer_tags(goal_text))
    goal_tags.update(str(tag) for tag in goal.context.get("risk_tags") or ())
    goal_tags.update(tag for flag, tag in CONTEXT_FLAGS.items() if goal.context.get(flag) is True)
    rates = {pool.type: pool.cost_per_hour for pool in goal.resources}
    cost = sum(task.mean_hours * units * rates.get(resource, 0.0)
               for task in tasks for resource, units in task.resources.items())
    ctx = RiskContext(goal=goal, tasks=tasks, settings=settings, goal_tags=frozenset(goal_tags),
                      deadline_hours=goal_deadline_hours(goal, settings, start),
                      cost_estimate=cost if cost > 0 else None, budget=goal.budget, currency=goal.currency)
    durations = {task.id: task.mean_hours for task in tasks}
    ctx.critical_length, ctx.total_float = critical_path_method(tasks, durations)
    ctx.critical = frozenset(t for t, slack in ctx.total_float.items() if slack <= 1e-9)
    return ctx


def plan_context(goal: Goal, network: TaskNetwork, snapshot: ScheduleSnapshot,
                 allocation: AllocationSummary | None, settings: PlanningSettings) -> RiskContext:
    """The post-scheduling view: network tasks and tags, the schedule's floats and critical path.

    The cost is the allocation's total; the budget the allocation's, else the goal's.
    """
    tasks = [
        TaskView(
            id=task.id,
            name=task.name,
            estimate=task.estimate,
            resources=dict(task.resources),
            predecessors=tuple((dep.task_id, dep.kind, float(dep.lag_hours)) for dep in task.depends_on),
            tags=frozenset(task.risk_tags),
        )
        for task in network.tasks
    ]
    return RiskContext(
        goal=goal,
        tasks=tasks,
        settings=settings,
        deadline_hours=snapshot.deadline_hours,
        critical=frozenset(snapshot.critical_path),
        critical_length=float(snapshot.makespan),
        total_float={key: float(value) for key, value in snapshot.total_float.items()},
        snapshot=snapshot,
        allocation=allocation,
        cost_estimate=allocation.total_cost if allocation else None,
        budget=allocation.budget if allocation and allocation.budget is not None else goal.budget,
        currency=allocation.currency if allocation else goal.currency,
    )


def goal_deadline_hours(goal: Goal, settings: PlanningSettings, start: date | None = None) -> float | None:
    """Working hours from the start to the end of the deadline day (weekdays less holidays).

    The start is the goal's, else `start`. An approximation of the scheduler's calendar,
    good enough to compare against the critical path before any schedule exists. None
    without a start or a deadline.
    """
    first = goal.start or start
    if first is None or goal.deadline is None:
        return None
    holidays = np.array(settings.holidays, dtype="datetime64[D]")
    days = np.busday_count(np.datetime64(first, "D"),
                           np.datetime64(goal.deadline + timedelta(days=1), "D"), holidays=holidays)
    return float(days * settings.hours_per_day)


def critical_path_method(tasks: list[TaskView], durations: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Longest path over FS/SS/FF links with lags, ignoring resources: (length, total float per task)."""
    successors: dict[str, list[str]] = {task.id: [] for task in tasks}
    for task in tasks:
        for pred, _, _ in task.predecessors:
            successors[pred].append(task.id)
    order = topological_order(successors)
    index = {task.id: task for task in tasks}
    early_start: dict[str, float] = {}
    for task_id in order:
        duration = durations[task_id]
        start = 0.0
        for pred, kind, lag in index[task_id].predecessors:
            start = max(start, _earliest_start(kind, lag, early_start[pred], durations[pred], duration))
        early_start[task_id] = start
    length = max((early_start[t] + durations[t] for t in order), default=0.0)
    late_finish = {task_id: length for task_id in order}
    for task_id in reversed(order):
        finish = late_finish[task_id]
        for pred, kind, lag in index[task_id].predecessors:
            late_finish[pred] = min(late_finish[pred],
                                    _latest_finish(kind, lag, finish, durations[task_id], durations[pred]))
    floats = {t: late_finish[t] - durations[t] - early_start[t] for t in order}
    return length, floats


def _earliest_start(kind: str, lag: float, pred_start: float, pred_duration: float, duration: float) -> float:
    if kind == "SS":
        return pred_start + lag
    if kind == "FF":
        return pred_start + pred_duration + lag - duration
    return pred_start + pred_duration + lag  # FS


def _latest_finish(kind: str, lag: float, succ_finish: float, succ_duration: float, duration: float) -> float:
    succ_start = succ_finish - succ_duration
    if kind == "SS":
        return succ_start - lag + duration
    if kind == "FF":
        return succ_finish - lag
    return succ_start - lag  # FS
