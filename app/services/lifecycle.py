"""The plan lifecycle behind the API: approve, reject, cancel, the versions and their diff.

Every state change asks `planning.lifecycle` first (a refused one raises TransitionError,
which the API answers with a 409 naming the current state and the allowed ones) and leaves
an audit row named after the state reached (`plan.approved`, `plan_version.ready`). The
pipeline's own transitions (planning, ready, auto-approval, failed) use the same audit
statement, built once, from `app/services/pipeline.py`.

Other services move a plan the same way: `lock_plan`, then `move_plan` (checks, sets, audits)
in their own transaction; execution feedback takes an approved plan to executing so.

The plan document of a version is immutable; the approval decision lives in
`plan_approvals` (one per plan version) and the approved version is the plan's
`baseline_version`. `approval_view` merges the two into the document's `approval` block.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import AuditEntry, Plan, PlanApproval, PlanIssue, PlanProgress, PlanTask, PlanVersion, utcnow
from app.services import audit, outbox
from planning.lifecycle import REPLANNABLE_PLAN_STATES, check_plan_transition, check_version_transition

PIPELINE_ACTOR = "layer2-pipeline"
AUTO_APPROVER = "layer2-auto-approval"
AUTO_APPROVAL_COMMENT = "approved automatically: no risk at alert level (auto_approve_low_risk_plans)"
# A plan follows its version's states only while it is first being planned; a later version
# (a replan, issue 14) leaves the plan where it is (approved, executing ...).
PLAN_FOLLOWS_VERSION = ("queued", "planning")
# Versions that carry a plan document: it is shown, listed and compared only for these.
PLANNED_VERSION_STATES = ("ready", "superseded")

_P = sa.bindparam
# The pipeline's audit row for a transition, built once (its values are bind parameters).
AUDIT_TRANSITION = sa.insert(AuditEntry).values(
    actor=_P("b_actor"), action=_P("b_action"), entity=_P("b_entity"), entity_id=_P("b_entity_id"),
    at=_P("b_now"), before_digest=_P("b_before"), after_digest=_P("b_after"))


def plan_audit(plan_id: str, current: str, target: str, *, actor: str, now, **after) -> dict:
    """Bind parameters of AUDIT_TRANSITION for a plan moving from `current` to `target`."""
    return {"b_actor": actor, "b_action": f"plan.{target}", "b_entity": "plan", "b_entity_id": plan_id,
            "b_now": now, "b_before": audit.digest({"status": current}),
            "b_after": audit.digest({"status": target, **after})}


def version_audit(plan_id: str, number: int, current: str, target: str, *, actor: str, now, **after) -> dict:
    """Bind parameters of AUDIT_TRANSITION for a plan version moving from `current` to `target`."""
    return {"b_actor": actor, "b_action": f"plan_version.{target}", "b_entity": "plan_version",
            "b_entity_id": f"{plan_id}/v{number}", "b_now": now, "b_before": audit.digest({"status": current}),
            "b_after": audit.digest({"status": target, **after})}


class VersionNotFound(LookupError):
    def __init__(self, plan_id: str, number: int):
        self.plan_id, self.number = plan_id, number
        super().__init__(f"plan {plan_id} has no version {number}")


class VersionNotPlanned(RuntimeError):
    """The version has no plan document (it is queued, planning, failed or cancelled)."""

    def __init__(self, number: int, status: str, why: str):
        self.number, self.status = number, status
        super().__init__(f"version {number} is {status}: {why}")


class VersionMismatch(RuntimeError):
    def __init__(self, asked: int, current: int):
        self.asked, self.current = asked, current
        super().__init__(f"version {asked} is not the current version ({current}); read the plan again")


class AlreadyDecided(RuntimeError):
    def __init__(self, number: int, decision: str):
        self.number, self.decision = number, decision
        super().__init__(f"version {number} is already {decision}")


class ValidationBlocksApproval(RuntimeError):
    """Layer 3's validation stands in the way of approving this version (docs/lifecycle.md, "Validation")."""

    def __init__(self, number: int, state: str, why: str):
        self.number, self.state = number, state
        super().__init__(why)


