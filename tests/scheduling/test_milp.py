"""The MILP stage: formulation, both backends, and the hard wall-clock bound."""

from __future__ import annotations

import random
import sys
import time

import pytest

import scheduling.solver_process as solver_process
from scheduling import Activity, Precedence, ProblemData, Resource, SolveStatus, solve, verify_schedule
from scheduling.milp import TimeIndexedModel, make_windows
from scheduling.psplib import parse_psplib
from scheduling.sgs import makespan

from .conftest import DATA


def _tiny():
    return parse_psplib(DATA / "tiny_two_resources.sm")  # optimum 8


def test_model_infeasible_below_optimum(backend):
    """Asking for makespan <= 7 on an instance with optimum 8 is proven infeasible."""
    core = _tiny().core
    out = solver_process.run_milp(core, make_windows(core, 7, 0), backend=backend, time_limit=10)
    assert out.status == "infeasible"


def test_model_finds_optimum(backend):
    """With room up to 12 the MILP returns a valid schedule of makespan 8 and proves it."""
    data = _tiny()
    core = data.core
    out = solver_process.run_milp(core, make_windows(core, 12, 0), backend=backend, time_limit=10)
    assert out.status == "optimal"
    assert makespan(core, out.starts) == 8
    assert verify_schedule(data, dict(zip(core.keys, out.starts, strict=True))) == []


def test_variables_only_inside_windows():
    """Each activity gets exactly one variable per start time in its window."""
    core = _tiny().core
    win = make_windows(core, 9, 0)
    model = TimeIndexedModel(core, win)
    for j in range(core.n):
        assert sorted(model.x[j]) == list(range(win.es[j], win.ls[j] + 1))


def _hard_instance(seed: int = 0, n: int = 30) -> ProblemData:
    """A random 30-activity project with 4 busy resources; its bounds stay well below the best schedule."""
    rng = random.Random(seed)
    acts = [
        Activity(f"a{i}", rng.randint(1, 10), {f"R{k}": rng.randint(1, 6) for k in range(4) if rng.random() < 0.9})
        for i in range(n)
    ]
    precs = []
    for j in range(3, n):
        for i in rng.sample(range(j), 2):
            if rng.random() < 0.5:
                precs.append(Precedence(f"a{i}", f"a{j}"))
    return ProblemData(acts, [Resource(f"R{k}", 10) for k in range(4)], precs)


def test_hung_solver_is_killed(monkeypatch):
    """A solver process that ignores its limit is killed shortly after it; the caller gets 'killed'."""
    monkeypatch.setattr(solver_process, "WORKER_COMMAND", [sys.executable, "-c", "import time; time.sleep(60)"])
    core = _tiny().core
    t0 = time.perf_counter()
    out = solver_process.run_milp(core, make_windows(core, 7, 0), backend="cbc", time_limit=0.5)
    assert out.status == "killed"
    assert time.perf_counter() - t0 < 10  # far below the 60 s the process wanted


def test_solve_returns_heuristic_schedule_when_solver_hangs(monkeypatch):
    """With a hanging solver, solve still returns within its limit (plus slack) with the heuristic schedule."""
    monkeypatch.setattr(solver_process, "WORKER_COMMAND", [sys.executable, "-c", "import time; time.sleep(60)"])
    data = _hard_instance()
    t0 = time.perf_counter()
    res = solve(data, time_limit=2.0, solver="cbc")
    assert time.perf_counter() - t0 < 2.0 + 5.0
    assert res.status in (SolveStatus.TIMED_OUT, SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert verify_schedule(data, res.starts) == []
    if res.status is not SolveStatus.OPTIMAL:
        assert res.method == "ga+cbc" and res.lower_bound < res.makespan


@pytest.fixture
def milp_without_shaving(monkeypatch):
    """The MILP fault tests need the MILP to run: shaving would otherwise take its time on short limits."""
    monkeypatch.setattr(sys.modules["scheduling.solve"], "SHAVE_SHARE", 0.0)


@pytest.mark.usefixtures("milp_without_shaving")
def test_solver_crash_never_reaches_the_user(monkeypatch):
    """A solver process that dies gives a FEASIBLE heuristic schedule and a message, not an exception."""
    monkeypatch.setattr(solver_process, "WORKER_COMMAND", [sys.executable, "-c", "raise SystemExit(3)"])
    data = _hard_instance()
    res = solve(data, time_limit=2.0, solver="highs")
    assert verify_schedule(data, res.starts) == []
    if res.status is not SolveStatus.OPTIMAL:
        assert res.status is SolveStatus.FEASIBLE
        assert "MILP failed" in res.message


@pytest.mark.parametrize("limit", [0.5, 1.5])
def test_tiny_limit_on_hard_instance(limit, backend):
    """A tiny limit on a hard instance returns the best valid schedule found, unproven, within a bound."""
    data = _hard_instance()
    t0 = time.perf_counter()
    res = solve(data, time_limit=limit, solver=backend)
    assert time.perf_counter() - t0 < limit + 5.0
    assert verify_schedule(data, res.starts) == []
    assert res.status in (SolveStatus.TIMED_OUT, SolveStatus.FEASIBLE)
    assert res.lower_bound < res.makespan and res.gap > 0


def _solve_module():
    return sys.modules["scheduling.solve"]


@pytest.mark.usefixtures("milp_without_shaving")
def test_absurd_solver_bound_is_not_a_proof(monkeypatch):
    """A time-out reporting a bound above the model's horizon does not make the schedule 'optimal'."""
    fake = solver_process.MilpOutcome("timeout", None, 1e9, 0.1, "stopped")
    monkeypatch.setattr(_solve_module(), "run_milp", lambda *a, **k: fake)
    data = _hard_instance()
    res = solve(data, time_limit=3.0, solver="cbc")
    # The heuristic sometimes meets its own lower bound first (an honest proof, timing-dependent);
    # what must never happen is the solver's absurd bound being reported or taken as a proof.
    assert res.lower_bound <= res.makespan < 1e9
    if res.status is SolveStatus.OPTIMAL:
        assert res.lower_bound == res.makespan and res.gap == 0
    else:
        assert res.status is SolveStatus.TIMED_OUT


@pytest.mark.usefixtures("milp_without_shaving")
def test_invalid_solver_schedule_is_rejected(monkeypatch):
    """A 'feasible' answer whose schedule breaks constraints is dropped; the heuristic schedule stays."""
    data = _hard_instance()
    fake = solver_process.MilpOutcome("feasible", [0] * data.core.n, 0.0, 0.1, "stopped")
    monkeypatch.setattr(_solve_module(), "run_milp", lambda *a, **k: fake)
    res = solve(data, time_limit=3.0, solver="highs")
    assert verify_schedule(data, res.starts) == []
    if res.status is SolveStatus.OPTIMAL:  # the heuristic proved it before the MILP ran (timing-dependent)
        assert res.lower_bound == res.makespan
    else:
        assert res.status is SolveStatus.FEASIBLE and "invalid schedule" in res.message
