"""Allocation on hand-checked cases: which pool serves each task, with how many units, at what cost."""

from __future__ import annotations

from datetime import date

import pytest

from planning.allocation import allocate_from_goal_pools
from planning.resources import AvailabilityWindow, Pool, ResourceError, allocate
from tests.planning.resources_cases import SETTINGS, START, goal, network, pool, rows_of, task


def test_each_task_is_served_by_its_own_pool_when_there_is_room():
    """A chain on one engineer: each task gets 1 unit for its hours at 50/h, 800 in all, no conflict."""
    net = network(task("a", 8, {"engineer": 1}), task("b", 8, {"engineer": 1}, deps=("a",)))
    result = allocate(goal(), net, [pool("engineer", 1, 50)], {}, SETTINGS)
    assert [(r["task_id"], r["resource"], r["units"], r["hours"], r["cost"], r["status"])
            for r in result["allocations"]] == [("a", "engineer", 1, 8, 400, "planned"),
                                                ("b", "engineer", 1, 8, 400, "planned")]
    assert rows_of(result, "b")[0]["start_hour"] == 8 and rows_of(result, "b")[0]["from"] == "2027-01-05"
    assert result["conflicts"] == [] and result["shortfalls"] == [] and result["requests"] == []
    assert result["cost"]["total"] == 800


def test_day_rate_is_spread_over_the_pools_working_day():
    """800 a day over 8 hours is 100/h, so 12 hours cost 1,200; over 10-hour days, 960."""
    net = network(task("a", 12, {"consultant": 1}))
    eight = allocate(goal(), net, [pool("consultant", 1, 800, rate_unit="day")], {}, SETTINGS)
    ten = allocate(goal(), net, [pool("consultant", 1, 800, rate_unit="day", hours_per_day=10)], {}, SETTINGS)
    assert eight["allocations"][0]["cost"] == 1200
    assert ten["allocations"][0]["cost"] == 960
    assert eight["pools"][0]["cost_per_hour"] == 100


def test_a_type_without_any_pool_is_assumed_with_a_warning():
    """No pool and no substitute: assumed at the largest need and no cost, as before, and said so."""
    result = allocate(goal(), network(task("a", 8, {"welder": 2})), [], {}, SETTINGS)
    [entry] = result["pools"]
    assert (entry["type"], entry["capacity"], entry["source"], entry["cost_per_hour"]) == ("welder", 2, "assumed", 0)
    assert any("'welder' has no pool" in w for w in result["warnings"])
    assert result["shortfalls"] == []


def test_goal_pools_and_suggestions_feed_the_stage_entry_point():
    """allocate_from_goal_pools uses the goal's pools first and the decomposition's suggestions for the rest."""
    net = network(task("a", 10, {"engineer": 1}), task("b", 10, {"qa": 1}),
                  suggested_pools=[{"type": "qa", "capacity": 1, "cost_per_hour": 40},
                                   {"type": "engineer", "capacity": 9, "cost_per_hour": 1}])
    the_goal = goal(resources=[{"type": "engineer", "capacity": 2, "cost_per_hour": 85}])
    result = allocate_from_goal_pools(the_goal, net, SETTINGS)
    assert {p["type"]: (p["capacity"], p["source"]) for p in result["pools"]} == {
        "engineer": (2, "goal"), "qa": (1, "suggested")}
    assert result["cost"]["total"] == 10 * 85 + 10 * 40
    assert {"pools", "allocations", "cost", "shortfalls", "warnings"} <= set(result)
    assert result["integration"]["layer8"] == {"status": "not_configured"}


def test_availability_window_moves_a_task_within_its_float():
    """Layer 8 says no engineer on Monday: a task with float starts Tuesday 09:00 (hour 8)."""
    net = network(task("a", 8, {"engineer": 1}), task("long", 24, {"designer": 1}))
    windows = {"engineer": [AvailabilityWindow(START, START, 0)]}
    result = allocate(goal(), net, [pool("engineer", 1, 10), pool("designer", 1, 10)], windows, SETTINGS)
    assert rows_of(result, "a")[0]["start_hour"] == 8
    assert [c["resource"] for c in result["conflicts"]] == ["engineer"]
    assert result["conflicts"][0]["resolution"] == "levelled"
    assert result["shortfalls"] == []
    profile = next(p for p in result["pools"] if p["type"] == "engineer")["capacity_profile"]
    assert profile == [(0, 0), (8, 1)]


def test_pool_calendar_days_off_have_no_units():
    """A pool that does not work Mondays cannot take a Monday-only task without float: a shortfall."""
    net = network(task("a", 8, {"engineer": 1}))
    no_mondays = pool("engineer", 1, 10, working_weekdays=(1, 2, 3, 4))
    result = allocate(goal(), net, [no_mondays], {}, SETTINGS)
    assert [(s["task_id"], s["needed"], s["available"]) for s in result["shortfalls"]] == [("a", 1, 0)]


def test_pool_validation_names_the_bad_field():
    """Invalid pool data raises ResourceError naming the field."""
    with pytest.raises(ResourceError) as error:
        Pool(type="engineer", capacity=1, rate_unit="week")
    assert error.value.field == "pools[engineer].rate_unit"
    with pytest.raises(ResourceError):
        Pool(type="engineer", capacity=1, substitutes=("engineer",))
    with pytest.raises(ResourceError):
        AvailabilityWindow(date(2027, 1, 5), date(2027, 1, 4), 1)


def test_task_demands_name_the_serving_pools():
    """`task_demands` gives, per task, the units of each pool that serves it (for the scheduler)."""
    net = network(task("a", 8, {"engineer": 2}))
    pools = [pool("engineer", 1, 50), pool("senior", 1, 90, substitutes=("engineer",))]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    assert result["task_demands"] == {"a": {"engineer": 1, "senior": 1}}


def test_a_deadline_already_past_does_not_break_allocation():
    """A goal with no start and a deadline before today is allocated from today; the deadline counts as missed."""
    from planning.goal import Goal

    past = Goal.from_dict({"title": "late", "deadline": "2020-01-01", "currency": "EUR"})
    result = allocate(past, network(task("a", 8, {"engineer": 1})), [pool("engineer", 1, 10)], {}, SETTINGS)
    assert result["levelled"]["deadline_hour"] == 0
    assert result["allocations"][0]["from"] >= date.today().isoformat()
