"""Backend-independent solve result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SolveStatus(enum.Enum):
    OPTIMAL = "optimal"  # valid schedule, proven optimal
    FEASIBLE = "feasible"  # valid schedule, search ended without a proof
    TIMED_OUT = "timed_out"  # valid schedule, the time limit stopped the search before a proof
    INFEASIBLE = "infeasible"  # no schedule meets the hard constraints (deadlines); starts are best effort


@dataclass
class SolveResult:
    status: SolveStatus
    starts: dict[str, int]
    makespan: int
    lower_bound: int | float  # proven bound on the objective: an int for makespan and integral weights or costs
    gap: float  # (objective - bound) / objective, 0 when proven
    seconds: float
    method: str  # e.g. "ga", "ga+cbc", "ga+highs", "bound"
    objective: float
    message: str = ""
    stats: dict[str, float] = field(default_factory=dict)
    guards: list[str] = field(default_factory=list)  # size guards that chose a cheaper method (scheduling/guards.py)

    @property
    def proven_optimal(self) -> bool:
        return self.status is SolveStatus.OPTIMAL
