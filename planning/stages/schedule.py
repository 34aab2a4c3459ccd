"""Stage `schedule`: a resource-feasible schedule for the goal's objective."""

from __future__ import annotations

from planning.schedule_adapter import schedule_network
from planning.stages.input import StageInput
from planning.work_calendar import calendar_for, deadline_hours


def schedule_tasks(data: StageInput) -> dict:
    """The deadline, in working hours from the start, is the due date of the tardiness objective."""
    return schedule_network(data.network, data.result("allocate"), data.settings,
                            objective=data.goal.schedule_objective,
                            deadline_hours=deadline_hours(data.goal, calendar_for(data.settings), data.start))
