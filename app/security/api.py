"""The security endpoints: the audit log (admins), a plan's ACL, the tenant's API keys (admins).

    GET    /api/v1/audit                    the tenant's audit rows, newest first, a page at a time
    GET    /api/v1/audit/verify             the hash chain checked (app/security/audit_chain.py)
    GET    /api/v1/plans/{id}/acl           the plan's owners and teams (empty: the whole tenant)
    PUT    /api/v1/plans/{id}/acl           replace them
    GET    /api/v1/keys                     the tenant's keys (never a secret)
    POST   /api/v1/keys                     a new key of the tenant: the key is in this answer only
    DELETE /api/v1/keys/{id}                revoke it
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from flask import g
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.api import read_schemas as read
from app.extensions import db
from app.models import ApiKey, AuditEntry, PlanAccess
from app.openapi import operation
from app.pagination import encode_cursor, link_headers, page_params, page_response
from app.problems import ApiProblem, flatten_marshmallow
from app.security import audit_chain, keys
from app.security.policy import ALL_ROLES, requires
from app.services import audit

bp = Blueprint("security", __name__, url_prefix="/api/v1",
               description="The audit log, a plan's access list, the tenant's API keys")

NAME = fields.String(validate=validate.Length(min=1, max=200))


class AuditEntryRead(Schema):
    seq = fields.Integer()
    at = fields.String()
    actor = fields.String()
    tenant = fields.String(allow_none=True)
    action = fields.String()
    entity = fields.String()
    entity_id = fields.String()
    before_digest = fields.String(allow_none=True)
    after_digest = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


class AuditListRead(Schema):
    entries = fields.List(fields.Nested(AuditEntryRead))
    next_cursor = fields.String(allow_none=True)


class ChainRead(Schema):
    ok = fields.Boolean()
    rows = fields.Integer()
    head_seq = fields.Integer(allow_none=True)
    head_hash = fields.String(allow_none=True)
    problems = fields.List(fields.String())


class PlanAcl(Schema):
    class Meta:
        unknown = RAISE

    owners = fields.List(NAME, load_default=list, validate=validate.Length(max=100),
                         metadata={"description": "JWT subjects, or key:<id> of API keys"})
    teams = fields.List(NAME, load_default=list, validate=validate.Length(max=100))


class PlanAclRead(PlanAcl):
    plan_id = fields.String()


class KeyCreate(Schema):
    class Meta:
        unknown = RAISE

    role = fields.String(required=True, validate=validate.OneOf(ALL_ROLES))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True)
    task_scope = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=None,
                             allow_none=True, validate=validate.Length(min=1, max=100),
                             metadata={"description": "executor keys: the resource types of the tasks it may "
                                                      "report on (its execution layer's); default every task"})


class KeyRead(Schema):
    id = fields.String()
    prefix = fields.String()
    name = fields.String()
    tenant = fields.String()
    role = fields.String()
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    task_scope = fields.List(fields.String(), allow_none=True)


class KeyCreatedRead(Schema):
    id = fields.String()
    key = fields.String(metadata={"description": "the key: shown this once, never again"})
    tenant = fields.String()
    role = fields.String()
    name = fields.String()
    expires_at = fields.String(allow_none=True)
    task_scope = fields.List(fields.String(), allow_none=True)


class KeyListRead(Schema):
    keys = fields.List(fields.Nested(KeyRead))


def _load(schema: Schema) -> dict:
    from app.api.plans import json_body

    try:
        return schema.load(json_body())
    except ValidationError as error:
        errors = flatten_marshmallow(error.messages)
        raise ApiProblem(422, "invalid-request", "The request is not valid",
                         f"{len(errors)} field(s) failed validation", errors) from None


def _entry(row: AuditEntry) -> dict:
    return {"seq": row.seq, "at": row.at.isoformat() if row.at else None, "actor": row.actor, "tenant": row.tenant,
            "action": row.action, "entity": row.entity, "entity_id": row.entity_id,
            "before_digest": row.before_digest, "after_digest": row.after_digest, "request_id": row.request_id,
            "remote_addr": row.remote_addr, "prev_hash": row.prev_hash, "hash": row.hash}


@bp.get("/audit")
@operation(query=read.PageQuery, responses={200: (AuditListRead, link_headers())}, errors=(400, 422))
@requires("audit:read")
def list_audit():
    """The caller's tenant's audit rows, newest first, a page at a time."""
    page = page_params("audit")
    query = sa.select(AuditEntry).where(AuditEntry.tenant == g.principal.tenant, AuditEntry.seq.is_not(None))
    if page.after is not None:
        if len(page.after) != 1 or not isinstance(page.after[0], int):
            raise ApiProblem(422, "invalid-query", "Invalid query", "cursor: not a cursor of this list",
                             [{"field": "cursor", "message": "Not a cursor of this list."}])
        query = query.where(AuditEntry.seq < page.after[0])
    rows = list(db.session.execute(query.order_by(AuditEntry.seq.desc()).limit(page.limit + 1)).scalars())
    more = len(rows) > page.limit
    rows = rows[:page.limit]
    return page_response({"entries": [_entry(row) for row in rows]},
                         encode_cursor("audit", [rows[-1].seq]) if more else None)


@bp.get("/audit/verify")
@operation(responses={200: ChainRead})
@requires("audit:read")
def verify_audit():
    """The whole chain recomputed: ok, or each changed, deleted or unchained row."""
    return audit_chain.verify(db.session.connection()).as_dict()


def _acl(plan_id: str) -> dict:
    rows = db.session.execute(sa.select(PlanAccess.kind, PlanAccess.name).where(PlanAccess.plan_id == plan_id)
                              .order_by(PlanAccess.kind, PlanAccess.name)).all()
    return {"plan_id": plan_id, "owners": [name for kind, name in rows if kind == "owner"],
            "teams": [name for kind, name in rows if kind == "team"]}


@bp.get("/plans/<plan_id>/acl")
@operation(responses={200: PlanAclRead}, errors=(400, 404))
@requires("plans:read", scope="plan")
def get_acl(plan_id: str):
    """Who of the tenant sees the plan: its owners and teams (none: the whole tenant)."""
    return _acl(plan_id)


@bp.put("/plans/<plan_id>/acl")
@operation(body=PlanAcl, responses={200: PlanAclRead}, errors=(400, 404, 408, 413, 415, 422))
@requires("plans:write", scope="plan")
def put_acl(plan_id: str):
    """Restrict the plan to named owners and teams of its tenant (empty lists: open to the tenant again)."""
    body = _load(PlanAcl())
    before = _acl(plan_id)
    db.session.execute(sa.delete(PlanAccess).where(PlanAccess.plan_id == plan_id))
    for kind, names in (("owner", body["owners"]), ("team", body["teams"])):
        for name in sorted(set(names)):
            db.session.add(PlanAccess(plan_id=plan_id, kind=kind, name=name))
    db.session.flush()
    after = _acl(plan_id)
    audit.record(actor=g.principal.actor, action="plan.acl", entity="plan", entity_id=plan_id, before=before,
                 after=after)
    db.session.commit()
    return after


@bp.get("/keys")
@operation(responses={200: KeyListRead}, errors=(400,))
@requires("keys:admin")
def list_keys():
    """The tenant's API keys (prefixes only: a key's secret is never shown again)."""
    return {"keys": [key for key in keys.list_keys(session=db.session) if key["tenant"] == g.principal.tenant]}


@bp.post("/keys")
@operation(body=KeyCreate, responses={201: KeyCreatedRead}, errors=(400, 408, 413, 415, 422))
@requires("keys:admin")
def create_key():
    """A new key of the caller's tenant; the answer holds the key, once."""
    body = _load(KeyCreate())
    expires_at = body["expires_at"]
    if expires_at is not None:
        # Stored in UTC: PostgreSQL takes UTC offsets up to 15:59 only (+18:19 was a 500; found by schemathesis).
        try:
            expires_at = expires_at.astimezone(UTC)
        except OverflowError:
            raise ApiProblem(422, "invalid-request", "The request is not valid", "expires_at is out of range",
                             [{"field": "expires_at", "message": "Not a moment in years 1 to 9999 (UTC)."}]) from None
    try:
        created = keys.create_key(session=db.session, tenant=g.principal.tenant, role=body["role"],
                                  name=body["name"], expires_at=expires_at, task_scope=body["task_scope"])
    except ValueError as error:
        raise ApiProblem(422, "invalid-request", "The request is not valid", str(error),
                         [{"field": "task_scope", "message": str(error)}]) from None
    audit.record(actor=g.principal.actor, action="key.create", entity="api_key", entity_id=created.id,
                 after={"tenant": created.tenant, "role": created.role, "name": created.name})
    db.session.commit()
    return {"id": created.id, "key": created.key, "tenant": created.tenant, "role": created.role,
            "name": created.name, "expires_at": created.expires_at.isoformat() if created.expires_at else None,
            "task_scope": list(created.task_scope) if created.task_scope else None}, 201


@bp.delete("/keys/<key_id>")
@operation(responses={200: KeyRead}, errors=(400, 404))
@requires("keys:admin")
def revoke_key(key_id: str):
    """Revoke a key of the tenant (it stays listed, revoked)."""
    row = db.session.get(ApiKey, key_id)
    if row is None or row.tenant != g.principal.tenant:
        raise ApiProblem(404, "key-not-found", "API key not found", f"no key with id {key_id!r}")
    keys.revoke_key(session=db.session, key_id=key_id)
    audit.record(actor=g.principal.actor, action="key.revoke", entity="api_key", entity_id=key_id)
    db.session.commit()
    return next(key for key in keys.list_keys(session=db.session) if key["id"] == key_id)
