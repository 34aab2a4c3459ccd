"""The independent schedule verifier."""

from __future__ import annotations

from scheduling import Activity, Precedence, ProblemData, Resource, verify_schedule


def test_valid_schedule_has_no_violations(small_project):
    """A feasible schedule yields an empty list."""
    assert verify_schedule(small_project, {"a": 0, "b": 3, "c": 3, "d": 7}) == []


def test_precedence_violation_reported(small_project):
    """Starting a successor too early is reported with the relation."""
    problems = verify_schedule(small_project, {"a": 0, "b": 3, "c": 2, "d": 7})
    assert any("a -FS(0)-> c" in p for p in problems)


def test_capacity_violation_reported(small_project):
    """Two crew jobs at once exceed the capacity of one."""
    problems = verify_schedule(small_project, {"a": 0, "b": 0, "c": 3, "d": 7})
    assert any("resource 'crew' at time 0" in p for p in problems)


def test_kinds_and_lags_checked():
    """SS and FF relations with lags are checked by their own definitions."""
    acts = [Activity("a", 4), Activity("b", 2)]
    ss = ProblemData(acts, [], [Precedence("a", "b", "SS", 3)])
    assert verify_schedule(ss, {"a": 0, "b": 3}) == []
    assert verify_schedule(ss, {"a": 0, "b": 2})
    ff = ProblemData(acts, [], [Precedence("a", "b", "FF", 1)])
    assert verify_schedule(ff, {"a": 0, "b": 3}) == []
    assert verify_schedule(ff, {"a": 0, "b": 2})


def test_capacity_profile_checked():
    """A dip in a capacity profile is checked at every time step."""
    res = Resource("r", 2, capacity_profile=[(2, 1), (4, 2)])
    data = ProblemData([Activity("a", 3, {"r": 1}), Activity("b", 3, {"r": 1})], [res], [])
    assert verify_schedule(data, {"a": 0, "b": 4}) == []
    assert any("time 2" in p for p in verify_schedule(data, {"a": 0, "b": 1}))


def test_windows_and_missing_starts():
    """Release, deadline, fixed start and missing keys are all reported."""
    acts = [Activity("a", 2, release=1), Activity("b", 2, deadline=3), Activity("c", 1, fixed_start=4)]
    data = ProblemData(acts, [], [])
    problems = verify_schedule(data, {"a": 0, "b": 2, "c": 5})
    assert len(problems) == 3
    assert verify_schedule(data, {"a": 1}) == ["activity 'b' has no start", "activity 'c' has no start"]
