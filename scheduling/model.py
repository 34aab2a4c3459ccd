"""Problem data: activities, resources, precedences, validated on construction.

Invalid input never reaches a solver: every check runs in ``ProblemData.__post_init__``
and raises :class:`ProblemError` naming the bad activity (or resource) in ``field``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Core

PRECEDENCE_KINDS = ("FS", "SS", "FF")


class ProblemError(ValueError):
    """Invalid problem data; ``field`` names the bad activity or resource key."""

    def __init__(self, message: str, field: str, attribute: str | None = None):
        super().__init__(message)
        self.field = field
        self.attribute = attribute


@dataclass(frozen=True)
class Activity:
    """A non-preemptive activity; times are integral working-time units."""

    key: str
    duration: int
    demands: dict[str, int] = field(default_factory=dict)
    release: int = 0
    # latest finish; a hard limit, except under "weighted_tardiness" where it is a soft due date
    deadline: int | None = None
    fixed_start: int | None = None  # already started/completed: every method keeps it
    name: str = ""
    weight: float = 1.0  # cost of one time unit of lateness past ``deadline`` ("weighted_tardiness")


@dataclass(frozen=True)
class Resource:
    """A renewable resource.

    ``capacity`` holds from time 0; ``capacity_profile`` steps ``(from_time, capacity)``
    override it from ``from_time`` on (until the next step), for varying availability.
    """

    key: str
    capacity: int
    capacity_profile: list[tuple[int, int]] | None = None
    # cost of making one unit of the resource available for the project ("cost" objective:
    # the schedule pays cost_per_unit for every unit of its peak usage)
    cost_per_unit: float = 0.0

    def steps(self) -> list[tuple[int, int]]:
        """Capacity as sorted (from_time, capacity) steps starting at time 0."""
        steps = [(0, self.capacity)]
        for t, c in sorted(self.capacity_profile or []):
            if t <= 0:
                steps[0] = (0, c)
            else:
                steps.append((t, c))
        return steps

    def final_capacity(self) -> int:
        return self.steps()[-1][1]


@dataclass(frozen=True)
class Precedence:
    """pred -> succ with a minimum lag: FS finish-to-start, SS start-to-start, FF finish-to-finish."""

    pred: str
    succ: str
    kind: str = "FS"
    lag: int = 0


@dataclass(frozen=True)
class ProblemData:
    """A validated project: construction raises ProblemError on any inconsistency."""

    activities: list[Activity]
    resources: list[Resource] = field(default_factory=list)
    precedences: list[Precedence] = field(default_factory=list)

    def __post_init__(self) -> None:
        from .validate import validate

        validate(self)

    @cached_property
    def core(self) -> Core:
        """Integer-indexed arrays used by every algorithm (built once)."""
        from .core import build_core

        return build_core(self)

    def activity(self, key: str) -> Activity:
        return self.activities[self.core.index[key]]
