"""Every mutating API call leaves an audit row: who, what, when, before/after digest.

Inside a request the row's actor is the authenticated principal (`key:<id>` or `user:<sub>`), whatever the
caller passed, and its tenant, request id and address come from the request (app/security/context.py).
The database chains the rows (app/security/audit_chain.py) and refuses to change or delete them.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, utcnow
from app.security.context import current_principal


def digest(document) -> str | None:
    if document is None:
        return None
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def record(*, actor: str, action: str, entity: str, entity_id: str, before=None, after=None,
           tenant: str | None = None) -> None:
    """Add (not commit) an audit row, so it lands in the caller's transaction.

    `tenant`: for a row written outside a request about a tenant's object (the CLI creating a key).
    """
    principal = current_principal()
    if principal is not None:
        actor = principal.actor
    values = {"tenant": tenant} if tenant is not None and principal is None else {}
    db.session.execute(sa.insert(AuditEntry).values(
        actor=actor, action=action, entity=entity, entity_id=entity_id, at=utcnow(),
        before_digest=digest(before), after_digest=digest(after), **values))
