"""`/api/v1/resources`: the local resource pool set, read and replaced whole."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import exc as sa_exc

from app.api import read_schemas as read
from app.extensions import db
from app.openapi import operation
from app.pagination import link_headers, page_response, paginate
from app.problems import ApiProblem, flatten_marshmallow
from app.security.policy import requires
from app.services import resources as resource_service
from planning.resources.pools import RATE_UNITS

bp = Blueprint("resources", __name__, url_prefix="/api/v1/resources",
               description="The local resource pool set, read and replaced whole")

MAX_POOLS = 500


class ResourcePoolPut(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100_000))
    cost_rate = fields.Float(load_default=0.0, allow_nan=False, validate=validate.Range(min=0))
    rate_unit = fields.String(load_default="hour", validate=validate.OneOf(RATE_UNITS))
    currency = fields.String(load_default="USD",
                             validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like USD"))
    hours_per_day = fields.Integer(load_default=8, strict=True, validate=validate.Range(min=1, max=24))
    substitutes = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list,
                              validate=validate.Length(max=100))

    @validates_schema
    def _not_itself(self, data, **kwargs):
        if data.get("type") in data.get("substitutes", ()):
            raise ValidationError("a pool does not substitute for its own type", field_name="substitutes")


class ResourceSetReplace(Schema):
    """The whole local pool set: `{"resources": [pool, ...]}`."""

    class Meta:
        unknown = RAISE

    resources = fields.List(fields.Nested(ResourcePoolPut), required=True, validate=validate.Length(max=MAX_POOLS))

    @validates_schema
    def _unique_types(self, data, **kwargs):
        seen: set[str] = set()
        errors = {}
        for index, pool in enumerate(data.get("resources", ())):
            if pool["type"] in seen:
                errors[index] = {"type": [f"resource type {pool['type']!r} listed twice"]}
            seen.add(pool["type"])
        if errors:
            raise ValidationError({"resources": errors})


def _actor() -> str:
    from app.api.plans import actor

    return actor()


@bp.get("")
@operation(query=read.PageQuery, responses={200: (read.ResourceSetRead, link_headers())}, errors=(400, 422))
@requires("resources:read")
def list_resources():
    """The pools by type, a page at a time (by default the whole set: at most 500 pools)."""
    records = resource_service.list_pools(session=db.session)
    pools, next_cursor = paginate("resources", [record.to_dict() for record in records],
                                  key=lambda pool: (pool["type"],), default_limit=MAX_POOLS)
    return page_response({"resources": pools,
                          "updated_at": _iso(max((r.updated_at for r in records), default=None))}, next_cursor)


@bp.put("")
@operation(summary="Replace the whole local pool set", body=ResourceSetReplace,
           responses={200: read.ResourceSetReplacedRead}, errors=(400, 409, 413, 415, 422),
           headers={"X-Actor": {"description": "who acts (audit log)", "schema": {"type": "string"}}})
@requires("resources:write")
def replace_resources():
    if not request.is_json:
        raise ApiProblem(415, "unsupported-media-type", "Unsupported media type",
                         "send the resource pools as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiProblem(400, "malformed-json", "Malformed JSON",
                         'the request body must be a JSON object: {"resources": [...]}')
    try:
        data = ResourceSetReplace().load(body)
    except ValidationError as error:
        errors = flatten_marshmallow(error.messages)
        raise ApiProblem(422, "invalid-resources", "The resource pools are not valid",
                         f"{len(errors)} field(s) failed validation", errors) from None
    try:
        return resource_service.replace_pools(session=db.session, pools=data["resources"], actor=_actor())
    except sa_exc.IntegrityError:
        db.session.rollback()
        raise ApiProblem(409, "concurrent-update", "Concurrent update",
                         "another update of the resource pools won; read them and try again") from None


def _iso(value) -> str | None:
    return value.isoformat() if value else None
