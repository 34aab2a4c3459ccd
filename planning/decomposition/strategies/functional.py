"""Functional: one pipeline per system function (design -> build -> verify -> release), shared work factored out.

Each component is a function; goal-level work forms a common function.
Inside a function every task of a stage waits for the previous stage to
finish (a stage gate inside the function only). Domain tasks marked
``shared`` that several components would each do (a CI pipeline, an auth
integration, a monitoring setup) are done once, by the common function, for
all of them; the merged task is somewhat bigger than one copy and every
consumer waits for it.
"""

from __future__ import annotations

from collections import deque

from planning.decomposition.context import Context
from planning.decomposition.domain import render
from planning.decomposition.work import Draft, WorkItem, scaled, sinks_within, sources_within

ORIGIN = "strategy:functional"
COMMON = "function:common"
SHARED_SCALE_PER_EXTRA_COMPONENT = 0.25  # one merged copy costs 1 + 0.25 per extra component served


def build(ctx: Context) -> Draft:
    base = ctx.base
    groups: dict[tuple[str, str], list[str]] = {}
    for key, item in base.items.items():
        if item.shared and item.component and item.template and not item.explicit:
            groups.setdefault((item.template, item.phase), []).append(key)
    merged_into: dict[str, str] = {}
    successors = base.successors()
    for (template_id, _phase), keys in groups.items():
        if len(keys) > 1 and not _members_connected(keys, successors):
            target = f"shared.{template_id}"
            for key in keys:
                merged_into[key] = target

    names = {component.slug: component.name for component in ctx.expansion.components}
    draft = Draft(notes=dict(base.notes), warnings=list(base.warnings))
    draft.wbs[COMMON] = ("Common and shared functions", None)
    for component in ctx.expansion.components:
        draft.wbs[f"function:{component.slug}"] = (f"Function: {component.name}", None)
    for key, item in base.items.items():
        if key in merged_into:
            target = merged_into[key]
            if target not in draft.items:
                draft.add(
                    _merged(ctx, target, [base.items[k] for k in base.items if merged_into.get(k) == target], names),
                    None,
                )
            continue
        draft.add(item, None)
    for succ, preds in base.preds.items():
        for pred, info in preds.items():
            draft.link(merged_into.get(pred, pred), merged_into.get(succ, succ), info)

    stage_of = {phase.id: phase.stage for phase in ctx.domain.phases}
    functions: dict[str, list[str]] = {}
    for key, item in draft.items.items():
        function = f"function:{item.component}" if item.component else COMMON
        if function not in draft.wbs:
            draft.wbs[function] = (f"Function: {item.component}", None)
        functions.setdefault(function, []).append(key)
    for function, keys in functions.items():
        by_stage: dict[str, list[str]] = {}
        for key in keys:
            by_stage.setdefault(stage_of.get(draft.items[key].phase, draft.items[key].phase), []).append(key)
        previous: list[str] = []
        for stage in ctx.domain.stages:
            stage_keys = by_stage.get(stage)
            if not stage_keys:
                continue
            node = f"{function}/{stage}"
            draft.wbs[node] = (f"{draft.wbs[function][0]}: {stage}", function)
            for key in stage_keys:
                draft.parents[key] = node
            if previous:
                for end in sinks_within(draft, previous):
                    for begin in sources_within(draft, stage_keys):
                        draft.link(end, begin)
            previous = stage_keys
    draft.notes["functional"] = {
        "shared_functions": sorted({target for target in merged_into.values()}),
        "functions": len(functions),
    }
    ctx.check_size(draft, "functional")
    return draft


def _merged(ctx: Context, key: str, members: list[WorkItem], names: dict[str, str]) -> WorkItem:
    template = ctx.domain.templates[members[0].template]  # type: ignore[index]
    served = [names.get(member.component or "", member.component or "") for member in members]
    values = {"goal": ctx.goal.title, "component": "all components"}
    name = render(template.shared_name or template.name, **values)
    factor = 1 + SHARED_SCALE_PER_EXTRA_COMPONENT * (len(members) - 1)
    return WorkItem(
        key=key,
        name=name,
        phase=members[0].phase,
        estimate=scaled(template.estimate, factor),
        resources=members[0].resources,
        success_criteria=tuple(render(text, **values) for text in template.success_criteria),
        risk_tags=template.risk_tags,
        origin=ORIGIN,
        description=f"Done once for {', '.join(served)} instead of once per component. {template.description}".strip(),
        template=template.id,
        shared=True,
        inputs=tuple(dict.fromkeys(i for m in members for i in m.inputs)),
        outputs=tuple(dict.fromkeys(o for m in members for o in m.outputs)),
    )


def _members_connected(keys: list[str], successors: dict[str, list[str]]) -> bool:
    """Whether any member reaches another: merging them would then make a cycle."""
    members = set(keys)
    seen: set[str] = set()
    queue = deque(succ for key in keys for succ in successors[key])
    while queue:
        key = queue.popleft()
        if key in members:
            return True
        if key in seen:
            continue
        seen.add(key)
        queue.extend(successors[key])
    return False
