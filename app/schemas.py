"""Marshmallow schemas at the HTTP edge, named by entity and verb."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from planning.goal import DEFAULT_SCHEDULE_OBJECTIVE, DEFAULT_STRATEGY, SCHEDULE_OBJECTIVES, STRATEGIES

MAX_TASKS = 5000
MAX_LIST = 200


class EstimateCreate(Schema):
    class Meta:
        unknown = RAISE

    optimistic = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False))
    most_likely = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False))
    pessimistic = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False))

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

    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    cost_per_hour = fields.Float(load_default=0.0, allow_nan=False, validate=validate.Range(min=0))


class GoalTaskCreate(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    estimate = fields.Nested(EstimateCreate, load_default=None, allow_none=True)
    depends_on = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    resources = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1)),
        load_default=dict,
    )
    inputs = fields.List(fields.String(), load_default=list)
    outputs = fields.List(fields.String(), load_default=list)


class GoalCreate(Schema):
    """The goal document other layers submit (docs/goal-format.md)."""

    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(load_default="", validate=validate.Length(max=20_000))
    domain = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    strategy = fields.String(load_default=DEFAULT_STRATEGY, validate=validate.OneOf(STRATEGIES))
    priority = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=5))
    start = fields.Date(load_default=None, allow_none=True)
    deadline = fields.Date(load_default=None, allow_none=True)
    budget = fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(min=0))
    currency = fields.String(load_default="USD",
                             validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like USD"))
    components = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list,
                             validate=validate.Length(max=MAX_LIST))
    resources = fields.List(fields.Nested(ResourcePoolCreate), load_default=list,
                            validate=validate.Length(max=MAX_LIST))
    tasks = fields.List(fields.Nested(GoalTaskCreate), load_default=list, validate=validate.Length(max=MAX_TASKS))
    context = fields.Dict(load_default=dict)
    schedule_objective = fields.String(load_default=DEFAULT_SCHEDULE_OBJECTIVE,
                                       validate=validate.OneOf(SCHEDULE_OBJECTIVES))


class PlanCancel(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(load_default="cancelled by caller", validate=validate.Length(max=1000))
