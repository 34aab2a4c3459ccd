"""Domain errors: bad input or an impossible plan. Never retried."""

from __future__ import annotations


class PlanningError(ValueError):
    """A goal cannot be planned as given.

    `field` names the offending part of the goal in dotted/indexed form
    (for example ``tasks[3].estimate.optimistic``) so the API can point at it.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        return {"field": self.field, "message": self.message}
