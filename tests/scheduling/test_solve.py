"""solve(): validity, bounds, optimality on small cases, fixed starts, deadlines, failures."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings

from scheduling import Activity, Precedence, ProblemData, Resource, SolveStatus, solve, verify_schedule
from scheduling.bounds import critical_path_bound

from .problems import brute_force_makespan, projects, replanning_projects, start_lags_nonnegative


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_heuristic_schedules_are_valid_and_above_cp_bound(data):
    """Every heuristic schedule satisfies precedences and capacities and respects the CP bound."""
    res = solve(data, time_limit=0.2, solver="heuristic")
    assert verify_schedule(data, res.starts) == []
    assert res.makespan >= critical_path_bound(data.core)
    assert res.lower_bound <= res.makespan
    assert res.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6))
def test_exact_engine_matches_brute_force(data):
    """With the MILP stage, a schedule reported optimal is optimal by exhaustive search."""
    assume(start_lags_nonnegative(data))  # where the exhaustive reference is exact
    res = solve(data, time_limit=5, solver="auto")
    assert verify_schedule(data, res.starts) == []
    assert res.makespan >= critical_path_bound(data.core)
    assert res.status is SolveStatus.OPTIMAL
    assert res.makespan == brute_force_makespan(data)


def test_tiny_disjunctive_needs_the_milp(backend):
    """Three jobs that pairwise exceed a capacity run one after another: optimum 6 above the bounds of 5."""
    acts = [Activity(k, 2, {"r": 2}) for k in "abc"] + [Activity("d", 1, {"r": 1})]
    data = ProblemData(acts, [Resource("r", 3)], [Precedence("a", "d")])
    res = solve(data, time_limit=10, solver=backend)
    assert res.status is SolveStatus.OPTIMAL
    assert res.makespan == 6
    assert res.method == f"ga+{backend}" or res.method == "ga"


def test_fixed_activities_stay_put(backend):
    """Fixed starts are kept by every method, and others are planned around them."""
    acts = [
        Activity("done", 3, {"crew": 1}, fixed_start=0),
        Activity("running", 4, {"crew": 1}, fixed_start=5),
        Activity("next", 2, {"crew": 1}),
        Activity("later", 2, {"crew": 1}),
    ]
    data = ProblemData(acts, [Resource("crew", 1)], [Precedence("done", "next")])
    for solver in ("heuristic", backend):
        res = solve(data, time_limit=5, solver=solver)
        assert res.starts["done"] == 0 and res.starts["running"] == 5
        assert verify_schedule(data, res.starts) == []
        assert res.makespan == 11  # next fits in the gap [3, 5), later after running


def test_deadline_met_when_possible():
    """A deadline steers the order even when it costs nothing in makespan terms."""
    acts = [Activity("long", 5, {"m": 1}), Activity("urgent", 2, {"m": 1}, deadline=2)]
    data = ProblemData(acts, [Resource("m", 1)], [])
    res = solve(data, time_limit=5)
    assert res.starts["urgent"] == 0
    assert verify_schedule(data, res.starts) == []


def test_unmeetable_deadlines_reported_infeasible():
    """Two jobs on one machine, both due at their own duration: no schedule exists."""
    acts = [Activity("a", 3, {"m": 1}, deadline=3), Activity("b", 3, {"m": 1}, deadline=3)]
    data = ProblemData(acts, [Resource("m", 1)], [])
    res = solve(data, time_limit=5)
    assert res.status is SolveStatus.INFEASIBLE
    assert set(res.starts) == {"a", "b"}


def test_capacity_profile_respected():
    """A capacity dip pushes work after it; the schedule stays valid."""
    res_ = Resource("crew", 2, capacity_profile=[(1, 0), (4, 2)])
    acts = [Activity("a", 2, {"crew": 2}), Activity("b", 1, {"crew": 1})]
    data = ProblemData(acts, [res_], [])
    res = solve(data, time_limit=5)
    assert verify_schedule(data, res.starts) == []
    assert res.starts["a"] == 4 and res.makespan == 6
    assert res.status is SolveStatus.OPTIMAL


def test_release_dates_respected():
    """No activity starts before its release."""
    acts = [Activity("a", 2, release=4), Activity("b", 1)]
    res = solve(ProblemData(acts, [], [Precedence("b", "a")]), time_limit=2)
    assert res.starts["a"] == 4 and res.makespan == 6


def test_empty_project():
    """An empty project is trivially optimal with makespan 0."""
    res = solve(ProblemData([], [], []))
    assert res.status is SolveStatus.OPTIMAL and res.makespan == 0 and res.starts == {}


@pytest.mark.parametrize("kwargs", [{"solver": "gurobi"}, {"objective": "profit"}, {"time_limit": 0}])
def test_bad_arguments_rejected(small_project, kwargs):
    """Unknown solvers or objectives and a non-positive limit raise ValueError."""
    with pytest.raises(ValueError):
        solve(small_project, **kwargs)


def test_result_fields(small_project):
    """A result carries status, starts, makespan, bound, gap, seconds, method and objective."""
    res = solve(small_project, time_limit=2)
    assert res.status is SolveStatus.OPTIMAL
    assert res.makespan == 8 == res.objective == res.lower_bound
    assert res.gap == 0.0 and res.seconds >= 0 and res.method


def test_predecessor_of_fixed_activity_finishes_in_time():
    """An open activity that precedes a fixed one is planned to finish before the fixed start."""
    acts = [
        Activity("busy", 4, {"crew": 1}),
        Activity("prep", 2, {"crew": 1}),
        Activity("pinned", 1, {"crew": 1}, fixed_start=3),
    ]
    data = ProblemData(acts, [Resource("crew", 1)], [Precedence("prep", "pinned")])
    for solver in ("heuristic", "auto"):
        res = solve(data, time_limit=3, solver=solver)
        assert verify_schedule(data, res.starts) == []
        assert res.starts["prep"] + 2 <= 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(replanning_projects())
def test_replanning_features_respected(data):
    """With profiles, deadlines and fixed starts a result is valid unless INFEASIBLE; fixed starts always hold."""
    assume(data is not None)
    res = solve(data, time_limit=0.3, solver="heuristic")
    problems = verify_schedule(data, res.starts)
    if res.status is SolveStatus.INFEASIBLE:
        # best effort: capacities still hold; a deadline (or the start of a fixed successor) is missed
        assert problems and not any(p.startswith("resource") for p in problems)
    else:
        assert problems == []
    for a in data.activities:
        if a.fixed_start is not None:
            assert res.starts[a.key] == a.fixed_start
