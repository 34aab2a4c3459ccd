"""Working-time calendar: one time unit = one working hour.

Work hour ``h`` counts from the first working hour on or after the project start
date. A start maps to the beginning of its hour; a finish maps to the end of the
last worked hour, so 8 hours from Monday 09:00 finish Monday 17:00, not Tuesday 09:00.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property


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

    @cached_property
    def _closed_weekdays(self) -> tuple[date, ...]:
        """The holidays that fall on a working weekday (the only ones that remove working time), sorted."""
        return tuple(sorted(day for day in self.holidays if day.weekday() in self.working_weekdays))

    def _weekdays_before(self, first: date, day: date) -> int:
        """Working weekdays in [first, day), holidays ignored: whole weeks, then at most six days."""
        days = (day - first).days
        weeks, rest = divmod(days, 7)
        count = weeks * len(self.working_weekdays)
        start = first.weekday()
        return count + sum(1 for offset in range(rest) if (start + offset) % 7 in self.working_weekdays)

    def _working_days_before(self, first: date, day: date) -> int:
        """Working days in [first, day)."""
        closed = self._closed_weekdays
        return self._weekdays_before(first, day) - (bisect.bisect_left(closed, day) - bisect.bisect_left(closed, first))

    def _nth_weekday(self, first: date, index: int) -> date:
        """The index-th (0-based) working weekday on or after ``first``, holidays ignored."""
        weeks, rest = divmod(index, len(self.working_weekdays))
        day = first + timedelta(days=7 * weeks)  # any 7 days hold every working weekday once
        while day.weekday() not in self.working_weekdays or rest:
            if day.weekday() in self.working_weekdays:
                rest -= 1
            day += timedelta(days=1)
        return day

    def _working_day(self, project_start: date, index: int) -> date:
        """The index-th working day (0-based) on or after project_start.

        Arithmetic on weeks, then corrected for the holidays passed: a project of thousands of
        tasks asks this for every start and finish, and walking day by day took seconds.
        """
        closed = self._closed_weekdays
        skipped = 0
        while True:
            day = self._nth_weekday(project_start, index + skipped)
            passed = bisect.bisect_right(closed, day) - bisect.bisect_left(closed, project_start)
            if passed == skipped and day not in self.holidays:
                return day
            skipped = max(passed, skipped + 1)

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
        day = moment.date()
        hours = self._working_days_before(project_start, day) * self.hours_per_day
        if self.is_working_day(day):
            day_start = datetime.combine(day, time(self.day_start_hour))
            elapsed = (moment.replace(tzinfo=None) - day_start).total_seconds() // 3600
            hours += int(min(max(elapsed, 0), self.hours_per_day))
        return hours
