"""Random small projects for property tests, and an exhaustive reference solver."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from scheduling import Activity, Precedence, ProblemData, ProblemError, Resource
from scheduling.sgs import makespan, serial_sgs


@st.composite
def projects(draw, max_activities: int = 7, kinds: bool = True, releases: bool = True) -> ProblemData:
    """Acyclic projects (arcs only from lower to higher index) with 1-2 resources."""
    n = draw(st.integers(1, max_activities))
    n_res = draw(st.integers(1, 2))
    caps = [draw(st.integers(1, 4)) for _ in range(n_res)]
    resources = [Resource(f"r{k}", caps[k]) for k in range(n_res)]
    acts = []
    for i in range(n):
        demands = {f"r{k}": draw(st.integers(0, caps[k])) for k in range(n_res)}
        release = draw(st.integers(0, 3)) if releases else 0
        acts.append(
            Activity(f"a{i}", draw(st.integers(0, 5)), {k: v for k, v in demands.items() if v}, release=release)
        )
    precs = []
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.booleans()) and draw(st.booleans()):
                kind = draw(st.sampled_from(["FS", "SS", "FF"])) if kinds else "FS"
                precs.append(Precedence(f"a{i}", f"a{j}", kind, draw(st.integers(0, 2))))
    return ProblemData(acts, resources, precs)


def start_lags_nonnegative(data: ProblemData) -> bool:
    """True when every link, read as a start-to-start lag, is >= 0 (brute_force_makespan is exact then).

    A finish-to-finish link from a long task to a longer one lets the successor start first
    (S_j >= S_i + d_i - d_j + lag < S_i): the serial SGS over lists with predecessors first
    never builds such a schedule, so the reference would miss optima the engine finds.
    """
    durations = {a.key: a.duration for a in data.activities}
    return all(p.kind != "FF" or durations[p.pred] - durations[p.succ] + p.lag >= 0 for p in data.precedences)


def brute_force_makespan(data: ProblemData) -> int:
    """Optimum by decoding every precedence-feasible list with the serial SGS.

    The serial SGS generates every active schedule, and for a regular objective
    (makespan) with non-negative start-to-start lags some active schedule is optimal
    (see start_lags_nonnegative).
    """
    core = data.core
    best = None
    for perm in itertools.permutations(range(core.n)):
        where = {j: p for p, j in enumerate(perm)}
        if any(where[i] > where[j] for i in range(core.n) for j, _ in core.succ[i]):
            continue
        ms = makespan(core, serial_sgs(core, list(perm)))
        best = ms if best is None else min(best, ms)
    return best if best is not None else 0


@st.composite
def replanning_projects(draw, max_activities: int = 7) -> ProblemData | None:
    """Projects with capacity profiles, deadlines and fixed starts; None when validation rejects one."""
    base = draw(projects(max_activities=max_activities))
    resources = [
        Resource(r.key, r.capacity, capacity_profile=[(draw(st.integers(1, 6)), draw(st.integers(r.capacity, 5)))])
        if draw(st.booleans())
        else r
        for r in base.resources
    ]
    acts = []
    for a in base.activities:
        deadline = draw(st.one_of(st.none(), st.integers(a.duration, 30)))
        fixed = draw(st.one_of(st.none(), st.integers(0, 8))) if draw(st.integers(0, 4)) == 0 else None
        acts.append(Activity(a.key, a.duration, a.demands, a.release, deadline, fixed))
    try:
        return ProblemData(acts, resources, base.precedences)
    except ProblemError:
        return None


def five_jobs() -> ProblemData:
    """Optimum 9, found by hand: a0 needs the whole resource; while a4 (3 of 4 units) runs only
    one unit-demand job fits beside it. Horizon 8 passes every single window rule."""
    acts = [
        Activity("a0", 2, {"r": 4}),
        Activity("a1", 2, {"r": 1}),
        Activity("a2", 3, {"r": 1}),
        Activity("a3", 4, {"r": 1}),
        Activity("a4", 4, {"r": 3}),
    ]
    return ProblemData(acts, [Resource("r", 4)], [])
