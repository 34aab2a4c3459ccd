"""Pure scheduling engine: CPM, resource-constrained scheduling (heuristics + PuLP MILP), calendars.

Imports nothing from the web or worker layers; numpy/pulp only (highspy when present).
"""

from .calendar import WorkCalendar
from .cpm import CpmResult, analyse_cpm
from .model import Activity, Precedence, ProblemData, ProblemError, Resource
from .result import SolveResult, SolveStatus
from .solve import solve
from .verify import verify_schedule

__all__ = [
    "Activity",
    "CpmResult",
    "Precedence",
    "ProblemData",
    "ProblemError",
    "Resource",
    "SolveResult",
    "SolveStatus",
    "WorkCalendar",
    "analyse_cpm",
    "solve",
    "verify_schedule",
]
