"""Resource risks: demand against capacity, saturation, single people on the critical path,
allocation shortfalls, cost against budget."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planning.risk.context import RiskContext
from planning.risk.mitigations import count, describe_tasks
from planning.risk.rules.finding import Finding, clamp

SINGLE_PERSON_SHARE = 0.1  # share of the critical path's hours on one person that matters
SATURATION_LOAD = 0.75  # average utilisation over the makespan that, with a full peak, leaves no headroom
BUDGET_MARGIN = 0.9  # cost at or above this share of the budget is a thin margin


def demand_exceeds_capacity(ctx: RiskContext) -> list[Finding]:
    """A pool asked for more work-hours than it can give before the deadline.

    Demand is units × PERT mean hours over the tasks using the pool; supply is capacity ×
    the working hours left until the deadline, less `resource_buffer_percentage`. Why: no ordering of the work fits it
    in time. Above raw supply: probability 0.95, Critical; above the buffered supply only:
    0.6, High. Needs a deadline.
    """
    if ctx.deadline_hours is None:
        return []
    horizon = max(0.0, ctx.deadline_hours - ctx.origin_hours)
    demand: dict[str, float] = defaultdict(float)
    users: dict[str, list[str]] = defaultdict(list)
    for task in ctx.tasks:
        for resource, units in task.resources.items():
            demand[resource] += units * task.mean_hours
            users[resource].append(task.id)
    findings = []
    for resource in sorted(demand):
        capacity = ctx.capacity(resource)
        if capacity is None:
            continue
        supply = capacity * horizon
        buffered = supply * (1.0 - ctx.settings.resource_buffer_percentage)
        if demand[resource] <= buffered:
            continue
        beyond_raw = demand[resource] > supply
        findings.append(Finding(
            rule="demand_exceeds_capacity",
            category="resource",
            subject=resource,
            title=f"Not enough {resource} before the deadline",
            description=(f"Tasks need {demand[resource]:.0f} {resource}-hours; {capacity} units over "
                         f"{horizon:.0f} working hours give {supply:.0f}"
                         f" ({buffered:.0f} after the {ctx.settings.resource_buffer_percentage:.0%} buffer)."),
            probability=0.95 if beyond_raw else 0.6,
            impact="Critical" if beyond_raw else "High",
            affected_tasks=tuple(users[resource]),
            mitigations=("increase_capacity", "reduce_scope", "renegotiate_target"),
            details={"resource": resource, "tasks": describe_tasks(users[resource]),
                     "target": f"{demand[resource] / capacity / (1.0 - ctx.settings.resource_buffer_percentage):.0f}"
                               " working hours"},
            evidence={"demand_hours": round(demand[resource], 2), "supply_hours": supply,
                      "buffered_supply_hours": round(buffered, 2), "capacity": capacity},
        ))
    return findings


def saturated_resource(ctx: RiskContext) -> list[Finding]:
    """A pool the schedule runs at full capacity and keeps busy (load >= 0.75 of the makespan,
    or of what is left of it on reassessment).

    Why: tasks queue for it in the schedule's order, so any overrun on it pushes every later
    task in that queue. Probability = the load (at most 0.9); impact High when a task using
    it is critical, else Medium. Needs the schedule.
    """
    snapshot = ctx.snapshot
    horizon = (snapshot.makespan if snapshot else 0) - ctx.origin_hours  # the rest of the schedule
    if snapshot is None or horizon <= 0:
        return []
    findings = []
    for resource, capacity in sorted(snapshot.capacities.items()):
        users = [task for task in ctx.tasks if task.resources.get(resource) and task.id in snapshot.starts]
        if not users or capacity <= 0:
            continue
        events = sorted([(snapshot.starts[t.id], t.resources[resource]) for t in users]
                        + [(snapshot.finishes[t.id], -t.resources[resource]) for t in users])
        peak = running = 0
        for _, change in events:  # finishes sort before starts at the same hour (negative first)
            running += change
            peak = max(peak, running)
        busy = sum(t.resources[resource] * (snapshot.finishes[t.id] - max(snapshot.starts[t.id], ctx.origin_hours))
                   for t in users if snapshot.finishes[t.id] > ctx.origin_hours)
        load = busy / (capacity * horizon)
        if peak < capacity or load < SATURATION_LOAD:
            continue
        ids = [t.id for t in users]
        critical = [t for t in ids if t in ctx.critical]
        findings.append(Finding(
            rule="saturated_resource",
            category="resource",
            subject=resource,
            title=f"{resource} is saturated",
            description=(f"{resource} reaches its capacity of {capacity} and is {load:.0%} busy over the "
                         f"schedule; {len(ids)} tasks queue for it, {len(critical)} critical."),
            probability=clamp(load, high=0.9),
            impact="High" if critical else "Medium",
            affected_tasks=tuple(ids),
            mitigations=("rebalance_load", "increase_capacity", "add_buffer"),
            details={"resource": resource, "tasks": describe_tasks(ids),
                     "buffer_hours": f"{0.1 * snapshot.makespan:.0f}"},
            evidence={"capacity": capacity, "peak": peak, "load": round(load, 4), "critical_tasks": len(critical)},
        ))
    return findings


def single_person_critical(ctx: RiskContext) -> list[Finding]:
    """A pool of one unit (one person, one machine) doing at least 10 % of the critical path's hours.

    Why: illness or a competing request stops the critical path outright, with no one to
    take over. Probability 0.3 + 0.5 × the share of the critical path's hours on that
    unit (at most 0.8); impact High.
    """
    findings = []
    resources = sorted({resource for task in ctx.tasks for resource in task.resources})
    critical_hours = sum(task.mean_hours for task in ctx.tasks if task.id in ctx.critical)
    for resource in resources:
        if ctx.capacity(resource) != 1:
            continue
        on_path = [task for task in ctx.tasks if task.id in ctx.critical and task.resources.get(resource)]
        if not on_path:
            continue
        share = sum(task.mean_hours for task in on_path) / critical_hours if critical_hours else 0.0
        if share < SINGLE_PERSON_SHARE:
            continue
        ids = [task.id for task in on_path]
        findings.append(Finding(
            rule="single_person_critical",
            category="resource",
            subject=resource,
            title=f"Single {resource} on the critical path",
            description=(f"{resource} has one unit and works {count(len(ids), 'critical task')} "
                         f"({share:.0%} of the critical path's hours): {describe_tasks(ids)}."),
            probability=clamp(0.3 + 0.5 * share, high=0.8),
            impact="High",
            affected_tasks=tuple(ids),
            mitigations=("backup_resource", "crash", "add_buffer"),
            details={"resource": resource, "tasks": describe_tasks(ids), "buffer_hours": "8"},
            evidence={"critical_tasks": len(ids), "critical_hours_share": round(share, 4)},
        ))
    return findings


def allocation_shortfall(ctx: RiskContext) -> list[Finding]:
    """Units the allocate stage asked for and could not get, per resource.

    Why: the schedule assumes units that are not there; the work waits or is understaffed.
    Probability 0.9 (already known); impact Critical when a short task is critical, else High.
    """
    if ctx.allocation is None or not ctx.allocation.shortfalls:
        return []
    by_resource: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shortfall in ctx.allocation.shortfalls:
        by_resource[str(shortfall["resource"])].append(shortfall)
    findings = []
    for resource in sorted(by_resource):
        rows = by_resource[resource]
        ids = list(dict.fromkeys(str(row["task_id"]) for row in rows))
        critical = [t for t in ids if t in ctx.critical]
        missing = sum(max(0, row["needed"] - row["available"]) for row in rows)
        findings.append(Finding(
            rule="allocation_shortfall",
            category="resource",
            subject=resource,
            title=f"Allocation shortfall of {resource}",
            description=(f"The allocation is {count(missing, 'unit')} of {resource} short across "
                         f"{count(len(ids), 'task')} "
                         f"({describe_tasks(ids)}); {len(critical)} are critical."),
            probability=0.9,
            impact="Critical" if critical else "High",
            affected_tasks=tuple(ids),
            mitigations=("increase_capacity", "rebalance_load", "reduce_scope"),
            details={"resource": resource, "tasks": describe_tasks(ids)},
            evidence={"units_short": missing, "tasks": len(ids), "critical_tasks": len(critical)},
        ))
    return findings


def over_budget(ctx: RiskContext) -> list[Finding]:
    """Forecast cost at or above 90 % of the budget.

    The forecast is the goal's own estimate before scheduling (PERT mean hours × units ×
    pool rate), the allocation's total after it, and on reassessment the cost of the hours
    spent plus the rest at plan rates. Why: a thin margin absorbs no overrun. Over budget by
    up to 10 %: probability 0.9, High; beyond: 0.9, Critical; within the margin: 0.5, Medium.
    """
    cost, budget = ctx.cost_estimate, ctx.budget
    if cost is None or budget is None or cost < BUDGET_MARGIN * budget:
        return []
    if cost <= budget:
        probability, impact = 0.5, "Medium"
    else:
        probability, impact = 0.9, "High" if budget > 0 and cost <= 1.1 * budget else "Critical"
    ratio = cost / budget if budget else None
    share = f" ({ratio:.0%})" if ratio is not None else ""
    return [Finding(
        rule="over_budget",
        category="resource",
        subject="plan",
        title="Cost over budget" if cost > budget else "Thin budget margin",
        description=(f"Forecast cost {cost:,.2f} {ctx.currency} against a budget of {budget:,.2f} "
                     f"{ctx.currency}{share}."),
        probability=probability,
        impact=impact,
        mitigations=("reduce_scope", "rebalance_load", "renegotiate_target"),
        details={"resource": "the most expensive pool", "target": f"a budget of {cost * 1.1:,.0f} {ctx.currency}"},
        evidence={"cost": round(cost, 2), "budget": budget, "ratio": round(ratio, 4) if ratio is not None else None},
    )]
