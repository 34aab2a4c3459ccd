"""Timeline risks: compression, the deadline against P80, little float, near-critical paths,
and (on reassessment) poor earned-value performance."""

from __future__ import annotations

from planning.risk.context import RiskContext
from planning.risk.mitigations import count, describe_tasks
from planning.risk.rules.finding import Finding, clamp

LOW_FLOAT_SHARE = 0.5  # share of tasks with under a day of float that makes a schedule fragile
LOW_FLOAT_MIN_TASKS = 5  # below this many tasks "many" means little
NEAR_CRITICAL_INDEX = 0.2  # Monte Carlo criticality index of a task off the critical path
NEAR_CRITICAL_FLOAT = 0.1  # without Monte Carlo: float within this share of the critical path
POOR_PERFORMANCE_INDEX = 0.9  # CPI or SPI below this


def schedule_compression(ctx: RiskContext) -> list[Finding]:
    """The deadline is shorter than the critical path (the schedule's makespan after scheduling).

    Why: even with every estimate met the plan finishes late; something must give. Before
    scheduling the critical path uses PERT means of the tasks that have estimates, so it is a
    lower bound. Probability 0.95, impact Critical.
    """
    if ctx.deadline_hours is None or ctx.critical_length <= ctx.deadline_hours:
        return []
    gap = ctx.critical_length - ctx.deadline_hours
    path = sorted(ctx.critical)
    return [Finding(
        rule="schedule_compression",
        category="timeline",
        subject="plan",
        title="Deadline shorter than the critical path",
        description=(f"The critical path takes {ctx.critical_length:.0f} working hours; the deadline allows "
                     f"{ctx.deadline_hours:.0f} ({gap:.0f} short)."),
        probability=0.95,
        impact="Critical",
        affected_tasks=tuple(path),
        mitigations=("fast_track", "crash", "reduce_scope", "renegotiate_target"),
        details={"tasks": describe_tasks(path), "resource": "the critical resources",
                 "target": f"{ctx.critical_length:.0f} working hours from the start"},
        evidence={"critical_path_hours": ctx.critical_length, "deadline_hours": ctx.deadline_hours,
                  "gap_hours": gap},
    )]


def deadline_below_p80(ctx: RiskContext) -> list[Finding]:
    """The plan meets the deadline on paper but the Monte Carlo P80 finish misses it.

    Why: the deterministic finish assumes every task takes its PERT mean; with the
    estimates' spread, fewer than 80 % of outcomes finish in time. Probability = the
    simulated chance of missing; impact Critical when even P50 misses, else High. Leaves
    the case "critical path longer than the deadline" to schedule_compression.
    """
    risk = ctx.schedule_risk
    deadline = ctx.deadline_hours
    if risk is None or deadline is None or risk.deadline_probability is None:
        return []
    if ctx.critical_length > deadline or risk.p80 <= deadline:
        return []
    drivers = [entry["task"] for entry in risk.tornado[:5]]
    miss = 1.0 - risk.deadline_probability
    return [Finding(
        rule="deadline_below_p80",
        category="timeline",
        subject="plan",
        title="Deadline likely missed",
        description=(f"P50 {risk.p50:.0f}, P80 {risk.p80:.0f}, P95 {risk.p95:.0f} working hours against a "
                     f"deadline of {deadline:.0f}: a {risk.deadline_probability:.0%} chance to finish in time."),
        probability=clamp(miss),
        impact="Critical" if risk.p50 > deadline else "High",
        affected_tasks=tuple(drivers),
        mitigations=("add_buffer", "fast_track", "crash", "renegotiate_target"),
        details={"tasks": describe_tasks(drivers), "resource": "the critical resources",
                 "buffer_hours": f"{max(0.0, risk.p80 - ctx.critical_length):.0f}",
                 "target": f"{risk.p80:.0f} working hours (P80)"},
        evidence={"p50": risk.p50, "p80": risk.p80, "p95": risk.p95, "deadline_hours": deadline,
                  "deadline_probability": risk.deadline_probability},
    )]


