"""The entry point: goal + settings + domain library -> task network."""

from __future__ import annotations

from planning.decomposition.assemble import assemble, context_notes
from planning.decomposition.context import Context
from planning.decomposition.expansion import expand
from planning.decomposition.explicit import (
    EXPLICIT_NODE,
    attach_loose_tasks,
    check_cycles,
    explicit_items,
    infer_artifact_dependencies,
    merge_into,
    settle_phases,
)
from planning.decomposition.library import DomainLibrary
from planning.decomposition.matching import choose_domain
from planning.decomposition.resources import ResourcePlan
from planning.decomposition.scoring import score
from planning.decomposition.strategies import BUILDERS, hybrid
from planning.decomposition.work import Draft
from planning.errors import PlanningError
from planning.goal import STRATEGIES, Goal
from planning.network import TaskNetwork
from planning.settings import PlanningSettings


def decompose(goal: Goal, settings: PlanningSettings, library: DomainLibrary) -> TaskNetwork:
    """Decompose `goal` into an acyclic task network with phases, milestones and notes.

    Raises PlanningError (with `field`) for an unknown domain or strategy, a
    dependency cycle among the goal's tasks, or a goal past the configured
    task or depth limits.
    """
    if goal.strategy not in STRATEGIES:
        raise PlanningError(f"unknown strategy {goal.strategy!r}; expected one of {', '.join(STRATEGIES)}", "strategy")
    domain, match_note, warnings = choose_domain(goal, library)
    if len(goal.tasks) > settings.max_tasks_per_plan:
        raise PlanningError(
            f"the goal lists {len(goal.tasks)} tasks, more than max_tasks_per_plan={settings.max_tasks_per_plan}",
            "tasks",
        )
    resources = ResourcePlan(goal, domain, library.roles)
    explicit_ids = {task.id for task in goal.tasks}
    notes: dict = {"domain_match": match_note}

    if goal.tasks and goal.domain is None and not goal.components:
        draft = Draft()
        explicit_items(goal, domain, resources, draft)
        inferred = infer_artifact_dependencies(draft, explicit_ids)
        check_cycles(draft, goal, inferred)
        settle_phases(draft, domain)
        _note_inferred(draft, inferred)
        notes["strategy"] = {
            "requested": goal.strategy,
            "used": "explicit",
            "why": "the goal lists its tasks and names no domain or components, so the network is exactly "
            "those tasks; the domain only filled what they lacked",
        }
        notes["score"] = score(draft, resources.capacities())
        return _finish(draft, goal, domain, resources, "explicit", notes, warnings)

    expansion = expand(goal, domain, settings, resources, explicit_ids, settings.max_tasks_per_plan - len(goal.tasks))
    base = expansion.draft
    if goal.tasks:
        merge_into(base, goal, domain, resources, {c.slug: c.name for c in expansion.components})
        inferred = infer_artifact_dependencies(base, explicit_ids)
        check_cycles(base, goal, inferred)
        loose = {key for key in explicit_ids if base.parents[key] == EXPLICIT_NODE}
        starts = [key for key in base.sources() if key not in loose]
        attached = attach_loose_tasks(base, loose, starts)
        _note_inferred(base, inferred)
        if attached:
            base.notes.setdefault("explicit", {})["started_after_kickoff"] = attached
    settle_phases(base, domain)
    ctx = Context(goal, domain, settings, resources, expansion)
    notes.update(context_notes(ctx))
    if goal.strategy == "hybrid":
        draft, hybrid_note = hybrid.build(ctx)
        notes["hybrid"] = hybrid_note
        notes["score"] = hybrid_note["candidates"][hybrid_note["winner"]]
    else:
        draft = BUILDERS[goal.strategy](ctx)
        notes["score"] = score(draft, resources.capacities())
    return _finish(draft, goal, domain, resources, goal.strategy, notes, warnings)


def _finish(
    draft: Draft, goal: Goal, domain, resources: ResourcePlan, strategy: str, notes: dict, warnings: list[str]
) -> TaskNetwork:
    network = assemble(draft, goal, domain, resources, strategy, notes, warnings)
    network.validate()
    return network


def _note_inferred(draft: Draft, inferred: dict[tuple[str, str], str]) -> None:
    if inferred:
        draft.notes.setdefault("explicit", {})["inferred_dependencies"] = [
            {"task_id": succ, "depends_on": pred, "artifact": artifact}
            for (pred, succ), artifact in sorted(inferred.items())
        ]
