"""Who may do what: the roles' permissions, the declaration each route carries, and what a caller may see.

Each `/api/v1` view declares its permission beside its route:

    @bp.get("/<plan_id>")
    @operation(...)
    @requires("plans:read", scope="plan")
    def get_plan(plan_id): ...

and app/security/authorizer.py checks it, for every request, in one place, before the view runs.
`scope` names the object the URL points at (`plan`: `plan_id`, `risk`: `risk_id`, `issue`: `issue_id`,
`task`: `uid`); the authorizer finds its plan and answers the view's own 404 when the plan belongs to
another tenant or its ACL leaves the caller out (no existence oracle: never a 403 for those).
A route without a declaration is refused (403) and a test lists every route's declaration.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Plan, PlanAccess, PlanIssue, PlanRisk, PlanTask, PlanVersion
from app.security.context import Principal

ALL_ROLES = ("viewer", "planner", "approver", "executor", "admin")
# admin: every permission (its tenant's keys, the resource pools, the audit log, and the rest).
PERMISSIONS: dict[str, frozenset[str]] = {
    "plans:read": frozenset({"viewer", "planner", "approver", "admin"}),
    "plans:write": frozenset({"planner", "admin"}),  # create, cancel, replan, the plan's ACL
    "plans:approve": frozenset({"approver", "admin"}),
    "risks:mitigate": frozenset({"planner", "admin"}),
    "issues:resolve": frozenset({"planner", "admin"}),
    "feedback:write": frozenset({"executor", "admin"}),  # Layer 4
    "progress:read": frozenset({"viewer", "planner", "approver", "executor", "admin"}),
    "resources:read": frozenset({"viewer", "planner", "approver", "admin"}),
    "resources:write": frozenset({"admin"}),
    "metrics:read": frozenset({"admin"}),  # every tenant's figures
    "audit:read": frozenset({"admin"}),
    "keys:admin": frozenset({"admin"}),
}
PUBLIC = "public"
SCOPES = {"plan": "plan_id", "risk": "risk_id", "issue": "issue_id", "task": "uid"}
NOT_FOUND = {  # the views' own 404s, answered alike for a missing and a hidden object
    "plan": ("plan-not-found", "Plan not found", "no plan with id {!r}"),
    "risk": ("risk-not-found", "Risk not found", "no risk with id {!r}"),
    "issue": ("issue-not-found", "Issue not found", "no issue with id {!r}"),
    "task": ("task-not-found", "Task not found", "no task with uid {!r}"),
}
ATTRIBUTE = "_layer2_security"


class Rule:
    def __init__(self, permission: str, scope: str | None):
        if permission != PUBLIC and permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        if scope is not None and scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.permission, self.scope = permission, scope

    def __repr__(self) -> str:
        return f"{self.permission}" + (f" on {self.scope}" if self.scope else "")


def requires(permission: str, *, scope: str | None = None):
    """Declare the permission a view needs (and the object its URL names); checked by the authorizer.

    Also documents the answers it adds to the operation: 401 (no or bad credentials), 429 (rate limit), and
    403 when some role lacks the permission (app/openapi.py registers those problem responses).
    """
    from flask_smorest import Blueprint

    rule = Rule(permission, scope)
    responses = {"401": "Problem401", "429": "Problem429"}
    if PERMISSIONS[permission] != frozenset(ALL_ROLES):
        responses["403"] = "Problem403"

    def mark(view):
        view = Blueprint.doc(responses=responses)(view)
        setattr(view, ATTRIBUTE, rule)
        return view

    return mark


def public(view):
    """No credentials needed (the OpenAPI document and its docs page)."""
    setattr(view, ATTRIBUTE, Rule(PUBLIC, None))
    return view


def rule_of(view) -> Rule | None:
    while view is not None:
        rule = getattr(view, ATTRIBUTE, None)
        if rule is not None:
            return rule
        view = getattr(view, "__wrapped__", None)
    return None


def allowed(principal: Principal, permission: str) -> bool:
    return bool(principal.roles & PERMISSIONS[permission])


def visible_plans(principal: Principal):
    """A WHERE clause on `plans`: the caller's tenant, and an ACL (if any) that names the caller or a team."""
    clause = Plan.tenant == principal.tenant
    if "admin" in principal.roles:
        return clause
    listed = sa.select(PlanAccess.id).where(PlanAccess.plan_id == Plan.id)
    names = listed.where(sa.or_(sa.and_(PlanAccess.kind == "owner", PlanAccess.name == principal.subject),
                                sa.and_(PlanAccess.kind == "team", PlanAccess.name.in_(sorted(principal.teams)))))
    return sa.and_(clause, sa.or_(~listed.exists(), names.exists()))


def plan_id_of(session: Session, scope: str, value: str) -> str | None:
    """The plan the object named by the URL belongs to (None: no such object)."""
    if scope == "plan":
        return value
    if scope == "risk":
        query = sa.select(PlanVersion.plan_id).join(PlanRisk, PlanRisk.plan_version_id == PlanVersion.id) \
            .where(PlanRisk.id == value)
    elif scope == "issue":
        query = sa.select(PlanIssue.plan_id).where(PlanIssue.id == value)
    else:
        query = sa.select(PlanVersion.plan_id).join(PlanTask, PlanTask.plan_version_id == PlanVersion.id) \
            .where(PlanTask.uid == value).limit(1)
    return session.execute(query).scalar()


def task_in_scope(session: Session, principal: Principal, uid: str) -> bool:
    """An executor key limited to its layer's tasks: whether the task (by uid) needs one of its resource types."""
    if principal.task_scope is None:
        return True
    data = session.execute(sa.select(PlanTask.data).where(PlanTask.uid == uid).limit(1)).scalar()
    return principal.may_touch(data)


def can_see_plan(session: Session, principal: Principal, plan_id: str) -> bool:
    found = session.execute(sa.select(Plan.id).where(Plan.id == plan_id, visible_plans(principal))).scalar()
    return found is not None
