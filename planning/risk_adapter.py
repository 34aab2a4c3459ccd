"""Feeds the risk assessor from the stage outputs and dates its results."""

from __future__ import annotations

import math

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.risk import AllocationSummary, ScheduleSnapshot, assess_goal, assess_plan
from planning.settings import PlanningSettings
from planning.work_calendar import calendar_for, deadline_hours, planned_at, project_start


def pre_assess_goal(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    meta = outputs.get("_meta", {})
    risks = assess_goal(goal, settings, start=project_start(goal, meta), at=planned_at(meta))
    return {"risks": [risk.to_dict() for risk in risks], "assessed": True}


def assess_scheduled_plan(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    """Rules over the whole plan plus Monte Carlo on the schedule; P-values also as dates."""
    meta = outputs.get("_meta", {})
    network = TaskNetwork.from_dict(outputs["decompose"])
    schedule, allocation = outputs["schedule"], outputs["allocate"]
    calendar = calendar_for(settings)
    start = project_start(goal, meta)
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
    assessment = assess_plan(goal, network, snapshot, summary, settings, at=planned_at(meta)).to_dict()
    schedule_risk = assessment["schedule_risk"]
    if schedule_risk:
        for level in ("p50", "p80", "p95"):
            hours = math.ceil(schedule_risk[level])
            schedule_risk[f"{level}_date"] = calendar.to_datetime(start, hours, as_finish=True).isoformat()
    return assessment
