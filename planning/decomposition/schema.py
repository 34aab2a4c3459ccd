"""Parse and check one domain file's data, naming every problem by its path inside the file.

`parse_domain(data, source)` returns a `Domain` or raises `DomainFileError`
carrying every problem found, so a user fixes a file in one go. A file is
accepted whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from planning.decomposition.domain import (
    COMPONENTS_TOKEN,
    GOAL_FIELDS,
    OPS_WITHOUT_VALUE,
    PRECONDITION_OPS,
    CompoundTask,
    Domain,
    Method,
    Ordering,
    PhaseSpec,
    Precondition,
    TaskTemplate,
)
from planning.decomposition.vocabulary import RISK_TAGS
from planning.errors import PlanningError
from planning.goal import Estimate, ResourcePool
from planning.graph import find_cycle
from planning.network import DEPENDENCY_KINDS

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
TOP_LEVEL_KEYS = {
    "id",
    "name",
    "description",
    "keywords",
    "phases",
    "resources",
    "root",
    "component",
    "default_component",
    "review_resource",
    "integration",
    "mitigations",
    "tasks",
    "defaults",
}
TEMPLATE_KEYS = {
    "aliases",
    "name",
    "description",
    "phase",
    "estimate",
    "resources",
    "success_criteria",
    "risk_tags",
    "shared",
    "shared_name",
    "inputs",
    "outputs",
    "preconditions",
}
COMPOUND_KEYS = {"name", "description", "methods"}
METHOD_KEYS = {"id", "subtasks", "ordering", "preconditions"}


class DomainFileError(PlanningError):
    """A domain file is unusable. Names the file, the path inside it and what is wrong."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        path, problem = problems[0]
        shown = "; ".join(f"{p or '<top>'}: {what}" for p, what in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"domain file {source}: {shown}{more}", path or None)

    @property
    def path(self) -> str:
        return self.problems[0][0]


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, problem: str) -> None:
        self.items.append((path, problem))


def parse_domain(data: Any, source: str) -> Domain:
    problems = _Problems()
    if not isinstance(data, Mapping):
        raise DomainFileError(source, [("", "the file must hold a mapping (id, name, phases, tasks, ...)")])
    for key in sorted(set(data) - TOP_LEVEL_KEYS, key=str):
        problems.add(str(key), f"unknown key; expected one of {', '.join(sorted(TOP_LEVEL_KEYS))}")
    domain_id = _identifier(data, "id", "", problems)
    name = _text(data, "name", "", problems)
    description = _text(data, "description", "", problems)
    keywords = _strings(data.get("keywords", []), "keywords", problems)
    phases = _phases(data.get("phases"), problems)
    phase_ids = {phase.id for phase in phases}
    resources = _resources(data.get("resources"), problems)
    defaults = data.get("defaults") or {}
    default_estimate = Estimate(4, 8, 16)
    default_resources: dict[str, int] = {}
    if not isinstance(defaults, Mapping):
        problems.add("defaults", "must be a mapping with estimate and resources")
    else:
        if "estimate" in defaults:
            default_estimate = _estimate(defaults["estimate"], "defaults.estimate", problems) or default_estimate
        if "resources" in defaults:
            default_resources = _units(defaults["resources"], "defaults.resources", resources, problems)
    if not default_resources and resources:
        default_resources = {next(iter(resources)): 1}

    raw_tasks = data.get("tasks")
    compounds: dict[str, CompoundTask] = {}
    templates: dict[str, TaskTemplate] = {}
    if not isinstance(raw_tasks, Mapping) or not raw_tasks:
        problems.add("tasks", "required: a mapping of task id to a compound task (with methods) or a primitive task")
        raw_tasks = {}
    for task_id, raw in raw_tasks.items():
        path = f"tasks.{task_id}"
        if not isinstance(task_id, str) or not IDENTIFIER.match(task_id):
            problems.add(path, "task ids must be snake_case identifiers")
            continue
        if not isinstance(raw, Mapping):
            problems.add(path, "must be a mapping")
            continue
        if "methods" in raw:
            compound = _compound(task_id, raw, path, problems)
            if compound:
                compounds[task_id] = compound
        else:
            template = _template(task_id, raw, path, phase_ids, resources, problems, ("goal", "component"))
            if template:
                templates[task_id] = template

    root = _identifier(data, "root", "", problems)
    if root and root not in compounds:
        problems.add("root", f"names {root!r}, which is not a compound task (one with methods) under tasks")
    component = data.get("component")
    if component is not None and component not in compounds:
        problems.add("component", f"names {component!r}, which is not a compound task under tasks")
    default_component = data.get("default_component", "solution")
    if not isinstance(default_component, str) or not default_component.strip():
        problems.add("default_component", "must be a non-empty string")
        default_component = "solution"
    review_resource = data.get("review_resource") or (next(iter(resources)) if resources else "")
    if resources and review_resource not in resources:
        problems.add("review_resource", f"{review_resource!r} is not listed under resources")

    integration = None
    if data.get("integration") is not None:
        integration = _template(
            "integration", data["integration"], "integration", phase_ids, resources, problems, ("goal", "a", "b")
        )
    mitigations: dict[str, TaskTemplate] = {}
    raw_mitigations = data.get("mitigations") or {}
    if not isinstance(raw_mitigations, Mapping):
        problems.add("mitigations", "must map a risk tag to a task")
    else:
        for tag, raw in raw_mitigations.items():
            path = f"mitigations.{tag}"
            if tag not in RISK_TAGS:
                problems.add(path, f"unknown risk tag {tag!r}; known tags: {', '.join(RISK_TAGS)}")
                continue
            template = _template(f"mitigate_{tag}", raw, path, phase_ids, resources, problems, ("goal",))
            if template:
                mitigations[tag] = template

    _check_references(compounds, templates, component, problems)
    if not problems.items:
        _check_recursion(compounds, problems)
    if not problems.items and phases:
        _check_phase_order(compounds, templates, component, integration, phases, problems)
    if problems.items:
        raise DomainFileError(source, problems.items)
    return Domain(
        id=domain_id,
        name=name,
        description=description,
        keywords=tuple(keywords),
        phases=tuple(phases),
        resources=resources,
        root=root,
        compounds=compounds,
        templates=templates,
        component=component,
        default_component=default_component,
        review_resource=review_resource,
        integration=integration,
        mitigations=mitigations,
        default_estimate=default_estimate,
        default_resources=default_resources,
        source=source,
    )


