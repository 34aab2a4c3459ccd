"""What is known of one task's execution: status, percent complete, actuals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planning.progress.errors import ProgressError, check_id, check_number, check_optional

STATUSES = ("not_started", "in_progress", "completed", "blocked", "failed")
TROUBLE = frozenset({"blocked", "failed"})


@dataclass(frozen=True)
class TaskProgress:
    """One task's reported state; `None` means "not reported", never zero.

    Actual hours and times are working hours (actual_*_hours from the project start).
    A completed task earns its whole value whatever `percent_complete` says: the status is
    the firmer report (a row may be closed without its percentage being updated).
    """

    task_id: str
    status: str = "not_started"
    percent_complete: float = 0.0
    actual_cost: float | None = None
    actual_start_hours: float | None = None
    actual_finish_hours: float | None = None
    remaining_hours: float | None = None
    actual_hours: float | None = None  # working hours spent: the AC of an hours baseline

    def __post_init__(self) -> None:
        check_id(self.task_id, "task_id")
        if self.status not in STATUSES:
            raise ProgressError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}", "status")
        set_ = object.__setattr__
        set_(self, "percent_complete", check_number(self.percent_complete, "percent_complete", maximum=100.0))
        for name in ("actual_cost", "actual_start_hours", "remaining_hours", "actual_hours"):
            set_(self, name, check_optional(getattr(self, name), name))
        set_(self, "actual_finish_hours", check_optional(self.actual_finish_hours, "actual_finish_hours",
                                                         minimum=self.actual_start_hours or 0.0))

    @property
    def fraction(self) -> float:
        """Share of the task's value earned, 0..1."""
        return 1.0 if self.status == "completed" else self.percent_complete / 100.0

    @property
    def done(self) -> bool:
        return self.fraction >= 1.0

    @classmethod
    def from_dict(cls, task_id: str, data: Mapping[str, Any]) -> TaskProgress:
        """From a JSON object with the field names above; errors name `progress.<task_id>.<field>`."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__) - {"task_id"})
        if unknown:
            raise ProgressError(f"unknown field(s): {', '.join(unknown)}", f"progress.{task_id}.{unknown[0]}")
        try:
            return cls(task_id, **{key: value for key, value in data.items() if key != "task_id"})
        except ProgressError as error:
            raise ProgressError(error.message, f"progress.{task_id}.{error.field}") from error
