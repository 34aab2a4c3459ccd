"""Marshmallow schemas of what the API answers, named by entity and verb (`PlanRead`, ...).

They document the responses in the OpenAPI document (app/openapi.py); the views build their
bodies themselves. Unknown members are allowed (`INCLUDE`): a document may grow a member
without breaking a client generated from this contract.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class ReadSchema(Schema):
    class Meta:
        unknown = INCLUDE


class FieldErrorRead(ReadSchema):
    field = fields.String(required=True, metadata={"description": "dotted/indexed path: tasks[2].estimate.optimistic"})
    message = fields.String(required=True)


class ProblemRead(ReadSchema):
    """RFC 9457 problem details (app/problems.py); extension members as the problem type needs."""

    type = fields.String(required=True, metadata={"example": "/problems/plan-not-found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String(allow_none=True)
    errors = fields.List(fields.Nested(FieldErrorRead))


def _str(**kwargs):
    return fields.String(**kwargs)


def _num(**kwargs):
    return fields.Float(**kwargs)


def _int(**kwargs):
    return fields.Integer(**kwargs)


def _opt(field_class, **kwargs):
    """A member that is always there but may be null."""
    return field_class(required=True, allow_none=True, **kwargs)


def _object(**kwargs):
    return fields.Dict(keys=fields.String(), **kwargs)


# --- pagination ---------------------------------------------------------------------------------------------

class PageQuery(Schema):
    """Keyset pagination: `limit` items, from the opaque `cursor` of the previous page's `next_cursor`."""

    limit = fields.Integer(metadata={"description": "items per page (default 100)", "minimum": 1, "maximum": 1000})
    cursor = fields.String(metadata={"description": "opaque: the previous page's next_cursor (or its Link rel=next)"})


MAX_VERSION = 2**31 - 1


class VersionQuery(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_VERSION),
                             metadata={"description": "a version number (default: the current one)"})


class AsOfQuery(Schema):
    as_of = fields.DateTime(metadata={"description": "ISO 8601 moment (default: the latest status date)"})


def NEXT_CURSOR():  # noqa: N802  (reads as a constant in the schemas)
    return fields.String(metadata={"description": "the next page's cursor; absent on the last page"})


# --- plans ----------------------------------------------------------------------------------------------------

class PlanAcceptedRead(ReadSchema):
    id = _str(required=True)
    status = _str(required=True, metadata={"description": "queued on the farm; where the chain ended when embedded"})
    version = _int(required=True)


class StageStateRead(ReadSchema):
    state = _str(required=True)
    started_at = _opt(fields.String)
    finished_at = _opt(fields.String)
    attempts = _int(required=True)
    worker = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class VersionBriefRead(ReadSchema):
    version = _int(required=True)
    status = _str(required=True)
    reason = _str(required=True)


class ApprovalRead(ReadSchema):
    state = _str(required=True)
    by = fields.String(allow_none=True)
    at = fields.String(allow_none=True)
    auto = fields.Boolean()
    comment = fields.String(allow_none=True)
    auto_approvable = fields.Boolean()
    blocked_by = fields.List(fields.String())
    validation = fields.String(allow_none=True, metadata={
        "description": "what Layer 3's validation blocks: approval (rejected), auto_approval (changes required), "
                       "override (not validated: an approval must say override_validation), or null"})
    validation_reason = fields.String(allow_none=True, metadata={"description": "why Layer 3 rejected the version"})


class PlanTaskRead(ReadSchema):
    id = _str(required=True)
    uid = _str()
    name = _str(required=True)
    phase = fields.String(allow_none=True)
    depends_on = fields.List(fields.String())
    start = fields.String(allow_none=True)
    finish = fields.String(allow_none=True)
    duration = _num()
    total_float = _num()
    critical = fields.Boolean()
    resources = _object(values=fields.Integer())


class AllocationRead(ReadSchema):
    task_id = _str(required=True)
    resource = _str(required=True)
    units = _int()
    hours = _num()
    cost = _num(allow_none=True)
    status = _str()
    source = fields.String(allow_none=True)