def _identifier(data: Mapping, key: str, prefix: str, problems: _Problems) -> str:
    value = data.get(key)
    path = f"{prefix}{key}"
    if value is None:
        problems.add(path, "required")
        return ""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        problems.add(path, f"must be a snake_case identifier, got {value!r}")
        return ""
    return value


def _text(data: Mapping, key: str, prefix: str, problems: _Problems, required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            problems.add(f"{prefix}{key}", "required")
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.add(f"{prefix}{key}", "must be a non-empty string")
        return ""
    return value.strip()


def _strings(value: Any, path: str, problems: _Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        problems.add(path, "must be a list of non-empty strings")
        return []
    return [item.strip() for item in value]


def _phases(value: Any, problems: _Problems) -> list[PhaseSpec]:
    if not isinstance(value, list) or not value:
        problems.add("phases", "required: a non-empty list of {id, name, stage}")
        return []
    phases: list[PhaseSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(value):
        path = f"phases[{index}]"
        if not isinstance(raw, Mapping):
            problems.add(path, "must be a mapping with id and name")
            continue
        phase_id = _identifier(raw, "id", f"{path}.", problems)
        name = _text(raw, "name", f"{path}.", problems)
        stage = raw.get("stage", phase_id)
        if not isinstance(stage, str) or not IDENTIFIER.match(stage or ""):
            problems.add(f"{path}.stage", "must be a snake_case identifier")
            stage = phase_id
        if phase_id in seen:
            problems.add(f"{path}.id", f"phase {phase_id!r} listed twice")
        seen.add(phase_id)
        if phases and stage != phases[-1].stage and stage in {phase.stage for phase in phases}:
            problems.add(f"{path}.stage", f"stage {stage!r} must cover consecutive phases")
        if phase_id:
            phases.append(PhaseSpec(phase_id, name, stage))
    return phases


def _resources(value: Any, problems: _Problems) -> dict[str, ResourcePool]:
    if not isinstance(value, Mapping) or not value:
        problems.add("resources", "required: a mapping of resource type to {capacity, cost_per_hour}")
        return {}
    pools: dict[str, ResourcePool] = {}
    for resource_type, raw in value.items():
        path = f"resources.{resource_type}"
        if not isinstance(resource_type, str) or not IDENTIFIER.match(resource_type):
            problems.add(path, "resource types must be snake_case identifiers")
            continue
        raw = raw or {}
        if not isinstance(raw, Mapping):
            problems.add(path, "must be a mapping with capacity and cost_per_hour")
            continue
        capacity = raw.get("capacity", 1)
        cost = raw.get("cost_per_hour", 0.0)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            problems.add(f"{path}.capacity", "must be a whole number of at least 1")
            continue
        if not isinstance(cost, int | float) or isinstance(cost, bool) or cost < 0:
            problems.add(f"{path}.cost_per_hour", "must be a non-negative number")
            continue
        pools[resource_type] = ResourcePool(resource_type, capacity, float(cost))
    return pools


def _estimate(value: Any, path: str, problems: _Problems) -> Estimate | None:
    if isinstance(value, list) and len(value) == 3:
        points = value
    elif isinstance(value, Mapping) and set(value) == {"optimistic", "most_likely", "pessimistic"}:
        points = [value["optimistic"], value["most_likely"], value["pessimistic"]]
    else:
        problems.add(path, "must be [optimistic, most_likely, pessimistic] hours or a mapping with those keys")
        return None
    if not all(isinstance(point, int | float) and not isinstance(point, bool) for point in points):
        problems.add(path, "estimate points must be numbers of hours")
        return None
    try:
        return Estimate(float(points[0]), float(points[1]), float(points[2]))
    except PlanningError as error:
        problems.add(path, error.message)
        return None


def _units(value: Any, path: str, pools: Mapping[str, ResourcePool], problems: _Problems) -> dict[str, int]:
    if not isinstance(value, Mapping) or not value:
        problems.add(path, "must map at least one resource type to a number of units")
        return {}
    units: dict[str, int] = {}
    for resource_type, count in value.items():
        if resource_type not in pools:
            problems.add(f"{path}.{resource_type}", "resource type not listed under the file's resources")
        elif not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.add(f"{path}.{resource_type}", "units must be a whole number of at least 1")
        else:
            units[resource_type] = count
    return units


def _preconditions(value: Any, path: str, problems: _Problems) -> tuple[Precondition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, "must be a list of {field, op, value}")
        return ()
    out: list[Precondition] = []
    for index, raw in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(raw, Mapping) or "field" not in raw or "op" not in raw:
            problems.add(item_path, "must be a mapping with field, op and (for most ops) value")
            continue
        field_name, op = raw["field"], raw["op"]
        if not isinstance(field_name, str) or not (
            field_name in GOAL_FIELDS or (field_name.startswith("context.") and len(field_name) > 8)
        ):
            problems.add(
                f"{item_path}.field",
                f"unknown goal field {field_name!r}; use one of {', '.join(GOAL_FIELDS)} or context.<key>",
            )
            continue
        if op not in PRECONDITION_OPS:
            problems.add(f"{item_path}.op", f"unknown op {op!r}; use one of {', '.join(PRECONDITION_OPS)}")
            continue
        if op not in OPS_WITHOUT_VALUE and "value" not in raw:
            problems.add(f"{item_path}.value", f"op {op!r} needs a value")
            continue
        if op in ("contains_any", "in") and not isinstance(raw.get("value"), list):
            problems.add(f"{item_path}.value", f"op {op!r} needs a list value")
            continue
        out.append(Precondition(field_name, op, raw.get("value")))
    return tuple(out)


def _template(
    task_id: str,
    raw: Any,
    path: str,
    phase_ids: set[str],
    pools: Mapping[str, ResourcePool],
    problems: _Problems,
    placeholders: tuple[str, ...],
) -> TaskTemplate | None:
    before = len(problems.items)
    if not isinstance(raw, Mapping):
        problems.add(path, "must be a mapping")
        return None
    for key in sorted(set(raw) - TEMPLATE_KEYS, key=str):
        problems.add(f"{path}.{key}", f"unknown key; a primitive task takes {', '.join(sorted(TEMPLATE_KEYS))}")
    name = _text(raw, "name", f"{path}.", problems)
    for placeholder in PLACEHOLDER.findall(name):
        if placeholder not in placeholders:
            problems.add(
                f"{path}.name",
                f"unknown placeholder {{{placeholder}}}; allowed here: "
                + ", ".join("{" + p + "}" for p in placeholders),
            )
    phase = raw.get("phase")
    if phase not in phase_ids:
        problems.add(f"{path}.phase", f"must name one of the phases ({', '.join(sorted(phase_ids))}), got {phase!r}")
    estimate = _estimate(raw.get("estimate"), f"{path}.estimate", problems)
    resources = _units(raw.get("resources"), f"{path}.resources", pools, problems)
    criteria = _strings(raw.get("success_criteria"), f"{path}.success_criteria", problems)
    if not criteria:
        problems.add(f"{path}.success_criteria", "required: at least one measurable success criterion")
    tags = _strings(raw.get("risk_tags"), f"{path}.risk_tags", problems)
    for index, tag in enumerate(tags):
        if tag not in RISK_TAGS:
            problems.add(f"{path}.risk_tags[{index}]", f"unknown risk tag {tag!r}; known tags: {', '.join(RISK_TAGS)}")
    shared = raw.get("shared", False)
    if not isinstance(shared, bool):
        problems.add(f"{path}.shared", "must be true or false")
    shared_name = raw.get("shared_name", "")
    if not isinstance(shared_name, str):
        problems.add(f"{path}.shared_name", "must be a string")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(f"{path}.description", "must be a string")
    inputs = _strings(raw.get("inputs"), f"{path}.inputs", problems)
    outputs = _strings(raw.get("outputs"), f"{path}.outputs", problems)
    aliases = _strings(raw.get("aliases"), f"{path}.aliases", problems)
    for index, alias in enumerate(aliases):
        for placeholder in PLACEHOLDER.findall(alias):
            if placeholder not in placeholders:
                problems.add(f"{path}.aliases[{index}]", f"unknown placeholder {{{placeholder}}}")
    preconditions = _preconditions(raw.get("preconditions"), f"{path}.preconditions", problems)
    if len(problems.items) > before or estimate is None:
        return None
    return TaskTemplate(
        id=task_id,
        name=name,
        phase=phase,
        estimate=estimate,
        resources=resources,
        success_criteria=tuple(criteria),
        risk_tags=tuple(tags),
        description=description.strip(),
        shared=shared,
        shared_name=shared_name,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        preconditions=preconditions,
        aliases=tuple(aliases),
    )


def _compound(task_id: str, raw: Mapping, path: str, problems: _Problems) -> CompoundTask | None:
    for key in sorted(set(raw) - COMPOUND_KEYS, key=str):
        problems.add(f"{path}.{key}", "unknown key; a compound task takes name, description and methods")
    name = _text(raw, "name", f"{path}.", problems)
    for placeholder in PLACEHOLDER.findall(name):
        if placeholder not in ("goal", "component"):
            problems.add(f"{path}.name", f"unknown placeholder {{{placeholder}}}; allowed: {{goal}}, {{component}}")
    methods_raw = raw.get("methods")
    if not isinstance(methods_raw, list) or not methods_raw:
        problems.add(f"{path}.methods", "must be a non-empty list of methods")
        return None
    methods: list[Method] = []
    for index, method_raw in enumerate(methods_raw):
        method_path = f"{path}.methods[{index}]"
        if not isinstance(method_raw, Mapping):
            problems.add(method_path, "must be a mapping with id, subtasks and ordering")
            continue
        for key in sorted(set(method_raw) - METHOD_KEYS, key=str):
            problems.add(f"{method_path}.{key}", "unknown key; a method takes id, subtasks, ordering, preconditions")
        method_id = _identifier(method_raw, "id", f"{method_path}.", problems)
        subtasks = method_raw.get("subtasks")
        if not isinstance(subtasks, list) or not subtasks or not all(isinstance(s, str) for s in subtasks):
            problems.add(f"{method_path}.subtasks", "must be a non-empty list of task ids")
            continue
        if len(set(subtasks)) != len(subtasks):
            problems.add(f"{method_path}.subtasks", "lists a subtask twice")
            continue
        ordering = _ordering(method_raw.get("ordering", "sequence"), subtasks, f"{method_path}.ordering", problems)
        preconditions = _preconditions(method_raw.get("preconditions"), f"{method_path}.preconditions", problems)
        methods.append(Method(method_id, tuple(subtasks), ordering, preconditions))
    return CompoundTask(task_id, name, tuple(methods), str(raw.get("description", "")).strip())


def _ordering(value: Any, subtasks: list[str], path: str, problems: _Problems) -> tuple[Ordering, ...]:
    if value == "sequence":
        return tuple(Ordering(a, b) for a, b in zip(subtasks, subtasks[1:], strict=False))
    if value == "parallel":
        return ()
    if not isinstance(value, list):
        problems.add(path, "must be 'sequence', 'parallel' or a list of [before, after] pairs")
        return ()
    out: list[Ordering] = []
    for index, raw in enumerate(value):
        item_path = f"{path}[{index}]"
        if isinstance(raw, list) and len(raw) == 2:
            before, after, kind, lag = raw[0], raw[1], "FS", 0.0
        elif isinstance(raw, Mapping) and "before" in raw and "after" in raw:
            before, after = raw["before"], raw["after"]
            kind, lag = raw.get("kind", "FS"), raw.get("lag_hours", 0.0)
        else:
            problems.add(item_path, "must be [before, after] or {before, after, kind, lag_hours}")
            continue
        if before not in subtasks or after not in subtasks or before == after:
            problems.add(item_path, f"must name two different subtasks of this method, got {before!r} and {after!r}")
            continue
        if kind not in DEPENDENCY_KINDS:
            problems.add(f"{item_path}.kind", f"must be one of {', '.join(DEPENDENCY_KINDS)}")
            continue
        if not isinstance(lag, int | float) or isinstance(lag, bool) or lag < 0:
            problems.add(f"{item_path}.lag_hours", "must be a non-negative number of hours")
            continue
        out.append(Ordering(before, after, kind, float(lag)))
    return tuple(out)


def _check_references(
    compounds: Mapping[str, CompoundTask],
    templates: Mapping[str, TaskTemplate],
    component: str | None,
    problems: _Problems,
) -> None:
    for compound in compounds.values():
        for index, method in enumerate(compound.methods):
            for sub in method.subtasks:
                if sub == COMPONENTS_TOKEN:
                    if component is None:
                        problems.add(
                            f"tasks.{compound.id}.methods[{index}].subtasks",
                            f"{COMPONENTS_TOKEN} needs a top-level 'component' compound task",
                        )
                elif sub not in compounds and sub not in templates:
                    problems.add(f"tasks.{compound.id}.methods[{index}].subtasks", f"unknown task {sub!r}")
            successors: dict[str, list[str]] = {sub: [] for sub in method.subtasks}
            for order in method.ordering:
                successors[order.before].append(order.after)
            cycle = find_cycle(successors)
            if cycle:
                problems.add(f"tasks.{compound.id}.methods[{index}].ordering", "ordering cycle: " + " -> ".join(cycle))


def _check_recursion(compounds: Mapping[str, CompoundTask], problems: _Problems) -> None:
    """Preconditions test only goal fields, so a compound task that can contain itself never ends."""
    successors = {
        compound.id: [s for method in compound.methods for s in method.subtasks if s in compounds]
        for compound in compounds.values()
    }
    cycle = find_cycle(successors)
    if cycle:
        problems.add(f"tasks.{cycle[0]}.methods", "compound tasks contain each other: " + " -> ".join(cycle))


def _check_phase_order(
    compounds: Mapping[str, CompoundTask],
    templates: Mapping[str, TaskTemplate],
    component: str | None,
    integration: TaskTemplate | None,
    phases: list[PhaseSpec],
    problems: _Problems,
) -> None:
    """Orderings must never run from a later phase to an earlier one.

    The temporal strategy gates whole phases; an ordering that ran backwards
    would make a cycle through the gates. Ranges are taken over every method,
    so a check here covers every goal.
    """
    rank = {phase.id: index for index, phase in enumerate(phases)}
    ranges: dict[str, tuple[int, int]] = {}

    def span(name: str) -> tuple[int, int] | None:
        if name == COMPONENTS_TOKEN:
            low_high = span(component) if component else None
            if integration is not None:
                own = (rank[integration.phase], rank[integration.phase])
                low_high = own if low_high is None else (low_high[0], max(low_high[1], own[1]))
            return low_high
        if name in templates:
            value = rank[templates[name].phase]
            return value, value
        if name in ranges:
            return ranges[name]
        spans = [s for method in compounds[name].methods for sub in method.subtasks if (s := span(sub))]
        result = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        if result:
            ranges[name] = result
        return result

    for compound in compounds.values():
        for index, method in enumerate(compound.methods):
            for position, order in enumerate(method.ordering):
                before, after = span(order.before), span(order.after)
                if before and after and before[1] > after[0]:
                    problems.add(
                        f"tasks.{compound.id}.methods[{index}].ordering[{position}]",
                        f"{order.before!r} reaches phase {phases[before[1]].id!r} but must finish before "
                        f"{order.after!r}, which starts in the earlier phase {phases[after[0]].id!r}",
                    )
    if component and integration is not None:
        comp_span = span(component)
        if comp_span and comp_span[1] > rank[integration.phase]:
            problems.add(
                "integration.phase",
                f"integration runs after whole components, so its phase must not be "
                f"earlier than {phases[comp_span[1]].id!r}",
            )
