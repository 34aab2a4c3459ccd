"""The tree search under a horizon: its proofs agree with exhaustive enumeration."""

from __future__ import annotations

import sys

from hypothesis import HealthCheck, given, settings

from scheduling import Activity, Precedence, ProblemData, Resource, SolveStatus, solve, verify_schedule
from scheduling.propagate import Cliques, incompatibility_cliques, incompatible_pairs, propagate
from scheduling.search import search_applies, search_horizon
from scheduling.sgs import makespan

from .problems import brute_force_makespan, five_jobs, projects


def _search(data: ProblemData, horizon: int, **kwargs):
    core = data.core
    pairs = incompatible_pairs(core)
    cliques = Cliques(incompatibility_cliques(core, pairs, 60))
    root = propagate(core, horizon, pairs, cliques)
    if root is None:
        return None  # refuted before any search
    return search_horizon(core, horizon, root, pairs, cliques, **kwargs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=6, kinds=False))
def test_search_agrees_with_enumeration(data):
    """Under the optimum minus one the search proves infeasibility; at the optimum it finds a schedule.

    A wrong postponement rule would cut off the optimal schedule and "prove" the optimum
    infeasible; a wrong leaf test would return a schedule that breaks a capacity.
    """
    core = data.core
    assert search_applies(core)  # finish-to-start lags only
    best = brute_force_makespan(data)
    if best > 0:
        below = _search(data, best - 1)
        assert below is None or below.verdict == "infeasible"
    at = _search(data, max(best, 1))
    assert at is not None and at.verdict == "feasible"
    starts = dict(zip(core.keys, at.starts, strict=True))
    assert verify_schedule(data, starts) == []
    assert makespan(core, at.starts) <= max(best, 1)


def test_search_refutes_what_propagation_accepts():
    data = five_jobs()
    assert brute_force_makespan(data) == 9
    outcome = _search(data, 8)
    assert outcome is not None and outcome.verdict == "infeasible" and outcome.nodes > 1
    found = _search(data, 9)
    assert found.verdict == "feasible" and makespan(data.core, found.starts) == 9


def test_search_stops_at_its_budget():
    outcome = _search(five_jobs(), 8, max_nodes=1)
    assert outcome.verdict == "unknown" and outcome.starts is None and outcome.nodes == 1


def test_search_refuses_networks_where_postponing_could_lose_schedules():
    """A start-to-start link with lag 0 lets a successor start with its predecessor; postponing
    one of them could then wrongly rule out starting both at once, so the search is not used."""
    acts = [Activity("a", 2, {"r": 1}), Activity("b", 2, {"r": 1})]
    resources = [Resource("r", 2)]
    assert search_applies(ProblemData(acts, resources, [Precedence("a", "b", "FS")]).core)
    assert not search_applies(ProblemData(acts, resources, [Precedence("a", "b", "SS", 0)]).core)


def test_postponing_is_needed_to_find_the_optimum():
    """Optimum 16 (exhaustive enumeration); starting every activity at its earliest start in
    the search's order misses it (found by comparing a left-branch-only search with
    enumeration on random projects), so the postpone branch must be explored."""
    acts = [
        Activity("a0", 5, {"r": 4}),
        Activity("a1", 2, {"r": 2}),
        Activity("a2", 5, {"r": 2}),
        Activity("a3", 1, {"r": 2}),
        Activity("a4", 5, {"r": 2}),
        Activity("a5", 4, {"r": 3}),
    ]
    data = ProblemData(acts, [Resource("r", 4)], [Precedence("a1", "a3")])
    assert brute_force_makespan(data) == 16
    found = _search(data, 16)
    assert found.verdict == "feasible" and makespan(data.core, found.starts) == 16
    assert verify_schedule(data, dict(zip(data.core.keys, found.starts, strict=True))) == []
    below = _search(data, 15)
    assert below is None or below.verdict == "infeasible"


def test_solve_proves_by_search_when_shaving_has_no_time(monkeypatch):
    """With no time for shaving and no MILP, the search alone proves the GA's 9 optimal
    (propagation stops at 8)."""
    engine = sys.modules["scheduling.solve"]
    monkeypatch.setattr(engine, "SHAVE_SHARE", 0.0)

    def no_milp(*args, **kwargs):
        raise AssertionError("the MILP should not be needed")

    monkeypatch.setattr(engine, "run_milp", no_milp)
    res = solve(five_jobs(), time_limit=2, solver="highs")
    assert res.status is SolveStatus.OPTIMAL and res.makespan == 9 and res.lower_bound == 9
    assert res.stats["search_nodes"] > 1
