"""Large projects: wall time and peak memory of planning a goal of 100 to 5,000 tasks, per stage.

    .venv/bin/python bench/scale.py [--sizes 100,500,1000,2000,5000] [--seed 11] [--shape dag|chain]
                                    [--limit 10] [--max-tasks 5000]

Each size runs in a fresh Python process (so peak RSS is that plan's alone) that plans a
seeded random goal through the embedded service (SQLite + eager Celery: every stage runs
in that process, the MILP in its child, exactly as a worker runs them). The goal: explicit
tasks in twenty layers, each with 1-3 predecessors from earlier layers, three-point
estimates of 4-40 working hours and one of four pools (developer 12, designer 3, tester 6,
ops 2). `--shape chain` makes one long chain instead (the calendar's worst case).

Columns: wall seconds from POST to the finished plan and per stage (from the stage-run
rows), peak RSS of the planning process and of its largest child (the MILP runs in a
child process), the plan document's size as served, the solver's method and status,
and the warnings that say a size guard chose a cheaper method.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POOLS = {"developer": 12, "designer": 3, "tester": 6, "ops": 2}
STAGES = ("risk", "decompose", "allocate", "schedule", "finalize", "validate")


def random_goal(tasks: int, seed: int, shape: str) -> dict:
    """A goal whose tasks form a layered random DAG (or one chain), with pools and estimates."""
    rnd = random.Random(seed)
    layers = 20
    body = []
    for index in range(tasks):
        layer = index * layers // tasks
        if shape == "chain":
            preds = [index - 1] if index else []
        else:
            lo = next((i for i in range(index) if i * layers // tasks >= layer - 2), index)
            earlier = [i for i in range(lo, index) if i * layers // tasks < layer]
            preds = sorted(rnd.sample(earlier, k=min(len(earlier), rnd.randint(1, 3)))) if earlier else []
        most = rnd.randint(4, 40)
        pool = rnd.choices(list(POOLS), weights=(6, 1, 2, 1))[0]
        body.append({
            "id": f"t{index:04d}",
            "name": f"Work package {index} ({pool})",
            "estimate": {"optimistic": max(1, most // 2), "most_likely": most, "pessimistic": most * 2},
            "resources": {pool: rnd.randint(1, 2)},
            "depends_on": [f"t{p:04d}" for p in preds],
        })
    return {
        "title": f"Scale benchmark, {tasks} tasks ({shape})",
        "start": "2027-01-04",
        "resources": [{"type": name, "capacity": cap, "cost_per_hour": 80.0} for name, cap in POOLS.items()],
        "tasks": body,
    }


def _seconds(info: dict) -> float | None:
    if not info.get("started_at") or not info.get("finished_at"):
        return None
    started = datetime.fromisoformat(info["started_at"])
    return (datetime.fromisoformat(info["finished_at"]) - started).total_seconds()


def run_one(tasks: int, seed: int, shape: str, limit: float, max_tasks: int) -> dict:
    """Plan one goal in this process and report its figures as a dict."""
    from app import create_app

    goal = json.dumps(random_goal(tasks, seed, shape)).encode()
    with tempfile.TemporaryDirectory(prefix="layer2-scale-") as workdir:
        config_file = Path(workdir) / "layer2.toml"
        config_file.write_text(f"[planning]\nmax_tasks_per_plan = {max_tasks}\n"
                               f"schedule_time_limit_seconds = {limit}\n")
        os.environ.update({"DATABASE_URL": f"sqlite:///{workdir}/plan.sqlite", "LAYER2_CONFIG_FILE": str(config_file),
                           "LAYER2_MAX_GOAL_BYTES": str(16 * 1024 * 1024)})
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ.pop("PLANNING_SCHEDULE_TIME_LIMIT", None)
        app = create_app()
        from app.cli import upgrade_database

        upgrade_database(app)
        from app.extensions import db
        from app.security.keys import create_key

        with app.app_context():  # the API asks for a key (docs/security.md): an admin key of this database
            key = create_key(session=db.session, tenant="default", role="admin", name="bench").key
            db.session.commit()
        client = app.test_client()
        client.environ_base["HTTP_X_API_KEY"] = key
        t0 = time.perf_counter()
        response = client.post("/api/v1/plans", data=goal, content_type="application/json")
        if response.status_code != 202:
            return {"tasks": tasks, "error": f"POST {response.status_code}: {response.get_data(as_text=True)[:300]}"}
        served = client.get(response.headers["Location"])
        wall = time.perf_counter() - t0
        plan = served.get_json()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    solver = plan.get("solver") or {}
    return {
        "tasks": tasks,
        "goal_kib": len(goal) / 1024,
        "status": plan.get("version_status"),
        "error": plan.get("error"),
        "wall": wall,
        "stages": {name: _seconds(info) for name, info in plan.get("stages", {}).items()},
        "rss_mib": own,
        "child_rss_mib": child,
        "plan_kib": len(served.get_data()) / 1024,
        "method": f"{solver.get('method', '-')}/{solver.get('status', '-')}",
        "gap": solver.get("gap"),
        "solve_s": solver.get("seconds"),
        "guards": [w for w in plan.get("warnings", []) if "size guard" in str(w)],
    }


def _f(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000,2000,5000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--shape", choices=("dag", "chain"), default="dag")
    parser.add_argument("--limit", type=float, default=10.0, help="schedule time limit, seconds")
    parser.add_argument("--max-tasks", type=int, default=5000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.shape, args.limit, args.max_tasks)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--seed", str(args.seed), "--shape", args.shape,
             "--limit", str(args.limit), "--max-tasks", str(args.max_tasks)],
            capture_output=True, text=True, check=False)
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            rows.append({"tasks": size, "error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"})
        else:
            rows.append(json.loads(lines[-1]))
        print(f"# {size} tasks done", file=sys.stderr, flush=True)
    machine = platform.processor() or platform.machine()
    print(f"Scale benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {machine}, "
          f"schedule limit {args.limit:g} s, shape {args.shape}, seed {args.seed}")
    head = ["tasks", "status", "wall s", *(f"{s} s" for s in STAGES), "RSS MiB", "child MiB", "plan KiB",
            "solver", "guards"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        if "wall" not in row:
            print(f"| {row['tasks']} | error: {row['error']} |")
            continue
        stages = [_f(row["stages"].get(s), 2) for s in STAGES]
        status = row["status"] if not row.get("error") else f"{row['status']}: {row['error']}"
        print(f"| {row['tasks']} | {status} | {_f(row['wall'])} | " + " | ".join(stages)
              + f" | {_f(row['rss_mib'], 0)} | {_f(row['child_rss_mib'], 0)} | {_f(row['plan_kib'], 0)} | "
              f"{row['method']} | {len(row['guards'])} |")


if __name__ == "__main__":
    main()
