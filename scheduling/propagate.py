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

from .core import Core


@dataclass
class Propagated:
    es: list[int]
    ls: list[int]
    arcs: list[tuple[int, int, int]]  # derived (i, j, lag): S_j >= S_i + lag


def incompatible_pairs(core: Core) -> list[tuple[int, int]]:
    """Pairs that can never run at the same time: together they exceed some capacity."""
    peak = [max(row) if row else 0 for row in core.capacity]
    out = []
    for i in range(core.n):
        if not core.dur[i] or not core.uses[i]:
            continue
        di = core.demand[i]
        for j in range(i + 1, core.n):
            if core.dur[j] and any(di[k] + r > peak[k] for k, r in core.uses[j]):
                out.append((i, j))
    return out


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


def propagate(
    core: Core,
    horizon: int,
    pairs: list[tuple[int, int]] | None = None,
    cliques: list[list[int]] | None = None,
    max_rounds: int = 50,
    deadline: float | None = None,
) -> Propagated | None:
    """Fixpoint of the window rules under ``horizon``; None when the horizon is infeasible.

    Stopping early (``max_rounds``, ``deadline``) is safe: the windows are then
    merely wider than the fixpoint's.
    """
    n, dur = core.n, core.dur
    es = core.earliest_starts()
    ls = core.latest_starts(horizon)
    if any(es[i] > ls[i] for i in range(n)):
        return None
    arcs = [(i, j, lag) for i in range(n) for j, lag in core.succ[i]]
    pending = list(incompatible_pairs(core) if pairs is None else pairs)
    derived: list[tuple[int, int, int]] = []
    caps = [row[:horizon] + [0] * max(0, horizon - len(row)) for row in core.capacity]
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        changed = False
        # precedence arcs (Bellman-Ford sweeps; windows only shrink so this ends)
        moved = True
        while moved:
            moved = False
            for i, j, lag in arcs:
                if es[i] + lag > es[j]:
                    es[j] = es[i] + lag
                    moved = True
                if ls[j] - lag < ls[i]:
                    ls[i] = ls[j] - lag
                    moved = True
                if es[j] > ls[j] or es[i] > ls[i]:
                    return None
            changed |= moved
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
        if not changed and cliques:
            ef = clique_edge_finding(core, es, ls, cliques)
            if ef is None:
                return None
            changed |= ef
        if not changed:
            break
    if cliques and clique_overload(core, es, ls, cliques):
        return None
    return Propagated(es, ls, derived)


def clique_edge_finding(core: Core, es: list[int], ls: list[int], cliques: list[list[int]]) -> bool | None:
    """Edge finding on cliques (one activity at a time): None if infeasible, else whether a window moved.

    For a task interval O (clique members inside [t1, t2)) and another member i:
    if i cannot fit before lct(O) together with O, i goes after all of O, so
    ES_i >= est(O) + p(O); symmetrically LS_i <= lct(O) - p(O) - p_i.
    """
    changed = False
    dur = core.dur
    for clique in cliques:
        p = np.array([dur[j] for j in clique])
        est = np.array([es[j] for j in clique])
        lct = np.array([ls[j] for j in clique]) + p
        a, b = np.meshgrid(np.unique(est), np.unique(lct), indexing="ij")
        ok = b > a
        a, b = a[ok], b[ok]
        member = (est[None, :] >= a[:, None]) & (lct[None, :] <= b[:, None])
        work = member @ p
        if np.any(work > b - a):
            return None
        has = member.any(axis=1)
        big = np.iinfo(np.int64).max // 4
        est_o = np.where(member, est[None, :], big).min(axis=1)
        lct_o = np.where(member, lct[None, :], -big).max(axis=1)
        outside = ~member & has[:, None]
        # i after O
        after = outside & (np.minimum(est_o[:, None], est[None, :]) + work[:, None] + p[None, :] > lct_o[:, None])
        new_est = np.where(after, (est_o + work)[:, None], -big).max(axis=0)
        # i before O
        before = outside & (np.maximum(lct_o[:, None], lct[None, :]) - work[:, None] - p[None, :] < est_o[:, None])
        new_lct = np.where(before, (lct_o - work)[:, None], big).min(axis=0)
        for idx, j in enumerate(clique):
            if new_est[idx] > es[j]:
                es[j] = int(new_est[idx])
                changed = True
            if new_lct[idx] - p[idx] < ls[j]:
                ls[j] = int(new_lct[idx] - p[idx])
                changed = True
            if es[j] > ls[j]:
                return None
    return changed


def clique_overload(core: Core, es: list[int], ls: list[int], cliques: list[list[int]]) -> bool:
    """Within a clique (one activity at a time) some interval must hold more work than its length."""
    d_all = core.dur
    for clique in cliques:
        d = np.array([d_all[j] for j in clique])
        est = np.array([es[j] for j in clique])
        lft = np.array([ls[j] for j in clique]) + d
        a, b = np.meshgrid(np.unique(est), np.unique(lft), indexing="ij")
        ok = b > a
        a, b = a[ok][:, None], b[ok][:, None]
        need = np.minimum(
            np.minimum(d[None, :], b - a), np.minimum(est[None, :] + d[None, :] - a, b - lft[None, :] + d[None, :])
        )
        if np.any(np.maximum(need, 0).sum(axis=1) > (b - a)[:, 0]):
            return True
    return False


def _time_table(core: Core, es: list[int], ls: list[int], caps: list[list[int]], horizon: int) -> bool | None:
    n, dur, uses = core.n, core.dur, core.uses
    load = [[0] * horizon for _ in caps]
    for j in range(n):
        d = dur[j]
        if d and ls[j] < es[j] + d:
            for k, r in uses[j]:
                row = load[k]
                for t in range(ls[j], es[j] + d):
                    row[t] += r
    for k in range(len(caps)):
        if any(a > c for a, c in zip(load[k], caps[k], strict=True)):
            return None
    changed = False
    for i in range(n):
        d = dur[i]
        if not d or not uses[i] or es[i] == ls[i]:
            continue
        own_lo, own_hi = ls[i], es[i] + d  # i's own compulsory part (may be empty)

        def fits(t: int, i: int = i, own_lo: int = own_lo, own_hi: int = own_hi) -> bool:
            for k, r in uses[i]:
                own = r if own_lo <= t < own_hi else 0
                if load[k][t] - own + r > caps[k][t]:
                    return False
            return True

        s = es[i]
        t = s
        while t < s + d:  # earliest start: restart after any blocked unit
            if s > ls[i]:
                return None
            if fits(t):
                t += 1
            else:
                s = t + 1
                t = s
        if s > ls[i]:
            return None
        f = ls[i] + d
        t = f - 1
        while t >= f - d:  # latest finish, scanning backwards
            if f - d < s:
                return None
            if fits(t):
                t -= 1
            else:
                f = t
                t = f - 1
        if s != es[i] or f - d != ls[i]:
            es[i], ls[i] = s, f - d
            changed = True
    return changed


def destructive_bound(
    core: Core, lower: int, upper: int, deadline: float | None = None
) -> tuple[int, Propagated | None]:
    """Raise ``lower`` while propagation refutes horizon = lower (never beyond ``upper``).

    Returns the bound and the propagated windows at horizon ``upper - 1`` when
    that horizon was not refuted (None when the bound reached ``upper``).
    """
    pairs = incompatible_pairs(core)
    cliques = incompatibility_cliques(core, pairs, 60)
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
