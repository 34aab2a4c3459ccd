"""Child-process entry: build and solve one MILP, report the solver's own status.

Run as ``python -m scheduling.milp_worker``: a pickled request on stdin, a pickled
reply on stdout. Living in its own process (and session) lets the parent kill a
solver that ignores its time limit without taking the caller down.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import sys
import time

import pulp

from .milp import TimeIndexedModel


def _solve_highs(model: TimeIndexedModel, stop_at: float, seed: int, warm: bool = False) -> dict:
    import highspy

    class _HiGHS(pulp.HiGHS):
        # PuLP copies the model into HiGHS before running it; the limit must
        # count from the moment the search starts, so it is set at the last moment
        def callSolver(self, lp):
            if warm:  # PuLP's HiGHS bridge has no MIP start: hand the initial values over
                try:
                    start = highspy.HighsSolution()
                    values = [0.0] * lp.solverModel.getNumCol()
                    for var in lp.variables():
                        values[var.index] = float(var.varValue or 0.0)
                    start.col_value = values
                    lp.solverModel.setSolution(start)
                except Exception:  # only a hint: an older highspy simply starts without it
                    pass
            lp.solverModel.setOptionValue("time_limit", max(stop_at - time.time(), 0.05))
            super().callSolver(lp)

    solver = _HiGHS(msg=False, threads=1, gapRel=0.0, random_seed=seed)
    model.prob.solve(solver)
    h = model.prob.solverModel
    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    bound = info.mip_dual_bound
    if status == highspy.HighsModelStatus.kOptimal:
        kind = "optimal"
    elif status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        kind = "infeasible"
    elif has_solution:
        kind = "feasible"
    elif status == highspy.HighsModelStatus.kTimeLimit:
        kind = "timeout"
    else:
        kind = "error"
    return {
        "status": kind,
        "raw_status": str(status),
        "starts": model.starts() if kind in ("optimal", "feasible") else None,
        "bound": bound if bound is not None and math.isfinite(bound) else None,
    }


_CBC_RESULT = re.compile(r"Result - (.*)")
_CBC_BOUND = re.compile(r"Lower bound:\s*(-?[\d.eE+]+)")


def _solve_cbc(model: TimeIndexedModel, stop_at: float, seed: int, workdir: str, warm: bool = False) -> dict:
    log = os.path.join(workdir, "cbc.log")
    # CBC reads the MPS file first (fast at these sizes); a tenth of a second covers it
    limit = round(max(stop_at - time.time() - 0.1, 0.1), 2)
    solver = pulp.PULP_CBC_CMD(
        msg=False,
        timeLimit=limit,
        gapRel=0.0,
        logPath=log,
        options=[f"randomCbcSeed {seed + 1}"],
        **({"warmStart": True} if warm else {}),
    )
    solver.tmpDir = workdir  # own directory per solve: parallel workers never share files
    model.prob.solve(solver)
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    result = _CBC_RESULT.findall(text)
    result_line = result[-1] if result else ""
    bound_m = _CBC_BOUND.findall(text)
    # Only CBC's own words count. PuLP reads "Stopped on time - objective value"
    # as a solution even when that value is the LP relaxation's, and an absent
    # log line must never become a proof of infeasibility.
    found = "No feasible solution found" not in text and "Objective value:" in text
    has_solution = found and model.prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if result_line.startswith("Optimal"):
        kind = "optimal" if has_solution else "error"
    elif "infeasible" in result_line.lower() or (not result_line and "Problem is infeasible" in text):
        kind = "infeasible"
    elif has_solution:
        kind = "feasible"
    elif result_line.startswith("Stopped"):
        kind = "timeout"
    else:
        kind = "error"
    return {
        "status": kind,
        "raw_status": result_line or pulp.LpStatus[model.prob.status],
        "starts": model.starts() if kind in ("optimal", "feasible") else None,
        "bound": float(bound_m[-1]) if bound_m else None,
    }


def main() -> int:
    request = pickle.load(sys.stdin.buffer)
    t0 = time.perf_counter()
    model = TimeIndexedModel(request["core"], request["windows"], objective=request.get("objective", "makespan"))
    built = time.perf_counter() - t0
    stop_at = request["stop_at"]  # wall clock (time.time), shared with the parent
    # a known schedule as a MIP start (only models that contain it: not the makespan one)
    warm = request.get("warm_start") is not None and model.set_initial(request["warm_start"])
    if request["backend"] == "highs":
        reply = _solve_highs(model, stop_at, request["seed"], warm)
    else:
        reply = _solve_cbc(model, stop_at, request["seed"], request["workdir"], warm)
    if reply["bound"] is not None:
        reply["bound"] += model.objective_constant  # fixed activities' share, kept out of the model
    reply["build_seconds"] = built
    reply["solve_seconds"] = time.perf_counter() - t0 - built
    reply["rows"] = len(model.prob.constraints)
    reply["columns"] = model.columns
    # a file, not stdout: solver libraries print banners on stdout
    with open(os.path.join(request["workdir"], "reply.pickle"), "wb") as fh:
        pickle.dump(reply, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
