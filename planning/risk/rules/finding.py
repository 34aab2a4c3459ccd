"""What a rule reports, and small helpers shared by the rule modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planning.risk.context import RiskContext
from planning.risk.mitigations import describe_tasks


@dataclass(frozen=True)
class Finding:
    """One detected risk before it gets an id, a rank and a history.

    `subject` is what the finding is about within its rule ("plan", a resource name);
    together with the rule it makes the risk id, so a rerun finds the same risk again.
    `details` fills the mitigation texts; `evidence` keeps the figures the rule used.
    """

    rule: str
    category: str
    subject: str
    title: str
    description: str
    probability: float
    impact: str
    affected_tasks: tuple[str, ...] = ()
    mitigations: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return round(min(high, max(low, value)), 4)


def tag_finding(ctx: RiskContext, *, rule: str, category: str, tags: tuple[str, ...], title: str,
                why: str, base_probability: float, impacts: tuple[str, str],
                mitigations: tuple[str, ...]) -> list[Finding]:
    """Shared shape of the tag rules: fire when tasks (or the goal) carry one of `tags`.

    Probability is `base_probability`, plus 0.2 when a tagged task is critical; impact is
    `impacts[1]` when a tagged task is critical, else `impacts[0]`.
    """
    tagged = ctx.tagged(*tags)
    goal_mentions = bool(ctx.goal_tags.intersection(tags))
    if not tagged and not goal_mentions:
        return []
    critical = [task_id for task_id in tagged if task_id in ctx.critical]
    where = f"tasks {describe_tasks(tagged)}" if tagged else "the goal's description"
    on_path = f"; {len(critical)} on the critical path" if critical else ""
    return [
        Finding(
            rule=rule,
            category=category,
            subject="plan",
            title=title,
            description=f"{why} Found in {where}{on_path}.",
            probability=clamp(base_probability + (0.2 if critical else 0.0)),
            impact=impacts[1] if critical else impacts[0],
            affected_tasks=tuple(tagged),
            mitigations=mitigations,
            details={"tasks": describe_tasks(tagged) if tagged else "the affected work"},
            evidence={"tags": sorted(tags), "tagged_tasks": len(tagged), "critical_tasks": len(critical),
                      "from_goal_text": goal_mentions and not tagged},
        )
    ]
