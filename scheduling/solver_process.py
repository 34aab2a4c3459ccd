"""Run one MILP in a child process with a wall-clock bound we enforce ourselves.

PuLP's bundled CBC does not always honour its own time limit, so the parent
waits at most the budget plus a small grace and then kills the child's whole
process group (the Python worker and any solver binary it started).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .core import Core
from .milp import Windows

GRACE_SECONDS = 0.3  # past the solver's own limit before we kill it
WORKER_COMMAND = [sys.executable, "-m", "scheduling.milp_worker"]


@dataclass
class MilpOutcome:
    status: str  # optimal | infeasible | feasible | timeout | killed | error
    starts: list[int] | None
    bound: float | None
    seconds: float
    detail: str = ""
    rows: int = 0
    columns: int = 0


def highs_available() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(solver: str) -> tuple[str, str]:
    """The MILP backend for ``solver`` ("auto", "highs" or "cbc") and a note when it had to differ."""
    if solver == "auto":
        return ("highs" if highs_available() else "cbc"), ""
    if solver == "highs" and not highs_available():
        return "cbc", "highspy not installed; used CBC"
    return solver, ""


def run_milp(
    core: Core,
    windows: Windows,
    *,
    backend: str,
    time_limit: float,
    seed: int = 0,
    objective: str = "makespan",
    warm_start: list[int] | None = None,
) -> MilpOutcome:
    """Solve in a child; never raises, never outlives ``time_limit + GRACE_SECONDS`` by much.

    ``objective`` selects the model's objective (see ``TimeIndexedModel``); ``bound``
    is then a lower bound on that objective. ``warm_start`` (start times) is handed to
    the solver as a MIP start when the model contains that schedule.
    """
    import time

    t0 = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="sched-milp-")
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    stop_at = time.time() + time_limit
    request = pickle.dumps(
        {
            "core": core,
            "windows": windows,
            "backend": backend,
            "stop_at": stop_at,
            "seed": seed,
            "workdir": workdir,
            "objective": objective,
            "warm_start": warm_start,
        }
    )
    proc = None
    try:
        proc = subprocess.Popen(
            WORKER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,  # own process group: one kill reaches CBC too
        )
        try:
            out, err = proc.communicate(request, timeout=max(time_limit, 0.0) + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return MilpOutcome(
                "killed", None, None, time.perf_counter() - t0, "solver exceeded its time limit and was stopped"
            )
        reply_path = Path(workdir) / "reply.pickle"
        if proc.returncode != 0 or not reply_path.exists():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            return MilpOutcome(
                "error",
                None,
                None,
                time.perf_counter() - t0,
                f"solver process exit {proc.returncode}: {' '.join(tail)}",
            )
        reply = pickle.loads(reply_path.read_bytes())
        return MilpOutcome(
            reply["status"],
            reply["starts"],
            reply["bound"],
            time.perf_counter() - t0,
            reply.get("raw_status", ""),
            reply.get("rows", 0),
            reply.get("columns", 0),
        )
    except Exception as exc:  # a solver failure must never reach the user
        if proc is not None and proc.poll() is None:
            _kill_group(proc)
        return MilpOutcome("error", None, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
