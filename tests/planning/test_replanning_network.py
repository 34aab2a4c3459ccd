"""Replanning a task network: the schedule stage's shape, objectives, and the replan stage function."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from planning.errors import PlanningError
from planning.goal import Estimate, Goal
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.progress.status import TaskProgress
from planning.replanning import replan_network, replan_network_result, replan_tasks
from planning.schedule_adapter import schedule_network
from planning.settings import PlanningSettings
from planning.stages.input import StageInput

SETTINGS = PlanningSettings(schedule_time_limit_seconds=1)
POOLS = {"pools": [{"type": "engineer", "capacity": 2, "cost_per_hour": 50.0}]}


def task(key: str, hours: int, after: tuple[str, ...] = ()) -> PlannedTask:
    return PlannedTask(id=key, name=key, estimate=Estimate(hours, hours, hours), resources={"engineer": 1},
                       depends_on=[Dependency(task_id=dep) for dep in after])


def network() -> TaskNetwork:
    """design 8 -> (api 16, ui 12) -> test 8, plus docs 4 alone, on 2 engineers."""
    return TaskNetwork(tasks=[task("design", 8), task("api", 16, ("design",)), task("ui", 12, ("design",)),
                              task("test", 8, ("api", "ui")), task("docs", 4)])


def planned_progress(previous: dict, status: int) -> dict[str, TaskProgress]:
    progress = {}
    for key, slot in previous["tasks"].items():
        if slot["finish"] <= status:
            progress[key] = TaskProgress(key, "completed", 100, actual_start_hours=slot["start"],
                                         actual_finish_hours=slot["finish"])
        elif slot["start"] < status:
            progress[key] = TaskProgress(key, "in_progress", 50, actual_start_hours=slot["start"],
                                         remaining_hours=slot["finish"] - status)
    return progress


def test_the_replan_has_the_schedule_stage_shape_and_keeps_an_on_plan_schedule():
    """Every key of schedule_network's result, per task too; on plan, the dates do not change."""
    previous = schedule_network(network(), POOLS, SETTINGS)
    replanned = replan_network(network(), POOLS, previous, planned_progress(previous, 10), 10, SETTINGS)
    assert set(previous) <= set(replanned) and "replan" in replanned
    for key, slot in previous["tasks"].items():
        assert set(slot) <= set(replanned["tasks"][key])
        assert (replanned["tasks"][key]["start"], replanned["tasks"][key]["finish"]) == (slot["start"], slot["finish"])
    assert replanned["replan"]["moved_count"] == 0
    assert replanned["capacities"] == {"engineer": 2}
    assert replanned["makespan_hours"] == previous["makespan_hours"]


def test_a_slip_moves_the_successors_and_is_reported():
    """api needs 10 more hours than planned: test moves by 10, the report names both."""
    previous = schedule_network(network(), POOLS, SETTINGS)
    progress = planned_progress(previous, 10)
    api = progress["api"]
    progress["api"] = TaskProgress("api", "in_progress", 20, actual_start_hours=api.actual_start_hours,
                                   remaining_hours=api.remaining_hours + 10)
    result = replan_network_result(network(), POOLS, previous, progress, 10, SETTINGS)
    assert result.moved == {"api": 10, "test": 10}
    assert result.schedule["makespan_hours"] == previous["makespan_hours"] + 10


@pytest.mark.parametrize("objective", ["weighted_tardiness", "cost"])
def test_other_objectives_replan_too(objective):
    """Under tardiness (with a deadline) and cost the replan is valid and says what it minimised."""
    previous = schedule_network(network(), POOLS, SETTINGS, objective=objective, deadline_hours=40)
    replanned = replan_network(network(), POOLS, previous, planned_progress(previous, 10), 10, SETTINGS,
                               objective=objective, deadline_hours=40)
    assert replanned["solver"]["requested_objective"] == objective
    assert all(slot["start"] >= 10 for slot in replanned["tasks"].values() if slot["state"] == "not_started")


def test_tardiness_without_a_deadline_is_refused():
    """As in the schedule stage: weighted_tardiness needs the deadline."""
    previous = schedule_network(network(), POOLS, SETTINGS)
    with pytest.raises(PlanningError) as error:
        replan_network(network(), POOLS, previous, {}, 0, SETTINGS, objective="weighted_tardiness")
    assert error.value.field == "schedule_objective"


def test_the_replan_stage_reads_its_sources():
    """replan_tasks takes the previous schedule, progress (as JSON) and status date from sources["replan"]."""
    previous = schedule_network(network(), POOLS, SETTINGS)
    progress = {key: {"status": p.status, "percent_complete": p.percent_complete,
                      "actual_start_hours": p.actual_start_hours, "actual_finish_hours": p.actual_finish_hours,
                      "remaining_hours": p.remaining_hours}
                for key, p in planned_progress(previous, 10).items()}
    data = StageInput(goal=Goal.from_dict({"title": "Replan", "start": "2027-01-04"}), settings=SETTINGS,
                      created_at=datetime(2027, 1, 6, tzinfo=UTC),
                      results={"decompose": network().to_dict(), "allocate": POOLS},
                      sources={"replan": {"previous_schedule": previous, "progress": progress, "status_hours": 10}})
    replanned = replan_tasks(data)
    assert replanned["replan"]["status_hours"] == 10
    assert replanned["tasks"]["design"]["state"] == "completed"
    with pytest.raises(PlanningError):
        replan_tasks(StageInput(goal=data.goal, settings=SETTINGS, created_at=data.created_at, results=data.results))
