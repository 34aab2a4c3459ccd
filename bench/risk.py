"""Risk assessment throughput and latency: a 50-task plan, 2,000 Monte Carlo iterations, one core.

    .venv/bin/python bench/risk.py [--tasks 50] [--iterations 2000] [--runs 1000] [--plans 8]

Each run is one full `assess_plan` (Monte Carlo, every rule, ranking, alerts) with the seed
derived from the plan, cycling over `--plans` synthetic plans: ten layers of tasks, 1–3
predecessors each from earlier layers, three resource pools (one of them a single person),
some risk tags, scheduled by a small serial schedule generator. BLAS threads are limited
to one and the process is pinned to one CPU. Prints a table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from planning.goal import Estimate, Goal, ResourcePool  # noqa: E402
from planning.network import Dependency, PlannedTask, TaskNetwork  # noqa: E402
from planning.risk import AllocationSummary, ScheduleSnapshot, assess_plan  # noqa: E402
from planning.risk.monte_carlo import resource_order_edges  # noqa: E402
from planning.settings import PlanningSettings  # noqa: E402

POOLS = {"developer": (3, 80.0), "designer": (1, 70.0), "tester": (2, 60.0)}
TAGS = ("new_technology", "integration", "security", "third_party", "compliance", "external_dependency")


def synthetic_plan(tasks: int, seed: int) -> tuple[Goal, TaskNetwork, ScheduleSnapshot, AllocationSummary]:
    """A layered network with resources and tags, scheduled serially; deadline 10 % over the makespan."""
    rnd = random.Random(seed)
    layers = 10
    planned = []
    for index in range(tasks):
        layer = index * layers // tasks
        earlier = [t.id for t in planned if int(t.id[1:]) * layers // tasks < layer]
        deps = rnd.sample(earlier, k=min(len(earlier), rnd.randint(1, 3))) if earlier else []
        most = rnd.uniform(4, 40)
        low, high = most * rnd.uniform(0.5, 0.9), most * rnd.uniform(1.2, 2.5)
        estimate = Estimate(round(low, 1), round(most, 1), round(high, 1))
        planned.append(PlannedTask(
            id=f"t{index:02d}", name=f"Task {index}", estimate=estimate,
            resources={rnd.choice(list(POOLS)): 1},
            depends_on=[Dependency(d) for d in sorted(deps)],
            risk_tags=[tag for tag in TAGS if rnd.random() < 0.06],
        ))
    network = TaskNetwork(tasks=planned)
    capacities = {k: c for k, (c, _) in POOLS.items()}
    starts, finishes = serial_schedule(planned, capacities)
    makespan = max(finishes.values())
    draft = ScheduleSnapshot(starts=starts, finishes=finishes, total_float={}, critical_path=[], makespan=makespan,
                             capacities=capacities, deadline_hours=int(makespan * 1.1))
    floats = total_float(planned, draft)
    snapshot = replace(draft, total_float=floats, critical_path=[t for t in starts if floats[t] == 0])
    cost = sum(t.duration_hours * POOLS[r][1] for t in planned for r in t.resources)
    goal = Goal(title="Synthetic plan", start=date(2026, 12, 1), budget=round(cost * 1.05, 2),
                resources=tuple(ResourcePool(k, c, rate) for k, (c, rate) in POOLS.items()),
                components=("web", "api", "db"))
    return goal, network, snapshot, AllocationSummary(total_cost=cost, budget=goal.budget)


def serial_schedule(tasks: list[PlannedTask], capacities: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Serial schedule generation: each task (in list order, which is topological) at its earliest feasible hour."""
    horizon = sum(t.duration_hours for t in tasks) + 1
    usage = {r: np.zeros(horizon, dtype=int) for r in capacities}
    starts: dict[str, int] = {}
    finishes: dict[str, int] = {}
    for task in tasks:
        t = max((finishes[d.task_id] for d in task.depends_on), default=0)
        duration = task.duration_hours
        while any((usage[r][t:t + duration] + units > capacities[r]).any() for r, units in task.resources.items()):
            t += 1
        for r, units in task.resources.items():
            usage[r][t:t + duration] += units
        starts[task.id], finishes[task.id] = t, t + duration
    return starts, finishes


def total_float(tasks: list[PlannedTask], snapshot: ScheduleSnapshot) -> dict[str, int]:
    """Total float over the precedence links and the schedule's resource order."""
    successors: dict[str, list[str]] = {t.id: [] for t in tasks}
    for task in tasks:
        for dep in task.depends_on:
            successors[dep.task_id].append(task.id)
    for before, after, _ in resource_order_edges(tasks, snapshot)[0]:
        successors[before].append(after)
    duration = {t.id: t.duration_hours for t in tasks}
    late_finish = {t.id: snapshot.makespan for t in tasks}
    for task in sorted(tasks, key=lambda t: -snapshot.starts[t.id]):
        for succ in successors[task.id]:
            late_finish[task.id] = min(late_finish[task.id], late_finish[succ] - duration[succ])
    return {t.id: late_finish[t.id] - snapshot.finishes[t.id] for t in tasks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--plans", type=int, default=8)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    settings = PlanningSettings(monte_carlo_iterations=args.iterations)
    plans = [synthetic_plan(args.tasks, seed) for seed in range(args.plans)]
    for plan in plans:  # warm-up: imports, the beta-PERT table, caches
        assess_plan(*plan, settings)
    latencies = []
    started = time.perf_counter()
    for run in range(args.runs):
        plan = plans[run % len(plans)]
        t0 = time.perf_counter()
        assess_plan(*plan, settings)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    sample = assess_plan(*plans[0], settings)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3

    rows = [
        ("tasks per plan", f"{args.tasks}"),
        ("Monte Carlo iterations", f"{args.iterations}"),
        ("runs (plans cycled)", f"{args.runs} ({args.plans})"),
        ("assessments per second", f"{args.runs / elapsed:.0f}"),
        ("latency mean (ms)", f"{statistics.fmean(latencies) * 1e3:.2f}"),
        ("latency p50 (ms)", f"{pct(0.50):.2f}"),
        ("latency p99 (ms)", f"{pct(0.99):.2f}"),
        ("latency max (ms)", f"{latencies[-1] * 1e3:.2f}"),
        ("risks found (plan 0)", f"{len(sample.risks)}"),
        ("resource-order edges (plan 0)", f"{len(sample.schedule_risk.resource_edges)}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"Risk assessment on one core - Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
