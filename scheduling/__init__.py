"""Pure scheduling engine: CPM, resource-constrained scheduling (heuristics + PuLP MILP), calendars.

Imports nothing from the web or worker layers; numpy/pulp only (highspy when present).
Names are imported on first use (PEP 562), so `from scheduling import WorkCalendar`
does not load numpy, PuLP and HiGHS into a process that only needs dates.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "WorkCalendar": ".calendar",
    "CpmResult": ".cpm",
    "analyse_cpm": ".cpm",
    "Activity": ".model",
    "Precedence": ".model",
    "ProblemData": ".model",
    "ProblemError": ".model",
    "Resource": ".model",
    "SolveResult": ".result",
    "SolveStatus": ".result",
    "solve": ".solve",
    "verify_schedule": ".verify",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'scheduling' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
