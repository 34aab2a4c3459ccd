"""Time-indexed MILP (PuLP), built only over each activity's window [ES, LS].

x[j, t] = 1 when activity j starts at t. The horizon is the best known
makespan minus one, so the model asks for a strictly better schedule: if it is
infeasible, the heuristic schedule is optimal. Precedences are disaggregated
(one row per arc and time: "j started by t => i started by t - lag"), far
tighter in the LP relaxation than the aggregated sum(t x) form. Activities
that pairwise cannot overlap form cliques with one "at most one runs at t" row
per time: that is what closes low resource-strength instances. Rows that can
never bind are not generated. Read in order: variables, constraints, objective.

Measured (HiGHS, 8 s, 15 j30 instances the bounds do not close): this form
proved 12-13; step variables z[j, t] (started by t; 2-term precedence rows,
~4x fewer non-zeros) proved 10, x and z linked 10, no clique rows 8,
presolve off 5.

The same model serves the other objectives (``objective=``): "weighted_tardiness"
prices each start, ``w_j * max(0, t + d_j - due_j) * x[j, t]``, and "cost" adds
one integer variable a[k] per priced resource with ``usage_k(t) <= a[k]`` and
minimises ``sum c_k * a[k]``. Neither has the virtual end activity; the horizon
(the windows) bounds the makespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulp

from .core import Core
from .objectives import peak_lower_bounds, resource_peaks
from .propagate import MAX_CLIQUES, Propagated, incompatibility_cliques, incompatible_pairs


@dataclass
class Windows:
    es: list[int]
    ls: list[int]
    sink_es: int
    horizon: int  # every activity finishes by this time
    arcs: list[tuple[int, int, int]] = field(default_factory=list)  # derived by propagation

    def empty(self) -> bool:
        return self.sink_es > self.horizon or any(e > s for e, s in zip(self.es, self.ls, strict=True))


def make_windows(core: Core, horizon: int, lower_bound: int, propagated: Propagated | None = None) -> Windows:
    if propagated is not None:
        es, ls, arcs = propagated.es, propagated.ls, propagated.arcs
    else:
        es, ls, arcs = core.earliest_starts(), core.latest_starts(horizon), []
    sink_es = max([lower_bound] + [es[i] + core.dur[i] for i in range(core.n)])
    return Windows(es, ls, sink_es, horizon, list(arcs))


SINK = -1  # index of the virtual end activity
MODEL_OBJECTIVES = ("makespan", "weighted_tardiness", "cost")


def _terminal(core: Core) -> list[int]:
    """Activities whose finish is not already implied to precede another activity's finish."""
    out = []
    for i in range(core.n):
        implied = any(lag + core.dur[j] >= core.dur[i] for j, lag in core.succ[i])
        if not implied:
            out.append(i)
    return out


