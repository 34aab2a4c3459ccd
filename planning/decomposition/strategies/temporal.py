"""Temporal: the domain's phases in order, each closed by a gate review that the next phase waits for.

Dependencies inside a phase stay as the methods set them; every dependency
that crossed phases is replaced by the gate, so no work of a phase starts
before the previous gate. The WBS is phase -> component.
"""

from __future__ import annotations

from planning.decomposition.context import Context
from planning.decomposition.work import WorkItem, sinks_within, sources_within
from planning.goal import Estimate

ORIGIN = "strategy:temporal"
GATE_ESTIMATE = Estimate(1.0, 2.0, 4.0)


def build(ctx: Context):
    draft = ctx.base.copy()
    names = {component.slug: component.name for component in ctx.expansion.components}
    by_phase: dict[str, list[str]] = {}
    for key, item in draft.items.items():
        by_phase.setdefault(item.phase, []).append(key)
    for succ, preds in draft.preds.items():
        phase = draft.items[succ].phase
        for pred in [pred for pred in preds if draft.items[pred].phase != phase]:
            del preds[pred]
    draft.wbs = {}
    reviewer = ctx.resources.map_units({ctx.domain.review_resource: 1})
    previous_gate: str | None = None
    for phase in ctx.domain.phases:
        keys = by_phase.get(phase.id)
        if not keys:
            continue
        node = f"phase:{phase.id}"
        draft.wbs[node] = (phase.name, None)
        for key in keys:
            component = draft.items[key].component
            if component:
                child = f"{node}/{component}"
                draft.wbs.setdefault(child, (f"{phase.name}: {names.get(component, component)}", node))
                draft.parents[key] = child
            else:
                draft.parents[key] = node
        if previous_gate:
            for begin in sources_within(draft, keys):
                draft.link(previous_gate, begin)
        gate = f"gate.{phase.id}"
        draft.add(
            WorkItem(
                key=gate,
                name=f"Gate review: {phase.name} complete",
                phase=phase.id,
                estimate=GATE_ESTIMATE,
                resources=reviewer,
                success_criteria=(
                    f"Every {phase.name} task accepted against its success criteria",
                    "Go/no-go decision for the next phase recorded",
                ),
                risk_tags=(),
                origin=ORIGIN,
                description=f"Closes the {phase.name} phase; nothing of the next phase starts before it.",
            ),
            node,
        )
        for end in sinks_within(draft, keys):
            draft.link(end, gate)
        draft.gates[phase.id] = gate
        previous_gate = gate
    ctx.check_size(draft, "temporal")
    return draft
