"""Mapping a domain's resource types (roles) onto the pools a goal actually has.

The order, for each role (see docs/decomposition.md, "Resources"):

1. the goal's `role_map` names its pools: always used;
2. else the pools that fit the role best in the role vocabulary (`planning/domains/roles.yaml`:
   `tester` and `qa_engineer` are qa, `ios_developer` and `backend_engineer` are engineer);
3. else the pools of the closest role that has some (vocabulary order), with a warning;
4. else any pool the role's name fits at all (`engineer` in `qa_engineer`), with a warning;
5. else the largest pool, with a warning.

When several pools serve a role, each task goes to the one whose own words it shares
("Implement iOS app user interface" -> `ios_developer`), otherwise to the least loaded one so
far (unit-hours per unit of capacity): no pool of a role sits idle while another has all its work.
"""

from __future__ import annotations

from collections.abc import Mapping

from planning.decomposition.domain import Domain
from planning.decomposition.roles import RoleVocabulary, task_words, words
from planning.goal import Goal


class ResourcePlan:
    """Which pools serve each role, and how many units a pool offers.

    With goal pools: every role maps to goal pools as above; units are capped at the pool
    capacity. Without goal pools: the domain's own types and default capacities, reported
    as suggested pools.
    """

    def __init__(self, goal: Goal, domain: Domain, roles: RoleVocabulary | None = None):
        self.goal_pools = {pool.type: pool for pool in goal.resources}
        self.domain = domain
        self.roles = roles if roles is not None else RoleVocabulary(names={})
        self.role_map_given = dict(goal.role_map)
        self.role_map: dict[str, dict] = {}  # role -> {pools, how, unit_hours}: the plan's allocation.role_map
        self.load: dict[str, float] = dict.fromkeys(self.goal_pools, 0.0)  # unit-hours given to each pool
        self.warnings: list[str] = []
        self._warned: set[tuple[str, str]] = set()
        self._needed: dict[str, int] = {}  # pool type -> most units any task needs
        self._best = {name: self.roles.role_of(name) for name in self.goal_pools}

    @property
    def mapping(self) -> dict[str, str | list[str]]:
        """Role -> its pool (or pools), for `notes["resource_mapping"]`."""
        return {role: entry["pools"][0] if len(entry["pools"]) == 1 else list(entry["pools"])
                for role, entry in self.role_map.items()}

    def pools_for(self, role: str) -> list[str]:
        """The pools that serve `role`, deciding (and recording) how on first use."""
        if role not in self.role_map:
            pools, how = self._resolve(role)
            self.role_map[role] = {"pools": pools, "how": how, "unit_hours": dict.fromkeys(pools, 0.0)}
        return self.role_map[role]["pools"]

    def _resolve(self, role: str) -> tuple[list[str], str]:
        if role in self.role_map_given:
            return list(self.role_map_given[role]), "the goal's role_map"
        direct = self._fitting(role)
        if direct:
            return direct, "same name" if direct == [role] else "role vocabulary"
        for other in self._closest_roles(role):
            pools = self.role_map_given.get(other) or self._fitting(other)
            if pools:
                self._warn(("map", role), f"the goal has no pool for {role!r} work; it goes to the pool(s) of the "
                                          f"closest role, {other!r}: {', '.join(pools)}")
                return list(pools), f"closest role: {other}"
        loose = sorted(name for name in self.goal_pools if self.roles.fit(role, name) is not None)
        if loose:
            self._warn(("map", role), f"the goal has no pool for {role!r} work; it goes to {', '.join(loose)}, "
                                      f"whose name mentions {role!r}")
            return loose, "pool name mentions the role"
        target = max(self.goal_pools.values(), key=lambda pool: (pool.capacity, pool.type)).type
        self._warn(
            ("map", role),
            f"the goal has no {role!r} pool and no close substitute; {role!r} work goes to the largest pool, "
            f"{target!r} (name the pool in the goal's role_map to choose another)",
        )
        return [target], "largest pool"

    def _closest_roles(self, role: str) -> list[str]:
        """Other roles, nearest first: the role's substitutes, then theirs (breadth first)."""
        order, queue, seen = [], list(self.roles.substitutes(role)), {role}
        while queue:
            other = queue.pop(0)
            if other in seen:
                continue
            seen.add(other)
            order.append(other)
            queue += [more for more in self.roles.substitutes(other) if more not in seen]
        return order

    def _fitting(self, role: str) -> list[str]:
        if role in self.goal_pools:
            # a pool named as the role is that role; others that fit it best share the work
            return [role] + sorted(n for n, fit in self._best.items() if fit and fit.role == role and n != role)
        return sorted(name for name, fit in self._best.items() if fit is not None and fit.role == role)

    def map_units(self, units: Mapping[str, int], text: str = "", hours: float = 0.0) -> dict[str, int]:
        """The goal pools (and units) serving a task that needs `units` of each role.

        `text` (the task's name and description) chooses among several pools of a role;
        `hours` (its most likely duration) counts towards the chosen pools' load.
        """
        out: dict[str, int] = {}
        for role, count in units.items():
            if not self.goal_pools:
                out[role] = out.get(role, 0) + count
                continue
            pools = self.pools_for(role)
            for pool, taken in self._spread(role, pools, count, text, out).items():
                out[pool] = out.get(pool, 0) + taken
                self.load[pool] = self.load.get(pool, 0.0) + taken * max(hours, 1.0)
                shares = self.role_map[role]["unit_hours"]
                shares[pool] = round(shares.get(pool, 0.0) + taken * max(hours, 1.0), 2)
        return self._capped(out)

    def record_pools(self, units: Mapping[str, int]) -> None:
        """A task that names its pools itself: only their need is recorded (for suggested pools)."""
        for target, count in units.items():
            if count > self._needed.get(target, 0):
                self._needed[target] = count

    def _spread(self, role: str, pools: list[str], count: int, text: str, taken: Mapping[str, int]) -> dict[str, int]:
        if len(pools) == 1:
            return {pools[0]: count}
        preferred = self._by_words(pools, text)
        order = sorted(preferred, key=self._relative_load) + sorted(
            (p for p in pools if p not in preferred), key=self._relative_load)
        out: dict[str, int] = {}
        left = count
        for pool in order:
            room = self.goal_pools[pool].capacity - taken.get(pool, 0)
            if room > 0 and left > 0:
                out[pool] = min(room, left)
                left -= out[pool]
        if left:
            out[order[0]] = out.get(order[0], 0) + left  # more than all of them: capped below, with a warning
        return out

    def _by_words(self, pools: list[str], text: str) -> list[str]:
        """The pools whose distinguishing words (and word families) the task's text shares most."""
        if not text:
            return pools
        common = set.intersection(*(set(words(pool)) for pool in pools))
        wanted = self.roles.features(task_words(text))
        scores = {pool: len(wanted & self.roles.features(set(words(pool)) - common - self.roles.heads))
                  for pool in pools}
        best = max(scores.values())
        return [pool for pool in pools if scores[pool] == best] if best else pools

    def _relative_load(self, pool: str) -> tuple[float, str]:
        return self.load.get(pool, 0.0) / max(self.goal_pools[pool].capacity, 1), pool

    def _capped(self, out: dict[str, int]) -> dict[str, int]:
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

    def notes(self) -> dict[str, dict]:
        """`allocation.role_map`: every role the tasks needed, its pools, how they were chosen, the work each got."""
        return {role: {"pools": list(entry["pools"]), "how": entry["how"], "unit_hours": dict(entry["unit_hours"])}
                for role, entry in sorted(self.role_map.items())}

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
