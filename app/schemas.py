"""Marshmallow schemas at the HTTP edge, named by entity and verb."""

from __future__ import annotations

import math
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.json_input import string_problem as text_problem
from planning.errors import PlanningError
from planning.goal import (
    DEFAULT_PRIORITY,
    DEFAULT_SCHEDULE_OBJECTIVE,
    DEFAULT_STRATEGY,
    SCHEDULE_OBJECTIVES,
    STRATEGIES,
    parse_priority,
)

# The goal's bounds (docs/goal-format.md, "Bounds"): every number finite and below a maximum, every date in
# a window, so no stage meets a value it cannot compute with (an OverflowError was an "internal error").
MAX_TASKS = 5000  # the schema's ceiling; the setting max_tasks_per_plan (default 5,000) is checked on POST
MAX_LIST = 200
MAX_ESTIMATE_HOURS = 10_000.0  # one estimate point (about five working years)
MAX_TOTAL_HOURS = 500_000.0  # the tasks' pessimistic estimates added up: the longest the project can be, serially
MAX_CAPACITY = 100_000  # units of a pool, and units one task may ask for
MAX_COST_PER_HOUR = 1_000_000.0
MAX_BUDGET = 1e15
MIN_DATE, MAX_DATE = date(1970, 1, 1), date(2200, 12, 31)
MAX_JSON_INTEGER = 2**53 - 1  # in context: integers every JSON reader holds exactly


class Text(fields.String):
    """A string that is valid Unicode and holds no NUL (refused with a 422 naming the field, not normalised)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text)
        if problem:
            raise ValidationError(f"Not a valid string: {problem}.")
        return text


class Priority(fields.Field):
    """1 (highest) to 5, or critical | high | medium | low | lowest in any case; loads as the number."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_priority(value)
        except PlanningError as error:
            raise ValidationError(error.message) from None


class PoolNames(fields.Field):
    """One goal pool's name, or a list of them (role_map values); loads as a list."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not 1 <= len(names) <= MAX_LIST or not all(
                isinstance(name, str) and 1 <= len(name) <= 100 and not text_problem(name) for name in names):
            raise ValidationError("must be a pool name or a list of 1-200 pool names")
        return names


def _hours(**kwargs) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=MAX_ESTIMATE_HOURS),
                        **kwargs)


def _check_json_value(value) -> None:
    """context is free-form, but stored and sent back: its strings must be storable, its numbers finite
    and its integers within ±(2^53 - 1). Walked without recursion (nesting is bounded by app/json_input.py)."""
    stack = [("context", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise ValidationError(f"{path}: {problem}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_JSON_INTEGER:
                raise ValidationError(f"{path}: integers must lie within ±{MAX_JSON_INTEGER}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"{path}: numbers must be finite")
        elif isinstance(item, dict):
            for key, member in item.items():
                if not isinstance(key, str) or text_problem(key):
                    raise ValidationError(f"{path}: key {key!r} {text_problem(str(key))}")
                stack.append((f"{path}.{key}", member))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", member) for index, member in enumerate(item))
        else:
            raise ValidationError(f"{path}: not a JSON value")


class EstimateCreate(Schema):
    class Meta:
        unknown = RAISE

    optimistic = _hours(required=True)
    most_likely = _hours(required=True)
    pessimistic = _hours(required=True)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if {"optimistic", "most_likely", "pessimistic"} <= data.keys():
            if not data["optimistic"] <= data["most_likely"] <= data["pessimistic"]:
                raise ValidationError(
                    "must satisfy optimistic <= most_likely <= pessimistic", field_name="most_likely"
                )


class ResourcePoolCreate(Schema):
    class Meta:
        unknown = RAISE

    type = Text(required=True, validate=validate.Length(min=1, max=100))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_CAPACITY))
    cost_per_hour = fields.Float(load_default=0.0, allow_nan=False,
                                 validate=validate.Range(min=0, max=MAX_COST_PER_HOUR))


class GoalTaskCreate(Schema):
    class Meta:
        unknown = RAISE

    id = Text(required=True, validate=validate.Length(min=1, max=200))
    name = Text(required=True, validate=validate.Length(min=1, max=500))
    description = Text(load_default="", validate=validate.Length(max=10_000))
    estimate = fields.Nested(EstimateCreate, load_default=None, allow_none=True)
    depends_on = fields.List(Text(validate=validate.Length(min=1, max=200)), load_default=list,
                             validate=validate.Length(max=MAX_TASKS))
    resources = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=100)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_CAPACITY)),
        load_default=dict,
        validate=validate.Length(max=MAX_LIST),
    )
    inputs = fields.List(Text(validate=validate.Length(max=500)), load_default=list,
                         validate=validate.Length(max=MAX_LIST))
    outputs = fields.List(Text(validate=validate.Length(max=500)), load_default=list,
                          validate=validate.Length(max=MAX_LIST))
    priority = Priority(load_default=None, allow_none=True)


class GoalCreate(Schema):
    """The goal document other layers submit (docs/goal-format.md)."""

    class Meta:
        unknown = RAISE

    title = Text(required=True, validate=validate.Length(min=1, max=500))
    description = Text(load_default="", validate=validate.Length(max=20_000))
    domain = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    strategy = Text(load_default=DEFAULT_STRATEGY, validate=validate.OneOf(STRATEGIES))
    priority = Priority(load_default=DEFAULT_PRIORITY)
    start = fields.Date(load_default=None, allow_none=True, validate=validate.Range(min=MIN_DATE, max=MAX_DATE))
    deadline = fields.Date(load_default=None, allow_none=True, validate=validate.Range(min=MIN_DATE, max=MAX_DATE))
    budget = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                          validate=validate.Range(min=0, max=MAX_BUDGET))
    currency = Text(load_default="USD",
                    validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like USD"))
    components = fields.List(Text(validate=validate.Length(min=1, max=200)), load_default=list,
                             validate=validate.Length(max=MAX_LIST))
    resources = fields.List(fields.Nested(ResourcePoolCreate), load_default=list,
                            validate=validate.Length(max=MAX_LIST))
    tasks = fields.List(fields.Nested(GoalTaskCreate), load_default=list, validate=validate.Length(max=MAX_TASKS))
    context = fields.Dict(load_default=dict, validate=_check_json_value)
    schedule_objective = Text(load_default=DEFAULT_SCHEDULE_OBJECTIVE, validate=validate.OneOf(SCHEDULE_OBJECTIVES))
    role_map = fields.Dict(keys=Text(validate=validate.Length(min=1, max=100)), values=PoolNames(),
                           load_default=dict, validate=validate.Length(max=MAX_LIST))

    @validates_schema
    def _project_fits(self, data, **kwargs):
        """The tasks one after another must fit the calendar: their pessimistic hours are bounded in sum."""
        total = sum(task["estimate"]["pessimistic"] for task in data.get("tasks") or () if task.get("estimate"))
        if total > MAX_TOTAL_HOURS:
            raise ValidationError(f"the tasks' pessimistic estimates add up to {total:,.0f} working hours; "
                                  f"at most {MAX_TOTAL_HOURS:,.0f}", field_name="tasks")


class PlanCancel(Schema):
    class Meta:
        unknown = RAISE

    reason = Text(load_default="cancelled by caller", validate=validate.Length(max=1000))
