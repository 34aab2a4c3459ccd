"""Progress measurement for the plan lifecycle: earned value, Earned Schedule, S-curves, issues, plan diffs.

Pure code (no Flask, Celery or database); formulas and conventions: docs/lifecycle-formulas.md.
Hours are WORKING hours from the project start (the plan's `start_hour`/`finish_hour`);
convert them to dates with `WorkCalendar` (planning.work_calendar.calendar_for(settings)).
Money is in the plan's currency. Invalid input raises `ProgressError` (a `PlanningError`,
so a `ValueError`) whose `.field` names the offending part.

API:

    TaskBaseline(task_id, planned_cost, start_hours, finish_hours, critical=False, total_float_hours=0)
        .duration_hours, .planned_value(at_hours)
    Baseline(tasks, currency, unit="cost"|"hours", uncosted=(), notes=())
        .bac, .finish_hours (PD), .task(task_id), .planned_value(at_hours), .time_of_value(value)
        Baseline.from_plan_document(doc, unit=None)  # cost from doc["cost"]["by_task"]; "hours" when it is all 0
    TaskProgress(task_id, status="not_started", percent_complete=0, actual_cost=None, actual_start_hours=None,
                 actual_finish_hours=None, remaining_hours=None, actual_hours=None)
        .fraction, .done; TaskProgress.from_dict(task_id, data)  # errors name progress.<task_id>.<field>
    evm(baseline, progress: Mapping[str, TaskProgress], at_hours) -> EvmResult  (.to_dict())
    earned_by_task(baseline, progress) -> {task_id: EV}
    earned_schedule(baseline, ev, at_hours) -> EarnedSchedule  (.to_dict())
    s_curve(baseline, snapshots: Iterable[(at_hours, Mapping[str, TaskProgress])], day_hours, at_hours) -> SCurve
    slip_hours(task, progress, at_hours) -> float   # float used: expected finish past the baseline finish
    issue_severity(task, progress, float_used_hours) -> "low" | "medium" | "high" | "critical"
    escalation_level(severity, age_hours, thresholds: Mapping[severity, hours], max_level=3) -> int
    diff_plans(before: dict, after: dict) -> dict

Conventions the caller must know: with `unit == "hours"` (a plan without cost) AC is read
from `TaskProgress.actual_hours`, otherwise from `actual_cost`; a task with progress but
no actual is assumed to have cost what it earned, and is listed in
`EvmResult.ac_estimated_for`. Ratios with a zero denominator are None, with the reason in
`undefined`. A completed task earns 100 % whatever its `percent_complete`.

`planning.risk.reassessment.earned_value` is the hours-only summary the risk rules read
(its TaskProgress is the risk module's own parse of the same progress rows); this package
is the general measure, in money or hours, for reports.
"""

from planning.progress.baseline import VALUE_UNITS, Baseline, TaskBaseline
from planning.progress.curves import CurvePoint, SCurve, Snapshot, s_curve
from planning.progress.diff import diff_plans
from planning.progress.earned_schedule import EarnedSchedule, earned_schedule
from planning.progress.errors import ProgressError
from planning.progress.evm import EvmResult, earned_by_task, evm
from planning.progress.issues import SEVERITIES, escalation_level, issue_severity, slip_hours
from planning.progress.status import STATUSES, TaskProgress

__all__ = [
    "SEVERITIES", "STATUSES", "VALUE_UNITS", "Baseline", "CurvePoint", "EarnedSchedule", "EvmResult",
    "ProgressError", "SCurve", "Snapshot", "TaskBaseline", "TaskProgress", "diff_plans", "earned_by_task",
    "earned_schedule", "escalation_level", "evm", "issue_severity", "s_curve", "slip_hours",
]
