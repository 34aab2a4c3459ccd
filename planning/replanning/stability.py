"""Stability: among schedules of equal objective, the one that moves the fewest tasks of the previous plan.

A second pass after the solver: the engine's activity-list GA, but decoding with
`preferred_sgs` (an activity keeps its previous start whenever its predecessors and the
capacities allow it, else it goes to its earliest feasible start) and ranking schedules
by (hard-constraint violation, objective floored at the solver's, activities moved, hours
moved); then `pull_back` returns single activities to their previous start where that
costs nothing. The solver's best schedule is always a candidate, so the pass never returns
a worse objective (beyond an explicit tolerance); the warm list (the previous order) is
seeded first, so a plan that need not change does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from scheduling.core import Core
from scheduling.ga import GeneticSearch, initial_order
from scheduling.sgs import earliest_fit, extend_availability, fresh_availability, links_allow

#: Without a new best for this share of its time (or 40 generations), the pass stops.
STALL_SHARE = 0.3
#: A small population: the pass has a second or so, and the engine's 200 (for 50+ tasks) took all
#: of it to seed, so it stalled before its first generation (bench/replan.py: 110 of 139 moved at 1.5 s).
POPULATION = 30
#: The final pull-back may run past the pass's time by at most this (it is one or a few sweeps).
PULL_BACK_SECONDS = 1.0


def preferred_sgs(core: Core, order: list[int], avail0: list[list[int]], preferred: list[int | None],
                  latest: list[int] | None = None) -> list[int]:
    """Serial SGS where each activity starts at its `preferred` start when that is feasible.

    Feasible: not before what its placed predecessors and its release allow, within the
    capacities, and not after `latest` (when given: the latest start that can still meet
    the makespan the caller wants). Otherwise (or without a preferred start) it takes the
    earliest feasible start, as in the plain serial SGS. `order` must be precedence-feasible.
    """
    dur, uses, fixed = core.dur, core.uses, core.fixed
    avail = [row[:] for row in avail0]
    start = [0] * core.n
    for j in order:
        if fixed[j] is not None:
            start[j] = fixed[j]
            continue
        t = links_allow(core, start, j)
        d, u = dur[j], uses[j]
        want = preferred[j]
        if want is not None and want > t and (latest is None or want <= latest[j]) and _fits(core, avail, u, want, d):
            t = want
        elif d and u:
            t = earliest_fit(core, avail, u, t, d)
        _book(core, avail, j, t, -1)
        start[j] = t
    return start


def _fits(core: Core, avail: list[list[int]], uses: list[tuple[int, int]], t: int, d: int) -> bool:
    if not d or not uses:
        return True
    if avail and len(avail[0]) < t + d:
        extend_availability(core, avail, t + d)
    return all(min(avail[k][t : t + d]) >= r for k, r in uses)


def pull_back(core: Core, start: list[int], preferred: list[int | None], objective: Callable[[list[int]], tuple],
              until: float) -> list[int]:
    """Move single activities back to (or towards) their preferred start while nothing gets worse.

    Each activity off its preferred start is tried at the start nearest to it that its
    links to the others (where they are now) and its release allow; it moves there when
    the capacities hold and the schedule's `objective` is no worse. Passes repeat (a chain
    comes back one link per pass) until none moves or `until` passes.
    """
    start = list(start)
    avail = fresh_availability(core)
    for j in range(core.n):
        if core.fixed[j] is None:
            _book(core, avail, j, start[j], -1)
    base = objective(start)
    improved = True
    while improved and time.perf_counter() < until:
        improved = False
        for j in range(core.n):
            want = preferred[j]
            if want is None or core.fixed[j] is not None or start[j] == want:
                continue
            low = links_allow(core, start, j)
            high = min((start[q] - lag for q, lag in core.succ[j]), default=None)
            target = max(want, low) if high is None else min(max(want, low), high)
            if target == start[j] or abs(target - want) >= abs(start[j] - want) or (high is not None and low > high):
                continue
            was = start[j]
            _book(core, avail, j, was, +1)
            if _fits(core, avail, core.uses[j], target, core.dur[j]):
                start[j] = target
                score = objective(start)
                if score <= base:
                    _book(core, avail, j, target, -1)
                    base, improved = score, True
                    continue
                start[j] = was
            _book(core, avail, j, was, -1)
    return start


def _book(core: Core, avail: list[list[int]], j: int, t: int, sign: int) -> None:
    d = core.dur[j]
    if not d or not core.uses[j]:
        return
    if len(avail[0]) < t + d:
        extend_availability(core, avail, t + d)
    for k, r in core.uses[j]:
        row = avail[k]
        row[t : t + d] = [a + sign * r for a in row[t : t + d]]


def undisturbed_first(core: Core, order: list[int], wanted: list[int | None], es: list[int]) -> list[int]:
    """`order` with the tasks the news cannot push placed first: the repair a planner makes by hand.

    Disturbed: a task without a preferred start, or whose preferred start is now too early (a
    slipped predecessor, a later release), or whose old slot no longer fits beside what the
    facts hold (a running task that needs longer keeps its people longer) and the tasks kept
    before it, and every task downstream of one. The others come first, in their previous order, so they take back
    their old slots before a pushed task can claim them; decoding the plain previous order
    instead lets each pushed task take the next one's slot, and a slip cascades through the
    resources. Precedence-feasible: a task downstream of a disturbed one is disturbed itself.
    """
    # in the previous order, each task keeps its old slot if its links still allow it and it fits beside
    # the facts (what started and finished tasks hold) and the tasks kept before it; the rest is disturbed
    avail = fresh_availability(core)
    disturbed = [False] * core.n
    for j in order:
        if core.fixed[j] is not None:
            continue
        want = wanted[j]
        if (want is None or want < es[j] or any(disturbed[i] for i, _ in core.pred[j])
                or not _fits(core, avail, core.uses[j], want, core.dur[j])):
            disturbed[j] = True
        else:
            _book(core, avail, j, want, -1)
    return [j for j in order if not disturbed[j]] + [j for j in order if disturbed[j]]


@dataclass(frozen=True)
class StabilityOutcome:
    start: list[int]
    score: tuple  # (violation, objective, moved, hours moved)
    solver_score: tuple  # the same for the solver's schedule
    seconds: float
    generations: int


def moved_of(core: Core, preferred: list[int | None], start: list[int]) -> tuple[int, int]:
    """(activities not at their preferred start, total hours between them and it); fixed ones never move."""
    count = hours = 0
    for j in range(core.n):
        want = preferred[j]
        if want is None or core.fixed[j] is not None or start[j] == want:
            continue
        count += 1
        hours += abs(start[j] - want)
    return count, hours


def stabilize(core: Core, objective: Callable[[list[int]], tuple], preferred: Mapping[str, int],
              incumbent: list[int], *, seconds: float, seed: int = 0, tolerance: float = 0.0,
              makespan_of: Callable[[float], int | None] | None = None) -> StabilityOutcome:
    """The schedule that moves the fewest activities among those no worse than `incumbent`, found in `seconds`.

    `objective(start)` is the solver's ranking as a tuple (hard violation, value). "No
    worse" means no more violation and a value at most the incumbent's plus `tolerance`
    (0: the same objective; a tolerance trades that much objective for stability). Ties go
    to fewer moved activities, then fewer hours moved. The pass stops early when it reaches
    the fewest moves that releases and precedences leave possible. `makespan_of(floor)`,
    when given, is the makespan a schedule must keep to stay within the floor (the
    objective's value itself for "makespan"): preferred starts that cannot meet it are
    not tried.
    """
    t0 = time.perf_counter()
    wanted: list[int | None] = [preferred.get(key) for key in core.keys]
    _, value = objective(incumbent)
    floor = value + tolerance

    def rank(start: list[int]) -> tuple:
        over, worth = objective(start)
        return (over, max(worth, floor))  # everything within the tolerance counts as equal

    def score(start: list[int]) -> tuple:
        return (*rank(start), *moved_of(core, wanted, start))

    # moves no schedule avoids: a preferred start before what releases and precedences allow
    es = core.earliest_starts()
    forced = [(w, es[j]) for j, w in enumerate(wanted) if w is not None and core.fixed[j] is None and w < es[j]]
    target = (0, floor, len(forced), sum(e - w for w, e in forced))
    horizon = makespan_of(floor) if makespan_of is not None else None
    latest = core.latest_starts(int(horizon)) if horizon is not None else None
    ga = GeneticSearch(core, fresh_availability(core), seed=seed, score=score, justified=False, population=POPULATION,
                       sgs=partial(preferred_sgs, preferred=wanted, latest=latest))
    warm = initial_order(core, {key: value for key, value in preferred.items() if key in core.index})
    by_incumbent = initial_order(core, dict(zip(core.keys, incumbent, strict=True)))
    best = ga.seed_orders([warm, by_incumbent, undisturbed_first(core, warm, wanted, es)])
    if best.makespan > target and seconds > 0:
        best = ga.run(seconds, target, stall_seconds=STALL_SHARE * seconds)
    solver_score = score(incumbent)
    until = t0 + max(seconds, 0.0) + PULL_BACK_SECONDS
    candidates = [pull_back(core, start, wanted, rank, until) for start in (best.start, incumbent)]
    chosen = min(candidates + [best.start, incumbent], key=score)
    return StabilityOutcome(list(chosen), score(chosen), solver_score, time.perf_counter() - t0, ga.generations)
