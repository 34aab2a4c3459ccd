"""The "weighted_tardiness" and "cost" objectives of solve(): hand-checked optima, bounds, failures.

Optima in the hand-checked tests are argued in each docstring; the property tests compare
with exhaustive search (serial SGS over every precedence-feasible list, which reaches an
optimal schedule for both objectives, see the brute-force helpers).
"""

from __future__ import annotations

import itertools
import random
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import scheduling.objective_solve as objective_solve
from scheduling import Activity, Precedence, ProblemData, ProblemError, Resource, SolveStatus, solve, verify_schedule
from scheduling.milp import TimeIndexedModel, make_windows
from scheduling.objectives import (
    availability_cost,
    peak_lower_bounds,
    resource_peaks,
    weighted_tardiness,
    weighted_tardiness_lower_bound,
)
from scheduling.sgs import makespan, serial_sgs
from scheduling.solver_process import MilpOutcome, run_milp

from .problems import brute_force_makespan, replanning_projects


def _starts(data: ProblemData, starts: dict[str, int]) -> list[int]:
    return [starts[a.key] for a in data.activities]


def _wt(data: ProblemData, starts: dict[str, int]) -> float:
    return weighted_tardiness(data.core, _starts(data, starts))


def _cost(data: ProblemData, starts: dict[str, int]) -> float:
    return availability_cost(data.core, _starts(data, starts))


# -- the objective functions ----------------------------------------------------------


def test_objective_functions_by_hand():
    """Tardiness, peaks and cost of a fixed schedule, computed by hand."""
    acts = [
        Activity("a", 3, {"r": 2}, deadline=3, weight=2.0),  # [0, 3): on time
        Activity("b", 2, {"r": 1, "s": 1}, deadline=3, weight=1.5),  # [2, 4): 1 late -> 1.5
        Activity("c", 4, {"s": 2}, deadline=5, weight=3.0),  # [3, 7): 2 late -> 6
        Activity("d", 1, {"r": 3}),  # [7, 8): no due date
    ]
    data = ProblemData(acts, [Resource("r", 3, cost_per_unit=5.0), Resource("s", 3, cost_per_unit=0.5)], [])
    starts = [0, 2, 3, 7]
    assert weighted_tardiness(data.core, starts) == pytest.approx(7.5)
    # r: a+b = 3 at t=2, d = 3 at t=7; s: b+c = 3 at t=3
    assert resource_peaks(data.core, starts) == [3, 3]
    assert availability_cost(data.core, starts) == pytest.approx(5.0 * 3 + 0.5 * 3)


def test_peak_lower_bounds_by_hand():
    """Largest demand, work spread over the limit, fixed load: the largest of the three."""
    acts = [Activity("a", 4, {"r": 1}), Activity("b", 4, {"r": 1}), Activity("c", 2, {"r": 2})]
    data = ProblemData(acts, [Resource("r", 5)], [])
    assert peak_lower_bounds(data.core, 12) == [2]  # the demand of c
    assert peak_lower_bounds(data.core, 4) == [3]  # 12 units of work in 4 periods
    fixed = ProblemData(acts[:2] + [Activity("f", 1, {"r": 4}, fixed_start=6)], [Resource("r", 5)], [])
    assert peak_lower_bounds(fixed.core, 12) == [4]


def test_weights_and_costs_validated():
    """A negative or non-finite weight or cost is refused, naming the activity or resource."""
    with pytest.raises(ProblemError) as err:
        ProblemData([Activity("a", 1, weight=float("nan"))], [], [])
    assert err.value.field == "a" and err.value.attribute == "weight"
    with pytest.raises(ProblemError) as err:
        ProblemData([Activity("a", 1)], [Resource("r", 1, cost_per_unit=-1.0)], [])
    assert err.value.field == "r" and err.value.attribute == "cost_per_unit"


# -- weighted tardiness, by hand ------------------------------------------------------


def _weights_beat_due_dates() -> ProblemData:
    """One machine; A (4 h, due 4, weight 1), B (2 h, due 5, weight 10)."""
    acts = [Activity("A", 4, {"m": 1}, deadline=4, weight=1.0), Activity("B", 2, {"m": 1}, deadline=5, weight=10.0)]
    return ProblemData(acts, [Resource("m", 1)], [])


