"""The replanning package's input error."""

from __future__ import annotations

from planning.errors import PlanningError


class ReplanError(PlanningError):
    """A snapshot, progress report, schedule or argument a replan cannot use; `field` names the part."""
