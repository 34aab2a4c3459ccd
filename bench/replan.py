"""Replanning an executing plan: time and stability of the warm, stable replan against planning from scratch.

    .venv/bin/python bench/replan.py [--tasks 200] [--seed 7] [--done 0.3] [--slip 24] [--limits 10,1]
                                     [--tolerance 8]

A seeded random plan (ten layers of tasks, 1-3 predecessors each from earlier layers, 4-40
working hours, three pools) is scheduled once at the service's default 10 s limit. At the
status date about `--done` of the tasks have finished, exactly as planned; the rest of the
progress is on plan too, except one running critical task that needs `--slip` more hours.
The remaining work is then replanned with `replan_schedule` at each limit, warm (previous
schedule as the starting solution plus the stability pass) and from scratch (the solver
alone on the same problem), and warm with a stability tolerance (`--tolerance` hours of
makespan traded for fewer moves). "moved" counts unfinished tasks whose dates changed (a
running task by its finish), "hours moved" sums their shifts; "forced" is how many must
move whatever the schedule (their previous start is before what the slip and the links now
allow, resources aside). Prints a table.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.progress.status import TaskProgress  # noqa: E402
from planning.replanning import replan_input, replan_schedule  # noqa: E402
from scheduling import Activity, Precedence, ProblemData, Resource, analyse_cpm, solve, verify_schedule  # noqa: E402

POOLS = {"developer": 6, "designer": 2, "tester": 4}


def random_plan(tasks: int, seed: int) -> ProblemData:
    rnd = random.Random(seed)
    layers = 10
    acts, precs = [], []
    for index in range(tasks):
        layer = index * layers // tasks
        earlier = [i for i in range(index) if i * layers // tasks < layer]
        for pred in sorted(rnd.sample(earlier, k=min(len(earlier), rnd.randint(1, 3))) if earlier else []):
            precs.append(Precedence(f"t{pred:03d}", f"t{index:03d}"))
        pool = rnd.choices(list(POOLS), weights=(5, 1, 2))[0]
        acts.append(Activity(f"t{index:03d}", rnd.randint(4, 40), {pool: rnd.randint(1, 2)}))
    return ProblemData(acts, [Resource(name, units) for name, units in POOLS.items()], precs)


def executing(data: ProblemData, starts: dict[str, int], done: float, slip: int):
    finishes = sorted(starts[a.key] + a.duration for a in data.activities)
    status = finishes[int(done * len(finishes))]
    progress = {}
    for a in data.activities:
        start, finish = starts[a.key], starts[a.key] + a.duration
        if finish <= status:
            progress[a.key] = TaskProgress(a.key, "completed", 100, actual_start_hours=start,
                                           actual_finish_hours=finish)
        elif start < status:
            progress[a.key] = TaskProgress(a.key, "in_progress", 100 * (status - start) / a.duration,
                                           actual_start_hours=start, remaining_hours=finish - status)
    critical = analyse_cpm(data, starts=starts).critical
    running = sorted(k for k, p in progress.items() if p.status == "in_progress")
    late = next((k for k in running if critical[k]), running[0])
    report = progress[late]
    progress[late] = TaskProgress(late, "in_progress", report.percent_complete / 2,
                                  actual_start_hours=report.actual_start_hours,
                                  remaining_hours=report.remaining_hours + slip)
    return status, progress, late, bool(critical[late])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--done", type=float, default=0.3)
    parser.add_argument("--slip", type=int, default=24)
    parser.add_argument("--limits", default="10,1")
    parser.add_argument("--tolerance", type=float, default=8.0)
    args = parser.parse_args()
    data = random_plan(args.tasks, args.seed)
    t0 = time.perf_counter()
    first = solve(data, time_limit=10, seed=args.seed)
    plan_seconds = time.perf_counter() - t0
    previous = {"tasks": {a.key: {"start": first.starts[a.key], "finish": first.starts[a.key] + a.duration}
                          for a in data.activities}}
    status, progress, late, critical = executing(data, first.starts, args.done, args.slip)
    replan = replan_input(previous, data, progress, status)
    states = list(replan.states.values())
    core = replan.data.core
    es = core.earliest_starts()
    forced = sum(1 for j, key in enumerate(core.keys)
                 if core.fixed[j] is None and key in replan.preferred and replan.preferred[key] < es[j])
    print(f"plan: {args.tasks} tasks, seed {args.seed}, makespan {first.makespan} h ({first.status.name.lower()}, "
          f"{plan_seconds:.1f} s); status date {status} h: {states.count('completed')} completed, "
          f"{states.count('in_progress')} in progress, {states.count('not_started')} not started; "
          f"{late} ({'critical' if critical else 'not critical'}) needs {args.slip} h more; "
          f"forced moves {forced} (+{late})")
    print(f"python {platform.python_version()}, {platform.machine()}")
    print()
    print(f"| {'replan':<16} | {'limit s':>7} | {'wall s':>6} | {'makespan h':>10} | {'status':<9} | "
          f"{'moved':>5} | {'hours moved':>11} |")
    print(f"|{'-' * 18}|{'-' * 8}:|{'-' * 7}:|{'-' * 11}:|{'-' * 11}|{'-' * 6}:|{'-' * 12}:|")
    modes = (("warm+stable", True, 0.0), (f"warm, tol {args.tolerance:g} h", True, args.tolerance),
             ("from scratch", False, 0.0))
    for limit in (float(x) for x in args.limits.split(",")):
        for name, warm, tolerance in modes:
            t0 = time.perf_counter()
            result = replan_schedule(replan, time_limit=limit, seed=args.seed, warm_start=warm,
                                     stability_tolerance=tolerance)
            wall = time.perf_counter() - t0
            assert verify_schedule(replan.data, result.starts) == []
            hours = sum(abs(v) for v in result.moved.values())
            print(f"| {name:<16} | {limit:>7g} | {wall:>6.2f} | {result.schedule['makespan_hours']:>10} | "
                  f"{result.schedule['solver']['status']:<9} | {result.moved_count:>5} | {hours:>11} |")

if __name__ == "__main__":
    main()
