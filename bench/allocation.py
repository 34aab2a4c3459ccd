"""Allocation-stage time for 50 and 500 tasks, and cached/uncached Layer 8 availability latency.

    .venv/bin/python bench/allocation.py [--sizes 50 500] [--runs 20] [--calls 300]

Allocation: `allocate_with_sources` (sources merged, conflicts found and resolved, cost,
budget and recommendations) on seeded synthetic networks: ten layers of tasks, 1-3
predecessors each from earlier layers, one of four pool types per task (a senior pool
that may stand in for engineers, one designer), pools from the local set and a Layer 8
answer with a two-day dip in engineer availability, capacities scaled with the size
(x10 for 500 tasks); the median and worst of `--runs`.

Layer 8: the client against the test server of the suite (tests/layer8_server.py) on a
loopback port, `--calls` availability queries each: uncached (the cache emptied before
each call, so every call is an HTTP round trip on a pooled keep-alive connection) and
cached (served from the TTL cache). Prints a table.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.layer8 import Layer8Client  # noqa: E402
from planning.allocation import allocate_with_sources  # noqa: E402
from planning.goal import Estimate, Goal  # noqa: E402
from planning.network import Dependency, PlannedTask, TaskNetwork  # noqa: E402
from planning.settings import PlanningSettings  # noqa: E402
from tests.layer8_server import Layer8TestServer  # noqa: E402

START = date(2027, 1, 4)
TYPES = ("engineer", "engineer", "qa", "designer")
LOCAL = [
    {"type": "engineer", "capacity": 4, "cost_rate": 85.0, "rate_unit": "hour", "currency": "EUR",
     "hours_per_day": 8, "substitutes": []},
    {"type": "qa", "capacity": 2, "cost_rate": 60.0, "rate_unit": "hour", "currency": "EUR",
     "hours_per_day": 8, "substitutes": []},
    {"type": "designer", "capacity": 1, "cost_rate": 560.0, "rate_unit": "day", "currency": "EUR",
     "hours_per_day": 8, "substitutes": []},
]


def synthetic(tasks: int, seed: int) -> tuple[Goal, TaskNetwork, dict]:
    rnd = random.Random(seed)
    layers = 10
    planned: list[PlannedTask] = []
    for index in range(tasks):
        layer = index * layers // tasks
        earlier = [t.id for t in planned if int(t.id[1:]) * layers // tasks < layer]
        deps = rnd.sample(earlier, k=min(len(earlier), rnd.randint(1, 3))) if earlier else []
        most = rnd.uniform(4, 40)
        planned.append(PlannedTask(
            id=f"t{index:03d}", name=f"Task {index}",
            estimate=Estimate(round(most * 0.7, 1), round(most, 1), round(most * 1.8, 1)),
            resources={rnd.choice(TYPES): rnd.choice((1, 1, 1, 2))},
            depends_on=[Dependency(d) for d in sorted(deps)],
        ))
    goal = Goal(title=f"synthetic {tasks}", start=START, deadline=START + timedelta(days=tasks * 2),
                budget=tasks * 2500.0, currency="EUR")
    horizon_end = START + timedelta(days=tasks * 3)
    layer8 = {"from": START.isoformat(), "to": horizon_end.isoformat(), "resources": [
        {"type": "senior_engineer", "capacity": 2, "cost_rate": 110.0, "rate_unit": "hour", "currency": "EUR",
         "hours_per_day": 8, "substitutes": ["engineer"],
         "periods": [{"from": START.isoformat(), "to": horizon_end.isoformat(), "available": 2}]},
        {"type": "engineer", "capacity": 5, "cost_rate": 80.0, "rate_unit": "hour", "currency": "EUR",
         "hours_per_day": 8, "substitutes": [],
         "periods": [{"from": START.isoformat(), "to": (START + timedelta(days=7)).isoformat(), "available": 5},
                     {"from": (START + timedelta(days=8)).isoformat(), "to": (START + timedelta(days=9)).isoformat(),
                      "available": 1},
                     {"from": (START + timedelta(days=10)).isoformat(), "to": horizon_end.isoformat(),
                      "available": 5}]},
    ]}
    return goal, TaskNetwork(tasks=planned), layer8


def time_allocation(size: int, runs: int, settings: PlanningSettings) -> dict:
    goal, network, layer8 = synthetic(size, seed=size)
    scale = max(1, size // 50)  # ten times the work, ten times the people: the project stays plausible
    local = [{**pool, "capacity": pool["capacity"] * scale} for pool in LOCAL]
    for entry in layer8["resources"]:
        entry["capacity"] *= scale
        for period in entry["periods"]:
            period["available"] *= scale
    seconds = []
    result = {}
    for _ in range(runs):
        started = time.perf_counter()
        result = allocate_with_sources(goal, network, settings, local_pools=local, layer8=layer8)
        seconds.append(time.perf_counter() - started)
    return {"median_ms": statistics.median(seconds) * 1000, "max_ms": max(seconds) * 1000,
            "conflicts": len(result["conflicts"]),
            "substituted": len(result["levelled"]["outcomes"].get("substituted", [])),
            "requests": len(result["requests"]), "shortfalls": len(result["shortfalls"]),
            "recommendations": len(result["recommendations"])}


def time_layer8(calls: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"uncached": [], "cached": []}
    with Layer8TestServer() as server:
        client = Layer8Client(server.url, timeout=2.0, cache_ttl=300)
        end = START + timedelta(days=60)
        client.availability(["engineer", "qa"], START, end)  # open the pooled connection
        for _ in range(calls):
            client.cache.clear()
            started = time.perf_counter()
            client.availability(["engineer", "qa"], START, end)
            out["uncached"].append(time.perf_counter() - started)
        for _ in range(calls):
            started = time.perf_counter()
            answer = client.availability(["engineer", "qa"], START, end)
            out["cached"].append(time.perf_counter() - started)
            assert answer["cached"]
        client.close()
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    settings = PlanningSettings()
    print(f"# {date.today()} {platform.machine()} Python {platform.python_version()}")
    print()
    print("| tasks | median ms | max ms | conflicts | substituted | requests | shortfalls | recommendations |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        row = time_allocation(size, args.runs, settings)
        print(f"| {size} | {row['median_ms']:.1f} | {row['max_ms']:.1f} | {row['conflicts']} | {row['substituted']} "
              f"| {row['requests']} | {row['shortfalls']} | {row['recommendations']} |")
    print()
    latency = time_layer8(args.calls)
    print("| Layer 8 availability | calls | median ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in latency.items():
        print(f"| {name} | {len(values)} | {statistics.median(values) * 1000:.3f} | "
              f"{percentile(values, 0.95) * 1000:.3f} | {max(values) * 1000:.3f} |")


if __name__ == "__main__":
    main()
