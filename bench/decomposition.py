"""Decomposition time for synthetic goals of about 20, 200 and 2,000 tasks.

    python bench/decomposition.py [--repeat 5]

Two kinds of goal per size: a domain goal (software_delivery, with as many
components as it takes to reach the size; the generic domain for the small
one) and an explicit-only goal (that many listed tasks in a random DAG with
artifacts, seeded). Each is decomposed with every strategy; the table shows
the median wall time of `decompose` (the library is loaded once, as a
worker does). The task limit is raised to 5,000 so the 2,000-task goals fit
whatever a strategy adds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.decomposition import decompose, load_domain_library  # noqa: E402
from planning.goal import STRATEGIES, Goal  # noqa: E402
from planning.settings import PlanningSettings  # noqa: E402

SIZES = (20, 200, 2000)
SETTINGS = PlanningSettings(max_tasks_per_plan=5000)


def domain_goal(library, size: int, strategy: str) -> Goal:
    """A domain goal whose hierarchical decomposition has about `size` tasks."""
    domain = "generic" if size < 40 else "software_delivery"

    def tasks_for(count: int) -> int:
        goal = Goal(
            title="probe",
            domain=domain,
            strategy="hierarchical",
            components=tuple(f"Service {i}" for i in range(count)),
        )
        return len(decompose(goal, SETTINGS, library).tasks)

    one, per_component = tasks_for(1), tasks_for(2) - tasks_for(1)  # growth is linear in components
    count = max(1, round((size - one) / per_component) + 1)
    return Goal(
        title=f"Synthetic {size}",
        domain=domain,
        strategy=strategy,
        components=tuple(f"Service {i}" for i in range(count)),
        deadline="2027-12-31",
    )


def explicit_goal(size: int, strategy: str, seed: int = 7) -> Goal:
    rng = random.Random(seed)
    tasks = []
    for index in range(size):
        deps = sorted({f"t{rng.randrange(index)}" for _ in range(rng.randint(0, 3))}) if index else []
        low = rng.randint(2, 16)
        task = {
            "id": f"t{index}",
            "name": rng.choice(["Implement feature", "Write tests", "Design screen", "Load test", "Review", "Deploy"])
            + f" {index}",
            "depends_on": deps,
            "estimate": {"optimistic": low, "most_likely": low * 2, "pessimistic": low * 4},
            "resources": {"engineer": 1},
            "outputs": [f"a{index}"],
        }
        if index > 10 and rng.random() < 0.3:
            task["inputs"] = [f"a{rng.randrange(index - 10, index)}"]
        tasks.append(task)
    return Goal.from_dict(
        {
            "title": f"Explicit {size}",
            "strategy": strategy,
            "deadline": "2027-12-31",
            "resources": [{"type": "engineer", "capacity": 8, "cost_per_hour": 90}],
            "tasks": tasks,
        }
    )


def timed(goal: Goal, library, repeat: int) -> tuple[float, int]:
    samples = []
    tasks = 0
    for _ in range(repeat):
        start = time.perf_counter()
        network = decompose(goal, SETTINGS, library)
        samples.append(time.perf_counter() - start)
        tasks = len(network.tasks)
    return statistics.median(samples) * 1000, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    library = load_domain_library()
    load_ms = (time.perf_counter() - start) * 1000
    print(f"Python {platform.python_version()} on {platform.machine()}; domain library loaded in {load_ms:.0f} ms")
    print()
    print("| goal | size | strategy | tasks out | median ms |")
    print("| --- | ---: | --- | ---: | ---: |")
    for size in SIZES:
        for strategy in STRATEGIES:
            ms, tasks = timed(domain_goal(library, size, strategy), library, args.repeat)
            print(f"| domain | {size} | {strategy} | {tasks} | {ms:.1f} |", flush=True)
        ms, tasks = timed(explicit_goal(size, "hybrid"), library, args.repeat)
        print(f"| explicit | {size} | explicit | {tasks} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
