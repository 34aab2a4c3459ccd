"""Technical risks: complexity, duration uncertainty, new technology."""

from __future__ import annotations

from planning.risk.context import RiskContext
from planning.risk.mitigations import count, describe_tasks
from planning.risk.rules.finding import Finding, clamp, tag_finding

COMPLEXITY_TASKS = 40  # tasks in one plan before coordination dominates
COMPLEXITY_DENSITY = 1.5  # dependency links per task
HUB_PREDECESSORS = 3  # a task waiting on this many others is a merge point
WIDE_CV = 0.25  # PERT sigma / PERT mean at or above which an estimate counts as wide


def high_complexity(ctx: RiskContext) -> list[Finding]:
    """A large or densely linked network (>= 40 tasks or >= 1.5 dependency links per task).

    Why: every link is a hand-over through which a slip travels, and merge points collect
    the latest of their inputs; past these sizes coordination rather than work sets the pace.
    Probability 0.4 + 0.1 × the larger of the two ratios to their limits (at most 0.8);
    impact High when both limits are passed, else Medium.
    """
    count = len(ctx.tasks)
    if count == 0:
        return []
    links = sum(len(task.predecessors) for task in ctx.tasks)
    size_ratio = count / COMPLEXITY_TASKS
    density_ratio = links / count / COMPLEXITY_DENSITY
    if max(size_ratio, density_ratio) < 1.0:
        return []
    hubs = [task.id for task in ctx.tasks if len(task.predecessors) >= HUB_PREDECESSORS]
    return [
        Finding(
            rule="high_complexity",
            category="technical",
            subject="plan",
            title="Complex task network",
            description=(f"{count} tasks with {links} dependency links ({links / count:.2f} per task); "
                         f"{len(hubs)} merge points wait on {HUB_PREDECESSORS} or more tasks."),
            probability=clamp(0.4 + 0.1 * max(size_ratio, density_ratio), high=0.8),
            impact="High" if min(size_ratio, density_ratio) >= 1.0 else "Medium",
            affected_tasks=tuple(hubs),
            mitigations=("split_work", "early_integration_test", "add_buffer"),
            details={"tasks": describe_tasks(hubs) if hubs else "the largest tasks", "buffer_hours": "8"},
            evidence={"tasks": count, "links": links, "links_per_task": round(links / count, 3),
                      "merge_points": len(hubs)},
        )
    ]


def wide_estimates(ctx: RiskContext) -> list[Finding]:
    """Tasks whose three-point range is wide for their size (PERT sigma / mean >= 0.25).

    Why: a wide range says the estimator does not know; on the critical path that
    uncertainty moves the finish one for one. Probability 0.3 + 0.5 × the share of the
    critical path's PERT variance carried by wide tasks (at most 0.8); impact High when a
    wide task is critical, else Medium.
    """
    variance = {task.id: task.estimate.pert_variance for task in ctx.tasks if task.estimate is not None}
    wide = [task.id for task in ctx.tasks
            if task.estimate is not None and variance[task.id] ** 0.5 >= WIDE_CV * task.estimate.pert_mean]
    if not wide:
        return []
    path_variance = sum(v for task_id, v in variance.items() if task_id in ctx.critical)
    wide_critical = [task_id for task_id in wide if task_id in ctx.critical]
    share = sum(variance[t] for t in wide_critical) / path_variance if path_variance else 0.0
    ids = wide
    return [
        Finding(
            rule="wide_estimates",
            category="technical",
            subject="plan",
            title="Uncertain durations",
            description=(f"{count(len(wide), 'task')} with a three-point range whose sigma is at least "
                         f"{WIDE_CV:.0%} of the mean ({describe_tasks(ids)}); {len(wide_critical)} of them critical, "
                         f"carrying {share:.0%} of the critical path's variance."),
            probability=clamp(0.3 + 0.5 * share, high=0.8),
            impact="High" if wide_critical else "Medium",
            affected_tasks=tuple(ids),
            mitigations=("spike", "split_work", "add_buffer"),
            details={"tasks": describe_tasks(wide_critical or ids),
                     "buffer_hours": _buffer_hours([variance[t] for t in wide_critical or wide])},
            evidence={"wide_tasks": len(wide), "critical_wide_tasks": len(wide_critical),
                      "critical_variance_share": round(share, 4)},
        )
    ]


def new_technology(ctx: RiskContext) -> list[Finding]:
    """Work tagged `new_technology` (or a goal whose text says so).

    Why: with no history on a technology there is nothing to estimate from, and first use
    is where estimates fail most. Probability 0.5 (0.7 when such a task is critical);
    impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="new_technology", category="technical", tags=("new_technology",),
        title="New or unproven technology",
        why="The work relies on technology the team has not used before.",
        base_probability=0.5, impacts=("Medium", "High"), mitigations=("spike", "add_buffer", "split_work"),
    )


def _buffer_hours(variances: list[float]) -> float:
    """About the 90th-percentile protection for these tasks' combined spread: 1.28 sigma."""
    spread: float = 1.28 * float(sum(variances)) ** 0.5
    return round(spread, 1)


def quality_targets(ctx: RiskContext) -> list[Finding]:
    """Work tagged `performance`, `model_quality` or `data_quality`: a bar not yet shown to be reachable.

    Why: whether latency, model accuracy or data quality targets can be met is only known
    by trying, and missing them means rework. Probability 0.4 (0.6 when critical); impact
    High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="quality_targets", category="technical", tags=("performance", "model_quality", "data_quality"),
        title="Performance or quality targets",
        why="Tasks must reach a performance, model or data quality bar not yet shown to be reachable.",
        base_probability=0.4, impacts=("Medium", "High"), mitigations=("spike", "add_buffer"),
    )


def unclear_scope(ctx: RiskContext) -> list[Finding]:
    """Work tagged `scope_uncertainty`: what is wanted is not yet clear.

    Why: estimates of unclear work are guesses, and scope found later lands on the end of
    the plan. Probability 0.5 (0.7 when critical); impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="unclear_scope", category="technical", tags=("scope_uncertainty",),
        title="Unclear scope",
        why="What the work must deliver is not yet settled.",
        base_probability=0.5, impacts=("Medium", "High"), mitigations=("split_work", "reduce_scope"),
    )


def irreversible_steps(ctx: RiskContext) -> list[Finding]:
    """Work tagged `irreversible`: cutovers, launches, deletions that are hard to undo.

    Why: a failed irreversible step cannot simply be retried; its consequences stay.
    Probability 0.3 (0.5 when critical); impact Critical when critical, else High.
    """
    return tag_finding(
        ctx, rule="irreversible_steps", category="technical", tags=("irreversible",),
        title="Irreversible steps",
        why="Tasks are hard to undo once done (cutover, launch, deletion).",
        base_probability=0.3, impacts=("High", "Critical"), mitigations=("rehearse_rollback", "add_buffer"),
    )
