"""The setting max_concurrent_tasks is a renewable resource of the schedule: no instant runs more tasks than it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.goal import Estimate
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.schedule_adapter import CONCURRENCY, schedule_network
from planning.settings import PlanningSettings


def most_at_once(schedule: dict) -> int:
    """The most tasks running at one instant (a task runs over [start, finish))."""
    events = sorted((hour, change) for slot in schedule["tasks"].values()
                    for hour, change in ((slot["start"], 1), (slot["finish"], -1)))
    running = peak = 0
    for _, change in events:  # at equal hours a finish (-1) sorts before a start (+1)
        running += change
        peak = max(peak, running)
    return peak


@st.composite
def networks(draw) -> tuple[TaskNetwork, list[dict]]:
    count = draw(st.integers(min_value=2, max_value=14))
    tasks = []
    for i in range(count):
        hours = draw(st.integers(min_value=1, max_value=12))
        before = draw(st.lists(st.integers(min_value=0, max_value=i - 1), max_size=2, unique=True)) if i else []
        resources = draw(st.sampled_from([{}, {"engineer": 1}, {"qa": 1}, {"engineer": 2}]))
        tasks.append(PlannedTask(id=f"t{i}", name=f"t{i}", estimate=Estimate(hours, hours, hours),
                                 resources=resources, depends_on=[Dependency(f"t{j}") for j in before]))
    pools = [{"type": "engineer", "capacity": draw(st.integers(min_value=2, max_value=6))},
             {"type": "qa", "capacity": draw(st.integers(min_value=1, max_value=4))}]
    return TaskNetwork(tasks=tasks), pools


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.integers(min_value=1, max_value=5), st.sampled_from(["makespan", "cost"]))
def test_no_instant_runs_more_tasks_than_the_setting(problem, limit, objective):
    """Whatever the network, pools and objective, the schedule never has more than max_concurrent_tasks running."""
    network, pools = problem
    result = schedule_network(network, {"pools": pools}, PlanningSettings(max_concurrent_tasks=limit,
                                                                          schedule_time_limit_seconds=0.5),
                              objective=objective)
    assert most_at_once(result) <= limit
    assert result["solver"]["max_concurrent_tasks"]["capacity"] == limit
    assert CONCURRENCY not in result["capacities"]  # not a pool: kept out of allocation and cost


def test_the_setting_changes_the_schedule_and_the_solver_block_shows_it():
    """Six independent tasks without resources run at once under 10, two by two under 2 (three times as long)."""
    network = TaskNetwork(tasks=[PlannedTask(id=f"t{i}", name=f"t{i}", estimate=Estimate(4, 4, 4)) for i in range(6)])
    wide = schedule_network(network, {"pools": []}, PlanningSettings(max_concurrent_tasks=10))
    narrow = schedule_network(network, {"pools": []}, PlanningSettings(max_concurrent_tasks=2))
    assert (wide["makespan_hours"], narrow["makespan_hours"]) == (4, 12)
    assert wide["solver"]["max_concurrent_tasks"] == {"capacity": 10, "binding": False}
    assert narrow["solver"]["max_concurrent_tasks"] == {"capacity": 2, "binding": True}
