"""Earned value management (PMI Practice Standard for EVM, 3rd ed.) against a Baseline.

Every ratio whose denominator is zero (or that is not finite) is None, with the reason in
`undefined`; a report never shows inf or NaN. Formulas: docs/lifecycle-formulas.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planning.progress.baseline import Baseline
from planning.progress.errors import ProgressError, check_number
from planning.progress.status import TaskProgress

MONEY_DIGITS = 2
RATIO_DIGITS = 4
#: Shown instead of 100 % while any value is still unearned, so "100 %" always means done.
ALMOST_DONE = 99.99


@dataclass(frozen=True)
class EvmResult:
    """The earned value figures at `at_hours`, in the baseline's unit (money, or hours)."""

    unit: str
    currency: str | None
    at_hours: float
    bac: float
    pv: float
    ev: float
    ac: float
    sv: float  # EV − PV
    cv: float  # EV − AC
    spi: float | None  # EV / PV
    cpi: float | None  # EV / AC
    eac: float | None  # BAC / CPI: the cost efficiency so far holds
    eac_atypical: float  # AC + (BAC − EV): the rest goes as planned
    eac_cpi_spi: float | None  # AC + (BAC − EV) / (CPI × SPI): cost and schedule both weigh on the rest
    etc: float | None  # EAC − AC
    vac: float | None  # BAC − EAC
    tcpi_bac: float | None  # (BAC − EV) / (BAC − AC): efficiency needed to finish on the BAC
    tcpi_eac: float | None  # (BAC − EV) / (EAC − AC)
    percent_complete: float | None  # EV / BAC × 100
    ac_estimated_for: tuple[str, ...] = ()  # tasks with progress but no actuals: their EV stands in for AC
    undefined: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: money rounded to cents, ratios to 4 places, None where undefined."""
        money = ("at_hours", "bac", "pv", "ev", "ac", "sv", "cv", "eac", "eac_atypical", "eac_cpi_spi", "etc", "vac",
                 "percent_complete")
        ratios = ("spi", "cpi", "tcpi_bac", "tcpi_eac")
        out: dict[str, Any] = {"unit": self.unit, "currency": self.currency}
        out.update({name: _round(getattr(self, name), MONEY_DIGITS) for name in money})
        out.update({name: _round(getattr(self, name), RATIO_DIGITS) for name in ratios})
        out["ac_estimated_for"] = list(self.ac_estimated_for)
        out["undefined"] = dict(self.undefined)
        return out


def evm(baseline: Baseline, progress: Mapping[str, TaskProgress], at_hours: float) -> EvmResult:
    """Earned value figures at `at_hours` from the progress reported per task."""
    at_hours = check_number(at_hours, "at_hours")
    ev_by_task = earned_by_task(baseline, progress)
    hours = baseline.unit == "hours"
    ev = sum(ev_by_task.get(task.task_id, 0.0) for task in baseline.tasks)  # BAC's order: EV <= BAC exactly
    ac = 0.0
    estimated = []
    for task in baseline.tasks:
        report = progress.get(task.task_id)
        if report is None:
            continue
        actual = report.actual_hours if hours else report.actual_cost
        if actual is None:
            # Reported work with no actuals: assume it cost what it earned (CPI 1 on it), and say so.
            actual = ev_by_task[task.task_id]
            if actual > 0:
                estimated.append(task.task_id)
        ac += actual
    bac, pv = baseline.bac, baseline.planned_value(at_hours)
    undefined: dict[str, str] = {}
    spi = _ratio(ev, pv, "spi", "nothing was planned by now (PV = 0)", undefined)
    cpi = _ratio(ev, ac, "cpi", "nothing has been spent (AC = 0)", undefined)
    remaining = bac - ev
    eac = _ratio(bac, cpi or 0.0, "eac", _why_cpi(cpi, undefined), undefined)
    if remaining == 0:
        eac_cpi_spi: float | None = ac  # no work left to scale: the estimate is what was spent
    else:
        index = (cpi or 0.0) * (spi or 0.0)
        scaled = _ratio(remaining, index, "eac_cpi_spi", "CPI × SPI is 0 or undefined", undefined)
        eac_cpi_spi = None if scaled is None else _finite(ac + scaled, "eac_cpi_spi", undefined)
    etc = _derived(eac, lambda value: value - ac, "etc", undefined)
    vac = _derived(eac, lambda value: bac - value, "vac", undefined)
    tcpi_bac = _tcpi(remaining, bac - ac, "tcpi_bac", "BAC", undefined)
    tcpi_eac = (_tcpi(remaining, eac - ac, "tcpi_eac", "EAC", undefined) if eac is not None
                else _undefined("tcpi_eac", "EAC is undefined", undefined))
    percent = _ratio(100.0 * ev, bac, "percent_complete", "the baseline holds no value (BAC = 0)", undefined)
    if percent is not None:  # by the values, not the division's rounding: 100 % means done
        percent = 100.0 if ev == bac else min(percent, ALMOST_DONE)
    return EvmResult(
        unit=baseline.unit, currency=None if hours else baseline.currency, at_hours=at_hours,
        bac=bac, pv=pv, ev=ev, ac=ac, sv=ev - pv, cv=ev - ac, spi=spi, cpi=cpi, eac=eac,
        eac_atypical=ac + remaining, eac_cpi_spi=eac_cpi_spi, etc=etc, vac=vac, tcpi_bac=tcpi_bac,
        tcpi_eac=tcpi_eac, percent_complete=percent, ac_estimated_for=tuple(estimated), undefined=undefined,
    )


def earned_by_task(baseline: Baseline, progress: Mapping[str, TaskProgress]) -> dict[str, float]:
    """EV per reported task: planned value × share complete; refuses progress of unknown tasks."""
    planned = {task.task_id: task.planned_cost for task in baseline.tasks}
    earned = {}
    for task_id, report in progress.items():
        if task_id not in planned:
            raise ProgressError(f"progress for {task_id!r}, which is not a task of the baseline",
                                f"progress.{task_id}")
        if not isinstance(report, TaskProgress) or report.task_id != task_id:
            raise ProgressError(f"progress.{task_id} must be the TaskProgress of {task_id!r}", f"progress.{task_id}")
        earned[task_id] = planned[task_id] * report.fraction
    return earned


def _ratio(numerator: float, denominator: float, name: str, why: str, undefined: dict[str, str]) -> float | None:
    if denominator == 0:
        return _undefined(name, why, undefined)
    return _finite(numerator / denominator, name, undefined)


def _finite(value: float, name: str, undefined: dict[str, str]) -> float | None:
    return value if math.isfinite(value) else _undefined(name, "too large to represent", undefined)


def _derived(eac: float | None, formula: Callable[[float], float], name: str,
             undefined: dict[str, str]) -> float | None:
    return _undefined(name, "EAC is undefined", undefined) if eac is None else _finite(formula(eac), name, undefined)


def _tcpi(work_left: float, funds_left: float, name: str, target: str, undefined: dict[str, str]) -> float | None:
    # With nothing (or less than nothing) left to spend, no efficiency finishes the work on target.
    if funds_left <= 0:
        return _undefined(name, f"nothing remains of the {target} (AC ≥ {target})", undefined)
    return _finite(work_left / funds_left, name, undefined)


def _why_cpi(cpi: float | None, undefined: dict[str, str]) -> str:
    return f"CPI is undefined: {undefined['cpi']}" if cpi is None else "CPI is 0: nothing has been earned"


def _undefined(name: str, why: str, undefined: dict[str, str]) -> None:
    undefined[name] = why
    return None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
