"""The schedule stage schedules what allocation decided: substitute pools and time-varying capacity."""

from __future__ import annotations

from planning.goal import Estimate
from planning.network import PlannedTask, TaskNetwork
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