class TimeIndexedModel:
    """Makespan model: min sink start, sink after every terminal activity's finish.

    ``objective="weighted_tardiness"``: min sum of weighted lateness past ``core.due``;
    ``objective="cost"``: min sum of ``core.cost_per_unit[k] * a[k]``, a[k] the
    availability (peak usage) of resource k. ``objective_constant`` is the part of
    the objective the fixed activities contribute (it is not in the model).
    """

    def __init__(self, core: Core, win: Windows, objective: str = "makespan") -> None:
        if objective not in MODEL_OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(MODEL_OBJECTIVES)}, got {objective!r}")
        self.core = core
        self.win = win
        self.objective = objective
        self.objective_constant = 0.0
        self.prob = pulp.LpProblem("rcpsp", pulp.LpMinimize)
        self.x: dict[int, dict[int, pulp.LpVariable]] = {}
        self.avail: dict[int, pulp.LpVariable] = {}  # "cost": a[k] per priced resource
        self._variables()
        self._assignment()
        self._precedence()
        self._resources()
        self._cliques()
        self._objective()

    # -- variables --------------------------------------------------------
    def _variables(self) -> None:
        core = self.core
        for j in list(range(core.n)) + ([SINK] if self.objective == "makespan" else []):
            if j != SINK and core.fixed[j] is not None:
                continue
            lo, hi = self._window(j)
            self.x[j] = {t: pulp.LpVariable(f"x_{j}_{t}", cat=pulp.LpBinary) for t in range(lo, hi + 1)}
        if self.objective == "cost":
            lows = peak_lower_bounds(core, self.win.horizon)
            for k, c in enumerate(core.cost_per_unit):
                if c > 0:
                    high = max(core.capacity[k][: self.win.horizon], default=0)
                    self.avail[k] = pulp.LpVariable(f"a_{k}", lowBound=lows[k], upBound=high, cat=pulp.LpInteger)

    def _window(self, j: int) -> tuple[int, int]:
        if j == SINK:
            return self.win.sink_es, self.win.horizon
        if self.core.fixed[j] is not None:
            return self.core.fixed[j], self.core.fixed[j]
        return self.win.es[j], self.win.ls[j]

    def started(self, j: int, t: int) -> list[tuple[pulp.LpVariable | int, int]]:
        """[j has started by t] as (term, coefficient) pairs; ints are constants."""
        lo, hi = self._window(j)
        if t < lo:
            return []
        if t >= hi:
            return [(1, 1)]
        xs = self.x[j]
        return [(xs[s], 1) for s in range(lo, t + 1)]

    def running(self, j: int, t: int) -> list[tuple[pulp.LpVariable | int, int]]:
        """[j runs at t] as (term, coefficient) pairs; empty when j cannot run at t."""
        lo, hi = self._window(j)
        d = self.core.dur[j]
        if d == 0 or t < lo or t >= hi + d:
            return []
        if j != SINK and self.core.fixed[j] is not None:
            return [(1, 1)]
        xs = self.x[j]
        return [(xs[s], 1) for s in range(max(t - d + 1, lo), min(t, hi) + 1)]

    # -- constraints ------------------------------------------------------
    def _assignment(self) -> None:
        for j, xs in self.x.items():
            self.prob += pulp.lpSum(xs.values()) == 1, f"once_{j}"

    def _precedence(self) -> None:
        core = self.core
        tightest: dict[tuple[int, int], int] = {}
        given = [(a, b, lag) for a in range(core.n) for b, lag in core.succ[a]]
        for i, j, lag in given + list(self.win.arcs):
            tightest[(i, j)] = max(lag, tightest.get((i, j), lag))
        arcs = [(i, j, lag) for (i, j), lag in tightest.items()]
        if self.objective == "makespan":
            arcs += [(i, SINK, core.dur[i]) for i in _terminal(core)]
        for i, j, lag in arcs:
            if core.fixed[i] is not None or (j != SINK and core.fixed[j] is not None):
                continue  # the windows already enforce arcs touching fixed activities
            lo_j, hi_j = self._window(j)
            _, hi_i = self._window(i)
            # from hi_i + lag on, i has surely started and the row is void
            for t in range(lo_j, min(hi_j, hi_i + lag)):
                expr, const = self._expr(self.started(j, t) + [(v, -c) for v, c in self.started(i, t - lag)])
                self.prob += expr <= -const, f"p_{i}_{j}_{t}"

    def _expr(self, terms: list[tuple[pulp.LpVariable | int, int]]) -> tuple[pulp.LpAffineExpression, int]:
        """Collect (term, coefficient) pairs into an expression and a constant."""
        coeffs: dict[pulp.LpVariable, int] = {}
        const = 0
        for term, coef in terms:
            if isinstance(term, int):
                const += term * coef
            else:
                coeffs[term] = coeffs.get(term, 0) + coef
        return pulp.LpAffineExpression([(v, c) for v, c in coeffs.items() if c]), const

    def _resources(self) -> None:
        core, win = self.core, self.win
        for k in range(len(core.res_keys)):
            users = [(j, r) for j in range(core.n) for kk, r in core.uses[j] if kk == k and core.dur[j] > 0]
            for t in range(win.horizon):
                expr_terms = []
                peak = 0
                for j, r in users:
                    run = self.running(j, t)
                    if run:
                        peak += r
                        expr_terms.extend((term, sign * r) for term, sign in run)
                cap = core.capacity[k][t]
                if peak > cap:
                    expr, const = self._expr(expr_terms)
                    self.prob += expr <= cap - const, f"r_{k}_{t}"
                level = self.avail.get(k)
                if level is not None and peak > level.lowBound:
                    expr, const = self._expr(expr_terms + [(level, -1)])
                    self.prob += expr <= -const, f"a_{k}_{t}"

    def _cliques(self) -> None:
        # activities that pairwise cannot overlap: at most one runs at any time.
        # Far tighter than the capacity rows when resource strength is low.
        core = self.core
        pairs = [(i, j) for i, j in incompatible_pairs(core) if core.fixed[i] is None and core.fixed[j] is None]
        for c_idx, clique in enumerate(incompatibility_cliques(core, pairs, MAX_CLIQUES)):
            for t in range(self.win.horizon):
                live = [self.running(j, t) for j in clique]
                live = [run for run in live if run]
                if len(live) >= 2:
                    expr, const = self._expr([term for run in live for term in run])
                    self.prob += expr <= 1 - const, f"c_{c_idx}_{t}"

    # -- objective --------------------------------------------------------
    def _objective(self) -> None:
        # no constant term: PuLP's HiGHS bridge drops it, which would skew the bound
        if self.objective == "makespan":
            self.prob += pulp.lpSum(t * v for t, v in self.x[SINK].items())
        elif self.objective == "weighted_tardiness":
            self.prob += pulp.lpSum(self._tardiness_terms())
        else:
            self.prob += pulp.lpSum(self.core.cost_per_unit[k] * a for k, a in self.avail.items())

    def _tardiness_terms(self) -> list:
        core = self.core
        terms = []
        for j in range(core.n):
            due, w = core.due[j], core.weight[j]
            if due is None or not w:
                continue
            if core.fixed[j] is not None:
                self.objective_constant += w * max(0, core.fixed[j] + core.dur[j] - due)
                continue
            terms += [w * (t + core.dur[j] - due) * v for t, v in self.x[j].items() if t + core.dur[j] > due]
        return terms

    def set_initial(self, starts: list[int]) -> bool:
        """Give every variable the value of the schedule ``starts`` (a MIP start).

        Only for the objectives without the virtual end activity; False (nothing set)
        when the schedule lies outside the windows.
        """
        if SINK in self.x or any(starts[j] not in xs for j, xs in self.x.items()):
            return False
        for j, xs in self.x.items():
            for t, v in xs.items():
                v.setInitialValue(1 if t == starts[j] else 0)
        if self.avail:
            peaks = resource_peaks(self.core, starts)
            for k, a in self.avail.items():
                a.setInitialValue(peaks[k])
        return True

    def starts(self) -> list[int]:
        out = []
        for j in range(self.core.n):
            if self.core.fixed[j] is not None:
                out.append(self.core.fixed[j])
            else:
                out.append(max(self.x[j].items(), key=lambda item: item[1].varValue or 0.0)[0])
        return out

    @property
    def columns(self) -> int:
        return sum(len(v) for v in self.x.values())