def test_tardiness_order_differs_from_due_date_order(backend):
    """Earliest due date first (A, then B) costs 10 x 1 = 10; B first costs 1 x 2 = 2, the optimum.

    Both orders have makespan 6, and the resource-free bound is 0, so the MILP has to prove it.
    """
    data = _weights_beat_due_dates()
    assert _wt(data, {"A": 0, "B": 4}) == 10.0  # the due-date (LFT) order
    res = solve(data, time_limit=3, solver=backend, objective="weighted_tardiness")
    assert res.status is SolveStatus.OPTIMAL
    assert res.starts == {"B": 0, "A": 2}
    assert res.objective == 2.0 and res.lower_bound == 2 and res.gap == 0.0
    assert res.makespan == 6
    assert res.method == f"ga+{backend}"


def test_tardiness_optimum_can_take_longer_than_the_shortest_schedule(backend):
    """One machine: Y (3 h), X (1 h, released at 1, due 2, weight 10), Z (2 h, due 2, weight 1).

    Without idle time (makespan 6) X cannot start first, so X or Z ends late at a cost of at
    least 10 or 3 (Z after Y) ... the best is to wait for X: X [1, 2), Z [2, 4) (2 late, cost 2),
    Y [4, 7). Keeping X on time forces Z to [2, 4), and a late X costs at least 10: the optimum
    is 2, with makespan 7, and Y at 4 is the shortest such schedule (the tie-break).
    """
    acts = [
        Activity("Y", 3, {"m": 1}),
        Activity("X", 1, {"m": 1}, release=1, deadline=2, weight=10.0),
        Activity("Z", 2, {"m": 1}, deadline=2, weight=1.0),
    ]
    data = ProblemData(acts, [Resource("m", 1)], [])
    assert solve(data, time_limit=2).makespan == 6
    res = solve(data, time_limit=3, solver=backend, objective="weighted_tardiness")
    assert res.status is SolveStatus.OPTIMAL
    assert res.objective == 2.0
    assert res.starts == {"X": 1, "Z": 2, "Y": 4}
    assert res.makespan == 7


def test_due_dates_are_soft_under_tardiness(backend):
    """Two 3 h jobs on one machine, both due at 3: one is 3 late. Valid, scored 3, not INFEASIBLE."""
    acts = [Activity("a", 3, {"m": 1}, deadline=3), Activity("b", 3, {"m": 1}, deadline=3)]
    data = ProblemData(acts, [Resource("m", 1)], [])
    assert solve(data, time_limit=2).status is SolveStatus.INFEASIBLE  # hard under makespan
    res = solve(data, time_limit=3, solver=backend, objective="weighted_tardiness")
    assert res.status is SolveStatus.OPTIMAL and res.objective == 3.0
    assert verify_schedule(data, res.starts, deadlines=False) == []
    assert any("after its deadline 3" in p for p in verify_schedule(data, res.starts))


def test_fixed_start_stays_hard_under_tardiness(backend):
    """prep must end before the fixed pinned starts at 3, so busy (due 4) waits until 4: cost 4.

    Crew of 1: prep [0, 2) or [1, 3), pinned [3, 4), busy [4, 8) is 4 late. Busy first would be
    on time but push prep past the fixed start, which is not allowed.
    """
    acts = [
        Activity("busy", 4, {"crew": 1}, deadline=4),
        Activity("prep", 2, {"crew": 1}),
        Activity("pinned", 1, {"crew": 1}, fixed_start=3),
    ]
    data = ProblemData(acts, [Resource("crew", 1)], [Precedence("prep", "pinned")])
    for solver in ("heuristic", backend):
        res = solve(data, time_limit=2, solver=solver, objective="weighted_tardiness")
        assert verify_schedule(data, res.starts, deadlines=False) == []
        assert res.starts["pinned"] == 3 and res.starts["prep"] + 2 <= 3
        assert res.starts["busy"] == 4 and res.objective == 4.0
    assert res.status is SolveStatus.OPTIMAL


