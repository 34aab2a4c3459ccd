"""Who is calling, for the code below the views: a context variable set by the authorizer.

Kept free of Flask so models (column defaults: a new plan's tenant, an audit row's tenant,
request id and address) and services can read it. Outside a request (Celery workers, the
events consumer, the CLI) nothing is set and the defaults apply: tenant `default`.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key (`kind="key"`, id = the key's id) or a JWT user (`kind="user"`)."""

    kind: str
    id: str
    tenant: str
    roles: frozenset[str]
    teams: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    # An executor key limited to its layer's tasks: the resource types it may report on (None: every task).
    task_scope: frozenset[str] | None = None

    def may_touch(self, task: dict) -> bool:
        """Whether the task (a plan document's task: its `resources`) is within the principal's task scope."""
        return self.task_scope is None or bool(self.task_scope & set((task or {}).get("resources") or {}))

    @property
    def actor(self) -> str:
        """The audit log's `actor`: `key:<id>` or `user:<sub>` (never a header the caller writes)."""
        return f"{self.kind}:{self.id}"[:200]

    @property
    def subject(self) -> str:
        """The name a plan ACL lists: the JWT subject, or `key:<id>` for a key."""
        return self.id if self.kind == "user" else self.actor


@dataclass(frozen=True)
class RequestContext:
    principal: Principal | None = None
    request_id: str | None = None
    remote_addr: str | None = None


_NOBODY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("layer2_security", default=None)


def current() -> RequestContext:
    return _current.get() or _NOBODY


def set_current(value: RequestContext) -> contextvars.Token:
    return _current.set(value)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def current_principal() -> Principal | None:
    return current().principal


def current_tenant() -> str:
    principal = current().principal
    return principal.tenant if principal is not None else DEFAULT_TENANT


def current_request_id() -> str | None:
    return current().request_id


def current_remote_addr() -> str | None:
    return current().remote_addr
