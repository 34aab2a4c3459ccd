"""When an executing plan should be replanned: the triggers, and the debounce of automatic replans.

The app fills a `PlanSnapshot` from its rows (or with `snapshot_from_progress` from the
plan's baseline and the progress reports); `evaluate_triggers` says what fired, each
`Trigger` with a sentence for people and JSON-safe evidence for the audit trail. An empty
list means no automatic replan is called for. `should_replan` debounces: at most one
automatic replan per plan per interval; a manual replan always goes ahead.
Rules and defaults: docs/lifecycle.md (The replan rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from planning.progress.baseline import Baseline
from planning.progress.earned_schedule import earned_schedule
from planning.progress.evm import evm
from planning.progress.issues import overrun_hours, slip_hours, timed_out
from planning.progress.status import STATUSES, TROUBLE, TaskProgress
from planning.replanning.errors import ReplanError

#: In the order `evaluate_triggers` returns them.
TRIGGER_KINDS = (
    "schedule_performance",  # SPI(t) below its threshold
    "cost_performance",  # CPI below its threshold
    "critical_task_late",  # a task late by more than its total float: the finish moves
    "critical_task_blocked",  # a critical task blocked or failed
    "task_timeout",  # a task in progress default_task_timeout_hours past its planned finish
    "realized_risk",  # an open issue escalated and tied to a risk that has happened
    "pool_capacity",  # a pool the plan uses changed capacity
    "deadline_probability",  # the re-simulated chance of meeting the deadline fell below its threshold
)
EXECUTING = "executing"
#: At most this many tasks (issues, pools) are listed in one trigger's evidence; `count` has them all.
EVIDENCE_ITEMS = 20
RATIO_DIGITS = 4
HOURS_DIGITS = 2


@dataclass(frozen=True)
class TriggerThresholds:
    """When each trigger fires; `from_settings` reads them from PlanningSettings (docs/lifecycle.md, replan rules)."""

    spi_t: float = 0.9  # SPI(t) below this fires schedule_performance
    cpi: float = 0.9  # CPI below this fires cost_performance
    # The indices are noise on little work: they fire only from this percent complete (EV / BAC) on.
    min_percent_complete: float = 10.0
    late_tolerance_hours: float = 0.0  # lateness beyond the float that is still tolerated
    deadline_probability: float = 0.8  # a chance of meeting the deadline below this (and falling) fires
    escalation_level: int = 1  # an issue counts from this escalation level on
    task_timeout_hours: float = 8.0  # a task in progress this long past its planned finish fires task_timeout

    def __post_init__(self) -> None:
        for name in ("spi_t", "cpi", "min_percent_complete", "late_tolerance_hours", "deadline_probability",
                     "task_timeout_hours"):
            _number(getattr(self, name), name)
        if self.deadline_probability > 1:
            raise ReplanError("deadline_probability must be between 0 and 1", "deadline_probability")
        if self.min_percent_complete > 100:
            raise ReplanError("min_percent_complete must be between 0 and 100", "min_percent_complete")
        if isinstance(self.escalation_level, bool) or not isinstance(self.escalation_level, int) \
                or self.escalation_level < 0:
            raise ReplanError("escalation_level must be a whole number >= 0", "escalation_level")

    @classmethod
    def from_settings(cls, settings: Any) -> TriggerThresholds:
        """From the `replan_*` fields of PlanningSettings; a field the settings lack keeps its default."""
        values = {}
        for item in fields(cls):
            name = SETTINGS_FIELDS[item.name]
            if hasattr(settings, name):
                values[item.name] = getattr(settings, name)
        return cls(**values)


#: TriggerThresholds field -> the PlanningSettings field it is read from.
SETTINGS_FIELDS = {
    "spi_t": "replan_spi_t_threshold",
    "cpi": "replan_cpi_threshold",
    "min_percent_complete": "replan_min_percent_complete",
    "late_tolerance_hours": "replan_late_tolerance_hours",
    "deadline_probability": "replan_deadline_probability_threshold",
    "escalation_level": "replan_min_escalation_level",
    "task_timeout_hours": "default_task_timeout_hours",
}


@dataclass(frozen=True)
class TaskState:
    """One task as the triggers see it: its reported status and how late it runs against its float."""

    task_id: str
    status: str = "not_started"  # a TaskProgress status
    critical: bool = False
    total_float_hours: float = 0.0  # in the version being executed
    late_hours: float = 0.0  # expected finish past the planned finish (planning.progress.slip_hours)
    blocked_reason: str | None = None
    overrun_hours: float = 0.0  # in progress past its planned finish (planning.progress.issues.overrun_hours)

    def __post_init__(self) -> None:
        _id(self.task_id, "task_id")
        if self.status not in STATUSES:
            raise ReplanError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}", "status")
        if not isinstance(self.critical, bool):
            raise ReplanError(f"critical must be true or false, got {self.critical!r}", "critical")
        _number(self.total_float_hours, "total_float_hours")
        _number(self.late_hours, "late_hours")
        _number(self.overrun_hours, "overrun_hours")


@dataclass(frozen=True)
class IssueState:
    """An open issue (a blocked or failed task) with its escalation and the realised risks on its task."""

    issue_id: str
    task_id: str
    kind: str = "blocked"  # blocked | failed | timeout
    severity: str = "low"
    escalation_level: int = 0
    realized_risks: tuple[str, ...] = ()  # ids of risks in status "realized" whose affected tasks include it

    def __post_init__(self) -> None:
        _id(self.issue_id, "issue_id")
        _id(self.task_id, "task_id")
        if isinstance(self.escalation_level, bool) or not isinstance(self.escalation_level, int) \
                or self.escalation_level < 0:
            raise ReplanError("escalation_level must be a whole number >= 0", "escalation_level")
        object.__setattr__(self, "realized_risks", tuple(self.realized_risks))


@dataclass(frozen=True)
class PoolChange:
    """A resource pool's capacity before and after a change (units)."""

    pool: str
    old_capacity: int
    new_capacity: int

    def __post_init__(self) -> None:
        _id(self.pool, "pool")
        for name in ("old_capacity", "new_capacity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ReplanError(f"{name} must be a whole number >= 0, got {value!r}", name)


@dataclass(frozen=True)
class PlanSnapshot:
    """What the triggers read of one plan, filled by the app from its rows at `status_hours`.

    `None` means "not known" and silences the trigger that needs it. `used_pools`, when
    given, filters `changed_pools` to the pools the plan uses.
    """

    plan_id: str
    status: str = EXECUTING  # the plan's lifecycle state: triggers fire only on "executing"
    status_hours: float = 0.0  # working hours from the project start
    spi_t: float | None = None  # Earned Schedule SPI(t)
    cpi: float | None = None
    percent_complete: float | None = None  # EV / BAC x 100; None skips the minimum-progress guard
    tasks: tuple[TaskState, ...] = ()
    issues: tuple[IssueState, ...] = ()  # open issues only
    changed_pools: tuple[PoolChange, ...] = ()
    used_pools: frozenset[str] | None = None
    deadline_probability: float | None = None  # re-simulated with actuals
    planned_deadline_probability: float | None = None  # the executed version's own, when it was planned

    def __post_init__(self) -> None:
        _id(self.plan_id, "plan_id")
        _number(self.status_hours, "status_hours")
        for name in ("spi_t", "cpi", "percent_complete", "deadline_probability", "planned_deadline_probability"):
            value = getattr(self, name)
            if value is not None:
                _number(value, name)
        for name in ("deadline_probability", "planned_deadline_probability"):
            value = getattr(self, name)
            if value is not None and value > 1:
                raise ReplanError(f"{name} must be between 0 and 1, got {value!r}", name)
        for name, kind in (("tasks", TaskState), ("issues", IssueState), ("changed_pools", PoolChange)):
            items = tuple(getattr(self, name))
            for index, item in enumerate(items):
                if not isinstance(item, kind):
                    raise ReplanError(f"{name}[{index}] must be a {kind.__name__}", f"{name}[{index}]")
            object.__setattr__(self, name, items)
        if self.used_pools is not None:
            object.__setattr__(self, "used_pools", frozenset(self.used_pools))


@dataclass(frozen=True)
class Trigger:
    """One reason to replan: `kind` (TRIGGER_KINDS), a sentence, and JSON-safe evidence."""

    kind: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "evidence": dict(self.evidence)}


