"""Domain knowledge as plain, immutable data: HTN compound tasks, methods and task templates.

A domain file is parsed into these by `planning.decomposition.schema`; nothing
here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from planning.decomposition.text import TfIdf, tokens
from planning.goal import Estimate, Goal, ResourcePool

COMPONENTS_TOKEN = "@components"
PRECONDITION_OPS = (
    "exists",
    "missing",
    "nonempty",
    "empty",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "contains_any",
    "in",
)
OPS_WITHOUT_VALUE = ("exists", "missing", "nonempty", "empty")
GOAL_FIELDS = (
    "title",
    "description",
    "text",
    "domain",
    "priority",
    "budget",
    "currency",
    "components",
    "resources",
    "start",
    "deadline",
    "component",
)


@dataclass(frozen=True)
class Precondition:
    """A test on one goal field (``context.<key>`` for context, ``component`` for the component at hand)."""

    field: str
    op: str
    value: object = None

    def holds(self, facts: Mapping[str, object]) -> bool:
        actual = facts.get(self.field)
        op, expected = self.op, self.value
        if op == "exists":
            return actual is not None
        if op == "missing":
            return actual is None
        if op == "nonempty":
            return bool(actual)
        if op == "empty":
            return not actual
        if op == "eq":
            return _norm(actual) == _norm(expected)
        if op == "ne":
            return _norm(actual) != _norm(expected)
        if op in ("gt", "gte", "lt", "lte"):
            if actual is None or isinstance(actual, bool):
                return False
            try:
                left, right = (str(actual), str(expected)) if isinstance(actual, str | date) else (actual, expected)
                return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
            except TypeError:
                return False
        if op == "contains":
            return _contains(actual, expected)
        if op == "contains_any":
            return any(_contains(actual, item) for item in expected)  # type: ignore[union-attr]
        if op == "in":
            return _norm(actual) in [_norm(item) for item in expected]  # type: ignore[union-attr]
        raise AssertionError(f"unvalidated precondition op {op!r}")


def _norm(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _contains(actual: object, expected: object) -> bool:
    if actual is None:
        return False
    if isinstance(actual, str):
        return str(expected).lower() in actual.lower()
    if isinstance(actual, list | tuple | set | frozenset):
        return _norm(expected) in {_norm(item) for item in actual}
    return False


def goal_facts(goal: Goal) -> dict[str, object]:
    """The goal fields preconditions may test, flattened (``context.region`` etc.)."""
    facts: dict[str, object] = {
        "title": goal.title,
        "description": goal.description,
        "text": f"{goal.title}\n{goal.description}",
        "domain": goal.domain,
        "priority": goal.priority,
        "budget": goal.budget,
        "currency": goal.currency,
        "components": list(goal.components),
        "resources": [pool.type for pool in goal.resources],
        "start": goal.start,
        "deadline": goal.deadline,
        "component": None,
    }
    for key, value in goal.context.items():
        facts[f"context.{key}"] = value
    return facts


@dataclass(frozen=True)
class PhaseSpec:
    id: str
    name: str
    stage: str  # the functional strategy's lifecycle stage this phase belongs to


@dataclass(frozen=True)
class Ordering:
    """`before` precedes `after` (subtask names of one method), by dependency kind and lag."""

    before: str
    after: str
    kind: str = "FS"
    lag_hours: float = 0.0


@dataclass(frozen=True)
class Method:
    id: str
    subtasks: tuple[str, ...]
    ordering: tuple[Ordering, ...]
    preconditions: tuple[Precondition, ...] = ()


@dataclass(frozen=True)
class CompoundTask:
    id: str
    name: str
    methods: tuple[Method, ...]
    description: str = ""


@dataclass(frozen=True)
class TaskTemplate:
    """A primitive task: what one planned task looks like before placeholders are filled."""

    id: str
    name: str
    phase: str
    estimate: Estimate
    resources: Mapping[str, int]
    success_criteria: tuple[str, ...]
    risk_tags: tuple[str, ...] = ()
    description: str = ""
    shared: bool = False
    shared_name: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    preconditions: tuple[Precondition, ...] = ()
    aliases: tuple[str, ...] = ()  # other names for the same work ({component} allowed): what goals call it


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    description: str
    keywords: tuple[str, ...]
    phases: tuple[PhaseSpec, ...]
    resources: Mapping[str, ResourcePool]
    root: str
    compounds: Mapping[str, CompoundTask]
    templates: Mapping[str, TaskTemplate]
    component: str | None = None
    default_component: str = "solution"
    review_resource: str = ""
    integration: TaskTemplate | None = None
    mitigations: Mapping[str, TaskTemplate] = field(default_factory=dict)
    default_estimate: Estimate = Estimate(4, 8, 16)
    default_resources: Mapping[str, int] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        rank = {phase.id: index for index, phase in enumerate(self.phases)}
        stages: list[str] = []
        for phase in self.phases:
            if phase.stage not in stages:
                stages.append(phase.stage)
        object.__setattr__(self, "_phase_rank", rank)
        object.__setattr__(self, "_stages", tuple(stages))
        documents = {
            template.id: tokens(" ".join((_plain(template.name), template.description, " ".join(template.outputs),
                                          " ".join(_plain(alias) for alias in template.aliases))))
            for template in self.templates.values()
        }
        object.__setattr__(self, "_template_index", TfIdf(documents))

    @property
    def phase_rank(self) -> Mapping[str, int]:
        return self._phase_rank  # type: ignore[attr-defined]

    @property
    def stages(self) -> tuple[str, ...]:
        return self._stages  # type: ignore[attr-defined]

    def phase(self, phase_id: str) -> PhaseSpec:
        return self.phases[self.phase_rank[phase_id]]

    def match_template(self, text: str) -> tuple[TaskTemplate | None, float]:
        """The task template whose name and description best match `text`, with the cosine score."""
        scores = self._template_index.query(tokens(text))  # type: ignore[attr-defined]
        if not scores:
            return None, 0.0
        best = max(scores, key=lambda key: (scores[key], key))
        return (self.templates[best], scores[best]) if scores[best] > 0 else (None, 0.0)

    def match_document(self) -> list[str]:
        """The words the domain matcher compares goals against; keywords count double."""
        words = tokens(f"{self.name} {self.description}")
        words += tokens(" ".join(self.keywords)) * 2
        return words


def _plain(name: str) -> str:
    """A template name without its placeholders, for matching."""
    for placeholder in ("{goal}", "{component}", "{a}", "{b}"):
        name = name.replace(placeholder, " ")
    return name


def render(text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
