"""Priority rules and the lists they induce (lower value = scheduled earlier)."""

from __future__ import annotations

import heapq
import random

from .core import Core


def topo_positions(core: Core) -> list[int]:
    pos = [0] * core.n
    for p, j in enumerate(core.topo):
        pos[j] = p
    return pos


def rule_values(core: Core, end: int) -> dict[str, list[float]]:
    """LFT, LST, MTS, GRPW as minimisation keys, from a resource-free backward pass to ``end``."""
    n, dur = core.n, core.dur
    ls = core.latest_starts(end)
    lft = [ls[i] + dur[i] for i in range(n)]
    # transitive successor counts via bitsets (ints) in reverse topological order
    reach = [0] * n
    for i in reversed(core.topo):
        bits = 0
        for j, _ in core.succ[i]:
            bits |= reach[j] | (1 << j)
        reach[i] = bits
    mts = [-float(bin(reach[i]).count("1")) for i in range(n)]
    grpw = [-float(dur[i] + sum(dur[j] for j, _ in core.succ[i])) for i in range(n)]
    return {"LFT": [float(v) for v in lft], "LST": [float(v) for v in ls], "MTS": mts, "GRPW": grpw}


def list_from_priority(core: Core, value: list[float], pos: list[int]) -> list[int]:
    """Precedence-feasible list: repeatedly take the eligible activity with the lowest value."""
    # a heap, not a scan of the eligible set: the same list (ties by position, which is unique),
    # in n log n instead of n x eligible (0.7 s a rule for a 5,000-task project)
    missing = [len(p) for p in core.pred]
    eligible = [(value[j], pos[j], j) for j in range(core.n) if missing[j] == 0]
    heapq.heapify(eligible)
    out = []
    while eligible:
        j = heapq.heappop(eligible)[2]
        out.append(j)
        for q, _ in core.succ[j]:
            missing[q] -= 1
            if missing[q] == 0:
                heapq.heappush(eligible, (value[q], pos[q], q))
    return out


def regret_sample(core: Core, value: list[float], rng: random.Random, alpha: float = 1.0) -> list[int]:
    """Regret-biased random sampling: P(j) ~ (max value in eligible set - value_j + 1) ** alpha."""
    missing = [len(p) for p in core.pred]
    eligible = [j for j in range(core.n) if missing[j] == 0]
    out = []
    while eligible:
        if len(eligible) == 1:
            idx = 0
        else:
            worst = max(value[q] for q in eligible)
            weights = [(worst - value[q] + 1.0) ** alpha for q in eligible]
            idx = rng.choices(range(len(eligible)), weights)[0]
        j = eligible.pop(idx)
        out.append(j)
        for q, _ in core.succ[j]:
            missing[q] -= 1
            if missing[q] == 0:
                eligible.append(q)
    return out
