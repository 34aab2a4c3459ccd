"""Makespan lower bounds that are cheap enough to run before every solve."""

from __future__ import annotations

from .core import Core


def critical_path_bound(core: Core) -> int:
    """Longest path through the precedence network (release dates included), resources ignored."""
    return core.cp_length()


def energy_bound(core: Core) -> int:
    """Per resource: the earliest time by which its capacity could have done all the work."""
    best = 0
    for k in range(len(core.res_keys)):
        work = sum(core.dur[i] * core.demand[i][k] for i in range(core.n))
        if not work:
            continue
        cap = core.capacity[k]
        done = 0
        t = 0
        while done < work:
            done += cap[t] if t < len(cap) else cap[-1]
            t += 1
            if t > 10 * len(cap) + work:  # zero final capacity: validation forbids demand then
                break
        best = max(best, t)
    return best


def makespan_lower_bound(core: Core) -> int:
    return max(critical_path_bound(core), energy_bound(core))