def test_fractional_weights(backend):
    """Weights need not be integers: B first costs 0.5 x 2 = 1.0 < A first 2.5 x 1 = 2.5."""
    acts = [Activity("A", 4, {"m": 1}, deadline=4, weight=0.5), Activity("B", 2, {"m": 1}, deadline=5, weight=2.5)]
    data = ProblemData(acts, [Resource("m", 1)], [])
    res = solve(data, time_limit=3, solver=backend, objective="weighted_tardiness")
    assert res.status is SolveStatus.OPTIMAL
    assert res.objective == pytest.approx(1.0) and res.lower_bound == pytest.approx(1.0)
    assert res.starts == {"B": 0, "A": 2}


# -- cost, by hand --------------------------------------------------------------------


def _crew_jobs(demand: int, count: int, capacity: int, spine: int | None) -> ProblemData:
    """``count`` independent 2 h jobs needing ``demand`` crew each, and a resource-free spine."""
    acts = [Activity(f"j{i}", 2, {"crew": demand}) for i in range(count)]
    if spine is not None:
        acts.append(Activity("spine", spine))
    return ProblemData(acts, [Resource("crew", capacity, cost_per_unit=10.0)], [])


def test_cost_spreads_work_within_the_makespan():
    """Four 2 h one-crew jobs beside a 4 h spine: the shortest schedule runs all four at once
    (peak 4, cost 40); within makespan 4 two at a time suffice (peak 2, cost 20), and 8 units
    of work in 4 h need a peak of 2. With makespan_limit 8 one crew does it all (cost 10)."""
    data = _crew_jobs(1, 4, 4, spine=4)
    for solver in ("heuristic", "auto"):
        res = solve(data, time_limit=2, solver=solver, objective="cost")
        assert res.status is SolveStatus.OPTIMAL
        assert res.stats["makespan_limit"] == 4 and res.makespan == 4
        assert resource_peaks(data.core, _starts(data, res.starts)) == [2]
        assert res.objective == 20.0 and res.lower_bound == 20
        assert verify_schedule(data, res.starts) == []
    loose = solve(data, time_limit=2, objective="cost", makespan_limit=8)
    assert loose.status is SolveStatus.OPTIMAL and loose.objective == 10.0 and loose.makespan <= 8


def test_cost_optimum_needs_the_milp(backend):
    """Three 2 h jobs of 2 crew each beside a 4 h spine. Peaks are even (sums of 2): peak 2 would
    run them one after another (6 h > 4), so within 4 h the optimum is peak 4 (cost 40), above the
    energy bound of 12 / 4 = 3. With 6 h the jobs go one by one: peak 2, cost 20."""
    data = _crew_jobs(2, 3, 6, spine=4)
    res = solve(data, time_limit=3, solver=backend, objective="cost")
    assert res.status is SolveStatus.OPTIMAL
    assert res.objective == 40.0 and res.lower_bound == 40
    assert res.method == f"ga+{backend}"
    assert res.makespan <= 4 and verify_schedule(data, res.starts) == []
    loose = solve(data, time_limit=3, solver=backend, objective="cost", makespan_limit=6)
    assert loose.status is SolveStatus.OPTIMAL and loose.objective == 20.0
    assert loose.objective < res.objective


def test_cost_respects_hard_deadlines():
    """As the spreading case, but j0 and j1 are due at 2: both run in [0, 2), the others in [2, 4)."""
    acts = [Activity(f"j{i}", 2, {"crew": 1}, deadline=2 if i < 2 else None) for i in range(4)]
    data = ProblemData(acts + [Activity("spine", 4)], [Resource("crew", 4, cost_per_unit=10.0)], [])
    res = solve(data, time_limit=2, objective="cost")
    assert res.status is SolveStatus.OPTIMAL and res.objective == 20.0
    assert res.starts["j0"] == 0 and res.starts["j1"] == 0
    assert verify_schedule(data, res.starts) == []


