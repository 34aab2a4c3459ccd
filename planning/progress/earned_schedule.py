"""Earned Schedule (Lipke 2003, "Schedule is Different"): schedule performance measured in time.

SPI = EV/PV always returns to 1 when a late project finishes (EV = PV = BAC); ES does not:
it is the time at which the baseline planned to have earned today's EV, so a late finish
keeps SPI(t) = ES/AT < 1. ES uses the exact inverse of the piecewise-linear PV
(`Baseline.time_of_value`): with whole-hour schedule breakpoints this is Lipke's
C + (EV − PV(C)) / (PV(C+1) − PV(C)) on 1-hour increments, and it stays exact otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from planning.progress.baseline import Baseline
from planning.progress.errors import check_number

HOURS_DIGITS = 3
RATIO_DIGITS = 4
#: A reported EV may exceed the BAC by this much (a rounded figure) before it is refused.
EV_ROUNDING = 0.005


@dataclass(frozen=True)
class EarnedSchedule:
    """Earned Schedule figures, in working hours from the project start."""

    es_hours: float  # ES: when the baseline planned to have earned EV
    at_hours: float  # AT: actual time, now
    pd_hours: float  # PD: planned duration, the baseline's finish
    sv_t_hours: float  # SV(t) = ES − AT
    spi_t: float | None  # SPI(t) = ES / AT
    ieac_t_hours: float | None  # IEAC(t) = PD / SPI(t): the forecast duration
    forecast_finish_hours: float | None  # = IEAC(t), since hours count from the project start
    undefined: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: hours to 3 places, SPI(t) to 4, None where undefined."""
        out: dict[str, Any] = {
            name: None if getattr(self, name) is None else round(getattr(self, name), HOURS_DIGITS)
            for name in ("es_hours", "at_hours", "pd_hours", "sv_t_hours", "ieac_t_hours", "forecast_finish_hours")
        }
        out["spi_t"] = None if self.spi_t is None else round(self.spi_t, RATIO_DIGITS)
        out["undefined"] = dict(self.undefined)
        return out


def earned_schedule(baseline: Baseline, ev: float, at_hours: float) -> EarnedSchedule:
    """ES, SV(t), SPI(t) and IEAC(t) for earned value `ev` at `at_hours`."""
    at_hours = check_number(at_hours, "at_hours")
    ev = min(check_number(ev, "ev", maximum=baseline.bac + EV_ROUNDING), baseline.bac)
    es = baseline.time_of_value(ev)
    pd = baseline.finish_hours
    undefined: dict[str, str] = {}
    spi_t = ieac = None
    if at_hours == 0:
        undefined["spi_t"] = undefined["ieac_t_hours"] = "no time has passed (AT = 0)"
    elif not math.isfinite(es / at_hours):
        undefined["spi_t"] = undefined["ieac_t_hours"] = "too large to represent (AT is almost 0)"
    else:
        spi_t = es / at_hours
        if es == 0:
            undefined["ieac_t_hours"] = "no schedule has been earned yet (ES = 0, so SPI(t) = 0)"
        else:
            ieac = pd / spi_t
    if ieac is None:
        undefined["forecast_finish_hours"] = undefined["ieac_t_hours"]
    return EarnedSchedule(es_hours=es, at_hours=at_hours, pd_hours=pd, sv_t_hours=es - at_hours, spi_t=spi_t,
                          ieac_t_hours=ieac, forecast_finish_hours=ieac, undefined=undefined)
