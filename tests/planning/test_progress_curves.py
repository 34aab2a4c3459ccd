"""S-curves: PV per working day to the finish, EV and AC from the progress known on each day."""

from __future__ import annotations

import json

import pytest

from planning.progress import Baseline, ProgressError, TaskBaseline, TaskProgress, s_curve


def baseline() -> Baseline:
    """A: 800 over hours 0-8; B: 1,600 over 8-24. PD 24 = three 8-hour days."""
    return Baseline((TaskBaseline("A", 800, 0, 8), TaskBaseline("B", 1600, 8, 24)), "EUR")


def test_points_per_day_with_ev_and_ac_from_the_latest_snapshot():
    """Day 1 (hour 8) sees the hour-6 snapshot; day 2 the hour-14 one; after now (hour 14) EV and AC are None."""
    snapshots = [
        (6.0, {"A": TaskProgress("A", "in_progress", 50, actual_cost=500)}),
        (14.0, {"A": TaskProgress("A", "completed", 100, actual_cost=900),
                "B": TaskProgress("B", "in_progress", 25, actual_cost=300)}),
    ]
    curve = s_curve(baseline(), snapshots, day_hours=8, at_hours=14)
    rows = [(p.day, p.hours, p.pv, p.ev, p.ac) for p in curve.points]
    assert rows == [
        (0.0, 0.0, 0.0, 0.0, 0.0),
        (1.0, 8.0, 800.0, 400.0, 500.0),
        (1.75, 14.0, 1400.0, 1200.0, 1200.0),  # now, inside day 2
        (2.0, 16.0, 1600.0, None, None),
        (3.0, 24.0, 2400.0, None, None),
    ]
    json.dumps(curve.to_dict(), allow_nan=False)


def test_snapshot_order_does_not_matter_and_future_ones_are_ignored():
    """Snapshots are sorted by time; one dated after now is not history yet."""
    early = (2.0, {"A": TaskProgress("A", "in_progress", 10)})
    later = (8.0, {"A": TaskProgress("A", "completed", 100)})
    future = (30.0, {"B": TaskProgress("B", "completed", 100)})
    curve = s_curve(baseline(), [future, later, early], day_hours=8, at_hours=8)
    assert [p.ev for p in curve.points] == [0.0, 800.0, None, None]


def test_a_late_project_runs_past_the_planned_finish():
    """Now after PD: the curve goes on to now, PV flat at BAC."""
    curve = s_curve(baseline(), [], day_hours=8, at_hours=32)
    assert [p.hours for p in curve.points] == [0, 8, 16, 24, 32]
    assert curve.points[-1].pv == 2400 and curve.points[-1].ev == 0


@pytest.mark.parametrize(("args", "field"), [
    ({"day_hours": 0}, "day_hours"),
    ({"day_hours": 7.5}, "day_hours"),
    ({"at_hours": -1}, "at_hours"),
    ({"snapshots": [(-1.0, {})]}, "snapshots[0].at_hours"),
    ({"snapshots": [{}]}, "snapshots[0]"),
])
def test_bad_arguments_name_the_field(args, field):
    """Invalid day length, time or snapshot raise a ProgressError naming it."""
    values = {"snapshots": [], "day_hours": 8, "at_hours": 4} | args
    with pytest.raises(ProgressError) as caught:
        s_curve(baseline(), **values)
    assert caught.value.field == field