def test_makespan_limit_below_critical_path_is_an_error():
    """A limit no schedule can meet, whatever the resources, is a ValueError naming it."""
    data = _crew_jobs(1, 4, 4, spine=4)
    with pytest.raises(ValueError, match="makespan_limit 3 is below the critical path length 4"):
        solve(data, objective="cost", makespan_limit=3)


def test_makespan_limit_too_short_for_the_resources(backend):
    """Three 2 h jobs needing 2 of 3 crew can never overlap: 6 h at least. The critical path (2 h)
    allows a limit of 4, and so does the energy bound (12 units in 4 h on 3 crew); the MILP
    proves it infeasible. A limit of 3 is refuted by energy alone (12 > 3 x 3)."""
    data = _crew_jobs(2, 3, 3, spine=None)
    res = solve(data, time_limit=3, solver=backend, objective="cost", makespan_limit=4)
    assert res.status is SolveStatus.INFEASIBLE
    assert set(res.starts) == {"j0", "j1", "j2"}
    assert solve(data, time_limit=2, solver="heuristic", objective="cost", makespan_limit=4).status is (
        SolveStatus.INFEASIBLE
    )
    short = solve(data, time_limit=2, objective="cost", makespan_limit=3)
    assert short.status is SolveStatus.INFEASIBLE and short.method == "bound"
    assert "crew" in short.message


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"objective": "cost", "makespan_limit": 0}, "makespan_limit must be a positive integer"),
        ({"objective": "cost", "makespan_limit": 2.5}, "makespan_limit must be a positive integer"),
        ({"objective": "cost", "makespan_limit": True}, "makespan_limit must be a positive integer"),
        ({"objective": "makespan", "makespan_limit": 10}, "makespan_limit only applies"),
        ({"objective": "weighted_tardiness", "makespan_limit": 10}, "makespan_limit only applies"),
        ({"objective": "tardiness"}, "objective must be one of"),
    ],
)
def test_bad_objective_arguments(kwargs, words):
    """Bad objective arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=words):
        solve(_crew_jobs(1, 2, 2, spine=None), **kwargs)


def test_empty_project_for_both_objectives():
    """Nothing to schedule: optimal with objective 0."""
    for objective in ("weighted_tardiness", "cost"):
        res = solve(ProblemData([], [], []), objective=objective)
        assert res.status is SolveStatus.OPTIMAL and res.objective == 0.0 and res.starts == {}


# -- the MILP models ------------------------------------------------------------------


def test_tardiness_model_direct(backend):
    """The tardiness model alone, over the full horizon: optimum 2 and its bound."""
    core = objective_solve.due_date_core(_weights_beat_due_dates())  # due dates, not deadlines
    assert core.deadline == [None, None] and core.due == [4, 5]
    out = run_milp(
        core, make_windows(core, core.horizon, 0), backend=backend, time_limit=5, objective="weighted_tardiness"
    )
    assert out.status == "optimal"
    assert weighted_tardiness(core, out.starts) == 2.0
    if backend == "highs":  # CBC prints its bound only when stopped early
        assert out.bound == pytest.approx(2.0, abs=1e-6)


def test_cost_model_direct_with_warm_start(backend):
    """The cost model under limit 4, started from a peak-6 schedule: optimum peak 4."""
    data = _crew_jobs(2, 3, 6, spine=4)
    core = data.core
    out = run_milp(
        core, make_windows(core, 4, 0), backend=backend, time_limit=5, objective="cost", warm_start=[0, 0, 0, 0]
    )
    assert out.status == "optimal"
    assert resource_peaks(core, out.starts) == [4] and makespan(core, out.starts) <= 4


def test_model_objectives_leave_makespan_model_alone():
    """Only the makespan model has the end activity; the others have none, cost adds a[k]."""
    data = _crew_jobs(2, 3, 6, spine=4)
    core = data.core
    win = make_windows(core, 6, 0)
    default, explicit = TimeIndexedModel(core, win), TimeIndexedModel(core, win, objective="makespan")
    assert default.x.keys() == explicit.x.keys() and -1 in default.x
    assert len(default.prob.constraints) == len(explicit.prob.constraints)
    cost = TimeIndexedModel(core, win, objective="cost")
    assert -1 not in cost.x and list(cost.avail) == [0]
    assert cost.avail[0].lowBound == 2 and cost.avail[0].upBound == 6
    with pytest.raises(ValueError):
        TimeIndexedModel(core, win, objective="profit")


# -- never worse than the heuristic, whatever the solver says -------------------------


def _fake_milp(monkeypatch, outcome: MilpOutcome) -> None:
    monkeypatch.setattr(objective_solve, "run_milp", lambda *a, **k: outcome)


@pytest.mark.parametrize(
    ("outcome", "status", "words"),
    [
        # "optimal" with a worse schedule: the better heuristic one stays
        (MilpOutcome("optimal", [0, 4], 10.0, 0.1), None, ""),
        # a time-out claiming an absurd bound: no proof, the bound is not taken
        (MilpOutcome("timeout", None, 1e9, 0.1, "stopped"), SolveStatus.TIMED_OUT, "time limit"),
        (MilpOutcome("feasible", [0, 0], 0.0, 0.1, "stopped"), SolveStatus.FEASIBLE, "invalid schedule"),
        (MilpOutcome("infeasible", None, None, 0.1), SolveStatus.FEASIBLE, "infeasible although"),
        (MilpOutcome("error", None, None, 0.1, "boom"), SolveStatus.FEASIBLE, "MILP failed: boom"),
    ],
)
def test_solver_answers_never_make_it_worse(monkeypatch, outcome, status, words):
    """Whatever the MILP answers, the heuristic's optimum (cost 2, B first) is what is returned."""
    _fake_milp(monkeypatch, outcome)
    data = _weights_beat_due_dates()
    res = solve(data, time_limit=1.5, solver="cbc", objective="weighted_tardiness")
    assert res.objective == 2.0 and res.starts == {"B": 0, "A": 2}
    assert verify_schedule(data, res.starts, deadlines=False) == []
    if status is not None:
        assert res.status is status and words in res.message
        assert res.lower_bound < res.objective and res.gap > 0