def evaluate_triggers(snapshot: PlanSnapshot, thresholds: TriggerThresholds | None = None) -> list[Trigger]:
    """Every trigger that fires on `snapshot`, in TRIGGER_KINDS order; [] unless the plan is executing."""
    if thresholds is None:
        thresholds = TriggerThresholds()
    if snapshot.status != EXECUTING:
        return []
    found = [
        *_performance(snapshot, thresholds),
        *_late(snapshot, thresholds),
        *_blocked(snapshot),
        *_timeout(snapshot, thresholds),
        *_realized(snapshot, thresholds),
        *_pools(snapshot),
        *_deadline(snapshot, thresholds),
    ]
    return found


def should_replan(last_auto_replan_at: datetime | None, now: datetime, interval_minutes: int, *,
                  manual: bool = False) -> bool:
    """Debounce: True when an automatic replan may run now (none yet, or the last one is `interval_minutes` old).

    A manual replan (`manual=True`) bypasses the debounce. A last replan "in the future"
    (a clock set back) counts from then. Both datetimes must be timezone-aware, or both naive.
    """
    if isinstance(interval_minutes, bool) or not isinstance(interval_minutes, int) or interval_minutes < 1:
        raise ReplanError(f"interval_minutes must be a whole number >= 1, got {interval_minutes!r}",
                          "interval_minutes")
    if not isinstance(now, datetime):
        raise ReplanError("now must be a datetime", "now")
    if manual:
        return True
    if last_auto_replan_at is None:
        return True
    if not isinstance(last_auto_replan_at, datetime):
        raise ReplanError("last_auto_replan_at must be a datetime or None", "last_auto_replan_at")
    if (last_auto_replan_at.tzinfo is None) != (now.tzinfo is None):
        raise ReplanError("last_auto_replan_at and now must both be timezone-aware, or both naive",
                          "last_auto_replan_at")
    return now - last_auto_replan_at >= timedelta(minutes=interval_minutes)


