"""Reassessment from progress: earned value, Monte Carlo on the remaining work, re-scored risks.

Progress per task is ``{percent_complete (0–100), actual_hours, status}``. From it:

1. Earned value in working hours (the plan's hours are the schedule's task durations):
   EV = Σ percent × planned, AC = Σ actual, PV = planned hours the schedule had done by now;
   CPI = EV / AC, SPI = EV / PV.
2. The remaining work: finished tasks drop out; an unfinished task keeps
   (1 − percent) of its three-point estimate, scaled by a performance factor (its own
   actual / earned hours once it is 10 % done, else the project's 1 / CPI once 5 % of the
   work is earned, else 1; always within [0.5, 3]).
3. Monte Carlo on the remaining work from now, in the schedule's order; results are
   reported from the project start like the plan's.
4. The rules rerun on the remaining work (plus `poor_performance`; the cost forecast is
   the hours spent plus the remaining PERT hours at pool rates, scaled to the allocation's
   total when one is given). A previous risk found
   again takes the new figures if open, keeps the agreed ones if mitigated, reopens if
   closed; one whose rule ran and no longer finds it is closed (a rule that could not run,
   for lack of an allocation say, leaves its risks alone). Realized risks are marked (see
   `realization`). Every change adds a history entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from planning.errors import PlanningError
from planning.goal import Estimate, Goal
from planning.network import Dependency, PlannedTask, TaskNetwork
from planning.risk.assessor import ASSESSOR, RiskAssessment, build_assessment, finding_to_risk
from planning.risk.context import plan_context
from planning.risk.inputs import AllocationSummary, ScheduleSnapshot
from planning.risk.model import Risk, rank_risks, risk_id
from planning.risk.monte_carlo import derive_seed, simulate_tasks
from planning.risk.rules import Finding, run_rules
from planning.settings import PlanningSettings

DONE = frozenset({"completed", "done", "cancelled", "skipped"})
TROUBLE = frozenset({"blocked", "failed"})
STATUSES = DONE | TROUBLE | {"not_started", "pending", "in_progress", "started"}
FACTOR_LIMITS = (0.5, 3.0)
#: How each rule's risk shows that it has happened (see `realization`).
REALIZED_BY_TASKS = frozenset({
    "high_complexity", "wide_estimates", "new_technology", "saturated_resource", "single_person_critical",
    "allocation_shortfall", "cross_system_work", "external_systems", "many_interfaces", "late_integration",
    "security_exposure", "compliance_obligations", "third_party_dependency", "quality_targets", "unclear_scope",
    "irreversible_steps", "procurement_lead_time", "pending_approvals",
})
REALIZED_BY_DEADLINE = frozenset({
    "schedule_compression", "deadline_below_p80", "little_float", "near_critical_paths", "poor_performance",
    "demand_exceeds_capacity",
})
REALIZED_BY_BUDGET = frozenset({"over_budget"})


@dataclass(frozen=True)
class TaskProgress:
    fraction: float  # 0–1
    actual_hours: float
    status: str

    @property
    def done(self) -> bool:
        return self.status in DONE or self.fraction >= 1.0


def reassess(previous_risks: list[Risk], goal: Goal, network: TaskNetwork, snapshot: ScheduleSnapshot,
             progress: dict[str, dict[str, Any]], settings: PlanningSettings, seed: int | None = None, *,
             now_hours: float | None = None, allocation: AllocationSummary | None = None,
             at: datetime | None = None, distribution: str = "beta_pert") -> RiskAssessment:
    """Re-score `previous_risks` from progress; see the module docstring.

    `now_hours` is the current time in working hours from the project start; without it
    the latest (scheduled start + actual hours) of any task stands in, with a warning.
    Without `allocation` the allocation rule is not rerun and its risks stay as they were.
    """
    state = read_progress(network, progress)
    warnings: list[str] = []
    if now_hours is None:
        now_hours = max((snapshot.starts.get(t, 0) + p.actual_hours for t, p in state.items() if p.actual_hours > 0),
                        default=0.0)
        warnings.append("now_hours not given: estimated as the latest scheduled start plus actual hours")
    elif isinstance(now_hours, bool) or not isinstance(now_hours, int | float) or now_hours < 0:
        raise PlanningError("now_hours must be a non-negative number of working hours", "now_hours")
    performance = earned_value(network, snapshot, state, now_hours)
    remaining = remaining_tasks(network, state, performance)
    if seed is None:
        seed = derive_seed(remaining)
    schedule_risk = simulate_tasks(remaining, snapshot, iterations=settings.monte_carlo_iterations, seed=seed,
                                   distribution=distribution, origin_hours=float(now_hours))
    warnings.extend(schedule_risk.warnings)

    spent = _cost_so_far(goal, network, state)
    ctx = plan_context(goal, TaskNetwork(tasks=remaining), snapshot, allocation, settings)
    ctx.origin_hours = float(now_hours)
    ctx.critical_length = schedule_risk.deterministic_finish
    ctx.schedule_risk = schedule_risk
    ctx.performance = performance
    ctx.cost_estimate = _cost_forecast(goal, network, remaining, spent, allocation)
    found, evaluated = run_rules(ctx)
    findings = {risk_id(f.rule, f.subject): f for f in found}

    def happened(risk: Risk) -> str | None:
        if risk.status in ("realized", "closed"):
            return None
        return realization(risk, network, state, schedule_risk.deadline_probability, spent, goal)

    risks: list[Risk] = []
    for old in previous_risks:
        finding = findings.pop(old.id, None)
        reason = happened(old)  # before re-scoring: finished work that overran no longer fires its rule
        if reason is None:
            risk = _rescore(old, finding, old.rule in evaluated, at)
            reason = happened(risk)
        else:
            risk = old
        risks.append(risk if reason is None else _realized(risk, reason, at))
    for finding in findings.values():
        risk = finding_to_risk(finding, at=at, why="identified on reassessment by rule")
        reason = happened(risk)
        risks.append(risk if reason is None else _realized(risk, reason, at))
    return build_assessment(rank_risks(risks), schedule_risk, settings, performance=performance, warnings=warnings)


def read_progress(network: TaskNetwork, progress: dict[str, dict[str, Any]]) -> dict[str, TaskProgress]:
    """Validate the progress map; field names point into it (``progress.<task>.percent_complete``)."""
    known = {task.id for task in network.tasks}
    state = {}
    for task_id, raw in progress.items():
        where = f"progress.{task_id}"
        if task_id not in known:
            raise PlanningError(f"progress for unknown task {task_id!r}", where)
        percent = raw.get("percent_complete", 0.0)
        actual = raw.get("actual_hours", 0.0)
        status = raw.get("status") or ("completed" if percent >= 100 else "in_progress" if percent else "not_started")
        if not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise PlanningError("percent_complete must be between 0 and 100", f"{where}.percent_complete")
        if not isinstance(actual, int | float) or actual < 0:
            raise PlanningError("actual_hours must not be negative", f"{where}.actual_hours")
        if status not in STATUSES:
            raise PlanningError(f"status must be one of {', '.join(sorted(STATUSES))}", f"{where}.status")
        state[task_id] = TaskProgress(percent / 100.0, float(actual), status)
    return state


def earned_value(network: TaskNetwork, snapshot: ScheduleSnapshot, state: dict[str, TaskProgress],
                 now_hours: float) -> dict[str, Any]:
    """Hours-based earned value: BAC, PV, EV, AC, CPI, SPI, the project factor and overrunning tasks."""
    bac = pv = ev = ac = 0.0
    overrunning = []
    for task in network.tasks:
        planned = float(task.duration_hours)
        bac += planned
        start, finish = snapshot.starts.get(task.id), snapshot.finishes.get(task.id)
        if start is not None and finish is not None:
            window = max(finish - start, 1)
            pv += planned * min(1.0, max(0.0, (now_hours - start) / window))
        progress = state.get(task.id)
        if progress is None:
            continue
        fraction = 1.0 if progress.done else progress.fraction
        ev += fraction * planned
        ac += progress.actual_hours
        if progress.actual_hours > 1.1 * max(fraction * planned, 1e-9) and progress.actual_hours > 0:
            overrunning.append(task.id)
    cpi = ev / ac if ac > 0 else None
    spi = ev / pv if pv > 0 else None
    factor = _limit(1.0 / cpi) if cpi and ev >= 0.05 * bac else 1.0
    return {
        "now_hours": now_hours, "bac_hours": bac, "pv_hours": round(pv, 3), "ev_hours": round(ev, 3),
        "ac_hours": round(ac, 3), "cpi": None if cpi is None else round(cpi, 4),
        "spi": None if spi is None else round(spi, 4), "performance_factor": round(factor, 4),
        "overrunning_tasks": overrunning,
    }


def remaining_tasks(network: TaskNetwork, state: dict[str, TaskProgress],
                    performance: dict[str, Any]) -> list[PlannedTask]:
    """Unfinished tasks with their remaining, performance-scaled estimates and the links that still bind.

    Links from finished tasks are met. A started task keeps only FF links (it has started, but
    may not finish before its predecessor); an SS link from a started predecessor keeps what
    is left of its lag.
    """
    done = {task_id for task_id, p in state.items() if p.done}
    project_factor = performance["performance_factor"]
    remaining = []
    for task in network.tasks:
        if task.id in done:
            continue
        progress = state.get(task.id)
        started = progress is not None and (progress.fraction > 0 or progress.actual_hours > 0)
        fraction_left = 1.0 - (progress.fraction if progress else 0.0)
        factor = project_factor
        if progress is not None and progress.fraction >= 0.1 and progress.actual_hours > 0:
            factor = _limit(progress.actual_hours / (progress.fraction * task.estimate.pert_mean))
        links = []
        for dep in task.depends_on:
            if dep.task_id in done or (started and dep.kind != "FF"):
                continue
            pred = state.get(dep.task_id)
            if dep.kind == "SS" and pred is not None and pred.actual_hours > 0:
                dep = Dependency(dep.task_id, "SS", max(0.0, dep.lag_hours - pred.actual_hours))
            links.append(dep)
        scale = max(fraction_left * factor, 1e-6)
        e = task.estimate
        estimate = Estimate(max(e.optimistic * scale, 1e-6), max(e.most_likely * scale, 1e-6),
                            max(e.pessimistic * scale, 1e-6))
        remaining.append(replace(task, estimate=estimate, depends_on=links))
    return remaining


def _rescore(old: Risk, finding: Finding | None, evaluated: bool, at: datetime | None) -> Risk:
    if old.status == "realized":
        return old
    if finding is None:
        if old.status == "closed" or not evaluated:
            return old
        return old.changed(probability=old.probability, impact=old.impact, status="closed", who=ASSESSOR,
                           why="no longer detected on the remaining work", at=at)
    fresh = replace(old, title=finding.title, description=finding.description,
                    affected_tasks=finding.affected_tasks, evidence=dict(finding.evidence))
    if old.status == "mitigated":
        return fresh  # the agreed figures stand until the risk is realized or closed
    if old.status == "closed":
        return fresh.changed(probability=finding.probability, impact=finding.impact, status="open", who=ASSESSOR,
                             why="detected again on reassessment", at=at)
    if (finding.probability, finding.impact) == (old.probability, old.impact):
        return fresh
    return fresh.changed(probability=finding.probability, impact=finding.impact, status="open", who=ASSESSOR,
                         why="re-scored from progress", at=at)


def _realized(risk: Risk, reason: str, at: datetime | None) -> Risk:
    return risk.changed(probability=1.0, impact=risk.impact, status="realized", who=ASSESSOR,
                        why=f"realized: {reason}", at=at)


def realization(risk: Risk, network: TaskNetwork, state: dict[str, TaskProgress],
                deadline_probability: float | None, spent: float, goal: Goal) -> str | None:
    """Why the risk has happened, or None, from the consequences the assessor can observe.

    Risks about how work goes (technical, integration, external, people): an affected task
    ran past its pessimistic estimate, failed or is blocked. Schedule risks: no simulated
    outcome meets the deadline. The budget risk: the hours spent already cost more than
    the budget.
    """
    if risk.rule in REALIZED_BY_TASKS:
        index = {task.id: task for task in network.tasks}
        overran = [t for t in risk.affected_tasks
                   if t in state and t in index and state[t].actual_hours > index[t].estimate.pessimistic]
        if overran:
            return f"{', '.join(overran[:5])} ran past the pessimistic estimate"
        troubled = [t for t in risk.affected_tasks if t in state and state[t].status in TROUBLE]
        if troubled:
            return f"{', '.join(troubled[:5])} {state[troubled[0]].status}"
    if risk.rule in REALIZED_BY_DEADLINE and deadline_probability == 0.0:
        return "no simulated outcome meets the deadline"
    if risk.rule in REALIZED_BY_BUDGET and goal.budget is not None and spent > goal.budget:
        return f"hours spent already cost {spent:,.2f} {goal.currency}, over the budget"
    return None


def _cost_so_far(goal: Goal, network: TaskNetwork, state: dict[str, TaskProgress]) -> float:
    """Actual hours × the task's units × the pool's hourly rate."""
    return _cost_of(goal, network.tasks, lambda task: state[task.id].actual_hours if task.id in state else 0.0)


def _cost_forecast(goal: Goal, network: TaskNetwork, remaining: list[PlannedTask], spent: float,
                   allocation: AllocationSummary | None) -> float | None:
    """Hours spent plus remaining PERT hours, at pool rates; on the allocation's cost basis when given.

    None when the pools carry no rates (then nothing can be said about cost).
    """
    planned = _cost_of(goal, network.tasks, lambda task: task.estimate.pert_mean)
    if planned <= 0:
        return None
    forecast = spent + _cost_of(goal, remaining, lambda task: task.estimate.pert_mean)
    if allocation is not None and allocation.total_cost is not None:
        return allocation.total_cost * forecast / planned
    return forecast


def _cost_of(goal: Goal, tasks: list[PlannedTask], hours: Callable[[PlannedTask], float]) -> float:
    rates = {pool.type: pool.cost_per_hour for pool in goal.resources}
    return sum(hours(task) * sum(units * rates.get(r, 0.0) for r, units in task.resources.items()) for task in tasks)


def _limit(factor: float) -> float:
    low, high = FACTOR_LIMITS
    return min(high, max(low, factor))