def test_oversized_model_is_not_built(monkeypatch):
    """A model too large for the time left is skipped: the heuristic schedule, TIMED_OUT, no MILP."""
    monkeypatch.setattr(objective_solve, "NONZEROS_PER_SECOND", 1)
    called = []
    monkeypatch.setattr(objective_solve, "run_milp", lambda *a, **k: called.append(1))
    data = _weights_beat_due_dates()
    res = solve(data, time_limit=1.5, solver="highs", objective="weighted_tardiness")
    assert called == []
    assert res.status is SolveStatus.TIMED_OUT and "non-zeros" in res.message
    assert res.objective == 2.0 and res.lower_bound == 0


def _tardy_instance(seed: int = 3, n: int = 30) -> ProblemData:
    """30 activities, 4 busy resources, tight due dates: the tardiness bound stays far below the best."""
    rng = random.Random(seed)
    acts = [
        Activity(f"a{i}", rng.randint(1, 10), {f"R{k}": rng.randint(1, 6) for k in range(4) if rng.random() < 0.6})
        for i in range(n)
    ]
    precs = [Precedence(f"a{i}", f"a{j}") for j in range(3, n) for i in rng.sample(range(j), 2) if rng.random() < 0.5]
    resources = [Resource(f"R{k}", 10, cost_per_unit=float(k + 1)) for k in range(4)]
    es = ProblemData(acts, resources, precs).core.earliest_starts()
    acts = [
        Activity(
            a.key, a.duration, a.demands, deadline=es[i] + a.duration + rng.randint(0, 8), weight=rng.randint(1, 5)
        )
        for i, a in enumerate(acts)
    ]
    return ProblemData(acts, resources, precs)


