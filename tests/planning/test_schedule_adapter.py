"""The schedule stage schedules what allocation decided (substitute pools, varying capacity) for the goal objective."""

from __future__ import annotations

import pytest

from planning.errors import PlanningError
from planning.goal import Estimate, Goal
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.schedule_adapter import schedule_network
from planning.settings import PlanningSettings

SETTINGS = PlanningSettings(schedule_time_limit_seconds=2)


def network(n: int = 3) -> TaskNetwork:
    return TaskNetwork(tasks=[PlannedTask(id=f"t{i}", name=f"task {i}", estimate=Estimate(8, 8, 8),
                                          resources={"engineer": 1}) for i in range(n)])


def test_substitute_pool_is_the_one_scheduled():
    """A task moved to the senior pool uses senior capacity: three 8 h tasks on 1 engineer + 1 senior take 16 h."""
    pools = [{"type": "engineer", "capacity": 1}, {"type": "senior_engineer", "capacity": 1}]
    plain = schedule_network(network(), {"pools": pools}, SETTINGS)
    assert plain["makespan_hours"] == 24  # all three on the one engineer
    moved = schedule_network(network(), {"pools": pools, "task_demands": {"t2": {"senior_engineer": 1}}}, SETTINGS)
    assert moved["makespan_hours"] == 16


def test_capacity_profile_is_respected_and_a_trailing_zero_means_nominal():
    """No work while the pool has zero units; after the answered window the nominal capacity holds."""
    pools = [{"type": "engineer", "capacity": 1, "capacity_profile": [(0, 0), (4, 1), (20, 0)]}]
    result = schedule_network(network(3), {"pools": pools}, SETTINGS)
    starts = sorted(slot["start"] for slot in result["tasks"].values())
    assert starts == [4, 12, 20]  # the third runs past the window, on the nominal engineer
    assert result["makespan_hours"] == 28


def task(key: str, hours: int, after: tuple[str, ...] = ()) -> PlannedTask:
    return PlannedTask(id=key, name=key, estimate=Estimate(hours, hours, hours), resources={"engineer": 1},
                       depends_on=[Dependency(task_id=dep) for dep in after])


def peak_usage(result: dict) -> int:
    """Highest number of tasks (one engineer each) running at any hour."""
    slots = result["tasks"].values()
    return max(sum(1 for s in slots if s["start"] <= hour < s["finish"]) for hour in range(result["makespan_hours"]))


def test_cost_objective_keeps_the_peak_as_low_as_the_makespan_allows():
    """A (4 h), B (2 h), C (2 h), no dependencies, on a pool of 3 engineers at 100 an hour.

    The shortest makespan is 4 (A's length) and is reached by starting all three at 0, peak
    3, which is what the makespan objective does (every task at its earliest start). Within
    that makespan, B then C alongside A need only 2 engineers, and no schedule of 8 hours of
    work in 4 hours can do with fewer. So "cost" must give peak 2 at makespan 4, objective
    2 x 100; a schedule ignoring the objective would show peak 3.
    """
    tasks = TaskNetwork(tasks=[task("A", 4), task("B", 2), task("C", 2)])
    allocation = {"pools": [{"type": "engineer", "capacity": 3, "cost_per_hour": 100.0}]}
    fastest = schedule_network(tasks, allocation, SETTINGS)
    assert fastest["makespan_hours"] == 4 and peak_usage(fastest) == 3  # the contrast: B and C overlap
    cheapest = schedule_network(tasks, allocation, SETTINGS, objective="cost")
    assert cheapest["makespan_hours"] == 4  # saving cost does not delay the project
    assert peak_usage(cheapest) == 2
    b, c = cheapest["tasks"]["B"], cheapest["tasks"]["C"]
    assert b["finish"] <= c["start"] or c["finish"] <= b["start"]
    assert cheapest["solver"]["requested_objective"] == "cost"
    assert cheapest["solver"]["solved_objective"] == "cost"
    assert cheapest["solver"]["objective"] == pytest.approx(200.0)


def test_cost_objective_without_prices_falls_back_to_makespan_and_says_so():
    allocation = {"pools": [{"type": "engineer", "capacity": 3, "cost_per_hour": 0.0}]}
    result = schedule_network(TaskNetwork(tasks=[task("A", 4), task("B", 2)]), allocation, SETTINGS, objective="cost")
    solver = result["solver"]
    assert solver["requested_objective"] == "cost" and solver["solved_objective"] == "makespan"
    assert "no pool" in solver["note"] and solver["objective"] == result["makespan_hours"] == 4


def test_weighted_tardiness_reports_the_hours_late_of_the_final_tasks():
    """a (8 h) -> b (8 h), and c (8 h), one engineer, deadline at hour 10.

    The final tasks are b and c. b cannot finish before 16 (its due date is clamped to 16,
    6 hours of lateness forced). The best order is c, a, b: c finishes at 8 (on time), b at
    24, 14 hours late; a first instead puts b at 16 and c at 24 (6 + 14 = 20). So the
    objective is 14 hours late against the real deadline (the solver saw 24 - 16 = 8).
    """
    tasks = TaskNetwork(tasks=[task("a", 8), task("b", 8, after=("a",)), task("c", 8)])
    allocation = {"pools": [{"type": "engineer", "capacity": 1}]}
    result = schedule_network(tasks, allocation, SETTINGS, objective="weighted_tardiness", deadline_hours=10)
    slots = result["tasks"]
    assert slots["c"]["finish"] == 8 and slots["b"]["finish"] == 24
    solver = result["solver"]
    assert solver["requested_objective"] == "weighted_tardiness"
    assert solver["objective"] == pytest.approx(14.0)
    assert solver["objective"] == sum(max(0, slots[key]["finish"] - 10) for key in ("b", "c"))
    assert solver["lower_bound"] <= solver["objective"]


def test_weighted_tardiness_needs_a_deadline():
    with pytest.raises(PlanningError) as raised:
        schedule_network(network(), {"pools": [{"type": "engineer", "capacity": 1}]}, SETTINGS,
                         objective="weighted_tardiness")
    assert raised.value.field == "schedule_objective"


def test_goal_refuses_weighted_tardiness_without_deadline_and_unknown_objectives():
    with pytest.raises(PlanningError, match="needs a deadline") as raised:
        Goal(title="x", schedule_objective="weighted_tardiness")
    assert raised.value.field == "schedule_objective"
    with pytest.raises(PlanningError, match="one of") as raised:
        Goal(title="x", schedule_objective="fastest")
    assert raised.value.field == "schedule_objective"
    stored = {"title": "x", "deadline": "2027-02-01", "schedule_objective": "weighted_tardiness"}
    assert Goal.from_dict(stored).schedule_objective == "weighted_tardiness"
    assert Goal.from_dict({"title": "x"}).schedule_objective == "makespan"  # goals stored before the field
