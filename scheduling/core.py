"""Integer-indexed view of a ProblemData, shared by every algorithm.

All precedence kinds become generalized arcs ``S_j >= S_i + lag`` so that the
heuristics, bounds and the MILP handle FS/SS/FF (with lags) in one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ProblemData


@dataclass
class Core:
    keys: list[str]
    index: dict[str, int]
    n: int
    dur: list[int]
    release: list[int]
    deadline: list[int | None]  # latest finish (the given one, or derived from a fixed successor)
    due: list[int | None]  # the activity's own deadline as given: the due date of "weighted_tardiness"
    fixed: list[int | None]
    weight: list[float]
    res_keys: list[str]
    cost_per_unit: list[float]  # per resource: cost of one unit made available ("cost" objective)
    demand: list[list[int]]  # demand[i][k]
    uses: list[list[tuple[int, int]]]  # non-zero (k, amount) per activity
    succ: list[list[tuple[int, int]]]  # (j, lag): S_j >= S_i + lag
    pred: list[list[tuple[int, int]]]  # (i, lag)
    topo: list[int]
    horizon: int  # any serial SGS schedule finishes by then
    capacity: list[list[int]]  # capacity[k][t] for t < horizon
    constant_capacity: bool
    # every arc has lag >= predecessor duration: then a predecessor always finishes
    # before its successor starts, and sorting a schedule by start is a topological order
    fs_like: bool = True

    def earliest_starts(self) -> list[int]:
        """Forward pass ignoring resources; fixed activities sit at their start."""
        es = [0] * self.n
        for j in self.topo:
            t = self.release[j]
            for i, lag in self.pred[j]:
                if es[i] + lag > t:
                    t = es[i] + lag
            es[j] = self.fixed[j] if self.fixed[j] is not None else t
        return es

    def latest_starts(self, end: int) -> list[int]:
        """Backward pass ignoring resources: everything finishes by ``end`` and its deadline."""
        ls = [0] * self.n
        for i in reversed(self.topo):
            t = end - self.dur[i]
            if self.deadline[i] is not None and self.deadline[i] - self.dur[i] < t:
                t = self.deadline[i] - self.dur[i]
            for j, lag in self.succ[i]:
                if ls[j] - lag < t:
                    t = ls[j] - lag
            ls[i] = self.fixed[i] if self.fixed[i] is not None else t
        return ls

    def cp_length(self) -> int:
        es = self.earliest_starts()
        return max((es[i] + self.dur[i] for i in range(self.n)), default=0)


def _arc_lag(kind: str, lag: int, d_pred: int, d_succ: int) -> int:
    if kind == "FS":
        return d_pred + lag
    if kind == "SS":
        return lag
    return d_pred - d_succ + lag  # FF


def build_core(data: ProblemData) -> Core:
    acts = data.activities
    keys = [a.key for a in acts]
    index = {k: i for i, k in enumerate(keys)}
    n = len(acts)
    res_keys = [r.key for r in data.resources]
    rindex = {k: i for i, k in enumerate(res_keys)}
    dur = [a.duration for a in acts]
    demand = [[0] * len(res_keys) for _ in acts]
    for i, a in enumerate(acts):
        for rk, amount in a.demands.items():
            demand[i][rindex[rk]] = amount
    uses = [[(k, r) for k, r in enumerate(row) if r > 0] for row in demand]

    # parallel arcs collapse to the tightest lag
    best: dict[tuple[int, int], int] = {}
    for p in data.precedences:
        i, j = index[p.pred], index[p.succ]
        lag = _arc_lag(p.kind, p.lag, dur[i], dur[j])
        if (i, j) not in best or lag > best[(i, j)]:
            best[(i, j)] = lag
    succ: list[list[tuple[int, int]]] = [[] for _ in acts]
    pred: list[list[tuple[int, int]]] = [[] for _ in acts]
    for (i, j), lag in best.items():
        succ[i].append((j, lag))
        pred[j].append((i, lag))

    # Kahn's order, ties by input order so results are reproducible
    indeg = [len(p) for p in pred]
    ready = [i for i in range(n) if indeg[i] == 0]
    topo: list[int] = []
    while ready:
        i = ready.pop(0)
        topo.append(i)
        for j, _ in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)

    steps = [r.steps() for r in data.resources]
    base = max(
        [0]
        + [a.release for a in acts]
        + [a.fixed_start + a.duration for a in acts if a.fixed_start is not None]
        + [s[-1][0] for s in steps]
    )
    horizon = base + sum(dur) + sum(max(p.lag, 0) for p in data.precedences) + 1
    capacity = []
    for s in steps:
        row = [0] * horizon
        for idx, (t0, c) in enumerate(s):
            t1 = s[idx + 1][0] if idx + 1 < len(s) else horizon
            for t in range(t0, min(t1, horizon)):
                row[t] = c
        capacity.append(row)
    # a fixed activity bounds its predecessors' finish: make that an explicit
    # deadline so heuristics (lateness penalty) and windows see it
    deadline = [a.deadline for a in acts]
    latest_start: list[int | None] = [None] * n
    for i in reversed(topo):
        if acts[i].fixed_start is not None:
            latest_start[i] = acts[i].fixed_start
            continue
        limit = deadline[i] - dur[i] if deadline[i] is not None else None
        for j, lag in succ[i]:
            if latest_start[j] is not None and (limit is None or latest_start[j] - lag < limit):
                limit = latest_start[j] - lag
        if limit is not None:
            latest_start[i] = limit
            deadline[i] = limit + dur[i]
    return Core(
        keys=keys,
        index=index,
        n=n,
        dur=dur,
        release=[a.release for a in acts],
        deadline=deadline,
        due=[a.deadline for a in acts],
        fixed=[a.fixed_start for a in acts],
        weight=[a.weight for a in acts],
        res_keys=res_keys,
        cost_per_unit=[r.cost_per_unit for r in data.resources],
        demand=demand,
        uses=uses,
        succ=succ,
        pred=pred,
        topo=topo,
        horizon=horizon,
        capacity=capacity,
        constant_capacity=all(len(s) == 1 for s in steps),
        fs_like=all(lag >= dur[i] for (i, _j), lag in best.items()),
    )