@pytest.mark.parametrize("objective", ["weighted_tardiness", "cost"])
def test_tiny_limit_returns_the_heuristic_schedule(objective, backend):
    """With too little time for the MILP the heuristic schedule comes back, valid and unproven."""
    data = _tardy_instance()
    if objective == "cost":  # deadlines are hard under cost: drop them
        data = ProblemData(
            [Activity(a.key, a.duration, a.demands) for a in data.activities], data.resources, data.precedences
        )
    t0 = time.perf_counter()
    res = solve(data, time_limit=0.6, solver=backend, objective=objective)
    assert time.perf_counter() - t0 < 0.6 + 2.0
    starts = _starts(data, res.starts)
    assert verify_schedule(data, res.starts, deadlines=objective == "cost") == []
    value = weighted_tardiness(data.core, starts) if objective == "weighted_tardiness" else _cost(data, res.starts)
    assert res.objective == value
    if res.status is SolveStatus.OPTIMAL:
        assert res.lower_bound == res.objective
    else:
        assert res.status is SolveStatus.TIMED_OUT and res.lower_bound < res.objective and res.gap > 0
        assert "before the exact stage" in res.message


# -- properties on random small projects ----------------------------------------------


def _lists(core):
    """Every precedence-feasible activity list."""
    for perm in itertools.permutations(range(core.n)):
        where = {j: p for p, j in enumerate(perm)}
        if all(where[i] < where[j] for i in range(core.n) for j, _ in core.succ[i]):
            yield list(perm)


def brute_force_tardiness(data: ProblemData) -> float:
    """Minimum weighted tardiness over the serial SGS decodings of every feasible list.

    Tardiness is a regular objective: the serial SGS, fed the list of an optimal schedule
    sorted by start, gives a schedule no activity of which starts later (all lags being
    at least the predecessor's duration), so some list decodes to an optimum.
    """
    core = data.core
    return min(weighted_tardiness(core, serial_sgs(core, order)) for order in _lists(core))


def brute_force_cost(data: ProblemData, limit: int) -> float | None:
    """Minimum availability cost over every capacity level vector and every feasible list.

    An optimal schedule fits under its own peaks; decoding its start order under those
    levels gives a schedule that starts nothing later, so it also ends by ``limit`` and its
    peaks stay within the levels. None when nothing ends by ``limit``.
    """
    core = data.core
    best = None
    # zero-duration activities hold nothing
    lows = [max([core.demand[i][k] for i in range(core.n) if core.dur[i]] + [0]) for k in range(len(core.res_keys))]
    ranges = [range(lows[k], max(core.capacity[k]) + 1) for k in range(len(core.res_keys))]
    for levels in itertools.product(*ranges):
        avail = [[min(c, levels[k]) for c in row] for k, row in enumerate(core.capacity)]
        for order in _lists(core):
            start = serial_sgs(core, order, avail)
            if makespan(core, start) <= limit:
                cost = availability_cost(core, start)
                best = cost if best is None else min(best, cost)
    return best


@st.composite
def contended_projects(draw, kinds: bool = False) -> ProblemData:
    """3-5 activities, most of them competing for one or two small resources (so that the
    resource-free bounds rarely close the instance), a few precedences, some releases."""
    n = draw(st.integers(3, 5))
    n_res = draw(st.integers(1, 2))
    caps = [draw(st.integers(1, 2)) for _ in range(n_res)]
    acts = []
    for i in range(n):
        demands = {f"r{k}": draw(st.integers(0 if k else 1, caps[k])) for k in range(n_res)}
        acts.append(
            Activity(
                f"a{i}",
                draw(st.integers(1, 4)),
                {key: v for key, v in demands.items() if v},
                release=draw(st.sampled_from([0, 0, 0, 1, 2])),
            )
        )
    precs = [
        Precedence(
            f"a{i}", f"a{j}", draw(st.sampled_from(["FS", "SS", "FF"])) if kinds else "FS", draw(st.integers(0, 1))
        )
        for i in range(n)
        for j in range(i + 1, n)
        if draw(st.integers(0, 4)) == 0
    ]
    return ProblemData(acts, [Resource(f"r{k}", caps[k]) for k in range(n_res)], precs)