class PlanRead(ReadSchema):
    """The plan (docs/plan-format.md): the envelope always; the whole plan once the version is planned."""

    id = _str(required=True)
    version = _int(required=True)
    mode = _str(required=True, metadata={"description": "plan or replan"})
    status = _str(required=True, metadata={"description": "the plan's lifecycle state"})
    version_status = _str(required=True, metadata={"description": "the shown version's state"})
    current_version = _int(required=True)
    baseline_version = _opt(fields.Integer)
    created_at = _opt(fields.String)
    updated_at = _opt(fields.String)
    stages = _object(required=True, values=fields.Nested(StageStateRead))
    versions = fields.List(fields.Nested(VersionBriefRead), required=True)
    error = fields.String(metadata={"description": "why the version failed"})
    replan_of = fields.Integer(allow_none=True)
    replan_status_date = fields.String(allow_none=True)
    title = _str()
    domain = fields.String(allow_none=True)
    strategy = _str()
    tasks = fields.List(fields.Nested(PlanTaskRead))
    critical_path = fields.List(fields.String())
    makespan_hours = _num()
    finish = fields.String(allow_none=True)
    allocations = fields.List(fields.Nested(AllocationRead))
    approval = fields.Nested(ApprovalRead)
    validation = fields.Dict(metadata={"description": "Layer 3's validation (docs/layer3-contract.md): state "
                                                      "not_configured, unavailable (with reason), approved, "
                                                      "changes_required or rejected (with reason)"})
    risk_alerts = fields.List(fields.String())
    warnings = fields.List(fields.String())


class HoldRead(ReadSchema):
    id = _str(required=True, metadata={"description": "the hold's id at Layer 8"})
    resource = _str(required=True)
    units = _int(required=True)
    from_ = _opt(fields.String, data_key="from")
    to = _opt(fields.String)
    tasks = fields.List(fields.String(), required=True)
    layer8 = _object(required=True, metadata={"description": "Layer 8's state of the hold now: checked, status "
                                                             "(held, confirmed, released, expired, not_found), "
                                                             "or why it was not asked"})


class PlanResourcesRead(ReadSchema):
    plan_id = _str(required=True)
    status = _str(required=True)
    version = _int(required=True)
    version_status = _str(required=True)
    allocations = fields.List(fields.Nested(AllocationRead), required=True)
    allocations_by_status = _object(required=True, values=fields.Integer())
    holds = fields.List(fields.Nested(HoldRead), required=True)
    resource_pools = fields.List(_object(), required=True)
    resource_conflicts = fields.List(_object(), required=True)
    resource_requests = fields.List(_object(), required=True)
    layer8 = _object(required=True)


class PlanCancelledRead(ReadSchema):
    id = _str(required=True)
    status = _str(required=True)
    version = _int(required=True)
    version_status = _str(required=True)


class PlanPageItemRead(ReadSchema):
    id = _str(required=True)
    title = _str(required=True)
    status = _str(required=True)
    current_version = _int(required=True)
    baseline_version = _opt(fields.Integer)
    created_at = _opt(fields.String)
    updated_at = _opt(fields.String)


class PlanListRead(ReadSchema):
    plans = fields.List(fields.Nested(PlanPageItemRead), required=True)
    next_cursor = NEXT_CURSOR()


# --- lifecycle ------------------------------------------------------------------------------------------------

class DecisionRead(ReadSchema):
    id = _str(required=True)
    status = _str(required=True)
    version = _int(required=True)
    baseline_version = _opt(fields.Integer)
    approval = fields.Nested(ApprovalRead, required=True)


class ReplanAcceptedRead(ReadSchema):
    id = _str(required=True)
    status = _str(required=True)
    version = _int(required=True)
    version_status = _str(required=True)
    baseline_version = _opt(fields.Integer)
    created = fields.Boolean(required=True, metadata={"description": "false when a pending replan was reused"})
    trigger = _opt(fields.Integer)


