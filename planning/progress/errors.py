"""The progress package's input error and the checks its dataclasses share."""

from __future__ import annotations

import math

from planning.errors import PlanningError


class ProgressError(PlanningError):
    """A baseline, progress report or argument is not valid; `field` names the offending part."""


def check_number(value: object, field: str, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    """`value` as a float, or ProgressError naming `field` if it is not a finite number in range."""
    # bool is an int subclass: True as 1 % complete is a caller's bug, not a value.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProgressError(f"{field} must be a finite number, got {value!r}", field)
    if value < minimum or (maximum is not None and value > maximum):
        limits = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise ProgressError(f"{field} must be {limits}, got {value!r}", field)
    return float(value)


def check_optional(value: object, field: str, *, minimum: float = 0.0) -> float | None:
    """None stays None (not reported); anything else must pass `check_number`."""
    return None if value is None else check_number(value, field, minimum=minimum)


def check_id(value: object, field: str) -> str:
    """A non-empty string id."""
    if not isinstance(value, str) or not value:
        raise ProgressError(f"{field} must be a non-empty string, got {value!r}", field)
    return value