def snapshot_from_progress(plan_id: str, plan: Baseline, progress: Mapping[str, TaskProgress], at_hours: float, *,
                           baseline: Baseline | None = None, status: str = EXECUTING,
                           issues: Iterable[IssueState] = (), changed_pools: Iterable[PoolChange] = (),
                           used_pools: Iterable[str] | None = None, deadline_probability: float | None = None,
                           planned_deadline_probability: float | None = None,
                           blocked_reasons: Mapping[str, str] | None = None) -> PlanSnapshot:
    """A snapshot from the progress reports, with planning.progress.

    `plan` is the version being executed (Baseline.from_plan_document of its document): the
    tasks' float, critical flags and planned finishes, against which lateness is measured
    (`slip_hours`). The indices (SPI(t) by Earned Schedule, CPI, percent complete) are
    measured against `baseline` (the approved version's), or `plan` when it is not given.
    """
    measured = baseline or plan
    figures = evm(measured, progress, at_hours)
    schedule = earned_schedule(measured, figures.ev, at_hours)
    reasons = blocked_reasons or {}
    tasks = []
    for task in plan.tasks:
        report = progress.get(task.task_id) or TaskProgress(task.task_id)
        tasks.append(TaskState(task.task_id, report.status, task.critical, task.total_float_hours,
                               slip_hours(task, report, at_hours), reasons.get(task.task_id),
                               overrun_hours(report, at_hours, planned_finish_hours=task.finish_hours,
                                             estimate_hours=task.duration_hours)))
    return PlanSnapshot(
        plan_id=plan_id, status=status, status_hours=at_hours, spi_t=schedule.spi_t, cpi=figures.cpi,
        percent_complete=figures.percent_complete, tasks=tuple(tasks), issues=tuple(issues),
        changed_pools=tuple(changed_pools), used_pools=None if used_pools is None else frozenset(used_pools),
        deadline_probability=deadline_probability, planned_deadline_probability=planned_deadline_probability,
    )


