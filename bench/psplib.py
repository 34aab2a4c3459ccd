"""PSPLIB benchmark for the scheduling engine; prints a table (never run as a test).

Examples:
    nice -n 10 .venv/bin/python bench/psplib.py j30 --time-limit 10
    nice -n 10 .venv/bin/python bench/psplib.py j30 --time-limit 1 --heuristic-only
    nice -n 10 .venv/bin/python bench/psplib.py j60 --time-limit 10 --limit 20
    .venv/bin/python bench/psplib.py j30 --instances bench/j30-hard.txt --jobs 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduling import solve, verify_schedule  # noqa: E402
from scheduling.bounds import critical_path_bound  # noqa: E402
from scheduling.psplib import instance_id, parse_psplib, read_best_known_table, read_optimum_table  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "psplib"


def _run_one(args: tuple[str, float, str, int]) -> dict:
    path, time_limit, solver, seed = args
    data = parse_psplib(path)
    t0 = time.perf_counter()
    res = solve(data, time_limit=time_limit, solver=solver, seed=seed)
    wall = time.perf_counter() - t0
    return {
        "instance": Path(path).name,
        "makespan": res.makespan,
        "lower_bound": res.lower_bound,
        "status": res.status.value,
        "seconds": wall,
        "method": res.method,
        "cp_bound": critical_path_bound(data.core),
        "violations": len(verify_schedule(data, res.starts)),
        "milp_seconds": round(res.stats.get("milp_seconds", 0.0), 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("set", nargs="?", choices=["j30", "j60"], help="instance set (or --set)")
    p.add_argument("--set", dest="set_option", choices=["j30", "j60"])
    p.add_argument("--time-limit", type=float, default=10.0)
    p.add_argument("--limit", type=int, default=0, help="first N instances in (parameter, instance) order")
    p.add_argument("--every", type=int, default=1, help="take every k-th instance (a spread subset)")
    p.add_argument("--instances", type=Path, help="file naming the instances to run, one a line (bench/j30-hard.txt)")
    p.add_argument("--heuristic-only", action="store_true")
    p.add_argument("--solver", default="auto")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, help="write one JSON line per instance here")
    args = p.parse_args(argv)

    args.set = args.set_option or args.set or "j30"
    solver = "heuristic" if args.heuristic_only else args.solver
    files = sorted((args.data / args.set).glob("*.sm"), key=lambda f: instance_id(f) or (0, 0))
    if args.instances:
        wanted = {line.strip() for line in args.instances.read_text().splitlines() if line.strip()}
        files = [f for f in files if f.name in wanted or f.stem in wanted]
    files = files[:: args.every]
    if args.limit:
        files = files[: args.limit]
    if args.set == "j30":
        reference = read_optimum_table(args.data / "j30opt.sm")
    else:
        reference = read_best_known_table(args.data / "j60hrs.sm")
    work = [(str(f), args.time_limit, solver, args.seed) for f in files]
    rows = []
    out = args.out.open("w") if args.out else None
    t_start = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = pool.map(_run_one, work)
            for row in results:
                rows.append(row)
                if out:
                    out.write(json.dumps(row) + "\n")
    else:
        for item in work:
            row = _run_one(item)
            rows.append(row)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
            print(
                f"{row['instance']:<14} ms={row['makespan']:<4} ref={reference[instance_id(item[0])]:<4} "
                f"lb={row['lower_bound']:<4} "
                f"{row['status']:<10} {row['seconds']:6.2f}s",
                file=sys.stderr,
                flush=True,
            )
    for row in rows:
        row["reference"] = reference[instance_id(row["instance"])]
    print_table(args.set, solver, args.time_limit, rows, time.perf_counter() - t_start)
    return 1 if any(r["violations"] for r in rows) else 0


def print_table(name: str, solver: str, time_limit: float, rows: list[dict], total: float) -> None:
    n = len(rows)
    dev = [100.0 * (r["makespan"] - r["reference"]) / r["reference"] for r in rows]
    secs = [r["seconds"] for r in rows]
    label = "heuristic alone" if solver == "heuristic" else f"engine ({solver})"
    ref_name = "optimum" if name == "j30" else "best known"
    print(f"\n{name}: {n} instances, {time_limit:g} s limit, {label}, wall {total:.0f} s")
    print(
        "| method | instances | equal to reference | better than reference | proven optimal | "
        f"mean dev. from {ref_name} | max dev. | mean dev. from CP LB | mean s | median s | max s | invalid |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    cp_dev = [100.0 * (r["makespan"] - r["cp_bound"]) / r["cp_bound"] for r in rows]
    print(
        f"| {label} | {n} | {sum(r['makespan'] == r['reference'] for r in rows)} | "
        f"{sum(r['makespan'] < r['reference'] for r in rows)} | {sum(r['status'] == 'optimal' for r in rows)} | "
        f"{statistics.mean(dev):.3f} % | {max(dev):.2f} % | {statistics.mean(cp_dev):.2f} % | "
        f"{statistics.mean(secs):.2f} | {statistics.median(secs):.2f} | {max(secs):.2f} | "
        f"{sum(r['violations'] > 0 for r in rows)} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
