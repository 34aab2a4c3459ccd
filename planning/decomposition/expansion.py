"""HTN expansion: the goal's root compound task, expanded by the first applicable method, down to leaves.

The result is the domain's own view of the work: leaves as `WorkItem`s, the
methods' ordering constraints as dependencies, and the compound tasks as the
work breakdown structure. Every strategy starts from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from planning.decomposition.domain import COMPONENTS_TOKEN, Domain, Method, Ordering, goal_facts, render
from planning.decomposition.resources import ResourcePlan
from planning.decomposition.work import Draft, EdgeInfo, WorkItem, slug, unique_key
from planning.errors import PlanningError
from planning.goal import Goal
from planning.settings import PlanningSettings


@dataclass
class Block:
    """What one subtask expanded to: its leaves, and the ones that start and finish it."""

    keys: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)


@dataclass
class ComponentBlock:
    slug: str
    name: str
    block: Block
    node: str  # its WBS node


@dataclass
class Expansion:
    draft: Draft
    components: list[ComponentBlock]
    depth: int  # deepest nesting of compound tasks above a leaf


def expand(
    goal: Goal,
    domain: Domain,
    settings: PlanningSettings,
    resources: ResourcePlan,
    reserved: set[str] = frozenset(),
    task_budget: int | None = None,
) -> Expansion:
    """Expand the domain's root task for `goal`; raises PlanningError past the configured limits.

    `reserved` holds keys the expansion must not use (explicit task ids);
    `task_budget` is how many tasks it may create before the plan is too big.
    """
    expander = _Expander(
        goal,
        domain,
        settings,
        resources,
        set(reserved),
        settings.max_tasks_per_plan if task_budget is None else task_budget,
    )
    expander.expand_compound(domain.root, None, None, 1)
    return Expansion(expander.draft, expander.components, expander.deepest)


class _Expander:
    def __init__(
        self,
        goal: Goal,
        domain: Domain,
        settings: PlanningSettings,
        resources: ResourcePlan,
        reserved: set[str],
        budget: int,
    ):
        self.goal, self.domain, self.settings, self.resources = goal, domain, settings, resources
        self.reserved, self.budget = reserved, budget
        self.draft = Draft()
        self.components: list[ComponentBlock] = []
        self.deepest = 0
        self.facts = goal_facts(goal)
        self._component_facts: dict[str | None, Mapping[str, object]] = {None: self.facts}

    def facts_for(self, component: tuple[str, str] | None) -> Mapping[str, object]:
        name = component[1] if component else None
        if name not in self._component_facts:
            self._component_facts[name] = {**self.facts, "component": name}
        return self._component_facts[name]

    def expand_compound(self, task_id: str, component: tuple[str, str] | None, parent: str | None, depth: int) -> Block:
        if depth > self.settings.max_decomposition_depth:
            raise PlanningError(
                f"domain {self.domain.id!r} decomposes {task_id!r} at depth {depth}, deeper than "
                f"max_decomposition_depth={self.settings.max_decomposition_depth}",
                "domain",
            )
        self.deepest = max(self.deepest, depth)
        compound = self.domain.compounds[task_id]
        facts = self.facts_for(component)
        method = next((m for m in compound.methods if all(p.holds(facts) for p in m.preconditions)), None)
        if method is None:
            self.draft.warnings.append(f"no method of {task_id!r} applies to this goal; that work was left out")
            return Block()
        node = f"{component[0]}/{task_id}" if component else task_id
        node = unique_key(node, self.draft.wbs)
        values = {"goal": self.goal.title, "component": component[1] if component else self.goal.title}
        self.draft.wbs[node] = (render(compound.name, **values), parent)
        origin = f"domain:{self.domain.id}:{task_id}.{method.id}"
        blocks: dict[str, Block] = {}
        for sub in method.subtasks:
            if sub == COMPONENTS_TOKEN:
                blocks[sub] = self.expand_components(node, depth + 1)
            elif sub in self.domain.compounds:
                blocks[sub] = self.expand_compound(sub, component, node, depth + 1)
            else:
                blocks[sub] = self.expand_leaf(sub, component, node, origin, facts, depth)
        return self.connect(method, blocks)

    def expand_components(self, parent: str, depth: int) -> Block:
        assert self.domain.component is not None  # checked when the file was loaded
        names = list(self.goal.components) or [self.domain.default_component]
        block = Block()
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            component_slug = slug(name)
            if component_slug in seen:
                raise PlanningError(
                    f"components {names[seen[component_slug]]!r} and {name!r} are the same once spelt as an id",
                    f"components[{index}]",
                )
            seen[component_slug] = index
            before = len(self.draft.wbs)
            sub = self.expand_compound(self.domain.component, (component_slug, name), parent, depth)
            node = list(self.draft.wbs)[before] if len(self.draft.wbs) > before else parent
            self.components.append(ComponentBlock(component_slug, name, sub, node))
            block.keys += sub.keys
            block.sources += sub.sources
            block.sinks += sub.sinks
        return block

    def expand_leaf(
        self,
        task_id: str,
        component: tuple[str, str] | None,
        parent: str,
        origin: str,
        facts: Mapping[str, object],
        depth: int,
    ) -> Block:
        template = self.domain.templates[task_id]
        if not all(p.holds(facts) for p in template.preconditions):
            return Block()
        self.deepest = max(self.deepest, depth + 1)
        if len(self.draft.items) >= self.budget:
            raise PlanningError(
                f"decomposing this goal with domain {self.domain.id!r} makes more than "
                f"max_tasks_per_plan={self.settings.max_tasks_per_plan} tasks; split the goal or list fewer components",
                "components" if self.goal.components else "domain",
            )
        base = f"{component[0]}.{task_id}" if component else task_id
        key = unique_key(base, self.draft.items.keys() | self.reserved)
        values = {"goal": self.goal.title, "component": component[1] if component else self.goal.title}
        name = render(template.name, **values)
        # Pools are chosen per task: with several pools for a role, the task's own words pick one.
        resources = self.resources.map_units(template.resources, f"{name} {render(template.description, **values)}",
                                             template.estimate.most_likely)
        item = WorkItem(
            key=key,
            name=name,
            phase=template.phase,
            estimate=template.estimate,
            resources=resources,
            success_criteria=tuple(render(text, **values) for text in template.success_criteria),
            risk_tags=template.risk_tags,
            origin=origin,
            description=render(template.description, **values),
            component=component[0] if component else None,
            template=task_id,
            shared=template.shared,
            inputs=tuple(render(text, **values) for text in template.inputs),
            outputs=tuple(render(text, **values) for text in template.outputs),
        )
        self.draft.add(item, parent)
        return Block([key], [key], [key])

    def connect(self, method: Method, blocks: dict[str, Block]) -> Block:
        """Turn the method's ordering into dependencies, bridging subtasks that expanded to nothing."""
        after: dict[str, dict[str, EdgeInfo]] = {sub: {} for sub in method.subtasks}
        for order in method.ordering:
            after[order.before][order.after] = (order.kind, order.lag_hours)
        for sub in method.subtasks:
            if blocks[sub].keys:
                continue
            incoming = [before for before, targets in after.items() if sub in targets]
            for before in incoming:
                del after[before][sub]
                for target in after[sub]:
                    after[before].setdefault(target, ("FS", 0.0))
            after[sub] = {}
        # Only FS and SS constrain when a subtask starts; only FS and FF cover when one finishes.
        started_by_others = {t for targets in after.values() for t, info in targets.items() if info[0] != "FF"}
        result = Block()
        for sub in method.subtasks:
            block = blocks[sub]
            if not block.keys:
                continue
            result.keys += block.keys
            if sub not in started_by_others:
                result.sources += block.sources
            if not any(info[0] != "SS" for info in after[sub].values()):
                result.sinks += block.sinks
            for target, info in after[sub].items():
                self.link_blocks(block, blocks[target], Ordering(sub, target, *info))
        return result

    def link_blocks(self, before: Block, after: Block, order: Ordering) -> None:
        info = (order.kind, order.lag_hours)
        if order.kind == "SS":
            pairs = ((a, b) for a in before.sources for b in after.sources)
        elif order.kind == "FF":
            pairs = ((a, b) for a in before.sinks for b in after.sinks)
        else:
            pairs = ((a, b) for a in before.sinks for b in after.sources)
        for a, b in pairs:
            self.draft.link(a, b, info)
