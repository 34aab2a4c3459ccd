"""The warm start and the stability pass: previous dates kept where possible, fewer moves than from scratch."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.progress.status import TaskProgress
from planning.replanning import ReplanError, replan_input, replan_schedule
from planning.replanning.stability import moved_of, preferred_sgs, pull_back
from scheduling import Activity, Precedence, ProblemData, Resource, analyse_cpm, solve, verify_schedule
from scheduling.ga import GeneticSearch, initial_order
from scheduling.sgs import fresh_availability, makespan, serial_sgs
from tests.planning.test_replanning_network import planned_progress
from tests.scheduling.problems import projects


def slipped_example(seed: int = 1, n: int = 30):
    """A seeded 30-task plan on two pools, a third done, and one critical running task 12 h behind."""
    rnd = random.Random(seed)
    acts = [Activity(f"t{i}", rnd.randint(2, 10), {rnd.choice("ab"): rnd.randint(1, 2)}) for i in range(n)]
    precs = [Precedence(f"t{i}", f"t{j}")
             for j in range(1, n) for i in rnd.sample(range(j), k=min(j, rnd.randint(0, 2)))]
    data = ProblemData(acts, [Resource("a", 3), Resource("b", 2)], precs)
    first = solve(data, time_limit=1, seed=1, solver="heuristic")
    previous = {"tasks": {k: {"start": s, "finish": s + data.activity(k).duration} for k, s in first.starts.items()}}
    status = first.makespan // 3
    progress = planned_progress(previous, status)
    critical = analyse_cpm(data, starts=first.starts).critical
    running = sorted(k for k, p in progress.items() if p.status == "in_progress")
    slip = next((k for k in running if critical[k]), running[0])
    late = progress[slip]
    progress[slip] = TaskProgress(slip, "in_progress", 30, actual_start_hours=late.actual_start_hours,
                                  remaining_hours=late.remaining_hours + 12)
    return data, previous, progress, status


def test_warm_start_moves_no_more_tasks_than_planning_from_scratch():
    """On the slipped example the warm, stable replan moves at most as many tasks as a fresh solve, no later."""
    data, previous, progress, status = slipped_example()
    replan = replan_input(previous, data, progress, status)
    warm = replan_schedule(replan, time_limit=1.5, seed=3, solver="heuristic")
    scratch = replan_schedule(replan, time_limit=1.5, seed=3, solver="heuristic", warm_start=False)
    assert verify_schedule(replan.data, warm.starts) == []
    assert warm.moved_count <= scratch.moved_count
    assert warm.schedule["makespan_hours"] <= scratch.schedule["makespan_hours"]
    assert warm.moved_count > 0  # the slip does move its successors


def test_the_stability_pass_never_worsens_the_solver_objective():
    """The pass ranks by objective first: its makespan is the solver's or better, its moves the solver's or fewer."""
    data, previous, progress, status = slipped_example(seed=4)
    result = replan_schedule(replan_input(previous, data, progress, status), time_limit=1, solver="heuristic")
    assert result.schedule["makespan_hours"] <= result.solve.makespan
    block = result.schedule["replan"]["stability"]
    assert block["activities_moved"] <= block["activities_moved_by_solver"]


def test_preferred_sgs_keeps_each_start_that_still_fits():
    """b prefers 5 (later than it could start) and keeps it; c prefers 0 but must follow a: earliest then."""
    data = ProblemData([Activity("a", 3, {"r": 1}), Activity("b", 2, {"r": 1}), Activity("c", 2, {"r": 1})],
                       [Resource("r", 1)], [Precedence("a", "c")])
    core = data.core
    start = preferred_sgs(core, [0, 1, 2], fresh_availability(core), [0, 5, 0])
    assert start == [0, 5, 3]
    assert moved_of(core, [0, 5, 0], start) == (1, 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=7), st.randoms(use_true_random=False))
def test_preferred_sgs_builds_valid_schedules_and_without_preferences_is_the_serial_sgs(data, rnd):
    """Any preferred starts give a valid schedule; none at all give exactly the serial SGS."""
    core = data.core
    order = initial_order(core, {})
    wanted = [rnd.choice([None, rnd.randint(0, 12)]) for _ in range(core.n)]
    start = preferred_sgs(core, order, fresh_availability(core), wanted)
    assert verify_schedule(data, dict(zip(core.keys, start, strict=True))) == []
    assert preferred_sgs(core, order, fresh_availability(core), [None] * core.n) == serial_sgs(core, order)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=7, kinds=False), st.randoms(use_true_random=False))
def test_a_warm_seed_is_never_worse_than_the_schedule_it_came_from(data, rnd):
    """FS networks: the seed decoded from a feasible schedule's order finishes no later than that schedule."""
    core = data.core
    order = initial_order(core, {k: rnd.randint(0, 9) for k in core.keys})
    given_schedule = serial_sgs(core, order)
    ga = GeneticSearch(core, fresh_availability(core))
    seed = ga.seed_orders([initial_order(core, dict(zip(core.keys, given_schedule, strict=True)))])
    assert seed.makespan <= makespan(core, given_schedule)


