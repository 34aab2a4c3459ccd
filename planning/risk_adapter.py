"""Feeds the risk assessor from the stage outputs and dates its results."""

from __future__ import annotations

import math

from planning.risk import AllocationSummary, ScheduleSnapshot, assess_plan
from planning.stages.input import StageInput
from planning.work_calendar import calendar_for, deadline_hours


def assess_scheduled_plan(data: StageInput) -> dict:
    """Rules over the whole plan plus Monte Carlo on the schedule; P-values also as dates."""
    snapshot, summary = _snapshot_and_summary(data)
    assessment = assess_plan(data.goal, data.network, snapshot, summary, data.settings, at=data.created_at).to_dict()
    _date_p_values(data, assessment)
    return assessment


def reassess_scheduled_plan(data: StageInput, assessment: dict, progress: dict, now_hours: float) -> dict:
    """A replanned version's assessment: `assessment`'s risks re-scored with the actuals (`progress`:
    task -> {percent_complete, actual_hours, status}) and a Monte Carlo of the remaining work from
    `now_hours` (the status date) through the new schedule (planning.risk.reassess)."""
    from planning.risk import Risk, reassess

    snapshot, summary = _snapshot_and_summary(data)
    previous = [Risk.from_dict(risk) for risk in assessment["risks"]]
    reassessed = reassess(previous, data.goal, data.network, snapshot, progress, data.settings,
                          now_hours=float(now_hours), allocation=summary, at=data.created_at).to_dict()
    _date_p_values(data, reassessed)
    return reassessed


def _date_p_values(data: StageInput, assessment: dict) -> None:
    schedule_risk = assessment["schedule_risk"]
    if schedule_risk:
        calendar = calendar_for(data.settings)
        for level in ("p50", "p80", "p95"):
            hours = math.ceil(schedule_risk[level])
            schedule_risk[f"{level}_date"] = calendar.to_datetime(data.start, hours, as_finish=True).isoformat()


def _snapshot_and_summary(data: StageInput) -> tuple[ScheduleSnapshot, AllocationSummary]:
    goal, settings, start = data.goal, data.settings, data.start
    schedule, allocation = data.result("schedule"), data.result("allocate")
    calendar = calendar_for(settings)
    timing = schedule["tasks"]
    snapshot = ScheduleSnapshot(
        starts={key: slot["start"] for key, slot in timing.items()},
        finishes={key: slot["finish"] for key, slot in timing.items()},
        total_float={key: slot["total_float"] for key, slot in timing.items()},
        critical_path=list(schedule["critical_path"]),
        makespan=schedule["makespan_hours"],
        capacities=dict(schedule.get("capacities", {})),
        deadline_hours=deadline_hours(goal, calendar, start),
    )
    summary = AllocationSummary(
        shortfalls=list(allocation.get("shortfalls", [])),
        total_cost=allocation["cost"]["total"],
        budget=allocation["cost"]["budget"],
        currency=allocation["cost"]["currency"],
    )
    return snapshot, summary
