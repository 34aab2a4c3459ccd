"""Critical path method, with or without resources.

Without ``starts``: the classic forward/backward pass (resources ignored).
With ``starts``: floats that respect resources. ES is the given schedule; LS comes
from right-justifying that schedule (backward SGS in order of decreasing finish,
so the resource sequence of the schedule is kept) against its own makespan.
Free float is then exact: how far an activity can slip alone, everything else
staying put, without breaking a precedence, a capacity or the makespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .core import Core
from .model import ProblemData
from .sgs import backward_sgs, fresh_availability, order_by_finish_desc

MAX_PATHS = 100


@dataclass
class CpmResult:
    es: dict[str, int]
    ef: dict[str, int]
    ls: dict[str, int]
    lf: dict[str, int]
    total_float: dict[str, int]
    free_float: dict[str, int]
    critical: dict[str, bool]
    critical_path: list[str]  # one longest chain, in order
    critical_paths: list[list[str]] = field(default_factory=list)  # all, at most MAX_PATHS
    makespan: int = 0
    resource_feasible: bool = False

    def near_critical(self, threshold: int) -> list[str]:
        """Keys whose total float is at most ``threshold`` (critical ones included)."""
        return [k for k, f in self.total_float.items() if f <= threshold]


def analyse_cpm(data: ProblemData, starts: dict[str, int] | None = None) -> CpmResult:
    core = data.core
    n, dur = core.n, core.dur
    if starts is None:
        es = core.earliest_starts()
        end = max((es[i] + dur[i] for i in range(n)), default=0)
        ls = core.latest_starts(end)
        links = _precedence_links(core, es)
        free = _free_float_network(core, es, end)
    else:
        es = [int(starts[k]) for k in core.keys]
        end = max((es[i] + dur[i] for i in range(n)), default=0)
        ls = _right_justified(core, es, end)
        links = _precedence_links(core, es) + _resource_links(core, es)
        free = _free_float_resources(core, es, end)
    total = [ls[i] - es[i] for i in range(n)]
    critical = [total[i] <= 0 for i in range(n)]
    paths = _critical_paths(core, es, end, critical, links)
    keys = core.keys
    return CpmResult(
        es=dict(zip(keys, es, strict=True)),
        ef={keys[i]: es[i] + dur[i] for i in range(n)},
        ls=dict(zip(keys, ls, strict=True)),
        lf={keys[i]: ls[i] + dur[i] for i in range(n)},
        total_float=dict(zip(keys, total, strict=True)),
        free_float=dict(zip(keys, free, strict=True)),
        critical=dict(zip(keys, critical, strict=True)),
        critical_path=paths[0] if paths else [],
        critical_paths=paths,
        makespan=end,
        resource_feasible=starts is not None,
    )


def _free_float_network(core: Core, es: list[int], end: int) -> list[int]:
    out = []
    for i in range(core.n):
        if core.fixed[i] is not None:
            out.append(0)
            continue
        slack = end - es[i] - core.dur[i]
        if core.deadline[i] is not None:
            slack = min(slack, core.deadline[i] - es[i] - core.dur[i])
        for j, lag in core.succ[i]:
            slack = min(slack, es[j] - lag - es[i])
        out.append(max(slack, 0))
    return out


def _right_justified(core: Core, es: list[int], end: int) -> list[int]:
    pos = [0] * core.n
    for p, j in enumerate(core.topo):
        pos[j] = p
    right = backward_sgs(core, order_by_finish_desc(core, es, pos), end)
    # an infeasible input schedule cannot be right-justified: report zero float
    return right if right is not None else es[:]


def _free_float_resources(core: Core, es: list[int], end: int) -> list[int]:
    # load of the given schedule, then try each activity alone one step later at a time
    load = fresh_availability(core)
    for i in range(core.n):
        if core.fixed[i] is None:
            for k, r in core.uses[i]:
                row = load[k]
                for t in range(es[i], es[i] + core.dur[i]):
                    row[t] -= r
    out = []
    for i in range(core.n):
        d = core.dur[i]
        if core.fixed[i] is not None:
            out.append(0)
            continue
        limit = end - es[i] - d
        if core.deadline[i] is not None:
            limit = min(limit, core.deadline[i] - es[i] - d)
        for j, lag in core.succ[i]:
            limit = min(limit, es[j] - lag - es[i])
        slip = 0
        while slip < limit:
            t_new = es[i] + slip + d  # the time unit newly covered by a one-step slip
            if t_new >= len(load[0] if load else [0]) and load:
                break
            # t_new lies past the original interval, so its load excludes i itself
            if any(load[k][t_new] < r for k, r in core.uses[i]):
                break
            slip += 1
        out.append(max(slip, 0))
    return out


def _precedence_links(core: Core, es: list[int]) -> list[tuple[int, int]]:
    return [(i, j) for i in range(core.n) for j, lag in core.succ[i] if es[i] + lag == es[j]]


def _resource_links(core: Core, es: list[int]) -> list[tuple[int, int]]:
    # i "hands over" to j when j starts exactly as i ends and they share a resource;
    # activities indexed by start, so this is linear in the links, not quadratic in the activities
    by_start: dict[int, list[int]] = {}
    for j in range(core.n):
        by_start.setdefault(es[j], []).append(j)
    out = []
    for i in range(core.n):
        ki = {k for k, _ in core.uses[i]}
        if not ki:
            continue
        for j in by_start.get(es[i] + core.dur[i], ()):
            if j != i and any(k in ki for k, _ in core.uses[j]):
                out.append((i, j))
    return out


def _critical_paths(
    core: Core, es: list[int], end: int, critical: list[bool], links: list[tuple[int, int]]
) -> list[list[str]]:
    nxt: dict[int, list[int]] = {}
    has_prev = set()
    for i, j in links:
        if critical[i] and critical[j]:
            nxt.setdefault(i, []).append(j)
            has_prev.add(j)
    pos = {j: p for p, j in enumerate(core.topo)}
    starts = sorted((i for i in range(core.n) if critical[i] and i not in has_prev), key=lambda i: (es[i], pos[i]))
    paths: list[list[str]] = []
    # DFS over binding critical links; a path counts when it reaches the project end
    stack = [[s] for s in reversed(starts)]
    while stack and len(paths) < MAX_PATHS:
        path = stack.pop()
        last = path[-1]
        children = nxt.get(last, [])
        if not children:
            if es[last] + core.dur[last] == end:
                paths.append([core.keys[i] for i in path])
            continue
        for j in sorted(children, key=lambda q: pos[q], reverse=True):
            stack.append(path + [j])
    paths.sort(key=len, reverse=True)
    return paths
