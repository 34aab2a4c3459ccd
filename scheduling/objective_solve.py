"""solve() for the objectives other than makespan: "weighted_tardiness" and "cost".

Same shape as the makespan engine (``solve.py``): a heuristic front end (the
activity-list GA of ``ga.py`` ranking schedules by the objective), a cheap lower
bound, then, while a gap remains, the time-indexed MILP of ``milp.py`` with that
objective, in a child process killed on time-out (``solver_process.run_milp``).

- ``weighted_tardiness``: minimise sum_j weight_j * max(0, finish_j - due_j), due_j
  being the activity's ``deadline``, which is a soft due date here. Release dates,
  precedences, capacities and fixed starts stay hard (so does finishing before a fixed
  successor starts). Among schedules of equal tardiness the shorter makespan is kept
  (a preference, not part of the proof).
- ``cost`` (resource availability cost problem): minimise sum_k cost_per_unit_k * peak_k,
  peak_k the highest usage of resource k, with every hard constraint (deadlines too) and
  the project finishing by ``makespan_limit`` (default: the makespan of the best schedule
  a short makespan search finds, so saving cost never delays the project).

The returned schedule is never worse than the heuristic one, every schedule is
checked with ``verify_schedule``, and a solver failure only shows in the status and
message. OPTIMAL is reported only when the objective equals a proven bound or the
solver proved it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import replace

from . import guards
from .bounds import makespan_lower_bound
from .core import Core
from .ga import GeneticSearch, initial_order
from .milp import Windows, make_windows
from .model import ProblemData
from .objectives import (
    availability_cost,
    availability_cost_lower_bound,
    deadline_overrun,
    peak_lower_bounds,
    resource_peaks,
    weighted_tardiness,
    weighted_tardiness_lower_bound,
)
from .result import SolveResult, SolveStatus
from .rules import rule_values, topo_positions
from .sgs import fresh_availability, justify, makespan, order_by_start, serial_sgs
from .solver_process import GRACE_SECONDS, choose_backend, run_milp
from .verify import verify_schedule

WEIGHTED_TARDINESS = "weighted_tardiness"
COST = "cost"

HEURISTIC_SHARE = 0.3  # of the limit, before the MILP (cost: the makespan search included)
HEURISTIC_STALL = 0.1  # of the limit without improvement ends the GA early
LIMIT_SHARE = 0.1  # cost: the quick makespan search that sets the default makespan_limit
# The MILP gets at most this share of the limit; what is left goes back to the
# heuristic: the time-indexed models of these objectives span wide windows, and on
# instances the MILP cannot close in that time the heuristic often still improves.
MILP_SHARE = 0.5
MILP_MIN_SECONDS = 0.3  # below this a child process cannot even build the model
MILP_MARGIN = 0.25  # the parent's own bookkeeping after the child returns
TOLERANCE = 1e-6  # objective values are sums of floats
# A model of more estimated non-zeros than this per second of MILP time is not even
# built: 30 activities with tight due dates and wide windows give an estimate of
# 0.45 million (0.33 million real), which HiGHS alone presolves in about 4 s.
NONZEROS_PER_SECOND = 200_000


def check_makespan_limit(objective: str, makespan_limit: int | None) -> None:
    """Argument check for ``solve``: a positive integer, and only with the "cost" objective."""
    if makespan_limit is None:
        return
    if not isinstance(makespan_limit, int) or isinstance(makespan_limit, bool) or makespan_limit < 1:
        raise ValueError(f"makespan_limit must be a positive integer, got {makespan_limit!r}")
    if objective != COST:
        raise ValueError(f"makespan_limit only applies to objective='cost', not {objective!r}")


def _integral(values) -> bool:
    return all(float(v).is_integer() for v in values)


class _Run:
    """Best schedule so far, ranked by (hard violation, objective, makespan), and the bound."""

    def __init__(self, data: ProblemData, core: Core, objective: str, t0: float) -> None:
        self.data = data
        self.core = core  # hard constraints: its deadlines are the ones that must hold
        self.objective = objective
        self.t0 = t0
        self.limit: int | None = None  # cost: every activity finishes by then
        self.best: list[int] = []
        self.best_key: tuple = ()
        self.lower = 0.0
        self.method = "ga"
        self.message = ""
        self.stats: dict[str, float] = {}
        weights = core.weight if objective == WEIGHTED_TARDINESS else core.cost_per_unit
        self.integral = _integral(weights)

    def value(self, start: list[int]) -> float:
        if self.objective == WEIGHTED_TARDINESS:
            return weighted_tardiness(self.core, start)
        return availability_cost(self.core, start)

    def violation(self, start: list[int]) -> int:
        over = deadline_overrun(self.core, start)
        if self.limit is not None:
            over += max(0, makespan(self.core, start) - self.limit)
        return over

    def key(self, start: list[int]) -> tuple:
        return (self.violation(start), self.value(start), makespan(self.core, start))

    def offer(self, start: list[int]) -> None:
        key = self.key(start)
        if not self.best or key < self.best_key:
            self.best, self.best_key = list(start), key

    @property
    def feasible(self) -> bool:
        return bool(self.best) and self.best_key[0] == 0

    @property
    def best_value(self) -> float:
        return self.best_key[1] if self.best else math.inf

    def proven(self) -> bool:
        return self.feasible and self.best_value <= self.lower + TOLERANCE

    def raise_bound(self, bound: float) -> None:
        """A bound from the problem's structure (not from a stopped solver): may prove optimality."""
        if self.integral:
            bound = math.ceil(bound - TOLERANCE)
        self.lower = max(self.lower, bound)

    def solver_bound(self, bound: float | None) -> None:
        """The dual bound of a solver stopped early: trusted only below the best objective.

        A stopped solve never proves optimality by its bound alone (CBC can print odd
        bounds when stopped early); only its explicit "optimal" status does.
        """
        if bound is None or not math.isfinite(bound):
            return
        if self.integral:
            bound = math.ceil(bound - TOLERANCE)
            if self.feasible:
                bound = min(bound, self.best_value - 1)
        elif self.feasible and bound >= self.best_value - TOLERANCE:
            return
        self.lower = max(self.lower, bound)

    def verify(self, start: list[int]) -> list[str]:
        starts = dict(zip(self.core.keys, start, strict=True))
        problems = verify_schedule(self.data, starts, deadlines=self.objective != WEIGHTED_TARDINESS)
        if self.limit is not None and makespan(self.core, start) > self.limit:
            problems.append(f"makespan {makespan(self.core, start)} exceeds makespan_limit {self.limit}")
        return problems

    def result(self, status: SolveStatus) -> SolveResult:
        if self.best and status is not SolveStatus.INFEASIBLE:
            problems = self.verify(self.best)
            if problems:  # a safety net: the heuristics only build valid schedules
                status = SolveStatus.INFEASIBLE
                self.message = f"the best schedule found breaks a hard constraint ({problems[0]})"
        value = self.best_value if self.best else 0.0
        if status is SolveStatus.OPTIMAL:
            lower = value
        elif self.feasible:
            lower = min(self.lower, value)
        else:
            lower = self.lower
        if self.integral:
            lower = int(round(lower)) if status is SolveStatus.OPTIMAL else int(math.floor(lower + TOLERANCE))
        gap = (value - lower) / value if value > TOLERANCE else 0.0
        if self.limit is not None:
            self.stats["makespan_limit"] = float(self.limit)
        return SolveResult(
            status=status,
            starts=dict(zip(self.core.keys, self.best, strict=True)),
            makespan=makespan(self.core, self.best),
            lower_bound=lower,
            gap=max(gap, 0.0),
            seconds=time.perf_counter() - self.t0,
            method=self.method,
            objective=float(value),
            message=self.message,
            stats=self.stats,
            guards=guards.fired(self.core),
        )