def little_float(ctx: RiskContext) -> list[Finding]:
    """Half or more of the tasks (at least five) have under one working day of total float.

    Why: a schedule where most work is critical or nearly so turns any slip into a late
    finish. Probability = that share (at most 0.9); impact High at 80 % or more, else Medium.
    """
    floats = {task.id: ctx.total_float[task.id] for task in ctx.tasks if task.id in ctx.total_float}
    if len(floats) < LOW_FLOAT_MIN_TASKS:
        return []
    day = ctx.settings.hours_per_day
    tight = [task_id for task_id, slack in floats.items() if slack < day]
    share = len(tight) / len(floats)
    if share < LOW_FLOAT_SHARE:
        return []
    return [Finding(
        rule="little_float",
        category="timeline",
        subject="plan",
        title="Little float in the schedule",
        description=f"{len(tight)} of {len(floats)} tasks ({share:.0%}) have less than {day} working hours of float.",
        probability=clamp(share, high=0.9),
        impact="High" if share >= 0.8 else "Medium",
        affected_tasks=tuple(tight),
        mitigations=("add_buffer", "reduce_scope", "rebalance_load"),
        details={"tasks": describe_tasks(tight), "resource": "the busiest pool",
                 "buffer_hours": f"{0.1 * ctx.critical_length:.0f}"},
        evidence={"tight_tasks": len(tight), "tasks": len(floats), "share": round(share, 4)},
    )]


def near_critical_paths(ctx: RiskContext) -> list[Finding]:
    """Tasks off the critical path that often become critical.

    With Monte Carlo: criticality index >= 0.2; probability = the highest such index (at
    most 0.9).
    Without: total float within 10 % of the critical path; probability 0.4. Why: several
    near-equal paths merge late, and the finish is the latest of them (merge bias), so the
    deterministic critical path understates the risk. Impact High with three or more such
    tasks, else Medium.
    """
    risk = ctx.schedule_risk
    if risk is not None:
        index = {t: c for t, c in risk.criticality.items() if t not in ctx.critical and c >= NEAR_CRITICAL_INDEX}
        probability = min(0.9, max(index.values(), default=0.0))
    else:
        limit = NEAR_CRITICAL_FLOAT * ctx.critical_length
        index = {t: 0.0 for t, slack in ctx.total_float.items() if t not in ctx.critical and 0 < slack <= limit}
        probability = 0.4
    if not index:
        return []
    ids = sorted(index, key=lambda t: (-index[t], t))
    return [Finding(
        rule="near_critical_paths",
        category="timeline",
        subject="plan",
        title="Near-critical paths",
        description=f"{count(len(ids), 'task')} off the critical path but close to it: {describe_tasks(ids)}.",
        probability=clamp(probability),
        impact="High" if len(ids) >= 3 else "Medium",
        affected_tasks=tuple(ids),
        mitigations=("add_buffer", "crash", "split_work"),
        details={"tasks": describe_tasks(ids), "resource": "the resources of these tasks",
                 "buffer_hours": f"{0.05 * ctx.critical_length:.0f}"},
        evidence={"tasks": len(ids), "criticality": {t: round(index[t], 4) for t in ids[:10]}},
    )]


def poor_performance(ctx: RiskContext) -> list[Finding]:
    """Earned value says the work runs slower (SPI) or costs more hours (CPI) than planned.

    Only on reassessment. Why: past performance is the best predictor of the rest, so an
    index below 0.9 will show in the finish. Probability 0.5 + 2 × (0.9 − the lower index),
    at most 0.95; impact High below 0.8, else Medium.
    """
    perf = ctx.performance
    if not perf:
        return []
    indices = [value for value in (perf.get("cpi"), perf.get("spi")) if value is not None]
    if not indices or min(indices) >= POOR_PERFORMANCE_INDEX:
        return []
    worst = min(indices)
    slow = list(perf.get("overrunning_tasks") or ())
    return [Finding(
        rule="poor_performance",
        category="timeline",
        subject="plan",
        title="Work running behind plan",
        description=(f"Earned value so far: CPI {_fmt(perf.get('cpi'))}, SPI {_fmt(perf.get('spi'))} "
                     f"(hours-based); {count(len(slow), 'task')} over plan."),
        probability=clamp(0.5 + 2.0 * (POOR_PERFORMANCE_INDEX - worst), high=0.95),
        impact="High" if worst < 0.8 else "Medium",
        affected_tasks=tuple(slow),
        mitigations=("crash", "reduce_scope", "renegotiate_target"),
        details={"tasks": describe_tasks(slow) if slow else "the remaining critical tasks",
                 "resource": "the overrunning pools", "target": "the forecast finish"},
        evidence={"cpi": perf.get("cpi"), "spi": perf.get("spi")},
    )]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
