"""Schedule generation schemes on integer index arrays.

Resource availability is a plain Python list per resource and time unit; the
window checks use slice ``min`` (a C loop), which on PSPLIB sizes is faster than
numpy because numpy's per-call overhead dominates arrays of ~100 elements.
"""

from __future__ import annotations

from .core import Core


def fresh_availability(core: Core, levels: list[int] | None = None) -> list[list[int]]:
    """Capacity rows minus the load of fixed activities (they never move).

    ``levels`` (one per resource) caps each capacity first: the "cost" objective's
    search for the lowest availability a schedule still fits under.
    """
    if levels is None:
        avail = [row[:] for row in core.capacity]
    else:
        avail = [[min(c, levels[k]) for c in row] for k, row in enumerate(core.capacity)]
    for i in range(core.n):
        s = core.fixed[i]
        if s is None:
            continue
        for k, r in core.uses[i]:
            row = avail[k]
            for t in range(s, s + core.dur[i]):
                row[t] -= r
    return avail


def extend_availability(core: Core, avail: list[list[int]], length: int) -> None:
    """Lengthen the availability rows to `length`: past the horizon the final capacity level holds."""
    for k, row in enumerate(avail):
        if len(row) < length:
            row.extend([core.capacity[k][-1] if core.capacity[k] else 0] * (length - len(row) + 16))


def links_allow(core: Core, start: list[int], j: int) -> int:
    """The earliest start of `j` that its release and its predecessors (at `start`) allow, resources aside.

    (The serial SGS below inlines it: it runs thousands of times a second in the GA.)"""
    t = core.release[j]
    for i, lag in core.pred[j]:
        if start[i] + lag > t:
            t = start[i] + lag
    return t


def earliest_fit(core: Core, avail: list[list[int]], uses: list[tuple[int, int]], t: int, d: int) -> int:
    """The earliest start at or after `t` where an activity of duration `d` and these uses fits."""
    moved = True
    while moved:
        if len(avail[0]) < t + d:
            extend_availability(core, avail, t + d)
        moved = False
        for k, r in uses:
            row = avail[k]
            if min(row[t : t + d]) < r:
                idx = t + d - 1
                while row[idx] >= r:
                    idx -= 1
                t = idx + 1
                moved = True
                break
    return t


def serial_sgs(core: Core, order: list[int], avail0: list[list[int]] | None = None) -> list[int]:
    """Serial SGS: each activity of a precedence-feasible list at its earliest feasible start."""
    dur, pred, uses, release, fixed = core.dur, core.pred, core.uses, core.release, core.fixed
    avail = [row[:] for row in avail0] if avail0 is not None else fresh_availability(core)
    horizon = len(avail[0]) if avail else 0
    start = [0] * core.n
    for j in order:
        if fixed[j] is not None:
            start[j] = fixed[j]
            continue
        t = release[j]
        for i, lag in pred[j]:
            v = start[i] + lag
            if v > t:
                t = v
        d = dur[j]
        u = uses[j]
        if d and u:
            # earliest_fit, inlined: this loop decodes thousands of lists a second in the GA
            if t + d > horizon:
                extend_availability(core, avail, t + d + 1)
                horizon = len(avail[0])
            moved = True
            while moved:
                moved = False
                for k, r in u:
                    row = avail[k]
                    if min(row[t : t + d]) < r:
                        idx = t + d - 1
                        while row[idx] >= r:
                            idx -= 1
                        t = idx + 1
                        if t + d > horizon:
                            extend_availability(core, avail, t + d + 1)
                            horizon = len(avail[0])
                        moved = True
                        break
            for k, r in u:
                row = avail[k]
                row[t : t + d] = [a - r for a in row[t : t + d]]
        start[j] = t
    return start


def backward_sgs(core: Core, order: list[int], end: int, avail0: list[list[int]] | None = None) -> list[int] | None:
    """Mirror of serial_sgs: each activity at its latest feasible finish <= ``end``.

    ``order`` must list successors before predecessors. Returns None when some
    activity cannot be placed at or after its release (cannot happen when the
    order is by decreasing finish of a feasible schedule that ends by ``end``).
    """
    dur, succ, uses, release, fixed, deadline = core.dur, core.succ, core.uses, core.release, core.fixed, core.deadline
    avail = [row[:] for row in avail0] if avail0 is not None else fresh_availability(core)
    if avail and len(avail[0]) < end:
        extend_availability(core, avail, end)
    start = [0] * core.n
    for i in order:
        if fixed[i] is not None:
            start[i] = fixed[i]
            continue
        d = dur[i]
        s = end - d
        dl = deadline[i]
        if dl is not None and dl - d < s:
            s = dl - d
        for j, lag in succ[i]:
            v = start[j] - lag
            if v < s:
                s = v
        u = uses[i]
        low = release[i]
        if s < low:
            return None
        if d and u:
            moved = True
            while moved:
                moved = False
                for k, r in u:
                    row = avail[k]
                    if min(row[s : s + d]) < r:
                        idx = s
                        while row[idx] >= r:
                            idx += 1
                        s = idx - d
                        if s < low:
                            return None
                        moved = True
                        break
            for k, r in u:
                row = avail[k]
                row[s : s + d] = [a - r for a in row[s : s + d]]
        start[i] = s
    return start


