"""Lower bounds and propagation never cut off an optimal schedule."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from scheduling import Activity, ProblemData, Resource
from scheduling.bounds import critical_path_bound, energy_bound, makespan_lower_bound
from scheduling.propagate import destructive_bound, incompatibility_cliques, incompatible_pairs, propagate

from .problems import brute_force_makespan, projects


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6))
def test_bounds_never_exceed_optimum(data):
    """CP, energy and destructive bounds are at most the exhaustive optimum."""
    core = data.core
    opt = brute_force_makespan(data)
    lb = makespan_lower_bound(core)
    assert critical_path_bound(core) <= opt and energy_bound(core) <= opt
    bound, _ = destructive_bound(core, min(lb, opt), opt + 1)
    assert bound <= opt


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6))
def test_propagation_keeps_feasible_horizon(data):
    """Propagation at the optimal makespan never reports infeasibility."""
    core = data.core
    opt = brute_force_makespan(data)
    pairs = incompatible_pairs(core)
    assert propagate(core, opt, pairs, incompatibility_cliques(core, pairs)) is not None


def test_energy_bound_hand_checked():
    """12 units of work on a capacity of 2 need 6 periods."""
    acts = [
        Activity("a", 3, {"r": 2}),
        Activity("b", 2, {"r": 1}),
        Activity("c", 2, {"r": 1}),
        Activity("d", 1, {"r": 2}),
    ]
    data = ProblemData(acts, [Resource("r", 2)], [])
    assert energy_bound(data.core) == 6


def test_disjunctive_clique_refutes_short_horizon():
    """Three jobs that pairwise exceed the capacity cannot finish within 5: the bound rises from 4 to 6."""
    acts = [Activity(k, 2, {"r": 2}) for k in "abc"]
    data = ProblemData(acts, [Resource("r", 3)], [])
    assert makespan_lower_bound(data.core) == 4  # energy: 12 units on capacity 3
    assert destructive_bound(data.core, 4, 6)[0] == 6
