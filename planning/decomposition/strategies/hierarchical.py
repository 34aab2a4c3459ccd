"""Hierarchical: top-down by component, each decomposed by the domain's methods, integrated where they meet.

The network is the HTN expansion itself (goal -> compound tasks -> per
component subtree -> leaves), plus one integration task for each pair of
components that meet: the pairs listed in ``context.interfaces`` or, by
default, each component with the next one in the goal's list. An
integration waits for both components and everything after the components
waits for the integrations.
"""

from __future__ import annotations

from planning.decomposition.context import Context
from planning.decomposition.domain import render
from planning.decomposition.work import Draft, WorkItem, sinks_within
from planning.errors import PlanningError

ORIGIN = "strategy:hierarchical"


def build(ctx: Context) -> Draft:
    draft = ctx.base.copy()
    template = ctx.domain.integration
    pairs = meeting_pairs(ctx)
    if template is None or not pairs:
        return draft
    members: dict[str, list[str]] = {}
    for key, item in draft.items.items():
        if item.component:
            members.setdefault(item.component, []).append(key)
    names = {component.slug: component.name for component in ctx.expansion.components}
    successors = draft.successors()
    component_parent = draft.wbs[ctx.expansion.components[0].node][1] if ctx.expansion.components else None
    node = "integration"
    draft.wbs[node] = ("Integration where components meet", component_parent)
    rank = ctx.domain.phase_rank
    for a, b in pairs:
        if a not in members or b not in members:
            continue
        ends = sinks_within(draft, members[a]) + sinks_within(draft, members[b])
        inside = set(members[a]) | set(members[b])
        after = sorted({succ for end in ends for succ in successors[end] if succ not in inside})
        phase = max([template.phase] + [draft.items[end].phase for end in ends], key=lambda p: rank.get(p, 0))
        values = {"goal": ctx.goal.title, "a": names[a], "b": names[b]}
        resources = ctx.resources.map_units(template.resources, render(template.name, **values),
                                            template.estimate.most_likely)
        key = f"integrate.{a}.{b}"
        draft.add(
            WorkItem(
                key=key,
                name=render(template.name, **values),
                phase=phase,
                estimate=template.estimate,
                resources=resources,
                success_criteria=tuple(render(text, **values) for text in template.success_criteria),
                risk_tags=template.risk_tags,
                origin=ORIGIN,
                description=render(template.description, **values),
                template="integration",
            ),
            node,
        )
        for end in ends:
            draft.link(end, key)
        for succ in after:
            draft.link(key, succ)
            for end in ends:
                draft.preds[succ].pop(end, None)  # now implied through the integration
    ctx.check_size(draft, "hierarchical")
    return draft


def meeting_pairs(ctx: Context) -> list[tuple[str, str]]:
    """Component slug pairs that meet: ``context.interfaces`` if given, else neighbours in the list."""
    slugs = {component.name: component.slug for component in ctx.expansion.components}
    raw = ctx.goal.context.get("interfaces")
    if raw is None:
        ordered = [component.slug for component in ctx.expansion.components]
        return list(zip(ordered, ordered[1:], strict=False))
    if not isinstance(raw, list):
        raise PlanningError("interfaces must be a list of [component, component] pairs", "context.interfaces")
    pairs = []
    for index, pair in enumerate(raw):
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(name in slugs for name in pair)
            and pair[0] != pair[1]
        ):
            raise PlanningError(
                f"interface {pair!r} must name two different components of the goal", f"context.interfaces[{index}]"
            )
        pairs.append((slugs[pair[0]], slugs[pair[1]]))
    return pairs