def check_validation(document: dict, *, number: int, override: bool) -> bool:
    """May version `number` be approved by hand, as Layer 3 left it? Raises ValidationBlocksApproval when Layer 3
    rejected it, or could not validate it and the approval does not say it overrides; True when it overrides."""
    approval = document.get("approval") or {}
    blocks = approval.get("validation")
    if blocks == "approval":
        raise ValidationBlocksApproval(number, "rejected", f"Layer 3 rejected version {number}: "
                                       f"{approval.get('validation_reason') or 'no reason given'}; replan or reject it")
    if blocks == "override":
        if not override:
            reason = (document.get("validation") or {}).get("reason") or "Layer 3 was unavailable"
            raise ValidationBlocksApproval(number, "unavailable", f"version {number} was not validated ({reason}); "
                                           "an approval must say it overrides: override_validation: true")
        return True
    return False


@dataclass(frozen=True)
class Decision:
    plan_id: str
    status: str
    version: int
    baseline_version: int | None


# -- approval ---------------------------------------------------------------------------

def approve_plan(*, session: Session, plan_id: str, actor: str, comment: str | None = None,
                 version: int | None = None, override_validation: bool = False) -> Decision:
    """ready -> approved: the current version becomes the baseline (not when Layer 3 rejected it; when Layer 3
    could not validate it, only with `override_validation`, which the approval's comment and audit record)."""
    return _decide(session, plan_id, "approved", actor=actor, comment=comment, version=version,
                   override_validation=override_validation)


def reject_plan(*, session: Session, plan_id: str, actor: str, reason: str, version: int | None = None) -> Decision:
    """ready -> rejected (final): the reason is kept with the decision."""
    return _decide(session, plan_id, "rejected", actor=actor, comment=reason, version=version)


