"""The project's calendar and start day, shared by every stage that shows dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from planning.goal import Goal
from planning.settings import PlanningSettings
from scheduling.calendar import WorkCalendar


def calendar_for(settings: PlanningSettings) -> WorkCalendar:
    return WorkCalendar(
        hours_per_day=settings.hours_per_day,
        holidays=frozenset(date.fromisoformat(day) for day in settings.holidays),
    )


def deadline_hours(goal: Goal, calendar: WorkCalendar, start: date) -> int | None:
    """Working hours from the start to the end of the deadline day."""
    if goal.deadline is None:
        return None
    end_of_day = datetime.combine(goal.deadline + timedelta(days=1), time(0, 0))
    if end_of_day.date() < start:  # the deadline passed before the project starts: no working hour is left
        return 0
    return calendar.to_work_hours(start, end_of_day)
