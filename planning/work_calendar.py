"""The project's calendar and start day, shared by every stage that shows dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from planning.goal import Goal
from planning.settings import PlanningSettings
from scheduling import WorkCalendar


def calendar_for(settings: PlanningSettings) -> WorkCalendar:
    return WorkCalendar(
        hours_per_day=settings.hours_per_day,
        holidays=frozenset(date.fromisoformat(day) for day in settings.holidays),
    )


def project_start(goal: Goal, meta: dict) -> date:
    """The goal's start, else the day the plan version was made (so replays give the same dates)."""
    if goal.start:
        return goal.start
    return date.fromisoformat(meta.get("planned_on") or date.today().isoformat())


def planned_at(meta: dict) -> datetime | None:
    """When the plan version was made: the timestamp on everything the stages record."""
    return datetime.fromisoformat(meta["created_at"]) if meta.get("created_at") else None


def deadline_hours(goal: Goal, calendar: WorkCalendar, start: date) -> int | None:
    """Working hours from the start to the end of the deadline day."""
    if goal.deadline is None:
        return None
    end_of_day = datetime.combine(goal.deadline + timedelta(days=1), time(0, 0))
    return calendar.to_work_hours(start, end_of_day)
