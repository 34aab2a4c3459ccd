"""Hour-by-hour capacity of each pool over the planning horizon.

Time is the schedule's: whole working hours from the project start on the plan's work
calendar. Each plan working day contributes `hours_per_day` hours; a pool has its
capacity in each of them unless its own calendar says it does not work that day
(then 0) or an availability window covers the day (then the window's units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

import numpy as np

from planning.resources.pools import AvailabilityWindow, Pool
from planning.settings import PlanningSettings
from scheduling import WorkCalendar


def plan_calendar(settings: PlanningSettings) -> WorkCalendar:
    return WorkCalendar(hours_per_day=settings.hours_per_day,
                        holidays=frozenset(date.fromisoformat(day) for day in settings.holidays))


class Horizon:
    """The working days of the plan from its start, and conversions between hours and dates."""

    def __init__(self, calendar: WorkCalendar, start: date, hours: int):
        self.calendar = calendar
        self.start = start
        self.hours = max(1, hours)
        self.hours_per_day = calendar.hours_per_day
        days: list[date] = []
        day = start
        while len(days) * self.hours_per_day < self.hours:
            if calendar.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        self.days = days

    def day_of_hour(self, hour: int) -> date:
        """The date of working hour `hour` (hours past the horizon count on from its last day)."""
        index = max(0, hour) // self.hours_per_day
        if index < len(self.days):
            return self.days[index]
        return self.calendar.to_datetime(self.start, max(0, hour)).date()

    def first_day(self, start_hour: int) -> date:
        return self.day_of_hour(start_hour)

    def last_day(self, finish_hour: int) -> date:
        """The date of the last worked hour of an interval ending at `finish_hour` (exclusive)."""
        return self.day_of_hour(max(0, finish_hour - 1))

    def hours_until_end_of(self, day: date) -> int:
        """Working hours from the start to the end of `day` (a deadline); 0 for a day before the start."""
        if day < self.start:
            return 0
        return self.calendar.to_work_hours(self.start, datetime.combine(day + timedelta(days=1), time(0)))


def capacity_profile(pool: Pool | None, windows: Sequence[AvailabilityWindow], horizon: Horizon) -> np.ndarray:
    """Units of `pool` free at each working hour (no pool: all zero)."""
    profile = np.zeros(horizon.hours, dtype=np.int64)
    if pool is None:
        return profile
    hpd = horizon.hours_per_day
    for index, day in enumerate(horizon.days):
        units = pool.capacity if pool.works_on(day) else 0
        for window in windows:
            if window.covers(day):
                units = window.units if pool.works_on(day) else 0
        profile[index * hpd:(index + 1) * hpd] = units
    return profile


def profiles(pools: Mapping[str, Pool], availability: Mapping[str, Sequence[AvailabilityWindow]],
             horizon: Horizon, types: set[str]) -> dict[str, np.ndarray]:
    return {kind: capacity_profile(pools.get(kind), availability.get(kind, ()), horizon) for kind in sorted(types)}


def profile_steps(profile: np.ndarray) -> list[tuple[int, int]]:
    """(from_hour, units) at each change, starting at hour 0: the scheduler's `capacity_profile` form."""
    if profile.size == 0:
        return []
    changes = np.flatnonzero(np.diff(profile)) + 1
    return [(0, int(profile[0]))] + [(int(hour), int(profile[hour])) for hour in changes]


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal [start, end) runs where `mask` is true."""
    if mask.size == 0:
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(edges[i]), int(edges[i + 1])) for i in range(0, len(edges), 2)]
