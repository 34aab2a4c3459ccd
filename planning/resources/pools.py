"""Resource pools as the allocation sees them: capacity, working calendar, cost rate, substitutes.

A pool is a number of interchangeable units (people, machines) of one type. It may
stand in for other types when it says so (`substitutes`): a senior engineer pool that
lists ``engineer`` can do engineer work; an engineer pool that does not list
``senior_engineer`` cannot do the reverse. Pools come from several sources (the goal,
Layer 8, the local pool, the domain's suggestions); `source` records which.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from planning.errors import PlanningError

RATE_UNITS = ("hour", "day")
SOURCES = ("goal", "layer8", "local", "suggested", "assumed")
CURRENCY = re.compile(r"^[A-Z]{3}$")
ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)


class ResourceError(PlanningError):
    """Invalid pool or availability data; `field` names the bad part."""


@dataclass(frozen=True)
class Pool:
    """One pool: `capacity` units at a time, at `cost_rate` per `rate_unit` per unit.

    A day rate is spread over the pool's `hours_per_day`, so a task of 12 hours at
    800 a day (8-hour days) costs 1,200 per unit. `working_weekdays` and `unavailable`
    are the pool's calendar: on plan working days the pool does not work, it has no units.
    """

    type: str
    capacity: int
    cost_rate: float = 0.0
    rate_unit: str = "hour"
    currency: str = "USD"
    hours_per_day: int = 8
    substitutes: tuple[str, ...] = ()
    working_weekdays: tuple[int, ...] = ALL_WEEKDAYS
    unavailable: frozenset[date] = field(default_factory=frozenset)
    source: str = "goal"

    def __post_init__(self) -> None:
        where = f"pools[{self.type}]"
        if not isinstance(self.type, str) or not self.type.strip():
            raise ResourceError("pool type must be a non-empty string", "pools.type")
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int) or self.capacity < 0:
            raise ResourceError(f"capacity must be a whole number >= 0, got {self.capacity!r}", f"{where}.capacity")
        if not self.cost_rate >= 0:  # also rejects NaN
            raise ResourceError(f"cost_rate must be >= 0, got {self.cost_rate!r}", f"{where}.cost_rate")
        if self.rate_unit not in RATE_UNITS:
            raise ResourceError(f"rate_unit must be one of {', '.join(RATE_UNITS)}", f"{where}.rate_unit")
        if not isinstance(self.currency, str) or not CURRENCY.match(self.currency):
            raise ResourceError(f"currency must be an ISO 4217 code, got {self.currency!r}", f"{where}.currency")
        if isinstance(self.hours_per_day, bool) or not isinstance(self.hours_per_day, int) \
                or not 1 <= self.hours_per_day <= 24:
            raise ResourceError("hours_per_day must be a whole number from 1 to 24", f"{where}.hours_per_day")
        if self.type in self.substitutes:
            raise ResourceError("a pool does not substitute for its own type", f"{where}.substitutes")
        if not set(self.working_weekdays) <= set(ALL_WEEKDAYS):
            raise ResourceError("working_weekdays must be within 0..6 (Monday = 0)", f"{where}.working_weekdays")
        if self.source not in SOURCES:
            raise ResourceError(f"source must be one of {', '.join(SOURCES)}", f"{where}.source")
        object.__setattr__(self, "substitutes", tuple(self.substitutes))
        object.__setattr__(self, "working_weekdays", tuple(sorted(set(self.working_weekdays))))
        object.__setattr__(self, "unavailable", frozenset(self.unavailable))

    @property
    def hourly_rate(self) -> float:
        return self.cost_rate if self.rate_unit == "hour" else self.cost_rate / self.hours_per_day

    def can_serve(self, resource_type: str) -> bool:
        return resource_type == self.type or resource_type in self.substitutes

    def works_on(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and day not in self.unavailable

    def to_dict(self) -> dict:
        """The plan's view; `cost_per_hour` and `capacity` keep the meaning the scheduler reads."""
        return {
            "type": self.type,
            "capacity": self.capacity,
            "cost_per_hour": round(self.hourly_rate, 4),
            "source": self.source,
            "cost_rate": self.cost_rate,
            "rate_unit": self.rate_unit,
            "currency": self.currency,
            "hours_per_day": self.hours_per_day,
            "substitutes": list(self.substitutes),
        }

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str, default_currency: str = "USD") -> Pool:
        """Build from a local-pool row or a Layer 8 resource entry (unknown keys ignored).

        Accepts `cost_per_hour` (the goal format) as an hourly `cost_rate`.
        """
        if not isinstance(data, Mapping):
            raise ResourceError("a pool must be an object", "pools")
        if "type" not in data or "capacity" not in data:
            raise ResourceError("a pool needs `type` and `capacity`", f"pools[{data.get('type', '?')}]")
        if "cost_rate" in data:
            rate, unit = data["cost_rate"], data.get("rate_unit", "hour")
        else:
            rate, unit = data.get("cost_per_hour", 0.0), "hour"
        calendar = data.get("calendar") or {}
        try:
            unavailable = frozenset(date.fromisoformat(day) for day in calendar.get("unavailable") or ())
            rate = float(rate)
        except (TypeError, ValueError):
            raise ResourceError("bad cost_rate or calendar date", f"pools[{data['type']}]") from None
        return cls(
            type=data["type"],
            capacity=data["capacity"],
            cost_rate=rate,
            rate_unit=unit,
            currency=data.get("currency") or default_currency,
            hours_per_day=data.get("hours_per_day") or 8,
            substitutes=tuple(data.get("substitutes") or ()),
            working_weekdays=tuple(calendar.get("working_weekdays") or ALL_WEEKDAYS),
            unavailable=unavailable,
            source=source,
        )


@dataclass(frozen=True)
class AvailabilityWindow:
    """`units` of a pool are available on every day from `start` to `end`, both inclusive."""

    start: date
    end: date
    units: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ResourceError("availability window ends before it starts", "availability.to")
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 0:
            raise ResourceError("available units must be a whole number >= 0", "availability.available")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def merge_pools(*sources: Iterable[Pool]) -> list[Pool]:
    """Pools by type, the first source naming a type wins (goal, then Layer 8, then local, ...)."""
    chosen: dict[str, Pool] = {}
    for pools in sources:
        for pool in pools:
            chosen.setdefault(pool.type, pool)
    return sorted(chosen.values(), key=lambda pool: pool.type)
