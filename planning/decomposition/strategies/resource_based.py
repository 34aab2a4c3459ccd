"""Resource-based: work grouped by team, each team's work chained into as many streams as it has people.

Every resource type is a team; a team with capacity c gets c work streams.
Tasks are placed by a resource-constrained list schedule (longest remaining
path first, on the streams that free up first, preferring the stream that
last worked on the same component so work stays with whoever has the
context). Each placement becomes a dependency on the stream's previous task,
so the network itself keeps every team within its capacity and the
handoffs left are the ones the work needs. The WBS is team -> stream.
"""

from __future__ import annotations

from planning.decomposition.context import Context
from planning.decomposition.simulation import simulate
from planning.decomposition.work import Draft


def build(ctx: Context) -> Draft:
    draft = ctx.base.copy()
    simulation = simulate(draft, ctx.resources.capacities())
    draft.wbs = {}
    for key in simulation.order:
        item = draft.items[key]
        placement = simulation.placements[key]
        for _, _, previous in placement.lanes:
            if previous is not None and previous not in draft.preds[key]:
                draft.link(previous, key)
        team = item.team
        if team is None:
            node = "team:coordination"
            draft.wbs.setdefault(node, ("Coordination (no team)", None))
        else:
            parent = f"team:{team}"
            draft.wbs.setdefault(parent, (f"{team} team", None))
            stream = next(index for resource_type, index, _ in placement.lanes if resource_type == team)
            node = f"{parent}/stream{stream + 1}"
            draft.wbs.setdefault(node, (f"{team} work stream {stream + 1}", parent))
        draft.parents[key] = node
    draft.notes["resource_based"] = {
        "streams": simulation.lanes,
        "simulated_hours": round(simulation.makespan, 2),
    }
    return draft
