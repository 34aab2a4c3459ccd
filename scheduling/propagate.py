"""Constraint propagation on time windows under a horizon, and destructive lower bounds.

Given "every activity finishes by H", windows [ES, LS] are narrowed by
precedence arcs, by pairs of activities that can never overlap (they need more
than a capacity together, so one must precede the other) and by time-tabling
(compulsory parts of tight activities block capacity). An empty window proves
that no schedule finishes by H. Trying H = LB, LB+1, ... this way raises the
lower bound ("destructive improvement"); the narrowed windows and the derived
arcs also make the MILP smaller and tighter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import guards
from .core import Core

MAX_CLIQUES = 60  # Bron-Kerbosch stops there: enough for the rules, bounded in time


@dataclass
class Propagated:
    es: list[int]
    ls: list[int]
    arcs: list[tuple[int, int, int]]  # derived (i, j, lag): S_j >= S_i + lag


def incompatible_pairs(core: Core) -> list[tuple[int, int]]:
    """Pairs (i < j, in order) that can never run at the same time: together they exceed some capacity.

    Empty when there are more than ``guards.MAX_PAIRS`` of them (counted per resource before
    any pair is built): the rules that use them are then left out.
    """
    n = core.n
    if n < 2 or not core.res_keys:
        return []
    demand = np.asarray(core.demand, dtype=np.int64).reshape(n, -1)
    peak = np.array([max(row) if row else 0 for row in core.capacity], dtype=np.int64)
    active = np.asarray(core.dur, dtype=np.int64) > 0
    per_resource = []
    for k in range(demand.shape[1]):
        users = np.nonzero(active & (demand[:, k] > 0))[0]
        if len(users) < 2:
            continue
        need = demand[users, k]
        # how many pairs exceed the peak, without building them: sorted demands and a search
        ordered = np.sort(need)
        above = len(ordered) - np.searchsorted(ordered, peak[k] - need, side="right")
        count = (int(above.sum()) - int(np.count_nonzero(2 * need > peak[k]))) // 2
        if count:
            per_resource.append((users, need, peak[k], count))
    if sum(item[3] for item in per_resource) > guards.MAX_PAIRS:
        guards.note(core, f"more than {guards.MAX_PAIRS:,} pairs of tasks that can never overlap: "
                          "the pair and clique rules are left out")
        return []
    codes = []
    for users, need, cap, _ in per_resource:
        left, right = np.nonzero(np.triu(need[:, None] + need[None, :] > cap, k=1))
        codes.append(users[left] * n + users[right])
    if not codes:
        return []
    merged = np.unique(np.concatenate(codes))
    return [(int(c // n), int(c % n)) for c in merged]


def incompatibility_cliques(core: Core, pairs: list[tuple[int, int]], limit: int = 60) -> list[list[int]]:
    """Maximal cliques (size >= 3) of the never-overlap graph, Bron-Kerbosch with pivoting, at most ``limit``."""
    adj: dict[int, set[int]] = {}
    for i, j in pairs:
        adj.setdefault(i, set()).add(j)
        adj.setdefault(j, set()).add(i)
    out: list[list[int]] = []
    stack = [(frozenset(), frozenset(adj), frozenset())]
    while stack and len(out) < limit:
        chosen, cands, excluded = stack.pop()
        if not cands and not excluded:
            if len(chosen) >= 3:
                out.append(sorted(chosen))
            continue
        pivot = max(cands | excluded, key=lambda v: len(adj[v] & cands))
        for v in sorted(cands - adj[pivot]):
            stack.append((chosen | {v}, cands & adj[v], excluded & adj[v]))
            cands = cands - {v}
            excluded = excluded | {v}
    return out


def conflicts(core: Core) -> tuple[list[tuple[int, int]], Cliques]:
    """The never-overlap pairs and their cliques, computed once per core.

    The bound, shaving and the search of one solve all need them, each loop of the
    exact stage again; they depend only on durations, demands and capacities.
    """
    cached = core.__dict__.get("_conflicts")
    if cached is None:
        pairs = incompatible_pairs(core)
        cached = (pairs, Cliques(_within_budget(core, incompatibility_cliques(core, pairs, MAX_CLIQUES))))
        core.__dict__["_conflicts"] = cached
    return cached


def _within_budget(core: Core, cliques: list[list[int]]) -> list[list[int]]:
    """Cliques small enough for edge finding's (clique x member^3) arrays; a larger one keeps its longest members.

    Any subset of a clique is a clique, so the rules stay sound, only weaker.
    """
    if not cliques:
        return cliques
    most = int((guards.CLIQUE_MAX_CELLS / len(cliques)) ** (1 / 3))
    if max(len(c) for c in cliques) <= most:
        return cliques
    if most < 3:  # pairs already say what a clique of two would
        guards.note(core, "clique rules left out (too many cliques of tasks that can never overlap)")
        return []
    guards.note(core, f"cliques of tasks that can never overlap trimmed to their {most} longest members")
    return [c if len(c) <= most else sorted(sorted(c, key=lambda i: -core.dur[i])[:most]) for c in cliques]


def propagate(
    core: Core,
    horizon: int,
    pairs: list[tuple[int, int]] | None = None,
    cliques: Cliques | list[list[int]] | None = None,
    max_rounds: int = 50,
    deadline: float | None = None,
    windows: tuple[list[int], list[int]] | None = None,
    energetic: bool = True,
    extra_arcs: list[tuple[int, int, int]] | None = None,
) -> Propagated | None:
    """Fixpoint of the window rules under ``horizon``; None when the horizon is infeasible.

    ``windows`` (ES, LS lists) start the fixpoint from narrower windows than the
    precedence network's, e.g. a shaving trial. Stopping early (``max_rounds``,
    ``deadline``) is safe: the windows are then merely wider than the fixpoint's.
    """
    n, dur = core.n, core.dur
    cliques = as_cliques(cliques)
    es = core.earliest_starts()
    ls = core.latest_starts(horizon)
    if windows is not None:
        es = [max(a, b) for a, b in zip(es, windows[0], strict=True)]
        ls = [min(a, b) for a, b in zip(ls, windows[1], strict=True)]
    if any(es[i] > ls[i] for i in range(n)):
        return None
    arcs = [(i, j, lag) for i in core.topo for j, lag in core.succ[i]] + list(extra_arcs or [])
    pending = list(incompatible_pairs(core) if pairs is None else pairs)
    derived: list[tuple[int, int, int]] = []
    caps = _capacity_rows(core, horizon)
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        changed = False
        # precedence arcs (Bellman-Ford sweeps; windows only shrink so this ends)
        # (arcs in topological order of their tail: one forward sweep settles the earliest
        # starts, one backward sweep the latest, unless derived arcs cut across that order)
        moved = True
        while moved:
            moved = False
            for i, j, lag in arcs:
                if es[i] + lag > es[j]:
                    es[j] = es[i] + lag
                    moved = True
            for i, j, lag in reversed(arcs):
                if ls[j] - lag < ls[i]:
                    ls[i] = ls[j] - lag
                    moved = True
            if moved:
                changed = True
                if any(e > s for e, s in zip(es, ls, strict=True)):
                    return None
        # disjunctive pairs: when only one order fits the windows, it becomes an arc
        still = []
        for i, j in pending:
            i_first = es[i] + dur[i] <= ls[j]
            j_first = es[j] + dur[j] <= ls[i]
            if not i_first and not j_first:
                return None
            if i_first and j_first:
                still.append((i, j))
                continue
            a, b = (i, j) if i_first else (j, i)
            arcs.append((a, b, dur[a]))
            derived.append((a, b, dur[a]))
            changed = True
        pending = still
        # time-tabling on compulsory parts
        tt = _time_table(core, es, ls, caps, horizon)
        if tt is None:
            return None
        changed |= tt
        # on a large project each rule below takes a fraction of a second: the deadline is
        # checked between them too (stopping here only leaves the windows wider)
        if deadline is not None and time.perf_counter() > deadline:
            break
        if not changed and cliques:
            ef = clique_edge_finding(core, es, ls, cliques)
            if ef is None:
                return None
            changed |= ef
        if deadline is not None and time.perf_counter() > deadline:
            break
        if not changed and energetic:
            er = energetic_reasoning(core, es, ls, caps)
            if er is None:
                return None
            changed |= er
        if not changed:
            break
    out_of_time = deadline is not None and time.perf_counter() > deadline
    if cliques and not out_of_time and clique_overload(core, es, ls, cliques):
        return None
    return Propagated(es, ls, derived)


def _capacity_rows(core: Core, horizon: int) -> np.ndarray:
    """Capacity per resource and time step under ``horizon``, as one array (built once per horizon).

    Shaving and the tree search propagate thousands of times under one horizon; the
    array is kept on the core, which never changes after it is built.
    """
    cache = core.__dict__.setdefault("_capacity_rows", {})
    rows = cache.get(horizon)
    if rows is None:
        rows = np.zeros((len(core.capacity), max(horizon, 0)), dtype=np.int64)
        for k, row in enumerate(core.capacity):
            width = min(len(row), horizon)
            rows[k, :width] = row[:width]
        rows.setflags(write=False)
        cache[horizon] = rows
    return rows


class Cliques:
    """Cliques of the never-overlap graph, padded into arrays so the rules run on all at once."""

    def __init__(self, members: list[list[int]]) -> None:
        self.members = [list(c) for c in members]
        size = max((len(c) for c in self.members), default=0)
        self.index = np.zeros((len(self.members), size), dtype=np.int64)
        self.valid = np.zeros((len(self.members), size), dtype=bool)
        for c, clique in enumerate(self.members):
            # padding repeats the first member: its intervals are duplicates, its work is masked out
            self.index[c, :] = clique[0]
            self.index[c, : len(clique)] = clique
            self.valid[c, : len(clique)] = True

    def __bool__(self) -> bool:
        return bool(self.members)


def as_cliques(cliques: Cliques | list[list[int]] | None) -> Cliques | None:
    if cliques is None or isinstance(cliques, Cliques):
        return cliques
    return Cliques(cliques)


def _task_intervals(core: Core, es: list[int], ls: list[int], cliques: Cliques):
    """Per clique, the intervals [est_a, lct_b) of every pair of members and who lies inside.

    ``inside_a[c, a, m]``: member m starts no earlier than a may (est_m >= est_a);
    ``inside_b[c, b, m]``: m ends no later than b must (lct_m <= lct_b). Member m lies in
    [est_a, lct_b) when both hold; the work inside is then a batched matrix product,
    so no (clique, a, b, member) array is built for it.
    """
    # int32 where every time and sum of durations fits: it halves the arrays (the hot spot of
    # shaving) and measured about three times faster than int64 on j30
    itype = np.int32 if max(ls, default=0) + sum(core.dur) < 2**30 else np.int64
    dur = np.asarray(core.dur, dtype=itype)
    p = np.where(cliques.valid, dur[cliques.index], 0).astype(itype)
    est = np.asarray(es, dtype=itype)[cliques.index]
    lct = np.asarray(ls, dtype=itype)[cliques.index] + dur[cliques.index]
    valid = cliques.valid
    inside_a = (est[:, None, :] >= est[:, :, None]) & valid[:, None, :]
    inside_b = lct[:, None, :] <= lct[:, :, None]
    work = np.matmul(inside_a * p[:, None, :], np.swapaxes(inside_b, 1, 2).astype(itype))  # (c, a, b)
    a = est[:, :, None]
    b = lct[:, None, :]
    ok = (b > a) & valid[:, :, None] & valid[:, None, :]
    return p, est, lct, a, b, ok, inside_a, inside_b, work


def clique_edge_finding(core: Core, es: list[int], ls: list[int], cliques: Cliques | list[list[int]]) -> bool | None:
    """Edge finding on cliques (one activity at a time): None if infeasible, else whether a window moved.

    For a task interval O (clique members inside [t1, t2)) and another member i:
    if i cannot fit before lct(O) together with O, i goes after all of O, so
    ES_i >= est(O) + p(O); symmetrically LS_i <= lct(O) - p(O) - p_i. The interval's
    own ends stand for est(O) and lct(O): the pair of members that realises them
    gives the same O, so every deduction of the exact values is still made.
    """
    cl = as_cliques(cliques)
    if not cl:
        return False
    p, est, lct, a, b, ok, inside_a, inside_b, work = _task_intervals(core, es, ls, cl)
    if np.any(ok & (work > b - a)):
        return None
    big = np.iinfo(est.dtype).max // 4
    has = ok & (work > 0)
    # outside[c, a, b, i]: member i is not in the interval's set
    outside = ~(inside_a[:, :, None, :] & inside_b[:, None, :, :]) & has[..., None] & cl.valid[:, None, None, :]
    pm = p[:, None, None, :]
    w4 = work[..., None]
    after = outside & (np.minimum(a[..., None], est[:, None, None, :]) + w4 + pm > b[..., None])
    new_est = np.where(after, (a + work)[..., None], -big).max(axis=(1, 2))
    before = outside & (np.maximum(b[..., None], lct[:, None, None, :]) - w4 - pm < a[..., None])
    new_lct = np.where(before, (b - work)[..., None], big).min(axis=(1, 2))
    new_ls = new_lct - p
    changed = False
    for c, m in zip(*np.nonzero(cl.valid & ((new_est > est) | (new_ls < lct - p))), strict=True):
        j = int(cl.index[c, m])
        if new_est[c, m] > es[j]:
            es[j] = int(new_est[c, m])
            changed = True
        if new_ls[c, m] < ls[j]:
            ls[j] = int(new_ls[c, m])
            changed = True
        if es[j] > ls[j]:
            return None
    return changed


def energetic_reasoning(core: Core, es: list[int], ls: list[int], caps) -> bool | None:
    """Energy checks and window adjustments on intervals (None if infeasible, else whether a window moved).

    In any interval [a, b) an activity needs at least the part of its work that
    falls inside whether it is left- or right-shifted; when that minimum, summed
    over all activities, exceeds the capacity of [a, b) the horizon is refuted.
    When the energy the others leave in [a, b) is too small for activity i
    starting at its ES inside the interval, i must start late enough to overlap
    it by at most what is left (and symmetrically for its latest finish).
    Cumulative, so it sees what pairwise and clique rules cannot.
    """
    demand = np.asarray(core.demand, dtype=np.int64).reshape(core.n, -1)
    if not core.res_keys:
        return False
    caps = np.asarray(caps, dtype=np.int64).reshape(len(core.res_keys), -1)
    cap_peak = int(caps.max(initial=0))
    horizon = caps.shape[1]
    # int32 halves the arrays and about doubles the speed; only where no energy can overflow
    small = (horizon + max(ls, default=0) + max(core.dur, default=0) + 1) * max(
        cap_peak, int(demand.sum(axis=0).max(initial=0)), 1
    ) < 2**30
    itype = np.int32 if small else np.int64
    demand = demand.astype(itype)
    dur = np.asarray(core.dur, dtype=itype)
    if not dur.any():
        return False
    e_s = np.asarray(es, dtype=itype)
    l_s = np.asarray(ls, dtype=itype)
    e_f, l_f = e_s + dur, l_s + dur
    starts = np.unique(np.concatenate([e_s, l_s, e_f]))
    ends = np.unique(np.concatenate([l_f, e_f, l_s]))
    # intervals x activities cells: the (3n)^2 intervals make this cubic in the activity count
    if len(starts) * len(ends) // 2 * core.n > guards.ENERGETIC_MAX_CELLS:
        guards.note(core, "energetic reasoning left out (too many intervals x tasks)")
        return False
    a, b = np.meshgrid(starts, ends, indexing="ij")
    keep = b > a
    a, b = a[keep][:, None], b[keep][:, None]
    inside = np.minimum(np.minimum(b - a, dur[None, :]), np.minimum(e_f[None, :] - a, b - l_s[None, :]))
    inside = np.maximum(inside, 0)
    new_es = e_s.copy()
    new_ls = l_s.copy()
    big = np.iinfo(itype).max // 4
    for k, row in enumerate(caps):
        # only the activities that use resource k: the others add no work and gain no bound
        users = np.nonzero(demand[:, k])[0]
        if not len(users):
            continue
        r = demand[users, k][None, :]
        d_u, es_u, lf_u = dur[users][None, :], e_s[users][None, :], l_f[users][None, :]
        cum = np.concatenate([[0], np.cumsum(row)]).astype(itype)
        avail = cum[np.minimum(b[:, 0], len(row))] - cum[np.minimum(a[:, 0], len(row))]
        work = inside[:, users] * r
        total = work.sum(axis=1)
        if np.any(total > avail):
            return None
        left = (avail - total)[:, None] + work  # energy left for i by the others
        q = left // r
        # i starting at or after a: any start before b - q overlaps more than q
        late = (es_u >= a) & (es_u < b) & (d_u > q) & (np.minimum(d_u, b - es_u) > q)
        if late.any():
            new_es[users] = np.maximum(new_es[users], np.where(late, b - q, -1).max(axis=0))
        # i finishing at or before b: any finish after a + q overlaps more than q
        early = (lf_u <= b) & (lf_u > a) & (d_u > q) & (np.minimum(d_u, lf_u - a) > q)
        if early.any():
            new_ls[users] = np.minimum(new_ls[users], np.where(early, a + q - d_u, big).min(axis=0))
    changed = False
    for j in range(core.n):
        if core.fixed[j] is not None or not core.dur[j]:
            continue
        if new_es[j] > es[j]:
            es[j] = int(new_es[j])
            changed = True
        if new_ls[j] < ls[j]:
            ls[j] = int(new_ls[j])
            changed = True
        if es[j] > ls[j]:
            return None
    return changed


def clique_overload(core: Core, es: list[int], ls: list[int], cliques: Cliques | list[list[int]]) -> bool:
    """Within a clique (one activity at a time) some interval must hold more work than its length."""
    cl = as_cliques(cliques)
    if not cl:
        return False
    p, est, lct, a, b, ok, *_ = _task_intervals(core, es, ls, cl)
    a4, b4 = a[..., None], b[..., None]
    pm, em, lm = p[:, None, None, :], est[:, None, None, :], lct[:, None, None, :]
    need = np.minimum(np.minimum(pm, b4 - a4), np.minimum(em + pm - a4, b4 - lm + pm))
    need = np.where(cl.valid[:, None, None, :], np.maximum(need, 0), 0).sum(axis=-1)
    return bool(np.any(ok & (need > b - a)))


def _time_table(core: Core, es: list[int], ls: list[int], caps, horizon: int) -> bool | None:
    """Time-tabling: None if compulsory parts overload a resource, else whether a window moved.

    The compulsory part of i is [LS_i, ES_i + d_i) when not empty. i may only
    start where its whole run fits beside the others' compulsory parts: ES_i
    moves to the first such start, LS_i to the last. Done for all activities at
    once on (activity, time) arrays.
    """
    n = core.n
    if not n or horizon <= 0:
        return False
    if n * max(len(core.res_keys), 1) * horizon > guards.TIME_TABLE_MAX_CELLS:
        guards.note(core, "time-tabling left out (too many tasks x working hours)")
        return False
    demand = np.asarray(core.demand, dtype=np.int64).reshape(n, -1)
    cap = np.asarray(caps, dtype=np.int64).reshape(demand.shape[1], horizon)
    # int32 where no load can overflow: a third faster on j30
    itype = np.int32 if int(demand.sum(axis=0).max(initial=0)) + int(cap.max(initial=0)) + horizon < 2**30 else np.int64
    demand, cap = demand.astype(itype), cap.astype(itype)
    dur = np.asarray(core.dur, dtype=itype)
    e = np.asarray(es, dtype=itype)
    lt = np.asarray(ls, dtype=itype)
    t = np.arange(horizon, dtype=itype)
    comp = (t[None, :] >= lt[:, None]) & (t[None, :] < (e + dur)[:, None])
    load = demand.T @ comp.astype(itype)  # (resource, time)
    if np.any(load > cap):
        return None
    uses = demand > 0
    # blocked[i, t]: adding i at t (beyond its own compulsory part) overloads a resource it uses
    over = load[None, :, :] + demand[:, :, None] * (~comp)[:, None, :] > cap[None, :, :]
    blocked = (over & uses[:, :, None]).any(axis=1)
    done = np.concatenate([np.zeros((n, 1), dtype=itype), np.cumsum(blocked, axis=1, dtype=itype)], axis=1)
    end = np.minimum(t[None, :] + dur[:, None], horizon)
    free = (np.take_along_axis(done, end, axis=1) - done[:, :horizon] == 0) & (t[None, :] + dur[:, None] <= horizon)
    cand = free & (t[None, :] >= e[:, None]) & (t[None, :] <= lt[:, None])
    active = (dur > 0) & uses.any(axis=1) & (e < lt)
    if np.any(active & ~cand.any(axis=1)):
        return None
    first = np.argmax(cand, axis=1)
    last = horizon - 1 - np.argmax(cand[:, ::-1], axis=1)
    changed = False
    for i in np.nonzero(active & ((first != e) | (last != lt)))[0]:
        es[i], ls[i] = int(first[i]), int(last[i])
        changed = True
    return changed


def destructive_bound(
    core: Core, lower: int, upper: int, deadline: float | None = None
) -> tuple[int, Propagated | None]:
    """Raise ``lower`` while propagation refutes horizon = lower (never beyond ``upper``).

    Returns the bound and the propagated windows at horizon ``upper - 1`` when
    that horizon was not refuted (None when the bound reached ``upper``).
    """
    pairs, cliques = conflicts(core)
    # binary search: refutation is monotone (a refuted horizon refutes every smaller one)
    lo, hi = lower, upper  # lo: not yet refuted candidate, hi: known feasible makespan
    while lo < hi:
        if deadline is not None and time.perf_counter() > deadline:
            break
        mid = (lo + hi) // 2
        if propagate(core, mid, pairs, cliques, deadline=deadline) is None:
            lo = mid + 1
        else:
            hi = mid
    if lo >= upper:
        return upper, None
    return lo, propagate(core, upper - 1, pairs, cliques, deadline=deadline)


def shave(
    core: Core,
    horizon: int,
    base: Propagated,
    pairs: list[tuple[int, int]],
    cliques: Cliques | list[list[int]],
    deadline: float | None = None,
    max_passes: int = 50,
    orders: bool = True,
) -> Propagated | None:
    """Shaving: refute parts of the windows by trial propagation; None when the horizon is refuted.

    For activity i, "i starts in [ES_i, ES_i + d]" is assumed and propagated;
    a contradiction means S_i > ES_i + d, so ES_i moves past it (the trial width
    then doubles). The same is tried at the latest start. When no window moves
    any more, each still-open pair of activities that cannot overlap is tried in
    one order; a contradiction fixes the other order as an arc (``orders``).
    Far slower than one propagation, far stronger: it is what lifts bounds on
    tightly constrained instances where every single rule is satisfied.
    """
    state = _Shaving(core, horizon, pairs, as_cliques(cliques), deadline, base)
    for _ in range(max_passes):
        moved = state.window_pass()
        if state.refuted:
            return None
        if not moved and orders and not state.out_of_time():
            moved = state.order_pass()
            if state.refuted:
                return None
        if not moved or state.out_of_time():
            break
    return state.cur


class _Shaving:
    def __init__(self, core: Core, horizon: int, pairs, cliques, deadline: float | None, base: Propagated) -> None:
        self.core, self.horizon, self.pairs, self.cliques, self.deadline = core, horizon, pairs, cliques, deadline
        self.cur = base
        self.fixed_orders: list[tuple[int, int, int]] = []  # arcs proven by order trials
        self.refuted = False

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def _propagate(self, es: list[int], ls: list[int], arcs, energetic: bool) -> Propagated | None:
        return propagate(
            self.core, self.horizon, self.pairs, self.cliques, windows=(es, ls), deadline=self.deadline,
            energetic=energetic, extra_arcs=arcs,
        )  # fmt: skip

    def _trial(self, es: list[int], ls: list[int], arcs: list[tuple[int, int, int]]) -> bool:
        """Whether propagation survives the trial. Probes skip energetic reasoning: measured,
        it refuted no more trials than the other rules and cost a fifth more time."""
        return self._propagate(es, ls, arcs, energetic=False) is not None

    def _commit(self, es: list[int], ls: list[int]) -> None:
        nxt = self._propagate(es, ls, self.fixed_orders, energetic=True)
        if nxt is None:
            self.refuted = True
            return
        nxt.arcs = _merge_arcs(_merge_arcs(self.cur.arcs, self.fixed_orders), nxt.arcs)
        self.cur = nxt

    def window_pass(self) -> bool:
        core, moved = self.core, False
        for i in sorted(range(core.n), key=lambda j: self.cur.ls[j] - self.cur.es[j]):
            if core.fixed[i] is not None or not core.dur[i]:
                continue
            for side in (0, 1):
                width = 0
                while self.cur.es[i] < self.cur.ls[i] and not self.out_of_time():
                    es, ls = list(self.cur.es), list(self.cur.ls)
                    if side == 0:
                        ls[i] = min(ls[i], es[i] + width)
                    else:
                        es[i] = max(es[i], ls[i] - width)
                    if self._trial(es, ls, self.fixed_orders):
                        break
                    es, ls = list(self.cur.es), list(self.cur.ls)
                    if side == 0:
                        es[i] = es[i] + width + 1
                    else:
                        ls[i] = ls[i] - width - 1
                    self._commit(es, ls)
                    if self.refuted:
                        return True
                    moved = True
                    width = 2 * width + 1
        return moved

    def order_pass(self) -> bool:
        core, moved = self.core, False
        for i, j in self.pairs:
            if self.out_of_time():
                break
            es, ls, dur = self.cur.es, self.cur.ls, core.dur
            if not (es[i] + dur[i] <= ls[j] and es[j] + dur[j] <= ls[i]):
                continue  # already ordered (or refuted) by the windows
            for a, b in ((i, j), (j, i)):
                if not self._trial(list(es), list(ls), self.fixed_orders + [(a, b, dur[a])]):
                    self.fixed_orders.append((b, a, dur[b]))
                    self._commit(list(self.cur.es), list(self.cur.ls))
                    if self.refuted:
                        return True
                    moved = True
                    break
        return moved


def shave_horizon(core: Core, horizon: int, base: Propagated, deadline: float | None = None) -> Propagated | None:
    """Shave the windows of ``base`` (propagated under ``horizon``); None proves no schedule finishes by it."""
    pairs, cliques = conflicts(core)
    return shave(core, horizon, base, pairs, cliques, deadline=deadline)


def _merge_arcs(a: list[tuple[int, int, int]], b: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    seen = set(a)
    return a + [arc for arc in b if arc not in seen]
