"""Marshmallow schemas of what the API answers, named by entity and verb (`PlanRead`, ...).

They document the responses in the OpenAPI document (app/openapi.py); the views build their
bodies themselves. Unknown members are allowed (`INCLUDE`): a document may grow a member
without breaking a client generated from this contract.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields


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
