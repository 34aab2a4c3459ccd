"""Stage `schedule`: a resource-feasible schedule for the goal's objective."""

from __future__ import annotations

from planning.schedule_adapter import schedule_network
from planning.stages.input import StageInput
from planning.work_calendar import calendar_for, deadline_hours

# The schedule time limit is a wall-time promise for the whole stage, from its start: the
# solver gets what loading left, less what comes after it (CPM with resource hand-overs,
# the result and its save: about 0.3 ms a task, measured with bench/scale.py).
AFTER_SOLVE_SECONDS = 0.1
AFTER_SOLVE_SECONDS_PER_TASK = 0.0003
MIN_SOLVE_SECONDS = 0.5  # even a stage that loaded slowly gets a schedule worth the name


def solve_seconds(data: StageInput, limit: float | None = None) -> float:
    """The solver's share of the stage's time `limit` (default: the setting schedule_time_limit_seconds)."""
    reserve = AFTER_SOLVE_SECONDS + AFTER_SOLVE_SECONDS_PER_TASK * len(data.network.tasks)
    limit = data.settings.schedule_time_limit_seconds if limit is None else limit
    return max(data.seconds_left(limit, reserve), MIN_SOLVE_SECONDS)


def schedule_tasks(data: StageInput) -> dict:
    """The deadline, in working hours from the start, is the due date of the tardiness objective."""
    return schedule_network(data.network, data.result("allocate"), data.settings,
                            objective=data.goal.schedule_objective,
                            deadline_hours=deadline_hours(data.goal, calendar_for(data.settings), data.start),
                            time_limit=solve_seconds(data))
