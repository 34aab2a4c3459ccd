"""Pools and availability from their sources, in order: the goal, Layer 8, the local pool,
the decomposition's suggestions. The first source that names a type defines its pool.

Layer 8's answer arrives here already fetched (or as the error that stopped it): this
module only reads data, so a bad entry is skipped with a warning rather than failing
the plan, and an unreachable Layer 8 leaves the plan to the other sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.resources.pools import AvailabilityWindow, Pool, ResourceError, merge_pools


@dataclass
class SourceData:
    pools: list[Pool]
    availability: dict[str, list[AvailabilityWindow]] = field(default_factory=dict)
    requestable: set[str] = field(default_factory=set)
    integration: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    role_pools: dict[str, list[str]] = field(default_factory=dict)  # role -> Layer 8 / local pools that fit it


def goal_pools(goal: Goal) -> list[Pool]:
    return [Pool(type=p.type, capacity=p.capacity, cost_rate=p.cost_per_hour, currency=goal.currency, source="goal")
            for p in goal.resources]


def suggested_pools(goal: Goal, network: TaskNetwork) -> list[Pool]:
    out = []
    for raw in network.notes.get("suggested_pools") or ():
        try:
            out.append(Pool.from_dict(raw, source="suggested", default_currency=goal.currency))
        except ResourceError:
            continue  # a suggestion we cannot read is no worse than none
    return out


def read_pools(entries: Sequence, *, source: str, label: str, currency: str,
               warnings: list[str]) -> list[tuple[Pool, Mapping]]:
    out = []
    for index, raw in enumerate(entries):
        try:
            out.append((Pool.from_dict(raw, source=source, default_currency=currency), raw))
        except (ResourceError, TypeError) as error:
            warnings.append(f"{label} entry {index} ignored: {error}")
    return out


def read_periods(raw: Mapping, label: str, warnings: list[str]) -> list[AvailabilityWindow]:
    windows = []
    for period in raw.get("periods") or ():
        try:
            windows.append(AvailabilityWindow(date.fromisoformat(period["from"]), date.fromisoformat(period["to"]),
                                              period["available"]))
        except (KeyError, TypeError, ValueError) as error:
            warnings.append(f"{label} period of {raw.get('type')!r} ignored: {error}")
    return windows


def read_sources(goal: Goal, network: TaskNetwork, *, local_pools: Sequence[Mapping],
                 layer8: Mapping | None, role_of: Callable[[str], str | None] | None = None) -> SourceData:
    """Merge the sources; `layer8` is its availability answer, None (not configured) or {"error": ...}.

    `role_of` names the role a pool fits (the role vocabulary): a role the tasks need that no pool is
    named after is done by the Layer 8 or local pools that fit it (they stand in for it), not by a
    suggested pool of the domain's type.
    """
    warnings: list[str] = []
    availability: dict[str, list[AvailabilityWindow]] = {}
    layer8_pools: list[Pool] = []
    if layer8 is None:
        status: dict = {"status": "not_configured"}
    elif layer8.get("error") is not None or not isinstance(layer8.get("resources"), list):
        error = layer8.get("error") or "the availability answer has no `resources` list"
        status = {"status": "unavailable", "error": str(error), "kind": layer8.get("kind")}
        fallback = "the local pool" if local_pools else "the goal's own pools"
        warnings.append(f"Layer 8 resource manager unavailable ({error}); planned from {fallback}")
    else:
        for pool, raw in read_pools(layer8["resources"], source="layer8", label="Layer 8 resource",
                                    currency=goal.currency, warnings=warnings):
            layer8_pools.append(pool)
            availability[pool.type] = read_periods(raw, "Layer 8", warnings)
        status = {"status": "ok", "cached": bool(layer8.get("cached")), "types": sorted(p.type for p in layer8_pools)}
        if layer8.get("fetched_at"):
            status["fetched_at"] = layer8["fetched_at"]
    local = [pool for pool, _ in read_pools(local_pools, source="local", label="local pool",
                                            currency=goal.currency, warnings=warnings)]
    named = merge_pools(goal_pools(goal), layer8_pools, local)
    suggested = suggested_pools(goal, network)
    role_pools = _fitting_pools(named, network, role_of) if role_of is not None else {}
    if role_pools:
        roles_of = {name: [role for role, fits in role_pools.items() if name in fits]
                    for name in set().union(*role_pools.values())}
        named = [replace(pool, substitutes=pool.substitutes + tuple(role for role in roles_of[pool.type]
                                                                     if role not in pool.substitutes))
                 if pool.type in roles_of else pool for pool in named]
        suggested = [pool for pool in suggested if pool.type not in role_pools]
    pools = merge_pools(named, suggested)
    chosen = {pool.type: pool.source for pool in pools}
    # Availability windows only apply where Layer 8 defines the pool (the goal's own pools win).
    availability = {kind: windows for kind, windows in availability.items() if chosen.get(kind) == "layer8"}
    requestable = {kind for kind, source in chosen.items() if source == "layer8"}
    return SourceData(pools=pools, availability=availability, requestable=requestable,
                      integration={"layer8": status}, warnings=warnings, role_pools=role_pools)


def _fitting_pools(pools: Sequence[Pool], network: TaskNetwork,
                   role_of: Callable[[str], str | None]) -> dict[str, list[str]]:
    """Roles the tasks need with no pool of their name -> the pools (not the goal's) that fit them."""
    needed = {kind for task in network.tasks for kind in task.resources}
    named = {pool.type for pool in pools}
    out: dict[str, list[str]] = {}
    for pool in pools:
        role = role_of(pool.type)
        if pool.source != "goal" and role is not None and role in needed and role not in named:
            out.setdefault(role, []).append(pool.type)
    return out
