"""Monte Carlo schedule risk: sampling, propagation, resource order, statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.errors import PlanningError
from planning.risk import ScheduleSnapshot, simulate_schedule
from planning.risk.monte_carlo import derive_seed, resource_order_edges
from planning.risk.sampling import draw_keys, quantile_rows, sample
from tests.planning.test_risk_support import network, schedule, task

CHAIN = [(4, 8, 20), (10, 12, 14), (2, 3, 10), (20, 30, 60), (5, 5, 9), (1, 2, 3), (6, 10, 11), (8, 9, 30)]


def _chain():
    tasks = [task(f"c{i}", a, m, b, deps=(f"c{i - 1}",) if i else ()) for i, (a, m, b) in enumerate(CHAIN)]
    return network(*tasks)


def _beta_variance(a: float, m: float, b: float) -> float:
    if b == a:
        return 0.0
    alpha = 1 + 4 * (m - a) / (b - a)
    beta = 6 - alpha
    return alpha * beta / (36 * 7) * (b - a) ** 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chain_mean_matches_sum_of_pert_means(seed):
    """On a chain the simulated mean equals the sum of PERT means within four standard errors."""
    net = _chain()
    iterations = 20000
    result = simulate_schedule(net, schedule(net), iterations=iterations, seed=seed)
    expected = sum(t.estimate.pert_mean for t in net.tasks)
    standard_error = (sum(_beta_variance(*abc) for abc in CHAIN) / iterations) ** 0.5
    assert abs(result.mean - expected) < 4 * standard_error
    assert result.deterministic_finish == pytest.approx(expected)


def test_chain_spread_matches_beta_pert_variance():
    """On a chain the simulated variance equals the sum of the beta-PERT variances within 5 %."""
    net = _chain()
    result = simulate_schedule(net, schedule(net), iterations=20000, seed=4)
    assert result.std**2 == pytest.approx(sum(_beta_variance(*abc) for abc in CHAIN), rel=0.05)


def test_parallel_branches_push_p50_past_the_deterministic_finish():
    """With four equal parallel branches the P50 finish exceeds the deterministic finish (merge bias)."""
    tasks = []
    for branch in range(4):
        tasks.append(task(f"b{branch}a", 6, 10, 16))
        tasks.append(task(f"b{branch}b", 6, 10, 16, deps=(f"b{branch}a",)))
    net = network(*tasks)
    snapshot = schedule(net)
    result = simulate_schedule(net, snapshot, iterations=4000, seed=5)
    assert result.deterministic_finish == pytest.approx(2 * 62 / 6)  # 20.67: PERT means
    assert result.p50 > result.deterministic_finish + 2.0  # about one branch standard deviation later
    assert result.p50 > snapshot.makespan  # also past the schedule's whole-hour finish (22)


def test_same_seed_gives_identical_results():
    """Two runs with the same seed give identical reports."""
    net = _chain()
    snapshot = schedule(net, deadline=120)
    first = simulate_schedule(net, snapshot, iterations=500, seed=42).to_dict()
    second = simulate_schedule(net, snapshot, iterations=500, seed=42).to_dict()
    assert first == second


def test_different_seeds_give_different_samples():
    """Another seed gives another sample."""
    net = _chain()
    snapshot = schedule(net)
    assert simulate_schedule(net, snapshot, 500, seed=1).mean != simulate_schedule(net, snapshot, 500, seed=2).mean


def test_seed_derives_from_the_plan():
    """Without a seed the plan's content picks one: same plan same numbers, changed estimate new seed."""
    net = _chain()
    snapshot = schedule(net)
    first = simulate_schedule(net, snapshot, 500)
    assert first.seed == derive_seed(net.tasks)
    assert simulate_schedule(net, snapshot, 500).to_dict() == first.to_dict()
    changed = network(*[task(t.id, 4, 8, 21) if t.id == "c0" else t for t in net.tasks])
    assert derive_seed(changed.tasks) != first.seed


def test_saturated_resource_keeps_schedule_order():
    """Two independent tasks on a one-person resource run one after the other in every iteration."""
    net = network(task("a", 5, 10, 20, resources={"dev": 1}), task("b", 5, 10, 20, resources={"dev": 1}))
    snapshot = schedule(net, {"dev": 1})
    edges, warnings = resource_order_edges(net.tasks, snapshot)
    assert edges == [("a", "b", "dev")] and warnings == []
    result = simulate_schedule(net, snapshot, iterations=4000, seed=3)
    both = 2 * net.tasks[0].estimate.pert_mean
    assert result.mean == pytest.approx(both, rel=0.02)
    assert result.criticality == {"a": 1.0, "b": 1.0}


def test_unsaturated_resource_adds_no_order():
    """With capacity for both, the tasks stay parallel and the finish is the later of the two."""
    net = network(task("a", 5, 10, 20, resources={"dev": 1}), task("b", 5, 10, 20, resources={"dev": 1}))
    snapshot = schedule(net, {"dev": 2})
    assert resource_order_edges(net.tasks, snapshot) == ([], [])
    result = simulate_schedule(net, snapshot, iterations=4000, seed=3)
    assert result.mean < 1.5 * net.tasks[0].estimate.pert_mean


