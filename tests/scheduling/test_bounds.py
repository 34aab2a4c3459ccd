"""Lower bounds and propagation never cut off an optimal schedule."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduling import Activity, ProblemData, Resource
from scheduling.bounds import critical_path_bound, energy_bound, makespan_lower_bound
from scheduling.propagate import (
    Cliques,
    destructive_bound,
    incompatibility_cliques,
    incompatible_pairs,
    propagate,
    shave,
)
from scheduling.sgs import fresh_availability, makespan, serial_sgs

from .problems import brute_force_makespan, five_jobs, projects, start_lags_nonnegative


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6))
def test_bounds_never_exceed_optimum(data):
    """CP, energy and destructive bounds are at most the exhaustive optimum."""
    assume(start_lags_nonnegative(data))  # where the exhaustive reference is the optimum
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
    assume(start_lags_nonnegative(data))
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


def _pairs_and_cliques(core):
    pairs = incompatible_pairs(core)
    return pairs, Cliques(incompatibility_cliques(core, pairs))


def test_energetic_reasoning_refutes_what_pairs_and_time_tables_miss():
    """Five 2-period jobs using 1 of 2 units cannot fit in 4 periods (10 units of work, 8 available).

    No pair conflicts and no job has a compulsory part at horizon 4, so only the
    interval energy check sees it.
    """
    data = ProblemData([Activity(k, 2, {"r": 1}) for k in "abcde"], [Resource("r", 2)], [])
    core = data.core
    pairs, cliques = _pairs_and_cliques(core)
    assert propagate(core, 4, pairs, cliques, energetic=False) is not None
    assert propagate(core, 4, pairs, cliques) is None
    assert propagate(core, 6, pairs, cliques) is not None


def test_shaving_refutes_a_horizon_every_single_rule_accepts():
    """Optimum 9, found by hand: a0 needs the whole resource; while a4 (3 of 4 units) runs only one
    unit-demand job fits beside it. At horizon 8 every window rule is satisfied; shaving refutes it."""
    data = five_jobs()
    core = data.core
    assert brute_force_makespan(data) == 9
    pairs, cliques = _pairs_and_cliques(core)
    root = propagate(core, 8, pairs, cliques)
    assert root is not None
    assert shave(core, 8, root, pairs, cliques) is None
    at_optimum = propagate(core, 9, pairs, cliques)
    assert shave(core, 9, at_optimum, pairs, cliques) is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6), st.integers(0, 3))
def test_shaved_windows_keep_every_schedule(data, slack):
    """Whatever schedule finishes by H keeps its starts inside the propagated and the shaved windows.

    Shaving only removes start times that no schedule finishing by H can use,
    so a known schedule is a witness that must survive, whatever H above it.
    """
    core = data.core
    start = serial_sgs(core, core.topo, fresh_availability(core))
    horizon = makespan(core, start) + slack
    pairs, cliques = _pairs_and_cliques(core)
    root = propagate(core, horizon, pairs, cliques)
    assert root is not None
    shaved = shave(core, horizon, root, pairs, cliques)
    assert shaved is not None
    for windows in (root, shaved):
        for i in range(core.n):
            assert windows.es[i] <= start[i] <= windows.ls[i], (core.keys[i], windows.es[i], start[i], windows.ls[i])
