"""One entry point: heuristic front end, lower bounds, then an exact MILP stage.

1. Lower bounds: critical path, resource energy, then destructive improvement
   (propagation refutes horizons below the bound).
2. Priority rules + regret sampling + GA with justification; stops at the bound.
3. If a gap remains: time-indexed MILP over the propagated windows under
   horizon = best - 1, in a child process killed on time-out. Infeasible means
   the heuristic schedule is optimal. If time remains after an unproven MILP,
   the GA resumes.
The returned schedule is never worse than the heuristic one, and a solver
failure only shows up in the status and message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from . import guards
from .bounds import makespan_lower_bound
from .core import Core
from .ga import GeneticSearch, initial_order
from .milp import make_windows
from .model import ProblemData
from .objective_solve import check_makespan_limit, solve_objective
from .objectives import deadline_overrun
from .propagate import conflicts, destructive_bound, propagate, shave_horizon
from .result import SolveResult, SolveStatus
from .search import search_applies, search_horizon
from .sgs import fresh_availability, makespan
from .solver_process import GRACE_SECONDS, choose_backend, run_milp
from .verify import verify_schedule

SOLVERS = ("auto", "heuristic", "cbc", "highs")
OBJECTIVES = ("makespan", "weighted_tardiness", "cost")

# The GA stops after HEURISTIC_STALL of the limit without improvement (or at
# HEURISTIC_SHARE of the limit) and hands over to the MILP; measured on j30
# subsets, see docs/scheduling.md.
HEURISTIC_SHARE = 0.3
HEURISTIC_STALL = 0.1  # of the time limit
# An unproven MILP gets at most this share of the limit; what is left goes back
# to the GA, because instances the MILP cannot close in that time are the ones
# where the heuristic is most often still above the optimum.
MILP_SHARE = 0.8
# ... unless the gap left after the GA and propagation is wide (>= 6 %): then the
# GA's resumption gets more. Measured on the 56 hardest j30 instances: 0.5 let the
# shaving proofs of such instances run out of time (several need 3.5-4 s), 0.65
# proved 2 more with the same optima found (the GA given 7 s alone does not find
# the optima that the engine misses there).
WIDE_GAP = 0.06
WIDE_GAP_MILP_SHARE = 0.65
# Shaving the windows under best - 1 gets this share of the exact stage's time;
# a refutation proves the heuristic schedule optimal without the MILP, and the
# narrowed windows make the MILP smaller and tighter when it does not.
SHAVE_SHARE = 0.75
# ... and at most this share of the whole limit: on j30 every proof by shaving came
# within 4 s; past that it only keeps the search and the MILP from their turn.
SHAVE_CAP = 0.4
# Then a tree search (schedule or postpone) in the shaved windows gets this share of
# what is left before the MILP: on j30 it found optima under tight windows in
# milliseconds that neither the GA nor the MILP had found.
SEARCH_SHARE = 0.3
PROBE_NODES = 300  # per probe under a tighter horizon (see _search_stage)
# Each destructive-bound call before the exact stage gets at most this share of the limit:
# on j30-j120 it needs milliseconds, on a 2,000-task project each propagation takes most of
# a second and the bound search ate 70 % of the limit that the GA needed more.
BOUND_SHARE = 0.1
MILP_MIN_SECONDS = 0.3  # below this a child process cannot even build the model
MILP_MARGIN = 0.25  # the parent's own bookkeeping after the child returns


class _Run:
    """Mutable state of one solve: best schedule, bound, method, message."""

    def __init__(self, core: Core, t0: float) -> None:
        self.core = core
        self.t0 = t0
        self.best: list[int] = []
        self.best_ms = 0
        self.feasible = False
        self.lower = 0
        self.method = "ga"
        self.message = ""
        self.stats: dict[str, float] = {}

    def offer(self, start: list[int]) -> None:
        ms = makespan(self.core, start)
        ok = deadline_overrun(self.core, start) == 0
        if not self.best or (ok and not self.feasible) or (ok == self.feasible and ms < self.best_ms):
            self.best, self.best_ms, self.feasible = start, ms, ok

    def result(self, status: SolveStatus) -> SolveResult:
        lower = min(self.lower, self.best_ms) if self.feasible else self.lower
        if status is SolveStatus.OPTIMAL:
            lower = self.best_ms
        gap = (self.best_ms - lower) / self.best_ms if self.best_ms else 0.0
        return SolveResult(
            status=status,
            starts=dict(zip(self.core.keys, self.best, strict=True)),
            makespan=self.best_ms,
            lower_bound=lower,
            gap=gap,
            seconds=time.perf_counter() - self.t0,
            method=self.method,
            objective=float(self.best_ms),
            message=self.message,
            stats=self.stats,
            guards=guards.fired(self.core),
        )


def solve(
    data: ProblemData,
    *,
    time_limit: float = 10.0,
    solver: str = "auto",
    seed: int = 0,
    objective: str = "makespan",
    makespan_limit: int | None = None,
    initial: Mapping[str, int] | None = None,
) -> SolveResult:
    """Best schedule found within ``time_limit`` seconds (wall clock) and what is proven about it.

    ``objective`` "weighted_tardiness" and "cost" (with ``makespan_limit``) are solved by
    ``objective_solve.solve_objective``; see docs/scheduling.md. ``initial`` (start per
    activity key, e.g. the previous schedule; keys left out go last) is a warm start: its
    order, decoded like any list, seeds the search (see ``ga.initial_order``).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if not time_limit > 0:
        raise ValueError("time_limit must be > 0")
    check_makespan_limit(objective, makespan_limit)
    if objective != "makespan":
        return solve_objective(
            data, objective=objective, time_limit=time_limit, solver=solver, seed=seed, makespan_limit=makespan_limit,
            initial=initial,
        )
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    core = data.core
    run = _Run(core, t0)
    if core.n == 0:
        run.method = "bound"
        return run.result(SolveStatus.OPTIMAL)

    # deadline overruns dominate the score, so a deadline-feasible schedule always wins
    penalty = core.horizon + 1

    def score(start: list[int]) -> int:
        return makespan(core, start) + penalty * deadline_overrun(core, start)

    ga = GeneticSearch(core, fresh_availability(core), seed=seed, score=score)
    if initial is not None:
        run.offer(ga.seed_orders([initial_order(core, initial)]).start)
    run.lower = makespan_lower_bound(core)
    run.offer(ga.seed_rules(run.lower, deadline).start)
    if run.feasible and run.best_ms > run.lower:
        # propagation often lifts the bound to the optimum; the GA can then stop there
        run.lower, _ = destructive_bound(core, run.lower, run.best_ms, _share(t0, time_limit, deadline))

    def heuristic(seconds: float, stall: float | None, fresh: bool = False) -> None:
        if seconds > 0 and not (run.feasible and run.best_ms <= run.lower):
            run.offer(ga.run(seconds, run.lower, stall, fresh=fresh).start)
        run.stats.update({"schedules": float(ga.schedules), "generations": float(ga.generations)})

    exact = solver != "heuristic"
    heuristic(
        deadline - time.perf_counter() if not exact else time_limit * HEURISTIC_SHARE,
        HEURISTIC_STALL * time_limit if exact else None,
    )
    if run.feasible and run.best_ms <= run.lower:
        return run.result(SolveStatus.OPTIMAL)
    if not exact:
        if not run.feasible:
            run.message = "no schedule meeting every deadline was found"
            return run.result(SolveStatus.INFEASIBLE)
        return run.result(SolveStatus.FEASIBLE)
    share = MILP_SHARE
    if run.feasible:
        bound_until = _share(time.perf_counter(), time_limit, deadline)
        run.lower, _ = destructive_bound(core, run.lower, run.best_ms, bound_until)
        if run.best_ms <= run.lower:
            return run.result(SolveStatus.OPTIMAL)
        if (run.best_ms - run.lower) / run.best_ms >= WIDE_GAP:
            share = WIDE_GAP_MILP_SHARE
    milp_until = min(deadline, time.perf_counter() + share * time_limit)
    outcome = _exact_stage(data, run, solver, seed, milp_until, deadline)
    if isinstance(outcome, SolveResult):
        return outcome
    # the MILP ran out of its share (or failed): the GA, restarted, gets the rest of the limit
    heuristic(deadline - time.perf_counter() - MILP_MARGIN, None, fresh=True)
    if run.feasible and run.best_ms <= run.lower:
        return run.result(SolveStatus.OPTIMAL)
    if not run.feasible:
        return run.result(SolveStatus.INFEASIBLE)
    return run.result(outcome)