# -- the triggers -------------------------------------------------------------------------

def _performance(snapshot: PlanSnapshot, thresholds: TriggerThresholds) -> list[Trigger]:
    if snapshot.percent_complete is not None and snapshot.percent_complete < thresholds.min_percent_complete:
        return []  # too little work done for the indices to mean anything yet
    out = []
    common = {"percent_complete": _round(snapshot.percent_complete, HOURS_DIGITS),
              "status_hours": _round(snapshot.status_hours, HOURS_DIGITS)}
    if snapshot.spi_t is not None and snapshot.spi_t < thresholds.spi_t:
        out.append(Trigger(
            "schedule_performance",
            f"Schedule performance SPI(t) is {snapshot.spi_t:.2f}, below {thresholds.spi_t:.2f}: "
            f"the work done by now was planned to be done in {snapshot.spi_t:.0%} of the time taken.",
            {"spi_t": _round(snapshot.spi_t, RATIO_DIGITS), "threshold": thresholds.spi_t, **common},
        ))
    if snapshot.cpi is not None and snapshot.cpi < thresholds.cpi:
        over = 1 / snapshot.cpi - 1 if snapshot.cpi > 0 else None
        cost = f"the work done cost {over:.0%} more than planned" if over is not None else "nothing has been earned"
        out.append(Trigger(
            "cost_performance",
            f"Cost performance CPI is {snapshot.cpi:.2f}, below {thresholds.cpi:.2f}: {cost}.",
            {"cpi": _round(snapshot.cpi, RATIO_DIGITS), "threshold": thresholds.cpi, **common},
        ))
    return out


def _late(snapshot: PlanSnapshot, thresholds: TriggerThresholds) -> list[Trigger]:
    late = [task for task in snapshot.tasks
            if task.late_hours > task.total_float_hours + thresholds.late_tolerance_hours]
    if not late:
        return []
    late.sort(key=lambda task: (-(task.late_hours - task.total_float_hours), task.task_id))
    worst = late[0]
    where = "on the critical path" if worst.critical else "now on the critical path"
    others = _and_others(late, "task(s)")
    return [Trigger(
        "critical_task_late",
        f"Task {worst.task_id} {where} runs {worst.late_hours:.0f} h late with {worst.total_float_hours:.0f} h "
        f"of float{others}: the finish moves.",
        {"count": len(late), "tolerance_hours": thresholds.late_tolerance_hours,
         "tasks": [{"task_id": task.task_id, "late_hours": _round(task.late_hours, HOURS_DIGITS),
                    "total_float_hours": _round(task.total_float_hours, HOURS_DIGITS), "critical": task.critical,
                    "status": task.status} for task in late[:EVIDENCE_ITEMS]]},
    )]


def _and_others(items: list, noun: str) -> str:
    """" (and 2 other task(s))" after the worst of `items` is named; empty when it is the only one."""
    return f" (and {len(items) - 1} other {noun})" if len(items) > 1 else ""


def _blocked(snapshot: PlanSnapshot) -> list[Trigger]:
    stopped = sorted((task for task in snapshot.tasks if task.critical and task.status in TROUBLE),
                     key=lambda task: (task.status != "failed", task.task_id))
    if not stopped:
        return []
    worst = stopped[0]
    why = f" ({worst.blocked_reason})" if worst.blocked_reason else ""
    others = _and_others(stopped, "critical task(s)")
    return [Trigger(
        "critical_task_blocked",
        f"Critical task {worst.task_id} is {worst.status}{why}{others}: the finish moves while it is stopped.",
        {"count": len(stopped),
         "tasks": [{"task_id": task.task_id, "status": task.status, "blocked_reason": task.blocked_reason}
                   for task in stopped[:EVIDENCE_ITEMS]]},
    )]


