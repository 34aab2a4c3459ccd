"""Assembles the plan document (docs/plan-format.md) from the stage outputs.

Working-hour offsets become ISO datetimes through the work calendar here,
once, so every consumer of a plan sees the same dates.
"""

from __future__ import annotations

from datetime import date

from planning.goal import priority_name
from planning.identity import task_uid
from planning.stages.input import StageInput
from planning.work_calendar import calendar_for


def build_plan_document(data: StageInput, assessment: dict) -> dict:
    goal, settings, network, start = data.goal, data.settings, data.network, data.start
    allocation, schedule = data.result("allocate"), data.result("schedule")
    calendar = calendar_for(settings)

    def at(hours: int) -> str:
        return calendar.to_datetime(start, hours).isoformat()

    def until(hours: int) -> str:  # a finish: the end of the last worked hour, not the next morning
        return calendar.to_datetime(start, hours, as_finish=True).isoformat()

    timing = schedule["tasks"]
    by_task_allocations: dict[str, list[dict]] = {}
    allocations = []
    for row in allocation["allocations"]:
        # The stage allocated over early-start windows; the plan shows when the work is scheduled.
        slot = timing[row["task_id"]]
        row = {**row, "start": at(slot["start"]), "finish": until(slot["finish"])}
        allocations.append(row)
        by_task_allocations.setdefault(row["task_id"], []).append(row)

    priorities = {task.id: task.priority for task in goal.tasks if task.priority is not None}
    tasks = []
    for task in network.tasks:
        slot = timing[task.id]
        priority = priorities.get(task.id, goal.priority)
        tasks.append({
            "id": task.id,
            "uid": task_uid(data.plan_id, task.id),
            "name": task.name,
            "description": task.description,
            "parent": task.parent,
            "phase": task.phase,
            "depends_on": [dep.task_id for dep in task.depends_on],
            "dependencies": [dep.to_dict() for dep in task.depends_on],
            "estimate": task.estimate.to_dict(),
            "duration": task.duration_hours,
            "start": at(slot["start"]),
            "finish": until(slot["finish"]),
            "start_hour": slot["start"],
            "finish_hour": slot["finish"],
            **{key: slot[key] for key in ("es", "ef", "ls", "lf", "total_float", "free_float", "critical")},
            "resources": dict(task.resources),
            "allocations": by_task_allocations.get(task.id, []),
            "success_criteria": task.success_criteria,
            "risk_tags": task.risk_tags,
            "origin": task.origin,
            "priority": priority,
            "priority_name": priority_name(priority),
        })

    phases = []
    for phase in network.phases:
        slots = [timing[t] for t in phase.task_ids if t in timing]
        if not slots:
            continue
        first, last = min(s["start"] for s in slots), max(s["finish"] for s in slots)
        phases.append({**phase.to_dict(), "start": at(first), "finish": until(last)})

    milestones = []
    for milestone in network.milestones:
        reached = max((timing[t]["finish"] for t in milestone.depends_on if t in timing), default=0)
        when = calendar.to_datetime(start, reached, as_finish=True)
        milestones.append({
            **milestone.to_dict(),
            "date": when.isoformat(),
            "on_time": None if milestone.due is None else when.date() <= date.fromisoformat(milestone.due),
        })

    makespan = schedule["makespan_hours"]
    finish = calendar.to_datetime(start, makespan, as_finish=True)
    warnings = list(network.warnings) + list(allocation.get("warnings", [])) + list(assessment["warnings"])
    warnings += [f"size guard (schedule): {guard}" for guard in schedule["solver"].get("size_guards", ())]
    if goal.deadline and finish.date() > goal.deadline:
        warnings.append(f"the schedule finishes on {finish.date()}, after the deadline {goal.deadline}")
    return {
        "title": goal.title,
        "domain": network.domain,
        "strategy": network.strategy,
        "priority": goal.priority,
        "priority_name": priority_name(goal.priority),
        "project_start": start.isoformat(),
        "deadline": goal.deadline.isoformat() if goal.deadline else None,
        "tasks": tasks,
        "critical_path": schedule["critical_path"],
        "makespan_hours": makespan,
        "finish": finish.isoformat(),
        "phases": phases,
        "milestones": milestones,
        "risks": assessment["risks"],
        "schedule_risk": assessment["schedule_risk"],
        "risk_alerts": assessment["alerts"],
        "pre_assessment_risks": [risk["id"] for risk in data.results.get("risk", {}).get("risks", [])],
        # Whether the plan may be approved without a person (no risk at alert level); the pipeline
        # approves it when auto_approve_low_risk_plans is on. The decision itself is not part of
        # the immutable document: the plan view merges it in (docs/lifecycle.md).
        "approval": {"auto_approvable": not assessment["blocks_auto_approval"], "blocked_by": assessment["alerts"]},
        "allocations": allocations,
        "allocation": {"role_map": allocation.get("role_map", {})},
        "resource_pools": allocation["pools"],
        "resource_conflicts": allocation.get("conflicts", []),
        "resource_requests": allocation.get("requests", []),
        "recommendations": allocation.get("recommendations", []),
        "integration": allocation.get("integration", {}),
        "cost": allocation["cost"],
        "solver": schedule["solver"],
        "decomposition": {"strategy": network.strategy, "domain": network.domain, "notes": network.notes},
        "warnings": warnings,
    }
