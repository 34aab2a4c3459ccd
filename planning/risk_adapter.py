"""Feeds the risk assessor from the stage outputs and dates its results."""

from __future__ import annotations

import math

from planning.risk import AllocationSummary, ScheduleSnapshot, assess_plan
from planning.stages.input import StageInput
from planning.work_calendar import calendar_for, deadline_hours


def assess_scheduled_plan(data: StageInput) -> dict:
    """Rules over the whole plan plus Monte Carlo on the schedule; P-values also as dates."""
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
    assessment = assess_plan(goal, data.network, snapshot, summary, settings, at=data.created_at).to_dict()
    schedule_risk = assessment["schedule_risk"]
    if schedule_risk:
        for level in ("p50", "p80", "p95"):
            hours = math.ceil(schedule_risk[level])
            schedule_risk[f"{level}_date"] = calendar.to_datetime(start, hours, as_finish=True).isoformat()
    return assessment
