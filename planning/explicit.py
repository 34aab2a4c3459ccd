"""PLACEHOLDER decomposition until the domain library lands (issue 4).

Takes the goal's explicit tasks as the network, unchanged. A goal without
explicit tasks is refused with a clear error rather than given an invented plan.
"""

from __future__ import annotations

from planning.errors import PlanningError
from planning.goal import Goal
from planning.network import Dependency, Milestone, Phase, PlannedTask, TaskNetwork


def network_from_explicit_tasks(goal: Goal) -> TaskNetwork:
    if not goal.tasks:
        raise PlanningError("this goal has no tasks and domain decomposition is not available yet", "tasks")
    tasks = []
    for index, task in enumerate(goal.tasks):
        if task.estimate is None:
            raise PlanningError(f"task {task.id!r} has no estimate", f"tasks[{index}].estimate")
        tasks.append(
            PlannedTask(
                id=task.id,
                name=task.name,
                description=task.description,
                estimate=task.estimate,
                phase="delivery",
                resources=dict(task.resources),
                depends_on=[Dependency(dep) for dep in task.depends_on],
                origin="explicit",
                inputs=list(task.inputs),
                outputs=list(task.outputs),
            )
        )
    has_successor = {dep.task_id for task in tasks for dep in task.depends_on}
    ends = [task.id for task in tasks if task.id not in has_successor]
    return TaskNetwork(
        tasks=tasks,
        phases=[Phase("delivery", "Delivery", [task.id for task in tasks])],
        milestones=[
            Milestone(
                "M-done", "Goal complete", ends, "delivery", goal.deadline.isoformat() if goal.deadline else None
            )
        ],
        strategy="explicit",
        domain=goal.domain or "generic",
        warnings=["decomposition used the goal's explicit tasks only (domain library not available)"],
    )
