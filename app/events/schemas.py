"""JSON Schema (2020-12) of every message on the topics: the envelope and each topic's payload.

docs/events.md shows these same schemas (a test checks that it does), and the tests validate
every message they consume against them.
"""

from __future__ import annotations

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_DATETIME = {"type": "string", "format": "date-time"}


def envelope_schema(topic: str, payload: dict, *, outgoing: bool) -> dict:
    """The envelope every message has, with the topic's payload schema inside."""
    properties = {
        "id": {"type": "string", "minLength": 1, "maxLength": 200,
               "description": "unique per event (a uuid for ours); consumers deduplicate by it"},
        "type": {"const": topic, "description": "the topic, also the routing key"},
        "version": {"type": "integer", "minimum": 1, "description": "the payload's schema version"},
        "occurred_at": _DATETIME,
        "plan_id": _NULLABLE_STRING,
        "payload": payload,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{topic} message",
        "type": "object",
        "required": ["id", "type", "version", "occurred_at", "plan_id", "payload"] if outgoing else ["id", "payload"],
        "properties": properties,
        "additionalProperties": False,
    }


PLAN_STATES = ["queued", "planning", "ready", "approved", "rejected", "executing", "completed", "failed",
               "cancelled"]
VERSION_STATES = ["queued", "planning", "ready", "superseded", "failed", "cancelled"]
CHANGES = ["planning", "ready", "approved", "rejected", "failed", "cancelled", "executing", "completed",
           "replanning", "version_planning", "version_ready", "version_failed", "version_rejected", "rebaselined"]

PLANS_CREATED = {
    "type": "object",
    "required": ["plan_id", "goal_id", "title", "status", "version"],
    "properties": {"plan_id": _STRING, "goal_id": _STRING, "title": _STRING, "status": {"const": "queued"},
                   "version": {"const": 1}},
    "additionalProperties": False,
}

PLANS_UPDATED = {
    "type": "object",
    "required": ["plan_id", "change", "status", "previous_status", "version", "version_status", "baseline_version"],
    "properties": {
        "plan_id": _STRING,
        "change": {"enum": CHANGES, "description": "what happened: the plan's new state, or a version's"},
        "status": {"enum": PLAN_STATES, "description": "the plan's state after the change"},
        "previous_status": {"enum": [*PLAN_STATES, None]},
        "version": {"type": "integer", "minimum": 1, "description": "the version the change concerns"},
        "version_status": {"enum": [*VERSION_STATES, None]},
        "baseline_version": {"type": ["integer", "null"]},
        "reason": _NULLABLE_STRING,
        "actor": _STRING,
    },
    "additionalProperties": False,
}

_RESOURCE = {
    "type": "object",
    "required": ["resource", "units"],
    "properties": {"resource": _STRING, "units": {"type": "number"}, "hours": {"type": "number"},
                   "from": _STRING, "to": _STRING, "start": _STRING, "finish": _STRING, "status": _STRING,
                   "source": _NULLABLE_STRING, "requested_resource": _NULLABLE_STRING,
                   "layer8_allocation_id": _NULLABLE_STRING},
}

TASKS_ASSIGNED = {
    "type": "object",
    "required": ["plan_id", "version", "task", "resources"],
    "properties": {
        "plan_id": _STRING,
        "version": {"type": "integer", "minimum": 1},
        "task": {
            "type": "object",
            "required": ["id", "uid", "name", "start", "finish", "depends_on"],
            "properties": {"id": _STRING, "uid": _NULLABLE_STRING, "name": _STRING, "phase": _NULLABLE_STRING,
                           "start": _STRING, "finish": _STRING, "duration_hours": {"type": ["number", "null"]},
                           "critical": {"type": ["boolean", "null"]},
                           "depends_on": {"type": "array", "items": _STRING}},
        },
        "resources": {"type": "array", "items": _RESOURCE},
    },
    "additionalProperties": False,
}

RISKS_ALERTS = {
    "type": "object",
    "required": ["plan_id", "version", "source", "risk"],
    "properties": {
        "plan_id": _STRING,
        "version": {"type": "integer", "minimum": 1},
        "source": {"enum": ["assessment", "escalation"]},
        "risk": {"type": "object", "required": ["id", "title", "category", "probability", "impact", "score"],
                 "properties": {"id": _STRING, "title": _STRING, "category": _STRING,
                                "probability": {"type": "number"}, "impact": _STRING, "score": {"type": "number"}}},
        "issue": {"type": "object", "required": ["id", "task_id", "kind", "severity", "level"]},
    },
    "additionalProperties": False,
}

GOALS_CREATED = {"type": "object", "description": "a goal document, as POST /api/v1/plans takes it "
                                                  "(docs/goal-format.md); checked by the same code"}

EXECUTION_FEEDBACK = {
    "type": "object",
    "required": ["plan_id", "feedback"],
    "properties": {
        "plan_id": _STRING,
        "feedback": {"type": "object", "description": "the body of PUT /api/v1/plans/{id}: status_date, updates"},
        "idempotency_key": {"type": "string", "description": "default: the message id"},
        "if_match": {"type": "string", "description": "the feedback ETag the sender read, as If-Match"},
        "actor": _STRING,
    },
    "additionalProperties": False,
}

RESOURCES_AVAILABILITY = {
    "type": "object",
    "required": ["resources"],
    "properties": {
        "resources": {"type": "array", "description": "pools as PUT /api/v1/resources takes them"},
        "mode": {"enum": ["merge", "replace"], "description": "merge (default): only the pools named change"},
    },
    "additionalProperties": False,
}

OUTGOING = {"plans.created": PLANS_CREATED, "plans.updated": PLANS_UPDATED, "tasks.assigned": TASKS_ASSIGNED,
            "risks.alerts": RISKS_ALERTS}
INCOMING = {"goals.created": GOALS_CREATED, "execution.feedback": EXECUTION_FEEDBACK,
            "resources.availability": RESOURCES_AVAILABILITY}

MESSAGE_SCHEMAS = {**{topic: envelope_schema(topic, payload, outgoing=True) for topic, payload in OUTGOING.items()},
                   **{topic: envelope_schema(topic, payload, outgoing=False) for topic, payload in INCOMING.items()}}

DEAD_LETTER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dead-lettered message",
    "type": "object",
    "required": ["topic", "problem", "message", "dead_lettered_at"],
    "properties": {
        "topic": _STRING,
        "problem": {"type": "object", "required": ["type", "title", "status", "detail"],
                    "description": "RFC 9457 problem document, as the API would answer"},
        "message": {"type": "string", "description": "the message body as received"},
        "headers": {"type": "object"},
        "dead_lettered_at": _DATETIME,
    },
}
