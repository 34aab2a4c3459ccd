"""Stage `schedule` of a replan version: `replan_network` on what the replan's I/O step gathered.

Not in the stage registry yet: the app's replan (issue 14, HTTP half) runs version n+1 on the
stage queues and gives this function, instead of `schedule_tasks`, the source below.
"""

from __future__ import annotations

from planning.errors import PlanningError
from planning.progress.status import TaskProgress
from planning.replanning.network import replan_network
from planning.stages.input import StageInput
from planning.stages.schedule import solve_seconds
from planning.work_calendar import calendar_for, deadline_hours


def replan_tasks(data: StageInput) -> dict:
    """`data.sources["replan"]`: {"previous_schedule", "progress": {task_id: TaskProgress fields},
    "status_hours", optional "logic" and "not_before"}; hours from the ORIGINAL project start
    (the replan version's StageInput must keep the first version's project start)."""
    source = data.sources.get("replan")
    if not isinstance(source, dict) or "previous_schedule" not in source or "status_hours" not in source:
        raise PlanningError("a replan needs the previous schedule, the progress and the status date", "replan")
    progress = {task_id: TaskProgress.from_dict(task_id, raw)
                for task_id, raw in (source.get("progress") or {}).items()}
    return replan_network(data.network, data.result("allocate"), source["previous_schedule"], progress,
                          source["status_hours"], data.settings, objective=data.goal.schedule_objective,
                          deadline_hours=deadline_hours(data.goal, calendar_for(data.settings), data.start),
                          logic=source.get("logic", "retained"), not_before=source.get("not_before"),
                          time_limit=solve_seconds(data, min(data.settings.replan_time_limit_seconds,
                                                             data.settings.schedule_time_limit_seconds)))