def test_chaining_takes_the_unit_freed_first_and_skips_existing_links():
    """A task takes the unit of the task that freed it (not a busy one); a predecessor adds no edge."""
    net = network(
        task("a", 10, 10, 10, resources={"crew": 1}),
        task("b", 20, 20, 20, resources={"crew": 1}),
        task("c", 10, 10, 10, resources={"crew": 1}),
        task("d", 10, 10, 10, resources={"crew": 1}, deps=("c",)),
    )
    snapshot = ScheduleSnapshot(starts={"a": 0, "b": 0, "c": 10, "d": 20},
                                finishes={"a": 10, "b": 20, "c": 20, "d": 30},
                                total_float={}, critical_path=[], makespan=30, capacities={"crew": 2})
    edges, _ = resource_order_edges(net.tasks, snapshot)
    assert edges == [("a", "c", "crew")]  # d takes c's unit, and c already precedes it


def test_overbooked_schedule_is_reported():
    """A snapshot that puts two tasks on one person at once gets a warning and still orders them."""
    net = network(task("a", resources={"dev": 1}), task("b", resources={"dev": 1}))
    snapshot = ScheduleSnapshot(starts={"a": 0, "b": 0}, finishes={"a": 10, "b": 10}, total_float={},
                                critical_path=[], makespan=10, capacities={"dev": 1})
    edges, warnings = resource_order_edges(net.tasks, snapshot)
    assert edges == [("a", "b", "dev")]
    assert "over-books dev" in warnings[0]


@pytest.mark.parametrize(("kind", "lag", "finish"), [("FS", 4, 19.0), ("SS", 2, 10.0), ("FF", 3, 13.0)])
def test_link_kinds_and_lags(kind, lag, finish):
    """FS, SS and FF links with lags move the successor as the scheduler would (fixed durations)."""
    net = network(task("a", 10, 10, 10), task("b", 5, 5, 5, deps=(("a", kind, lag),)))
    snapshot = ScheduleSnapshot(starts={"a": 0, "b": 0}, finishes={"a": 10, "b": 5}, total_float={},
                                critical_path=[], makespan=int(finish), capacities={})
    result = simulate_schedule(net, snapshot, iterations=100, seed=1)
    assert result.p50 == pytest.approx(finish) and result.p95 == pytest.approx(finish)


def test_criticality_of_a_dominant_branch():
    """A branch that is always longer is critical in every iteration; the short one never."""
    net = network(task("long", 90, 100, 110), task("short", 5, 10, 15), task("end", 1, 1, 1, deps=("long", "short")))
    result = simulate_schedule(net, schedule(net), iterations=1000, seed=2)
    assert result.criticality == {"long": 1.0, "short": 0.0, "end": 1.0}


def test_criticality_splits_between_equal_branches():
    """Two equal parallel branches are each critical in about half of the iterations."""
    net = network(task("x", 5, 10, 20), task("y", 5, 10, 20))
    result = simulate_schedule(net, schedule(net), iterations=4000, seed=2)
    assert result.criticality["x"] == pytest.approx(0.5, abs=0.05)
    assert result.criticality["x"] + result.criticality["y"] == pytest.approx(1.0)


def test_sensitivity_ranks_the_uncertain_task_first():
    """The task with the widest range correlates most with the finish and heads the tornado; a fixed one is 0."""
    net = network(task("wide", 5, 20, 80), task("narrow", 19, 20, 21, deps=("wide",)),
                  task("fixed", 7, 7, 7, deps=("narrow",)))
    result = simulate_schedule(net, schedule(net), iterations=2000, seed=9)
    assert result.sensitivity["wide"] > 0.95
    assert 0 < result.sensitivity["narrow"] < 0.3
    assert result.sensitivity["fixed"] == 0.0
    top = result.tornado[0]
    assert top["task"] == "wide" and top["finish_if_long"] > top["finish_if_short"]
    assert [entry["task"] for entry in result.tornado] == ["wide", "narrow"]


def test_deadline_probability():
    """The chance of meeting the deadline is the share of iterations finishing by it; None without one."""
    net = _chain()
    assert simulate_schedule(net, schedule(net), 500, seed=1).deadline_probability is None
    generous = simulate_schedule(net, schedule(net, deadline=1000), 500, seed=1)
    assert generous.deadline_probability == 1.0
    at_median = simulate_schedule(net, schedule(net, deadline=int(generous.p50)), 2000, seed=1)
    assert 0.35 < at_median.deadline_probability < 0.6


def test_percentiles_are_ordered():
    """P50 <= P80 <= P95."""
    net = _chain()
    result = simulate_schedule(net, schedule(net), 2000, seed=11)
    assert result.p50 <= result.p80 <= result.p95


