"""Working-time calendar mapping."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling import WorkCalendar

MONDAY = date(2026, 11, 23)


def test_start_of_first_hour():
    """Hour 0 is the project start day at the start of the working day."""
    assert WorkCalendar().to_datetime(MONDAY, 0) == datetime(2026, 11, 23, 9)


def test_finish_maps_to_end_of_last_worked_hour():
    """An 8-hour finish lands on Monday 17:00, while a start at 8 is Tuesday 09:00."""
    cal = WorkCalendar()
    assert cal.finish_datetime(MONDAY, 8) == datetime(2026, 11, 23, 17)
    assert cal.to_datetime(MONDAY, 8, as_finish=True) == datetime(2026, 11, 23, 17)
    assert cal.to_datetime(MONDAY, 8) == datetime(2026, 11, 24, 9)


def test_weekend_skipped():
    """Friday's last hour finishes Friday 17:00 and the next start is Monday 09:00."""
    cal = WorkCalendar()
    assert cal.finish_datetime(MONDAY, 40) == datetime(2026, 11, 27, 17)
    assert cal.to_datetime(MONDAY, 40) == datetime(2026, 11, 30, 9)


def test_holiday_skipped():
    """A holiday is not a working day: Thursday's holiday pushes work to Friday."""
    cal = WorkCalendar(holidays=frozenset({date(2026, 11, 26)}))
    assert cal.to_datetime(MONDAY, 24) == datetime(2026, 11, 27, 9)
    assert cal.to_datetime(MONDAY, 32) == datetime(2026, 11, 30, 9)


def test_project_start_on_weekend():
    """A project starting on Saturday begins on Monday morning."""
    assert WorkCalendar().to_datetime(date(2026, 11, 21), 0) == datetime(2026, 11, 23, 9)


def test_custom_week_and_hours():
    """Six-day weeks with 10-hour days starting at 07:00."""
    cal = WorkCalendar(hours_per_day=10, day_start_hour=7, working_weekdays=(0, 1, 2, 3, 4, 5))
    assert cal.to_datetime(MONDAY, 55) == datetime(2026, 11, 28, 12)


def test_to_work_hours_clamps_outside_hours():
    """Moments before or after the working day count as its start or end."""
    cal = WorkCalendar()
    assert cal.to_work_hours(MONDAY, datetime(2026, 11, 24, 7)) == 8
    assert cal.to_work_hours(MONDAY, datetime(2026, 11, 24, 20)) == 16
    assert cal.to_work_hours(MONDAY, datetime(2026, 11, 28, 12)) == 40


def test_bad_calendar_rejected():
    """Working hours running past midnight are rejected."""
    with pytest.raises(ValueError):
        WorkCalendar(hours_per_day=10, day_start_hour=20)


@given(
    hours=st.integers(0, 2000),
    holidays=st.sets(st.dates(date(2026, 11, 23), date(2027, 6, 1)), max_size=10),
)
def test_round_trip(hours, holidays):
    """to_work_hours inverts both the start and the finish mapping."""
    cal = WorkCalendar(holidays=frozenset(holidays))
    assert cal.to_work_hours(MONDAY, cal.to_datetime(MONDAY, hours)) == hours
    assert cal.to_work_hours(MONDAY, cal.finish_datetime(MONDAY, hours)) == hours


def _walk_working_day(calendar: WorkCalendar, start: date, index: int) -> date:
    day, seen = start, -1
    while True:
        if calendar.is_working_day(day):
            seen += 1
            if seen == index:
                return day
        day += timedelta(days=1)


def _walk_work_hours(calendar: WorkCalendar, start: date, moment: datetime) -> int:
    hours, day = 0, start
    while day < moment.date():
        hours += calendar.hours_per_day if calendar.is_working_day(day) else 0
        day += timedelta(days=1)
    if calendar.is_working_day(day):
        elapsed = (moment - datetime.combine(day, time(calendar.day_start_hour))).total_seconds() // 3600
        hours += int(min(max(elapsed, 0), calendar.hours_per_day))
    return hours


@settings(max_examples=300, deadline=None)
@given(
    weekdays=st.sets(st.integers(0, 6), min_size=1),
    start_offset=st.integers(0, 30),
    holiday_offsets=st.sets(st.integers(-10, 150), max_size=40),
    hours_per_day=st.integers(1, 10),
    index=st.integers(0, 80),
    moment_offset=st.integers(0, 200),
    moment_hour=st.integers(0, 23),
)
def test_week_arithmetic_matches_a_day_by_day_walk(weekdays, start_offset, holiday_offsets, hours_per_day, index,
                                                   moment_offset, moment_hour):
    """The calendar's week arithmetic (with holidays) gives the dates and hours a day-by-day walk gives."""
    start = date(2027, 1, 1) + timedelta(days=start_offset)
    calendar = WorkCalendar(hours_per_day=hours_per_day, day_start_hour=8, working_weekdays=tuple(sorted(weekdays)),
                            holidays=frozenset(start + timedelta(days=d) for d in holiday_offsets))
    assert calendar._working_day(start, index) == _walk_working_day(calendar, start, index)
    moment = datetime.combine(start + timedelta(days=moment_offset), time(moment_hour))
    assert calendar.to_work_hours(start, moment) == _walk_work_hours(calendar, start, moment)
