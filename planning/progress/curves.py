"""S-curves: cumulative PV, EV and AC per working day, for the progress chart."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from planning.progress.baseline import Baseline
from planning.progress.errors import ProgressError, check_number
from planning.progress.evm import MONEY_DIGITS, evm
from planning.progress.status import TaskProgress

#: A dated progress report: (working hours from the project start, progress per task).
Snapshot = tuple[float, Mapping[str, TaskProgress]]


@dataclass(frozen=True)
class CurvePoint:
    """Cumulative values at `hours`; EV and AC are None after now (not yet known)."""

    day: float  # working days from the start (hours / day_hours)
    hours: float
    pv: float
    ev: float | None
    ac: float | None


@dataclass(frozen=True)
class SCurve:
    unit: str
    currency: str | None
    day_hours: int
    at_hours: float
    points: tuple[CurvePoint, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; values rounded to cents (or hundredths of an hour)."""

        def value(number: float | None) -> float | None:
            return None if number is None else round(number, MONEY_DIGITS)

        return {
            "unit": self.unit, "currency": self.currency, "day_hours": self.day_hours, "at_hours": self.at_hours,
            "points": [{"day": round(p.day, 4), "hours": p.hours, "pv": value(p.pv), "ev": value(p.ev),
                        "ac": value(p.ac)} for p in self.points],
        }


def s_curve(baseline: Baseline, snapshots: Iterable[Snapshot], day_hours: int, at_hours: float) -> SCurve:
    """PV per working day to the later of now and the planned finish; EV and AC per day up to now.

    EV and AC on a day come from the latest snapshot taken by then (0 before the first), with
    `evm`'s conventions; snapshots dated after `at_hours` are not yet history and are ignored.
    A last point at `at_hours` itself is added when now falls inside a day.
    """
    if isinstance(day_hours, bool) or not isinstance(day_hours, int) or day_hours < 1:
        raise ProgressError(f"day_hours must be a whole number of hours >= 1, got {day_hours!r}", "day_hours")
    at_hours = check_number(at_hours, "at_hours")
    history = []
    for index, snapshot in enumerate(snapshots):
        if not isinstance(snapshot, tuple) or len(snapshot) != 2:
            raise ProgressError("a snapshot is a pair (at_hours, progress)", f"snapshots[{index}]")
        taken = check_number(snapshot[0], f"snapshots[{index}].at_hours")
        if taken <= at_hours:
            history.append((taken, index, snapshot[1]))
    history.sort(key=lambda entry: (entry[0], entry[1]))  # ties: the later entry in the list wins
    end = max(at_hours, baseline.finish_hours)
    moments = [float(day * day_hours) for day in range(math.ceil(end / day_hours) + 1)]
    if at_hours not in moments:
        moments = sorted([*moments, at_hours])
    figures: dict[int, tuple[float, float]] = {}  # snapshot position -> (EV, AC), each computed once
    points = []
    cursor = -1
    for hours in moments:
        while cursor + 1 < len(history) and history[cursor + 1][0] <= hours:
            cursor += 1
        ev = ac = None
        if hours <= at_hours:
            ev, ac = 0.0, 0.0
            if cursor >= 0:
                if cursor not in figures:
                    taken, _, progress = history[cursor]
                    result = evm(baseline, progress, taken)
                    figures[cursor] = (result.ev, result.ac)
                ev, ac = figures[cursor]
        points.append(CurvePoint(hours / day_hours, hours, baseline.planned_value(hours), ev, ac))
    currency = None if baseline.unit == "hours" else baseline.currency
    return SCurve(baseline.unit, currency, day_hours, at_hours, tuple(points))
