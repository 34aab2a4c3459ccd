"""Mapping a domain's resource types onto the pools a goal actually has."""

from __future__ import annotations

from collections.abc import Mapping

from planning.decomposition.domain import Domain
from planning.decomposition.vocabulary import substitutes
from planning.goal import Goal


class ResourcePlan:
    """Which pool serves each resource type, and how many units a pool offers.

    With goal pools: a domain type the goal lacks maps to its closest listed
    substitute (vocabulary order), else to the largest pool, with a warning;
    units are capped at the pool capacity. Without goal pools: the domain's
    own types and default capacities, reported as suggested pools.
    """

    def __init__(self, goal: Goal, domain: Domain):
        self.goal_pools = {pool.type: pool for pool in goal.resources}
        self.domain = domain
        self.mapping: dict[str, str] = {}
        self.warnings: list[str] = []
        self._warned: set[tuple[str, str]] = set()
        self._needed: dict[str, int] = {}  # pool type -> most units any task needs

    def pool_for(self, resource_type: str) -> str:
        if resource_type in self.mapping:
            return self.mapping[resource_type]
        if not self.goal_pools or resource_type in self.goal_pools:
            target = resource_type
        else:
            target = next((s for s in substitutes(resource_type) if s in self.goal_pools), "")
            if target:
                self._warn(
                    ("map", resource_type),
                    f"the goal has no {resource_type!r} pool; "
                    f"{resource_type!r} work goes to the closest pool, {target!r}",
                )
            else:
                target = max(self.goal_pools.values(), key=lambda pool: (pool.capacity, pool.type)).type
                self._warn(
                    ("map", resource_type),
                    f"the goal has no {resource_type!r} pool and no close "
                    f"substitute; {resource_type!r} work goes to the largest pool, {target!r}",
                )
        self.mapping[resource_type] = target
        return target

    def map_units(self, units: Mapping[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for resource_type, count in units.items():
            target = self.pool_for(resource_type)
            out[target] = out.get(target, 0) + count
        for target, count in out.items():
            pool = self.goal_pools.get(target)
            if pool is not None and count > pool.capacity:
                self._warn(
                    ("cap", target),
                    f"some tasks need more {target!r} than the pool's {pool.capacity}; "
                    "they were capped at the pool capacity",
                )
                out[target] = pool.capacity
            if out[target] > self._needed.get(target, 0):
                self._needed[target] = out[target]
        return out

    def capacity(self, resource_type: str) -> int:
        if resource_type in self.goal_pools:
            return self.goal_pools[resource_type].capacity
        default = self.domain.resources.get(resource_type)
        return max(default.capacity if default else 1, self._needed.get(resource_type, 1))

    def capacities(self) -> dict[str, int]:
        types = set(self.goal_pools) | set(self._needed)
        return {resource_type: self.capacity(resource_type) for resource_type in sorted(types)}

    def suggested_pools(self, used: set[str]) -> list[dict]:
        """Pools the caller may create when the goal lists none: the domain defaults for the types used."""
        out = []
        for resource_type in sorted(used):
            default = self.domain.resources.get(resource_type)
            out.append(
                {
                    "type": resource_type,
                    "capacity": self.capacity(resource_type),
                    "cost_per_hour": default.cost_per_hour if default else 0.0,
                }
            )
        return out

    def _warn(self, key: tuple[str, str], message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)