@st.composite
def tardy_projects(draw, kinds: bool = False) -> ProblemData:
    """Contended projects with tight due dates (0-2 after the earliest finish) and weights 0-4."""
    base = draw(contended_projects(kinds))
    es = base.core.earliest_starts()
    acts = []
    for i, a in enumerate(base.activities):
        slack = draw(st.sampled_from([None, 0, 0, 1, 2]))
        due = None if slack is None else es[i] + a.duration + slack
        acts.append(Activity(a.key, a.duration, a.demands, a.release, due, weight=float(draw(st.integers(0, 4)))))
    return ProblemData(acts, base.resources, base.precedences)


@st.composite
def priced_projects(draw, kinds: bool = False) -> tuple[ProblemData, int]:
    """Bulky jobs (2-3 units of a priced resource of 6) beside a resource-free spine that sets
    the makespan, maybe a second cheap resource, and a limit 0-1 above the optimal makespan:
    how the bulky jobs pack decides the peak, which the energy bound often misses."""
    n = draw(st.integers(3, 5))
    acts = [
        Activity(
            f"a{i}",
            draw(st.integers(1, 3)),
            {"r0": draw(st.integers(2, 3)), **({"r1": 1} if draw(st.booleans()) else {})},
            release=draw(st.sampled_from([0, 0, 0, 1])),
        )
        for i in range(n)
    ]
    acts.append(Activity("spine", draw(st.integers(2, 6))))
    precs = [
        Precedence(f"a{i}", f"a{j}", draw(st.sampled_from(["FS", "SS", "FF"])) if kinds else "FS")
        for i in range(n)
        for j in range(i + 1, n)
        if draw(st.integers(0, 5)) == 0
    ]
    resources = [
        Resource("r0", 6, cost_per_unit=float(draw(st.integers(1, 3)))),
        Resource("r1", 2, cost_per_unit=float(draw(st.integers(0, 1)))),
    ]
    data = ProblemData(acts, resources, precs)
    return data, brute_force_makespan(data) + draw(st.integers(0, 1))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans().flatmap(lambda kinds: tardy_projects(kinds=kinds)))
def test_tardiness_matches_brute_force(data):
    """Valid schedules, the reported objective is the schedule's, and OPTIMAL is the true optimum
    (compared when every lag covers its predecessor's duration, where the brute force is exact)."""
    res = solve(data, time_limit=3, objective="weighted_tardiness")
    assert verify_schedule(data, res.starts, deadlines=False) == []
    assert res.objective == _wt(data, res.starts)
    assert weighted_tardiness_lower_bound(data.core) <= res.lower_bound <= res.objective
    assert res.status is SolveStatus.OPTIMAL
    if data.core.fs_like:
        assert res.objective == pytest.approx(brute_force_tardiness(data))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans().flatmap(lambda kinds: priced_projects(kinds=kinds)))
def test_cost_matches_brute_force(case):
    """Valid schedules within the limit, the objective is the schedule's cost, OPTIMAL is optimal."""
    data, limit = case
    res = solve(data, time_limit=3, objective="cost", makespan_limit=limit)
    assert verify_schedule(data, res.starts) == []
    assert res.makespan <= limit
    assert res.objective == _cost(data, res.starts)
    assert res.lower_bound <= res.objective
    assert res.status is SolveStatus.OPTIMAL
    if data.core.fs_like:
        assert res.objective == pytest.approx(brute_force_cost(data, limit))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(replanning_projects(), st.sampled_from(["weighted_tardiness", "cost"]))
def test_heuristic_with_replanning_features(data, objective):
    """Profiles, deadlines, fixed starts, SS/FF: valid unless INFEASIBLE, objective recomputed."""
    assume(data is not None)
    res = solve(data, time_limit=0.3, solver="heuristic", objective=objective)
    soft = objective == "weighted_tardiness"
    problems = verify_schedule(data, res.starts, deadlines=not soft)
    if res.status is SolveStatus.INFEASIBLE:
        assert problems or res.makespan > res.stats.get("makespan_limit", res.makespan)
    else:
        assert problems == []
        assert res.lower_bound <= res.objective
    value = _wt(data, res.starts) if soft else _cost(data, res.starts)
    assert res.objective == value
    for a in data.activities:
        if a.fixed_start is not None:
            assert res.starts[a.key] == a.fixed_start
