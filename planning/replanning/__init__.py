"""Replanning an executing plan (issue 14, the pure half): triggers, the status date, a stable re-solve.

Pure code (no Flask, Celery or database). Hours are WORKING hours from the ORIGINAL project
start (the plan's `start_hour`/`finish_hour`); dates via planning.work_calendar. Invalid
input raises `ReplanError` (a `PlanningError`, so a `ValueError`) whose `.field` names the
offending part. Rules, defaults and the comparison with P6 / MS Project:
docs/lifecycle.md (The replan rules). Names load on first use, so the trigger scan does not import the
solver.

API:

    # When to replan (planning.replanning.triggers)
    TriggerThresholds(spi_t=0.9, cpi=0.9, min_percent_complete=10.0, late_tolerance_hours=0.0,
                      deadline_probability=0.8, escalation_level=1)
        TriggerThresholds.from_settings(settings)   # reads the replan_* settings (SETTINGS_FIELDS)
    TaskState(task_id, status="not_started", critical=False, total_float_hours=0.0, late_hours=0.0,
              blocked_reason=None)
    IssueState(issue_id, task_id, kind="blocked", severity="low", escalation_level=0, realized_risks=())
    PoolChange(pool, old_capacity, new_capacity)
    PlanSnapshot(plan_id, status="executing", status_hours=0.0, spi_t=None, cpi=None, percent_complete=None,
                 tasks=(), issues=(), changed_pools=(), used_pools=None, deadline_probability=None,
                 planned_deadline_probability=None)
    snapshot_from_progress(plan_id, plan: Baseline, progress: Mapping[str, TaskProgress], at_hours, *,
                           baseline=None, status="executing", issues=(), changed_pools=(), used_pools=None,
                           deadline_probability=None, planned_deadline_probability=None,
                           blocked_reasons=None) -> PlanSnapshot
    evaluate_triggers(snapshot, thresholds=None) -> list[Trigger]   # [] unless status == "executing"
        Trigger(kind, reason, evidence).to_dict()                   # kind in TRIGGER_KINDS
    should_replan(last_auto_replan_at: datetime | None, now: datetime, interval_minutes: int, *,
                  manual=False) -> bool                             # debounce; manual bypasses it

    # Engine hook (scheduling): solve(..., initial: Mapping[str, int] | None = None) seeds the GA with
    # the list in order of `initial` (every objective); GeneticSearch(..., sgs=...) and .seed_orders(...)

    # The remaining work from the status date (planning.replanning.status_date)
    replan_input(previous_schedule, problem: ProblemData, progress: Mapping[str, TaskProgress],
                 status_hours: int, *, logic="retained" | "progress_override",
                 not_before: Mapping[str, int] | None = None) -> ReplanProblem
        ReplanProblem(data, status_hours, logic, states, actual_starts, remaining_hours, previous,
                      preferred, held, notes)
    replan_schedule(replan, *, time_limit=10.0, seed=0, objective="makespan", solver="auto",
                    warm_start=True, stability_tolerance=0.0) -> ReplanResult
        ReplanResult(schedule: dict, starts, moved: {task_id: shift_hours}, moved_count, solve, stability)
    moved_tasks(replan, starts) -> {task_id: shift_hours}
    task_state(progress | None) -> "completed" | "in_progress" | "not_started"

    # The same on a task network, shaped like the schedule stage (planning.replanning.network)
    replan_network(network, allocation, previous_schedule, progress, status_hours, settings, *,
                   objective="makespan", deadline_hours=None, logic="retained", not_before=None,
                   warm_start=True, time_limit=None, stability_tolerance=None) -> dict
    replan_network_result(...same...) -> ReplanResult
    replan_tasks(data: StageInput) -> dict    # planning.replanning.stage: reads data.sources["replan"]

What the caller must know:

- Automatic replans: when `settings.enable_continuous_replanning`, evaluate the triggers of each
  executing plan; replan if any fired and `should_replan(last automatic replan, now,
  settings.replanning_interval_minutes)`. A manual replan skips both checks.
- `previous_schedule` is the replaced version's schedule stage result (`{"tasks": {id: {start,
  finish}}}`) or its plan document (`tasks[]` with `start_hour`/`finish_hour`); the problem is
  `build_problem` with the pools as they are NOW (a changed pool is a new allocation).
- `status_hours` is a whole working hour; every actual in `progress` must lie at or before it
  (a completion or a start after it is a ReplanError naming `progress.<task>.<field>`).
- The replan's schedule dict is the schedule stage's (`tasks`, `critical_path`, `makespan_hours`,
  `capacities`, `solver`) plus per task `state` (and for a running task `actual_start`,
  `remaining_hours`, `resume`) and a `replan` block: status_hours, logic, moved, moved_count,
  completed, in_progress, suspended, held, notes, stability.
"""

from __future__ import annotations

from planning.lazy import lazy_exports

_WHERE = {
    "ReplanError": ".errors",
    "EXECUTING": ".triggers",
    "SETTINGS_FIELDS": ".triggers",
    "TRIGGER_KINDS": ".triggers",
    "IssueState": ".triggers",
    "PlanSnapshot": ".triggers",
    "PoolChange": ".triggers",
    "TaskState": ".triggers",
    "Trigger": ".triggers",
    "TriggerThresholds": ".triggers",
    "evaluate_triggers": ".triggers",
    "should_replan": ".triggers",
    "snapshot_from_progress": ".triggers",
    "LOGICS": ".status_date",
    "ReplanProblem": ".status_date",
    "ReplanResult": ".status_date",
    "moved_tasks": ".status_date",
    "previous_times": ".status_date",
    "replan_input": ".status_date",
    "replan_schedule": ".status_date",
    "task_state": ".status_date",
    "replan_network": ".network",
    "replan_network_result": ".network",
    "replan_tasks": ".stage",
}

__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)
