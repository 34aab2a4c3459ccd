"""Working-time calendar: one time unit = one working hour.

Work hour ``h`` counts from the first working hour on or after the project start
date. A start maps to the beginning of its hour; a finish maps to the end of the
last worked hour, so 8 hours from Monday 09:00 finish Monday 17:00, not Tuesday 09:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class WorkCalendar:
    hours_per_day: int = 8
    day_start_hour: int = 9
    working_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 1 <= self.hours_per_day <= 24 or not 0 <= self.day_start_hour <= 24 - self.hours_per_day:
            raise ValueError("working hours must lie within one day (1..24 hours from day_start_hour)")
        if not self.working_weekdays or not set(self.working_weekdays) <= set(range(7)):
            raise ValueError("working_weekdays must be a non-empty subset of 0..6")
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and day not in self.holidays

    def _working_day(self, project_start: date, index: int) -> date:
        """The index-th working day (0-based) on or after project_start."""
        day = project_start
        seen = -1
        while True:
            if self.is_working_day(day):
                seen += 1
                if seen == index:
                    return day
            day += timedelta(days=1)

    def to_datetime(self, project_start: date, work_hours: int, *, as_finish: bool = False) -> datetime:
        """Date and time of work hour ``work_hours``; ``as_finish`` gives the end of the hour before it."""
        if work_hours < 0:
            raise ValueError("work_hours must be >= 0")
        if as_finish and work_hours > 0:
            return self.to_datetime(project_start, work_hours - 1) + timedelta(hours=1)
        day = self._working_day(project_start, work_hours // self.hours_per_day)
        hour = self.day_start_hour + work_hours % self.hours_per_day
        return datetime.combine(day, time(hour))

    def start_datetime(self, project_start: date, work_hours: int) -> datetime:
        return self.to_datetime(project_start, work_hours)

    def finish_datetime(self, project_start: date, work_hours: int) -> datetime:
        return self.to_datetime(project_start, work_hours, as_finish=True)

    def to_work_hours(self, project_start: date, moment: datetime) -> int:
        """Working hours elapsed from the project start to ``moment`` (whole hours, rounded down).

        Inverse of both ``to_datetime`` forms: Monday 17:00 and Tuesday 09:00 both give 8.
        """
        if moment.date() < project_start:
            raise ValueError("moment is before the project start")
        hours = 0
        day = project_start
        while day < moment.date():
            if self.is_working_day(day):
                hours += self.hours_per_day
            day += timedelta(days=1)
        if self.is_working_day(day):
            day_start = datetime.combine(day, time(self.day_start_hour))
            elapsed = (moment.replace(tzinfo=None) - day_start).total_seconds() // 3600
            hours += int(min(max(elapsed, 0), self.hours_per_day))
        return hours