class ReplanTriggerRead(ReadSchema):
    id = _int(required=True)
    source = _str(required=True)
    kinds = fields.List(fields.String(), required=True)
    reason = _opt(fields.String)
    evidence = fields.List(_object())
    actor = fields.String(allow_none=True)
    created_at = _opt(fields.String)
    status = _str(required=True)
    version = fields.Integer(allow_none=True)
    detail = fields.String(allow_none=True)


class ReplanListRead(ReadSchema):
    id = _str(required=True)
    triggers = fields.List(fields.Nested(ReplanTriggerRead), required=True)
    continuous_replanning = fields.Boolean(required=True)
    next_cursor = NEXT_CURSOR()


class VersionRead(ReadSchema):
    version = _int(required=True)
    status = _str(required=True)
    reason = _opt(fields.String)
    created_at = _opt(fields.String)
    completed_at = _opt(fields.String)
    makespan_hours = _opt(fields.Float)
    finish = _opt(fields.String)
    cost_total = _opt(fields.Float)
    currency = _opt(fields.String)
    p80_hours = _opt(fields.Float)
    p80_date = _opt(fields.String)
    approval = _opt(fields.String)
    auto_approved = _opt(fields.Boolean)
    baseline = fields.Boolean(required=True)
    error = fields.String()


class VersionListRead(ReadSchema):
    id = _str(required=True)
    status = _str(required=True)
    current_version = _int(required=True)
    baseline_version = _opt(fields.Integer)
    versions = fields.List(fields.Nested(VersionRead), required=True)
    next_cursor = NEXT_CURSOR()


class DiffRead(ReadSchema):
    id = _str(required=True)
    from_ = _int(required=True, data_key="from")
    to = _int(required=True)
    tasks_added = fields.List(fields.Raw(), required=True)
    tasks_removed = fields.List(fields.Raw(), required=True)
    tasks_changed = fields.List(_object(), required=True)
    makespan_hours = _object()
    finish = _object()
    cost_total = _object()
    p80_hours = _object()
    critical_path = _object()
    notes = fields.List(fields.Raw())


# --- progress -------------------------------------------------------------------------------------------------

class ProgressRead(ReadSchema):
    plan_id = _str(required=True)
    status = _str(required=True)
    baseline_version = _int(required=True)
    feedback_seq = _int(required=True)
    status_date = _opt(fields.String)
    as_of = _opt(fields.String)
    percent_complete = _opt(fields.Float)
    tasks_by_status = _object(required=True, values=fields.Integer())
    evm = _object()
    earned_schedule = _object()
    undefined = _object(values=fields.String())
    notes = fields.List(fields.Raw())


class ReportRead(ProgressRead):
    s_curve = _object()
    forecast = _object()
    critical_path_now = fields.List(fields.String())
    issues = fields.List(_object())
    risks = fields.List(_object())
    risk_alerts = fields.List(fields.String())
    escalations = fields.List(fields.Raw())
    performance = _object()
    baseline_vs_current = _object()
    warnings = fields.List(fields.String())


class FeedbackProgressRead(ReadSchema):
    percent_complete = _opt(fields.Float)
    tasks_by_status = _object(values=fields.Integer())


class FeedbackAnswerRead(ReadSchema):
    plan_id = _str(required=True)
    status = _str(required=True)
    baseline_version = _opt(fields.Integer)
    feedback_seq = _int(required=True)
    status_date = _opt(fields.String)
    updated = _int(required=True)
    events = fields.List(fields.Integer())
    issues_opened = fields.List(fields.String())
    progress = fields.Nested(FeedbackProgressRead, required=True)