def solve_objective(
    data: ProblemData,
    *,
    objective: str,
    time_limit: float,
    solver: str,
    seed: int,
    makespan_limit: int | None = None,
    initial: Mapping[str, int] | None = None,
) -> SolveResult:
    """``solve`` for "weighted_tardiness" and "cost" (arguments already checked by ``solve``).

    ``initial`` is the warm start of ``solve``: its order joins the GA's seeds.

    Raises ValueError when ``makespan_limit`` is below the critical path (release dates,
    lags and fixed starts included): no schedule can meet it, whatever the resources.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    if objective == WEIGHTED_TARDINESS:
        return _solve_tardiness(data, t0, deadline, time_limit, solver, seed, initial)
    if objective == COST:
        if makespan_limit is not None and makespan_limit < data.core.cp_length():
            raise ValueError(
                f"makespan_limit {makespan_limit} is below the critical path length {data.core.cp_length()}"
            )
        return _solve_cost(data, t0, deadline, time_limit, solver, seed, makespan_limit, initial)
    raise ValueError(f"objective must be {WEIGHTED_TARDINESS!r} or {COST!r}, got {objective!r}")


# -- weighted tardiness ---------------------------------------------------------------


def due_date_core(data: ProblemData) -> Core:
    """The core with soft due dates: deadlines dropped, except those a fixed successor imposes."""
    relaxed = ProblemData(
        [replace(a, deadline=None) for a in data.activities], list(data.resources), list(data.precedences)
    )
    core = relaxed.core
    core.due = list(data.core.due)
    return core


def _solve_tardiness(
    data: ProblemData, t0: float, deadline: float, time_limit: float, solver: str, seed: int,
    initial: Mapping[str, int] | None = None,
) -> SolveResult:
    core = due_date_core(data)
    run = _Run(data, core, WEIGHTED_TARDINESS, t0)
    if core.n == 0:
        run.method = "bound"
        return run.result(SolveStatus.OPTIMAL)
    run.raise_bound(weighted_tardiness_lower_bound(core))
    avail = fresh_availability(core)
    # plain serial SGS: justification shortens the makespan but may make single activities later
    ga = GeneticSearch(core, avail, seed=seed, score=run.key, justified=False)
    # the due dates as deadlines give latest-finish rules that put urgent work first
    by_due = rule_values(data.core, max(data.core.cp_length(), 1))
    ga.rules += [by_due["LFT"], by_due["LST"]]
    target = (0, run.lower + TOLERANCE, math.inf)  # the GA stops when this is reached
    pos = topo_positions(core)

    def improve(seconds: float, stall: float | None, fresh: bool = False) -> None:
        if seconds > 0 and not run.proven():
            run.offer(ga.run(seconds, target, stall, fresh=fresh).start)
        # tie-break: a justified copy of the best may finish sooner at no extra tardiness
        run.offer(justify(core, run.best, pos, avail))
        run.stats.update({"schedules": float(ga.schedules), "generations": float(ga.generations)})

    if initial is not None:
        run.offer(ga.seed_orders([initial_order(core, initial)]).start)
    run.offer(ga.seed_rules(target).start)
    exact = solver != "heuristic"
    if exact:
        improve(time_limit * HEURISTIC_SHARE, HEURISTIC_STALL * time_limit)
    else:
        improve(deadline - time.perf_counter(), None)
    if run.proven():
        return run.result(SolveStatus.OPTIMAL)
    if not exact:
        if not run.feasible:
            run.message = "no schedule meeting the fixed starts was found"
            return run.result(SolveStatus.INFEASIBLE)
        return run.result(SolveStatus.FEASIBLE)
    windows = _tardiness_windows(core, run.best if run.feasible else None, run.best_value)
    milp_until = min(deadline - MILP_MARGIN, time.perf_counter() + MILP_SHARE * time_limit)
    outcome = _exact_stage(run, windows, solver, seed, milp_until, avail)
    if isinstance(outcome, SolveResult):
        return outcome
    # no verdict: the GA, restarted, gets the rest of the limit
    improve(deadline - time.perf_counter() - MILP_MARGIN, None, fresh=True)
    return _final(run, outcome)


def _final(run: _Run, unproven: SolveStatus) -> SolveResult:
    if run.proven():
        return run.result(SolveStatus.OPTIMAL)
    if not run.feasible:
        run.message = run.message or "no schedule meeting every hard constraint was found"
        return run.result(SolveStatus.INFEASIBLE)
    return run.result(unproven)


def _tardiness_windows(core: Core, incumbent: list[int] | None, value: float) -> Windows:
    """Windows over the serial-SGS horizon (an optimal schedule can be longer than the best
    makespan), each start limited to where its own tardiness cost stays within ``value``."""
    horizon = core.horizon if incumbent is None else max(core.horizon, makespan(core, incumbent))
    latest = list(core.deadline)
    if incumbent is not None:
        for j in range(core.n):
            due, w = core.due[j], core.weight[j]
            if due is None or not w or core.fixed[j] is not None:
                continue
            finish = due + math.floor(value / w + TOLERANCE)
            if latest[j] is None or finish < latest[j]:
                latest[j] = finish
    es = core.earliest_starts()
    ls = replace(core, deadline=latest).latest_starts(horizon)
    sink_es = max((es[i] + core.dur[i] for i in range(core.n)), default=0)
    return Windows(es, ls, sink_es, horizon)


# -- resource availability cost -------------------------------------------------------


def _solve_cost(
    data: ProblemData,
    t0: float,
    deadline: float,
    time_limit: float,
    solver: str,
    seed: int,
    makespan_limit: int | None,
    initial: Mapping[str, int] | None = None,
) -> SolveResult:
    core = data.core
    exact = solver != "heuristic"
    run = _Run(data, core, COST, t0)
    if core.n == 0:
        run.limit = makespan_limit
        run.method = "bound"
        return run.result(SolveStatus.OPTIMAL)
    pos = topo_positions(core)

    # 1. a makespan schedule: it sets the default limit and starts the cost search
    def ms_score(start: list[int]) -> tuple[int, int]:
        return (deadline_overrun(core, start), makespan(core, start))

    ms_ga = GeneticSearch(core, fresh_availability(core), seed=seed, score=ms_score)
    target = (0, makespan_limit if makespan_limit is not None else makespan_lower_bound(core))
    if initial is not None:
        ms_ga.seed_orders([initial_order(core, initial)])
    found = ms_ga.seed_rules(target)
    if found.makespan > target:
        share = LIMIT_SHARE * time_limit
        found = ms_ga.run(share, target, share / 2)
    if makespan_limit is not None:
        run.limit = makespan_limit
    elif found.makespan[0] == 0:
        run.limit = found.makespan[1]
    else:
        run.limit = core.horizon
        run.message = "no schedule meeting every deadline was found quickly; the makespan is limited by the horizon"
    run.offer(found.start)
    lows = peak_lower_bounds(core, run.limit)
    run.raise_bound(availability_cost_lower_bound(core, run.limit))
    for k, low in enumerate(lows):
        if low > max(core.capacity[k][: run.limit], default=0):
            run.message = f"resource '{core.res_keys[k]}' cannot do its work by time {run.limit}"
            run.method = "bound"
            return run.result(SolveStatus.INFEASIBLE)

    # 2. lower each priced resource's level while a schedule still fits under the levels
    heuristic_end = deadline if not exact else t0 + HEURISTIC_SHARE * time_limit
    if run.feasible and not run.proven():
        _lower_levels(run, core, lows, pos, seed, heuristic_end)
    run.stats["schedules"] = float(ms_ga.schedules)
    if run.proven():
        return run.result(SolveStatus.OPTIMAL)
    if not exact:
        if not run.feasible:
            run.message = run.message or f"no schedule meeting every deadline by time {run.limit} was found"
            return run.result(SolveStatus.INFEASIBLE)
        return run.result(SolveStatus.FEASIBLE)

    # 3. the exact stage over the windows under the limit
    windows = make_windows(core, run.limit, 0)
    if windows.empty():
        run.message = f"no schedule meets every deadline by time {run.limit}"
        run.method = "bound"
        return run.result(SolveStatus.INFEASIBLE)
    milp_until = min(deadline - MILP_MARGIN, time.perf_counter() + MILP_SHARE * time_limit)
    outcome = _exact_stage(run, windows, solver, seed, milp_until, None)
    if isinstance(outcome, SolveResult):
        return outcome
    # no verdict: the level search resumes from the best schedule for the rest of the limit
    if run.feasible:
        _lower_levels(run, core, lows, pos, seed + 1, deadline - MILP_MARGIN)
    return _final(run, outcome)


def _lower_levels(run: _Run, core: Core, lows: list[int], pos: list[int], seed: int, until: float) -> None:
    """Greedy: per priced resource (dearest first), binary search on its level, the others kept."""
    peaks = resource_peaks(core, run.best)
    levels = [
        peaks[k] if core.cost_per_unit[k] > 0 else max(core.capacity[k], default=0) for k in range(len(core.res_keys))
    ]
    priced = sorted(
        (k for k in range(len(levels)) if core.cost_per_unit[k] > 0 and levels[k] > lows[k]),
        key=lambda k: -core.cost_per_unit[k] * (levels[k] - lows[k]),
    )
    probes = sum(max(1, math.ceil(math.log2(levels[k] - lows[k] + 1))) for k in priced)
    for k in priced:
        lo, hi = lows[k], levels[k]
        while lo < hi:
            left = until - time.perf_counter()
            if left <= 0:
                return
            mid = (lo + hi) // 2
            trial = levels[:k] + [mid] + levels[k + 1 :]
            start = _fits(run, core, trial, pos, seed, max(left / max(probes, 1), 0.01))
            probes = max(probes - 1, 1)
            if start is None:
                lo = mid + 1
            else:
                run.offer(start)
                hi = min(mid, resource_peaks(core, start)[k])
        levels[k] = hi
        if run.proven():
            return


def _fits(run: _Run, core: Core, levels: list[int], pos: list[int], seed: int, seconds: float) -> list[int] | None:
    """A schedule within the levels, the deadlines and the limit, if a short search finds one."""
    avail = fresh_availability(core, levels)
    # the best schedule's order first: it often still fits, shifted, under a slightly lower level
    start = justify(core, serial_sgs(core, order_by_start(core, run.best, pos), avail), pos, avail)
    if run.violation(start) == 0:
        return start
    ga = GeneticSearch(core, avail, seed=seed, score=lambda s: (run.violation(s), makespan(core, s)))
    target = (0, math.inf)  # any schedule without a violation will do
    found = ga.seed_rules(target)
    if found.makespan > target:
        found = ga.run(seconds, target, seconds / 2)
    return found.start if found.makespan[0] == 0 else None


# -- the exact stage ------------------------------------------------------------------


def model_nonzeros(core: Core, windows: Windows) -> int:
    """A rough count of the time-indexed model's non-zeros, from the windows alone.

    A precedence row at time t holds the start variables of both ends up to t: about
    w^2 / 2 per arc over a window of w starts. A resource row holds, per activity, the
    starts that make it run then: d per time step of its window.
    """
    width = [max(windows.ls[j] - windows.es[j] + 1, 1) if core.fixed[j] is None else 0 for j in range(core.n)]
    total = 0
    for i in range(core.n):
        for j, _ in core.succ[i]:
            total += (width[i] + width[j]) * max(width[i], width[j]) // 2
        total += width[i] * core.dur[i] * len(core.uses[i]) + width[i]
    return total


def _exact_stage(
    run: _Run, windows: Windows, solver: str, seed: int, milp_until: float, avail: list[list[int]] | None
) -> SolveResult | SolveStatus:
    """Minimise the objective with the MILP (the best schedule as its MIP start).

    Returns the result on a verdict (optimal, or proven infeasible), else the status the
    result will carry. The model contains the best schedule so far, so "infeasible" with
    a schedule in hand means the solver is wrong: it is ignored, like an invalid answer.
    """
    core = run.core
    backend, note = choose_backend(solver)
    run.message = note or run.message
    run.method = f"ga+{backend}"
    remaining = milp_until - time.perf_counter() - GRACE_SECONDS
    if remaining < MILP_MIN_SECONDS:
        run.message = "time limit reached before the exact stage could finish"
        return SolveStatus.TIMED_OUT
    size = model_nonzeros(core, windows)
    if size > NONZEROS_PER_SECOND * remaining:
        run.message = f"time limit too short for a MILP of about {size:,} non-zeros; kept to the heuristic"
        return SolveStatus.TIMED_OUT
    milp = run_milp(
        core,
        windows,
        backend=backend,
        time_limit=remaining,
        seed=seed,
        objective=run.objective,
        warm_start=run.best if run.feasible else None,
    )
    run.stats.update({"milp_seconds": milp.seconds, "milp_rows": float(milp.rows), "milp_columns": float(milp.columns)})
    if milp.starts is not None:
        # trust no solver blindly: a schedule that fails the independent check is dropped
        problems = run.verify(milp.starts)
        if problems:
            run.message = f"MILP returned an invalid schedule ({problems[0]}); kept the heuristic one"
            return SolveStatus.FEASIBLE
        run.offer(milp.starts)
        # the MILP does not care about idle time: its schedule, left-justified, may end sooner
        pos = topo_positions(core)
        cap = avail if avail is not None else fresh_availability(core, resource_peaks(core, milp.starts))
        run.offer(serial_sgs(core, order_by_start(core, milp.starts, pos), cap))
    if milp.status == "optimal" and run.feasible:
        return run.result(SolveStatus.OPTIMAL)
    if milp.status == "infeasible":
        if run.feasible:
            run.message = "MILP reported infeasible although a schedule is known; kept the heuristic one"
            return SolveStatus.FEASIBLE
        run.message = "no schedule meets every hard constraint"
        return run.result(SolveStatus.INFEASIBLE)
    if milp.status in ("feasible", "timeout", "killed"):
        run.solver_bound(milp.bound)
        run.message = f"MILP stopped by the time limit ({milp.detail})"
        return SolveStatus.TIMED_OUT
    run.message = f"MILP failed: {milp.detail}"
    return SolveStatus.FEASIBLE
