"""Integration risks: cross-layer and external-system work, many interfaces, late integration."""

from __future__ import annotations

from planning.risk.context import RiskContext
from planning.risk.mitigations import count, describe_tasks
from planning.risk.rules.finding import Finding, clamp, tag_finding

MANY_INTERFACES = 6  # interfaces from which they are many (every pair of four components)
LATE_SHARE = 0.75  # integration starting after this share of the makespan is late
INTEGRATION_TAGS = ("integration", "cross_layer", "external_dependency")


def cross_system_work(ctx: RiskContext) -> list[Finding]:
    """Work tagged `cross_layer`, `integration` or `data_migration`.

    Why: it depends on other layers' interfaces and data behaving as documented, which is
    where surprises live. Probability 0.4 (0.6 when critical); impact High when critical,
    else Medium.
    """
    return tag_finding(
        ctx, rule="cross_system_work", category="integration",
        tags=("cross_layer", "integration", "data_migration"),
        title="Cross-layer and integration work",
        why="Tasks cross layer or system boundaries, or migrate data between them.",
        base_probability=0.4, impacts=("Medium", "High"), mitigations=("early_integration_test", "spike"),
    )


def external_systems(ctx: RiskContext) -> list[Finding]:
    """Work tagged `external_dependency`: it needs a system this plan does not control.

    Why: availability, behaviour and change of that system are outside the plan.
    Probability 0.5 (0.7 when critical); impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="external_systems", category="integration", tags=("external_dependency",),
        title="Dependence on external systems",
        why="Tasks need a system outside this plan's control to be available and to behave.",
        base_probability=0.5, impacts=("Medium", "High"),
        mitigations=("early_integration_test", "add_buffer"),
    )


def many_interfaces(ctx: RiskContext) -> list[Finding]:
    """Six or more component interfaces: `context.interfaces` if the goal lists them, else
    every pair of its components (four components make six).

    Why: each interface is a place for a mismatch, and they grow with the square of the
    components. Probability 0.3 + 0.05 per interface (at most 0.8); impact High from 15
    interfaces, else Medium.
    """
    components = list(dict.fromkeys(ctx.goal.components))
    listed = ctx.goal.context.get("interfaces")
    count = len(components)
    interfaces = len(listed) if isinstance(listed, list) else count * (count - 1) // 2
    if interfaces < MANY_INTERFACES:
        return []
    source = "listed" if isinstance(listed, list) else "possible"
    return [Finding(
        rule="many_interfaces",
        category="integration",
        subject="plan",
        title="Many component interfaces",
        description=f"{count} components ({', '.join(components[:6])}{'…' if count > 6 else ''}) "
                    f"with {interfaces} {source} interfaces.",
        probability=clamp(0.3 + 0.05 * interfaces, high=0.8),
        impact="High" if interfaces >= 15 else "Medium",
        affected_tasks=tuple(ctx.tagged(*INTEGRATION_TAGS)),
        mitigations=("early_integration_test", "split_work"),
        details={"tasks": "the interfaces between " + ", ".join(components[:4])},
        evidence={"components": count, "interfaces": interfaces, "listed": source == "listed"},
    )]


def late_integration(ctx: RiskContext) -> list[Finding]:
    """Integration work scheduled to start in the last quarter of the schedule.

    Why: integration finds the interface defects; found late, there is no float left to fix
    them. Probability 0.6; impact High. Needs the schedule.
    """
    snapshot = ctx.snapshot
    if snapshot is None or snapshot.makespan <= 0:
        return []
    cutoff = LATE_SHARE * snapshot.makespan
    late = [t for t in ctx.tagged(*INTEGRATION_TAGS) if snapshot.starts.get(t, -1) >= cutoff]
    if not late:
        return []
    return [Finding(
        rule="late_integration",
        category="integration",
        subject="plan",
        title="Integration late in the schedule",
        description=f"{count(len(late), 'integration task')} starting after hour {cutoff:.0f} of "
                    f"{snapshot.makespan}: {describe_tasks(late)}.",
        probability=0.6,
        impact="High",
        affected_tasks=tuple(late),
        mitigations=("early_integration_test", "add_buffer"),
        details={"tasks": describe_tasks(late), "buffer_hours": f"{0.1 * snapshot.makespan:.0f}"},
        evidence={"late_tasks": len(late), "cutoff_hour": cutoff},
    )]