def _timeout(snapshot: PlanSnapshot, thresholds: TriggerThresholds) -> list[Trigger]:
    """Tasks in progress `task_timeout_hours` past their planned finish at the status date, and tasks with an open
    timeout issue (the app opens one when the clock, not a report, takes a task past it)."""
    over = {task.task_id: task.overrun_hours for task in snapshot.tasks if task.status == "in_progress"
            and timed_out(task.overrun_hours, thresholds.task_timeout_hours)}
    for issue in snapshot.issues:
        if issue.kind == "timeout":
            over.setdefault(issue.task_id, None)
    if not over:
        return []
    ordered = sorted(over.items(), key=lambda item: (-(item[1] or 0.0), item[0]))
    worst, hours = ordered[0]
    others = _and_others(ordered, "task(s)")
    past = f"{hours:.0f} h past its planned finish" if hours is not None else "past its planned finish"
    return [Trigger(
        "task_timeout",
        f"Task {worst} is still in progress {past}, beyond the {thresholds.task_timeout_hours:g} h timeout{others}.",
        {"count": len(ordered), "timeout_hours": thresholds.task_timeout_hours,
         "tasks": [{"task_id": task_id, "overrun_hours": None if hours is None else _round(hours, HOURS_DIGITS)}
                   for task_id, hours in ordered[:EVIDENCE_ITEMS]]},
    )]


def _realized(snapshot: PlanSnapshot, thresholds: TriggerThresholds) -> list[Trigger]:
    hits = sorted((issue for issue in snapshot.issues
                   if issue.realized_risks and issue.escalation_level >= thresholds.escalation_level),
                  key=lambda issue: (-issue.escalation_level, issue.issue_id))
    if not hits:
        return []
    worst = hits[0]
    others = _and_others(hits, "issue(s)")
    return [Trigger(
        "realized_risk",
        f"Issue {worst.issue_id} ({worst.kind} task {worst.task_id}) is escalated to level "
        f"{worst.escalation_level} and risk {', '.join(worst.realized_risks[:3])} has happened{others}.",
        {"count": len(hits), "min_escalation_level": thresholds.escalation_level,
         "issues": [{"issue_id": issue.issue_id, "task_id": issue.task_id, "kind": issue.kind,
                     "severity": issue.severity, "escalation_level": issue.escalation_level,
                     "realized_risks": list(issue.realized_risks)} for issue in hits[:EVIDENCE_ITEMS]]},
    )]


def _pools(snapshot: PlanSnapshot) -> list[Trigger]:
    changed = [change for change in snapshot.changed_pools
               if change.old_capacity != change.new_capacity
               and (snapshot.used_pools is None or change.pool in snapshot.used_pools)]
    if not changed:
        return []
    changed.sort(key=lambda change: (change.new_capacity - change.old_capacity, change.pool))  # cuts first
    described = ", ".join(f"{c.pool} {c.old_capacity} -> {c.new_capacity}" for c in changed[:5])
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    return [Trigger(
        "pool_capacity",
        f"Capacity changed in pool(s) the plan uses: {described}{more}.",
        {"count": len(changed),
         "pools": [{"pool": c.pool, "old_capacity": c.old_capacity, "new_capacity": c.new_capacity}
                   for c in changed[:EVIDENCE_ITEMS]]},
    )]


def _deadline(snapshot: PlanSnapshot, thresholds: TriggerThresholds) -> list[Trigger]:
    now, planned = snapshot.deadline_probability, snapshot.planned_deadline_probability
    if now is None or now >= thresholds.deadline_probability:
        return []
    if planned is not None and now >= planned:
        return []  # below the threshold, but no worse than when the plan was made (and accepted)
    since = f", down from {planned:.0%} when planned" if planned is not None else ""
    return [Trigger(
        "deadline_probability",
        f"The chance of meeting the deadline is {now:.0%}{since}, below {thresholds.deadline_probability:.0%}.",
        {"deadline_probability": _round(now, RATIO_DIGITS),
         "planned_deadline_probability": _round(planned, RATIO_DIGITS),
         "threshold": thresholds.deadline_probability},
    )]


# -- checks -------------------------------------------------------------------------------

def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ReplanError(f"{name} must be a finite number >= 0, got {value!r}", name)
    return float(value)


def _id(value: object, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ReplanError(f"{name} must be a non-empty string, got {value!r}", name)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
