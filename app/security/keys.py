"""API keys: `l2k_<prefix>_<secret>`, 256 random bits, stored as the prefix (to find the row) and sha256 of the
whole key (compared in constant time). The key itself is shown once, by `create_key`, and never stored.

sha256 and not a slow password hash: a key carries 256 bits of randomness, so no dictionary or brute force
applies, and every request checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import ApiKey, utcnow
from app.security.context import Principal

ROLES = ("viewer", "planner", "approver", "executor", "admin")
KEY_TAG = "l2k"
_TENANT_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > 100 or set(tenant) - _TENANT_OK:
        raise ValueError(f"tenant {tenant!r}: 1-100 letters, digits, '-', '_' or '.'")
    return tenant


@dataclass(frozen=True)
class CreatedKey:
    id: str
    key: str
    tenant: str
    role: str
    name: str
    expires_at: datetime | None
    task_scope: tuple[str, ...] | None = None


def create_key(*, session: Session, tenant: str, role: str, name: str = "",
               expires_at: datetime | None = None, task_scope: list[str] | None = None) -> CreatedKey:
    """Store a new key and return it (the only time its secret exists outside the caller's hands).

    `task_scope` (executor keys only): the resource types of the tasks the key may report on.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    check_tenant(tenant)
    if task_scope is not None:
        if role != "executor":
            raise ValueError("a task scope is for executor keys only")
        task_scope = sorted({str(t).strip() for t in task_scope if str(t).strip()})
        if not task_scope:
            raise ValueError("a task scope names at least one resource type")
    prefix = secrets.token_hex(6)  # 48 bits to find the row; the secret below carries the 256
    key = f"{KEY_TAG}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(prefix=prefix, key_hash=_hash(key), name=name[:200], tenant=tenant, role=role, expires_at=expires_at,
                 task_scope=task_scope)
    session.add(row)
    session.flush()
    return CreatedKey(row.id, key, tenant, role, row.name, expires_at, tuple(task_scope) if task_scope else None)


def authenticate(*, session: Session, key: str, now: datetime | None = None) -> Principal | None:
    """The key's principal, or None (unknown, malformed, revoked or expired: the caller cannot tell which)."""
    parts = key.split("_", 2)  # the secret may hold "_" itself
    if len(parts) != 3 or parts[0] != KEY_TAG or len(key) > 200:
        return None
    row = session.execute(sa.select(ApiKey).where(ApiKey.prefix == parts[1])).scalar_one_or_none()
    if row is None:
        _hash(key)  # about the same work whether or not the prefix exists
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    now = now or utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and _aware(row.expires_at) <= now):
        return None
    return Principal(kind="key", id=row.id, tenant=row.tenant, roles=frozenset({row.role}), name=row.name,
                     task_scope=frozenset(row.task_scope) if row.task_scope is not None else None)


def list_keys(*, session: Session) -> list[dict]:
    rows = session.execute(sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).scalars()
    return [{"id": row.id, "prefix": f"{KEY_TAG}_{row.prefix}", "name": row.name, "tenant": row.tenant,
             "role": row.role, "created_at": _iso(row.created_at), "expires_at": _iso(row.expires_at),
             "revoked_at": _iso(row.revoked_at), "task_scope": row.task_scope} for row in rows]


def revoke_key(*, session: Session, key_id: str) -> bool:
    """Revoke the key (kept, for the audit log's sake); False when there is no such key."""
    row = session.get(ApiKey, key_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return True


def local_admin_key(app, name: str, tenant: str = "default") -> str:
    """A new admin key of `tenant` in the app's database, the earlier keys of that name revoked: the key of a
    local tool (`serve` in embedded mode, `plan`, the benchmarks), which prints or uses it at once."""
    from app.extensions import db

    with app.app_context():
        db.session.execute(sa.update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
        created = create_key(session=db.session, tenant=tenant, role="admin", name=name)
        db.session.commit()
    return created.key


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value else None