@pytest.mark.parametrize("mode", [0.0, 0.13, 0.5, 0.77, 1.0])
def test_beta_pert_sampling_matches_closed_form_moments(mode):
    """Inverse-CDF beta-PERT draws have the closed-form mean and variance (on and off the alpha grid)."""
    a, b = 10.0, 30.0
    m = a + mode * (b - a)
    rng = np.random.default_rng(0)
    keys = draw_keys(rng, 1, 200_000)
    rows, steps = quantile_rows(np.array([a]), np.array([m]), np.array([b]), "beta_pert")
    draws = sample(rows, steps, keys, out=np.empty(keys.shape))[0]
    assert draws.min() >= a and draws.max() <= b
    assert draws.mean() == pytest.approx((a + 4 * m + b) / 6, abs=0.02)
    assert draws.var() == pytest.approx(_beta_variance(a, m, b), rel=0.02)


def test_triangular_option():
    """The triangular option samples the triangular distribution: mean (a + m + b) / 3."""
    net = network(task("t", 2, 5, 20))
    result = simulate_schedule(net, schedule(net), iterations=20000, seed=1, distribution="triangular")
    assert result.distribution == "triangular"
    assert result.mean == pytest.approx(27 / 3, abs=0.1)


def test_bad_arguments_are_refused():
    """Unknown distribution, too few iterations, a bad seed, unscheduled tasks: PlanningError naming the field."""
    net = _chain()
    snapshot = schedule(net)
    with pytest.raises(PlanningError) as error:
        simulate_schedule(net, snapshot, distribution="normal")
    assert error.value.field == "distribution"
    with pytest.raises(PlanningError) as error:
        simulate_schedule(net, snapshot, iterations=5)
    assert error.value.field == "iterations"
    with pytest.raises(PlanningError) as error:
        simulate_schedule(net, snapshot, seed=-1)
    assert error.value.field == "seed"
    partial = ScheduleSnapshot(starts={"c0": 0}, finishes={"c0": 10}, total_float={}, critical_path=[], makespan=10)
    with pytest.raises(PlanningError) as error:
        simulate_schedule(net, partial)
    assert error.value.field == "snapshot.starts"


def test_report_round_trips_through_a_dict():
    """ScheduleRisk.to_dict / from_dict keep every reported figure."""
    from planning.risk import ScheduleRisk

    net = _chain()
    data = simulate_schedule(net, schedule(net, deadline=100), 300, seed=1).to_dict()
    assert ScheduleRisk.from_dict(data).to_dict() == data
    assert set(data) >= {"p50", "p80", "p95", "deadline_probability", "mean", "iterations", "seed", "distribution",
                         "criticality", "sensitivity", "tornado"}


@st.composite
def _scheduled_networks(draw):
    """Small random networks on two pools, scheduled by the serial scheduler."""
    count = draw(st.integers(2, 8))
    capacities = {"p": draw(st.integers(1, 3)), "q": draw(st.integers(1, 2))}
    tasks = []
    for i in range(count):
        deps = tuple(sorted(draw(st.sets(st.sampled_from([f"t{j}" for j in range(i)]), max_size=2)))) if i else ()
        needs = {r: draw(st.integers(1, capacities[r])) for r in draw(st.sets(st.sampled_from(["p", "q"]), max_size=2))}
        a = draw(st.integers(1, 10))
        tasks.append(task(f"t{i}", a, a + draw(st.integers(0, 5)), a + draw(st.integers(5, 20)), deps=deps,
                          resources=needs))
    net = network(*tasks)
    return net, schedule(net, capacities)


@settings(max_examples=60, deadline=None)
@given(_scheduled_networks(), st.integers(0, 2**32 - 1))
def test_resource_order_never_overbooks(plan, seed):
    """Whatever the sampled durations, tasks on a pool never need more than its capacity at once."""
    from planning.risk.monte_carlo import _Network

    net, snapshot = plan
    edges, warnings = resource_order_edges(net.tasks, snapshot)
    assert warnings == []
    durations = np.random.default_rng(seed).uniform(0.5, 30.0, size=(len(net.tasks), 20))
    starts, finishes = _Network.build(net.tasks, edges).forward(durations)
    for iteration in range(durations.shape[1]):
        for resource, capacity in snapshot.capacities.items():
            events = sorted((time, sign * t.resources[resource])
                            for k, t in enumerate(net.tasks) if resource in t.resources
                            for time, sign in ((finishes[k, iteration], -1), (starts[k, iteration], 1)))
            load = 0
            for _, change in events:  # at equal times a finish (negative) comes before a start
                load += change
                assert load <= capacity


def test_large_plans_run_in_double_precision():
    """Past FLOAT32_MAX_TASKS the simulation switches to float64 and still sums a chain right."""
    from planning.risk.monte_carlo import FLOAT32_MAX_TASKS

    count = FLOAT32_MAX_TASKS + 50
    net = network(*[task(f"t{i}", 4, 8, 20, deps=(f"t{i - 1}",) if i else ()) for i in range(count)])
    result = simulate_schedule(net, schedule(net), iterations=400, seed=1)
    expected = count * net.tasks[0].estimate.pert_mean
    standard_error = (count * _beta_variance(4, 8, 20) / 400) ** 0.5
    assert abs(result.mean - expected) < 4 * standard_error
    assert min(result.criticality.values()) == 1.0
