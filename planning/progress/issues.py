"""Issues: how much of a task's float its trouble uses, how severe that is, and when to escalate."""

from __future__ import annotations

from collections.abc import Mapping

from planning.progress.baseline import TaskBaseline
from planning.progress.errors import ProgressError, check_number
from planning.progress.status import TROUBLE, TaskProgress

SEVERITIES = ("low", "medium", "high", "critical")
#: Share of total float used at which severity reaches medium, then high (float gone: the finish moves).
FLOAT_SHARE_MEDIUM = 0.5
FLOAT_SHARE_HIGH = 1.0


def slip_hours(task: TaskBaseline, progress: TaskProgress, at_hours: float) -> float:
    """Float used: hours the task's expected finish lies past its baseline finish (0 when on time)."""
    at_hours = check_number(at_hours, "at_hours")
    _same_task(task, progress)
    if progress.done:
        # Finished: its actual finish, if reported; otherwise no slip is known.
        expected = progress.actual_finish_hours if progress.actual_finish_hours is not None else task.finish_hours
    elif progress.actual_start_hours is None and progress.fraction == 0 and progress.status != "in_progress":
        # It cannot start before now or its planned start; then it takes its (re-estimated) duration.
        left = task.duration_hours if progress.remaining_hours is None else progress.remaining_hours
        expected = max(at_hours, task.start_hours) + left
    else:
        # Under way: what is left at the planned rate, unless someone said how much is left.
        left = (1 - progress.fraction) * task.duration_hours if progress.remaining_hours is None \
            else progress.remaining_hours
        expected = at_hours + left
    return max(0.0, expected - task.finish_hours)


def overrun_hours(progress: TaskProgress, at_hours: float, *, planned_finish_hours: float | None,
                  estimate_hours: float) -> float:
    """Hours an in-progress task has run past its planned finish, or, when it has none, past its estimate from its
    actual start (0 for a task not in progress, or not past either). The setting default_task_timeout_hours
    says how many of those hours make it a timeout (`timed_out`)."""
    at_hours = check_number(at_hours, "at_hours")
    if progress.status != "in_progress":
        return 0.0
    if planned_finish_hours is not None:
        reference = planned_finish_hours
    elif progress.actual_start_hours is not None:
        reference = progress.actual_start_hours + check_number(estimate_hours, "estimate_hours")
    else:
        return 0.0
    return max(0.0, at_hours - reference)


def timed_out(overrun: float, timeout_hours: float) -> bool:
    """An in-progress task that has run `timeout_hours` (default_task_timeout_hours) past its finish has timed out."""
    return overrun > 0 and overrun >= timeout_hours


def issue_severity(task: TaskBaseline, progress: TaskProgress, float_used_hours: float) -> str:
    """low | medium | high | critical, from the share of float used and the task's trouble."""
    used = check_number(float_used_hours, "float_used_hours")
    _same_task(task, progress)
    if task.total_float_hours > 0:
        share = used / task.total_float_hours
    else:  # no float: any slip moves the finish
        share = FLOAT_SHARE_HIGH if used > 0 else 0.0
    level = 0 if share < FLOAT_SHARE_MEDIUM else 1 if share < FLOAT_SHARE_HIGH else 2
    level += {"blocked": 1, "failed": 2}.get(progress.status, 0)
    if task.critical and progress.status in TROUBLE:
        # Stopped work on the critical path delays the finish from the first hour: never below high.
        level = max(level, 3 if progress.status == "failed" else 2)
    return SEVERITIES[min(level, len(SEVERITIES) - 1)]


def escalation_level(severity: str, age_hours: float, thresholds: Mapping[str, float], max_level: int = 3) -> int:
    """0 = not escalated; +1 each time the issue's age passes another multiple of its severity's threshold.

    `thresholds` maps severity -> hours (from settings); a severity without one never escalates.
    """
    if severity not in SEVERITIES:
        raise ProgressError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}", "severity")
    age = check_number(age_hours, "age_hours")
    if isinstance(max_level, bool) or not isinstance(max_level, int) or max_level < 0:
        raise ProgressError(f"max_level must be a whole number >= 0, got {max_level!r}", "max_level")
    threshold = thresholds.get(severity)
    if threshold is None:
        return 0
    threshold = check_number(threshold, f"thresholds.{severity}")
    if threshold == 0:
        raise ProgressError("an escalation threshold must be more than 0 hours", f"thresholds.{severity}")
    return min(max_level, int(age // threshold))


def _same_task(task: TaskBaseline, progress: TaskProgress) -> None:
    if progress.task_id != task.task_id:
        raise ProgressError(f"progress is for {progress.task_id!r}, not {task.task_id!r}", "progress.task_id")
