"""Large goals plan through the whole embedded pipeline under an address-space cap, with their size guards named.

Each goal runs in a fresh process (bench/scale.py --one: the same seeded random DAG as the
benchmark) whose address space is capped, so a regression that needs gigabytes fails here
with a MemoryError instead of swapping the machine. Time is the benchmark's business
(docs/benchmarks.md "Large projects"), not asserted here.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

SCALE = Path(__file__).resolve().parent.parent / "bench" / "scale.py"
MIB = 1024 * 1024


def _plan_capped(tasks: int, cap_mib: int, limit: float = 2.0) -> dict:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_mib * MIB, cap_mib * MIB))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # threads reserve address space
    done = subprocess.run([sys.executable, str(SCALE), "--one", str(tasks), "--limit", str(limit)],
                          capture_output=True, text=True, preexec_fn=cap, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("tasks", "cap_mib"), [(2000, 1536), (5000, 2048)])
def test_large_goal_plans_within_an_address_space_cap(tasks, cap_mib):
    """A 2,000-task goal under 1.5 GB of address space and a 5,000-task one under 2 GB plan to `ready`."""
    figures = _plan_capped(tasks, cap_mib)
    assert figures.get("error") is None and figures["status"] == "ready", figures
    assert all(seconds is not None for seconds in figures["stages"].values())
    # the cheaper methods that made it fit are named in the plan, not hidden
    assert any("size guard (schedule)" in warning for warning in figures["guards"])
    if tasks == 5000:
        assert any("size guard (risk)" in warning for warning in figures["guards"])
