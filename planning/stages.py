"""The one pure function each pipeline stage calls.

Every stage has the same shape, `(goal, outputs, settings) -> dict`, where
`outputs` holds the earlier stages' results by stage name (plus `_meta`).
Results are plain JSON-able dicts because the farm stores them between stages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from planning.allocation import allocate_with_sources
from planning.decomposition import DomainLibrary, decompose, load_domain_library
from planning.goal import Goal
from planning.network import TaskNetwork
from planning.plan_document import build_plan_document
from planning.risk_adapter import assess_scheduled_plan, pre_assess_goal
from planning.schedule_adapter import schedule_network
from planning.settings import PlanningSettings
from planning.work_calendar import calendar_for, deadline_hours, project_start

StageFunction = Callable[[Goal, dict, PlanningSettings], dict]


def assess_goal_risks(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    return pre_assess_goal(goal, outputs, settings)


@functools.lru_cache(maxsize=4)
def domain_library(domains_dir: str | None) -> DomainLibrary:
    """Parsed once per process (about 0.1 s), then shared by every plan."""
    return load_domain_library(extra_dir=domains_dir)


def decompose_goal(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    return decompose(goal, settings, domain_library(settings.domains_dir)).to_dict()


def allocate_resources(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    """Pools from the goal, then `_sources` (Layer 8 and the local pool) when the pipeline fetched them."""
    sources = outputs.get("_sources") or {"local_pools": [], "layer8": None}
    return allocate_with_sources(goal, TaskNetwork.from_dict(outputs["decompose"]), settings, **sources,
                                 project_start=project_start(goal, outputs.get("_meta", {})))


def schedule_tasks(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    """Schedule for the goal's objective; the deadline, in working hours, is the due date of tardiness."""
    start = project_start(goal, outputs.get("_meta", {}))
    return schedule_network(TaskNetwork.from_dict(outputs["decompose"]), outputs["allocate"], settings,
                            objective=goal.schedule_objective,
                            deadline_hours=deadline_hours(goal, calendar_for(settings), start))


def finalize_plan(goal: Goal, outputs: dict, settings: PlanningSettings) -> dict:
    return build_plan_document(goal, outputs, settings, assess_scheduled_plan(goal, outputs, settings))


STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "risk": assess_goal_risks,
    "decompose": decompose_goal,
    "allocate": allocate_resources,
    "schedule": schedule_tasks,
    "finalize": finalize_plan,
}