def lock_plan(*, session: Session, plan_id: str) -> Plan:
    """The plan, read afresh under its row lock (FOR UPDATE on PostgreSQL) for a state change."""
    return session.execute(sa.select(Plan).where(Plan.id == plan_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def move_plan(*, session: Session, plan: Plan, target: str, actor: str, **after) -> str:
    """One plan transition in the caller's transaction (not committed): checked against
    planning/lifecycle.py (TransitionError, a 409 at the API, when not allowed), set and audited
    as `plan.<target>`. Take the plan with `lock_plan` first. Returns the state it left."""
    before = plan.status
    check_plan_transition(before, target)
    audit.record(actor=actor, action=f"plan.{target}", entity="plan", entity_id=plan.id,
                 before={"status": before}, after={"status": target, **after})
    plan.status, plan.updated_at = target, utcnow()
    return before


def _decide(session: Session, plan_id: str, target: str, *, actor: str, comment: str | None,
            version: int | None, override_validation: bool = False) -> Decision:
    plan = lock_plan(session=session, plan_id=plan_id)
    current = version_row(session=session, plan_id=plan_id, number=plan.current_version)
    if plan.status in REPLANNABLE_PLAN_STATES and plan.baseline_version is not None \
            and current.version != plan.baseline_version:
        return _decide_replan(session, plan, current, target, actor=actor, comment=comment, version=version,
                              override_validation=override_validation)
    check_plan_transition(plan.status, target)
    if version is not None and version != current.version:
        raise VersionMismatch(version, current.version)
    if current.status != "ready":
        raise VersionNotPlanned(current.version, current.status, f"only a ready version can be {target}")
    if target == "approved" and check_validation(current.document or {}, number=current.version,
                                                 override=override_validation):
        comment = _overriding(comment)
    now = utcnow()
    session.execute(sa.insert(PlanApproval).values(
        plan_id=plan_id, version=current.version, decision=target, actor=actor, auto=False, comment=comment, at=now))
    previous = move_plan(session=session, plan=plan, target=target, actor=actor, version=current.version,
                         comment=comment)
    if target == "approved":
        plan.baseline_version = current.version
    outbox.emit_plan_update(session, plan_id, target, now=now, status=target, previous_status=previous,
                            version=current.version, version_status=current.status,
                            baseline_version=plan.baseline_version, reason=comment, actor=actor)
    if target == "approved":
        outbox.emit_assignable_tasks(session, plan_id=plan_id, version=current.version, version_id=current.id,
                                     document=current.document or {}, now=now)
    session.commit()
    return Decision(plan_id, plan.status, current.version, plan.baseline_version)


def _overriding(comment: str | None) -> str:
    return "[overrides the missing Layer 3 validation]" + (f" {comment}" if comment else "")


def _decide_replan(session: Session, plan: Plan, current: PlanVersion, target: str, *, actor: str,
                   comment: str | None, version: int | None, override_validation: bool = False) -> Decision:
    """A later version (a replan) of a plan under way: approving it moves the baseline to it, rejecting
    it keeps the old one; the plan stays where it is (approved or executing) either way."""
    if version is not None and version != current.version:
        raise VersionMismatch(version, current.version)
    if current.status != "ready":
        raise VersionNotPlanned(current.version, current.status, f"only a ready version can be {target}")
    decided = session.execute(sa.select(PlanApproval.decision).where(
        PlanApproval.plan_id == plan.id, PlanApproval.version == current.version)).scalar()
    if decided is not None:
        raise AlreadyDecided(current.version, decided)
    if target == "approved" and check_validation(current.document or {}, number=current.version,
                                                 override=override_validation):
        comment = _overriding(comment)
    now = utcnow()
    connection = session.connection()
    if target == "approved":
        rebaseline(connection, plan_id=plan.id, old=plan.baseline_version, new=current.version, actor=actor,
                   auto=False, comment=comment, now=now)
        outbox.emit_plan_update(connection, plan.id, "rebaselined", now=now, status=plan.status,
                                previous_status=plan.status, version=current.version, version_status=current.status,
                                baseline_version=current.version, reason=comment, actor=actor)
        outbox.emit_assignable_tasks(connection, plan_id=plan.id, version=current.version, version_id=current.id,
                                     document=current.document or {}, now=now)
    else:
        connection.execute(sa.insert(PlanApproval.__table__).values(
            plan_id=plan.id, version=current.version, decision=target, actor=actor, auto=False, comment=comment,
            at=now))
        connection.execute(AUDIT_TRANSITION, version_audit(plan.id, current.version, current.status, "rejected",
                                                           actor=actor, now=now, comment=comment))
        outbox.emit_plan_update(connection, plan.id, "version_rejected", now=now, status=plan.status,
                                previous_status=plan.status, version=current.version, version_status=current.status,
                                baseline_version=plan.baseline_version, reason=comment, actor=actor)
    session.commit()
    session.expire(plan)
    return Decision(plan.id, plan.status, current.version, plan.baseline_version)


_T_NEW, _T_OLD = PlanTask.__table__.alias("n"), PlanTask.__table__.alias("o")
_LIVE = ("status", "percent_complete", "actual_start", "actual_finish", "remaining_hours", "actual_cost",
         "blocked_reason", "status_date")


def rebaseline(connection, *, plan_id: str, old: int | None, new: int, actor: str, auto: bool,
               comment: str | None, now) -> None:
    """Version `new` of a plan under way is approved: it becomes the baseline, in the caller's transaction.

    Take the plan's row lock first (feedback holds it while it writes). The live task state
    reported on the old baseline since the new version's status date is carried to the new
    version's rows, task by task by uid (the same task has the same uid in every version), with
    the open issues and the feedback counter, so later feedback lands on the new baseline and
    nothing reported meanwhile is lost.
    """
    connection.execute(sa.insert(PlanApproval.__table__).values(
        plan_id=plan_id, version=new, decision="approved", actor=actor, auto=auto, comment=comment, at=now))
    connection.execute(sa.update(Plan.__table__).where(Plan.__table__.c.id == plan_id)
                       .values(baseline_version=new, updated_at=now))
    ids = dict(connection.execute(sa.select(PlanVersion.version, PlanVersion.id).where(
        PlanVersion.plan_id == plan_id, PlanVersion.version.in_([v for v in (old, new) if v is not None]))).all())
    if old is not None and old in ids:
        old_id, new_id = ids[old], ids[new]
        same = sa.and_(_T_OLD.c.plan_version_id == old_id, _T_OLD.c.uid == _T_NEW.c.uid)
        connection.execute(
            sa.update(_T_NEW).where(_T_NEW.c.plan_version_id == new_id)
            .where(sa.exists().where(same))
            .values({name: sa.select(_T_OLD.c[name]).where(same).scalar_subquery() for name in _LIVE}
                    | {"row_version": _T_NEW.c.row_version + 1}))
        issues = PlanIssue.__table__
        connection.execute(
            sa.update(issues).where(issues.c.plan_id == plan_id, issues.c.plan_version_id == old_id,
                                    issues.c.status == "open")
            .values(plan_version_id=new_id,
                    plan_task_id=sa.select(_T_NEW.c.id).select_from(_T_NEW.join(_T_OLD, _T_OLD.c.uid == _T_NEW.c.uid))
                    .where(_T_OLD.c.id == issues.c.plan_task_id, _T_NEW.c.plan_version_id == new_id)
                    .scalar_subquery()))
        progress = PlanProgress.__table__
        connection.execute(sa.update(progress).where(progress.c.plan_id == plan_id).values(plan_version_id=new_id))
        _carry_alerts(connection, old_id, new_id)
    connection.execute(AUDIT_TRANSITION, [
        {"b_actor": actor, "b_action": "plan.rebaseline", "b_entity": "plan", "b_entity_id": plan_id, "b_now": now,
         "b_before": audit.digest({"baseline_version": old}),
         "b_after": audit.digest({"baseline_version": new, "auto": auto, "comment": comment})}])


def _carry_alerts(connection, old_id: int, new_id: int) -> None:
    """The open escalated-issue alerts (risks raised by escalation, not by planning) follow their issues to the
    new baseline, so resolving an issue closes its alert there."""
    from app.models import PlanRisk
    from app.models import new_id as make_id

    risks = PlanRisk.__table__
    have = set(connection.execute(sa.select(risks.c.risk_key).where(risks.c.plan_version_id == new_id)).scalars())
    rows = [row for row in connection.execute(sa.select(risks).where(
        risks.c.plan_version_id == old_id, risks.c.risk_key.like("R-escalated_issue-%"), risks.c.status != "closed"))
        if row.risk_key not in have]
    if rows:
        connection.execute(sa.insert(risks), [
            {"id": make_id(), "plan_version_id": new_id, "risk_key": row.risk_key, "category": row.category,
             "status": row.status, "score": row.score, "rank": row.rank, "data": row.data, "row_version": 1}
            for row in rows])


def approval_view(*, session: Session, plan_id: str, version: int, document: dict) -> dict:
    """The document's `approval` block with the decision on this version merged in."""
    row = session.execute(sa.select(PlanApproval).where(
        PlanApproval.plan_id == plan_id, PlanApproval.version == version)).scalar_one_or_none()
    stored = document.get("approval") or {}
    view = {
        "state": row.decision if row else "pending",
        "by": row.actor if row else None,
        "at": _iso(row.at) if row else None,
        "auto": bool(row.auto) if row else False,
        "comment": row.comment if row else None,
        "auto_approvable": stored.get("auto_approvable"),
        "blocked_by": stored.get("blocked_by", []),
    }
    # What Layer 3's validation blocks (docs/lifecycle.md, "Validation"), when it blocks anything.
    view.update({key: stored[key] for key in ("validation", "validation_reason") if stored.get(key)})
    return view


# -- cancel -----------------------------------------------------------------------------

def cancel_plan(*, session: Session, plan_id: str, actor: str, reason: str) -> tuple[PlanVersion, list[str]]:
    """The plan becomes cancelled; its current version too while it is still being planned.

    Returns the version and the task ids still worth revoking. Takes the version's row lock
    first, as a stage's save does, so a save in flight either lands before (and the plan is
    cancelled as planned) or finds the version cancelled and keeps nothing.
    """
    number = session.execute(sa.select(Plan.current_version).where(Plan.id == plan_id)).scalar_one()
    version = session.execute(
        sa.select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == number)
        .with_for_update().execution_options(populate_existing=True)).scalar_one()
    plan = lock_plan(session=session, plan_id=plan_id)
    check_plan_transition(plan.status, "cancelled")
    now = utcnow()
    revocable: list[str] = []
    if version.status in ("queued", "planning"):
        check_version_transition(version.status, "cancelled")
        audit.record(actor=actor, action="plan_version.cancelled", entity="plan_version",
                     entity_id=f"{plan_id}/v{version.version}", before={"status": version.status},
                     after={"status": "cancelled", "reason": reason})
        version.status, version.error, version.updated_at = "cancelled", reason, now
        revocable = list(version.task_ids or [])
    previous = move_plan(session=session, plan=plan, target="cancelled", actor=actor, reason=reason)
    outbox.emit_plan_update(session, plan_id, "cancelled", now=now, status="cancelled", previous_status=previous,
                            version=version.version, version_status=version.status,
                            baseline_version=plan.baseline_version, reason=reason, actor=actor)
    session.commit()
    from flask import current_app

    from app.layer8 import layer8_client_for
    from app.services.resources import release_plan_holds

    release_plan_holds(session=session, plan_id=plan_id, layer8_client=layer8_client_for(current_app))
    return version, revocable


# -- versions ---------------------------------------------------------------------------

def version_row(*, session: Session, plan_id: str, number: int) -> PlanVersion:
    """One version of a plan, or VersionNotFound."""
    row = session.execute(sa.select(PlanVersion).where(
        PlanVersion.plan_id == plan_id, PlanVersion.version == number)).scalar_one_or_none()
    if row is None:
        raise VersionNotFound(plan_id, number)
    return row


def list_versions(*, session: Session, plan: Plan) -> dict:
    """Every version with its headline numbers, read from the documents in SQL (no document is loaded)."""
    doc = PlanVersion.document
    query = (
        sa.select(PlanVersion.version, PlanVersion.status, PlanVersion.reason, PlanVersion.error,
                  PlanVersion.created_at, PlanVersion.completed_at,
                  doc["makespan_hours"].as_float().label("makespan_hours"),
                  doc["finish"].as_string().label("finish"),
                  doc[("cost", "total")].as_float().label("cost_total"),
                  doc[("cost", "currency")].as_string().label("currency"),
                  doc[("schedule_risk", "p80")].as_float().label("p80_hours"),
                  doc[("schedule_risk", "p80_date")].as_string().label("p80_date"),
                  PlanApproval.decision, PlanApproval.auto)
        .outerjoin(PlanApproval, sa.and_(PlanApproval.plan_id == PlanVersion.plan_id,
                                         PlanApproval.version == PlanVersion.version))
        .where(PlanVersion.plan_id == plan.id)
        .order_by(PlanVersion.version)
    )
    versions = []
    for row in session.execute(query):
        versions.append({
            "version": row.version,
            "status": row.status,
            "reason": row.reason,
            "created_at": _iso(row.created_at),
            "completed_at": _iso(row.completed_at),
            "makespan_hours": _number(row.makespan_hours),
            "finish": row.finish,
            "cost_total": row.cost_total,
            "currency": row.currency,
            "p80_hours": row.p80_hours,
            "p80_date": row.p80_date,
            "approval": row.decision or ("pending" if row.status in PLANNED_VERSION_STATES else None),
            "auto_approved": bool(row.auto) if row.decision == "approved" else None,
            "baseline": row.version == plan.baseline_version,
            **({"error": row.error} if row.error else {}),
        })
    return {"id": plan.id, "status": plan.status, "current_version": plan.current_version,
            "baseline_version": plan.baseline_version, "versions": versions}


def diff_versions(*, session: Session, plan: Plan, before: int, after: int) -> dict:
    """What changed from version `before` to version `after` (planning.progress.diff)."""
    from planning.progress.diff import diff_plans  # the pure diff, loaded on first use

    documents = {}
    for number in (before, after):
        row = version_row(session=session, plan_id=plan.id, number=number)
        if row.status not in PLANNED_VERSION_STATES or not row.document:
            raise VersionNotPlanned(number, row.status, "it has no plan to compare")
        documents[number] = row.document
    return {"id": plan.id, "from": before, "to": after, **diff_plans(documents[before], documents[after])}


def default_diff_range(plan: Plan) -> tuple[int | None, int]:
    """`to` defaults to the current version, `from` to the baseline (or the version before `to`)."""
    to = plan.current_version
    if plan.baseline_version is not None and plan.baseline_version != to:
        return plan.baseline_version, to
    return (to - 1 if to > 1 else None), to


# -- helpers ----------------------------------------------------------------------------

def _number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _iso(value) -> str | None:
    return value.isoformat() if value else None
