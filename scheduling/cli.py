"""``solve-psplib`` command: solve PSPLIB files, one JSON object per line per instance."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .model import ProblemError
from .psplib import PsplibFormatError, parse_psplib
from .solve import SOLVERS, solve
from .verify import verify_schedule


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="solve-psplib", description="Solve PSPLIB .sm instances (RCPSP).")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="S", help="seconds per instance (default 10)")
    p.add_argument("--solver", choices=SOLVERS, default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one JSON object per line per instance")
    p.add_argument("--check", action="store_true", help="verify every schedule; exit 1 on a violation")
    return p


def solve_psplib_main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    if not args.time_limit > 0:
        print("solve-psplib: error: --time-limit must be > 0", file=sys.stderr)
        return 2
    # read every file first, so a bad file fails fast instead of after hours of solving
    problems = []
    for path in args.files:
        try:
            problems.append((path, parse_psplib(path)))
        except PsplibFormatError as exc:  # its message starts with the path
            print(f"solve-psplib: error: {exc}", file=sys.stderr)
            return 2
        except ProblemError as exc:
            print(f"solve-psplib: error: {path}: {exc}", file=sys.stderr)
            return 2
    status = 0
    for path, data in problems:
        res = solve(data, time_limit=args.time_limit, solver=args.solver, seed=args.seed)
        record = {
            "instance": path.name,
            "makespan": res.makespan,
            "lower_bound": res.lower_bound,
            "status": res.status.value,
            "seconds": round(res.seconds, 3),
            "solver": res.method,
            "starts": res.starts,
        }
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(
                f"{path.name}: makespan {res.makespan} (lower bound {res.lower_bound}, {res.status.value}, "
                f"{res.seconds:.2f} s, {res.method})",
                flush=True,
            )
        if args.check:
            violations = verify_schedule(data, res.starts)
            for line in violations:
                print(f"solve-psplib: {path.name}: {line}", file=sys.stderr)
            if violations:
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(solve_psplib_main(sys.argv[1:]))
