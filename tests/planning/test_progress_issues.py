"""Issue severity from float used and trouble, the float a task has used, and escalation by age."""

from __future__ import annotations

import pytest

from planning.progress import ProgressError, TaskBaseline, TaskProgress, escalation_level, issue_severity, slip_hours

CRITICAL = TaskBaseline("build", 1000, 10, 30, critical=True, total_float_hours=0)
SLACK = TaskBaseline("docs", 500, 10, 20, critical=False, total_float_hours=10)


@pytest.mark.parametrize(("task", "status", "used", "severity"), [
    (SLACK, "in_progress", 0, "low"),
    (SLACK, "in_progress", 4.9, "low"),
    (SLACK, "in_progress", 5, "medium"),  # half the float gone
    (SLACK, "in_progress", 10, "high"),  # all of it: the finish moves
    (SLACK, "blocked", 0, "medium"),
    (SLACK, "blocked", 6, "high"),
    (SLACK, "failed", 0, "high"),
    (SLACK, "failed", 6, "critical"),
    (CRITICAL, "in_progress", 0, "low"),
    (CRITICAL, "in_progress", 2, "high"),  # no float: any slip delays the finish
    (CRITICAL, "blocked", 0, "high"),
    (CRITICAL, "blocked", 2, "critical"),
    (CRITICAL, "failed", 0, "critical"),
])
def test_severity_rises_with_float_used_and_trouble(task, status, used, severity):
    """Float share < 50 % low, < 100 % medium, else high; blocked +1, failed +2; critical path blocked >= high."""
    assert issue_severity(task, TaskProgress(task.task_id, status), used) == severity


def test_severity_refuses_mismatched_progress_and_negative_float():
    """The progress must be the task's; float used must be >= 0."""
    with pytest.raises(ProgressError):
        issue_severity(SLACK, TaskProgress("build"), 0)
    with pytest.raises(ProgressError) as caught:
        issue_severity(SLACK, TaskProgress("docs"), -1)
    assert caught.value.field == "float_used_hours"


@pytest.mark.parametrize(("progress", "at", "slip"), [
    (TaskProgress("docs"), 5, 0),  # not started, not due yet
    (TaskProgress("docs"), 14, 4),  # not started 4 h after its start: it will finish 4 h late
    (TaskProgress("docs", "blocked"), 14, 4),  # blocked before starting: the same
    (TaskProgress("docs", "in_progress", 50), 18, 3),  # 5 h left at the planned rate from hour 18
    (TaskProgress("docs", "in_progress", 50, remaining_hours=1), 18, 0),  # someone says 1 h is left
    (TaskProgress("docs", "not_started", remaining_hours=12), 10, 2),  # re-estimated to 12 h
    (TaskProgress("docs", "completed", 100, actual_finish_hours=23), 40, 3),
    (TaskProgress("docs", "completed", 100), 40, 0),  # finished, finish not reported: no slip known
])
def test_slip_is_the_expected_finish_past_the_baseline_finish(progress, at, slip):
    """Float used: from the actual finish, the remaining hours, or what is left at the planned rate."""
    assert slip_hours(SLACK, progress, at) == pytest.approx(slip)


@pytest.mark.parametrize(("severity", "age", "level"), [
    ("high", 0, 0), ("high", 7.9, 0), ("high", 8, 1), ("high", 17, 2), ("high", 100, 3),
    ("critical", 2, 1), ("low", 1000, 0),
])
def test_escalation_rises_one_level_per_threshold_passed(severity, age, level):
    """high every 8 h, critical every 2 h, capped at 3; a severity without a threshold never escalates."""
    assert escalation_level(severity, age, {"medium": 24, "high": 8, "critical": 2}) == level


@pytest.mark.parametrize(("args", "field"), [
    (("urgent", 1, {}), "severity"),
    (("high", -1, {}), "age_hours"),
    (("high", 1, {"high": 0}), "thresholds.high"),
    (("high", 1, {"high": "8"}), "thresholds.high"),
])
def test_escalation_refuses_bad_input(args, field):
    """Unknown severity, negative age and non-positive thresholds name the field."""
    with pytest.raises(ProgressError) as caught:
        escalation_level(*args)
    assert caught.value.field == field