def _share(now: float, time_limit: float, deadline: float) -> float:
    return min(deadline, now + BOUND_SHARE * time_limit)


def _search_stage(data: ProblemData, run: _Run, horizon: int, windows, until: float) -> str:
    """Tree search under ``horizon`` in the shaved windows, for a short share of the exact stage.

    Returns the verdict: "infeasible" proves the best schedule optimal, "feasible"
    means a shorter schedule was found (and offered), "unknown" leaves it to the MILP.
    Half of the time goes to ``horizon`` (best - 1) itself; the other half to short
    probes under tighter horizons (best - 2, best - 3, ...): their narrower windows
    often lead the search straight to a schedule that the looser horizon's search
    misses (j309_2: 92 in 35 nodes under 92, nothing in 900 under 93). A probe that
    is refuted raises the lower bound.
    """
    core = data.core
    if not search_applies(core):
        return "unknown"
    t_search = time.perf_counter()
    pairs, cliques = conflicts(core)
    stop = min(until, t_search + SEARCH_SHARE * (until - t_search))
    verdict = "unknown"
    outcome = search_horizon(core, horizon, windows, pairs, cliques, deadline=(t_search + stop) / 2)
    nodes = outcome.nodes
    if outcome.verdict == "infeasible":
        verdict = "infeasible"
    elif outcome.verdict == "feasible":
        verdict = _offer_found(data, run, outcome.starts, horizon)
    else:
        for probe_h in range(horizon - 1, run.lower - 1, -1):
            if time.perf_counter() > stop:
                break
            root = propagate(core, probe_h, pairs, cliques, windows=(windows.es, windows.ls), extra_arcs=windows.arcs)
            probe = None if root is None else search_horizon(
                core, probe_h, root, pairs, cliques, deadline=stop, max_nodes=PROBE_NODES
            )  # fmt: skip
            nodes += probe.nodes if probe else 0
            if probe is None or probe.verdict == "infeasible":
                run.lower = max(run.lower, probe_h + 1)  # and every shorter horizon is refuted too
                break
            if probe.verdict == "feasible":
                verdict = _offer_found(data, run, probe.starts, probe_h)
                break
    run.stats["search_seconds"] = run.stats.get("search_seconds", 0.0) + time.perf_counter() - t_search
    run.stats["search_nodes"] = run.stats.get("search_nodes", 0.0) + nodes
    return verdict