@pytest.mark.parametrize("objective", ["makespan", "weighted_tardiness", "cost"])
def test_solve_takes_an_initial_schedule_under_every_objective(objective):
    """`initial` is accepted by every objective and the result stays valid."""
    acts = [Activity("a", 3, {"r": 1}, deadline=9), Activity("b", 2, {"r": 1}, deadline=4), Activity("c", 4, {"r": 2})]
    data = ProblemData(acts, [Resource("r", 2, cost_per_unit=1.0)], [Precedence("a", "c")])
    result = solve(data, time_limit=0.5, solver="heuristic", objective=objective, initial={"b": 0, "a": 2, "c": 5})
    assert verify_schedule(data, result.starts, deadlines=objective != "weighted_tardiness") == []


def test_solve_refuses_an_initial_schedule_of_unknown_activities():
    """A warm start naming an activity the problem lacks is a ValueError."""
    data = ProblemData([Activity("a", 1)])
    with pytest.raises(ValueError, match="unknown activity 'zz'"):
        solve(data, time_limit=0.2, initial={"zz": 0})


def test_a_stability_tolerance_trades_a_little_makespan_for_fewer_moves():
    """With 8 h of tolerance the replan finishes within 8 h of the solver's best and moves no more tasks."""
    data, previous, progress, status = slipped_example()
    replan = replan_input(previous, data, progress, status)
    strict = replan_schedule(replan, time_limit=1, seed=3, solver="heuristic")
    loose = replan_schedule(replan, time_limit=1, seed=3, solver="heuristic", stability_tolerance=8)
    assert loose.schedule["makespan_hours"] <= loose.solve.makespan + 8
    assert loose.moved_count <= strict.moved_count
    assert loose.schedule["replan"]["stability_tolerance"] == 8
    if loose.schedule["makespan_hours"] > loose.solve.makespan:
        assert "given up for stability" in loose.schedule["solver"]["note"]
    with pytest.raises(ReplanError) as error:
        replan_schedule(replan, time_limit=1, stability_tolerance=-1)
    assert error.value.field == "stability_tolerance"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_activities=7), st.randoms(use_true_random=False))
def test_pull_back_keeps_the_schedule_valid_and_never_worse(data, rnd):
    """Moving single activities towards their preferred start keeps every constraint and the makespan."""
    core = data.core
    start = serial_sgs(core, initial_order(core, {}))
    wanted = [rnd.choice([None, rnd.randint(0, 12)]) for _ in range(core.n)]

    def rank(s: list[int]) -> tuple:
        return (0, makespan(core, s))

    back = pull_back(core, start, wanted, rank, until=float("inf"))
    assert verify_schedule(data, dict(zip(core.keys, back, strict=True))) == []
    assert makespan(core, back) <= makespan(core, start)
    assert moved_of(core, wanted, back)[1] <= moved_of(core, wanted, start)[1]


@pytest.mark.parametrize("seed", range(1, 6))
def test_undisturbed_first_keeps_the_tasks_the_news_cannot_push(seed):
    """The repair seed is precedence-feasible, decodes to a valid schedule, moves no more tasks than the old order."""
    from planning.replanning.stability import undisturbed_first

    data, previous, progress, status = slipped_example(seed)
    replan = replan_input(previous, data, progress, status)
    core = replan.data.core
    wanted = [replan.preferred.get(key) for key in core.keys]
    es = core.earliest_starts()
    warm = initial_order(core, {k: v for k, v in replan.preferred.items() if k in core.index})
    order = undisturbed_first(core, warm, wanted, es)
    position = {j: p for p, j in enumerate(order)}
    assert sorted(order) == list(range(core.n))
    assert all(position[i] < position[j] for i in range(core.n) for j, _ in core.succ[i])
    start = preferred_sgs(core, order, fresh_availability(core), wanted)
    assert verify_schedule(replan.data, dict(zip(core.keys, start, strict=True))) == []
    plain = preferred_sgs(core, warm, fresh_availability(core), wanted)
    # the slip reaches fewer tasks when the tasks it cannot push take back their slots first
    assert moved_of(core, wanted, start)[0] <= moved_of(core, wanted, plain)[0]
