"""Turning a finished draft into the `TaskNetwork` every later stage reads."""

from __future__ import annotations

from datetime import date

from planning.decomposition.context import Context
from planning.decomposition.domain import Domain
from planning.decomposition.explicit import settle_phases
from planning.decomposition.resources import ResourcePlan
from planning.decomposition.work import Draft, sinks_within
from planning.goal import Goal
from planning.network import Dependency, Milestone, Phase, PlannedTask, TaskNetwork

FINAL_MILESTONE = "m.goal"


def assemble(
    draft: Draft, goal: Goal, domain: Domain, resources: ResourcePlan, strategy: str, notes: dict, warnings: list[str]
) -> TaskNetwork:
    # Strategies may add dependencies after phases were set (resource streams do); relabel so a
    # phase never starts before the one before it, which keeps the phase milestones meaningful.
    settle_phases(draft, domain)
    order = draft.order()
    position = {key: index for index, key in enumerate(order)}
    tasks = []
    used_types: set[str] = set()
    for key in order:
        item = draft.items[key]
        used_types.update(item.resources)
        preds = sorted(draft.preds[key].items(), key=lambda pair: position[pair[0]])
        tasks.append(
            PlannedTask(
                id=key,
                name=item.name,
                estimate=item.estimate,
                description=item.description,
                parent=draft.parents.get(key),
                phase=item.phase,
                resources=dict(item.resources),
                depends_on=[Dependency(pred, kind, lag) for pred, (kind, lag) in preds],
                success_criteria=list(item.success_criteria),
                risk_tags=list(item.risk_tags),
                origin=item.origin,
                inputs=list(item.inputs),
                outputs=list(item.outputs),
            )
        )
    phases: list[Phase] = []
    milestones: list[Milestone] = []
    for spec in domain.phases:
        keys = [key for key in order if draft.items[key].phase == spec.id]
        if not keys:
            continue
        phases.append(Phase(spec.id, spec.name, keys))
        gate = draft.gates.get(spec.id)
        milestones.append(
            Milestone(f"m.{spec.id}", f"{spec.name} complete", [gate] if gate else sinks_within(draft, keys), spec.id)
        )
    sinks = draft.sinks()
    milestones.append(
        Milestone(
            FINAL_MILESTONE,
            f"Goal complete: {goal.title}",
            sorted(sinks, key=position.__getitem__),
            phases[-1].id if phases else None,
            _iso(goal.deadline),
        )
    )
    referenced = {parent for parent in draft.parents.values() if parent}
    wbs = [
        {"id": node, "name": name, "parent": parent}
        for node, (name, parent) in draft.wbs.items()
        if node in referenced or any(p == node for _, p in draft.wbs.values())
    ]
    all_notes = {**draft.notes, **notes, "wbs": wbs, "task_count": len(tasks)}
    if resources.goal_pools:
        all_notes["resource_mapping"] = {k: v for k, v in sorted(resources.mapping.items()) if k != v}
        all_notes["role_map"] = resources.notes()
    else:
        all_notes["suggested_pools"] = resources.suggested_pools(used_types)
    seen: set[str] = set()
    unique_warnings = [w for w in [*warnings, *draft.warnings, *resources.warnings] if not (w in seen or seen.add(w))]
    network = TaskNetwork(tasks, phases, milestones, strategy, domain.id, unique_warnings, all_notes)
    return network


def _iso(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def context_notes(ctx: Context) -> dict:
    return {"decomposition_depth": ctx.expansion.depth, "components": [c.name for c in ctx.expansion.components]}
