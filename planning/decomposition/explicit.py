"""Tasks the goal already lists: filled from the domain, wired by their artifacts, merged with domain work.

An explicit task keeps everything the caller gave. What it lacks (estimate,
resources, success criteria, risk tags, phase) comes from the domain task it
reads most like. A task that produces an artifact precedes every task that
consumes it. In a mixed goal, an explicit task that plainly *is* one of the
domain's tasks takes that task's place instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from planning.decomposition.domain import Domain, TaskTemplate, render
from planning.decomposition.duplicates import find_take_overs
from planning.decomposition.resources import ResourcePlan
from planning.decomposition.work import Draft, WorkItem, slug
from planning.errors import PlanningError
from planning.goal import Goal, GoalTask
from planning.graph import find_cycle

FILL_THRESHOLD = 0.3  # cosine above which a domain task's figures stand in for missing ones
EXPLICIT_NODE = "explicit"


def explicit_items(goal: Goal, domain: Domain, resources: ResourcePlan, draft: Draft,
                   chosen: Mapping[str, TaskTemplate] | None = None) -> dict[str, TaskTemplate]:
    """Add the goal's tasks to `draft` (phase left blank when unknown); returns the template each matched.

    `chosen` gives the template of the tasks that took over domain tasks: they are filled from it.
    """
    matched: dict[str, TaskTemplate] = {}
    filled: dict[str, dict] = {}
    for task in goal.tasks:
        template, score = domain.match_template(f"{task.name} {task.description}")
        if chosen and task.id in chosen:
            template, score = chosen[task.id], max(score, FILL_THRESHOLD)
        if score < FILL_THRESHOLD:
            template = None
        else:
            matched[task.id] = template
        item, what = _item(task, template, goal, domain, resources)
        if what:
            filled[task.id] = {
                "from": f"{domain.id}:{template.id}" if template else f"{domain.id}:defaults",
                "fields": what,
                "similarity": round(score, 3),
            }
            if template is None and "estimate" in what:
                draft.warnings.append(
                    f"task {task.id!r} has no estimate and reads like no {domain.id!r} task; "
                    f"the domain default estimate was used"
                )
        draft.add(item, EXPLICIT_NODE)
    for task in goal.tasks:
        for dep in task.depends_on:
            draft.link(dep, task.id)
    if filled:
        draft.notes.setdefault("explicit", {})["filled"] = filled
    draft.wbs.setdefault(EXPLICIT_NODE, ("Tasks listed in the goal", None))
    return matched


def _item(
    task: GoalTask, template: TaskTemplate | None, goal: Goal, domain: Domain, resources: ResourcePlan
) -> tuple[WorkItem, list[str]]:
    filled: list[str] = []
    estimate = task.estimate
    if estimate is None:
        estimate = template.estimate if template else domain.default_estimate
        filled.append("estimate")
    units = dict(task.resources)
    if not units:
        units = resources.map_units(template.resources if template else domain.default_resources,
                                    f"{task.name} {task.description}", estimate.most_likely)
        filled.append("resources")
    else:
        resources.record_pools(units)  # the goal's own pools (validated): only the need is recorded
    values = {"goal": goal.title, "component": goal.title}
    if template:
        criteria = tuple(render(text, **values) for text in template.success_criteria)
        filled += ["success_criteria", "risk_tags", "phase"]
    elif task.outputs:
        criteria = (f"{', '.join(task.outputs)} delivered and accepted by the goal owner",)
    else:
        criteria = (f"'{task.name}' completed and accepted by the goal owner",)
    item = WorkItem(
        key=task.id,
        name=task.name,
        phase=template.phase if template else "",
        estimate=estimate,
        resources=units,
        success_criteria=criteria,
        risk_tags=template.risk_tags if template else (),
        origin="explicit",
        description=task.description or (render(template.description, **values) if template else ""),
        template=template.id if template else None,
        inputs=task.inputs,
        outputs=task.outputs,
        explicit=True,
    )
    return item, filled


def infer_artifact_dependencies(draft: Draft, explicit_ids: set[str]) -> dict[tuple[str, str], str]:
    """Producer precedes consumer for every shared artifact where at least one side is explicit.

    Domain-to-domain order is the methods' business, so artifacts never add
    edges between two domain tasks. Returns {(producer, consumer): artifact}.
    """
    producers: dict[str, list[str]] = {}
    for item in draft.items.values():
        for artifact in item.outputs:
            producers.setdefault(_artifact(artifact), []).append(item.key)
    inferred: dict[tuple[str, str], str] = {}
    for item in list(draft.items.values()):
        for artifact in item.inputs:
            for producer in producers.get(_artifact(artifact), ()):
                if producer == item.key or (producer not in explicit_ids and item.key not in explicit_ids):
                    continue
                if producer not in draft.preds[item.key]:
                    draft.link(producer, item.key)
                    inferred[(producer, item.key)] = artifact
    return inferred


def _artifact(name: str) -> str:
    return slug(name)


def check_cycles(draft: Draft, goal: Goal, inferred: dict[tuple[str, str], str]) -> None:
    """Raise PlanningError naming the cycle, pointing at the first goal task on it."""
    cycle = find_cycle(draft.successors())
    if not cycle:
        return
    steps = []
    for pred, succ in zip(cycle, cycle[1:], strict=False):
        artifact = inferred.get((pred, succ))
        why = f" ({succ} consumes {artifact!r} that {pred} produces)" if artifact else ""
        steps.append(f"{pred} -> {succ}{why}")
    index = {task.id: position for position, task in enumerate(goal.tasks)}
    on_cycle = [key for key in cycle if key in index]
    field = None
    if on_cycle:
        first = min(on_cycle, key=index.__getitem__)
        position = cycle.index(first)
        via_artifact = (cycle[position - 1] if position else cycle[-2], first) in inferred
        field = f"tasks[{index[first]}].{'inputs' if via_artifact else 'depends_on'}"
    raise PlanningError("dependency cycle: " + "; ".join(steps), field)


def merge_into(draft: Draft, goal: Goal, domain: Domain, resources: ResourcePlan, components: dict[str, str]) -> None:
    """Add the goal's tasks to a domain expansion; a task that is the same work as domain tasks replaces them.

    `components` maps component slug to name, to tell which component's copy an explicit task
    means. The rule is `planning.decomposition.duplicates`; `notes["explicit"]["took_over"]` lists,
    for each explicit task that replaced domain work, the template, the domain tasks and why.
    """
    take_overs = find_take_overs(goal, domain, draft, components)
    explicit = Draft()
    explicit_items(goal, domain, resources, explicit,
                   chosen={tid: domain.templates[t.template] for tid, t in take_overs.items()
                           if t.template in domain.templates})
    for key, item in explicit.items.items():
        take_over = take_overs.get(key)
        if take_over is None:
            draft.add(item, EXPLICIT_NODE)
            continue
        old = draft.items[take_over.keys[0]]
        component = old.component if len(take_over.keys) == 1 else None
        draft.add(replace(item, phase=old.phase, component=component, origin="explicit"),
                  draft.parents[take_over.keys[0]])
        for target in take_over.keys:
            for pred, info in draft.preds[target].items():
                if pred != key and pred not in take_over.keys:
                    draft.link(pred, key, info)
            for succ, preds in draft.preds.items():
                if target in preds and succ != key and succ not in take_over.keys:
                    draft.link(key, succ, preds[target])
        for target in take_over.keys:
            draft.remove(target)
    for key, preds in explicit.preds.items():
        for pred, info in preds.items():
            draft.link(pred, key, info)
    draft.wbs.update(explicit.wbs)
    draft.warnings += explicit.warnings
    notes = draft.notes.setdefault("explicit", {})
    notes.update(explicit.notes.get("explicit", {}))
    if take_overs:
        notes["replaced_domain_tasks"] = {tid: t.keys[0] for tid, t in take_overs.items()}
        notes["took_over"] = {tid: t.note() for tid, t in sorted(take_overs.items())}


def attach_loose_tasks(draft: Draft, explicit_ids: set[str], starts: list[str]) -> list[str]:
    """In a mixed goal, explicit tasks with no predecessor start after the domain's start tasks."""
    attached = []
    for key in explicit_ids:
        if not draft.preds[key] and key not in starts:
            for start in starts:
                draft.link(start, key)
            attached.append(key)
    return sorted(attached)


def settle_phases(draft: Draft, domain: Domain) -> None:
    """Give every task a phase no earlier than any predecessor's, so phases never run backwards.

    Unknown phases (explicit tasks matching no domain task) take their
    predecessors' latest phase, or the first phase.
    """
    rank = domain.phase_rank
    phase_of: dict[str, int] = {}
    for key in draft.order():
        item = draft.items[key]
        floor = max((phase_of[pred] for pred in draft.preds[key]), default=0)
        own = rank.get(item.phase, floor)
        phase_of[key] = max(own, floor)
        phase = domain.phases[phase_of[key]].id
        if phase != item.phase:
            draft.items[key] = replace(item, phase=phase)