class IssueRead(ReadSchema):
    id = _str(required=True)
    plan_id = _str(required=True)
    task_id = _str(required=True)
    kind = _str(required=True)
    severity = _str(required=True)
    status = _str(required=True)
    reason = _opt(fields.String)
    float_used_hours = _opt(fields.Float)
    opened_at = _opt(fields.String)
    opened_by = _opt(fields.String)
    status_date = _opt(fields.String)
    escalation_level = _int(required=True)
    escalated_at = _opt(fields.String)
    resolved_at = _opt(fields.String)
    resolved_by = _opt(fields.String)
    resolution = _opt(fields.String)


class IssueListRead(ReadSchema):
    plan_id = _str(required=True)
    status = _str(required=True)
    issues = fields.List(fields.Nested(IssueRead), required=True)
    next_cursor = NEXT_CURSOR()


class TaskProgressRead(ReadSchema):
    uid = _str(required=True)
    task_id = _str(required=True)
    plan_id = _str(required=True)
    name = _str(required=True)
    baseline_version = _int(required=True)
    as_of = _opt(fields.String)
    state = _object(required=True)
    planned = _object(required=True)
    actual = _object(required=True)
    float = _object(required=True)
    critical_baseline = fields.Boolean()
    critical_now = fields.Boolean()
    criticality_now = fields.Float(allow_none=True)
    events = fields.List(_object(), required=True)
    issues = fields.List(fields.Nested(IssueRead), required=True)


# --- risks ----------------------------------------------------------------------------------------------------

class RiskRead(ReadSchema):
    id = _str(required=True)
    category = _str(required=True)
    title = _str(required=True)
    probability = _num(required=True)
    impact = _str(required=True)
    score = _num(required=True)
    rank = _int(required=True)
    status = _str(required=True)
    mitigations = fields.List(_object())
    history = fields.List(_object())


class RiskListRead(ReadSchema):
    plan_id = _str(required=True)
    version = _int(required=True)
    status = _str(required=True)
    risks = fields.List(fields.Nested(RiskRead), required=True)
    next_cursor = NEXT_CURSOR()


# --- resources ------------------------------------------------------------------------------------------------

class ResourcePoolRead(ReadSchema):
    type = _str(required=True)
    capacity = _int(required=True)
    cost_rate = _num(required=True)
    rate_unit = _str(required=True)
    currency = _str(required=True)
    hours_per_day = _int(required=True)
    substitutes = fields.List(fields.String(), required=True)


class ResourceSetRead(ReadSchema):
    resources = fields.List(fields.Nested(ResourcePoolRead), required=True)
    updated_at = _opt(fields.String)
    next_cursor = NEXT_CURSOR()


class ResourceSetReplacedRead(ReadSchema):
    resources = fields.List(fields.Nested(ResourcePoolRead), required=True)
    changed = fields.List(fields.String(), required=True)
    flagged_plans = fields.List(fields.Raw(), required=True)


# --- metrics --------------------------------------------------------------------------------------------------

class LatencyRead(ReadSchema):
    p50 = _num(required=True)
    p90 = _num(required=True)
    p95 = _num(required=True)
    p99 = _num(required=True)
    max = _num(required=True)
    mean = _num(required=True)
    samples = _int(required=True)


class StageFiguresRead(ReadSchema):
    runs = _object(required=True, values=fields.Integer(), metadata={"description": "stage runs by state"})
    latency_seconds = fields.Nested(LatencyRead, required=True, allow_none=True,
                                    metadata={"description": "over the latest 1,000 finished runs; null: none yet"})


class QueuesRead(ReadSchema):
    mode = _str(required=True, validate=validate.OneOf(("broker", "eager", "unavailable")))
    reason = fields.String()
    depths = _object(required=True, metadata={"description": "messages waiting per queue: a count, 'eager' "
                                                             "(embedded: no broker), or null (broker unavailable)"})


class MetricsSnapshotRead(ReadSchema):
    generated_at = _str(required=True)
    mode = _str(required=True)
    goals = _object(required=True, values=fields.Integer())
    plans = _object(required=True)
    stages = _object(required=True, values=fields.Nested(StageFiguresRead))
    errors = _object(required=True)
    queues = fields.Nested(QueuesRead, required=True)
