"""Validation of problem data on construction."""

from __future__ import annotations

import pytest

from scheduling import Activity, Precedence, ProblemData, ProblemError, Resource


def test_valid_project_builds(small_project):
    """A consistent project constructs without error."""
    assert len(small_project.activities) == 4


def test_cycle_is_named():
    """A precedence cycle is rejected and the message spells the cycle out."""
    acts = [Activity(k, 1) for k in "abcd"]
    precs = [Precedence("a", "b"), Precedence("b", "c"), Precedence("c", "a"), Precedence("c", "d")]
    with pytest.raises(ProblemError) as err:
        ProblemData(acts, [], precs)
    assert "a -> b -> c -> a" in str(err.value)
    assert err.value.field == "a"


def test_self_loop_is_a_cycle():
    """An activity preceding itself is reported as a cycle."""
    with pytest.raises(ProblemError, match="cycle: a -> a"):
        ProblemData([Activity("a", 1)], [], [Precedence("a", "a")])


def test_demand_over_capacity_names_activity():
    """Needing more of a resource than it has is rejected, naming the activity."""
    with pytest.raises(ProblemError) as err:
        ProblemData([Activity("a", 1), Activity("weld", 2, {"crane": 3})], [Resource("crane", 2)], [])
    assert err.value.field == "weld"
    assert "crane" in str(err.value)


def test_demand_over_final_profile_capacity():
    """A demand above the capacity a profile ends on can never be met."""
    res = Resource("crew", 4, capacity_profile=[(10, 1)])
    with pytest.raises(ProblemError) as err:
        ProblemData([Activity("a", 1, {"crew": 2})], [res], [])
    assert err.value.field == "a"


def test_deadline_before_earliest_finish_names_activity():
    """A deadline the precedence network cannot meet is rejected, naming the activity."""
    acts = [Activity("a", 5), Activity("b", 3, deadline=7)]
    with pytest.raises(ProblemError) as err:
        ProblemData(acts, [], [Precedence("a", "b")])
    assert err.value.field == "b"
    assert "earliest finish 8" in str(err.value)


def test_deadline_with_release_checked():
    """Release dates count towards the earliest finish used by the deadline check."""
    with pytest.raises(ProblemError) as err:
        ProblemData([Activity("a", 2, release=5, deadline=6)], [], [])
    assert err.value.field == "a"


@pytest.mark.parametrize(
    ("acts", "resources", "precs", "field"),
    [
        ([Activity("a", 1), Activity("a", 2)], [], [], "a"),
        ([Activity("a", -1)], [], [], "a"),
        ([Activity("a", 1, {"ghost": 1})], [], [], "a"),
        ([Activity("a", 1)], [], [Precedence("a", "zz")], "zz"),
        ([Activity("a", 1), Activity("b", 1)], [], [Precedence("a", "b", kind="XX")], "b"),
        ([Activity("a", 1, release=-2)], [], [], "a"),
        ([Activity("a", 1)], [Resource("r", 1), Resource("r", 2)], [], "r"),
        ([Activity("a", 1)], [Resource("r", -1)], [], "r"),
    ],
)
def test_bad_fields_are_named(acts, resources, precs, field):
    """Duplicates, negative values, unknown keys and kinds raise ProblemError naming the key."""
    with pytest.raises(ProblemError) as err:
        ProblemData(acts, resources, precs)
    assert err.value.field == field


def test_problem_error_is_value_error():
    """ProblemError is a ValueError so generic handlers still catch it."""
    assert issubclass(ProblemError, ValueError)


def test_fixed_start_before_predecessor_rejected():
    """A fixed activity that would start before its predecessor allows is rejected."""
    acts = [Activity("a", 4), Activity("b", 1, fixed_start=2)]
    with pytest.raises(ProblemError) as err:
        ProblemData(acts, [], [Precedence("a", "b")])
    assert err.value.field == "b"


def test_fixed_activities_overloading_rejected():
    """Two fixed activities that together exceed a capacity are rejected."""
    acts = [Activity("a", 3, {"r": 1}, fixed_start=0), Activity("b", 3, {"r": 1}, fixed_start=2)]
    with pytest.raises(ProblemError) as err:
        ProblemData(acts, [Resource("r", 1)], [])
    assert err.value.field == "b"