def _offer_found(data: ProblemData, run: _Run, starts: list[int], horizon: int) -> str:
    """A schedule from the search: "feasible" once it passed the independent check and was offered."""
    if verify_schedule(data, dict(zip(data.core.keys, starts, strict=True))):
        return "unknown"  # never trust a schedule that fails the independent check
    run.offer(starts)
    return "feasible" if run.best_ms <= horizon else "unknown"


def _exact_stage(
    data: ProblemData, run: _Run, solver: str, seed: int, milp_until: float, deadline: float
) -> SolveResult | SolveStatus:
    """Prove or improve with the MILP; without a verdict, the status the result will carry."""
    core = data.core
    backend, note = choose_backend(solver)
    run.message = note or run.message
    run.method = f"ga+{backend}"
    while True:
        horizon = run.best_ms - 1 if run.feasible else core.horizon
        propagated = None
        if run.feasible:
            run.lower, propagated = destructive_bound(core, run.lower, run.best_ms, milp_until)
            if run.lower >= run.best_ms:
                return run.result(SolveStatus.OPTIMAL)
            if propagated is not None:
                t_shave = time.perf_counter()
                shave_for = min(SHAVE_SHARE * (milp_until - time.perf_counter()), SHAVE_CAP * (deadline - run.t0))
                shave_until = min(milp_until, time.perf_counter() + shave_for)
                propagated = shave_horizon(core, horizon, propagated, deadline=shave_until)
                run.stats["shaving_seconds"] = run.stats.get("shaving_seconds", 0.0) + time.perf_counter() - t_shave
                if propagated is None:
                    run.lower = run.best_ms
                    return run.result(SolveStatus.OPTIMAL)
                found = _search_stage(data, run, horizon, propagated, milp_until)
                if found == "infeasible":
                    run.lower = run.best_ms
                    return run.result(SolveStatus.OPTIMAL)
                if found == "feasible":
                    continue  # a shorter schedule: try to beat that one in turn
        windows = make_windows(core, horizon, run.lower, propagated)
        if windows.empty():
            if run.feasible:
                return run.result(SolveStatus.OPTIMAL)
            run.message = "deadlines cannot be met"
            return run.result(SolveStatus.INFEASIBLE)
        columns = sum(max(0, s - e + 1) for e, s in zip(windows.es, windows.ls, strict=True))
        if columns > guards.MILP_MAX_COLUMNS:
            guards.note(core, f"time-indexed MILP left out ({columns:,} start-time variables)")
            return SolveStatus.FEASIBLE
        remaining = min(milp_until, deadline - MILP_MARGIN) - time.perf_counter() - GRACE_SECONDS
        if remaining < MILP_MIN_SECONDS:
            run.message = "time limit reached before the exact stage could finish"
            return SolveStatus.TIMED_OUT
        milp = run_milp(core, windows, backend=backend, time_limit=remaining, seed=seed)
        run.stats.update(
            {"milp_seconds": milp.seconds, "milp_rows": float(milp.rows), "milp_columns": float(milp.columns)}
        )
        if milp.bound is not None and milp.status in ("timeout", "killed") and run.feasible:
            # no schedule below the current best was found, so the bound holds for it;
            # a bound above the model's horizon would be a proof, which only an explicit
            # infeasibility status may give (CBC can print odd bounds when stopped early)
            run.lower = max(run.lower, min(math.ceil(milp.bound - 1e-6), windows.horizon))
        if milp.starts is not None:
            # trust no solver blindly: a schedule that fails the independent check is dropped
            problems = verify_schedule(data, dict(zip(core.keys, milp.starts, strict=True)))
            if problems:
                run.message = f"MILP returned an invalid schedule ({problems[0]}); kept the heuristic one"
                return SolveStatus.FEASIBLE
            run.offer(milp.starts)
        if milp.status == "infeasible":
            if run.feasible:
                return run.result(SolveStatus.OPTIMAL)
            run.message = "no schedule meets every deadline"
            return run.result(SolveStatus.INFEASIBLE)
        if milp.status == "optimal":
            return run.result(SolveStatus.OPTIMAL)
        if milp.status == "feasible":
            if milp.bound is not None:
                run.lower = max(run.lower, min(math.ceil(milp.bound - 1e-6), run.best_ms))
            if run.lower >= run.best_ms:
                return run.result(SolveStatus.OPTIMAL)
            continue  # a better schedule with time left: try to beat it in turn
        if milp.status in ("timeout", "killed"):
            run.message = f"MILP stopped by the time limit ({milp.detail})"
            return SolveStatus.TIMED_OUT
        run.message = f"MILP failed: {milp.detail}"
        return SolveStatus.FEASIBLE