def makespan(core: Core, start: list[int]) -> int:
    dur = core.dur
    return max((start[i] + dur[i] for i in range(core.n)), default=0)


def order_by_start(core: Core, start: list[int], pos: list[int]) -> list[int]:
    """Precedence-feasible activity list in order of start (ties by topological position)."""
    if core.fs_like:
        return sorted(range(core.n), key=lambda i: (start[i], pos[i]))
    # SS/FF or negative lags: a successor may start first, so sort topologically by start
    return _topological_by(core, [(start[i], pos[i]) for i in range(core.n)], core.pred, core.succ)


def order_by_finish_desc(core: Core, start: list[int], pos: list[int]) -> list[int]:
    """Successors-first list in order of decreasing finish, for the backward pass."""
    dur = core.dur
    if core.fs_like:
        return sorted(range(core.n), key=lambda i: (-(start[i] + dur[i]), -pos[i]))
    return _topological_by(core, [(-(start[i] + dur[i]), -pos[i]) for i in range(core.n)], core.succ, core.pred)


def _topological_by(core: Core, key: list[tuple[int, int]], before, after) -> list[int]:
    missing = [len(before[j]) for j in range(core.n)]
    ready = [j for j in range(core.n) if missing[j] == 0]
    out = []
    while ready:
        j = min(ready, key=key.__getitem__)
        ready.remove(j)
        out.append(j)
        for q, _ in after[j]:
            missing[q] -= 1
            if missing[q] == 0:
                ready.append(q)
    return out


def justify(core: Core, start: list[int], pos: list[int], avail0: list[list[int]] | None = None) -> list[int]:
    """Forward-backward improvement (double justification); never returns a longer schedule."""
    end = makespan(core, start)
    right = backward_sgs(core, order_by_finish_desc(core, start, pos), end, avail0)
    if right is None:
        return start
    left = serial_sgs(core, order_by_start(core, right, pos), avail0)
    return left if makespan(core, left) <= end else start


def parallel_sgs(core: Core, priority: list[float], avail0: list[list[int]] | None = None) -> list[int]:
    """Parallel SGS: at each decision time start every eligible activity that fits, lowest priority value first."""
    n = core.n
    dur, pred, succ, uses, release, fixed = core.dur, core.pred, core.succ, core.uses, core.release, core.fixed
    avail = [row[:] for row in avail0] if avail0 is not None else fresh_availability(core)
    start = [-1] * n
    missing = [len(pred[j]) for j in range(n)]
    bound = release[:]  # earliest start from scheduled predecessors
    eligible: list[int] = []
    for j in range(n):
        if missing[j] == 0:
            eligible.append(j)
    done = 0
    t = 0
    finishes: list[int] = []

    def place(j: int, s: int) -> None:
        nonlocal done
        start[j] = s
        done += 1
        d = dur[j]
        for k, r in uses[j]:
            row = avail[k]
            if s + d > len(row):
                extend_availability(core, avail, s + d + 1)
                row = avail[k]
            if fixed[j] is None:
                row[s : s + d] = [a - r for a in row[s : s + d]]
        finishes.append(s + d)
        for q, lag in succ[j]:
            if s + lag > bound[q]:
                bound[q] = s + lag
            missing[q] -= 1
            if missing[q] == 0:
                eligible.append(q)

    while done < n:
        # fixed activities go in as soon as they become eligible: their start is given
        progress = True
        while progress:
            progress = False
            for j in sorted(eligible, key=lambda q: priority[q]):
                if fixed[j] is not None:
                    eligible.remove(j)
                    place(j, fixed[j])
                    progress = True
                elif bound[j] <= t:
                    d = dur[j]
                    if d + t > len(avail[0] if avail else []) and avail:
                        extend_availability(core, avail, t + d + 1)
                    if all(min(avail[k][t : t + d]) >= r for k, r in uses[j]) if d else True:
                        eligible.remove(j)
                        place(j, t)
                        progress = True
        if done >= n:
            break
        # next decision time: a finish, or an eligible activity's earliest start, after t
        cands = [f for f in finishes if f > t] + [bound[j] for j in eligible if bound[j] > t]
        t = min(cands) if cands else t + 1
    return start
