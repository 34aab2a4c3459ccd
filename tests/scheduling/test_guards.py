"""Size guards: past each budget the scheduler takes a cheaper, still sound method and says so."""

from __future__ import annotations

import random

import pytest

from scheduling import Activity, Precedence, ProblemData, Resource, guards, solve, verify_schedule
from scheduling.propagate import incompatible_pairs


def _layered(n: int, seed: int, capacity: int = 3) -> ProblemData:
    """Tasks in layers with 1-2 predecessors each from the layer before, all on one small pool."""
    rnd = random.Random(seed)
    acts, precs = [], []
    for i in range(n):
        acts.append(Activity(f"t{i}", rnd.randint(1, 9), {"crew": rnd.randint(1, capacity)}))
        layer = i // 5
        if layer:
            earlier = range(5 * (layer - 1), 5 * layer)
            for p in rnd.sample(earlier, k=rnd.randint(1, 2)):
                precs.append(Precedence(f"t{p}", f"t{i}"))
    return ProblemData(acts, [Resource("crew", capacity)], precs)


@pytest.fixture
def zero_budgets(monkeypatch):
    for name in ("ENERGETIC_MAX_CELLS", "TIME_TABLE_MAX_CELLS", "CLIQUE_MAX_CELLS", "MILP_MAX_COLUMNS"):
        monkeypatch.setattr(guards, name, 0)


def test_every_guard_fired_still_gives_a_valid_schedule_and_names_them(zero_budgets, monkeypatch):
    """With every budget at zero the solve returns a verified schedule and lists each guard that fired."""
    monkeypatch.setattr(guards, "MAX_PAIRS", 0)
    data = _layered(40, seed=3)
    result = solve(data, time_limit=2.0, seed=1)
    assert result.starts and verify_schedule(data, result.starts) == []
    assert result.makespan >= result.lower_bound
    fired = " | ".join(result.guards)
    assert "pairs of tasks that can never overlap" in fired
    assert "time-tabling left out" in fired


def test_trimmed_cliques_and_no_energetic_reasoning_still_prove_nothing_false(zero_budgets):
    """Guards only weaken inference: the bound never passes the makespan of the schedule returned."""
    for seed in range(5):
        data = _layered(25, seed=seed)
        result = solve(data, time_limit=1.0, seed=seed)
        assert verify_schedule(data, result.starts) == []
        assert result.lower_bound <= result.makespan
        assert any("energetic reasoning" in g or "time-tabling" in g for g in result.guards)


def test_no_guard_fires_on_a_small_project():
    """A 40-task project is far inside every budget: the exact machinery runs whole and nothing is reported."""
    data = _layered(40, seed=5)
    result = solve(data, time_limit=2.0, seed=1)
    assert result.guards == []


def test_pair_count_guard_counts_before_building(monkeypatch):
    """Over the pair budget no pair list is built; at the budget the pairs are those of the plain definition."""
    data = _layered(60, seed=7, capacity=2)
    core = data.core
    peak = max(core.capacity[0])
    expected = [(i, j) for i in range(core.n) for j in range(i + 1, core.n)
                if core.dur[i] and core.dur[j] and core.demand[i][0] + core.demand[j][0] > peak]
    assert incompatible_pairs(core) == expected
    monkeypatch.setattr(guards, "MAX_PAIRS", len(expected) - 1)
    fresh = _layered(60, seed=7, capacity=2).core
    assert incompatible_pairs(fresh) == []
    assert any("pairs" in g for g in guards.fired(fresh))
